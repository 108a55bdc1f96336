//! Concurrent writes: conditional creates and increments racing.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{Condition, Item, ItemStore, Key, StoreError};

use super::{attrs, item, must_get, must_put, prefix};

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
