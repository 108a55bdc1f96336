//! The EAA sync engine: makes the tenant's users and groups owned by its EAA integration
//! mirror the users of the selected EAA groups (docs/ARCHITECTURE.md, "EAA sync";
//! docs/EAA.md).
//!
//! Decisions:
//! - **Identity.** An EAA user is keyed by `user_uuid_url`, kept as the SCIM `externalId`
//!   and as the key of its sync-state item. `userName` is the EAA `upn`, else `email`,
//!   else `username`: the UPN is unique across the forest and is what Entra provisions as
//!   userName, so a manual user created with the same sign-in name matches (and can be
//!   claimed); the bare `username` (sAMAccountName) is unique only within a domain.
//! - **Mapping.** `name.givenName/familyName` from `first_name/last_name`, `displayName`
//!   from `display_name` (else "first last"), one work email, one work phone, `active` =
//!   EAA `status == 1` (a disabled user is suspended: `PROVISIONING_DISABLED`, devices
//!   kept). Group `displayName` = EAA group name, `externalId` = its `uuid_url`.
//! - **No write for unchanged users.** Each synced user has a state item (partition
//!   `T#{t}#EAA#U`) with the SHA-256 of the SCIM body the sync would write and the
//!   groups its memberships were applied for. A sync reads the states (one query page per
//!   ~1 MB) and writes only where the hash or the group set differs.
//! - **Writes go through the generic resource service** with the integration as caller,
//!   so ownership (claims only with *include manually provisioned users*, records of other
//!   integrations never touched), seats, enrollment emails (outbox) and the provisioning
//!   log behave exactly as for SCIM.
//! - **Removal.** A user in no selected group (left EAA, left the group, group deselected,
//!   directory dissociated) is deleted with its devices and memberships.
//! - **Lease.** One item per tenant (`EAASYNC#LEASE`), taken with a conditional put
//!   (absent, or expired and at the version read) and valid for the step's budget plus
//!   `lease::LEASE_MARGIN`; a second step meanwhile answers `Progress::Busy`.
//! - **Checkpoints.** A run is fetch (every page of every selected group) then apply.
//!   A step that runs out of budget (or meets an EAA or store error) saves the run item
//!   (`EAASYNC#RUN`: phase, group index and offset, counts) and the users fetched so far
//!   (stage items, ~300 KB each), and the next step resumes from there. Applying is
//!   idempotent (hashes, membership puts, lookups by externalId of users created just
//!   before an interruption), so a rerun converges. A run that fits in one step writes
//!   neither.
//! - **Writes of a sync that changes nothing:** the lease put, the summary put
//!   (`EAASYNC#LAST`) and the lease delete — 2 puts and 1 delete, nothing else.
//!
//! | file | what |
//! |---|---|
//! | `step` | one step of a run: lease, fetch, apply, checkpoint or finish |
//! | `status` | what a run reports: counts, summary, checkpoint, progress |
//! | `run` | a run in memory during one step, and why a step stops |
//! | `mapping` | EAA user -> SCIM User body, and the sync-state items |
//! | `lease` | one sync per tenant at a time |
//! | `checkpoint` | the stage items and run item a step resumes from |
//! | `apply` | the writes that make the tenant match the fetched users |
//! | `adopt` | a new EAA integration taking over what the tenant's deleted one provisioned |

pub mod adopt;
pub mod apply;
pub mod checkpoint;
pub mod lease;
pub mod mapping;
pub mod run;
pub mod status;
pub mod step;

pub use status::{Checkpoint, Progress, SyncCounts, SyncOutcome, SyncStatus, SyncSummary, TargetRun};
