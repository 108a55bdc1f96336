//! A run in memory during one step, and why a step stops before the run's end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use item_store::StoreError;

use crate::eaa::port::EaaError;
use crate::eaa::sync::mapping::Desired;
use crate::eaa::sync::status::Checkpoint;
use crate::error::Error;

/// Errors kept in a summary (the provisioning log has every failed write).
const MAX_ERRORS: usize = 50;
/// A run in memory during one step.
pub(crate) struct Run {
    pub(crate) checkpoint: Checkpoint,
    pub(crate) desired: BTreeMap<String, Desired>,
    pub(crate) deadline: Instant,
    /// Whether the stage items hold exactly `desired` (loaded in the apply phase, which
    /// does not change it), so that a checkpoint need not write them again.
    pub(crate) stage_current: bool,
}

impl Run {
    pub(crate) fn error(&mut self, text: String) {
        self.checkpoint.counts.failed += 1;
        if self.checkpoint.errors.len() < MAX_ERRORS {
            self.checkpoint.errors.push(text);
        }
    }

    pub(crate) fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Why a step stopped before the end of the run.
pub(crate) enum Stop {
    OutOfTime,
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(error: Error) -> Self {
        Stop::Failed(error)
    }
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Failed(error.into())
    }
}

pub(crate) fn eaa_failure(error: EaaError) -> Stop {
    Stop::Failed(match error {
        EaaError::RateLimited { retry_after } => {
            Error::Retryable { throttled: true, retry_after, detail: "EAA is rate limiting this account".into() }
        }
        EaaError::Unavailable(detail) => {
            // Hosts, paths and network errors are for the log; the sync status is an answer.
            tracing::warn!(eaa_detail = %detail, "EAA is unavailable");
            let detail = "EAA cannot be reached (network error, timeout or an EAA server error)".into();
            Error::Retryable { throttled: false, retry_after: Duration::from_secs(60), detail }
        }
        other => Error::Retryable { throttled: false, retry_after: Duration::from_secs(60), detail: other.to_string() },
    })
}
