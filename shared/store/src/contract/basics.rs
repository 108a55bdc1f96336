//! Single-item writes: round trips, put and delete conditions, invalid requests.

use std::sync::Arc;

use serde_json::json;

use crate::{Condition, ItemStore, Key, Query, StoreError};

use super::{item, must_get, must_put, must_query, prefix};

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
