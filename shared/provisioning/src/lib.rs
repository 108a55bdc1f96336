//! The provisioning domain: tenants, integrations and their tokens, SCIM users and groups
//! with memberships, ownership rules, MFA state and devices, seats and the provisioning
//! log — written once above the [`item_store::ItemStore`] port. No AWS, no HTTP.
//!
//! Entry point: [`Provisioning`]. Every operation takes a [`Caller`] (tenant + actor), from
//! [`Provisioning::authenticate`] or [`Caller::admin`]; every key it touches derives from
//! the caller's tenant (see [`keys`]).

pub mod clock;
pub mod enrollment;
pub mod error;
pub mod integrations;
pub mod keys;
pub mod log;
pub mod members;
pub mod mfa;
pub mod ownership;
pub mod plan;
pub mod record;
pub mod resources;
pub mod seats;
pub mod secrets;
pub mod service;
pub mod tenants;
pub mod types;
pub mod users;

pub use error::{Error, Result};
pub use integrations::{Integration, IntegrationKind, WithToken};
pub use mfa::{MfaState, UserStatus};
pub use ownership::{Actor, Caller, Settings, Source};
pub use resources::Written;
pub use service::{Limits, Provisioning};
pub use types::{GROUPS, TypeDescriptor, USERS};
