//! Queries: sort-key conditions, paging both ways, cursors, index maintenance.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::{Condition, GSI1, ItemStore, Key, MAX_TRANSACT_OPS, Query, SortKey, StoreError, TransactOp};

use super::{INDEX_SETTLE, index_settles, item, must_put, must_query, prefix, query_all, sort_keys};

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
