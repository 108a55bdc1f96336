//! Create (`POST`): a new resource in one transaction with its uniqueness claim, seat,
//! enrollment email and log entry, or, on a collision with a manually provisioned record
//! and an integration that may claim it, a claim of that record.

use item_store::{Condition, ItemStore, Key, TransactOp};
use scim::resource::{prepare_create, prepare_replace};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::error::Result;
use crate::log::{LogOperation, name_log};
use crate::mfa::state::MfaState;
use crate::resources::answers::{Written, taken};
use crate::resources::attributes::is_active;
use crate::resources::counts::count_change;
use crate::resources::group_names::{LegacyName, claim_for, claim_item, legacy_claim, name_sharing};
use crate::resources::member_batches::needs_intent;
use crate::resources::members;
use crate::resources::record::Record;
use crate::resources::types::TypeDescriptor;
use crate::resources::update::NewVersion;
use crate::resources::validate::{attribute_names, check_key_values, required_unique, take_apart};
use crate::service::Provisioning;
use crate::storage::ids::new_id;
use crate::storage::keys;
use crate::storage::retry::{MAX_RETRIES, backoff, contended};
use crate::storage::transaction::Transaction;
use crate::tenancy::ownership::{Caller, Decision, Operation, Source, decide};
use crate::tenancy::seats::COUNTER;

impl<S: ItemStore> Provisioning<S> {
    /// POST. 201 with a new id; or, for a create whose unique attribute matches a
    /// manually provisioned record and an integration with *include manually provisioned
    /// users*, 201 with the existing id and the request's attributes (a claim); else 409.
    pub async fn create(&self, caller: &Caller, descriptor: &TypeDescriptor, body: &Value) -> Result<Written> {
        let result = self.try_create(caller, descriptor, body).await;
        let name = body.get(descriptor.unique).and_then(Value::as_str);
        self.logged_named(caller, LogOperation::Create, descriptor, name, result).await
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
        // one created suspended or without an address is marked so, so that it shows in
        // the admin API and log (and is mailed when restored, or when the address comes).
        let mfa = MfaState::new().with_active(is_active(&resource));
        let enrollment = if descriptor.is_user { Some(self.enrollment_plan(caller, &id, &resource, &mfa, None)?) } else { None };
        let outbox = enrollment.as_ref().and_then(|plan| plan.outbox.clone());
        let enrollment_email = enrollment.as_ref().and_then(|plan| plan.marker);
        let changes = members::add_changes(caller, &id, &apart)?;
        let record = Record {
            pending_members: needs_intent(changes.len()),
            id,
            type_name: descriptor.name().to_string(),
            version: 1,
            mfa: descriptor.is_user.then_some(MfaState { enrollment_email, ..mfa }),
            resource,
            created: now.clone(),
            last_modified: now,
            source: caller.source(),
            member_of: Some(0),
            owner_scoped_name: !descriptor.is_user,
        };
        let tenant = &caller.tenant;
        let uniqueness = claim_for(tenant, descriptor, &record.source, &unique);
        // A group's name is its owner's; one that may claim manual groups collides with a
        // manual group of that name too (Entra's create claims it, as for users).
        let sharing = name_sharing(caller, descriptor);
        let manual_claim = (sharing.len() > 1).then(|| keys::group_name(tenant, Source::Manual.as_stored(), &unique));
        for attempt in 0..MAX_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let mut transaction = Transaction::new();
            transaction.push(TransactOp::Put { item: record.checked_item(tenant, descriptor)?, condition: Condition::Absent });
            for alias in record.work_email_alias_items(tenant, descriptor) {
                transaction.push(TransactOp::Put { item: alias, condition: Condition::None });
            }
            let unique_op =
                transaction.push(TransactOp::Put { item: claim_item(uniqueness.clone(), &record.id), condition: Condition::Absent });
            let manual_op = manual_claim.clone().map(|key| transaction.push(TransactOp::Check { key, condition: Condition::Absent }));
            let legacy_op = (!descriptor.is_user)
                .then(|| transaction.push(TransactOp::Check { key: legacy_claim(tenant, &unique), condition: Condition::Absent }));
            let mut seat_op = None;
            if descriptor.is_user {
                let seats = self.seats_for_attempt(tenant, attempt).await?;
                match seats.take(tenant) {
                    Ok(op) => {
                        seat_op = Some(transaction.push(op));
                        if let Some(threshold) = seats.crossed_by_taking_one() {
                            transaction.push(TransactOp::Put {
                                item: self.seats_log_item(caller, &seats, threshold),
                                condition: Condition::Absent,
                            });
                        }
                    }
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
            transaction.extend(outbox.clone());
            transaction.push(count_change(tenant, descriptor, 1));
            let mut log = self.log_item(caller, LogOperation::Create, descriptor.name(), Some(&record.id), Ok(&changed));
            name_log(&mut log, descriptor, Some(&unique));
            if let Some(plan) = &enrollment {
                plan.annotate_log(&mut log);
            }
            transaction.push(TransactOp::Put { item: log, condition: Condition::Absent });
            match self.commit_with_members(tenant, &record.id, transaction, changes.clone()).await? {
                Ok(()) => {
                    let members = descriptor.resource_type.stored_apart.contains(&"members").then(|| members::added_members(&changes));
                    return Ok(Written { resource: record.to_scim(), version: 1, created: true, claimed: false, members });
                }
                Err(failed) if failed.at(unique_op) => {
                    return self.create_collision(caller, descriptor, body, &unique, &uniqueness).await;
                }
                Err(failed) if manual_op.is_some_and(|op| failed.at(op)) => {
                    let manual = manual_claim.as_ref().unwrap_or(&uniqueness);
                    return self.create_collision(caller, descriptor, body, &unique, manual).await;
                }
                Err(failed) if legacy_op.is_some_and(|op| failed.at(op)) => match self.legacy_name(tenant, &unique, &sharing).await? {
                    LegacyName::Collides(legacy) => return self.create_collision(caller, descriptor, body, &unique, &legacy).await,
                    LegacyName::Again => continue,
                },
                Err(failed) if seat_op.is_some_and(|op| failed.at(op)) => continue,
                Err(failed) => return Err(failed.into()),
            }
        }
        Err(contended(COUNTER))
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
        let mut record = Record::from_item(&item)?;
        // A record of a deleted integration is manual: claimable.
        record.source = self.live_source(&caller.tenant, &record.source).await?;
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
        let member_changes = members::add_changes(caller, &record.id, &apart)?;
        let changed = attribute_names(&resource, &apart, descriptor);
        let version = NewVersion { record, resource, member_changes, changed, operation: LogOperation::Create, members_after: None };
        let mut written = self.commit(caller, descriptor, version, true, None).await?;
        written.created = true;
        written.claimed = true;
        // A claimed group keeps its members besides the request's: a create must answer
        // the resource (no 204), so they are read, up to what a GET would show. The claim
        // is committed: past that cap, or if the read fails, the answer goes without them
        // rather than fail a write the client would then repeat.
        if descriptor.resource_type.stored_apart.contains(&"members") {
            let id = written.resource.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            match self.members(&caller.tenant, &id, self.limits.max_members_in_response).await {
                Ok(members) => written.members = Some(members),
                Err(error) => tracing::warn!(group = %id, ?error, "a claimed group's members are left out of the answer"),
            }
        }
        Ok(written)
    }
}
