//! The provisioning domain: tenants, integrations and their tokens, SCIM users and groups
//! with memberships, ownership rules, MFA state and devices, seats and the provisioning
//! log — written once above the [`item_store::ItemStore`] port. No AWS, no HTTP.
//!
//! Entry point: [`Provisioning`]. Every operation takes a [`Caller`] (tenant + actor), from
//! [`Provisioning::authenticate`] or [`Caller::admin`]; every key it touches derives from
//! the caller's tenant (see [`keys`]).
//!
//! Decisions worth knowing before changing anything:
//! - One generic SCIM service (`resources`) serves users and groups through a
//!   [`TypeDescriptor`]; a group's `members` are stored apart, one item per membership.
//! - Uniqueness (userName, group displayName; case-insensitive) is a uniqueness item put
//!   with `Condition::Absent` in the write's own transaction; a rename deletes the old one
//!   and puts the new one in that transaction.
//! - Round trips: match query 1 index query; GET by id 1 get; create 1 transaction (+1
//!   get of the seat counter for users); PATCH 1 get + 1 transaction; adding k members
//!   ceil(k/100) transactions (see `members::batches`).
//! - A user's `groups` and a group's `members` cost extra reads, so list responses carry
//!   them only when the client names attributes explicitly; a GET of a group carries its
//!   members unless excluded (at most `Limits::max_members_in_response`, else 400
//!   `tooMany`); a GET of a user carries `groups` only on request.
//! - Enrollment emails (`enrollment`, `mail_delivery`, `enroll`): an outbox item rides in
//!   the create's (or first claim's) transaction; the mailer leases it with a conditional
//!   write before sending and marks it sent after, so replays and duplicates never send
//!   twice and a crash only delays it (the lease expires). The link is HMAC-signed
//!   (`enroll_link`), expires, and names a per-email nonce kept in the outbox item, which
//!   enrollment consumes in the transaction that registers the device. Email content comes
//!   from `templates/` (`mail_template`). The [`mailer::Mailer`] port has two adapters:
//!   `aws_adapters::SesMailer` and [`mailer::FileMailer`] (`.eml` files, local server).
//! - Store throttling/outages become [`Error::Retryable`] (429/503 + Retry-After); nothing
//!   is half-written where it matters: the resource write is one transaction, member
//!   batches are idempotent and follow it.

pub mod clock;
pub mod eaa;
pub mod eaa_config;
pub mod eaa_sync;
pub mod enroll;
pub mod enroll_link;
pub mod enrollment;
pub mod error;
pub mod integrations;
pub mod keys;
pub mod log;
pub mod mail_delivery;
pub mod mail_template;
pub mod mailer;
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

pub use eaa::{BoxFuture, EaaConnector, EaaDirectory, EaaDirectoryInfo, EaaError, EaaGroup, EaaGroupUser, EaaPage, EaaUser, SyncTrigger};
pub use eaa_config::{AssociatedDirectory, EaaConfig, GroupChoice, SelectedGroup, SyncTarget};
pub use eaa_sync::{Checkpoint, Progress, SyncCounts, SyncOutcome, SyncStatus, SyncSummary, TargetRun};
pub use error::{Error, Result};
pub use integrations::{Integration, IntegrationKind, WithToken};
pub use mfa::{MfaState, UserStatus};
pub use ownership::{Actor, Caller, Settings, Source};
pub use resources::Written;
pub use service::{Limits, Provisioning};
pub use types::{GROUPS, TypeDescriptor, USERS};
