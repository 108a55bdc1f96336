//! The one SCIM service for every resource type: create, get, replace, patch, delete and
//! list, parametrised by a [`TypeDescriptor`]. Users and groups differ only by their
//! descriptor (unique attribute, MFA state, members stored apart).
//!
//! Every write is one transaction holding the resource (conditional on its version or
//! absence), its uniqueness item (so uniqueness is enforced by the store, never
//! read-then-write), the seat counter (users) and the log entry; member changes follow
//! in batches of 100 (see `members`).

use item_store::{Condition, ItemStore, Key, MAX_TRANSACT_OPS, Query, TransactOp};
use scim::etag::check_if_match;
use scim::list::{ListQuery, ListResponse, page, sort};
use scim::patch::{ApartChange, PatchRequest, ValuesChange, apply_patch};
use scim::projection::AttributeSelection;
use scim::resource::{prepare_create, prepare_replace};
use scim::{ScimError, ScimType};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::keys::{self, MAX_KEY_VALUE_BYTES};
use crate::log::LogOperation;
use crate::members::{self, batches, failed_at};
use crate::mfa::MfaState;
use crate::ownership::{Caller, Decision, Operation, decide, reachable};
use crate::plan::{Plan, encode_cursor, plan, unbind};
use crate::record::{Record, unique_value, work_email};
use crate::seats::{MAX_COUNTER_RETRIES, backoff, contended};
use crate::secrets::new_id;
use crate::service::Provisioning;
use crate::types::TypeDescriptor;

/// The most store pages one cursor page reads.
const MAX_CURSOR_ROUNDS: usize = 64;

/// Ids are server-generated uuids; anything much longer cannot be one of ours.
const MAX_ID_LEN: usize = 128;

/// The result of a write.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The resource as stored, with `id` and `meta` (members of a group are not read back;
    /// a GET returns them).
    pub resource: Value,
    pub version: u64,
    /// 201 rather than 200.
    pub created: bool,
    /// The write took over a manually provisioned record.
    pub claimed: bool,
}

/// Positions of the fixed operations of a write, to read a canceled transaction: the
/// resource, then its uniqueness item, then (user creates in a tenant with a seat limit)
/// the seat counter.
const RESOURCE_OP: usize = 0;
const UNIQUENESS_OP: usize = 1;
const SEAT_OP: usize = 2;

/// The most operations a delete's transaction holds besides the children it removes: the
/// resource, its uniqueness item, the outbox item and the seat counter (users), the log.
const MAX_DELETE_FIXED_OPS: usize = 5;

/// Attributes stored apart (a group's `members`) taken out of a prepared resource.
fn take_apart(descriptor: &TypeDescriptor, resource: &mut Value) -> Vec<Value> {
    let mut taken = Vec::new();
    if let Value::Object(fields) = resource {
        for name in descriptor.resource_type.stored_apart {
            if let Some(Value::Array(values)) = fields.remove(*name) {
                taken.extend(values);
            }
        }
    }
    taken
}

/// Values that become part of keys must fit in one.
fn check_key_values(descriptor: &TypeDescriptor, resource: &Value) -> Result<()> {
    let values = [
        (descriptor.unique, unique_value(descriptor, resource)),
        ("externalId", resource.get("externalId").and_then(Value::as_str)),
        ("emails[type eq \"work\"].value", work_email(resource)),
    ];
    for (name, value) in values {
        if let Some(value) = value
            && value.len() > MAX_KEY_VALUE_BYTES
        {
            return Err(Error::invalid_value(format!("{name} is {} bytes long; at most {MAX_KEY_VALUE_BYTES} are accepted", value.len())));
        }
    }
    Ok(())
}

fn required_unique<'a>(descriptor: &TypeDescriptor, resource: &'a Value) -> Result<&'a str> {
    unique_value(descriptor, resource).ok_or_else(|| {
        Error::invalid_value(format!("{} is required: give the {} a {}", descriptor.unique, descriptor.name(), descriptor.unique))
    })
}

fn is_active(resource: &Value) -> bool {
    resource.get("active").and_then(Value::as_bool) != Some(false)
}

/// Names of the attributes a create or replace sets, for the log.
fn attribute_names(resource: &Value, apart: &[Value], descriptor: &TypeDescriptor) -> Vec<String> {
    let mut names: Vec<String> = resource.as_object().map(|o| o.keys().filter(|k| *k != "schemas").cloned().collect()).unwrap_or_default();
    if !apart.is_empty() {
        names.extend(descriptor.resource_type.stored_apart.iter().map(|n| n.to_string()));
    }
    names
}

fn taken(descriptor: &TypeDescriptor, value: &str, reason: &str) -> Error {
    Error::conflict(format!("{} \"{value}\" is already taken (case-insensitively): {reason}", descriptor.unique))
}

fn not_found(descriptor: &TypeDescriptor, id: &str) -> Error {
    Error::not_found(format!("no {} with id \"{id}\"", descriptor.name()))
}

/// Whether a response includes an attribute that costs extra reads (members, groups):
/// when the selection wants it, and, unless `by_default`, only when the client chose
/// attributes explicitly (so Entra's plain match query stays one round trip).
fn loads(selection: &AttributeSelection, descriptor: &TypeDescriptor, attribute: &str, by_default: bool) -> bool {
    selection.wants(descriptor.resource_type, attribute) && (by_default || *selection != AttributeSelection::default())
}

impl<S: ItemStore> Provisioning<S> {
    // ---- reads ----

    /// The record with this id if it is of this type and the caller may reach it for
    /// `operation` (others are 404, so their existence is not revealed).
    async fn load(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, operation: Operation) -> Result<Record> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(not_found(descriptor, id));
        }
        let item = self.store.get(&keys::resource(&caller.tenant, id)).await?.ok_or_else(|| not_found(descriptor, id))?;
        let record = Record::from_item(&item)?;
        let visible = match operation {
            Operation::Read => decide(caller, &record.source, Operation::Read) != Decision::Hidden,
            _ => reachable(caller, &record.source),
        };
        if record.type_name != descriptor.name() || !visible {
            return Err(not_found(descriptor, id));
        }
        Ok(record)
    }

    /// GET by id: one read; a group's members are read page by page when the selection
    /// wants them (never with `excludedAttributes=members`); a user's `groups` only
    /// when asked for explicitly.
    pub async fn get(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, selection: &AttributeSelection) -> Result<Value> {
        let record = self.load(caller, descriptor, id, Operation::Read).await?;
        let mut resource = record.to_scim();
        self.enrich(caller, descriptor, &mut resource, selection, true).await?;
        Ok(selection.project(descriptor.resource_type, &resource))
    }

    async fn enrich(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        resource: &mut Value,
        selection: &AttributeSelection,
        single: bool,
    ) -> Result<()> {
        let Some(id) = resource.get("id").and_then(Value::as_str).map(str::to_string) else { return Ok(()) };
        let mut extra = Vec::new();
        if descriptor.resource_type.stored_apart.contains(&"members") && loads(selection, descriptor, "members", single) {
            extra.push(("members", self.members(&caller.tenant, &id, self.limits.max_members_in_response).await?));
        }
        if descriptor.is_user && loads(selection, descriptor, "groups", false) {
            extra.push(("groups", self.groups_of(&caller.tenant, &id).await?));
        }
        if let Value::Object(fields) = resource {
            for (name, values) in extra.into_iter().filter(|(_, values)| !values.is_empty()) {
                fields.insert(name.to_string(), Value::Array(values));
            }
        }
        Ok(())
    }

    // ---- create ----

    /// POST. 201 with a new id; or, for a create whose unique attribute matches a
    /// manually provisioned record and an integration with *include manually provisioned
    /// users*, 201 with the existing id and the request's attributes (a claim); else 409.
    pub async fn create(&self, caller: &Caller, descriptor: &TypeDescriptor, body: &Value) -> Result<Written> {
        let result = self.try_create(caller, descriptor, body).await;
        self.logged(caller, LogOperation::Create, descriptor.name(), None, result).await
    }

    async fn try_create(&self, caller: &Caller, descriptor: &TypeDescriptor, body: &Value) -> Result<Written> {
        let mut resource = prepare_create(descriptor.resource_type, body)?;
        let apart = take_apart(descriptor, &mut resource);
        check_key_values(descriptor, &resource)?;
        let unique = required_unique(descriptor, &resource)?.to_string();
        let now = rfc3339(self.clock.now());
        let changed = attribute_names(&resource, &apart, descriptor);
        let id = new_id();
        // Only users provisioned by an integration that sends enrollment emails get one;
        // one without an address is marked so, so that it shows in the admin API and log.
        let enrollment = if descriptor.is_user { Some(self.enrollment_plan(caller, &id, &resource, None)?) } else { None };
        let outbox = enrollment.as_ref().and_then(|plan| plan.outbox.clone());
        let enrollment_email = enrollment.as_ref().and_then(|plan| plan.marker);
        let record = Record {
            id,
            type_name: descriptor.name().to_string(),
            version: 1,
            mfa: descriptor.is_user.then(|| MfaState { enrollment_email, ..MfaState::new().with_active(is_active(&resource)) }),
            resource,
            created: now.clone(),
            last_modified: now,
            source: caller.source(),
        };
        let tenant = &caller.tenant;
        let uniqueness = keys::uniqueness(tenant, descriptor.name(), &unique);
        let mut unique_attrs = item_store::Attributes::new();
        unique_attrs.insert("id".into(), record.id.clone().into());
        for attempt in 0..MAX_COUNTER_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let mut fixed = vec![
                TransactOp::Put { item: record.checked_item(tenant, descriptor)?, condition: Condition::Absent },
                TransactOp::Put { item: item_store::Item::new(uniqueness.clone(), unique_attrs.clone()), condition: Condition::Absent },
            ];
            if descriptor.is_user {
                match self.seats_for_attempt(tenant, attempt).await?.take(tenant) {
                    Ok(op) => fixed.push(op),
                    // At the limit, a create that claims an existing record still succeeds
                    // (claims take no seat): look for the collision first.
                    Err(limit) => {
                        return match self.store.get(&uniqueness).await? {
                            Some(_) => self.create_collision(caller, descriptor, body, &unique, &uniqueness).await,
                            None => Err(limit),
                        };
                    }
                }
            }
            fixed.extend(outbox.clone());
            let member_ops = members::add_ops(tenant, &record.id, &apart)?;
            let mut log = self.log_item(caller, LogOperation::Create, descriptor.name(), Some(&record.id), Ok(&changed));
            if let Some(plan) = &enrollment {
                plan.annotate_log(&mut log);
            }
            let log_op = TransactOp::Put { item: log, condition: Condition::Absent };
            match self.run_batches(batches(fixed, member_ops, Some(log_op))).await {
                Ok(()) => return Ok(Written { resource: record.to_scim(), version: 1, created: true, claimed: false }),
                Err((0, error)) if failed_at(&error, UNIQUENESS_OP) => {
                    return self.create_collision(caller, descriptor, body, &unique, &uniqueness).await;
                }
                Err((0, error)) if descriptor.is_user && failed_at(&error, SEAT_OP) => continue,
                Err((_, error)) => return Err(error.into()),
            }
        }
        Err(contended())
    }

    /// A create collided with an existing record: claim it or answer 409.
    async fn create_collision(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        body: &Value,
        unique: &str,
        uniqueness: &Key,
    ) -> Result<Written> {
        let gone = || taken(descriptor, unique, "the existing record is being changed; retry");
        let holder = self.store.get(uniqueness).await?.ok_or_else(gone)?;
        let id = holder.attrs.get("id").and_then(Value::as_str).ok_or_else(gone)?.to_string();
        let item = self.store.get(&keys::resource(&caller.tenant, &id)).await?.ok_or_else(gone)?;
        let record = Record::from_item(&item)?;
        match decide(caller, &record.source, Operation::CreateCollision) {
            Decision::Claim => self.claim(caller, descriptor, record, body).await,
            Decision::Conflict(reason) => Err(taken(descriptor, unique, &reason)),
            _ => Err(taken(descriptor, unique, "a record with this name exists")),
        }
    }

    /// Takes over a manual record with the attributes of a create: same id, request's
    /// attributes, MFA state (devices, enrollment) kept, source := the integration.
    async fn claim(&self, caller: &Caller, descriptor: &TypeDescriptor, record: Record, body: &Value) -> Result<Written> {
        let mut resource = prepare_replace(descriptor.resource_type, &record.resource, body)?;
        let apart = take_apart(descriptor, &mut resource);
        // Added, not replaced: the claimed group keeps its members.
        let member_ops = members::add_ops(&caller.tenant, &record.id, &apart)?;
        let changed = attribute_names(&resource, &apart, descriptor);
        let mut written = self.commit(caller, descriptor, record, resource, member_ops, changed, true, None, LogOperation::Claim).await?;
        written.created = true;
        written.claimed = true;
        Ok(written)
    }

    // ---- replace and patch ----

    /// PUT: the request's attributes replace the resource's (members too, for groups).
    pub async fn replace(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Written> {
        let result = again_after_lost_races(if_match, || self.try_replace(caller, descriptor, id, body, if_match)).await;
        self.logged(caller, LogOperation::Replace, descriptor.name(), Some(id), result).await
    }

    async fn try_replace(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Written> {
        let record = self.load(caller, descriptor, id, Operation::Write { changes: true }).await?;
        check_if_match(if_match, record.version)?;
        let mut resource = prepare_replace(descriptor.resource_type, &record.resource, body)?;
        let apart = take_apart(descriptor, &mut resource);
        let mut changes = Vec::new();
        if !descriptor.resource_type.stored_apart.is_empty() {
            changes.push(ApartChange { attribute: "members", change: ValuesChange::RemoveAll });
            if !apart.is_empty() {
                changes.push(ApartChange { attribute: "members", change: ValuesChange::Add(apart.clone()) });
            }
        }
        // PUT replaces the members too: the existing ones are read to know what to remove
        // (and whether anything changes at all).
        let member_ops = if changes.is_empty() { Vec::new() } else { self.membership_ops(&caller.tenant, &record.id, &changes).await? };
        let changed = attribute_names(&resource, &apart, descriptor);
        let modifies = resource != record.resource || !member_ops.is_empty();
        self.write(caller, descriptor, record, resource, member_ops, changed, modifies, if_match, LogOperation::Replace).await
    }

    /// PATCH: one read, then one transaction (plus member batches). A PATCH that changes
    /// nothing writes nothing, keeps the version and claims nothing.
    pub async fn patch(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Written> {
        // A PATCH that lost the race for the version without If-Match (a concurrent PATCH
        // adding other members, say) is applied again to the newer version.
        let result = again_after_lost_races(if_match, || self.try_patch(caller, descriptor, id, body, if_match)).await;
        self.logged(caller, LogOperation::Patch, descriptor.name(), Some(id), result).await
    }

    async fn try_patch(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Written> {
        let request = PatchRequest::from_json(body)?;
        let record = self.load(caller, descriptor, id, Operation::Write { changes: true }).await?;
        check_if_match(if_match, record.version)?;
        let mut resource = record.resource.clone();
        let outcome = apply_patch(descriptor.resource_type, &mut resource, &request)?;
        let modifies = outcome.changed || !outcome.apart.is_empty();
        let member_ops =
            if outcome.apart.is_empty() { Vec::new() } else { self.membership_ops(&caller.tenant, &record.id, &outcome.apart).await? };
        self.write(caller, descriptor, record, resource, member_ops, outcome.changed_attributes, modifies, if_match, LogOperation::Patch)
            .await
    }

    /// Applies the ownership rules to a replace or patch, then commits it (or not, when
    /// it changes nothing).
    #[allow(clippy::too_many_arguments)]
    async fn write(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        record: Record,
        resource: Value,
        member_ops: Vec<TransactOp>,
        changed: Vec<String>,
        modifies: bool,
        if_match: Option<&str>,
        operation: LogOperation,
    ) -> Result<Written> {
        let claim = match decide(caller, &record.source, Operation::Write { changes: modifies }) {
            Decision::Allow => false,
            Decision::Claim => true,
            Decision::Hidden => return Err(not_found(descriptor, &record.id)),
            Decision::Forbidden(reason) | Decision::Conflict(reason) => return Err(Error::Forbidden(reason)),
        };
        if !modifies {
            return Ok(Written { resource: record.to_scim(), version: record.version, created: false, claimed: false });
        }
        check_key_values(descriptor, &resource)?;
        required_unique(descriptor, &resource)?;
        self.commit(caller, descriptor, record, resource, member_ops, changed, claim, if_match, operation).await
    }

    /// Writes a new version of `record`: the resource conditional on the version read,
    /// the uniqueness items on a rename, the log entry, then member batches.
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        record: Record,
        resource: Value,
        member_ops: Vec<TransactOp>,
        changed: Vec<String>,
        claim: bool,
        if_match: Option<&str>,
        operation: LogOperation,
    ) -> Result<Written> {
        let tenant = &caller.tenant;
        let old_unique = record.unique_value(descriptor).map(keys::fold);
        let new_unique = unique_value(descriptor, &resource).map(str::to_string);
        // The first claim of a user that was never queued an email queues one, as a create
        // would (the record was new to this integration).
        let enrollment = match (&record.mfa, claim && descriptor.is_user) {
            (Some(mfa), true) => Some(self.enrollment_plan(caller, &record.id, &resource, Some(mfa))?),
            _ => None,
        };
        let active = is_active(&resource);
        let updated = Record {
            version: record.version + 1,
            last_modified: rfc3339(self.clock.now()),
            source: if claim { caller.source() } else { record.source.clone() },
            mfa: record.mfa.map(|mfa| MfaState {
                enrollment_email: enrollment.as_ref().map_or(mfa.enrollment_email, |plan| plan.marker),
                ..mfa.with_active(active)
            }),
            resource,
            ..record.clone()
        };
        let mut fixed =
            vec![TransactOp::Put { item: updated.checked_item(tenant, descriptor)?, condition: Condition::VersionEquals(record.version) }];
        fixed.extend(enrollment.as_ref().and_then(|plan| plan.outbox.clone()));
        let mut unique_op = None;
        if let Some(new_unique) = &new_unique
            && old_unique.as_deref() != Some(keys::fold(new_unique).as_str())
        {
            if let Some(old) = &old_unique {
                fixed.push(TransactOp::Delete { key: keys::uniqueness(tenant, descriptor.name(), old), condition: Condition::None });
            }
            let mut attrs = item_store::Attributes::new();
            attrs.insert("id".into(), record.id.clone().into());
            unique_op = Some(fixed.len());
            fixed.push(TransactOp::Put {
                item: item_store::Item::new(keys::uniqueness(tenant, descriptor.name(), new_unique), attrs),
                condition: Condition::Absent,
            });
        }
        let mut log = self.log_item(caller, operation, descriptor.name(), Some(&record.id), Ok(&changed));
        if let Some(plan) = &enrollment {
            plan.annotate_log(&mut log);
        }
        let log_op = TransactOp::Put { item: log, condition: Condition::Absent };
        match self.run_batches(batches(fixed, member_ops, Some(log_op))).await {
            Ok(()) => Ok(Written { resource: updated.to_scim(), version: updated.version, created: false, claimed: claim }),
            Err((0, error)) if unique_op.is_some_and(|index| failed_at(&error, index)) => {
                Err(taken(descriptor, new_unique.as_deref().unwrap_or_default(), "another record has it"))
            }
            Err((0, error)) if failed_at(&error, RESOURCE_OP) => Err(version_conflict(if_match, descriptor, &record.id)),
            Err((_, error)) => Err(error.into()),
        }
    }

    // ---- delete ----

    /// DELETE: the resource with its devices and memberships (paged), its uniqueness item
    /// and (users) its seat.
    pub async fn delete(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, if_match: Option<&str>) -> Result<()> {
        let result = again_after_lost_races(if_match, || self.try_delete(caller, descriptor, id, if_match)).await;
        self.logged(caller, LogOperation::Delete, descriptor.name(), Some(id), result).await
    }

    async fn try_delete(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, if_match: Option<&str>) -> Result<()> {
        let record = self.load(caller, descriptor, id, Operation::Delete).await?;
        match decide(caller, &record.source, Operation::Delete) {
            Decision::Allow | Decision::Claim => {}
            Decision::Hidden => return Err(not_found(descriptor, id)),
            Decision::Forbidden(reason) | Decision::Conflict(reason) => return Err(Error::Forbidden(reason)),
        }
        check_if_match(if_match, record.version)?;
        let tenant = &caller.tenant;
        // Few children (the usual user in a few groups) are deleted in the resource's own
        // transaction, so a failed delete leaves everything as it was; many are deleted a
        // page at a time first (a failure then leaves the resource with fewer children, and
        // the retried DELETE finishes the job).
        let children = match self.few_children(tenant, id, MAX_TRANSACT_OPS - MAX_DELETE_FIXED_OPS).await? {
            Some(children) => children,
            None => {
                self.delete_children(tenant, id).await?;
                Vec::new()
            }
        };
        for attempt in 0..MAX_COUNTER_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let mut ops = vec![TransactOp::Delete { key: keys::resource(tenant, id), condition: Condition::VersionEquals(record.version) }];
            if let Some(unique) = record.unique_value(descriptor) {
                ops.push(TransactOp::Delete { key: keys::uniqueness(tenant, descriptor.name(), unique), condition: Condition::None });
            }
            if descriptor.is_user {
                // An unsent enrollment email goes with its user (and a sent one's link
                // state, which no longer has a user to enroll).
                ops.push(TransactOp::Delete { key: keys::outbox(tenant, id), condition: Condition::None });
            }
            let seat_op = ops.len();
            if descriptor.is_user {
                ops.push(self.seats_for_attempt(tenant, attempt).await?.release(tenant));
            }
            let log = self.log_item(caller, LogOperation::Delete, descriptor.name(), Some(id), Ok(&[]));
            ops.push(TransactOp::Put { item: log, condition: Condition::Absent });
            ops.extend(children.iter().map(|key| TransactOp::Delete { key: key.clone(), condition: Condition::None }));
            match self.store.transact(ops).await {
                Ok(()) => return Ok(()),
                Err(error) if failed_at(&error, RESOURCE_OP) => return Err(version_conflict(if_match, descriptor, id)),
                Err(error) if descriptor.is_user && failed_at(&error, seat_op) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(contended())
    }

    // ---- list ----

    /// GET on the type's endpoint, or `POST /.search`: filter planned into key or index
    /// lookups when possible (see `plan`), index pagination (`startIndex`/`count`) over
    /// at most `Limits::max_examined` items, or cursor pagination (RFC 9865) at O(page).
    pub async fn list(&self, caller: &Caller, descriptor: &TypeDescriptor, query: &ListQuery) -> Result<ListResponse> {
        let resource_type = descriptor.resource_type;
        if let Some(filter) = &query.filter {
            filter.validate(resource_type)?;
        }
        let plan = plan(&caller.tenant, descriptor, query.filter.as_ref());
        let keep = |record: &Record| -> Option<Value> {
            let visible = record.type_name == descriptor.name() && decide(caller, &record.source, Operation::Read) == Decision::Allow;
            let resource = record.to_scim();
            let matches = query.filter.as_ref().is_none_or(|filter| filter.matches(resource_type, &resource));
            (visible && matches).then_some(resource)
        };
        let mut response = match (&query.cursor, &plan) {
            (_, Plan::Nothing) => {
                let mut response = page(Vec::new(), query.start_index, query.count);
                if query.cursor.is_some() {
                    response.start_index = None;
                }
                response
            }
            (_, Plan::ById(id)) => {
                let found = match id.len() {
                    1..=MAX_ID_LEN => self.store.get(&keys::resource(&caller.tenant, id)).await?,
                    _ => None,
                };
                let matching = found.map(|item| Record::from_item(&item)).transpose()?.and_then(|r| keep(&r)).into_iter().collect();
                let mut response = page(matching, query.start_index, query.count);
                if query.cursor.is_some() {
                    response.start_index = None;
                }
                response
            }
            (None, Plan::Lookup(store_query) | Plan::Walk(store_query)) => {
                let items = self.collect(store_query.clone(), self.limits.max_examined, "resources").await?;
                let mut matching = Vec::new();
                for item in &items {
                    if let Some(resource) = keep(&Record::from_item(item)?) {
                        matching.push(resource);
                    }
                }
                if let Some(sort_by) = &query.sort_by {
                    sort(resource_type, &mut matching, sort_by, query.sort_order);
                }
                page(matching, query.start_index, query.count)
            }
            (Some(cursor), Plan::Lookup(store_query) | Plan::Walk(store_query)) => {
                if query.sort_by.is_some() {
                    return Err(Error::Scim(ScimError::invalid_value(format!(
                        "sortBy cannot be combined with cursor pagination: cursor pages come in {} order",
                        descriptor.unique
                    ))));
                }
                self.cursor_page(store_query, cursor, query, keep).await?
            }
        };
        for resource in &mut response.resources {
            self.enrich(caller, descriptor, resource, &query.selection, false).await?;
            *resource = query.selection.project(resource_type, resource);
        }
        Ok(response)
    }

    /// One cursor page: store pages of at most the missing count, until the page is full,
    /// the listing ends, or `Limits::max_examined` items were examined (a short page with a
    /// `nextCursor` is allowed by RFC 9865).
    async fn cursor_page(
        &self,
        store_query: &Query,
        cursor: &scim::list::CursorRequest,
        query: &ListQuery,
        keep: impl Fn(&Record) -> Option<Value>,
    ) -> Result<ListResponse> {
        let mut position = match cursor {
            scim::list::CursorRequest::First => None,
            scim::list::CursorRequest::Resume(bytes) => Some(unbind(bytes, &store_query.pk)?),
        };
        let mut resources = Vec::new();
        let mut examined = 0usize;
        let mut exhausted = query.count == 0;
        // Rounds are bounded too: a store may answer an empty page with a cursor.
        let mut rounds = 0;
        while !exhausted && resources.len() < query.count && examined < self.limits.max_examined && rounds < MAX_CURSOR_ROUNDS {
            rounds += 1;
            let missing = u32::try_from(query.count - resources.len()).unwrap_or(u32::MAX);
            let page = self.store.query(&store_query.clone().limit(missing).after(position.take())).await?;
            examined += page.items.len();
            for item in &page.items {
                if let Some(resource) = keep(&Record::from_item(item)?) {
                    resources.push(resource);
                }
            }
            exhausted = page.cursor.is_none();
            position = page.cursor;
        }
        let next_cursor = position.map(|item_store::Cursor(bytes)| encode_cursor(query.fingerprint(), &store_query.pk, &bytes));
        Ok(ListResponse {
            total_results: None,
            items_per_page: resources.len(),
            resources,
            start_index: None,
            next_cursor,
            previous_cursor: None,
        })
    }
}

/// Whether a write without If-Match failed only because a concurrent write changed the
/// resource's version between its read and its conditional write (then nothing of it was
/// written, and it can be applied again to the newer version).
/// Runs `attempt` again (with backoff) while it lost the race for the resource's version
/// and the client sent no `If-Match`: the client asked for no particular version, and
/// nothing of the losing attempt was written. With `If-Match` the 412 stands.
async fn again_after_lost_races<T, F, Fut>(if_match: Option<&str>, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut result = attempt().await;
    for retry in 1..MAX_COUNTER_RETRIES {
        let lost = if_match.is_none() && matches!(&result, Err(Error::Scim(e)) if e.scim_type == Some(ScimType::InvalidVers));
        if !lost {
            break;
        }
        backoff(retry).await;
        result = attempt().await;
    }
    result
}

fn version_conflict(if_match: Option<&str>, descriptor: &TypeDescriptor, id: &str) -> Error {
    match if_match {
        Some(header) => Error::Scim(ScimError::precondition_failed(format!(
            "If-Match {header} no longer matches: the {} {id} was changed concurrently; read it again",
            descriptor.name()
        ))),
        None => Error::Scim(ScimError::new(
            409,
            Some(ScimType::InvalidVers),
            format!("the {} {id} was changed concurrently; read it again and retry", descriptor.name()),
        )),
    }
}
