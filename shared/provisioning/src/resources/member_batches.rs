//! The batches member changes are written in: how many fit beside other operations,
//! what a canceled batch means for each change, and the presence checks that refuse an
//! unknown member before anything is written.

use std::collections::BTreeMap;

use item_store::{CancelReason, ItemStore, MAX_TRANSACT_OPS, StoreError, TransactOp};

use crate::error::Result;
use crate::resources::members::{MemberChange, unknown_member};
use crate::service::Provisioning;
use crate::storage::transaction::{Failed, run_batches};

/// How many changes fit in a transaction beside `fixed` other operations.
pub(crate) fn room(fixed: usize) -> usize {
    MAX_TRANSACT_OPS.saturating_sub(fixed) / 2
}

/// The most operations a write of a resource holds besides its member changes: the
/// resource, two uniqueness items, the seat counter, the outbox item, the log entry, the
/// resource count (a group has no seat or outbox, and up to two name checks instead: see
/// `group_names`).
const MAX_WRITE_FIXED_OPS: usize = 7;

/// Whether `changes` member changes are too many for the write's own transaction: then
/// they go through an intent (see `member_intents`).
pub(crate) fn needs_intent(changes: usize) -> bool {
    changes > room(MAX_WRITE_FIXED_OPS)
}

/// Why a change's transaction was canceled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeFailure {
    /// The membership was already there (an add) or already gone (a remove).
    AlreadyDone,
    /// The member is no user or group of the tenant (any more).
    MemberMissing,
}

/// What one batch came to.
pub(crate) enum BatchOutcome {
    Done,
    /// One of the fixed operations failed its condition (read it by handle).
    Fixed(Failed),
    /// Changes whose conditions failed, by position in the batch.
    Changes(BTreeMap<usize, ChangeFailure>),
}

impl<S: ItemStore> Provisioning<S> {
    /// Runs `fixed` and `changes` as one transaction (a single operation as a single
    /// write).
    pub(crate) async fn run_batch(&self, fixed: &[TransactOp], changes: &[MemberChange]) -> Result<BatchOutcome> {
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
        // A cancellation that names no operation gives nothing to drop: retrying the same
        // batch would loop, so it is the caller's error.
        if failures.is_empty() {
            return Err(StoreError::TransactionCanceled { reasons }.into());
        }
        Ok(BatchOutcome::Changes(failures))
    }

    /// Refuses (400) a write whose added members are not all users or groups of the
    /// tenant that the caller reaches, before anything is written: checks, 100 a
    /// transaction.
    pub(crate) async fn check_members_exist(&self, changes: &[MemberChange]) -> Result<()> {
        let added: Vec<&MemberChange> = changes.iter().filter(|c| c.added).collect();
        for chunk in added.chunks(MAX_TRANSACT_OPS) {
            let checks = chunk.iter().map(|c| c.member_check()).collect();
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
pub(crate) fn without_failed(
    changes: Vec<MemberChange>,
    failures: &BTreeMap<usize, ChangeFailure>,
    strict: bool,
) -> Result<Vec<MemberChange>> {
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
