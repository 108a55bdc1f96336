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

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::{
    Attributes, CancelReason, Condition, Cursor, GSI1, Item, ItemStore, Key, MAX_TRANSACT_OPS, Page, Query, SortKey, StoreError, TransactOp,
};

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

/// Put, get, replace (attributes not written are gone), delete, delete again.
pub async fn round_trip<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("round_trip");
    let key = Key::new(&pk, "item");
    assert_eq!(must_get(store, &key).await, None);
    let first = item(
        &pk,
        "item",
        json!({
            "version": 1, "name": "Ada", "active": true, "nothing": null, "score": -2.5,
            "big": 9_007_199_254_740_993u64, "empty": "", "unicode": "héllo ✓",
            "list": [1, "two", {"three": [3]}], "map": {"a": {"b": false}}, "emptyList": [],
        }),
    );
    must_put(store, first.clone(), Condition::None).await;
    assert_eq!(must_get(store, &key).await, Some(first));
    let second = item(&pk, "item", json!({"version": 2, "other": "x"}));
    must_put(store, second.clone(), Condition::None).await;
    assert_eq!(must_get(store, &key).await, Some(second));
    assert_eq!(store.delete(&key, Condition::None).await, Ok(()));
    assert_eq!(must_get(store, &key).await, None);
    assert_eq!(store.delete(&key, Condition::None).await, Ok(()));
}

/// Each put condition, holding and not holding; a failed put writes nothing.
pub async fn conditions_on_put<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("conditions_on_put");
    let key = Key::new(&pk, "item");
    let v = |n: u64| item(&pk, "item", json!({"version": n}));

    for condition in [Condition::Present, Condition::VersionEquals(0)] {
        assert_eq!(store.put(v(1), condition.clone()).await, Err(StoreError::ConditionFailed), "{condition:?} on a missing item");
        assert_eq!(must_get(store, &key).await, None, "{condition:?} wrote");
    }
    must_put(store, v(1), Condition::Absent).await;
    assert_eq!(store.put(v(9), Condition::Absent).await, Err(StoreError::ConditionFailed));
    must_put(store, v(2), Condition::Present).await;
    assert_eq!(store.put(v(9), Condition::VersionEquals(1)).await, Err(StoreError::ConditionFailed));
    assert_eq!(must_get(store, &key).await, Some(v(2)));
    must_put(store, v(3), Condition::VersionEquals(2)).await;
    assert_eq!(must_get(store, &key).await, Some(v(3)));

    // VersionEquals fails on an item without a numeric version.
    let other = Key::new(&pk, "unversioned");
    must_put(store, item(&pk, "unversioned", json!({"version": "3"})), Condition::None).await;
    assert_eq!(store.put(item(&pk, "unversioned", json!({})), Condition::VersionEquals(3)).await, Err(StoreError::ConditionFailed));
    assert!(must_get(store, &other).await.is_some());
}

/// Each delete condition, holding and not holding; a failed delete deletes nothing.
pub async fn conditions_on_delete<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("conditions_on_delete");
    let key = Key::new(&pk, "item");
    assert_eq!(store.delete(&key, Condition::Present).await, Err(StoreError::ConditionFailed));
    assert_eq!(store.delete(&key, Condition::Absent).await, Ok(()));
    let stored = item(&pk, "item", json!({"version": 5}));
    must_put(store, stored.clone(), Condition::Absent).await;
    for condition in [Condition::Absent, Condition::VersionEquals(4)] {
        assert_eq!(store.delete(&key, condition.clone()).await, Err(StoreError::ConditionFailed), "{condition:?}");
        assert_eq!(must_get(store, &key).await, Some(stored.clone()));
    }
    assert_eq!(store.delete(&key, Condition::VersionEquals(5)).await, Ok(()));
    assert_eq!(must_get(store, &key).await, None);
    must_put(store, stored, Condition::Absent).await;
    assert_eq!(store.delete(&key, Condition::Present).await, Ok(()));
    assert_eq!(must_get(store, &key).await, None);
}

/// Requests that can never succeed are `Invalid` and write nothing.
pub async fn validation<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("validation");
    let invalid = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Invalid(_)));
    let huge = "x".repeat(crate::MAX_ITEM_BYTES);
    assert!(invalid(store.put(item(&pk, "huge", json!({"data": huge})), Condition::None).await));
    assert!(invalid(store.put(item(&pk, "bad", json!({"pk": "other"})), Condition::None).await));
    assert!(invalid(store.put(item(&pk, "bad", json!({"gsi1pk": 5, "gsi1sk": "x"})), Condition::None).await));
    assert!(invalid(store.put(item(&pk, "", json!({})), Condition::None).await));
    assert_eq!(must_query(store, &Query::partition(&pk)).await.items, vec![]);
}

/// A transaction with one failing condition writes nothing, and its cancellation reasons
/// point at the failing operations; a transaction whose conditions hold writes everything.
pub async fn transaction_all_or_nothing<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("transaction_all_or_nothing");
    let a = item(&pk, "a", json!({"version": 1}));
    must_put(store, a.clone(), Condition::Absent).await;
    let ops = vec![
        TransactOp::Put { item: item(&pk, "b", json!({"version": 1})), condition: Condition::Absent },
        TransactOp::Put { item: item(&pk, "a", json!({"version": 3})), condition: Condition::VersionEquals(2) },
        TransactOp::Delete { key: Key::new(&pk, "c"), condition: Condition::Present },
        TransactOp::Put { item: item(&pk, "d", json!({})), condition: Condition::None },
    ];
    assert_eq!(
        store.transact(ops).await,
        Err(StoreError::TransactionCanceled {
            reasons: vec![None, Some(CancelReason::ConditionFailed), Some(CancelReason::ConditionFailed), None]
        })
    );
    assert_eq!(must_get(store, &Key::new(&pk, "b")).await, None);
    assert_eq!(must_get(store, &Key::new(&pk, "d")).await, None);
    assert_eq!(must_get(store, &a.key).await, Some(a.clone()));

    let a2 = item(&pk, "a", json!({"version": 2}));
    let b = item(&pk, "b", json!({"version": 1}));
    let ops = vec![
        TransactOp::Put { item: a2.clone(), condition: Condition::VersionEquals(1) },
        TransactOp::Put { item: b.clone(), condition: Condition::Absent },
        TransactOp::Delete { key: Key::new(&pk, "c"), condition: Condition::Absent },
    ];
    assert_eq!(store.transact(ops).await, Ok(()));
    assert_eq!(must_query(store, &Query::partition(&pk)).await.items, vec![a2, b]);

    let ops = vec![
        TransactOp::Delete { key: Key::new(&pk, "a"), condition: Condition::VersionEquals(2) },
        TransactOp::Delete { key: Key::new(&pk, "b"), condition: Condition::Present },
    ];
    assert_eq!(store.transact(ops).await, Ok(()));
    assert_eq!(must_query(store, &Query::partition(&pk)).await.items, vec![]);
}

/// `Check` operations gate a transaction without writing their item.
pub async fn transaction_check_ops<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("transaction_check_ops");
    let group = item(&pk, "group", json!({"version": 7}));
    must_put(store, group.clone(), Condition::Absent).await;
    let member = item(&pk, "member#1", json!({}));
    let check = |condition| TransactOp::Check { key: Key::new(&pk, "group"), condition };
    let add = || TransactOp::Put { item: member.clone(), condition: Condition::Absent };

    for (condition, reason) in
        [(Condition::Absent, Some(CancelReason::ConditionFailed)), (Condition::VersionEquals(6), Some(CancelReason::ConditionFailed))]
    {
        assert_eq!(
            store.transact(vec![add(), check(condition.clone())]).await,
            Err(StoreError::TransactionCanceled { reasons: vec![None, reason] }),
            "{condition:?}"
        );
        assert_eq!(must_get(store, &member.key).await, None);
    }
    let missing = TransactOp::Check { key: Key::new(&pk, "nobody"), condition: Condition::Present };
    assert_eq!(
        store.transact(vec![missing, add()]).await,
        Err(StoreError::TransactionCanceled { reasons: vec![Some(CancelReason::ConditionFailed), None] })
    );
    assert_eq!(store.transact(vec![check(Condition::VersionEquals(7)), add()]).await, Ok(()));
    assert_eq!(store.transact(vec![check(Condition::Present)]).await, Ok(()));
    assert_eq!(must_get(store, &member.key).await, Some(member));
    assert_eq!(must_get(store, &group.key).await, Some(group));
    assert_eq!(must_get(store, &Key::new(&pk, "nobody")).await, None);
}

/// `Increment` adds to numeric attributes without a read: it creates an absent item when
/// its condition allows, keeps the other attributes and the index entries, counts below
/// zero, is all or nothing with the rest of its transaction, and refuses key attributes.
pub async fn transaction_increments<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("transaction_increments");
    let increment = |sk: &str, by: &[(&str, i64)], condition| TransactOp::Increment {
        key: Key::new(&pk, sk),
        by: by.iter().map(|(name, delta)| (name.to_string(), *delta)).collect(),
        condition,
    };
    // Created by the first increment, added to by the next.
    assert_eq!(store.transact(vec![increment("counter", &[("n", 2)], Condition::None)]).await, Ok(()));
    assert_eq!(store.transact(vec![increment("counter", &[("n", -5), ("m", 1)], Condition::Present)]).await, Ok(()));
    assert_eq!(must_get(store, &Key::new(&pk, "counter")).await, Some(item(&pk, "counter", json!({"n": -3, "m": 1}))));

    // Other attributes and the index entries stay.
    let ipk = format!("{pk}#idx");
    let user = item(&pk, "user", json!({"version": 4, "name": "ann", "gsi1pk": ipk, "gsi1sk": "ann"}));
    must_put(store, user.clone(), Condition::Absent).await;
    assert_eq!(store.transact(vec![increment("user", &[("version", 1), ("groups", 1)], Condition::VersionEquals(4))]).await, Ok(()));
    let expected = item(&pk, "user", json!({"version": 5, "name": "ann", "gsi1pk": ipk, "gsi1sk": "ann", "groups": 1}));
    assert_eq!(must_get(store, &user.key).await, Some(expected.clone()));
    index_settles(store, Query::index(GSI1, &ipk), &["user"]).await;

    // A failed condition anywhere writes nothing, the increment included.
    let member = item(&pk, "member#1", json!({}));
    let ops = vec![
        increment("user", &[("groups", 1)], Condition::VersionEquals(5)),
        TransactOp::Put { item: member.clone(), condition: Condition::Absent },
        increment("missing", &[("groups", 1)], Condition::Present),
    ];
    assert_eq!(
        store.transact(ops).await,
        Err(StoreError::TransactionCanceled { reasons: vec![None, None, Some(CancelReason::ConditionFailed)] })
    );
    assert_eq!(must_get(store, &user.key).await, Some(expected));
    assert_eq!(must_get(store, &member.key).await, None);
    assert_eq!(must_get(store, &Key::new(&pk, "missing")).await, None);

    // Key and index attributes cannot be incremented; nor can one attribute twice.
    for by in [&[("pk", 1)][..], &[("gsi1sk", 1)][..], &[][..], &[("n", 1), ("n", 1)][..]] {
        assert!(matches!(store.transact(vec![increment("counter", by, Condition::None)]).await, Err(StoreError::Invalid(_))), "{by:?}");
    }
}

/// `AttributeIn` holds for an existing item whose string attribute is one of the values,
/// on every kind of operation, an increment's included (its names and values merge).
pub async fn attribute_conditions<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("attribute_conditions");
    let from = |values: &[&str]| Condition::AttributeIn { name: "source".into(), values: values.iter().map(|v| v.to_string()).collect() };
    let member = item(&pk, "member", json!({"source": "integration-a", "version": 1}));
    let unsourced = item(&pk, "unsourced", json!({"version": 1}));
    must_put(store, member.clone(), Condition::Absent).await;
    must_put(store, unsourced.clone(), Condition::Absent).await;
    let check = |sk: &str, condition| TransactOp::Check { key: Key::new(&pk, sk), condition };
    let refused = Err(StoreError::TransactionCanceled { reasons: vec![Some(CancelReason::ConditionFailed)] });

    for (sk, values) in
        [("member", &["integration-b", "manual"][..]), ("unsourced", &["integration-a"][..]), ("nobody", &["integration-a"][..])]
    {
        assert_eq!(store.transact(vec![check(sk, from(values))]).await, refused, "{sk} from {values:?}");
    }
    assert_eq!(store.transact(vec![check("member", from(&["manual", "integration-a"]))]).await, Ok(()));
    assert_eq!(store.put(member.clone(), from(&["integration-b"])).await, Err(StoreError::ConditionFailed));
    must_put(store, member.clone(), from(&["integration-a"])).await;

    let increment =
        |condition| TransactOp::Increment { key: member.key.clone(), by: vec![("groups".into(), 1), ("version".into(), 1)], condition };
    assert_eq!(store.transact(vec![increment(from(&["integration-b"]))]).await, refused);
    assert_eq!(store.transact(vec![increment(from(&["integration-a", "manual"]))]).await, Ok(()));
    let expected = item(&pk, "member", json!({"source": "integration-a", "version": 2, "groups": 1}));
    assert_eq!(must_get(store, &member.key).await, Some(expected));
    assert_eq!(store.delete(&unsourced.key, from(&["manual"])).await, Err(StoreError::ConditionFailed));
}

/// 100 operations are accepted; 0, 101, duplicate keys or a `Check` without condition are
/// `Invalid`.
pub async fn transaction_limits<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("transaction_limits");
    let put = |i: usize| TransactOp::Put { item: item(&pk, &format!("i{i:03}"), json!({"n": i})), condition: Condition::Absent };
    let invalid = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Invalid(_)));
    assert!(invalid(store.transact(vec![]).await));
    assert!(invalid(store.transact((0..=MAX_TRANSACT_OPS).map(put).collect()).await));
    assert!(invalid(store.transact(vec![put(1), put(1)]).await));
    let unconditioned = TransactOp::Check { key: Key::new(&pk, "x"), condition: Condition::None };
    assert!(invalid(store.transact(vec![unconditioned]).await));
    assert_eq!(must_query(store, &Query::partition(&pk)).await.items, vec![]);
    assert_eq!(store.transact((0..MAX_TRANSACT_OPS).map(put).collect()).await, Ok(()));
    assert_eq!(query_all(store, Query::partition(&pk)).await.len(), MAX_TRANSACT_OPS);
}

/// Every sort-key condition, both directions, and partition boundaries.
pub async fn query_sort_key_conditions<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("query_sort_key_conditions");
    let keys = ["a", "a#1", "a#2", "b", "b#1", "c", "é"];
    let ops = keys.iter().map(|sk| TransactOp::Put { item: item(&pk, sk, json!({})), condition: Condition::Absent }).collect();
    assert_eq!(store.transact(ops).await, Ok(()));
    // Neighbouring partitions must not leak in.
    for neighbour in [format!("{pk}a"), format!("{pk}\u{0}")] {
        must_put(store, item(&neighbour, "a", json!({})), Condition::None).await;
    }
    let s = |v: &str| v.to_string();
    let cases: Vec<(SortKey, Vec<&str>)> = vec![
        (SortKey::All, keys.to_vec()),
        (SortKey::Equals(s("b")), vec!["b"]),
        (SortKey::Equals(s("zz")), vec![]),
        (SortKey::Prefix(s("a#")), vec!["a#1", "a#2"]),
        (SortKey::Prefix(s("a")), vec!["a", "a#1", "a#2"]),
        (SortKey::Prefix(s("d")), vec![]),
        (SortKey::Between(s("a#2"), s("b#1")), vec!["a#2", "b", "b#1"]),
        (SortKey::Between(s("a#3"), s("b")), vec!["b"]),
        (SortKey::Less(s("b")), vec!["a", "a#1", "a#2"]),
        (SortKey::LessOrEqual(s("b")), vec!["a", "a#1", "a#2", "b"]),
        (SortKey::Greater(s("b")), vec!["b#1", "c", "é"]),
        (SortKey::GreaterOrEqual(s("b")), vec!["b", "b#1", "c", "é"]),
    ];
    for (sort, expected) in cases {
        let query = Query::partition(&pk).sort(sort.clone());
        assert_eq!(sort_keys(&query_all(store, query.clone()).await), expected, "{sort:?}");
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(sort_keys(&query_all(store, query.descending().limit(2)).await), reversed, "{sort:?} descending");
    }
}

/// Writes 250 items (in transactions of 100) and returns their sort keys, ascending.
async fn two_hundred_fifty<S: ItemStore>(store: &S, pk: &str) -> Vec<String> {
    let sks: Vec<String> = (0..250).map(|i| format!("item#{i:04}")).collect();
    for chunk in sks.chunks(MAX_TRANSACT_OPS) {
        let ops =
            chunk.iter().map(|sk| TransactOp::Put { item: item(pk, sk, json!({"payload": sk})), condition: Condition::Absent }).collect();
        assert_eq!(store.transact(ops).await, Ok(()));
    }
    sks
}

/// Paging through 250 items ascending returns each exactly once, in order.
pub async fn query_paging_ascending<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("query_paging_ascending");
    let sks = two_hundred_fifty(store, &pk).await;
    for limit in [1, 7, 100, 250, 1000] {
        let got = sort_keys(&query_all(store, Query::partition(&pk).limit(limit)).await);
        assert_eq!(got, sks, "limit {limit}");
    }
    let got = sort_keys(&query_all(store, Query::partition(&pk)).await);
    assert_eq!(got, sks, "no limit");
    let prefixed = sort_keys(&query_all(store, Query::partition(&pk).sort(SortKey::Prefix("item#01".into())).limit(9)).await);
    assert_eq!(prefixed, sks[100..200].to_vec());
    let first = must_query(store, &Query::partition(&pk).limit(3)).await;
    assert_eq!(sort_keys(&first.items), sks[..3].to_vec());
    assert!(first.cursor.is_some());
}

/// Paging through 250 items descending returns each exactly once, in reverse order.
pub async fn query_paging_descending<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("query_paging_descending");
    let mut sks = two_hundred_fifty(store, &pk).await;
    sks.reverse();
    for limit in [1, 7, 100, 250] {
        let got = sort_keys(&query_all(store, Query::partition(&pk).limit(limit).descending()).await);
        assert_eq!(got, sks, "limit {limit}");
    }
    let ranged = sort_keys(
        &query_all(store, Query::partition(&pk).sort(SortKey::Between("item#0010".into(), "item#0200".into())).limit(13).descending())
            .await,
    );
    assert_eq!(ranged, sks[49..=239].to_vec());
}

/// A cursor from another partition's query is `Invalid`, not silently misapplied.
pub async fn query_foreign_cursor_rejected<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("query_foreign_cursor_rejected");
    let other = format!("{pk}/other");
    for p in [&pk, &other] {
        for sk in ["a", "b"] {
            must_put(store, item(p, sk, json!({})), Condition::None).await;
        }
    }
    let page = must_query(store, &Query::partition(&pk).limit(1)).await;
    let query = Query::partition(&other).limit(1).after(page.cursor);
    assert!(matches!(store.query(&query).await, Err(StoreError::Invalid(_))));
}

/// Items appear in an index when they have its key attributes, move when the index key
/// changes, and leave it when the attributes are removed or the item is deleted.
pub async fn index_query_and_maintenance<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("index_query_and_maintenance");
    let ipk = format!("{pk}/byName");
    let other_ipk = format!("{pk}/other");
    let user = |sk: &str, name: &str, ipk: &str| item(&pk, sk, json!({"gsi1pk": ipk, "gsi1sk": name, "version": 1}));
    must_put(store, user("u1", "carol", &ipk), Condition::Absent).await;
    must_put(store, user("u2", "alice", &ipk), Condition::Absent).await;
    must_put(store, user("u3", "bob", &ipk), Condition::Absent).await;
    must_put(store, item(&pk, "u4", json!({"gsi1pk": ipk})), Condition::Absent).await;
    let by_name = Query::index(GSI1, &ipk);
    // Index queries return whole items, ordered by the index sort key.
    index_settles(store, by_name.clone(), &["u2", "u3", "u1"]).await;
    let page = must_query(store, &by_name.clone().sort(SortKey::Equals("bob".into()))).await;
    assert_eq!(page.items, vec![user("u3", "bob", &ipk)]);
    index_settles(store, by_name.clone().sort(SortKey::Prefix("b".into())), &["u3"]).await;
    index_settles(store, by_name.clone().descending().limit(1), &["u1", "u3", "u2"]).await;

    must_put(store, user("u2", "dave", &ipk), Condition::VersionEquals(1)).await;
    index_settles(store, by_name.clone(), &["u3", "u1", "u2"]).await;
    must_put(store, user("u3", "bob", &other_ipk), Condition::Present).await;
    index_settles(store, by_name.clone(), &["u1", "u2"]).await;
    index_settles(store, Query::index(GSI1, &other_ipk), &["u3"]).await;
    must_put(store, item(&pk, "u1", json!({"version": 2})), Condition::Present).await;
    index_settles(store, by_name.clone(), &["u2"]).await;
    assert_eq!(store.delete(&Key::new(&pk, "u2"), Condition::Present).await, Ok(()));
    index_settles(store, by_name.clone(), &[]).await;
    let ops = vec![
        TransactOp::Put { item: user("u5", "erin", &ipk), condition: Condition::Absent },
        TransactOp::Delete { key: Key::new(&pk, "u3"), condition: Condition::Present },
    ];
    assert_eq!(store.transact(ops).await, Ok(()));
    index_settles(store, by_name, &["u5"]).await;
    index_settles(store, Query::index(GSI1, &other_ipk), &[]).await;
    // The other index is independent.
    index_settles(store, Query::index(crate::GSI2, &ipk), &[]).await;
}

/// Paging an index where many items share an index sort key returns each exactly once.
pub async fn index_paging_with_ties<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("index_paging_with_ties");
    let ipk = format!("{pk}/idx");
    let ops: Vec<TransactOp> = (0..30)
        .map(|i| TransactOp::Put {
            item: item(&format!("{pk}/{}", i % 3), &format!("m{i:02}"), json!({"gsi2pk": ipk, "gsi2sk": format!("t{}", i % 4)})),
            condition: Condition::Absent,
        })
        .collect();
    assert_eq!(store.transact(ops).await, Ok(()));
    let expected: BTreeSet<String> = (0..30).map(|i| format!("m{i:02}")).collect();
    let deadline = Instant::now() + INDEX_SETTLE;
    for descending in [false, true] {
        loop {
            let mut query = Query::index(crate::GSI2, &ipk).limit(4);
            query.descending = descending;
            let got = query_all(store, query).await;
            let tags: Vec<&str> = got.iter().filter_map(|i| i.str_attr("gsi2sk")).collect();
            let mut sorted = tags.clone();
            sorted.sort_unstable();
            if descending {
                sorted.reverse();
            }
            assert_eq!(tags, sorted, "index order");
            let keys: Vec<String> = sort_keys(&got);
            let unique: BTreeSet<String> = keys.iter().cloned().collect();
            assert_eq!(unique.len(), keys.len(), "an item appeared twice");
            if unique == expected {
                break;
            }
            assert!(Instant::now() < deadline, "index paging: got {keys:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// 20 concurrent `Absent` puts of one key: exactly one wins, the others fail cleanly.
pub async fn concurrent_creates_one_wins<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("concurrent_creates_one_wins");
    let mut tasks = tokio::task::JoinSet::new();
    for writer in 0..20u64 {
        let store = Arc::clone(store);
        let pk = pk.clone();
        tasks.spawn(async move {
            let result = store.put(item(&pk, "user", json!({"writer": writer})), Condition::Absent).await;
            (writer, result)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((writer, Ok(()))) => winners.push(writer),
            Ok((_, Err(StoreError::ConditionFailed))) => {}
            Ok((writer, Err(e))) => panic!("writer {writer}: {e}"),
            Err(e) => panic!("task failed: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let stored = must_get(store, &Key::new(&pk, "user")).await;
    assert_eq!(stored.and_then(|i| i.attrs.get("writer").and_then(Value::as_u64)), Some(winners[0]));
}

/// 10 concurrent read-increment-write loops with `VersionEquals`: no increment is lost.
pub async fn optimistic_concurrency_increments<S: ItemStore + 'static>(store: &Arc<S>) {
    let pk = prefix("optimistic_concurrency_increments");
    let key = Key::new(&pk, "counter");
    let initial = 3;
    must_put(store, item(&pk, "counter", json!({"version": initial, "count": 0})), Condition::Absent).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = Arc::clone(store);
        let key = key.clone();
        tasks.spawn(async move {
            for attempt in 0..1000 {
                let current = must_get(&*store, &key).await.unwrap_or_else(|| panic!("counter vanished"));
                let version = current.version().unwrap_or_else(|| panic!("no version"));
                let count = current.attrs.get("count").and_then(Value::as_u64).unwrap_or_else(|| panic!("no count"));
                let next = Item::new(key.clone(), attrs(json!({"version": version + 1, "count": count + 1})));
                match store.put(next, Condition::VersionEquals(version)).await {
                    Ok(()) => return attempt,
                    Err(StoreError::ConditionFailed) => tokio::task::yield_now().await,
                    Err(e) => panic!("increment failed: {e}"),
                }
            }
            panic!("no progress after 1000 attempts")
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            panic!("task failed: {e}");
        }
    }
    let last = must_get(store, &key).await.unwrap_or_else(|| panic!("counter vanished"));
    assert_eq!(last.version(), Some(initial + 10));
    assert_eq!(last.attrs.get("count").and_then(Value::as_u64), Some(10));
}
