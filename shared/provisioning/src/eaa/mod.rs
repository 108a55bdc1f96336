//! EAA directory provisioning: the port to EAA, the tenant's selection of directories
//! and groups, and the sync engine that makes the selected groups' users the tenant's
//! EAA-provisioned users.

pub mod config;
pub mod port;
pub mod sync;

pub use config::{AssociatedDirectory, EaaConfig, GroupChoice, SelectedGroup, SyncTarget, check_credentials_ref};
pub use port::{BoxFuture, EaaConnector, EaaDirectory, EaaDirectoryInfo, EaaError, EaaGroup, EaaGroupUser, EaaPage, EaaUser, SyncTrigger};
pub use sync::{Checkpoint, Progress, SyncCounts, SyncOutcome, SyncStatus, SyncSummary, TargetRun};
