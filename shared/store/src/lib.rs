//! The item store port: the few primitives of DynamoDB that the domain needs, as a trait.
//!
//! The domain (uniqueness, memberships, ownership) is written once, generic over
//! [`ItemStore`], and runs on two implementations: DynamoDB in production and an embedded
//! store for the local server. Both must behave alike; the [`contract`] suite (feature
//! `contract`) is the definition of "alike" and runs against each of them.
//!
//! Model (single-table design):
//! - an [`Item`] is a [`Key`] (`pk`, `sk`: strings) plus [`Attributes`] (a JSON object);
//! - secondary indexes are declared once, as data, in [`INDEXES`]: an item appears in an
//!   index when it has both of that index's key attributes (as strings) — a sparse index;
//! - versions are plain attributes: callers write a numeric `version` attribute
//!   ([`VERSION_ATTR`]) themselves and make writes conditional on it with
//!   [`Condition::VersionEquals`]. The store never invents attributes, so what is read
//!   back is exactly what was written, on either implementation.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod counting;
mod failing;
mod validate;

#[cfg(feature = "contract")]
pub mod contract;

pub use counting::{CountingStore, RoundTrips};
pub use failing::{FailingStore, Fault};
pub use validate::{
    MAX_ITEM_BYTES, MAX_TRANSACT_OPS, index_key, item_size, validate_item, validate_key, validate_query, validate_transaction,
};

/// The attributes of an item (everything but its key).
pub type Attributes = serde_json::Map<String, Value>;

/// Name of the partition key attribute (in the table and in the DynamoDB item).
pub const PK_ATTR: &str = "pk";
/// Name of the sort key attribute.
pub const SK_ATTR: &str = "sk";
/// The attribute that [`Condition::VersionEquals`] compares.
pub const VERSION_ATTR: &str = "version";

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:?}, {:?})", self.pk, self.sk)
    }
}

/// An item: its key and its attributes. `attrs` must not contain `pk` or `sk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub key: Key,
    pub attrs: Attributes,
}

impl Item {
    pub fn new(key: Key, attrs: Attributes) -> Self {
        Self { key, attrs }
    }

    /// The `version` attribute, when it is a non-negative integer.
    pub fn version(&self) -> Option<u64> {
        self.attrs.get(VERSION_ATTR).and_then(Value::as_u64)
    }

    /// A string attribute, if present and a string.
    pub fn str_attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }
}

/// A secondary index, declared as data so that `template.yaml`, the DynamoDB adapter and
/// the embedded store cannot disagree (a test compares the template with [`INDEXES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Index {
    /// The index name (DynamoDB `IndexName`).
    pub name: &'static str,
    /// The attribute holding the index partition key (a string).
    pub pk_attr: &'static str,
    /// The attribute holding the index sort key (a string).
    pub sk_attr: &'static str,
}

/// First general-purpose global secondary index.
pub const GSI1: Index = Index { name: "gsi1", pk_attr: "gsi1pk", sk_attr: "gsi1sk" };

/// Second general-purpose global secondary index.
pub const GSI2: Index = Index { name: "gsi2", pk_attr: "gsi2pk", sk_attr: "gsi2sk" };

/// Third general-purpose global secondary index (the provisioning domain's email lookup).
pub const GSI3: Index = Index { name: "gsi3", pk_attr: "gsi3pk", sk_attr: "gsi3sk" };

/// Every secondary index of the table. Index projections are ALL: index queries return
/// whole items.
pub const INDEXES: [Index; 3] = [GSI1, GSI2, GSI3];

/// A condition on the current item with the write's key, checked atomically with the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// No condition.
    None,
    /// No item with this key exists (create).
    Absent,
    /// An item with this key exists.
    Present,
    /// An item exists and its `version` attribute equals this number (optimistic
    /// concurrency; a missing item or missing attribute fails).
    VersionEquals(u64),
    /// An item exists and its string attribute `name` is one of `values`, which must not
    /// be empty (e.g. "the member exists and comes from a source the caller may name").
    AttributeIn { name: String, values: Vec<String> },
}

impl Condition {
    /// Whether the condition holds for `current` (the stored item, if any). The embedded
    /// store and the contract tests use this; DynamoDB evaluates the same rules server-side.
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match self {
            Condition::None => true,
            Condition::Absent => current.is_none(),
            Condition::Present => current.is_some(),
            Condition::VersionEquals(v) => current.and_then(Item::version) == Some(*v),
            Condition::AttributeIn { name, values } => current
                .and_then(|item| item.attrs.get(name))
                .and_then(|value| value.as_str())
                .is_some_and(|value| values.iter().any(|allowed| allowed == value)),
        }
    }
}

/// One operation of a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactOp {
    Put {
        item: Item,
        condition: Condition,
    },
    Delete {
        key: Key,
        condition: Condition,
    },
    /// A condition on another item, without writing it (e.g. "the group still exists").
    /// Its condition must not be [`Condition::None`].
    Check {
        key: Key,
        condition: Condition,
    },
    /// Adds each `(attribute, delta)` to a numeric attribute of the item (an absent
    /// attribute counts as 0), keeping its other attributes; an absent item is created
    /// with the key and these attributes when the condition allows it. Counters and
    /// version bumps without a read (DynamoDB's `UpdateItem` with `SET #a = if_not_exists(#a, 0) + :d`).
    /// The attributes must not be key or index attributes.
    Increment {
        key: Key,
        by: Vec<(String, i64)>,
        condition: Condition,
    },
}

impl TransactOp {
    pub fn key(&self) -> &Key {
        match self {
            TransactOp::Put { item, .. } => &item.key,
            TransactOp::Delete { key, .. } | TransactOp::Check { key, .. } | TransactOp::Increment { key, .. } => key,
        }
    }

    pub fn condition(&self) -> &Condition {
        match self {
            TransactOp::Put { condition, .. }
            | TransactOp::Delete { condition, .. }
            | TransactOp::Check { condition, .. }
            | TransactOp::Increment { condition, .. } => condition,
        }
    }
}

/// Why one operation of a canceled transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelReason {
    /// The operation's condition did not hold.
    ConditionFailed,
}

/// A condition on the sort key (or the index sort key) of a query. Comparisons are on
/// the UTF-8 bytes of the strings, as in DynamoDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    All,
    Equals(String),
    Prefix(String),
    /// Inclusive on both ends.
    Between(String, String),
    Less(String),
    LessOrEqual(String),
    Greater(String),
    GreaterOrEqual(String),
}

/// An opaque continuation cursor, as returned in [`Page::cursor`]. Its bytes are only
/// meaningful to the implementation that produced them, for the same query; callers may
/// encode them (e.g. base64) into their own cursors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(pub Vec<u8>);

/// A query: the items of one partition (of the table, or of an index), in sort-key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `None` for the table, otherwise one of [`INDEXES`]. Index queries are eventually
    /// consistent on DynamoDB (a write may show up in a GSI a moment later, and
    /// transactions are not isolated from index reads); table queries are strongly
    /// consistent. The embedded store is always consistent. The domain must not rely on
    /// an index read for a uniqueness decision: that is what conditional writes are for.
    pub index: Option<Index>,
    /// The partition key value (`pk`, or the index's partition key attribute).
    pub pk: String,
    pub sort: SortKey,
    /// At most this many items in the page (at least 1). `None`: as many as the
    /// implementation returns in one round trip (DynamoDB: up to 1 MB).
    pub limit: Option<u32>,
    /// The cursor of the previous page, if any.
    pub cursor: Option<Cursor>,
    /// Descending sort-key order.
    pub descending: bool,
}

impl Query {
    /// All items of a table partition, ascending, first page.
    pub fn partition(pk: impl Into<String>) -> Self {
        Self { index: None, pk: pk.into(), sort: SortKey::All, limit: None, cursor: None, descending: false }
    }

    /// All items of an index partition, ascending, first page.
    pub fn index(index: Index, pk: impl Into<String>) -> Self {
        Self { index: Some(index), ..Self::partition(pk) }
    }

    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = sort;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow (a following page may still be empty, as on
    /// DynamoDB); absent when the query is exhausted.
    pub cursor: Option<Cursor>,
}

/// Store errors. `Throttled` and `Unavailable` are retryable (the HTTP layer answers
/// 429/503 with `Retry-After`); the others are final answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The condition of a single put/delete did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was canceled; nothing was written. One entry per operation, in
    /// order: `Some` for the operations whose condition failed.
    #[error("transaction canceled: {reasons:?}")]
    TransactionCanceled { reasons: Vec<Option<CancelReason>> },
    /// The store is overloaded; retry after the given delay. Nothing was written.
    #[error("throttled, retry after {retry_after:?}")]
    Throttled { retry_after: Duration },
    /// The store could not be reached or failed; the write may or may not have happened
    /// (retry with the same condition: it makes the retry safe).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request can never succeed (item too large, too many operations, bad cursor..).
    #[error("invalid store request: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Throttled { .. } | StoreError::Unavailable(_))
    }
}

/// The item store port. Every method is one round trip to the store.
///
/// Futures are `Send` so that handlers generic over `S: ItemStore` can be spawned.
pub trait ItemStore: Send + Sync {
    /// The item with this key (strongly consistent read).
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send;

    /// Writes (creates or replaces) the item if `condition` holds, else
    /// [`StoreError::ConditionFailed`].
    fn put(&self, item: Item, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the item (deleting a missing item is not an error) if `condition` holds,
    /// else [`StoreError::ConditionFailed`].
    fn delete(&self, key: &Key, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to [`MAX_TRANSACT_OPS`] operations on distinct keys, all or nothing.
    fn transact(&self, ops: Vec<TransactOp>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of a query.
    fn query(&self, query: &Query) -> impl Future<Output = Result<Page, StoreError>> + Send;
}

/// Shared stores are stores: lets tasks hold an `Arc<S>`.
impl<S: ItemStore> ItemStore for Arc<S> {
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send {
        (**self).get(key)
    }

    fn put(&self, item: Item, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put(item, condition)
    }

    fn delete(&self, key: &Key, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).delete(key, condition)
    }

    fn transact(&self, ops: Vec<TransactOp>) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).transact(ops)
    }

    fn query(&self, query: &Query) -> impl Future<Output = Result<Page, StoreError>> + Send {
        (**self).query(query)
    }
}
