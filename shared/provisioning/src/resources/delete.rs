//! Delete (`DELETE`): the resource with its uniqueness item, its seat and enrollment
//! email (users), its children (a group's memberships, a user's devices) and the
//! memberships naming it, so that no membership is left naming a deleted resource.
//!
//! The memberships naming the resource come from the reverse index, which may lag on
//! DynamoDB. They are deleted, each conditional on its presence, in the transaction that
//! deletes the resource conditional on the version read, and only when they are exactly
//! as many as the resource's count of memberships (see `members`): every add or removal
//! of a membership naming it changes that count and the version in its own transaction,
//! so the version still being the one read means the count is exact, and as many
//! present memberships as the count are all of them. Otherwise (the index behind, a
//! membership added meanwhile) the delete reads again and retries.

use item_store::{Condition, ItemStore, Key, MAX_TRANSACT_OPS, Query, SortKey, StoreError, TransactOp};
use scim::etag::check_if_match;

use crate::error::{Error, Result};
use crate::log::{LogOperation, name_log};
use crate::resources::answers::{not_found, version_conflict};
use crate::resources::attributes::MAX_WORK_EMAIL_ALIASES;
use crate::resources::counts::count_change;
use crate::resources::members::MemberChange;
use crate::resources::record::{MEMBER_OF, Record};
use crate::resources::types::TypeDescriptor;
use crate::service::Provisioning;
use crate::storage::keys;
use crate::storage::paging;
use crate::storage::retry::{MAX_RETRIES, again_after_lost_races, backoff, contended};
use crate::storage::transaction::Transaction;
use crate::tenancy::ownership::{Caller, Decision, Operation, decide};

/// The most operations a delete's transaction holds besides the children it removes: the
/// resource, its uniqueness item, the outbox item, the seat counter and the work email
/// aliases (users), the log, the count.
const MAX_DELETE_FIXED_OPS: usize = 6 + MAX_WORK_EMAIL_ALIASES;

/// The most devices one delete removes (a user has a handful).
const MAX_DEVICES: usize = 10_000;

/// What a delete removes besides the resource's own items.
struct Children {
    resource: Key,
    /// A group's memberships, with their members' counts.
    removals: Vec<MemberChange>,
    /// A user's devices.
    devices: Vec<Key>,
    /// The memberships naming the resource, in other groups.
    naming: Vec<Key>,
}

impl Children {
    fn ops(&self, exact: bool) -> Vec<TransactOp> {
        // A record from before counts existed cannot be checked: its memberships are
        // deleted unconditionally, as they always were.
        let naming = if exact { Condition::Present } else { Condition::None };
        let mut ops: Vec<TransactOp> = self.removals.iter().flat_map(MemberChange::ops).collect();
        ops.extend(self.devices.iter().map(|key| TransactOp::Delete { key: key.clone(), condition: Condition::None }));
        ops.extend(self.naming.iter().map(|key| TransactOp::Delete { key: key.clone(), condition: naming.clone() }));
        ops
    }
}

impl<S: ItemStore> Provisioning<S> {
    /// DELETE: the resource with its devices and memberships, its uniqueness item and
    /// (users) its seat.
    pub async fn delete(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, if_match: Option<&str>) -> Result<()> {
        let result = again_after_lost_races(if_match, || self.try_delete(caller, descriptor, id, if_match)).await;
        self.logged(caller, LogOperation::Delete, descriptor.name(), Some(id), result).await
    }

    async fn try_delete(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, if_match: Option<&str>) -> Result<()> {
        for attempt in 0..MAX_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let record = self.load(caller, descriptor, id, Operation::Delete).await?;
            match decide(caller, &record.source, Operation::Delete) {
                Decision::Allow | Decision::Claim => {}
                Decision::Hidden => return Err(not_found(descriptor, id)),
                Decision::Forbidden(reason) | Decision::Conflict(reason) => return Err(Error::Forbidden(reason)),
            }
            check_if_match(if_match, record.version)?;
            match self.delete_record(caller, descriptor, record, attempt).await? {
                Deleted::Done => return Ok(()),
                Deleted::Changed => return Err(version_conflict(if_match, descriptor, id)),
                Deleted::Again => continue,
            }
        }
        Err(contended("the resource, its seat or its memberships"))
    }

    /// One attempt at deleting `record` as read.
    async fn delete_record(&self, caller: &Caller, descriptor: &TypeDescriptor, record: Record, attempt: usize) -> Result<Deleted> {
        let tenant = &caller.tenant;
        let id = record.id.as_str();
        let mut children = self.children(tenant, descriptor, id).await?;
        let exact = record.member_of.is_some();
        if let Some(count) = record.member_of
            && children.naming.len() as u64 != count
        {
            // The index is behind (fewer), or still shows removed ones (more): read again.
            return Ok(Deleted::Again);
        }
        let mut version = record.version;
        // Many children are removed a transaction at a time first; the resource goes last,
        // so a failure leaves a resource to delete again, never an orphan.
        let room = MAX_TRANSACT_OPS - MAX_DELETE_FIXED_OPS;
        if children.ops(exact).len() > room && !self.remove_children_first(&mut children, &mut version, exact).await? {
            return Ok(Deleted::Again);
        }
        let mut transaction = Transaction::new();
        let resource_op =
            transaction.push(TransactOp::Delete { key: keys::resource(tenant, id), condition: Condition::VersionEquals(version) });
        // The claim this record holds (a group's may be its owner's or, stored before, the
        // tenant-wide one: `group_names`).
        if let Some(claim) = record.name_claim(tenant, descriptor) {
            transaction.push(TransactOp::Delete { key: claim, condition: Condition::None });
        }
        let mut seat_op = None;
        if descriptor.is_user {
            // An unsent enrollment email goes with its user (and a sent one's link state,
            // which no longer has a user to enroll).
            transaction.push(TransactOp::Delete { key: keys::outbox(tenant, id), condition: Condition::None });
            for alias in record.work_email_alias_items(tenant, descriptor) {
                transaction.push(TransactOp::Delete { key: alias.key, condition: Condition::None });
            }
            seat_op = Some(transaction.push(self.seats_for_attempt(tenant, attempt).await?.release(tenant)));
        }
        let mut log = self.log_item(caller, LogOperation::Delete, descriptor.name(), Some(id), Ok(&[]));
        name_log(&mut log, descriptor, record.unique_value(descriptor));
        transaction.push(TransactOp::Put { item: log, condition: Condition::Absent });
        transaction.push(count_change(tenant, descriptor, -1));
        transaction.extend(children.ops(exact));
        match transaction.run(&self.store).await {
            Ok(()) => Ok(Deleted::Done),
            // Changed by someone else than this delete: a write, or a membership naming it.
            Err(failed) if failed.at(resource_op) && version == record.version => Ok(Deleted::Changed),
            // The seat counter moved, a membership was already gone, or one of a group's
            // members was deleted meanwhile: read again.
            Err(failed) if failed.is_canceled() || seat_op.is_some_and(|op| failed.at(op)) => Ok(Deleted::Again),
            Err(failed) => Err(failed.into()),
        }
    }

    /// The children of resource `id` and the memberships naming it.
    async fn children(&self, tenant: &str, descriptor: &TypeDescriptor, id: &str) -> Result<Children> {
        let removals = match descriptor.resource_type.stored_apart.contains(&"members") {
            true => self.removals_of_all_members(tenant, id).await?,
            false => Vec::new(),
        };
        let devices = match descriptor.is_user {
            true => {
                let query = Query::partition(keys::resource_partition(tenant, id)).sort(SortKey::Prefix(keys::device_prefix().into()));
                paging::collect(&self.store, query, MAX_DEVICES, "devices").await?.into_iter().map(|item| item.key).collect()
            }
            false => Vec::new(),
        };
        let naming = self.memberships_naming(tenant, id).await?;
        Ok(Children { resource: keys::resource(tenant, id), removals, devices, naming })
    }

    /// Removes children a transaction at a time until the rest fits beside the resource's
    /// own delete. Memberships naming the resource go with a decrement of its count and a
    /// bump of its version (`version` follows), conditional on the version: `false` when
    /// something changed meanwhile (read again).
    async fn remove_children_first(&self, children: &mut Children, version: &mut u64, exact: bool) -> Result<bool> {
        let removals = std::mem::take(&mut children.removals);
        for batch in removals.chunks(MAX_TRANSACT_OPS / 2) {
            if !self.transact_unless_canceled(batch.iter().flat_map(MemberChange::ops).collect()).await? {
                return Ok(false);
            }
        }
        let devices = std::mem::take(&mut children.devices);
        for batch in devices.chunks(MAX_TRANSACT_OPS) {
            let ops = batch.iter().map(|key| TransactOp::Delete { key: key.clone(), condition: Condition::None }).collect();
            self.store.transact(ops).await?;
        }
        let room = MAX_TRANSACT_OPS - MAX_DELETE_FIXED_OPS;
        while children.naming.len() > room {
            let page: Vec<Key> = children.naming.drain(..MAX_TRANSACT_OPS - 1).collect();
            let (condition, mut by) = match exact {
                true => (Condition::Present, vec![(MEMBER_OF.to_string(), -(page.len() as i64))]),
                // A record from before counts existed keeps having none.
                false => (Condition::None, Vec::new()),
            };
            by.push(("version".to_string(), 1));
            let mut ops: Vec<TransactOp> =
                page.iter().map(|key| TransactOp::Delete { key: key.clone(), condition: condition.clone() }).collect();
            ops.push(TransactOp::Increment { key: children.resource.clone(), by, condition: Condition::VersionEquals(*version) });
            if !self.transact_unless_canceled(ops).await? {
                return Ok(false);
            }
            *version += 1;
        }
        Ok(true)
    }

    /// `false` when the transaction was canceled (a condition did not hold).
    async fn transact_unless_canceled(&self, ops: Vec<TransactOp>) -> Result<bool> {
        match self.store.transact(ops).await {
            Ok(()) => Ok(true),
            Err(StoreError::TransactionCanceled { .. }) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}

/// What one attempt at a delete came to.
enum Deleted {
    Done,
    /// Someone else changed the resource since it was read (409/412, or again without
    /// `If-Match`).
    Changed,
    /// The delete's own view was stale (index, counter, members): read again.
    Again,
}
