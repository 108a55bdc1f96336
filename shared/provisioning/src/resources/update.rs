//! Replace (`PUT`) and patch (`PATCH`): one read, the ownership rules, then one
//! transaction holding the new version (conditional on the version read), its
//! uniqueness changes and the log entry, with member changes in batches after it (see
//! `storage::transaction`). A write that changes nothing writes nothing.

use item_store::{Condition, ItemStore, TransactOp};
use scim::etag::check_if_match;
use scim::patch::{ApartChange, PatchRequest, ValuesChange, apply_patch};
use scim::resource::prepare_replace;
use serde_json::Value;

use crate::clock::rfc3339;
use crate::enrollment::outbox::Before;
use crate::error::{Error, Result};
use crate::log::{LogOperation, mark_claim, name_log};
use crate::mfa::state::MfaState;
use crate::resources::answers::{Written, not_found, taken, version_conflict};
use crate::resources::attributes::{is_active, unique_value};
use crate::resources::group_names::{LegacyName, claim_for, claim_item, legacy_claim};
use crate::resources::member_batches::needs_intent;
use crate::resources::members::{self, MemberChange};
use crate::resources::record::Record;
use crate::resources::types::TypeDescriptor;
use crate::resources::validate::{attribute_names, check_key_values, required_unique, take_apart};
use crate::service::Provisioning;
use crate::storage::retry::again_after_lost_races;
use crate::storage::transaction::Transaction;
use crate::tenancy::ownership::{Caller, Decision, Operation, decide};

/// A new version of a record, ready for the ownership rules and the commit.
pub(crate) struct NewVersion {
    /// The version read.
    pub record: Record,
    /// The resource to write (without the attributes stored apart).
    pub resource: Value,
    /// The memberships the write adds and removes.
    pub member_changes: Vec<MemberChange>,
    /// Names of the attributes it sets, for the log.
    pub changed: Vec<String>,
    pub operation: LogOperation,
    /// A group's members after the write when known without reading them (see
    /// [`Written::members`]).
    pub members_after: Option<Vec<Value>>,
}

/// The alias items of work emails that `updated` no longer has (deleted) and of those it
/// adds (put): at most two of each, and none when the work emails stay.
fn work_email_alias_changes(tenant: &str, descriptor: &TypeDescriptor, record: &Record, updated: &Record) -> Vec<TransactOp> {
    let (old, new) = (record.work_email_alias_items(tenant, descriptor), updated.work_email_alias_items(tenant, descriptor));
    let removed = old.iter().filter(|item| !new.iter().any(|kept| kept.key == item.key));
    let mut ops: Vec<TransactOp> = removed.map(|item| TransactOp::Delete { key: item.key.clone(), condition: Condition::None }).collect();
    let added = new.into_iter().filter(|item| !old.iter().any(|had| had.key == item.key));
    ops.extend(added.map(|item| TransactOp::Put { item, condition: Condition::None }));
    ops
}

/// What a client asked to change.
enum Edit<'a> {
    /// `PUT`: the body replaces the resource's attributes (members too, for groups).
    Replace(&'a Value),
    /// `PATCH`: the body's operations apply to the resource.
    Patch(&'a Value),
}

/// An [`Edit`] whose body has been checked.
enum Checked<'a> {
    Replace(&'a Value),
    Patch(PatchRequest),
}

impl<'a> Edit<'a> {
    fn operation(&self) -> LogOperation {
        match self {
            Edit::Replace(_) => LogOperation::Replace,
            Edit::Patch(_) => LogOperation::Patch,
        }
    }

    /// A malformed PATCH is 400 before the record is read (a PUT body is checked against
    /// the record it replaces).
    fn check(&self) -> Result<Checked<'a>> {
        Ok(match *self {
            Edit::Replace(body) => Checked::Replace(body),
            Edit::Patch(body) => Checked::Patch(PatchRequest::from_json(body)?),
        })
    }
}

impl<S: ItemStore> Provisioning<S> {
    /// PUT: the request's attributes replace the resource's (members too, for groups).
    pub async fn replace(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Written> {
        self.update(caller, descriptor, id, Edit::Replace(body), if_match).await
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
        self.update(caller, descriptor, id, Edit::Patch(body), if_match).await
    }

    async fn update(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        edit: Edit<'_>,
        if_match: Option<&str>,
    ) -> Result<Written> {
        // A write that lost the race for the version without If-Match (a concurrent PATCH
        // adding other members, say) is applied again to the newer version.
        let result = again_after_lost_races(if_match, || self.try_update(caller, descriptor, id, &edit, if_match)).await;
        self.logged(caller, edit.operation(), descriptor.name(), Some(id), result).await
    }

    async fn try_update(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        id: &str,
        edit: &Edit<'_>,
        if_match: Option<&str>,
    ) -> Result<Written> {
        let checked = edit.check()?;
        let record = self.load(caller, descriptor, id, Operation::Write { changes: true }).await?;
        check_if_match(if_match, record.version)?;
        let (version, modifies) = match checked {
            Checked::Replace(body) => self.replaced(caller, descriptor, record, body).await?,
            Checked::Patch(request) => self.patched(caller, descriptor, record, &request).await?,
        };
        self.write(caller, descriptor, version, modifies, if_match).await
    }

    /// The new version a PUT makes, and whether it changes anything.
    async fn replaced(&self, caller: &Caller, descriptor: &TypeDescriptor, record: Record, body: &Value) -> Result<(NewVersion, bool)> {
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
        let member_changes = if changes.is_empty() { Vec::new() } else { self.membership_changes(caller, &record.id, &changes).await? };
        let changed = attribute_names(&resource, &apart, descriptor);
        let modifies = resource != record.resource || !member_changes.is_empty();
        // A PUT's members are the request's: what it adds once the old ones are removed.
        let members_after = (!changes.is_empty()).then(|| members::added_members(&member_changes));
        let version = NewVersion { record, resource, member_changes, changed, operation: LogOperation::Replace, members_after };
        Ok((version, modifies))
    }

    /// The new version a PATCH makes, and whether it changes anything.
    async fn patched(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        record: Record,
        request: &PatchRequest,
    ) -> Result<(NewVersion, bool)> {
        let mut resource = record.resource.clone();
        let outcome = apply_patch(descriptor.resource_type, &mut resource, request)?;
        let modifies = outcome.changed || !outcome.apart.is_empty();
        let member_changes =
            if outcome.apart.is_empty() { Vec::new() } else { self.membership_changes(caller, &record.id, &outcome.apart).await? };
        let changed = outcome.changed_attributes;
        let version = NewVersion { record, resource, member_changes, changed, operation: LogOperation::Patch, members_after: None };
        Ok((version, modifies))
    }

    /// Applies the ownership rules to a replace or patch, then commits it (or not, when
    /// it changes nothing).
    async fn write(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        version: NewVersion,
        modifies: bool,
        if_match: Option<&str>,
    ) -> Result<Written> {
        let record = &version.record;
        let claim = match decide(caller, &record.source, Operation::Write { changes: modifies }) {
            Decision::Allow => false,
            Decision::Claim => true,
            Decision::Hidden => return Err(not_found(descriptor, &record.id)),
            Decision::Forbidden(reason) | Decision::Conflict(reason) => return Err(Error::Forbidden(reason)),
        };
        if !modifies {
            let members = version.members_after.clone();
            return Ok(Written { resource: record.to_scim(), version: record.version, created: false, claimed: false, members });
        }
        check_key_values(descriptor, &version.resource)?;
        required_unique(descriptor, &version.resource)?;
        self.commit(caller, descriptor, version, claim, if_match).await
    }

    /// Writes a new version of `record`: the resource conditional on the version read,
    /// the uniqueness items on a rename, the log entry, then member batches.
    pub(crate) async fn commit(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        version: NewVersion,
        claim: bool,
        if_match: Option<&str>,
    ) -> Result<Written> {
        let NewVersion { record, resource, member_changes, changed, operation, members_after } = version;
        let tenant = &caller.tenant;
        let source = if claim { caller.source() } else { record.source.clone() };
        let old_claim = record.name_claim(tenant, descriptor);
        let new_unique = unique_value(descriptor, &resource).map(str::to_string);
        let new_claim = new_unique.as_deref().map(|name| claim_for(tenant, descriptor, &source, name));
        // A rename, or a group changing owner (its name claim is its owner's), moves the claim.
        let moves = new_claim.is_some() && new_claim != old_claim;
        if moves
            && !descriptor.is_user
            && let Some(name) = &new_unique
            && old_claim.as_ref() != Some(&legacy_claim(tenant, name))
            && let LegacyName::Collides(_) = self.legacy_name(tenant, name, std::slice::from_ref(&source)).await?
        {
            return Err(taken(descriptor, name, "another group of the same source has it"));
        }
        let mfa = record.mfa.map(|mfa| mfa.with_active(is_active(&resource)));
        // A claim is new to this integration (mailed as a create would be); otherwise the
        // write mails when it brings the address or restores the user.
        let enrollment = match (&record.mfa, &mfa) {
            (Some(before), Some(after)) => {
                let before = Before { mfa: before, resource: &record.resource, claimed: claim };
                Some(self.enrollment_plan(caller, &record.id, &resource, after, Some(before))?)
            }
            _ => None,
        };
        let updated = Record {
            version: record.version + 1,
            last_modified: rfc3339(self.clock.now()),
            source: source.clone(),
            owner_scoped_name: record.owner_scoped_name || (moves && !descriptor.is_user),
            mfa: mfa.map(|mfa| MfaState { enrollment_email: enrollment.as_ref().map_or(mfa.enrollment_email, |plan| plan.marker), ..mfa }),
            resource,
            pending_members: needs_intent(member_changes.len()),
            ..record.clone()
        };
        let mut transaction = Transaction::new();
        let resource_op = transaction
            .push(TransactOp::Put { item: updated.checked_item(tenant, descriptor)?, condition: Condition::VersionEquals(record.version) });
        transaction.extend(work_email_alias_changes(tenant, descriptor, &record, &updated));
        transaction.extend(enrollment.as_ref().and_then(|plan| plan.outbox.clone()));
        let mut unique_op = None;
        let mut legacy_op = None;
        if moves && let (Some(new_claim), Some(name)) = (new_claim, &new_unique) {
            let legacy = (!descriptor.is_user).then(|| legacy_claim(tenant, name)).filter(|legacy| old_claim.as_ref() != Some(legacy));
            if let Some(old) = old_claim {
                transaction.push(TransactOp::Delete { key: old, condition: Condition::None });
            }
            unique_op = Some(transaction.push(TransactOp::Put { item: claim_item(new_claim, &record.id), condition: Condition::Absent }));
            // No group of before holds the name tenant-wide (resolved above; this guards
            // against one that took it since).
            legacy_op = legacy.map(|key| transaction.push(TransactOp::Check { key, condition: Condition::Absent }));
        }
        let mut log = self.log_item(caller, operation, descriptor.name(), Some(&record.id), Ok(&changed));
        name_log(&mut log, descriptor, updated.unique_value(descriptor));
        // A claim is logged as one whichever request made it (create, PUT or PATCH): the
        // admin checking that records were claimed looks for it.
        if claim {
            mark_claim(&mut log, operation);
        }
        if let Some(plan) = &enrollment {
            plan.annotate_log(&mut log);
        }
        transaction.push(TransactOp::Put { item: log, condition: Condition::Absent });
        match self.commit_with_members(tenant, &record.id, transaction, member_changes).await? {
            Ok(()) => Ok(Written {
                resource: updated.to_scim(),
                version: updated.version,
                created: false,
                claimed: claim,
                members: members_after,
            }),
            Err(failed) if unique_op.is_some_and(|op| failed.at(op)) => {
                Err(taken(descriptor, new_unique.as_deref().unwrap_or_default(), "another record has it"))
            }
            Err(failed) if legacy_op.is_some_and(|op| failed.at(op)) => {
                Err(taken(descriptor, new_unique.as_deref().unwrap_or_default(), "another group is taking it; retry"))
            }
            Err(failed) if failed.at(resource_op) => Err(version_conflict(if_match, descriptor, &record.id)),
            Err(failed) => Err(failed.into()),
        }
    }
}
