//! The EAA sync engine: makes the tenant's users and groups owned by its EAA integration
//! mirror the users of the selected EAA groups (DESIGN.md, EAA.md).
//!
//! Decisions:
//! - **Identity.** An EAA user is keyed by `user_uuid_url`, kept as the SCIM `externalId`
//!   and as the key of its sync-state item. `userName` is the EAA `upn`, else `email`,
//!   else `username`: the UPN is unique across the forest and is what Entra provisions as
//!   userName, so a manual user created with the same sign-in name matches (and can be
//!   claimed); the bare `username` (sAMAccountName) is unique only within a domain.
//! - **Mapping.** `name.givenName/familyName` from `first_name/last_name`, `displayName`
//!   from `display_name` (else "first last"), one work email, one work phone, `active` =
//!   EAA `status == 1` (a disabled user is suspended: `PROVISIONING_DISABLED`, devices
//!   kept). Group `displayName` = EAA group name, `externalId` = its `uuid_url`.
//! - **No write for unchanged users.** Each synced user has a state item (partition
//!   `T#{t}#EAA#U`) with the SHA-256 of the SCIM body the sync would write and the
//!   groups its memberships were applied for. A sync reads the states (one query page per
//!   ~1 MB) and writes only where the hash or the group set differs.
//! - **Writes go through the generic resource service** with the integration as caller,
//!   so ownership (claims only with *include manually provisioned users*, records of other
//!   integrations never touched), seats, enrollment emails (outbox) and the provisioning
//!   log behave exactly as for SCIM.
//! - **Removal.** A user in no selected group (left EAA, left the group, group deselected,
//!   directory dissociated) is deleted with its devices and memberships.
//! - **Lease.** One item per tenant (`EAASYNC#LEASE`), taken with a conditional put
//!   (absent, or expired and at the version read) and valid for the step's budget plus
//!   [`LEASE_MARGIN`]; a second step meanwhile answers [`Progress::Busy`].
//! - **Checkpoints.** A run is fetch (every page of every selected group) then apply.
//!   A step that runs out of budget (or meets an EAA or store error) saves the run item
//!   (`EAASYNC#RUN`: phase, group index and offset, counts) and the users fetched so far
//!   (stage items, ~300 KB each), and the next step resumes from there. Applying is
//!   idempotent (hashes, membership puts, lookups by externalId of users created just
//!   before an interruption), so a rerun converges. A run that fits in one step writes
//!   neither.
//! - **Writes of a sync that changes nothing:** the lease put, the summary put
//!   (`EAASYNC#LAST`) and the lease delete — 2 puts and 1 delete, nothing else.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use item_store::{Attributes, Condition, GSI2, Item, ItemStore, Query, SortKey, StoreError, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock::rfc3339;
use crate::eaa::{EaaConnector, EaaDirectory, EaaError, EaaUser};
use crate::eaa_config::{SelectedGroup, SyncTarget};
use crate::error::{Error, Result};
use crate::keys;
use crate::ownership::Caller;
use crate::record::Record;
use crate::secrets::new_id;
use crate::service::Provisioning;
use crate::types::{GROUPS, USERS};

/// How long a lease outlives the step's budget (a crashed step blocks the next for at
/// most its budget plus this).
pub const LEASE_MARGIN: Duration = Duration::from_secs(60);
/// Users written before the batch's memberships and states are: 98, so that a group's
/// membership patch for a batch is one transaction (the group, 98 members, the log
/// entry), and the batch's states one more.
const BATCH: usize = 98;
/// Errors kept in a summary (the provisioning log has every failed write).
const MAX_ERRORS: usize = 50;
/// Bytes of staged users per stage item (items stop at 400 KB).
const STAGE_BYTES: usize = 300_000;

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

/// What one run of a [`SyncTarget`] did: the sync function's answer for each tenant.
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

/// One user of the desired state: EAA's view and the selected groups it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Desired {
    u: EaaUser,
    g: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserState {
    id: String,
    hash: String,
    groups: BTreeSet<String>,
    active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupState {
    id: String,
    name: String,
}

/// The SCIM userName of an EAA user (see the module docs).
pub fn user_name(user: &EaaUser) -> &str {
    [&user.upn, &user.email, &user.username].into_iter().map(|s| s.trim()).find(|s| !s.is_empty()).unwrap_or_default()
}

/// The SCIM User the sync writes for an EAA user.
pub fn scim_user(user: &EaaUser) -> Value {
    let display = match user.display_name.trim() {
        "" => format!("{} {}", user.first_name.trim(), user.last_name.trim()).trim().to_string(),
        name => name.to_string(),
    };
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(user),
        "externalId": user.user_uuid_url,
        "name": {"givenName": user.first_name, "familyName": user.last_name},
        "displayName": display,
        "active": user.status == 1,
    });
    if !user.email.trim().is_empty() {
        body["emails"] = json!([{"value": user.email.trim(), "type": "work", "primary": true}]);
    }
    if !user.phone_num.trim().is_empty() {
        body["phoneNumbers"] = json!([{"value": user.phone_num.trim(), "type": "work"}]);
    }
    body
}

fn content_hash(body: &Value) -> String {
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

fn to_attrs(value: &impl Serialize) -> Attributes {
    serde_json::to_value(value).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
}

fn from_attrs<T: for<'de> Deserialize<'de>>(item: &Item, what: &str) -> Result<T> {
    serde_json::from_value(Value::Object(item.attrs.clone())).map_err(|e| Error::Internal(format!("stored {what} {}: {e}", item.key)))
}

fn patch_body(operations: Vec<Value>) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn member_values(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

/// A run in memory during one step.
struct Run {
    checkpoint: Checkpoint,
    desired: BTreeMap<String, Desired>,
    deadline: Instant,
    /// Whether the stage items hold exactly `desired` (loaded in the apply phase, which
    /// does not change it), so that a checkpoint need not write them again.
    stage_current: bool,
}

impl Run {
    fn error(&mut self, text: String) {
        self.checkpoint.counts.failed += 1;
        if self.checkpoint.errors.len() < MAX_ERRORS {
            self.checkpoint.errors.push(text);
        }
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// Why a step stopped before the end of the run.
enum Stop {
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

fn eaa_failure(error: EaaError) -> Stop {
    Stop::Failed(match error {
        EaaError::RateLimited { retry_after } => {
            Error::Retryable { throttled: true, retry_after, detail: "EAA is rate limiting this account".into() }
        }
        other => Error::Retryable { throttled: false, retry_after: Duration::from_secs(60), detail: other.to_string() },
    })
}

impl<S: ItemStore> Provisioning<S> {
    /// The last sync's summary and the run in progress, if any (admin).
    pub async fn eaa_sync_status(&self, caller: &Caller) -> Result<SyncStatus> {
        if caller.actor != crate::ownership::Actor::Admin {
            return Err(Error::Forbidden("only a tenant administrator may read the sync status".into()));
        }
        let last = self.store.get(&keys::eaa_sync(&caller.tenant, "LAST")).await?.map(|i| from_attrs(&i, "sync summary")).transpose()?;
        let in_progress =
            self.store.get(&keys::eaa_sync(&caller.tenant, "RUN")).await?.map(|i| from_attrs(&i, "sync checkpoint")).transpose()?;
        Ok(SyncStatus { last, in_progress })
    }

    /// One step of a target's sync through `connector`, for at most about `budget`.
    /// Failures are reported in the answer rather than returned, so that one tenant's bad
    /// credentials do not stop the other tenants' syncs.
    pub async fn run_eaa_target(&self, target: &SyncTarget, connector: &dyn EaaConnector, budget: Duration) -> TargetRun {
        if budget.is_zero() {
            return TargetRun::Skipped;
        }
        let Some(reference) = &target.credentials_ref else { return TargetRun::Unconfigured };
        let eaa = match connector.connect(&target.tenant, reference).await {
            Ok(eaa) => eaa,
            Err(e) => return TargetRun::Error { error: e.to_string() },
        };
        match self.eaa_sync_step(&target.tenant, eaa.as_ref(), budget).await {
            Ok(Progress::Done(summary)) => TargetRun::Done { summary },
            Ok(Progress::Continue(checkpoint)) => TargetRun::Continue { checkpoint },
            Ok(Progress::Busy) => TargetRun::Busy,
            Err(e) => TargetRun::Error { error: e.detail() },
        }
    }

    /// One step of the tenant's EAA sync, for at most about `budget` (the Lambda passes
    /// its remaining time less a margin). `Continue` means: invoke again.
    pub async fn eaa_sync_step(&self, tenant: &str, eaa: &dyn EaaDirectory, budget: Duration) -> Result<Progress> {
        let Some(lease) = self.take_lease(tenant, budget + LEASE_MARGIN).await? else { return Ok(Progress::Busy) };
        let result = self.step_under_lease(tenant, eaa, budget).await;
        self.release_lease(tenant, lease).await;
        result
    }

    /// The lease's version when taken, `None` when another holder's lease is valid.
    async fn take_lease(&self, tenant: &str, valid_for: Duration) -> Result<Option<u64>> {
        let key = keys::eaa_sync(tenant, "LEASE");
        let now = self.clock.now().unix_timestamp();
        let current = self.store.get(&key).await?;
        let condition = match &current {
            None => Condition::Absent,
            Some(item) if item.attrs.get("expiresAt").and_then(Value::as_i64).is_some_and(|at| at > now) => return Ok(None),
            Some(item) => Condition::VersionEquals(item.version().unwrap_or(0)),
        };
        let version = current.and_then(|i| i.version()).unwrap_or(0) + 1;
        let attrs = to_attrs(&json!({"holder": new_id(), "version": version, "expiresAt": now + valid_for.as_secs() as i64}));
        match self.store.put(Item::new(key, attrs), condition).await {
            Ok(()) => Ok(Some(version)),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Best effort: a lease left behind expires by itself.
    async fn release_lease(&self, tenant: &str, version: u64) {
        let _ = self.store.delete(&keys::eaa_sync(tenant, "LEASE"), Condition::VersionEquals(version)).await;
    }

    async fn step_under_lease(&self, tenant: &str, eaa: &dyn EaaDirectory, budget: Duration) -> Result<Progress> {
        let deadline = Instant::now() + budget;
        let (integration_id, selection) = self.eaa_selection(tenant).await?;
        let integration = self.integration(&Caller::admin(tenant), &integration_id).await?;
        let caller = Caller::integration(tenant, &integration_id, integration.settings);
        let saved =
            self.store.get(&keys::eaa_sync(tenant, "RUN")).await?.map(|i| from_attrs::<Checkpoint>(&i, "sync checkpoint")).transpose()?;
        let resumed = saved.is_some();
        let checkpoint = saved.unwrap_or_else(|| Checkpoint {
            run: new_id(),
            started: rfc3339(self.clock.now()),
            phase: Phase::Fetch,
            selection,
            group_index: 0,
            offset: 0,
            counts: SyncCounts::default(),
            errors: Vec::new(),
            staged_chunks: 0,
            applied_through: None,
        });
        let stage_current = checkpoint.phase == Phase::Apply && checkpoint.staged_chunks > 0;
        let mut run = Run { desired: self.load_stage(tenant, &checkpoint).await?, checkpoint, deadline, stage_current };
        match self.run_phases(&caller, eaa, &mut run).await {
            Ok(()) => {
                let summary = self.finish(tenant, run, resumed).await?;
                Ok(Progress::Done(summary))
            }
            Err(stop) => {
                self.save_checkpoint(tenant, &mut run).await?;
                match stop {
                    Stop::OutOfTime => Ok(Progress::Continue(run.checkpoint)),
                    Stop::Failed(error) => {
                        let summary = SyncSummary {
                            run: run.checkpoint.run.clone(),
                            outcome: SyncOutcome::Failed,
                            started: run.checkpoint.started.clone(),
                            finished: rfc3339(self.clock.now()),
                            counts: run.checkpoint.counts,
                            errors: vec![error.detail()],
                        };
                        self.store.put(Item::new(keys::eaa_sync(tenant, "LAST"), to_attrs(&summary)), Condition::None).await?;
                        Err(error)
                    }
                }
            }
        }
    }

    async fn run_phases(&self, caller: &Caller, eaa: &dyn EaaDirectory, run: &mut Run) -> Result<(), Stop> {
        if run.checkpoint.phase == Phase::Fetch {
            self.fetch(eaa, run).await?;
            run.checkpoint.phase = Phase::Apply;
        }
        self.apply(caller, run).await
    }

    /// Every page of every selected group, from the checkpoint on, into `run.desired`.
    async fn fetch(&self, eaa: &dyn EaaDirectory, run: &mut Run) -> Result<(), Stop> {
        while let Some((directory, group)) = run.checkpoint.selection.get(run.checkpoint.group_index).cloned() {
            let page = eaa.group_users(&directory, &group.id, run.checkpoint.offset).await.map_err(eaa_failure)?;
            run.stage_current = false;
            for member in page.items {
                let entry = run
                    .desired
                    .entry(member.user.user_uuid_url.clone())
                    .or_insert_with(|| Desired { u: member.user.clone(), g: BTreeSet::new() });
                entry.u = member.user;
                entry.g.insert(group.id.clone());
            }
            match page.next {
                Some(next) => run.checkpoint.offset = next,
                None => {
                    run.checkpoint.group_index += 1;
                    run.checkpoint.offset = 0;
                }
            }
            // Checked after a page, not before: every step makes progress, even one
            // started with almost no budget left.
            if run.out_of_time() && run.checkpoint.group_index < run.checkpoint.selection.len() {
                return Err(Stop::OutOfTime);
            }
        }
        Ok(())
    }

    async fn states<T: for<'de> Deserialize<'de>>(&self, tenant: &str, kind: &str) -> Result<HashMap<String, T>> {
        let items = self.collect(Query::partition(keys::eaa_state_partition(tenant, kind)), usize::MAX, "EAA sync states").await?;
        items.iter().map(|item| Ok((item.key.sk.clone(), from_attrs(item, "EAA sync state")?))).collect()
    }

    /// The record owned by this integration with this externalId, if any (finds what a
    /// step created just before it was interrupted, before its state was written).
    async fn owned_by_external_id(&self, caller: &Caller, type_name: &str, external_id: &str) -> Result<Option<String>> {
        let page = self.store.query(&Query::index(GSI2, keys::external_id(&caller.tenant, type_name, external_id))).await?;
        for item in &page.items {
            let record = Record::from_item(item)?;
            if record.type_name == type_name && record.source == caller.source() {
                return Ok(Some(record.id));
            }
        }
        Ok(None)
    }

    async fn apply(&self, caller: &Caller, run: &mut Run) -> Result<(), Stop> {
        let tenant = caller.tenant.clone();
        let user_states: HashMap<String, UserState> = self.states(&tenant, "U").await?;
        let group_states: HashMap<String, GroupState> = self.states(&tenant, "G").await?;
        let ready = self.apply_groups(caller, run, &group_states).await?;

        let desired = std::mem::take(&mut run.desired);
        let outcome = self.apply_all_users(caller, run, &user_states, &ready, &desired).await;
        // Put back before anything else: a checkpoint stages the desired users.
        run.desired = desired;
        outcome?;

        let gone: Vec<(&String, &UserState)> = user_states.iter().filter(|(uuid, _)| !run.desired.contains_key(*uuid)).collect();
        for (done, (uuid, state)) in gone.into_iter().enumerate() {
            if done > 0 && done % BATCH == 0 && run.out_of_time() {
                return Err(Stop::OutOfTime);
            }
            match self.delete(caller, &USERS, &state.id, None).await {
                Ok(()) => run.checkpoint.counts.removed += 1,
                // Already gone (an admin deleted it): only the state remains.
                Err(Error::Scim(error)) if error.status == 404 => {}
                Err(error) if error.is_retryable() => return Err(error.into()),
                Err(error) => {
                    run.error(format!("removing user {}: {}", state.id, error.detail()));
                    continue;
                }
            }
            self.store.delete(&state_key(&tenant, "U", uuid), Condition::None).await?;
        }
        let selected: BTreeSet<String> = run.checkpoint.selection.iter().map(|(_, g)| g.id.clone()).collect();
        for (uuid, state) in group_states.iter().filter(|(uuid, _)| !selected.contains(*uuid)) {
            match self.delete(caller, &GROUPS, &state.id, None).await {
                Ok(()) => {}
                Err(Error::Scim(error)) if error.status == 404 => {}
                Err(error) if error.is_retryable() => return Err(error.into()),
                Err(error) => {
                    run.error(format!("removing group {}: {}", state.name, error.detail()));
                    continue;
                }
            }
            self.store.delete(&state_key(&tenant, "G", uuid), Condition::None).await?;
        }
        Ok(())
    }

    /// The desired users after the checkpoint's `applied_through`, in key order and in
    /// batches, moving the checkpoint after each batch (so that a resumed step neither
    /// redoes nor counts twice what an earlier step applied).
    async fn apply_all_users(
        &self,
        caller: &Caller,
        run: &mut Run,
        states: &HashMap<String, UserState>,
        ready: &HashMap<String, String>,
        desired: &BTreeMap<String, Desired>,
    ) -> Result<(), Stop> {
        let start = match &run.checkpoint.applied_through {
            Some(last) => desired.range::<String, _>((std::ops::Bound::Excluded(last.clone()), std::ops::Bound::Unbounded)),
            None => desired.range::<String, _>(..),
        };
        let mut pending = start.peekable();
        while pending.peek().is_some() {
            let batch: Vec<(String, Desired)> = pending.by_ref().take(BATCH).map(|(k, v)| (k.clone(), v.clone())).collect();
            let last = batch.last().map(|(k, _)| k.clone());
            self.apply_users(caller, run, states, ready, batch).await?;
            run.checkpoint.applied_through = last;
            if run.out_of_time() && pending.peek().is_some() {
                return Err(Stop::OutOfTime);
            }
        }
        Ok(())
    }

    /// Ensures a SCIM group per selected EAA group; returns EAA group id -> SCIM group id
    /// for the groups that exist (a group that failed gets no memberships this run).
    async fn apply_groups(
        &self,
        caller: &Caller,
        run: &mut Run,
        states: &HashMap<String, GroupState>,
    ) -> Result<HashMap<String, String>, Stop> {
        let mut ready = HashMap::new();
        for (_, group) in run.checkpoint.selection.clone() {
            let state = states.get(&group.id);
            if let Some(state) = state
                && state.name == group.name
            {
                ready.insert(group.id.clone(), state.id.clone());
                continue;
            }
            let body =
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": group.name, "externalId": group.id});
            let existing = match state {
                Some(state) => Some(state.id.clone()),
                None => self.owned_by_external_id(caller, GROUPS.name(), &group.id).await?,
            };
            let written = match existing {
                Some(id) => {
                    let rename = patch_body(vec![json!({"op": "replace", "path": "displayName", "value": group.name})]);
                    self.patch(caller, &GROUPS, &id, &rename, None).await.map(|_| id)
                }
                None => self.create(caller, &GROUPS, &body).await.map(|w| w.resource["id"].as_str().unwrap_or_default().to_string()),
            };
            match written {
                Ok(id) => {
                    let state = GroupState { id: id.clone(), name: group.name.clone() };
                    self.store.put(Item::new(state_key(&caller.tenant, "G", &group.id), to_attrs(&state)), Condition::None).await?;
                    ready.insert(group.id.clone(), id);
                }
                Err(error) if error.is_retryable() => return Err(error.into()),
                Err(error) => run.error(format!("group {}: {}", group.name, error.detail())),
            }
        }
        Ok(ready)
    }

    /// Writes a batch of users, then their membership changes (one patch per group),
    /// then their states (one transaction): a state is written only after what it
    /// describes, so an interruption leaves work to redo, never a state that lies.
    async fn apply_users(
        &self,
        caller: &Caller,
        run: &mut Run,
        states: &HashMap<String, UserState>,
        ready: &HashMap<String, String>,
        batch: Vec<(String, Desired)>,
    ) -> Result<(), Stop> {
        let mut adds: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut removes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut new_states = Vec::new();
        for (uuid, wanted) in batch {
            let body = scim_user(&wanted.u);
            let hash = content_hash(&body);
            let active = wanted.u.status == 1;
            let groups: BTreeSet<String> = wanted.g.iter().filter(|g| ready.contains_key(*g)).cloned().collect();
            let state = states.get(&uuid);
            if let Some(state) = state
                && state.hash == hash
                && state.groups == groups
            {
                run.checkpoint.counts.unchanged += 1;
                continue;
            }
            let result = match state {
                Some(state) if state.hash == hash => Ok(state.id.clone()),
                Some(state) => match self.replace(caller, &USERS, &state.id, &body, None).await {
                    Err(Error::Scim(error)) if error.status == 404 => self.create_user(caller, &uuid, &body).await,
                    other => other.map(|_| state.id.clone()),
                },
                None => self.create_user(caller, &uuid, &body).await,
            };
            let id = match result {
                Ok(id) => id,
                Err(error) if error.is_retryable() => return Err(error.into()),
                Err(error) => {
                    run.error(format!("user {}: {}", user_name(&wanted.u), error.detail()));
                    continue;
                }
            };
            let counts = &mut run.checkpoint.counts;
            match state {
                None => counts.created += 1,
                Some(previous) if previous.active && !active => counts.suspended += 1,
                Some(_) => counts.updated += 1,
            }
            // A user whose record was recreated has no memberships: add them all.
            let had: BTreeSet<String> = state.filter(|s| s.id == id).map(|s| s.groups.clone()).unwrap_or_default();
            for group in groups.difference(&had) {
                if let Some(scim) = ready.get(group) {
                    adds.entry(scim.clone()).or_default().push(id.clone());
                }
            }
            for group in had.difference(&groups) {
                if let Some(scim) = ready.get(group) {
                    removes.entry(scim.clone()).or_default().push(id.clone());
                }
            }
            new_states.push((uuid, UserState { id, hash, groups, active }));
        }
        let touched: BTreeSet<&String> = adds.keys().chain(removes.keys()).collect();
        for group in touched {
            let mut operations = Vec::new();
            if let Some(ids) = adds.get(group) {
                operations.push(json!({"op": "add", "path": "members", "value": member_values(ids)}));
            }
            if let Some(ids) = removes.get(group) {
                operations.push(json!({"op": "remove", "path": "members", "value": member_values(ids)}));
            }
            match self.patch(caller, &GROUPS, group, &patch_body(operations), None).await {
                Ok(_) => {}
                Err(error) if error.is_retryable() => return Err(error.into()),
                // The group vanished (an admin deleted it): its state is dropped so that
                // the next run recreates it and adds its members again.
                Err(error) => {
                    run.error(format!("memberships of group {group}: {}", error.detail()));
                    if let Some(eaa_group) = ready.iter().find(|(_, scim)| *scim == group).map(|(eaa, _)| eaa) {
                        self.store.delete(&state_key(&caller.tenant, "G", eaa_group), Condition::None).await?;
                    }
                    for (_, state) in new_states.iter_mut() {
                        state.groups.retain(|g| ready.get(g) != Some(group));
                    }
                }
            }
        }
        let ops: Vec<TransactOp> = new_states
            .iter()
            .map(|(uuid, state)| TransactOp::Put {
                item: Item::new(state_key(&caller.tenant, "U", uuid), to_attrs(state)),
                condition: Condition::None,
            })
            .collect();
        if !ops.is_empty() {
            self.run_batches(vec![ops]).await.map_err(|(_, e)| Stop::from(e))?;
        }
        Ok(())
    }

    /// Creates a user, or adopts the one this integration created for the same EAA user
    /// in an interrupted step. A manual user with the same userName is claimed by the
    /// create when the integration includes manual users; otherwise the create fails.
    /// The lookup by externalId happens only on a collision, so the usual create costs no
    /// read.
    async fn create_user(&self, caller: &Caller, uuid: &str, body: &Value) -> Result<String> {
        match self.create(caller, &USERS, body).await {
            Ok(written) => written
                .resource
                .get("id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Error::Internal("created user has no id".into())),
            Err(Error::Scim(conflict)) if conflict.status == 409 => match self.owned_by_external_id(caller, USERS.name(), uuid).await? {
                Some(id) => {
                    self.replace(caller, &USERS, &id, body, None).await?;
                    Ok(id)
                }
                None => Err(Error::Scim(conflict)),
            },
            Err(other) => Err(other),
        }
    }

    async fn load_stage(&self, tenant: &str, checkpoint: &Checkpoint) -> Result<BTreeMap<String, Desired>> {
        let mut desired = BTreeMap::new();
        if checkpoint.staged_chunks == 0 {
            return Ok(desired);
        }
        let query = Query::partition(keys::eaa_stage_partition(tenant)).sort(SortKey::Prefix(format!("{}#", checkpoint.run)));
        for item in self.collect(query, usize::MAX, "staged EAA users").await? {
            let users: Vec<(String, Desired)> = serde_json::from_value(item.attrs.get("users").cloned().unwrap_or(Value::Null))
                .map_err(|e| Error::Internal(format!("staged EAA users {}: {e}", item.key)))?;
            desired.extend(users);
        }
        Ok(desired)
    }

    /// Saves the run item and, when the fetch had not been staged completely, the
    /// fetched users.
    async fn save_checkpoint(&self, tenant: &str, run: &mut Run) -> Result<()> {
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
    async fn finish(&self, tenant: &str, run: Run, resumed: bool) -> Result<SyncSummary> {
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
                self.delete_all(Query::partition(keys::eaa_stage_partition(tenant)).sort(SortKey::Prefix(format!("{}#", checkpoint.run))))
                    .await?;
            }
            self.store.delete(&keys::eaa_sync(tenant, "RUN"), Condition::None).await?;
        }
        Ok(summary)
    }
}

/// The key of the sync-state item of an EAA user (`U`) or group (`G`).
fn state_key(tenant: &str, kind: &str, eaa_id: &str) -> item_store::Key {
    item_store::Key::new(keys::eaa_state_partition(tenant, kind), eaa_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eaa_user(upn: &str, email: &str, username: &str) -> EaaUser {
        EaaUser {
            user_uuid_url: "u1".into(),
            username: username.into(),
            first_name: "Zach".into(),
            last_name: "Doe".into(),
            display_name: String::new(),
            email: email.into(),
            phone_num: String::new(),
            upn: upn.into(),
            status: 2,
        }
    }

    #[test]
    fn user_name_prefers_upn_then_email_then_username() {
        assert_eq!(user_name(&eaa_user("z@corp", "z@mail", "zd")), "z@corp");
        assert_eq!(user_name(&eaa_user(" ", "z@mail", "zd")), "z@mail");
        assert_eq!(user_name(&eaa_user("", "", "zd")), "zd");
    }

    #[test]
    fn mapping_and_hash_follow_the_content() {
        let user = eaa_user("z@corp", "", "zd");
        let body = scim_user(&user);
        assert_eq!((body["displayName"].as_str(), body["active"].as_bool()), (Some("Zach Doe"), Some(false)));
        assert!(body.get("emails").is_none() && body.get("phoneNumbers").is_none());
        assert_eq!(content_hash(&body), content_hash(&scim_user(&user)));
        assert_ne!(content_hash(&body), content_hash(&scim_user(&EaaUser { status: 1, ..user })));
    }
}
