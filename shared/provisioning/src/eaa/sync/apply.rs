//! Applying the fetched users: users created, updated, suspended or removed through the
//! generic resource service (so ownership, seats, enrollment and the log apply as for
//! SCIM), groups and memberships patched in batches, sync states written last.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use item_store::{Condition, GSI2, Item, ItemStore, Query, StoreError, TransactOp};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::eaa::sync::mapping::{
    Desired, GroupState, UserState, content_hash, from_attrs, member_values, patch_body, scim_user, state_key, to_attrs, user_name,
};
use crate::eaa::sync::run::{Run, Stop};
use crate::error::{Error, Result};
use crate::resources::record::Record;
use crate::resources::types::{GROUPS, USERS};
use crate::service::Provisioning;
use crate::storage::keys;
use crate::storage::paging;
use crate::storage::transaction::run_batches;
use crate::tenancy::ownership::Caller;

/// Users written before the batch's memberships and states are: 98, so that a group's
/// membership patch for a batch is one transaction (the group, 98 members, the log
/// entry), and the batch's states one more.
const BATCH: usize = 98;
impl<S: ItemStore> Provisioning<S> {
    pub(crate) async fn states<T: for<'de> Deserialize<'de>>(&self, tenant: &str, kind: &str) -> Result<HashMap<String, T>> {
        let items =
            paging::collect(&self.store, Query::partition(keys::eaa_state_partition(tenant, kind)), usize::MAX, "EAA sync states").await?;
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

    pub(crate) async fn apply(&self, caller: &Caller, run: &mut Run) -> Result<(), Stop> {
        let tenant = caller.tenant.clone();
        let mut user_states: HashMap<String, UserState> = self.states(&tenant, "U").await?;
        let mut group_states: HashMap<String, GroupState> = self.states(&tenant, "G").await?;
        self.adopt_predecessor(caller, run, &mut user_states, &mut group_states).await?;
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
            run_batches(&self.store, vec![ops]).await.map_err(|failed| Stop::from(StoreError::from(failed)))?;
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
}
