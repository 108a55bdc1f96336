//! The `eaa-sync` function: the EventBridge schedule's event syncs every tenant with an
//! EAA integration, a manual event `{"tenant": "..", "integration": ".."}` syncs one (the
//! admin API's "sync now" sends it as an asynchronous invoke).
//!
//! Targets run one after the other in this invocation, each step with the time left less
//! [`MARGIN`]. A step that runs out of time saves its checkpoint and answers `continue`;
//! the function then invokes itself asynchronously for that tenant, so a large directory
//! goes on in a fresh 15 minutes instead of waiting for the next schedule. Targets this
//! invocation had no time for (`skipped`) are handed on the same way. A chain stops after
//! [`MAX_CONTINUATIONS`] invocations (then the next schedule goes on from the checkpoint).

use std::sync::Arc;
use std::time::{Duration, Instant};

use item_store::ItemStore;
use provisioning::{EaaConnector, Provisioning, SyncTarget, SyncTrigger, TargetRun};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;

/// Time kept back from each step's budget: the step's checkpoint writes and the answer
/// must fit before Lambda's deadline.
pub const MARGIN: Duration = Duration::from_secs(60);

/// Invocations one chain of continuations may use: 50 × 14 minutes is far more than a
/// 100,000-user directory needs at EAA's 25 requests a minute (about 20 minutes).
pub const MAX_CONTINUATIONS: u32 = 50;

/// The manual (or continuation) event: one tenant, optionally the integration it is
/// expected to have (a stale event naming a replaced integration is refused), and how
/// many invocations the chain has used.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    tenant: String,
    #[serde(default)]
    integration: Option<String>,
    #[serde(default)]
    continuation: u32,
}

/// What one sync function needs: the service, the way to EAA, and the way to start a
/// fresh invocation (`None`: a step out of time waits for the next schedule).
pub struct EaaSync<S> {
    pub service: Provisioning<S>,
    pub connector: Arc<dyn EaaConnector>,
    pub continuation: Option<Arc<dyn SyncTrigger>>,
}

/// One invocation, until `deadline` (Lambda's). The answer lists each target's outcome
/// ([`TargetRun`]: `done` with the summary, `continue`, `busy`, `unconfigured`, `skipped`
/// or `error`) and whether it was handed to a new invocation (`continuedIn`). An event
/// that is neither shape fails the invocation.
pub async fn handle_eaa_sync<S: ItemStore>(sync: &EaaSync<S>, event: Value, deadline: Instant) -> Result<Value, Error> {
    let targets = sync.service.eaa_sync_targets().await.map_err(|e| e.detail())?;
    let (selected, chain): (Vec<SyncTarget>, u32) = if event.get("source").and_then(Value::as_str) == Some("aws.events") {
        (targets, 0)
    } else {
        let manual: Manual =
            serde_json::from_value(event).map_err(|e| format!("not a scheduled event nor {{\"tenant\": .., \"integration\": ..}}: {e}"))?;
        let target = targets
            .into_iter()
            .find(|t| t.tenant == manual.tenant)
            .ok_or_else(|| format!("tenant {} has no EAA integration", manual.tenant))?;
        if manual.integration.as_ref().is_some_and(|i| *i != target.integration) {
            return Err(format!("tenant {}'s EAA integration is {}, not the one named", manual.tenant, target.integration).into());
        }
        (vec![target], manual.continuation)
    };
    let mut results = Vec::with_capacity(selected.len());
    for target in &selected {
        let budget = deadline.saturating_duration_since(Instant::now()).saturating_sub(MARGIN);
        let run = sync.service.run_eaa_target(target, sync.connector.as_ref(), budget).await;
        let continued = match run {
            TargetRun::Continue { .. } | TargetRun::Skipped => continue_in_new_invocation(sync, target, chain + 1).await,
            _ => Value::Null,
        };
        let result = json!(run);
        // `progress` on its own: the template's metric filters count errors by it.
        let progress = result["progress"].as_str().unwrap_or_default().to_string();
        tracing::info!(tenant = %target.tenant, integration = %target.integration, %progress, %result, %continued, "EAA sync");
        results.push(json!({"tenant": target.tenant, "integration": target.integration, "result": result, "continuedIn": continued}));
    }
    Ok(json!({"targets": results}))
}

/// Hands the target to a new invocation: `"invoked"`, or why not (the checkpoint stays,
/// so the next schedule goes on in any case).
async fn continue_in_new_invocation<S>(sync: &EaaSync<S>, target: &SyncTarget, continuation: u32) -> Value {
    let Some(trigger) = &sync.continuation else { return json!("next schedule") };
    if continuation > MAX_CONTINUATIONS {
        return json!(format!("next schedule: the chain used {MAX_CONTINUATIONS} invocations"));
    }
    match trigger.trigger(&target.tenant, &target.integration, continuation).await {
        Ok(()) => json!("invoked"),
        Err(error) => {
            tracing::warn!(tenant = %target.tenant, %error, "could not start the continuation; the next schedule goes on");
            json!(format!("next schedule: {error}"))
        }
    }
}
