//! Writes built as transactions whose operations are read back by name.
//!
//! A write pushes its operations to a `Transaction` and keeps the `OpHandle` of each
//! one whose failure it must tell apart (the resource's version check, the uniqueness
//! claim, the seat counter); when the store cancels the transaction, `Failed::at` says
//! which of them failed its condition. No caller counts positions.
//!
//! A write with many member changes does not fit one transaction (at most
//! `MAX_TRANSACT_OPS` operations): `Transaction::run_with` splits it into batches, the
//! fixed operations first (see `batches`).

use item_store::{CancelReason, ItemStore, MAX_TRANSACT_OPS, StoreError, TransactOp};

use crate::error::Error;

/// The operations of one all-or-nothing write, in order.
#[derive(Debug, Default)]
pub(crate) struct Transaction {
    ops: Vec<TransactOp>,
}

/// One operation of a [`Transaction`], to ask [`Failed::at`] about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpHandle(usize);

/// A write the store refused: its error, and which of its batches failed (the fixed
/// operations are in the first; later ones only carry idempotent member changes).
#[derive(Debug)]
pub(crate) struct Failed {
    batch: usize,
    error: StoreError,
}

impl Failed {
    /// Whether operation `op` of the transaction failed its condition.
    pub(crate) fn at(&self, op: OpHandle) -> bool {
        self.batch == 0
            && matches!(&self.error, StoreError::TransactionCanceled { reasons } if reasons.get(op.0).is_some_and(Option::is_some))
    }
}

impl From<Failed> for Error {
    fn from(failed: Failed) -> Self {
        failed.error.into()
    }
}

impl From<Failed> for StoreError {
    fn from(failed: Failed) -> Self {
        failed.error
    }
}

impl Transaction {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds an operation and returns its handle.
    pub(crate) fn push(&mut self, op: TransactOp) -> OpHandle {
        self.ops.push(op);
        OpHandle(self.ops.len() - 1)
    }

    /// Adds operations whose failure needs no telling apart.
    pub(crate) fn extend(&mut self, ops: impl IntoIterator<Item = TransactOp>) {
        self.ops.extend(ops);
    }

    /// Commits the operations as one store transaction.
    pub(crate) async fn run<S: ItemStore>(self, store: &S) -> Result<(), Failed> {
        store.transact(self.ops).await.map_err(|error| Failed { batch: 0, error })
    }

    /// Commits these operations with `members` (idempotent member changes) and `log` (the
    /// log entry), batched as [`batches`] describes: the first batch holds these
    /// operations, so a failed condition among them writes nothing.
    pub(crate) async fn run_with<S: ItemStore>(self, store: &S, members: Vec<TransactOp>, log: Option<TransactOp>) -> Result<(), Failed> {
        run_batches(store, batches(self.ops, members, log)).await
    }
}

/// Runs batches in order: a batch of one operation is a single put or delete, others a
/// transaction.
pub(crate) async fn run_batches<S: ItemStore>(store: &S, batches: Vec<Vec<TransactOp>>) -> Result<(), Failed> {
    for (index, mut batch) in batches.into_iter().enumerate() {
        let result = match (batch.len(), batch.pop()) {
            (1, Some(TransactOp::Put { item, condition })) => store.put(item, condition).await,
            (1, Some(TransactOp::Delete { key, condition })) => store.delete(&key, condition).await,
            (_, Some(op)) => {
                batch.push(op);
                store.transact(batch).await
            }
            (_, None) => Ok(()),
        };
        result.map_err(|error| Failed { batch: index, error: single_to_canceled(error) })?;
    }
    Ok(())
}

/// A failed single put/delete reads like a canceled one-operation transaction, so callers
/// handle one shape.
fn single_to_canceled(error: StoreError) -> StoreError {
    match error {
        StoreError::ConditionFailed => StoreError::TransactionCanceled { reasons: vec![Some(CancelReason::ConditionFailed)] },
        other => other,
    }
}

/// Splits a write into transactions of at most 100 operations: `fixed` (the resource
/// write and uniqueness changes, which must be atomic and come first, so that a failed
/// version check writes nothing) and `members` (independent, idempotent). The member
/// operations take exactly ceil(k/100) batches: the fixed ones ride in the first batch
/// when they fit next to the remainder, else go alone before. `log` goes into a batch
/// that is already a transaction and has room, else alone.
pub(crate) fn batches(fixed: Vec<TransactOp>, members: Vec<TransactOp>, log: Option<TransactOp>) -> Vec<Vec<TransactOp>> {
    let mut out: Vec<Vec<TransactOp>> = Vec::new();
    let k = members.len();
    let mut members = members.into_iter();
    if fixed.len() + k <= MAX_TRANSACT_OPS {
        let mut first = fixed;
        first.extend(members.by_ref());
        out.push(first);
    } else {
        let remainder = k % MAX_TRANSACT_OPS;
        let mut first = fixed;
        if remainder > 0 && remainder + first.len() <= MAX_TRANSACT_OPS {
            first.extend(members.by_ref().take(remainder));
        }
        if !first.is_empty() {
            out.push(first);
        }
        loop {
            let chunk: Vec<TransactOp> = members.by_ref().take(MAX_TRANSACT_OPS).collect();
            if chunk.is_empty() {
                break;
            }
            out.push(chunk);
        }
    }
    out.retain(|batch| !batch.is_empty());
    if let Some(log) = log {
        // Into a batch that is a transaction anyway (or the only batch): a single put of
        // the resource must not become a transaction only to carry the log entry.
        let alone = out.len() == 1;
        match out.iter_mut().find(|batch| (batch.len() >= 2 || alone) && batch.len() < MAX_TRANSACT_OPS) {
            Some(batch) => batch.push(log),
            None => out.push(vec![log]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use item_store::{Attributes, Condition, Item, Key};

    fn key_of(op: &TransactOp) -> &Key {
        op.key()
    }

    fn put(n: usize) -> TransactOp {
        TransactOp::Put { item: Item::new(Key::new("p", format!("{n}")), Attributes::new()), condition: Condition::None }
    }

    #[test]
    fn member_batches_take_ceil_k_over_100_transactions() {
        for (k, fixed, expected) in [(0, 1, 1), (5, 1, 1), (99, 1, 2), (100, 1, 3), (250, 1, 3), (1000, 1, 12), (199, 3, 3)] {
            let members: Vec<TransactOp> = (0..k).map(|n| put(n + 10)).collect();
            let fixed_ops: Vec<TransactOp> = (0..fixed).map(put).collect();
            let batches = batches(fixed_ops, members, Some(put(9_999_999)));
            let transactions = batches.iter().filter(|b| b.len() > 1).count();
            if fixed == 1 {
                assert!(transactions <= k.div_ceil(100).max(1), "k={k}: {transactions} transactions");
            }
            assert_eq!(batches.len(), expected, "k={k}");
            assert!(batches.iter().all(|b| b.len() <= MAX_TRANSACT_OPS));
            assert_eq!(key_of(&batches[0][0]).sk, "0", "fixed operations come first");
            assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), k + fixed + 1);
        }
    }

    #[test]
    fn a_cancellation_is_read_by_handle() {
        let mut transaction = Transaction::new();
        let first = transaction.push(put(0));
        let second = transaction.push(put(1));
        let canceled =
            Failed { batch: 0, error: StoreError::TransactionCanceled { reasons: vec![None, Some(CancelReason::ConditionFailed)] } };
        assert!(!canceled.at(first));
        assert!(canceled.at(second));
        let later_batch =
            Failed { batch: 1, error: StoreError::TransactionCanceled { reasons: vec![None, Some(CancelReason::ConditionFailed)] } };
        assert!(!later_batch.at(second), "only the first batch holds the transaction's own operations");
    }
}
