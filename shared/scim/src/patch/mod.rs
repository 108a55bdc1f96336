//! PATCH (RFC 7644 section 3.5.2) in every dialect Entra ID speaks: capitalised ops,
//! string booleans, path-less values whose keys are dotted or URN-qualified paths,
//! filtered paths that create the element they do not find, member removal by value
//! array, and `manager` in all its shapes.
//!
//! All or nothing: operations run on a copy that replaces the resource only when
//! every operation succeeded and the result is valid.

mod apart;
mod apply;
mod multi_valued;
mod request;
mod target;

pub use apart::{ApartChange, ValuesChange, apply_apart_changes};
pub use apply::{PatchOutcome, apply_patch};
pub use request::{PATCH_OP_SCHEMA, PatchOp, PatchOperation, PatchPath, PatchRequest};
