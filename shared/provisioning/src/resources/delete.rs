//! Delete (`DELETE`): the resource with its uniqueness item, its seat and enrollment
//! email (users), its children (members, devices) and the memberships naming it.

use item_store::{Condition, ItemStore, MAX_TRANSACT_OPS, TransactOp};
use scim::etag::check_if_match;

use crate::error::{Error, Result};
use crate::log::LogOperation;
use crate::resources::answers::{not_found, version_conflict};
use crate::resources::counts::count_change;
use crate::resources::types::TypeDescriptor;
use crate::service::Provisioning;
use crate::storage::keys;
use crate::storage::retry::{MAX_RETRIES, again_after_lost_races, backoff, contended};
use crate::storage::transaction::Transaction;
use crate::tenancy::ownership::{Caller, Decision, Operation, decide};
use crate::tenancy::seats::COUNTER;

/// The most operations a delete's transaction holds besides the children it removes: the
/// resource, its uniqueness item, the outbox item and the seat counter (users), the log,
/// the count.
const MAX_DELETE_FIXED_OPS: usize = 6;

impl<S: ItemStore> Provisioning<S> {
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
        for attempt in 0..MAX_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let mut transaction = Transaction::new();
            let resource_op = transaction
                .push(TransactOp::Delete { key: keys::resource(tenant, id), condition: Condition::VersionEquals(record.version) });
            if let Some(unique) = record.unique_value(descriptor) {
                transaction
                    .push(TransactOp::Delete { key: keys::uniqueness(tenant, descriptor.name(), unique), condition: Condition::None });
            }
            let mut seat_op = None;
            if descriptor.is_user {
                // An unsent enrollment email goes with its user (and a sent one's link
                // state, which no longer has a user to enroll).
                transaction.push(TransactOp::Delete { key: keys::outbox(tenant, id), condition: Condition::None });
                seat_op = Some(transaction.push(self.seats_for_attempt(tenant, attempt).await?.release(tenant)));
            }
            let log = self.log_item(caller, LogOperation::Delete, descriptor.name(), Some(id), Ok(&[]));
            transaction.push(TransactOp::Put { item: log, condition: Condition::Absent });
            transaction.push(count_change(tenant, descriptor, -1));
            transaction.extend(children.iter().map(|key| TransactOp::Delete { key: key.clone(), condition: Condition::None }));
            match transaction.run(&self.store).await {
                Ok(()) => return Ok(()),
                Err(failed) if failed.at(resource_op) => return Err(version_conflict(if_match, descriptor, id)),
                Err(failed) if seat_op.is_some_and(|op| failed.at(op)) => continue,
                Err(failed) => return Err(failed.into()),
            }
        }
        Err(contended(COUNTER))
    }
}
