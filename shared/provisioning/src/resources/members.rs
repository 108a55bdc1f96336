//! Group memberships: one item per (group, member), never a list inside the group item.
//!
//! - Adding and removing are idempotent puts and deletes, batched [`MAX_TRANSACT_OPS`] to a
//!   transaction, so adding k members costs ceil(k/100) transactions (see
//!   `storage::transaction::batches`).
//! - An added member must exist and be reachable by the caller: the member's count is
//!   incremented in the membership's own transaction on that condition, so an unknown,
//!   deleted or hidden member cancels it (400, nothing written). Deleting a user or group
//!   removes the memberships naming it, counted against that same count.
//! - A GET returns at most `Limits::max_members_in_response` members (else 400 `tooMany`:
//!   ask with `excludedAttributes=members`); remove-all and remove-by-filter examine at
//!   most [`MAX_MEMBER_SCAN`].

use std::collections::BTreeMap;

use item_store::{Attributes, Condition, GSI2, Item, ItemStore, Key, Query, SortKey, TransactOp};
use scim::patch::{ApartChange, ValuesChange};
use scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::resources::record::MEMBER_OF;
use crate::service::{MAX_MEMBERS_IN_RESPONSE, Provisioning};
use crate::storage::keys::{self, GSI2_PK, GSI2_SK, MAX_KEY_VALUE_BYTES};
use crate::storage::paging;
use crate::tenancy::ownership::{Caller, reachable_sources};

/// The most members remove-all and remove-by-filter examine.
pub const MAX_MEMBER_SCAN: usize = 100_000;

/// The sub-attributes a membership keeps: `$ref` is derived from `type` and `value`.
const STORED_MEMBER_ATTRIBUTES: [&str; 3] = ["value", "display", "type"];

fn member_item(tenant: &str, group: &str, member: &Value) -> Option<Item> {
    let id = member.get("value")?.as_str()?;
    let mut attrs = Attributes::new();
    for name in STORED_MEMBER_ATTRIBUTES {
        if let Some(text) = member.get(name).and_then(Value::as_str) {
            attrs.insert(name.into(), text.into());
        }
    }
    attrs.insert(GSI2_PK.into(), keys::member_of(tenant, id).into());
    attrs.insert(GSI2_SK.into(), group.into());
    Some(Item::new(keys::membership(tenant, group, id), attrs))
}

fn member_value(item: &Item) -> Value {
    let mut member = Map::new();
    for name in STORED_MEMBER_ATTRIBUTES {
        if let Some(value) = item.attrs.get(name) {
            member.insert(name.into(), value.clone());
        }
    }
    let endpoint = match member.get("type").and_then(Value::as_str) {
        Some(kind) if kind.eq_ignore_ascii_case(USER_RESOURCE.name) => Some(USER_RESOURCE.endpoint),
        Some(kind) if kind.eq_ignore_ascii_case(GROUP_RESOURCE.name) => Some(GROUP_RESOURCE.endpoint),
        _ => None,
    };
    if let (Some(endpoint), Some(id)) = (endpoint, member.get("value").and_then(Value::as_str)) {
        member.insert("$ref".into(), Value::String(relative_ref(endpoint, id)));
    }
    Value::Object(member)
}

/// `$ref` relative to the SCIM base (`/Users/{id}`): the HTTP layer, which knows the
/// base URL, makes it absolute.
fn relative_ref(endpoint: &str, id: &str) -> String {
    format!("{endpoint}/{id}")
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

/// One membership added or removed, with the change to its member's count: the two go
/// in one transaction.
#[derive(Debug, Clone)]
pub(crate) struct MemberChange {
    pub(crate) member: String,
    pub(crate) added: bool,
    /// The member as stored (an add): for a recorded intent and for the write's answer.
    pub(crate) value: Value,
    membership: TransactOp,
    count: TransactOp,
}

impl MemberChange {
    /// Adding `member` to `group`, on the condition `naming` on the member (see
    /// [`naming_condition`]).
    pub(crate) fn add(tenant: &str, group: &str, member: &Value, naming: &Condition) -> Option<MemberChange> {
        let item = member_item(tenant, group, member)?;
        let id = item.attrs.get("value")?.as_str()?.to_string();
        Some(MemberChange {
            count: count_op(tenant, &id, 1, naming.clone()),
            member: id,
            added: true,
            value: member_value(&item),
            membership: TransactOp::Put { item, condition: Condition::Absent },
        })
    }

    pub(crate) fn remove(tenant: &str, group: &str, member: &str) -> MemberChange {
        MemberChange {
            member: member.to_string(),
            added: false,
            value: Value::Null,
            membership: TransactOp::Delete { key: keys::membership(tenant, group, member), condition: Condition::Present },
            count: count_op(tenant, member, -1, Condition::Present),
        }
    }

    pub(crate) fn ops(&self) -> [TransactOp; 2] {
        [self.membership.clone(), self.count.clone()]
    }

    /// The count's condition on the member alone, without writing anything.
    pub(crate) fn member_check(&self) -> TransactOp {
        TransactOp::Check { key: self.count.key().clone(), condition: self.count.condition().clone() }
    }
}

/// The member's count and version, changed with a membership naming it, only while
/// `condition` holds for the member: that is the existence check.
fn count_op(tenant: &str, member: &str, by: i64, condition: Condition) -> TransactOp {
    TransactOp::Increment {
        key: keys::resource(tenant, member),
        by: vec![(MEMBER_OF.to_string(), by), ("version".to_string(), 1)],
        condition,
    }
}

/// What a member added by `caller` must satisfy: it exists and, unless the caller
/// reaches every record, comes from a source the caller reaches (so that an integration
/// cannot name, or learn of, another integration's users).
pub(crate) fn naming_condition(caller: &Caller) -> Condition {
    match reachable_sources(caller) {
        None => Condition::Present,
        Some(sources) => {
            Condition::AttributeIn { name: "source".into(), values: sources.iter().map(|source| source.as_stored().to_string()).collect() }
        }
    }
}

fn self_member(group: &str) -> Error {
    Error::invalid_value(format!("a group cannot be a member of itself: remove \"{group}\" from members"))
}

pub(crate) fn unknown_member(member: &str) -> Error {
    Error::invalid_value(format!(
        "members value \"{member}\" is not a user or group of this tenant that the caller can reach: send the id of an existing user or group"
    ))
}

/// The members that `changes` add, as stored: what a create or replace answers.
pub(crate) fn added_members(changes: &[MemberChange]) -> Vec<Value> {
    changes.iter().filter(|change| change.added).map(|change| change.value.clone()).collect()
}

/// The changes by which `caller` adds `members` (deduplicated by id) to a group.
pub(crate) fn add_changes(caller: &Caller, group: &str, members: &[Value]) -> Result<Vec<MemberChange>> {
    check_member_ids(members)?;
    let naming = naming_condition(caller);
    let mut by_id = BTreeMap::new();
    for member in members {
        if let Some(change) = MemberChange::add(&caller.tenant, group, member, &naming) {
            if change.member == group {
                return Err(self_member(group));
            }
            by_id.insert(change.member.clone(), change);
        }
    }
    Ok(by_id.into_values().collect())
}

impl<S: ItemStore> Provisioning<S> {
    /// The membership changes carrying out a PATCH's (or PUT's) member changes on group
    /// `group`, in order: the last change to a member wins. Reads existing members only
    /// for remove-all and remove-by-filter.
    pub(crate) async fn membership_changes(&self, caller: &Caller, group: &str, changes: &[ApartChange]) -> Result<Vec<MemberChange>> {
        let tenant = caller.tenant.as_str();
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
                            if id == group {
                                return Err(self_member(group));
                            }
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
        let naming = naming_condition(caller);
        Ok(desired
            .into_iter()
            .filter_map(|(id, member)| match member {
                Some(member) => MemberChange::add(tenant, group, &member, &naming),
                None => Some(MemberChange::remove(tenant, group, &id)),
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
            .filter_map(|group| group.as_str().map(str::to_string))
            .map(|group| {
                let reference = relative_ref(GROUP_RESOURCE.endpoint, &group);
                json!({"value": group, "$ref": reference, "type": "direct"})
            })
            .collect())
    }

    /// The keys of the memberships naming `id` (in other groups), from the reverse index:
    /// it may lag on DynamoDB, which `delete` accounts for.
    pub(crate) async fn memberships_naming(&self, tenant: &str, id: &str) -> Result<Vec<Key>> {
        let items = paging::collect(&self.store, Query::index(GSI2, keys::member_of(tenant, id)), MAX_MEMBER_SCAN, "groups").await?;
        Ok(items.into_iter().map(|item| item.key).collect())
    }

    /// The removals emptying group `group` (its memberships, with their members' counts).
    pub(crate) async fn removals_of_all_members(&self, tenant: &str, group: &str) -> Result<Vec<MemberChange>> {
        let members = self.members(tenant, group, MAX_MEMBER_SCAN).await?;
        Ok(members
            .iter()
            .filter_map(|m| m.get("value").and_then(Value::as_str))
            .map(|id| MemberChange::remove(tenant, group, id))
            .collect())
    }
}
