//! What a step leaves for the next: the run item (`EAASYNC#RUN`) and the fetched users
//! staged in items of about `STAGE_BYTES`; and, at the end of a run, the summary.

use std::collections::BTreeMap;

use item_store::{Attributes, Condition, Item, ItemStore, Query, SortKey};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::eaa::sync::mapping::{Desired, to_attrs};
use crate::eaa::sync::run::Run;
use crate::eaa::sync::status::{Checkpoint, SyncOutcome, SyncSummary};
use crate::error::{Error, Result};
use crate::service::Provisioning;
use crate::storage::keys;
use crate::storage::paging;

/// Bytes of staged users per stage item (items stop at 400 KB).
const STAGE_BYTES: usize = 300_000;

impl<S: ItemStore> Provisioning<S> {
    pub(crate) async fn load_stage(&self, tenant: &str, checkpoint: &Checkpoint) -> Result<BTreeMap<String, Desired>> {
        let mut desired = BTreeMap::new();
        if checkpoint.staged_chunks == 0 {
            return Ok(desired);
        }
        let query = Query::partition(keys::eaa_stage_partition(tenant)).sort(SortKey::Prefix(format!("{}#", checkpoint.run)));
        for item in paging::collect(&self.store, query, usize::MAX, "staged EAA users").await? {
            let users: Vec<(String, Desired)> = serde_json::from_value(item.attrs.get("users").cloned().unwrap_or(Value::Null))
                .map_err(|e| Error::Internal(format!("staged EAA users {}: {e}", item.key)))?;
            desired.extend(users);
        }
        Ok(desired)
    }

    /// Saves the run item and, when the fetch had not been staged completely, the
    /// fetched users.
    pub(crate) async fn save_checkpoint(&self, tenant: &str, run: &mut Run) -> Result<()> {
        if !run.stage_current && !run.desired.is_empty() {
            let mut chunks: Vec<Vec<(&String, &Desired)>> = vec![Vec::new()];
            let mut size = 0;
            for entry in &run.desired {
                let bytes = serde_json::to_string(entry.1).map(|s| s.len()).unwrap_or(0) + entry.0.len();
                if size + bytes > STAGE_BYTES {
                    chunks.push(Vec::new());
                    size = 0;
                }
                size += bytes;
                if let Some(last) = chunks.last_mut() {
                    last.push(entry);
                }
            }
            for (index, chunk) in chunks.iter().enumerate() {
                let mut attrs = Attributes::new();
                attrs.insert("users".into(), serde_json::to_value(chunk).unwrap_or(Value::Null));
                let key = item_store::Key::new(keys::eaa_stage_partition(tenant), format!("{}#{index:06}", run.checkpoint.run));
                self.store.put(Item::new(key, attrs), Condition::None).await?;
            }
            // A restaging never leaves a stale chunk behind: the fetched users only grow
            // within a run, so the chunks only grow.
            run.checkpoint.staged_chunks = chunks.len();
            run.stage_current = true;
        }
        self.store.put(Item::new(keys::eaa_sync(tenant, "RUN"), to_attrs(&run.checkpoint)), Condition::None).await?;
        Ok(())
    }

    /// Records the summary and drops the run's checkpoint and stage items.
    pub(crate) async fn finish(&self, tenant: &str, run: Run, resumed: bool) -> Result<SyncSummary> {
        let checkpoint = run.checkpoint;
        let summary = SyncSummary {
            outcome: if checkpoint.counts.failed == 0 { SyncOutcome::Succeeded } else { SyncOutcome::CompletedWithErrors },
            run: checkpoint.run.clone(),
            started: checkpoint.started.clone(),
            finished: rfc3339(self.clock.now()),
            counts: checkpoint.counts,
            errors: checkpoint.errors.clone(),
        };
        self.store.put(Item::new(keys::eaa_sync(tenant, "LAST"), to_attrs(&summary)), Condition::None).await?;
        if resumed {
            if checkpoint.staged_chunks > 0 {
                paging::delete_all(
                    &self.store,
                    Query::partition(keys::eaa_stage_partition(tenant)).sort(SortKey::Prefix(format!("{}#", checkpoint.run))),
                )
                .await?;
            }
            self.store.delete(&keys::eaa_sync(tenant, "RUN"), Condition::None).await?;
        }
        Ok(summary)
    }
}
