//! Data survives closing and reopening the file, indexes included.

use embedded_store::EmbeddedStore;
use item_store::{Condition, GSI1, Item, ItemStore, Key, Query, TransactOp};
use serde_json::json;

fn item(sk: &str, value: serde_json::Value) -> Item {
    let serde_json::Value::Object(attrs) = value else { panic!("object") };
    Item::new(Key::new("p", sk), attrs)
}

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("items.redb");
    let a = item("a", json!({"version": 1, "gsi1pk": "names", "gsi1sk": "ada"}));
    let b = item("b", json!({"version": 1}));
    {
        let store = EmbeddedStore::open(&path).expect("open");
        store.put(a.clone(), Condition::Absent).await.expect("put a");
        let ops = vec![
            TransactOp::Put { item: b.clone(), condition: Condition::Absent },
            TransactOp::Put { item: item("c", json!({})), condition: Condition::Absent },
        ];
        store.transact(ops).await.expect("transact");
        store.delete(&Key::new("p", "c"), Condition::Present).await.expect("delete c");
        // A second open of the same file while it is open is refused, not corrupting.
        assert!(EmbeddedStore::open(&path).is_err());
    }
    let store = EmbeddedStore::open(&path).expect("reopen");
    assert_eq!(store.get(&a.key).await, Ok(Some(a.clone())));
    let page = store.query(&Query::partition("p")).await.expect("query");
    assert_eq!(page.items, vec![a.clone(), b]);
    let page = store.query(&Query::index(GSI1, "names")).await.expect("index query");
    assert_eq!(page.items, vec![a]);
    assert_eq!(store.put(item("a", json!({})), Condition::Absent).await, Err(item_store::StoreError::ConditionFailed));
}

/// The file holds token hashes and enrollment state: readable by its owner only, also when
/// an earlier version left it readable by others.
#[cfg(unix)]
#[tokio::test]
async fn the_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("items.redb");
    let mode = |path: &std::path::Path| std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
    drop(EmbeddedStore::open(&path).expect("create"));
    assert_eq!(mode(&path), 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    drop(EmbeddedStore::open(&path).expect("reopen"));
    assert_eq!(mode(&path), 0o600);
}
