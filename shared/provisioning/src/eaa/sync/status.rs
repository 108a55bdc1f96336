//! What a sync run reports: its counts, the summary of the last run, the checkpoint of a
//! run in progress, and what one step came to.

use item_store::ItemStore;
use serde::{Deserialize, Serialize};

use crate::eaa::config::SelectedGroup;
use crate::eaa::sync::mapping::from_attrs;
use crate::error::Result;
use crate::service::Provisioning;
use crate::storage::keys;
use crate::tenancy::ownership::Caller;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncCounts {
    pub created: u64,
    pub updated: u64,
    pub suspended: u64,
    pub removed: u64,
    pub unchanged: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SyncOutcome {
    /// Every user and group was applied.
    Succeeded,
    /// The run finished; some users or groups could not be written (see `errors`).
    CompletedWithErrors,
    /// The step stopped on an EAA or store error; the next step resumes the run.
    Failed,
}

/// The outcome of the last sync (or of the last failed step).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSummary {
    pub run: String,
    pub outcome: SyncOutcome,
    pub started: String,
    pub finished: String,
    pub counts: SyncCounts,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    Fetch,
    Apply,
}

/// Where a run stopped (the stored checkpoint).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub run: String,
    pub started: String,
    pub phase: Phase,
    /// The selection the run started with (a change applies from the next run).
    pub selection: Vec<(String, SelectedGroup)>,
    pub group_index: usize,
    pub offset: u64,
    pub counts: SyncCounts,
    pub errors: Vec<String>,
    /// Stage items holding the users fetched so far (0: none written).
    pub staged_chunks: usize,
    /// The last EAA user id applied (users are applied in id order).
    #[serde(default)]
    pub applied_through: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Done(SyncSummary),
    /// Out of budget: call again (a new invocation) to go on from the checkpoint.
    Continue(Checkpoint),
    /// Another step of this tenant's sync holds the lease.
    Busy,
}

/// What one run of a [`SyncTarget`](crate::eaa::config::SyncTarget) did: the sync function's answer for each tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "progress", rename_all = "camelCase")]
pub enum TargetRun {
    Done {
        summary: SyncSummary,
    },
    /// Out of time, checkpointed: another invocation goes on.
    Continue {
        checkpoint: Checkpoint,
    },
    /// Another step of this tenant's sync holds the lease.
    Busy,
    /// No credentials reference yet.
    Unconfigured,
    /// The invocation had no time left for this target.
    Skipped,
    Error {
        error: String,
    },
}

/// What the admin API shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub last: Option<SyncSummary>,
    /// A run that stopped at a checkpoint and will go on.
    pub in_progress: Option<Checkpoint>,
}

impl<S: ItemStore> Provisioning<S> {
    /// The last sync's summary and the run in progress, if any (admin).
    pub async fn eaa_sync_status(&self, caller: &Caller) -> Result<SyncStatus> {
        caller.require_admin("read the sync status")?;
        let last = self.store.get(&keys::eaa_sync(&caller.tenant, "LAST")).await?.map(|i| from_attrs(&i, "sync summary")).transpose()?;
        let in_progress =
            self.store.get(&keys::eaa_sync(&caller.tenant, "RUN")).await?.map(|i| from_attrs(&i, "sync checkpoint")).transpose()?;
        Ok(SyncStatus { last, in_progress })
    }
}
