//! Round-trip counting, for the budgets ("create = 1 transaction") measured by benchmarks
//! and budget tests.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Condition, Item, ItemStore, Key, Page, Query, StoreError, TransactOp};

/// Round trips per kind, as counted by [`CountingStore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTrips {
    pub get: u64,
    pub put: u64,
    pub delete: u64,
    pub transact: u64,
    pub query: u64,
}

impl RoundTrips {
    pub fn total(&self) -> u64 {
        self.get + self.put + self.delete + self.transact + self.query
    }
}

/// Wraps a store and counts every call (failed calls included: they are round trips too).
#[derive(Debug, Default)]
pub struct CountingStore<S> {
    inner: S,
    get: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
    transact: AtomicU64,
    query: AtomicU64,
}

impl<S> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            get: AtomicU64::new(0),
            put: AtomicU64::new(0),
            delete: AtomicU64::new(0),
            transact: AtomicU64::new(0),
            query: AtomicU64::new(0),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The counts so far.
    pub fn counts(&self) -> RoundTrips {
        RoundTrips {
            get: self.get.load(Ordering::Relaxed),
            put: self.put.load(Ordering::Relaxed),
            delete: self.delete.load(Ordering::Relaxed),
            transact: self.transact.load(Ordering::Relaxed),
            query: self.query.load(Ordering::Relaxed),
        }
    }

    /// The counts so far, and starts again from zero.
    pub fn take(&self) -> RoundTrips {
        RoundTrips {
            get: self.get.swap(0, Ordering::Relaxed),
            put: self.put.swap(0, Ordering::Relaxed),
            delete: self.delete.swap(0, Ordering::Relaxed),
            transact: self.transact.swap(0, Ordering::Relaxed),
            query: self.query.swap(0, Ordering::Relaxed),
        }
    }
}

impl<S: ItemStore> ItemStore for CountingStore<S> {
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send {
        self.get.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key)
    }

    fn put(
        &self,
        item: Item,
        condition: Condition,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.put.fetch_add(1, Ordering::Relaxed);
        self.inner.put(item, condition)
    }

    fn delete(
        &self,
        key: &Key,
        condition: Condition,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.delete.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key, condition)
    }

    fn transact(
        &self,
        ops: Vec<TransactOp>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.transact.fetch_add(1, Ordering::Relaxed);
        self.inner.transact(ops)
    }

    fn query(&self, query: &Query) -> impl Future<Output = Result<Page, StoreError>> + Send {
        self.query.fetch_add(1, Ordering::Relaxed);
        self.inner.query(query)
    }
}
