//! The provisioning domain: tenants, integrations and their tokens, SCIM users and groups
//! with memberships, ownership rules, MFA state and devices, seats, enrollment emails, the
//! EAA directory sync and the provisioning log, written once above the
//! [`item_store::ItemStore`] port. No AWS, no HTTP, no files, no environment: adapters
//! (SES, the `.eml` files, the key file, the DynamoDB Stream's shapes) live with the
//! functions and the local server.
//!
//! Entry point: [`Provisioning`]. Every operation takes a [`Caller`] (tenant + actor), from
//! [`Provisioning::authenticate`] or [`Caller::admin`]; every key it touches derives from
//! the caller's tenant (see [`storage::keys`]).
//!
//! Where things are:
//!
//! | folder | what |
//! |---|---|
//! | `service`, `clock`, `error` | the service value, time, the domain error |
//! | `storage` | the floor every feature writes through: keys, ids, transactions read by name, paging, retries, cursors |
//! | `resources` | the one SCIM service for users and groups: reads, lists, writes, memberships |
//! | `tenancy` | tenants, admin keys, integrations and tokens, authentication, ownership, seats |
//! | `mfa` | the MFA user model, devices, user summaries |
//! | `enrollment` | the enrollment email's outbox, mailer, template, link and redemption |
//! | `eaa` | the EAA port, the directory and group selection, the sync engine |
//! | `log` | the provisioning log |
//!
//! Decisions worth knowing before changing anything (the reasons are in
//! docs/ARCHITECTURE.md, "Decisions"):
//! - One generic SCIM service (`resources`) serves users and groups through a
//!   [`TypeDescriptor`]; a group's `members` are stored apart, one item per membership.
//! - Uniqueness (userName, group displayName; case-insensitive) is a uniqueness item put
//!   with `Condition::Absent` in the write's own transaction; a rename deletes the old one
//!   and puts the new one in that transaction.
//! - Round trips: match query 1 index query; GET by id 1 get; create 1 transaction (+1
//!   get of the seat counter for users); PATCH 1 get + 1 transaction; adding k members
//!   ceil(k/100) transactions (see `storage::transaction::batches`).
//! - A user's `groups` and a group's `members` cost extra reads, so list responses carry
//!   them only when the client names attributes explicitly; a GET of a group carries its
//!   members unless excluded (at most `Limits::max_members_in_response`, else 400
//!   `tooMany`); a GET of a user carries `groups` only on request.
//! - Enrollment emails: an outbox item rides in the create's (or first claim's)
//!   transaction; the mailer leases it with a conditional write before sending and marks it
//!   sent after, so replays and duplicates never send twice and a crash only delays it (the
//!   lease expires). The link is HMAC-signed, expires, and names a per-email nonce kept in
//!   the outbox item, which enrollment consumes in the transaction that registers the
//!   device.
//! - Store throttling/outages become [`Error::Retryable`] (429/503 + Retry-After); nothing
//!   is half-written where it matters: the resource write is one transaction, member
//!   batches are idempotent and follow it.

pub mod clock;
pub mod eaa;
pub mod enrollment;
pub mod error;
pub mod log;
pub mod mfa;
pub mod resources;
pub mod service;
pub mod storage;
pub mod tenancy;

pub use eaa::{
    AssociatedDirectory, BoxFuture, Checkpoint, EaaConfig, EaaConnector, EaaDirectory, EaaDirectoryInfo, EaaError, EaaGroup, EaaGroupUser,
    EaaPage, EaaUser, GroupChoice, Progress, SelectedGroup, SyncCounts, SyncOutcome, SyncStatus, SyncSummary, SyncTarget, SyncTrigger,
    TargetRun, check_credentials_ref,
};
pub use error::{Error, Result};
pub use mfa::{MfaState, UserStatus};
pub use resources::{GROUPS, TypeDescriptor, USERS, Written};
pub use service::{Limits, Provisioning};
pub use tenancy::{Actor, Caller, Integration, IntegrationKind, Settings, Source, WithToken};
