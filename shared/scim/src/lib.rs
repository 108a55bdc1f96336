//! The SCIM 2.0 protocol core (RFC 7643, RFC 7644, RFC 9865 cursors), as Microsoft
//! Entra ID and other clients speak it. Pure: no I/O, no storage, no AWS.
//!
//! Resources are `serde_json::Value` objects whose keys are the schema's canonical
//! attribute names; one code path serves every resource type, which differ only by
//! their [`schema::ResourceType`].

pub mod coerce;
pub mod cursor;
pub mod discovery;
pub mod error;
pub mod etag;
pub mod filter;
pub mod list;
pub mod names;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;
mod schemas_member;

pub use error::{Result, ScimError, ScimType};
pub use filter::Filter;
pub use path::AttrPath;
pub use schema::ResourceType;
