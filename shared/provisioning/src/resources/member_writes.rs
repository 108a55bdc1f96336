//! Writing membership changes: with the resource's own operations in one transaction, or,
//! too many for one, recorded as an intent in it and applied after (`member_intents`);
//! re-adds and removals of non-members dropped, unknown members refused (see `members`).

use item_store::ItemStore;

use crate::error::Result;
use crate::resources::member_batches::{BatchOutcome, needs_intent, without_failed};
use crate::resources::member_intents::intent_ops;
use crate::resources::members::MemberChange;
use crate::service::Provisioning;
use crate::storage::transaction::{Failed, Transaction};

impl<S: ItemStore> Provisioning<S> {
    /// Commits `fixed` (the resource's own operations and its log entry, whose failures
    /// are read through their handles) with the membership `changes` of `group`. A
    /// re-added member or a removed non-member is dropped and the rest run again; an
    /// added member that is no user or group of the tenant is 400 and nothing is written.
    /// Changes too many for one transaction ([`needs_intent`]: the caller marked the
    /// group pending in `fixed`) are recorded as an intent in the same transaction and
    /// then applied (see `member_intents`).
    pub(crate) async fn commit_with_members(
        &self,
        tenant: &str,
        group: &str,
        fixed: Transaction,
        mut changes: Vec<MemberChange>,
    ) -> Result<std::result::Result<(), Failed>> {
        let mut fixed = fixed.into_ops();
        let recorded = needs_intent(changes.len());
        if recorded {
            self.check_members_exist(&changes).await?;
            fixed.extend(intent_ops(tenant, group, &changes)?);
            changes.clear();
        }
        loop {
            match self.run_batch(&fixed, &changes).await? {
                BatchOutcome::Done => break,
                BatchOutcome::Fixed(failed) => return Ok(Err(failed)),
                // Nothing was written yet: an unknown member refuses the whole write.
                BatchOutcome::Changes(failures) => changes = without_failed(changes, &failures, true)?,
            }
        }
        // The write is committed; its recorded changes are applied now (or, after a
        // crash, by whoever meets the group next).
        if recorded {
            self.roll_forward(tenant, group).await?;
        }
        Ok(Ok(()))
    }
}
