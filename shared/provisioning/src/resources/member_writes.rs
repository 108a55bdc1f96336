//! Writing membership changes: the resource's own operations and the first changes in
//! one transaction, the rest in batches guarded by the group's version; re-adds and
//! removals of non-members dropped, unknown members refused (see `members`).

use std::collections::BTreeMap;

use item_store::{CancelReason, Condition, ItemStore, MAX_TRANSACT_OPS, StoreError, TransactOp};

use crate::error::{Error, Result};
use crate::resources::members::{MemberChange, unknown_member};
use crate::service::Provisioning;
use crate::storage::keys;
use crate::storage::transaction::{Failed, Transaction, run_batches};

/// How many changes fit in a transaction beside `fixed` other operations.
fn room(fixed: usize) -> usize {
    MAX_TRANSACT_OPS.saturating_sub(fixed) / 2
}

/// Why a change's transaction was canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChangeFailure {
    /// The membership was already there (an add) or already gone (a remove).
    AlreadyDone,
    /// The member is no user or group of the tenant (any more).
    MemberMissing,
}

/// What one batch came to.
enum BatchOutcome {
    Done,
    /// One of the fixed operations failed its condition (read it by handle).
    Fixed(Failed),
    /// Changes whose conditions failed, by position in the batch.
    Changes(BTreeMap<usize, ChangeFailure>),
}

impl<S: ItemStore> Provisioning<S> {
    /// Commits `fixed` (the resource's own operations and its log entry, whose failures
    /// are read through their handles) with the membership `changes` of `group`. A
    /// re-added member or a removed non-member is dropped and the rest run again; an
    /// added member that is no user or group of the tenant is 400 and nothing is written.
    /// Answers how many later batches bumped the group's version.
    pub(crate) async fn commit_with_members(
        &self,
        tenant: &str,
        group: &str,
        fixed: Transaction,
        mut changes: Vec<MemberChange>,
    ) -> Result<std::result::Result<u64, Failed>> {
        let fixed = fixed.into_ops();
        let several = changes.len() > room(fixed.len());
        if several {
            self.check_members_exist(tenant, &changes).await?;
        }
        let mut batch: Vec<MemberChange> = changes.drain(..changes.len().min(room(fixed.len()))).collect();
        loop {
            match self.run_batch(&fixed, &batch).await? {
                BatchOutcome::Done => break,
                BatchOutcome::Fixed(failed) => return Ok(Err(failed)),
                // Nothing was written yet: an unknown member refuses the whole write.
                BatchOutcome::Changes(failures) => batch = without_failed(batch, &failures, true)?,
            }
        }
        // Later batches each bump the group's version, so that a concurrent delete of the
        // group sees a change and starts over (see the module docs).
        let guard = vec![TransactOp::Increment {
            key: keys::resource(tenant, group),
            by: vec![("version".to_string(), 1)],
            condition: Condition::Present,
        }];
        let mut later_batches = 0;
        while !changes.is_empty() {
            later_batches += 1;
            let mut batch: Vec<MemberChange> = changes.drain(..changes.len().min(room(guard.len()))).collect();
            loop {
                match self.run_batch(&guard, &batch).await? {
                    BatchOutcome::Done => break,
                    BatchOutcome::Fixed(_) => return Err(Error::not_found(format!("no Group with id \"{group}\""))),
                    // A member deleted since it was checked is left out, as if deleted after.
                    BatchOutcome::Changes(failures) => batch = without_failed(batch, &failures, false)?,
                }
            }
        }
        Ok(Ok(later_batches))
    }

    /// Runs `fixed` and `changes` as one transaction (a single operation as a single
    /// write).
    async fn run_batch(&self, fixed: &[TransactOp], changes: &[MemberChange]) -> Result<BatchOutcome> {
        let mut ops = fixed.to_vec();
        ops.extend(changes.iter().flat_map(MemberChange::ops));
        let reasons = match run_batches(&self.store, vec![ops]).await.map_err(StoreError::from) {
            Ok(()) => return Ok(BatchOutcome::Done),
            Err(StoreError::TransactionCanceled { reasons }) => reasons,
            Err(other) => return Err(other.into()),
        };
        let failed = |i: usize| reasons.get(i).is_some_and(|reason| *reason == Some(CancelReason::ConditionFailed));
        if (0..fixed.len()).any(failed) {
            return Ok(BatchOutcome::Fixed(Failed::canceled(reasons.clone())));
        }
        let mut failures = BTreeMap::new();
        for (index, change) in changes.iter().enumerate() {
            let (membership, count) = (failed(fixed.len() + 2 * index), failed(fixed.len() + 2 * index + 1));
            match (membership, count) {
                (_, true) if change.added => failures.insert(index, ChangeFailure::MemberMissing),
                (true, _) | (_, true) => failures.insert(index, ChangeFailure::AlreadyDone),
                (false, false) => None,
            };
        }
        Ok(BatchOutcome::Changes(failures))
    }

    /// Refuses (400) a write whose added members are not all users or groups of the
    /// tenant, before anything is written: presence checks, 100 a transaction.
    async fn check_members_exist(&self, tenant: &str, changes: &[MemberChange]) -> Result<()> {
        let added: Vec<&MemberChange> = changes.iter().filter(|c| c.added).collect();
        for chunk in added.chunks(MAX_TRANSACT_OPS) {
            let checks =
                chunk.iter().map(|c| TransactOp::Check { key: keys::resource(tenant, &c.member), condition: Condition::Present }).collect();
            match self.store.transact(checks).await {
                Ok(()) => {}
                Err(StoreError::TransactionCanceled { reasons }) => {
                    let missing = chunk.iter().zip(&reasons).find(|(_, reason)| reason.is_some()).map(|(c, _)| c.member.as_str());
                    return Err(unknown_member(missing.unwrap_or_default()));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }
}

/// `changes` without the failed ones: a change already done is dropped; a missing member
/// is 400 when `strict` (nothing written yet), else dropped.
fn without_failed(changes: Vec<MemberChange>, failures: &BTreeMap<usize, ChangeFailure>, strict: bool) -> Result<Vec<MemberChange>> {
    let mut kept = Vec::with_capacity(changes.len());
    for (index, change) in changes.into_iter().enumerate() {
        match failures.get(&index) {
            None => kept.push(change),
            Some(ChangeFailure::MemberMissing) if strict => return Err(unknown_member(&change.member)),
            Some(_) => {}
        }
    }
    Ok(kept)
}
