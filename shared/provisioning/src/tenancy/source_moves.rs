//! Moving records away from an integration: what deleting an integration does to its
//! users and groups (released to manual, or removed with their devices), and an admin's
//! move of all users of an integration to manual or to another integration.
//!
//! An integration can own millions of records, more than one request may touch before
//! API Gateway's 30 s. So the work is a job: an item (`T#{t}` / `MOVE#{job}`) written in
//! the transaction that deletes the integration (or that the admin's move starts), which
//! walks the tenant's listing (gsi1, users then groups) page by page from a saved
//! position. Any invocation may run a step: the request itself for the first pages, then
//! the local server's background loop or the admin function's one-minute schedule, which
//! find pending jobs in gsi1 under [`keys::PENDING_MOVES`]. This is correct after a crash
//! at any moment: the job item is durable from the same transaction as the deletion, a
//! lease keeps two steps from running it at once, each record is moved by a write
//! conditional on its version (a moved record no longer names the job's source and is
//! skipped when a page is redone), and a removed one is gone from the listing. Only the
//! counts of a page interrupted by a crash may miss its records.
//!
//! Meanwhile nothing waits for the job: a record whose source names an integration that
//! no longer exists is manual for every rule (`Provisioning::live_source`), so the users
//! of a deleted integration are claimable at once, and so are records orphaned before
//! deletions released them.

use item_store::{Attributes, Condition, GSI1, Item, ItemStore, Query, SortKey, StoreError, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::log::{LogOperation, RETENTION};
use crate::resources::group_names::claim_item;
use crate::resources::record::Record;
use crate::resources::types::{GROUPS, TypeDescriptor, USERS};
use crate::service::Provisioning;
use crate::storage::ids::new_id;
use crate::storage::keys::{self, GSI1_PK, GSI1_SK};
use crate::storage::retry::{MAX_RETRIES, backoff, contended};
use crate::tenancy::ownership::{Caller, Source};

/// Listing items one store page of a step reads.
const PAGE: u32 = 100;

/// How long a step holds a job (longer than any step runs: a step saves after every page).
const LEASE_MILLIS: i64 = 120_000;

/// Where the records go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MoveTarget {
    /// Released: owned by no integration, claimable by one that includes manual users.
    Manual,
    /// Owned by another integration of the tenant.
    Integration {
        #[serde(rename = "integrationId")]
        integration_id: String,
    },
    /// Removed with their devices and memberships, as a group deselection removes them.
    Delete,
}

impl MoveTarget {
    fn source(&self) -> Option<Source> {
        match self {
            MoveTarget::Manual => Some(Source::Manual),
            MoveTarget::Integration { integration_id } => Some(Source::Integration(integration_id.clone())),
            MoveTarget::Delete => None,
        }
    }
}

/// Which part of the tenant's listing a job walks next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MovePhase {
    Users,
    Groups,
    /// The deleted EAA integration's sync states (when its users were removed).
    EaaStates,
    Done,
}

/// A job moving an integration's records, as stored and as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceMove {
    pub id: String,
    /// The integration whose records move.
    pub integration: String,
    pub to: MoveTarget,
    /// Whether the integration was deleted (its groups move too), or only its users move.
    pub integration_deleted: bool,
    /// The deleted integration was the tenant's EAA integration.
    #[serde(default)]
    pub eaa: bool,
    pub phase: MovePhase,
    /// Records given the new source (released or moved).
    pub moved: u64,
    pub removed: u64,
    /// Records that could not be moved or removed (the reason is in the provisioning log).
    pub failed: u64,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// Hex of the store cursor where the current phase goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<String>,
    #[serde(default)]
    lease_until: i64,
    #[serde(default)]
    version: u64,
}

impl SourceMove {
    pub fn done(&self) -> bool {
        self.phase == MovePhase::Done
    }

    /// The item; `now` in unix seconds.
    fn to_item(&self, tenant: &str, now: i64) -> Item {
        let mut attrs: Attributes = serde_json::to_value(self).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        attrs.insert("tenant".into(), tenant.into());
        if self.done() {
            // Kept for the admin to read how it ended, then dropped by the table's TTL.
            attrs.insert("expiresAt".into(), Value::from(now + RETENTION.whole_seconds()));
        } else {
            attrs.insert(GSI1_PK.into(), keys::PENDING_MOVES.into());
            attrs.insert(GSI1_SK.into(), format!("{tenant}#{}", self.id).into());
        }
        Item::new(keys::source_move(tenant, &self.id), attrs)
    }

    fn from_item(item: &Item) -> Result<(String, SourceMove)> {
        let job = serde_json::from_value(Value::Object(item.attrs.clone()))
            .map_err(|e| Error::Internal(format!("stored source move {}: {e}", item.key)))?;
        let tenant = item.attrs.get("tenant").and_then(Value::as_str).unwrap_or_default().to_string();
        Ok((tenant, job))
    }

    fn next_phase(&self) -> MovePhase {
        match self.phase {
            MovePhase::Users if self.integration_deleted => MovePhase::Groups,
            MovePhase::Groups if self.eaa && self.to == MoveTarget::Delete => MovePhase::EaaStates,
            _ => MovePhase::Done,
        }
    }
}

/// A pending job, as the background drivers find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMove {
    pub tenant: String,
    pub job: String,
}

impl<S: ItemStore> Provisioning<S> {
    /// A new job moving `integration`'s records, and the operation putting it (for the
    /// transaction that deletes the integration, or on its own for a move).
    pub(crate) fn new_source_move(
        &self,
        tenant: &str,
        integration: &str,
        to: MoveTarget,
        deleted: bool,
        eaa: bool,
    ) -> (SourceMove, TransactOp) {
        let job = SourceMove {
            id: new_id(),
            integration: integration.to_string(),
            to,
            integration_deleted: deleted,
            eaa,
            phase: MovePhase::Users,
            moved: 0,
            removed: 0,
            failed: 0,
            created: rfc3339(self.clock.now()),
            finished: None,
            position: None,
            lease_until: 0,
            version: 1,
        };
        let op = TransactOp::Put { item: job.to_item(tenant, self.clock.now().unix_timestamp()), condition: Condition::Absent };
        (job, op)
    }

    /// An admin moves every user of `integration` to manual or to another integration.
    /// The answer is the job after its first steps (see [`Provisioning::run_source_move`]).
    pub async fn move_integration_users(&self, caller: &Caller, integration: &str, to: MoveTarget, examine: usize) -> Result<SourceMove> {
        caller.require_admin("move users between sources")?;
        self.integration_item(caller, integration).await?;
        self.check_target(caller, &to, Some(integration)).await?;
        if to == MoveTarget::Delete {
            return Err(Error::invalid_value(
                "users are moved to {\"type\":\"manual\"} or {\"type\":\"integration\",\"integrationId\":..}; to remove them, delete the integration with ?users=delete",
            ));
        }
        let (job, op) = self.new_source_move(&caller.tenant, integration, to, false, false);
        self.store.transact(vec![op]).await?;
        self.run_source_move(&caller.tenant, &job.id, examine).await
    }

    /// 404 unless a target integration exists (and is not the source itself).
    pub(crate) async fn check_target(&self, caller: &Caller, to: &MoveTarget, from: Option<&str>) -> Result<()> {
        if let MoveTarget::Integration { integration_id } = to {
            if Some(integration_id.as_str()) == from {
                return Err(Error::invalid_value("the target integration is the one the users are moved from: name another"));
            }
            self.integration_item(caller, integration_id).await?;
        }
        Ok(())
    }

    /// An admin moves one user to manual or to another integration (logged). `false`
    /// when the user already had that source.
    pub async fn move_user(&self, caller: &Caller, id: &str, to: MoveTarget) -> Result<bool> {
        caller.require_admin("move users between sources")?;
        let record = self.user_record(caller, id).await?;
        self.check_target(caller, &to, None).await?;
        let Some(target) = to.source() else {
            return Err(Error::invalid_value(
                "a user is moved to {\"type\":\"manual\"} or {\"type\":\"integration\",\"integrationId\":..}; DELETE removes one",
            ));
        };
        let from = self.live_source(&caller.tenant, &record.source).await?;
        let detail = format!("moved from {} to {}", source_text(&from), source_text(&target));
        self.change_source(caller, &USERS, id, None, &target, LogOperation::Move, &detail).await
    }

    /// A job of the caller's tenant (admin): how far it got, and how it ended.
    pub async fn source_move(&self, caller: &Caller, id: &str) -> Result<SourceMove> {
        caller.require_admin("read jobs")?;
        self.load_source_move(&caller.tenant, id).await
    }

    async fn load_source_move(&self, tenant: &str, id: &str) -> Result<SourceMove> {
        let missing = || Error::not_found(format!("no job {id} in this tenant"));
        if id.is_empty() || id.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(missing());
        }
        let item = self.store.get(&keys::source_move(tenant, id)).await?.ok_or_else(missing)?;
        Ok(SourceMove::from_item(&item)?.1)
    }

    /// Whether a deletion of the tenant's EAA integration is still moving records (a new
    /// EAA integration's sync waits for it, so that it adopts released users and never
    /// races a removal).
    pub(crate) async fn eaa_deletion_pending(&self, tenant: &str) -> Result<bool> {
        let query = Query::partition(keys::tenant_config(tenant)).sort(SortKey::Prefix(keys::SOURCE_MOVE_PREFIX.into()));
        let page = self.store.query(&query).await?;
        for item in &page.items {
            let (_, job) = SourceMove::from_item(item)?;
            if job.eaa && job.integration_deleted && !job.done() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Pending jobs of every tenant, oldest first (for the background drivers).
    pub async fn pending_source_moves(&self, limit: u32) -> Result<Vec<PendingMove>> {
        let page = self.store.query(&Query::index(GSI1, keys::PENDING_MOVES).limit(limit.max(1))).await?;
        page.items.iter().map(|item| SourceMove::from_item(item).map(|(tenant, job)| PendingMove { tenant, job: job.id })).collect()
    }

    /// Runs steps of every pending job, each examining up to `examine` listing items
    /// (what the background drivers call). Returns how many jobs it stepped (not those
    /// another step holds), so that a driver stops when nothing is left for it.
    pub async fn continue_source_moves(&self, examine: usize) -> Result<usize> {
        let mut stepped = 0;
        for job in self.pending_source_moves(25).await? {
            if self.step_source_move(&job.tenant, &job.job, examine).await?.is_some() {
                stepped += 1;
            }
        }
        Ok(stepped)
    }

    /// Takes the job's lease and walks up to about `examine` listing items from its
    /// position, saving after every page. Another step holding the lease: the job as
    /// read, untouched.
    pub async fn run_source_move(&self, tenant: &str, id: &str, examine: usize) -> Result<SourceMove> {
        match self.step_source_move(tenant, id, examine).await? {
            Some(job) => Ok(job),
            None => self.load_source_move(tenant, id).await,
        }
    }

    /// [`Provisioning::run_source_move`]; `None` when the job is done or another step
    /// holds it.
    async fn step_source_move(&self, tenant: &str, id: &str, examine: usize) -> Result<Option<SourceMove>> {
        let mut job = self.load_source_move(tenant, id).await?;
        let now = (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
        if job.done() || job.lease_until > now {
            return Ok(None);
        }
        job.lease_until = now + LEASE_MILLIS;
        if !self.save_source_move(tenant, &mut job).await? {
            return Ok(None);
        }
        let mut examined = 0usize;
        while !job.done() && examined < examine {
            let room = u32::try_from(examine - examined).unwrap_or(PAGE).min(PAGE);
            examined += self.move_page(tenant, &mut job, room).await?;
            if job.done() {
                job.lease_until = 0;
                job.finished = Some(rfc3339(self.clock.now()));
                tracing::info!(tenant, job = %job.id, integration = %job.integration, moved = job.moved, removed = job.removed,
                               failed = job.failed, "source move finished");
            }
            if !self.save_source_move(tenant, &mut job).await? {
                return Err(contended("the job"));
            }
        }
        if !job.done() {
            job.lease_until = 0;
            self.save_source_move(tenant, &mut job).await?;
        }
        Ok(Some(job))
    }

    /// Writes the job conditional on the version read; `false` if someone else wrote it.
    async fn save_source_move(&self, tenant: &str, job: &mut SourceMove) -> Result<bool> {
        let expected = job.version;
        job.version += 1;
        match self.store.put(job.to_item(tenant, self.clock.now().unix_timestamp()), Condition::VersionEquals(expected)).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }

    /// One store page (at most `room` items) of the current phase; returns how many items
    /// it examined.
    async fn move_page(&self, tenant: &str, job: &mut SourceMove, room: u32) -> Result<usize> {
        let descriptor = match job.phase {
            MovePhase::Users => &USERS,
            MovePhase::Groups => &GROUPS,
            MovePhase::EaaStates => {
                for kind in ["U", "G"] {
                    crate::storage::paging::delete_all(&self.store, Query::partition(keys::eaa_state_partition(tenant, kind))).await?;
                }
                job.phase = MovePhase::Done;
                return Ok(1);
            }
            MovePhase::Done => return Ok(0),
        };
        let cursor = job.position.as_deref().and_then(|text| hex::decode(text).ok()).map(item_store::Cursor);
        let query = Query::index(GSI1, keys::listing(tenant, descriptor.name())).limit(room.max(1)).after(cursor);
        let page = self.store.query(&query).await?;
        let from = Source::Integration(job.integration.clone());
        for item in &page.items {
            let record = Record::from_item(item)?;
            if record.source != from {
                continue;
            }
            match self.move_one(tenant, descriptor, &record.id, job).await {
                Ok(true) if job.to == MoveTarget::Delete => job.removed += 1,
                Ok(true) => job.moved += 1,
                Ok(false) => {}
                Err(error) if error.is_retryable() => return Err(error),
                Err(error) => {
                    job.failed += 1;
                    tracing::warn!(tenant, job = %job.id, record = %record.id, error = %error.detail(), "a record could not be moved");
                }
            }
        }
        match page.cursor {
            Some(next) => job.position = Some(hex::encode(next.0)),
            None => {
                job.position = None;
                job.phase = job.next_phase();
            }
        }
        Ok(page.items.len().max(1))
    }

    /// Moves (or removes) one record of the job if it still comes from the job's
    /// integration; `true` if it did.
    async fn move_one(&self, tenant: &str, descriptor: &TypeDescriptor, id: &str, job: &SourceMove) -> Result<bool> {
        let admin = Caller::admin(tenant);
        let from = Source::Integration(job.integration.clone());
        let Some(to) = job.to.source() else {
            return match self.delete(&admin, descriptor, id, None).await {
                Ok(()) => Ok(true),
                Err(Error::Scim(error)) if error.status == 404 => Ok(false),
                Err(other) => Err(other),
            };
        };
        let detail = if job.integration_deleted {
            format!("released to {}: {} was deleted", source_text(&to), source_text(&from))
        } else {
            format!("moved from {} to {}", source_text(&from), source_text(&to))
        };
        self.change_source(&admin, descriptor, id, Some(&from), &to, LogOperation::Move, &detail).await
    }

    /// Gives one record a new source, conditional on its version (re-read on a lost race),
    /// and logs it as `operation`. `expected`: only if the record still comes from there.
    /// `true` if it changed.
    pub(crate) async fn change_source(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        expected: Option<&Source>,
        to: &Source,
        operation: LogOperation,
        detail: &str,
    ) -> Result<bool> {
        for attempt in 0..MAX_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let Some(item) = self.store.get(&keys::resource(&caller.tenant, id)).await? else { return Ok(false) };
            let record = Record::from_item(&item)?;
            if record.type_name != descriptor.name() || expected.is_some_and(|from| *from != record.source) || record.source == *to {
                return Ok(false);
            }
            let updated =
                Record { version: record.version + 1, last_modified: rfc3339(self.clock.now()), source: to.clone(), ..record.clone() };
            let mut log = self.log_item(caller, operation, descriptor.name(), Some(id), Ok(&["source".to_string()]));
            log.attrs.insert("detail".into(), detail.into());
            let mut ops = vec![
                TransactOp::Put { item: updated.to_item(&caller.tenant, descriptor), condition: Condition::VersionEquals(record.version) },
                TransactOp::Put { item: log, condition: Condition::Absent },
            ];
            // A group's name claim is its owner's: it moves with the source, unless the new
            // owner already has a group of that name.
            let (old_claim, new_claim) = (record.name_claim(&caller.tenant, descriptor), updated.name_claim(&caller.tenant, descriptor));
            let claim_moves = old_claim != new_claim;
            if claim_moves && let (Some(old), Some(new)) = (old_claim, new_claim) {
                ops.push(TransactOp::Delete { key: old, condition: Condition::None });
                ops.push(TransactOp::Put { item: claim_item(new, id), condition: Condition::Absent });
            }
            match self.store.transact(ops).await {
                Ok(()) => return Ok(true),
                Err(StoreError::TransactionCanceled { reasons }) if claim_moves && reasons.get(3).is_some_and(Option::is_some) => {
                    let name = record.unique_value(descriptor).unwrap_or_default();
                    return Err(Error::conflict(format!(
                        "a group named \"{name}\" already exists for {}: rename one of the two groups, then move it again",
                        source_text(to)
                    )));
                }
                Err(StoreError::TransactionCanceled { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(contended("the record"))
    }
}

/// A source as the log names it.
pub(crate) fn source_text(source: &Source) -> String {
    match source {
        Source::Manual => "manual".into(),
        Source::Integration(id) => format!("integration {id}"),
    }
}
