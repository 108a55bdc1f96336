//! A full disk: writes fail while there is no space, and succeed again, on the same
//! store, once there is. The store runs on redb's own file backend wrapped in a "disk"
//! that refuses to write (ENOSPC) while it is full.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use embedded_store::EmbeddedStore;
use item_store::{Condition, Item, ItemStore, Key, StoreError};
use redb::StorageBackend;
use redb::backends::FileBackend;
use serde_json::json;

/// redb's file backend on a disk that can be full.
#[derive(Debug)]
struct Disk {
    file: FileBackend,
    full: Arc<AtomicBool>,
}

impl Disk {
    fn refuse(&self) -> std::io::Result<()> {
        if self.full.load(Ordering::SeqCst) { Err(std::io::Error::from(std::io::ErrorKind::StorageFull)) } else { Ok(()) }
    }
}

impl StorageBackend for Disk {
    fn len(&self) -> std::io::Result<u64> {
        self.file.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.file.read(offset, out)
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.refuse()?;
        self.file.set_len(len)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.refuse()?;
        self.file.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.refuse()?;
        self.file.write(offset, data)
    }
}

fn item(sk: &str) -> Item {
    let serde_json::Value::Object(attrs) = json!({"version": 1, "name": sk}) else { panic!("object") };
    Item::new(Key::new("p", sk), attrs)
}

#[tokio::test]
async fn writes_succeed_again_once_the_disk_has_space() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("items.redb");
    let full = Arc::new(AtomicBool::new(false));
    let store = {
        let (path, full) = (path.clone(), Arc::clone(&full));
        EmbeddedStore::open_with(move || {
            let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path);
            let file = file.map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let file = FileBackend::new(file).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            Ok(Disk { file, full: Arc::clone(&full) })
        })
        .expect("open")
    };
    store.put(item("before"), Condition::Absent).await.expect("a write with space");

    full.store(true, Ordering::SeqCst);
    for sk in ["during-1", "during-2", "during-3"] {
        match store.put(item(sk), Condition::Absent).await {
            Err(StoreError::Unavailable(detail)) => assert!(!detail.is_empty()),
            other => panic!("a write on a full disk answered {other:?}"),
        }
    }

    full.store(false, Ordering::SeqCst);
    // The store reopens the file before the next write: it goes through at once.
    store.put(item("after"), Condition::Absent).await.expect("the first write once space is back");
    store.put(item("after-2"), Condition::Absent).await.expect("and the next one");
    assert_eq!(store.get(&item("before").key).await, Ok(Some(item("before"))));
    assert_eq!(store.get(&item("after").key).await, Ok(Some(item("after"))));
    for sk in ["during-1", "during-2", "during-3"] {
        assert_eq!(store.get(&item(sk).key).await, Ok(None), "{sk} was refused, so it was never written");
    }

    // What was acknowledged is in the file.
    drop(store);
    let reopened = EmbeddedStore::open(&path).expect("the file opens");
    for sk in ["before", "after", "after-2"] {
        assert_eq!(reopened.get(&item(sk).key).await, Ok(Some(item(sk))), "{sk}");
    }
}
