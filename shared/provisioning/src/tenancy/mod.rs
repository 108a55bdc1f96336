//! Who is calling and what they may do: tenants and their admin keys, integrations and
//! their API tokens, authentication, the ownership rules, the seat limit, secrets, and
//! the jobs that move records away from an integration.

pub mod auth;
pub mod grant_cache;
pub mod integrations;
pub mod overview;
pub mod ownership;
pub mod seats;
pub mod secrets;
pub mod source_moves;
pub mod tenants;

pub use integrations::{Integration, IntegrationKind, WithToken};
pub use overview::TenantOverview;
pub use ownership::{Actor, Caller, Settings, Source};
pub use source_moves::{MovePhase, MoveTarget, PendingMove, SourceMove};
