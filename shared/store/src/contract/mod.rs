//! The contract test suite: what every [`ItemStore`] implementation must do, as library code
//! so that each implementation runs the same cases against itself.
//!
//! Each case is a `pub async fn` that panics (assertion failure) when the store breaks the
//! contract. [`contract_tests!`](crate::contract_tests) generates one `#[tokio::test]` per
//! case for an implementation; [`run_all`] runs them in sequence. Every case works under a
//! partition-key prefix unique to the case and the run, so the suite can run against a
//! shared, long-lived table, and cases can run in parallel.
//!
//! Index reads are eventually consistent on DynamoDB, so index assertions poll for a
//! short while ([`INDEX_SETTLE`]) before failing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::{Attributes, Condition, Cursor, Item, ItemStore, Key, Page, Query};

/// How long an index query may lag behind a write before a case fails.
pub const INDEX_SETTLE: Duration = Duration::from_secs(3);

/// Generates one `#[tokio::test]` per contract case. The argument is an expression that
/// evaluates (with `.await`) to a fresh store for one case, e.g. `make_store()` where
/// `async fn make_store() -> MyStore`. The calling crate needs `tokio` (with `macros` and
/// `rt-multi-thread`) as a dev-dependency.
#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@cases $make;
            round_trip, conditions_on_put, conditions_on_delete, validation,
            transaction_all_or_nothing, transaction_check_ops, transaction_increments, attribute_conditions, transaction_limits,
            query_sort_key_conditions, query_paging_ascending, query_paging_descending,
            query_foreign_cursor_rejected, index_query_and_maintenance, index_paging_with_ties,
            concurrent_creates_one_wins, optimistic_concurrency_increments);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let store = ::std::sync::Arc::new($make.await);
                $crate::contract::$case(&store).await;
            }
        )*
    };
}

/// Runs every case in sequence.
pub async fn run_all<S: ItemStore + 'static>(store: &Arc<S>) {
    round_trip(store).await;
    conditions_on_put(store).await;
    conditions_on_delete(store).await;
    validation(store).await;
    transaction_all_or_nothing(store).await;
    transaction_check_ops(store).await;
    transaction_increments(store).await;
    attribute_conditions(store).await;
    transaction_limits(store).await;
    query_sort_key_conditions(store).await;
    query_paging_ascending(store).await;
    query_paging_descending(store).await;
    query_foreign_cursor_rejected(store).await;
    index_query_and_maintenance(store).await;
    index_paging_with_ties(store).await;
    concurrent_creates_one_wins(store).await;
    optimistic_concurrency_increments(store).await;
}

/// A partition-key prefix unique to this case and run.
fn prefix(case: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("contract/{case}/{}-{nanos:x}-{n}", std::process::id())
}

fn attrs(value: Value) -> Attributes {
    match value {
        Value::Object(map) => map,
        other => panic!("test attributes must be an object, got {other}"),
    }
}

fn item(pk: &str, sk: &str, value: Value) -> Item {
    Item::new(Key::new(pk, sk), attrs(value))
}

async fn must_put<S: ItemStore>(store: &S, item: Item, condition: Condition) {
    let key = item.key.clone();
    if let Err(e) = store.put(item, condition.clone()).await {
        panic!("put {key} with {condition:?} failed: {e}");
    }
}

async fn must_get<S: ItemStore>(store: &S, key: &Key) -> Option<Item> {
    match store.get(key).await {
        Ok(found) => found,
        Err(e) => panic!("get {key} failed: {e}"),
    }
}

async fn must_query<S: ItemStore>(store: &S, query: &Query) -> Page {
    match store.query(query).await {
        Ok(page) => page,
        Err(e) => panic!("query {query:?} failed: {e}"),
    }
}

/// Every page of `query`, following cursors; checks each page respects the limit.
async fn query_all<S: ItemStore>(store: &S, query: Query) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor: Option<Cursor> = None;
    for _ in 0..10_000 {
        let page = must_query(store, &query.clone().after(cursor.take())).await;
        if let Some(limit) = query.limit {
            assert!(page.items.len() <= limit as usize, "page over the limit");
        }
        items.extend(page.items);
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return items,
        }
    }
    panic!("query {query:?} did not end after 10,000 pages")
}

fn sort_keys(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.key.sk.clone()).collect()
}

/// Polls an index query until it returns `expected` sort keys (index reads are eventually
/// consistent on DynamoDB).
async fn index_settles<S: ItemStore>(store: &S, query: Query, expected: &[&str]) {
    let deadline = Instant::now() + INDEX_SETTLE;
    loop {
        let got = sort_keys(&query_all(store, query.clone()).await);
        if got == expected {
            return;
        }
        if Instant::now() > deadline {
            panic!("index query {query:?}: expected {expected:?}, got {got:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

mod basics;
mod concurrency;
mod queries;
mod transactions;

pub use basics::{conditions_on_delete, conditions_on_put, round_trip, validation};
pub use concurrency::{concurrent_creates_one_wins, optimistic_concurrency_increments};
pub use queries::{
    index_paging_with_ties, index_query_and_maintenance, query_foreign_cursor_rejected, query_paging_ascending, query_paging_descending,
    query_sort_key_conditions,
};
pub use transactions::{
    attribute_conditions, transaction_all_or_nothing, transaction_check_ops, transaction_increments, transaction_limits,
};
