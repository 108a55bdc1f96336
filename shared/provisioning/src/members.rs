//! Group memberships: one item per (group, member), never a list inside the group item.
//!
//! - Adding and removing are idempotent puts and deletes, batched [`MAX_TRANSACT_OPS`] to a
//!   transaction, so adding k members costs ceil(k/100) transactions (see `batches`).
//! - Member ids are not checked against the directory at write time: a check per member
//!   would double the operations per transaction. Isolation does not depend on it: a
//!   membership item lives under the group's tenant and is looked up only under that
//!   tenant, so a foreign id is an opaque string in this tenant's group, never a way to
//!   another tenant's data. Deleting a user or group removes the memberships naming it.
//! - A GET returns at most [`MAX_MEMBERS_IN_RESPONSE`] members (else 400 `tooMany`:
//!   ask with `excludedAttributes=members`); remove-all and remove-by-filter examine at
//!   most [`MAX_MEMBER_SCAN`].

use std::collections::BTreeMap;

use item_store::{Attributes, Condition, GSI2, Item, ItemStore, MAX_TRANSACT_OPS, Query, SortKey, TransactOp};
use scim::patch::{ApartChange, ValuesChange};
use scim::schema::GROUP_RESOURCE;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::keys::{self, GSI2_PK, GSI2_SK, MAX_KEY_VALUE_BYTES};
use crate::service::Provisioning;

pub const MAX_MEMBERS_IN_RESPONSE: usize = 10_000;
pub const MAX_MEMBER_SCAN: usize = 100_000;

/// Members of a page read at once (a page of deletes is one transaction).
const PAGE: u32 = MAX_TRANSACT_OPS as u32;

fn member_item(tenant: &str, group: &str, member: &Value) -> Option<Item> {
    let id = member.get("value")?.as_str()?;
    let mut attrs = Attributes::new();
    attrs.insert("value".into(), id.into());
    if let Some(kind) = member.get("type").and_then(Value::as_str) {
        attrs.insert("type".into(), kind.into());
    }
    attrs.insert(GSI2_PK.into(), keys::member_of(tenant, id).into());
    attrs.insert(GSI2_SK.into(), group.into());
    Some(Item::new(keys::membership(tenant, group, id), attrs))
}

fn member_value(item: &Item) -> Value {
    let mut member = Map::new();
    for name in ["value", "type"] {
        if let Some(value) = item.attrs.get(name) {
            member.insert(name.into(), value.clone());
        }
    }
    Value::Object(member)
}

/// Member ids become part of keys: refuse what cannot be one (no stored resource has
/// such an id anyway).
fn check_member_ids<'a>(values: impl IntoIterator<Item = &'a Value>) -> Result<()> {
    for id in values.into_iter().filter_map(|v| v.get("value").and_then(Value::as_str)) {
        if id.len() > MAX_KEY_VALUE_BYTES {
            return Err(Error::invalid_value(format!(
                "members value of {} bytes is not an id of this service (at most {MAX_KEY_VALUE_BYTES} bytes)",
                id.len()
            )));
        }
    }
    Ok(())
}

/// Puts adding `members` (deduplicated by id) to a group.
pub(crate) fn add_ops(tenant: &str, group: &str, members: &[Value]) -> Result<Vec<TransactOp>> {
    check_member_ids(members)?;
    let mut by_id = BTreeMap::new();
    for member in members {
        if let Some(item) = member_item(tenant, group, member) {
            by_id.insert(item.key.sk.clone(), TransactOp::Put { item, condition: Condition::None });
        }
    }
    Ok(by_id.into_values().collect())
}

/// Splits a write into transactions of at most 100 operations: `fixed` (the resource
/// write and uniqueness changes, which must be atomic and come first, so that a failed
/// version check writes nothing) and `members` (independent, idempotent). The member
/// operations take exactly ceil(k/100) batches: the fixed ones ride in the first batch
/// when they fit next to the remainder, else go alone before. `log` goes into a batch
/// that is already a transaction and has room, else alone.
pub(crate) fn batches(fixed: Vec<TransactOp>, members: Vec<TransactOp>, log: Option<TransactOp>) -> Vec<Vec<TransactOp>> {
    let mut out: Vec<Vec<TransactOp>> = Vec::new();
    let k = members.len();
    let mut members = members.into_iter();
    if fixed.len() + k <= MAX_TRANSACT_OPS {
        let mut first = fixed;
        first.extend(members.by_ref());
        out.push(first);
    } else {
        let remainder = k % MAX_TRANSACT_OPS;
        let mut first = fixed;
        if remainder > 0 && remainder + first.len() <= MAX_TRANSACT_OPS {
            first.extend(members.by_ref().take(remainder));
        }
        if !first.is_empty() {
            out.push(first);
        }
        loop {
            let chunk: Vec<TransactOp> = members.by_ref().take(MAX_TRANSACT_OPS).collect();
            if chunk.is_empty() {
                break;
            }
            out.push(chunk);
        }
    }
    out.retain(|batch| !batch.is_empty());
    if let Some(log) = log {
        // Into a batch that is a transaction anyway (or the only batch): a single put of
        // the resource must not become a transaction only to carry the log entry.
        let alone = out.len() == 1;
        match out.iter_mut().find(|batch| (batch.len() >= 2 || alone) && batch.len() < MAX_TRANSACT_OPS) {
            Some(batch) => batch.push(log),
            None => out.push(vec![log]),
        }
    }
    out
}

impl<S: ItemStore> Provisioning<S> {
    /// Runs batches in order: a batch of one operation is a single put or delete, others
    /// a transaction. Returns the index of the failed batch with its error.
    pub(crate) async fn run_batches(&self, batches: Vec<Vec<TransactOp>>) -> Result<(), (usize, item_store::StoreError)> {
        for (index, mut batch) in batches.into_iter().enumerate() {
            let result = match (batch.len(), batch.pop()) {
                (1, Some(TransactOp::Put { item, condition })) => self.store.put(item, condition).await,
                (1, Some(TransactOp::Delete { key, condition })) => self.store.delete(&key, condition).await,
                (_, Some(op)) => {
                    batch.push(op);
                    self.store.transact(batch).await
                }
                (_, None) => Ok(()),
            };
            result.map_err(|e| (index, single_to_canceled(e)))?;
        }
        Ok(())
    }

    /// The operations carrying out a PATCH's member changes on group `group`, in order:
    /// the last change to a member wins. Reads existing members only for remove-all and
    /// remove-by-filter.
    pub(crate) async fn membership_ops(&self, tenant: &str, group: &str, changes: &[ApartChange]) -> Result<Vec<TransactOp>> {
        let mut desired: BTreeMap<String, Option<Value>> = BTreeMap::new();
        let mut existing: Option<Vec<Value>> = None;
        let attribute = GROUP_RESOURCE.find_attribute(None, "members").map(|at| at.attribute);
        for change in changes {
            if let ValuesChange::Add(values) | ValuesChange::Remove(values) = &change.change {
                check_member_ids(values)?;
            }
            match &change.change {
                ValuesChange::Add(values) => {
                    for value in values {
                        if let Some(id) = value.get("value").and_then(Value::as_str) {
                            desired.insert(id.to_string(), Some(value.clone()));
                        }
                    }
                }
                ValuesChange::Remove(values) => {
                    for id in values.iter().filter_map(|v| v.get("value").and_then(Value::as_str)) {
                        desired.insert(id.to_string(), None);
                    }
                }
                ValuesChange::RemoveAll | ValuesChange::RemoveMatching(_) => {
                    if existing.is_none() {
                        existing = Some(self.members(tenant, group, MAX_MEMBER_SCAN).await?);
                    }
                    let current = existing.iter().flatten().chain(desired.values().flatten()).cloned().collect::<Vec<_>>();
                    for member in current {
                        let selected = match (&change.change, attribute) {
                            (ValuesChange::RemoveMatching(filter), Some(attribute)) => filter.matches_element(attribute, &member),
                            _ => true,
                        };
                        if selected && let Some(id) = member.get("value").and_then(Value::as_str) {
                            desired.insert(id.to_string(), None);
                        }
                    }
                }
            }
        }
        Ok(desired
            .into_iter()
            .filter_map(|(id, member)| match member {
                Some(member) => member_item(tenant, group, &member).map(|item| TransactOp::Put { item, condition: Condition::None }),
                None => Some(TransactOp::Delete { key: keys::membership(tenant, group, &id), condition: Condition::None }),
            })
            .collect())
    }

    /// The members of a group, page by page, or 400 `tooMany` past `cap`.
    pub(crate) async fn members(&self, tenant: &str, group: &str, cap: usize) -> Result<Vec<Value>> {
        let query = Query::partition(keys::resource_partition(tenant, group)).sort(SortKey::Prefix(keys::membership_prefix().into()));
        let items = self.collect(query, cap, "members of the group").await?;
        Ok(items.iter().map(member_value).collect())
    }

    /// The groups a user or group is a direct member of (the reverse index).
    pub(crate) async fn groups_of(&self, tenant: &str, member: &str) -> Result<Vec<Value>> {
        let items = self.collect(Query::index(GSI2, keys::member_of(tenant, member)), MAX_MEMBERS_IN_RESPONSE, "groups").await?;
        Ok(items
            .iter()
            .filter_map(|item| item.attrs.get(GSI2_SK).cloned())
            .map(|group| Value::Object(Map::from_iter([("value".to_string(), group)])))
            .collect())
    }

    /// Every item of a query, or 400 `tooMany` when there are more than `cap`.
    pub(crate) async fn collect(&self, query: Query, cap: usize, what: &str) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.store.query(&query.clone().after(cursor)).await?;
            items.extend(page.items);
            if items.len() > cap {
                return Err(Error::too_many(format!(
                    "more than {cap} {what} to examine: narrow the request (a filter on userName, externalId or displayName, excludedAttributes=members, or cursor pagination)"
                )));
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// Deletes every item a query returns, a page (one transaction) at a time. Pages
    /// follow the cursor rather than re-reading the first page: an index read on DynamoDB
    /// may still return items just deleted.
    pub(crate) async fn delete_all(&self, query: Query) -> Result<()> {
        let mut cursor = None;
        loop {
            let page = self.store.query(&query.clone().limit(PAGE).after(cursor)).await?;
            let ops: Vec<TransactOp> =
                page.items.into_iter().map(|item| TransactOp::Delete { key: item.key, condition: Condition::None }).collect();
            if !ops.is_empty() {
                self.run_batches(vec![ops]).await.map_err(|(_, e)| Error::from(e))?;
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// The keys of a resource's children (its members, its devices) and of the memberships
    /// naming it, when there are at most `room` in all: then they go into the delete's own
    /// transaction, all or nothing with the resource. `None` when there are more (then
    /// [`Self::delete_children`] pages through them first). The same three queries
    /// either way.
    pub(crate) async fn few_children(&self, tenant: &str, id: &str, room: usize) -> Result<Option<Vec<item_store::Key>>> {
        let partition = keys::resource_partition(tenant, id);
        let queries = [
            Query::partition(partition.clone()).sort(SortKey::Prefix(keys::membership_prefix().into())),
            Query::partition(partition).sort(SortKey::Prefix(keys::device_prefix().into())),
            Query::index(GSI2, keys::member_of(tenant, id)),
        ];
        // A group that is its own member shows up twice: each key once.
        let mut found = std::collections::BTreeSet::new();
        for query in queries {
            let page = self.store.query(&query.limit(PAGE)).await?;
            if page.cursor.is_some() {
                return Ok(None);
            }
            found.extend(page.items.into_iter().map(|item| item.key));
            if found.len() > room {
                return Ok(None);
            }
        }
        Ok(Some(found.into_iter().collect()))
    }

    /// Removes a resource's children and the memberships naming it (before the resource
    /// itself, so that a failure leaves a resource to delete again, not orphans).
    pub(crate) async fn delete_children(&self, tenant: &str, id: &str) -> Result<()> {
        let partition = keys::resource_partition(tenant, id);
        self.delete_all(Query::partition(partition.clone()).sort(SortKey::Prefix(keys::membership_prefix().into()))).await?;
        self.delete_all(Query::partition(partition).sort(SortKey::Prefix(keys::device_prefix().into()))).await?;
        self.delete_all(Query::index(GSI2, keys::member_of(tenant, id))).await
    }
}

/// A failed single put/delete reads like a canceled one-operation transaction, so callers
/// handle one shape.
fn single_to_canceled(error: item_store::StoreError) -> item_store::StoreError {
    match error {
        item_store::StoreError::ConditionFailed => {
            item_store::StoreError::TransactionCanceled { reasons: vec![Some(item_store::CancelReason::ConditionFailed)] }
        }
        other => other,
    }
}

/// Whether operation `index` of the failed batch failed its condition.
pub(crate) fn failed_at(error: &item_store::StoreError, index: usize) -> bool {
    matches!(error, item_store::StoreError::TransactionCanceled { reasons } if reasons.get(index).is_some_and(Option::is_some))
}

#[cfg(test)]
mod tests {
    use super::*;
    use item_store::Key;

    fn key_of(op: &TransactOp) -> &Key {
        op.key()
    }

    fn put(n: usize) -> TransactOp {
        TransactOp::Put { item: Item::new(Key::new("p", format!("{n}")), Attributes::new()), condition: Condition::None }
    }

    #[test]
    fn member_batches_take_ceil_k_over_100_transactions() {
        for (k, fixed, expected) in [(0, 1, 1), (5, 1, 1), (99, 1, 2), (100, 1, 3), (250, 1, 3), (1000, 1, 12), (199, 3, 3)] {
            let members: Vec<TransactOp> = (0..k).map(|n| put(n + 10)).collect();
            let fixed_ops: Vec<TransactOp> = (0..fixed).map(put).collect();
            let batches = batches(fixed_ops, members, Some(put(9_999_999)));
            let transactions = batches.iter().filter(|b| b.len() > 1).count();
            if fixed == 1 {
                assert!(transactions <= k.div_ceil(100).max(1), "k={k}: {transactions} transactions");
            }
            assert_eq!(batches.len(), expected, "k={k}");
            assert!(batches.iter().all(|b| b.len() <= MAX_TRANSACT_OPS));
            assert_eq!(key_of(&batches[0][0]).sk, "0", "fixed operations come first");
            assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), k + fixed + 1);
        }
    }
}
