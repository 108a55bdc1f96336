//! Writes built as transactions whose operations are read back by name.
//!
//! A write pushes its operations to a `Transaction` and keeps the `OpHandle` of each
//! one whose failure it must tell apart (the resource's version check, the uniqueness
//! claim, the seat counter); when the store cancels the transaction, `Failed::at` says
//! which of them failed its condition. No caller counts positions.
//!
//! A write with more member changes than one transaction holds is batched by
//! `resources::member_writes`, the write's own operations in the first batch.

use item_store::{CancelReason, ItemStore, StoreError, TransactOp};

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
    /// A canceled first (or only) batch with these reasons.
    pub(crate) fn canceled(reasons: Vec<Option<CancelReason>>) -> Failed {
        Failed { batch: 0, error: StoreError::TransactionCanceled { reasons } }
    }

    /// Whether the store canceled the write because a condition failed (rather than
    /// failing it).
    pub(crate) fn is_canceled(&self) -> bool {
        matches!(self.error, StoreError::TransactionCanceled { .. })
    }

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

    pub(crate) fn into_ops(self) -> Vec<TransactOp> {
        self.ops
    }

    /// Commits the operations as one store transaction.
    pub(crate) async fn run<S: ItemStore>(self, store: &S) -> Result<(), Failed> {
        store.transact(self.ops).await.map_err(|error| Failed { batch: 0, error })
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

#[cfg(test)]
mod tests {
    use super::*;
    use item_store::{Attributes, Condition, Item, Key};

    fn put(n: usize) -> TransactOp {
        TransactOp::Put { item: Item::new(Key::new("p", format!("{n}")), Attributes::new()), condition: Condition::None }
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
