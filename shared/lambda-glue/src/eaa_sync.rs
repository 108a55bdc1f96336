//! The `eaa-sync` function: the EventBridge schedule's event syncs every tenant with an
//! EAA integration, a manual event `{"tenant": "..", "integration": ".."}` syncs one.
//!
//! Targets run one after the other in this invocation, each step with the time left less
//! [`MARGIN`]; no self-invoke (that would need the Lambda SDK and an IAM grant on the
//! function itself). A step that runs out of time saves its checkpoint and answers
//! `Continue`: the next scheduled run (or a manual event) goes on from there. Targets the
//! invocation had no time left for are reported as `skipped` and run on the next schedule.

use std::time::{Duration, Instant};

use aws_adapters::eaa::{ClientConfig, EaaClient, EaaCredentialsSource};
use item_store::ItemStore;
use provisioning::{Progress, Provisioning, SyncTarget};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;

/// Time kept back from each step's budget: the step's checkpoint writes and the answer
/// must fit before Lambda's deadline.
pub const MARGIN: Duration = Duration::from_secs(60);

/// The manual (or operator's) event: one tenant, and optionally the integration it is
/// expected to have (a stale event naming a replaced integration is refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manual {
    tenant: String,
    #[serde(default)]
    integration: Option<String>,
}

/// What one sync function needs: the service, where credentials come from, and how the
/// EAA client behaves (the stand-in server needs `http`).
pub struct EaaSync<S, C> {
    pub service: Provisioning<S>,
    pub credentials: C,
    pub client: ClientConfig,
}

/// One invocation, until `deadline` (Lambda's). The answer lists each target's outcome:
/// `done` (with the summary), `continue` (checkpointed), `busy` (another step holds the
/// tenant's lease), `unconfigured` (no credentials yet), `skipped` (no time left) or
/// `error`. An event that is neither shape fails the invocation.
pub async fn handle_eaa_sync<S: ItemStore, C: EaaCredentialsSource>(
    sync: &EaaSync<S, C>,
    event: Value,
    deadline: Instant,
) -> Result<Value, Error> {
    let targets = sync.service.eaa_sync_targets().await.map_err(|e| e.detail())?;
    let selected: Vec<SyncTarget> = if event.get("source").and_then(Value::as_str) == Some("aws.events") {
        targets
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
        vec![target]
    };
    let mut results = Vec::with_capacity(selected.len());
    for target in &selected {
        let budget = deadline.saturating_duration_since(Instant::now()).saturating_sub(MARGIN);
        let result = if budget.is_zero() { json!({"progress": "skipped"}) } else { sync_one(sync, target, budget).await };
        tracing::info!(tenant = %target.tenant, integration = %target.integration, %result, "EAA sync");
        results.push(json!({"tenant": target.tenant, "integration": target.integration, "result": result}));
    }
    Ok(json!({"targets": results}))
}

/// One step of one tenant's sync. Failures are reported in the answer rather than
/// failing the invocation, so that one tenant's bad credentials do not stop the others
/// (and Lambda's retry of a failed asynchronous invoke would only repeat them).
async fn sync_one<S: ItemStore, C: EaaCredentialsSource>(sync: &EaaSync<S, C>, target: &SyncTarget, budget: Duration) -> Value {
    let Some(reference) = &target.credentials_ref else { return json!({"progress": "unconfigured"}) };
    // Scoped to the tenant: an admin can only name credentials stored for their tenant.
    let credentials = match sync.credentials.credentials(&format!("{}/{reference}", target.tenant)).await {
        Ok(credentials) => credentials,
        Err(e) => return json!({"progress": "error", "error": e.to_string()}),
    };
    let client = match EaaClient::new(credentials, sync.client.clone()) {
        Ok(client) => client,
        Err(e) => return json!({"progress": "error", "error": e.to_string()}),
    };
    match sync.service.eaa_sync_step(&target.tenant, &client, budget).await {
        Ok(Progress::Done(summary)) => json!({"progress": "done", "summary": summary}),
        Ok(Progress::Continue(checkpoint)) => json!({"progress": "continue", "checkpoint": checkpoint}),
        Ok(Progress::Busy) => json!({"progress": "busy"}),
        Err(e) => json!({"progress": "error", "error": e.detail()}),
    }
}
