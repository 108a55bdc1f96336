//! Retrying a write that lost a race: how often, how long to wait, and when a lost race
//! may be retried at all.

use scim::{ScimError, ScimType};

use crate::error::{Error, Result};

/// How often a write retries after losing a race (for a counter, a version).
pub const MAX_RETRIES: usize = 64;

/// The longest pause between two retries.
const MAX_BACKOFF_MS: u64 = 64;

/// Waits before retry `attempt` (0-based) of a lost race: a random time below an
/// exponentially growing bound, so that writers that collided do not collide again
/// (without it, a writer can keep losing to newer ones and starve).
pub(crate) async fn backoff(attempt: usize) {
    let bound = (1u64 << attempt.min(6)).min(MAX_BACKOFF_MS);
    let mut random = [0u8; 8];
    // Without randomness the bound itself is still a pause.
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % (bound + 1),
        Err(_) => bound,
    };
    tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
}

/// The answer when every retry lost: retryable, since the contention passes.
pub(crate) fn contended(what: &str) -> Error {
    Error::Retryable {
        throttled: false,
        retry_after: std::time::Duration::from_secs(1),
        detail: format!("too many concurrent changes to {what}; retry after the delay"),
    }
}

/// Runs `attempt` again (with backoff) while it lost the race for the resource's version
/// and the client sent no `If-Match`: the client asked for no particular version, and
/// nothing of the losing attempt was written. With `If-Match` the 412 stands.
pub(crate) async fn again_after_lost_races<T, F, Fut>(if_match: Option<&str>, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut result = attempt().await;
    for retry in 1..MAX_RETRIES {
        if if_match.is_some() || !lost_version_race(&result) {
            break;
        }
        backoff(retry).await;
        result = attempt().await;
    }
    result
}

fn lost_version_race<T>(result: &Result<T>) -> bool {
    matches!(result, Err(Error::Scim(ScimError { scim_type: Some(ScimType::InvalidVers), .. })))
}
