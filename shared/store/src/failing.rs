//! Fault injection for tests of the retry and error paths above the store.

use std::sync::Mutex;
use std::time::Duration;

use crate::{Condition, Item, ItemStore, Key, Page, Query, StoreError, TransactOp};

/// The error a [`FailingStore`] answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Throttled {
        retry_after: Duration,
    },
    Unavailable,
    /// Unavailable with this detail, as an adapter would report it (an SDK's or the OS's
    /// message), for tests that the detail reaches the log and not the client.
    UnavailableBecause(&'static str),
}

impl Fault {
    fn error(self) -> StoreError {
        match self {
            Fault::Throttled { retry_after } => StoreError::Throttled { retry_after },
            Fault::Unavailable => StoreError::Unavailable("injected fault".into()),
            Fault::UnavailableBecause(detail) => StoreError::Unavailable(detail.into()),
        }
    }
}

/// Wraps a store; after [`FailingStore::fail_next`], the next `n` calls (of any kind) fail
/// with the fault without reaching the inner store, so they write nothing.
/// [`FailingStore::fail_after`] lets `skip` calls through first, so that a test can fail
/// each step of an operation in turn.
#[derive(Debug)]
pub struct FailingStore<S> {
    inner: S,
    pending: Mutex<Option<Armed>>,
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    fault: Fault,
    skip: u32,
    left: u32,
}

impl<S> FailingStore<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, pending: Mutex::new(None) }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Makes the next `n` calls fail with `fault`.
    pub fn fail_next(&self, n: u32, fault: Fault) {
        self.fail_after(0, n, fault);
    }

    /// Lets the next `skip` calls through, then makes `n` calls fail with `fault`.
    pub fn fail_after(&self, skip: u32, n: u32, fault: Fault) {
        *self.lock() = (n > 0).then_some(Armed { fault, skip, left: n });
    }

    /// Whether injected failures are still to come (`false` once they all happened, or
    /// after [`FailingStore::disarm`]).
    pub fn armed(&self) -> bool {
        self.lock().is_some()
    }

    /// Cancels the failures still to come.
    pub fn disarm(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Armed>> {
        // A poisoned lock only means a test panicked elsewhere; the state is still usable.
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The injected error for this call, if any (and counts it down).
    fn injected(&self) -> Option<StoreError> {
        let mut pending = self.lock();
        let armed = pending.as_mut()?;
        if armed.skip > 0 {
            armed.skip -= 1;
            return None;
        }
        let error = armed.fault.error();
        armed.left -= 1;
        if armed.left == 0 {
            *pending = None;
        }
        Some(error)
    }
}

impl<S: ItemStore> ItemStore for FailingStore<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        match self.injected() {
            Some(e) => Err(e),
            None => self.inner.get(key).await,
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        match self.injected() {
            Some(e) => Err(e),
            None => self.inner.put(item, condition).await,
        }
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        match self.injected() {
            Some(e) => Err(e),
            None => self.inner.delete(key, condition).await,
        }
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        match self.injected() {
            Some(e) => Err(e),
            None => self.inner.transact(ops).await,
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        match self.injected() {
            Some(e) => Err(e),
            None => self.inner.query(query).await,
        }
    }
}

// `impl Trait for ..` with `async fn` must still yield `Send` futures: checked here.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::CountingStore;

    struct Empty;
    impl ItemStore for Empty {
        async fn get(&self, _: &Key) -> Result<Option<Item>, StoreError> {
            Ok(None)
        }
        async fn put(&self, _: Item, _: Condition) -> Result<(), StoreError> {
            Ok(())
        }
        async fn delete(&self, _: &Key, _: Condition) -> Result<(), StoreError> {
            Ok(())
        }
        async fn transact(&self, _: Vec<TransactOp>) -> Result<(), StoreError> {
            Ok(())
        }
        async fn query(&self, _: &Query) -> Result<Page, StoreError> {
            Ok(Page::default())
        }
    }

    #[tokio::test]
    async fn fails_exactly_n_calls_then_passes_through_and_counts() {
        let store = CountingStore::new(FailingStore::new(Empty));
        store.inner().fail_next(2, Fault::Unavailable);
        let key = Key::new("p", "s");
        assert!(matches!(store.get(&key).await, Err(StoreError::Unavailable(_))));
        assert!(store.put(Item::new(key.clone(), Default::default()), Condition::None).await.is_err());
        assert_eq!(store.get(&key).await, Ok(None));
        let counts = store.take();
        assert_eq!((counts.get, counts.put, counts.total()), (2, 1, 3));
        assert_eq!(store.counts().total(), 0);
        let retry_after = Duration::from_millis(5);
        store.inner().fail_next(1, Fault::Throttled { retry_after });
        let handle = tokio::spawn(async move { store.query(&Query::partition("p")).await });
        assert_eq!(handle.await.ok(), Some(Err(StoreError::Throttled { retry_after })));
    }

    #[tokio::test]
    async fn fail_after_lets_calls_through_first_and_reports_whether_armed() {
        let store = FailingStore::new(Empty);
        let key = Key::new("p", "s");
        store.fail_after(2, 1, Fault::Unavailable);
        assert!(store.armed());
        assert_eq!(store.get(&key).await, Ok(None));
        assert_eq!(store.get(&key).await, Ok(None));
        assert!(store.armed());
        assert!(matches!(store.get(&key).await, Err(StoreError::Unavailable(_))));
        assert!(!store.armed());
        assert_eq!(store.get(&key).await, Ok(None));
        store.fail_after(5, 1, Fault::Unavailable);
        store.disarm();
        assert!(!store.armed());
    }
}
