//! How many resources of a type a tenant has: kept as they are created and deleted, not
//! counted when asked (docs/ARCHITECTURE.md, "Decisions": "Counts are maintained, in
//! sharded counters").
//!
//! Every create adds 1 and every delete -1, in the write's own transaction, to one of
//! [`SHARDS`] counter items picked at random: an `Increment`, so no read, and concurrent
//! writes rarely meet on one item (on DynamoDB, two transactions on one item cancel one of
//! them with a conflict, which the adapter retries). A claim changes a record's source,
//! not the count. The count is the sum of the shards and the base item, read with one
//! query of their common prefix (`storage::keys::count_prefix`).
//!
//! A tenant created with counts has a base of 0 from its first transaction. An older
//! tenant has shards (its writes since counts exist) but no base, and its count is
//! established once, by counting its listing: at most `Limits::max_examined` items per
//! request, the position kept in the `recount` item between requests, 503 with
//! `Retry-After` until the end is reached; then the base becomes what was counted minus
//! the shards. That first count is exact when no resource of the type is created or
//! deleted while it runs, otherwise off by those writes (the listing and the shards
//! cannot be read at one instant); a tenant of up to `max_examined` resources is counted
//! within one request.
//!
//! Here rather than in `tenancy` beside the seats: the count belongs to the resource
//! lifecycle (written by `create` and `delete`, per resource type, read by `list`); the
//! seat limit is one policy that reads it.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use item_store::{Attributes, Condition, Cursor, GSI1, Item, ItemStore, Query, SortKey, StoreError, TransactOp};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::resources::types::{GROUPS, TypeDescriptor, USERS};
use crate::service::Provisioning;
use crate::storage::attrs::u64_attr;
use crate::storage::keys;
use crate::storage::paging;

/// Counter items per type and tenant.
pub(crate) const SHARDS: u8 = 16;

/// The numeric attribute of the shards and the base.
const COUNT_ATTR: &str = "count";

/// The operation adding `delta` to a random shard of the type's count, for the
/// transaction of a create (+1) or a delete (-1).
pub(crate) fn count_change(tenant: &str, descriptor: &TypeDescriptor, delta: i64) -> TransactOp {
    TransactOp::Increment {
        key: keys::count_shard(tenant, descriptor.name(), random_shard()),
        by: vec![(COUNT_ATTR.to_string(), delta)],
        condition: Condition::None,
    }
}

fn random_shard() -> u8 {
    let mut byte = [0u8; 1];
    // Without randomness every write takes shard 0: still exact, only more contended.
    match getrandom::fill(&mut byte) {
        Ok(()) => byte[0] % SHARDS,
        Err(_) => 0,
    }
}

/// The base items a new tenant starts with: its counts are complete from the start.
pub(crate) fn new_tenant_counts(tenant: &str) -> Vec<TransactOp> {
    [&USERS, &GROUPS]
        .into_iter()
        .map(|descriptor| TransactOp::Put { item: base_item(tenant, descriptor, 0), condition: Condition::Absent })
        .collect()
}

fn base_item(tenant: &str, descriptor: &TypeDescriptor, base: i64) -> Item {
    let mut attrs = Attributes::new();
    attrs.insert(COUNT_ATTR.into(), base.into());
    Item::new(keys::count_base(tenant, descriptor.name()), attrs)
}

/// What one query of a type's count prefix holds.
struct CountItems {
    /// The sum of the shards (negative when deletes of older resources outnumber creates).
    shards: i64,
    base: Option<i64>,
    recount: Option<Recount>,
}

/// A first count between two requests.
struct Recount {
    position: Cursor,
    counted: u64,
    version: u64,
}

/// Where a count stands.
enum Counted {
    Complete(u64),
    /// A first count that has not reached the end yet: this many counted so far.
    Partial(u64),
}

fn total(base: i64, shards: i64) -> u64 {
    u64::try_from(base.saturating_add(shards)).unwrap_or(0)
}

fn malformed(item: &Item) -> Error {
    Error::Internal(format!("count item {} is malformed", item.key))
}

impl<S: ItemStore> Provisioning<S> {
    /// How many resources of the type the tenant has: one query. An older tenant's first
    /// count advances by at most `Limits::max_examined` items per call and answers 503
    /// with `Retry-After` until it is complete.
    pub(crate) async fn resource_count(&self, tenant: &str, descriptor: &TypeDescriptor) -> Result<u64> {
        match self.count_within(tenant, descriptor, self.limits.max_examined).await? {
            Counted::Complete(count) => Ok(count),
            Counted::Partial(counted) => Err(Error::Retryable {
                throttled: false,
                retry_after: Duration::from_secs(1),
                detail: format!(
                    "this tenant's {} were created before counts were kept and are being counted for the first time \
                     ({counted} so far): retry after the delay, or use cursor pagination (cursor=), which needs no count",
                    descriptor.plural()
                ),
            }),
        }
    }

    /// [`Provisioning::resource_count`], counting an older tenant to the end in one call
    /// (admin actions, which may take O(tenant)).
    pub(crate) async fn resource_count_to_the_end(&self, tenant: &str, descriptor: &TypeDescriptor) -> Result<u64> {
        match self.count_within(tenant, descriptor, usize::MAX).await? {
            Counted::Complete(count) | Counted::Partial(count) => Ok(count),
        }
    }

    async fn count_within(&self, tenant: &str, descriptor: &TypeDescriptor, budget: usize) -> Result<Counted> {
        let found = self.count_items(tenant, descriptor).await?;
        match found.base {
            Some(base) => Ok(Counted::Complete(total(base, found.shards))),
            None => self.first_count(tenant, descriptor, found, budget).await,
        }
    }

    async fn count_items(&self, tenant: &str, descriptor: &TypeDescriptor) -> Result<CountItems> {
        let prefix = keys::count_prefix(descriptor.name());
        let query = Query::partition(keys::tenant_config(tenant)).sort(SortKey::Prefix(prefix.clone()));
        let items = paging::collect(&self.store, query, usize::from(SHARDS) + 2, "count items").await?;
        let mut found = CountItems { shards: 0, base: None, recount: None };
        for item in &items {
            let count = || item.attrs.get(COUNT_ATTR).and_then(Value::as_i64).ok_or_else(|| malformed(item));
            match item.key.sk.strip_prefix(&prefix) {
                Some(keys::COUNT_BASE) => found.base = Some(count()?),
                Some(keys::COUNT_RECOUNT) => {
                    let position = item.attrs.get("position").and_then(Value::as_str).ok_or_else(|| malformed(item))?;
                    found.recount = Some(Recount {
                        position: Cursor(URL_SAFE_NO_PAD.decode(position).map_err(|_| malformed(item))?),
                        counted: u64_attr(&item.attrs, "counted"),
                        version: u64_attr(&item.attrs, "version"),
                    });
                }
                _ => found.shards = found.shards.saturating_add(count()?),
            }
        }
        Ok(found)
    }

    /// Counts an older tenant's listing on from where the last call stopped, at most
    /// `budget` items, and records the base at the end or the position before it.
    async fn first_count(&self, tenant: &str, descriptor: &TypeDescriptor, found: CountItems, budget: usize) -> Result<Counted> {
        let listing = Query::index(GSI1, keys::listing(tenant, descriptor.name()));
        let (position, mut counted, version) = match found.recount {
            Some(recount) => (Some(recount.position), recount.counted, recount.version),
            None => (None, 0, 0),
        };
        let from = listing.after(position);
        let stopped_at = paging::walk(&self.store, &self.walks, &from, budget.max(1), |_| {
            counted += 1;
            Ok(())
        })
        .await?;
        let progress = keys::count_recount(tenant, descriptor.name());
        let as_read = if version == 0 { Condition::Absent } else { Condition::VersionEquals(version) };
        let Some(Cursor(stopped_at)) = stopped_at else {
            let base = i64::try_from(counted).unwrap_or(i64::MAX).saturating_sub(found.shards);
            let mut ops = vec![TransactOp::Put { item: base_item(tenant, descriptor, base), condition: Condition::Absent }];
            if version > 0 {
                ops.push(TransactOp::Delete { key: progress, condition: as_read });
            }
            return match self.store.transact(ops).await {
                Ok(()) => Ok(Counted::Complete(counted)),
                // Another request finished the count (or moved it on) meanwhile: its base
                // stands, if there is one yet.
                Err(StoreError::TransactionCanceled { .. }) => {
                    let again = self.count_items(tenant, descriptor).await?;
                    Ok(again.base.map_or(Counted::Partial(counted), |base| Counted::Complete(total(base, again.shards))))
                }
                Err(other) => Err(other.into()),
            };
        };
        let mut attrs = Attributes::new();
        attrs.insert("position".into(), URL_SAFE_NO_PAD.encode(stopped_at).into());
        attrs.insert("counted".into(), counted.into());
        attrs.insert("version".into(), (version + 1).into());
        match self.store.put(Item::new(progress, attrs), as_read).await {
            // Lost to a request that moved the same count on: the count still advanced.
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(Counted::Partial(counted)),
            Err(other) => Err(other.into()),
        }
    }
}
