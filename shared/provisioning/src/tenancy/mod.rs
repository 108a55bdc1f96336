//! Who is calling and what they may do: tenants and their admin keys, integrations and
//! their API tokens, authentication, the ownership rules, the seat limit, and secrets.

pub mod auth;
pub mod grant_cache;
pub mod integrations;
pub mod overview;
pub mod ownership;
pub mod seats;
pub mod secrets;
pub mod tenants;

pub use integrations::{Integration, IntegrationKind, WithToken};
pub use overview::TenantOverview;
pub use ownership::{Actor, Caller, Settings, Source};
