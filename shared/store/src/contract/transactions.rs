//! Transactions: all or nothing, checks, increments, attribute conditions, limits.

use std::sync::Arc;

use serde_json::json;

use crate::{CancelReason, Condition, GSI1, ItemStore, Key, MAX_TRANSACT_OPS, Query, StoreError, TransactOp};

use super::{index_settles, item, must_get, must_put, must_query, prefix, query_all};

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
