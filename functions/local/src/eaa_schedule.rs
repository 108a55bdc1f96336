//! The EAA sync, in process: what EventBridge's schedule and the sync function do in AWS.
//! Every `interval` each tenant with an EAA integration is synced; the admin API's "sync
//! now" wakes the scheduler for one tenant ([`LocalTrigger`]). A run goes step after step
//! until done (there is no invocation limit here, but the steps and checkpoints are the
//! same ones the Lambda takes).
//!
//! EAA credentials are files: `<data dir>/eaa-credentials/{tenant}/{reference}.json`,
//! the same JSON document as the SSM parameter in AWS (README, "EAA provisioning").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eaa_client::{ClientConfig, ClientConnector, FileCredentials};
use item_store::ItemStore;
use provisioning::{BoxFuture, EaaConnector, Provisioning, SyncTarget, SyncTrigger, TargetRun};
use tokio::sync::mpsc;

/// The budget of one step: the same order as a Lambda invocation's, so a large directory
/// checkpoints as it would in AWS.
const STEP_BUDGET: Duration = Duration::from_secs(600);

/// Where the local server looks for EAA credentials documents.
pub fn eaa_credentials_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("eaa-credentials")
}

/// EAA over HTTP(S) with the credentials files of `data_dir`, for the scheduled syncs.
pub fn file_connector(data_dir: &Path) -> Arc<dyn EaaConnector> {
    file_connector_with(data_dir, ClientConfig::default())
}

/// The same for the admin API's EAA routes: they give up on a long rate limit (429 with
/// `Retry-After`) instead of holding the request, as in AWS.
pub fn admin_file_connector(data_dir: &Path) -> Arc<dyn EaaConnector> {
    file_connector_with(data_dir, ClientConfig::for_admin_requests())
}

fn file_connector_with(data_dir: &Path, config: ClientConfig) -> Arc<dyn EaaConnector> {
    Arc::new(ClientConnector { credentials: FileCredentials::new(eaa_credentials_dir(data_dir)), config })
}

/// "Sync now": hands the tenant to the scheduler task.
pub struct LocalTrigger(mpsc::UnboundedSender<String>);

impl SyncTrigger for LocalTrigger {
    fn trigger<'a>(&'a self, tenant: &'a str, _integration: &'a str, _continuation: u32) -> BoxFuture<'a, Result<(), String>> {
        let sent = self.0.send(tenant.to_string()).map_err(|_| "the local EAA scheduler has stopped".to_string());
        Box::pin(async move { sent })
    }
}

/// Starts the scheduler: every tenant every `interval` (the first run one interval after
/// start), and a tenant at once when the trigger names it. Abort the handle on shutdown;
/// a step cut off keeps its checkpoint and its lease expires.
pub fn spawn_eaa_scheduler<S: ItemStore + 'static>(
    service: Arc<Provisioning<S>>,
    connector: Arc<dyn EaaConnector>,
    interval: Duration,
) -> (tokio::task::JoinHandle<()>, LocalTrigger) {
    let (sender, mut requests) = mpsc::unbounded_channel::<String>();
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let only = tokio::select! {
                _ = ticks.tick() => None,
                requested = requests.recv() => match requested {
                    Some(tenant) => Some(tenant),
                    None => return,
                },
            };
            let targets = match service.eaa_sync_targets().await {
                Ok(targets) => targets,
                Err(error) => {
                    tracing::warn!(error = %error.detail(), "EAA sync: cannot list the tenants");
                    continue;
                }
            };
            for target in targets.iter().filter(|t| only.as_ref().is_none_or(|tenant| *tenant == t.tenant)) {
                sync_to_the_end(&service, connector.as_ref(), target).await;
            }
        }
    });
    (task, LocalTrigger(sender))
}

async fn sync_to_the_end<S: ItemStore>(service: &Provisioning<S>, connector: &dyn EaaConnector, target: &SyncTarget) {
    loop {
        let run = service.run_eaa_target(target, connector, STEP_BUDGET).await;
        tracing::info!(tenant = %target.tenant, integration = %target.integration, result = %serde_json::json!(run), "EAA sync");
        if !matches!(run, TargetRun::Continue { .. }) {
            return;
        }
    }
}
