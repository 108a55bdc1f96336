//! The one SCIM service for every resource type: create, get, replace, patch, delete and
//! list, parametrised by a [`TypeDescriptor`]. Users and groups differ only by their
//! descriptor (unique attribute, MFA state, members stored apart).
//!
//! Every write is one transaction holding the resource (conditional on its version or
//! absence), its uniqueness item (so uniqueness is enforced by the store, never
//! read-then-write), the seat counter (users) and the log entry; member changes follow
//! in batches of 100 (see `members`).
//!
//! | file | what |
//! |---|---|
//! | `types` | what differs between Users and Groups, as data |
//! | `record`, `attributes` | a stored resource and its item form; values read from a resource |
//! | `validate`, `answers` | what every write checks; what every operation answers |
//! | `read`, `list`, `plan` | GET by id; lists, and how a filter becomes store reads |
//! | `counts`, `bookmarks` | the maintained count of each type; where the next index page starts |
//! | `create`, `update`, `delete` | the writes |
//! | `group_names` | group displayNames unique per owner, and the tenant-wide claims of before |
//! | `members`, `member_writes`, `member_batches`, `member_intents` | memberships, one item per (group, member), always naming an existing member; writing them; large changes all or nothing |

pub mod answers;
pub mod attributes;
pub mod bookmarks;
pub mod counts;
pub mod create;
pub mod delete;
pub mod group_names;
pub mod list;
pub mod member_batches;
pub mod member_intents;
pub mod member_writes;
pub mod members;
pub mod plan;
pub mod read;
pub mod record;
pub mod types;
pub mod update;
pub mod validate;

pub use answers::Written;
pub use record::Record;
pub use types::{GROUPS, TypeDescriptor, USERS};
