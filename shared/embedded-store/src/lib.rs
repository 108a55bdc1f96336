//! The item store on [redb]: one file, ACID, durable at commit, for the local server.
//!
//! Same semantics as DynamoDB through the [`ItemStore`] port (the contract suite runs
//! against both), except that index queries are strongly consistent here.
//!
//! - **Layout.** Two redb tables of byte keys (see `keys` for the order-preserving
//!   encoding): `items` maps (pk, sk) to the item's JSON; `index` maps (index name, index
//!   pk, index sk, pk, sk) to the item key. Index entries are written in the same write
//!   transaction as their item, so the index is never stale.
//! - **Group commit.** A durable commit costs an fsync, so one writer thread owns all
//!   writes: it drains the queue of pending requests (up to [`MAX_BATCH`]), applies each
//!   request inside one redb write transaction — all of its conditions are checked before
//!   any of its writes, so a request whose condition fails writes nothing and does not
//!   affect the others — commits once, and only then answers every request of the batch.
//!   Concurrent writers share fsyncs; a lone writer pays one per write.
//! - **Reads** run in redb read transactions on the calling task: a get or one query
//!   page is a few microseconds (pages in redb's cache or the OS page cache), far less
//!   than handing it to tokio's blocking pool, which cost the local server half its read
//!   throughput in thread switches (measured: README, "Performance"). They see every
//!   write that has been acknowledged.
//! - **A failed write heals.** After a storage error (the disk full, an I/O error) redb
//!   refuses every later write until the file is opened again. The writer answers the
//!   failed batch with the error and, before the next batch, closes the file and opens it
//!   again (redb recovers the last committed state); while that fails (the disk still
//!   full), writes are answered `Unavailable` and retried on the next one, so they succeed
//!   again as soon as there is space. Readers keep the old handle until the reopen.
//! - **Owner-only file.** The file (it holds enrollment state and token hashes) is created
//!   readable by its owner only, and an existing one is narrowed to that.

mod keys;

use std::fs::{File, OpenOptions};
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;

use item_store::{
    CancelReason, Condition, Cursor, INDEXES, Item, ItemStore, Key, Page, Query, StoreError, TransactOp, index_key, validate_key,
    validate_query, validate_transaction,
};
use redb::backends::FileBackend;
use redb::{Database, ReadableDatabase, ReadableTable, StorageBackend, Table, TableDefinition};
use tokio::sync::{mpsc, oneshot};

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const INDEX: TableDefinition<&[u8], &[u8]> = TableDefinition::new("index");

/// The most write requests committed together. Bounds the latency a batch adds to its
/// first request.
pub const MAX_BATCH: usize = 256;

/// Queued write requests beyond which writers wait (back-pressure instead of memory growth).
const QUEUE_DEPTH: usize = 4096;

/// A page of an unlimited query stops after this many bytes of items, like DynamoDB's 1 MB.
const PAGE_BYTES: usize = 1 << 20;

/// An item store in one redb file. Dropping it waits for queued writes to finish and
/// closes the file.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    writes: Option<mpsc::Sender<WriteRequest>>,
    writer: Option<JoinHandle<()>>,
}

/// Opens the database again: the file, or a test's storage.
type Opener = Box<dyn Fn() -> Result<Database, StoreError> + Send + Sync>;

/// What readers and the writer thread share.
struct Shared {
    /// `None` only between closing a failed handle and a successful reopen.
    db: RwLock<Option<Database>>,
    open: Opener,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Option<Database>> {
        // A panic while the lock was held left no half-done state behind (redb's own
        // transactions are atomic): go on with the handle.
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes the handle (releasing the file's lock), then opens it again. On failure the
    /// store has no handle until the next attempt.
    fn reopen(&self) -> Result<(), StoreError> {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        drop(slot.take());
        *slot = Some((self.open)()?);
        Ok(())
    }
}

fn reopening() -> StoreError {
    StoreError::Unavailable("embedded store: reopening the file after a failed write (is the disk full?); retry".into())
}

/// One write request (a single put/delete is a transaction of one operation), encoded by
/// the caller so the writer thread does as little as possible.
struct WriteRequest {
    ops: Vec<PreparedOp>,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

struct PreparedOp {
    key: Vec<u8>,
    condition: Condition,
    write: PreparedWrite,
}

enum PreparedWrite {
    Put {
        value: Vec<u8>,
        index_entries: Vec<Vec<u8>>,
    },
    Delete,
    Check,
    /// Applied to the item as found when the transaction runs (see [`incremented`]).
    Increment {
        key: Key,
        by: Vec<(String, i64)>,
    },
}

fn unavailable<E: std::fmt::Display>(context: &'static str) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Unavailable(format!("embedded store: {context}: {e}"))
}

fn index_entries(item: &Item) -> Vec<Vec<u8>> {
    INDEXES
        .iter()
        .filter_map(|index| {
            let (ipk, isk) = index_key(item, index)?;
            Some(keys::index_entry_key(index, ipk, isk, &item.key))
        })
        .collect()
}

fn prepare(op: TransactOp) -> Result<PreparedOp, StoreError> {
    let key = keys::item_key(op.key());
    let condition = op.condition().clone();
    let write = match op {
        TransactOp::Put { item, .. } => PreparedWrite::Put {
            value: serde_json::to_vec(&item).map_err(|e| StoreError::Invalid(format!("item {}: {e}", item.key)))?,
            index_entries: index_entries(&item),
        },
        TransactOp::Delete { .. } => PreparedWrite::Delete,
        TransactOp::Check { .. } => PreparedWrite::Check,
        TransactOp::Increment { key, by, .. } => PreparedWrite::Increment { key, by },
    };
    Ok(PreparedOp { key, condition, write })
}

/// The item after an `Increment`: each attribute plus its delta (absent counts as 0), the
/// others kept; a new item when there was none.
fn incremented(stored: Option<&Item>, key: &Key, by: &[(String, i64)]) -> Result<Item, StoreError> {
    let mut item = stored.cloned().unwrap_or_else(|| Item::new(key.clone(), Default::default()));
    for (name, delta) in by {
        let current = match item.attrs.get(name) {
            None => 0,
            Some(value) => {
                value.as_i64().ok_or_else(|| StoreError::Invalid(format!("item {key}: {name} is not an integer, cannot increment it")))?
            }
        };
        let sum = current.checked_add(*delta).ok_or_else(|| StoreError::Invalid(format!("item {key}: {name} would overflow")))?;
        item.attrs.insert(name.clone(), sum.into());
    }
    Ok(item)
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Unavailable(format!("embedded store: corrupt item: {e}")))
}

/// redb's page cache. Its default (1 GiB) let the local server grow to 500 MB while
/// writing 100,000 users; the operating system's page cache keeps the file's hot pages in
/// memory anyway, so a small cache holds the budget (64 MB) at any directory size.
const CACHE_BYTES: usize = 16 << 20;

impl EmbeddedStore {
    /// Opens (or creates) the store in the file at `path`, readable by its owner only.
    /// Only one store may have a file open at a time.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        Self::open_with(move || {
            let opening = |e: std::io::Error| StoreError::Unavailable(format!("embedded store: opening {}: {e}", path.display()));
            let file = owner_only(&path).map_err(opening)?;
            FileBackend::new(file).map_err(|e| StoreError::Unavailable(format!("embedded store: opening {}: {e}", path.display())))
        })
    }

    /// Opens (or creates) the store on the storage `backend` makes; it is called again to
    /// reopen after a failed write. Tests use it to fill the disk.
    pub fn open_with<B: StorageBackend>(backend: impl Fn() -> Result<B, StoreError> + Send + Sync + 'static) -> Result<Self, StoreError> {
        let open: Opener = Box::new(move || open_database(backend()?));
        let db = open()?;
        let shared = Arc::new(Shared { db: RwLock::new(Some(db)), open });
        let (writes, queue) = mpsc::channel(QUEUE_DEPTH);
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("embedded-store-writer".into())
            .spawn(move || writer_loop(&writer_shared, queue))
            .map_err(unavailable("starting the writer thread"))?;
        Ok(Self { shared, writes: Some(writes), writer: Some(writer) })
    }

    async fn write(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        let ops = ops.into_iter().map(prepare).collect::<Result<_, _>>()?;
        let (reply, answer) = oneshot::channel();
        let writes = self.writes.as_ref().ok_or_else(|| StoreError::Unavailable("embedded store: closed".into()))?;
        writes.send(WriteRequest { ops, reply }).await.map_err(|_| StoreError::Unavailable("embedded store: writer stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("embedded store: writer stopped".into()))?
    }

    /// A single put or delete: a one-operation transaction whose cancellation is reported
    /// as a plain condition failure.
    async fn write_one(&self, op: TransactOp) -> Result<(), StoreError> {
        match self.write(vec![op]).await {
            Err(StoreError::TransactionCanceled { .. }) => Err(StoreError::ConditionFailed),
            other => other,
        }
    }
}

/// The file, created with mode 0600; an existing file is narrowed to it.
fn owner_only(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(file)
}

fn open_database(backend: impl StorageBackend) -> Result<Database, StoreError> {
    let db = Database::builder().set_cache_size(CACHE_BYTES).create_with_backend(backend).map_err(unavailable("opening"))?;
    // Create the tables up front so that readers never meet a missing table.
    let txn = db.begin_write().map_err(unavailable("begin write"))?;
    txn.open_table(ITEMS).map_err(unavailable("open items"))?;
    txn.open_table(INDEX).map_err(unavailable("open index"))?;
    txn.commit().map_err(unavailable("commit"))?;
    Ok(db)
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and exit; joining it
        // releases the file before a reopen.
        self.writes.take();
        if let Some(writer) = self.writer.take() {
            // A panicked writer has nothing left to clean up.
            let _ = writer.join();
        }
    }
}

fn writer_loop(shared: &Shared, mut queue: mpsc::Receiver<WriteRequest>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Set by a failed commit: redb refuses writes on that handle from then on.
    let mut failed = false;
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let committed = if failed { shared.reopen() } else { Ok(()) }.and_then(|()| match shared.read().as_ref() {
            Some(db) => commit_batch(db, &batch),
            None => Err(reopening()),
        });
        failed = committed.is_err();
        match committed {
            Ok(outcomes) => {
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    // The caller may have gone away; its write is committed regardless.
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "embedded store: a write failed; the file is reopened before the next one");
                for request in batch.drain(..) {
                    let _ = request.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// Applies every request of the batch in one write transaction and commits it. The outer
/// error (storage failure) aborts the whole batch; the inner results are per request.
fn commit_batch(db: &Database, batch: &[WriteRequest]) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let txn = db.begin_write().map_err(unavailable("begin write"))?;
    let mut outcomes = Vec::with_capacity(batch.len());
    {
        let mut items = txn.open_table(ITEMS).map_err(unavailable("open items"))?;
        let mut index = txn.open_table(INDEX).map_err(unavailable("open index"))?;
        for request in batch {
            outcomes.push(apply(&mut items, &mut index, &request.ops)?);
        }
    }
    txn.commit().map_err(unavailable("commit"))?;
    Ok(outcomes)
}

type Tbl<'t> = Table<'t, &'static [u8], &'static [u8]>;

/// One request: every condition first (against the state left by earlier requests of the
/// batch), then the writes, so a failed condition leaves no trace.
fn apply(items: &mut Tbl<'_>, index: &mut Tbl<'_>, ops: &[PreparedOp]) -> Result<Result<(), StoreError>, StoreError> {
    let mut current = Vec::with_capacity(ops.len());
    let mut reasons = Vec::with_capacity(ops.len());
    for op in ops {
        let stored = match items.get(op.key.as_slice()).map_err(unavailable("get"))? {
            Some(bytes) => Some(decode(bytes.value())?),
            None => None,
        };
        let holds = op.condition.holds(stored.as_ref());
        reasons.push((!holds).then_some(CancelReason::ConditionFailed));
        current.push(stored);
    }
    if reasons.iter().any(Option::is_some) {
        return Ok(Err(StoreError::TransactionCanceled { reasons }));
    }
    // Increments are computed before anything is written: one that cannot apply (not an
    // integer) refuses the whole request.
    let mut increments = Vec::with_capacity(ops.len());
    for (op, stored) in ops.iter().zip(&current) {
        increments.push(match &op.write {
            PreparedWrite::Increment { key, by } => match incremented(stored.as_ref(), key, by) {
                Ok(item) => Some(item),
                Err(error) => return Ok(Err(error)),
            },
            _ => None,
        });
    }
    for ((op, stored), increment) in ops.iter().zip(current).zip(increments) {
        if matches!(op.write, PreparedWrite::Check) {
            continue;
        }
        if let Some(old) = &stored {
            for entry in index_entries(old) {
                index.remove(entry.as_slice()).map_err(unavailable("remove index entry"))?;
            }
        }
        match (&op.write, increment) {
            (PreparedWrite::Put { value, index_entries }, _) => {
                items.insert(op.key.as_slice(), value.as_slice()).map_err(unavailable("insert item"))?;
                for entry in index_entries {
                    index.insert(entry.as_slice(), op.key.as_slice()).map_err(unavailable("insert index entry"))?;
                }
            }
            (PreparedWrite::Increment { .. }, Some(item)) => {
                let value = serde_json::to_vec(&item).map_err(|e| StoreError::Invalid(format!("item {}: {e}", item.key)))?;
                items.insert(op.key.as_slice(), value.as_slice()).map_err(unavailable("insert item"))?;
                for entry in index_entries(&item) {
                    index.insert(entry.as_slice(), op.key.as_slice()).map_err(unavailable("insert index entry"))?;
                }
            }
            (PreparedWrite::Delete, _) => {
                items.remove(op.key.as_slice()).map_err(unavailable("remove item"))?;
            }
            (PreparedWrite::Check | PreparedWrite::Increment { .. }, _) => {}
        }
    }
    Ok(Ok(()))
}

/// Runs a query in a read transaction: walks the key range (of the items table or of the
/// index), and for index entries fetches the items they point to.
fn run_query(db: &Database, query: &Query) -> Result<Page, StoreError> {
    let partition = keys::partition_prefix(query.index.as_ref(), &query.pk);
    let (mut lower, mut upper) = keys::sort_key_range(&partition, &query.sort);
    if let Some(Cursor(after)) = &query.cursor {
        if !after.starts_with(&partition) {
            return Err(StoreError::Invalid("cursor does not belong to this query".into()));
        }
        // Keys are unique, so the cursor (the last key returned) is excluded.
        if query.descending {
            upper = Bound::Excluded(after.clone());
        } else {
            lower = Bound::Excluded(after.clone());
        }
    }
    if keys::is_empty_range(&lower, &upper) {
        return Ok(Page::default());
    }
    let txn = db.begin_read().map_err(unavailable("begin read"))?;
    let items = txn.open_table(ITEMS).map_err(unavailable("open items"))?;
    let table = if query.index.is_some() {
        txn.open_table(INDEX).map_err(unavailable("open index"))?
    } else {
        txn.open_table(ITEMS).map_err(unavailable("open items"))?
    };
    let bounds = (lower.as_ref().map(Vec::as_slice), upper.as_ref().map(Vec::as_slice));
    let range = table.range::<&[u8]>(bounds).map_err(unavailable("range"))?;
    let entries: Box<dyn Iterator<Item = _>> = if query.descending { Box::new(range.rev()) } else { Box::new(range) };

    let limit = query.limit.map_or(usize::MAX, |l| l as usize);
    let mut page = Page::default();
    let mut bytes = 0;
    let mut last_key = Vec::new();
    for entry in entries {
        let (key, value) = entry.map_err(unavailable("range"))?;
        if page.items.len() >= limit || bytes >= PAGE_BYTES {
            // There is at least one more item: the page ends at the last one returned.
            page.cursor = Some(Cursor(last_key));
            break;
        }
        let item = if query.index.is_some() {
            let stored = items
                .get(value.value())
                .map_err(unavailable("get"))?
                .ok_or_else(|| StoreError::Unavailable("embedded store: index entry without item".into()))?;
            bytes += stored.value().len();
            decode(stored.value())?
        } else {
            bytes += value.value().len();
            decode(value.value())?
        };
        last_key = key.value().to_vec();
        page.items.push(item);
    }
    Ok(page)
}

impl ItemStore for EmbeddedStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let key = keys::item_key(key);
        let db = self.shared.read();
        let txn = db.as_ref().ok_or_else(reopening)?.begin_read().map_err(unavailable("begin read"))?;
        let items = txn.open_table(ITEMS).map_err(unavailable("open items"))?;
        match items.get(key.as_slice()).map_err(unavailable("get"))? {
            Some(bytes) => decode(bytes.value()).map(Some),
            None => Ok(None),
        }
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        item_store::validate_item(&item)?;
        self.write_one(TransactOp::Put { item, condition }).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        validate_key(key)?;
        let key = key.clone();
        self.write_one(TransactOp::Delete { key, condition }).await
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        self.write(ops).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        validate_query(query)?;
        run_query(self.shared.read().as_ref().ok_or_else(reopening)?, query)
    }
}
