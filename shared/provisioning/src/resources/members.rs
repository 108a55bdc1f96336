//! Group memberships: one item per (group, member), never a list inside the group item.
//!
//! - Adding and removing are idempotent puts and deletes, batched [`MAX_TRANSACT_OPS`] to a
//!   transaction, so adding k members costs ceil(k/100) transactions (see
//!   `storage::transaction::batches`).
//! - Member ids are not checked against the directory at write time: a check per member
//!   would double the operations per transaction. Isolation does not depend on it: a
//!   membership item lives under the group's tenant and is looked up only under that
//!   tenant, so a foreign id is an opaque string in this tenant's group, never a way to
//!   another tenant's data. Deleting a user or group removes the memberships naming it.
//! - A GET returns at most `Limits::max_members_in_response` members (else 400 `tooMany`:
//!   ask with `excludedAttributes=members`); remove-all and remove-by-filter examine at
//!   most [`MAX_MEMBER_SCAN`].

use std::collections::{BTreeMap, BTreeSet};

use item_store::{Attributes, Condition, GSI2, Item, ItemStore, Key, MAX_TRANSACT_OPS, Query, SortKey, TransactOp};
use scim::patch::{ApartChange, ValuesChange};
use scim::schema::GROUP_RESOURCE;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::service::{MAX_MEMBERS_IN_RESPONSE, Provisioning};
use crate::storage::keys::{self, GSI2_PK, GSI2_SK, MAX_KEY_VALUE_BYTES};
use crate::storage::paging;

/// The most members remove-all and remove-by-filter examine.
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

impl<S: ItemStore> Provisioning<S> {
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
        let items = paging::collect(&self.store, query, cap, "members of the group").await?;
        Ok(items.iter().map(member_value).collect())
    }

    /// The groups a user or group is a direct member of (the reverse index).
    pub(crate) async fn groups_of(&self, tenant: &str, member: &str) -> Result<Vec<Value>> {
        let items =
            paging::collect(&self.store, Query::index(GSI2, keys::member_of(tenant, member)), MAX_MEMBERS_IN_RESPONSE, "groups").await?;
        Ok(items
            .iter()
            .filter_map(|item| item.attrs.get(GSI2_SK).cloned())
            .map(|group| Value::Object(Map::from_iter([("value".to_string(), group)])))
            .collect())
    }

    /// The keys of a resource's children (its members, its devices) and of the memberships
    /// naming it, when there are at most `room` in all: then they go into the delete's own
    /// transaction, all or nothing with the resource. `None` when there are more (then
    /// [`Self::delete_children`] pages through them first). The same three queries
    /// either way.
    pub(crate) async fn few_children(&self, tenant: &str, id: &str, room: usize) -> Result<Option<Vec<Key>>> {
        let partition = keys::resource_partition(tenant, id);
        let queries = [
            Query::partition(partition.clone()).sort(SortKey::Prefix(keys::membership_prefix().into())),
            Query::partition(partition).sort(SortKey::Prefix(keys::device_prefix().into())),
            Query::index(GSI2, keys::member_of(tenant, id)),
        ];
        // A group that is its own member shows up twice: each key once.
        let mut found = BTreeSet::new();
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
        paging::delete_all(&self.store, Query::partition(partition.clone()).sort(SortKey::Prefix(keys::membership_prefix().into())))
            .await?;
        paging::delete_all(&self.store, Query::partition(partition).sort(SortKey::Prefix(keys::device_prefix().into()))).await?;
        paging::delete_all(&self.store, Query::index(GSI2, keys::member_of(tenant, id))).await
    }
}
