//! The optional seat limit: a per-tenant counter item, changed in the same transaction as
//! the user it counts, conditional on its version (so concurrent creates cannot exceed the
//! limit). The store has no atomic increment, so a create in a tenant with a limit reads
//! the counter first.
//!
//! Only tenants with a limit have a counter: concurrent creates all racing for one item
//! would serialise every create of a tenant (each loser re-reads and retries), which
//! only a limit justifies. A tenant without a limit has no counter item, and its creates
//! and deletes check that it is still absent in their own transaction instead of reading
//! it: one transaction, no read (DESIGN.md's create budget). A limit set meanwhile fails
//! that check, and the write retries with the counter. Setting a limit on a tenant
//! without one counts its users first; a create committed while that count runs may be
//! missed (the count is then low by the creates in flight; setting the limit again
//! recounts).

use item_store::{Attributes, Condition, GSI1, Item, ItemStore, Query, TransactOp};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::keys;
use crate::ownership::{Actor, Caller};
use crate::service::{Provisioning, u64_attr};

/// How often a create or delete retries after losing the race for the counter.
pub const MAX_COUNTER_RETRIES: usize = 64;

/// The longest pause between two retries.
const MAX_BACKOFF_MS: u64 = 64;

/// Waits before retry `attempt` (0-based) of a lost race: a random time below an
/// exponentially growing bound, so that writers that collided do not collide again
/// (without it, a writer can keep losing to newer ones and starve).
pub(crate) async fn backoff(attempt: usize) {
    let bound = (1u64 << attempt.min(6)).min(MAX_BACKOFF_MS);
    let mut random = [0u8; 8];
    // Without randomness the bound itself is still a pause.
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % (bound + 1),
        Err(_) => bound,
    };
    tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seats {
    /// Users counted; maintained only while there is a limit.
    pub used: u64,
    pub limit: Option<u64>,
    /// The counter item's version; 0 when there is no counter (no limit).
    pub version: u64,
}

pub(crate) fn counter_item(tenant: &str, used: u64, limit: Option<u64>, version: u64) -> Item {
    let mut attrs = Attributes::new();
    attrs.insert("used".into(), used.into());
    if let Some(limit) = limit {
        attrs.insert("limit".into(), limit.into());
    }
    attrs.insert("version".into(), version.into());
    Item::new(keys::seats(tenant), attrs)
}

impl Seats {
    /// A tenant without a limit, as a write assumes before it has read anything.
    pub const UNLIMITED: Seats = Seats { used: 0, limit: None, version: 0 };

    /// The operation taking one more seat, or 409 when the limit is reached. Without a
    /// limit: the check that there still is none.
    pub(crate) fn take(&self, tenant: &str) -> Result<TransactOp> {
        let Some(limit) = self.limit else { return Ok(self.unchanged(tenant)) };
        if self.used >= limit {
            return Err(Error::conflict(format!(
                "seat limit of {limit} users reached: delete users or ask the tenant administrator to raise the limit"
            )));
        }
        Ok(self.write(tenant, self.used + 1))
    }

    /// The operation giving a seat back. Without a limit: the check that there still is
    /// none.
    pub(crate) fn release(&self, tenant: &str) -> TransactOp {
        match self.limit {
            Some(_) => self.write(tenant, self.used.saturating_sub(1)),
            None => self.unchanged(tenant),
        }
    }

    fn unchanged(&self, tenant: &str) -> TransactOp {
        TransactOp::Check { key: keys::seats(tenant), condition: self.current() }
    }

    fn write(&self, tenant: &str, used: u64) -> TransactOp {
        TransactOp::Put { item: counter_item(tenant, used, self.limit, self.version + 1), condition: self.current() }
    }

    /// The condition that the counter is still as read.
    fn current(&self) -> Condition {
        if self.version == 0 { Condition::Absent } else { Condition::VersionEquals(self.version) }
    }
}

impl<S: ItemStore> Provisioning<S> {
    pub async fn seats(&self, tenant: &str) -> Result<Seats> {
        let Some(item) = self.store.get(&keys::seats(tenant)).await? else { return Ok(Seats::UNLIMITED) };
        let seats = Seats {
            used: u64_attr(&item.attrs, "used"),
            limit: item.attrs.get("limit").and_then(Value::as_u64),
            version: u64_attr(&item.attrs, "version"),
        };
        if seats.limit.is_some() {
            self.limited_tenants().insert(tenant.to_string());
        }
        Ok(seats)
    }

    /// The seats a write should assume on its first attempt: read for a tenant this
    /// instance has seen with a limit, otherwise assumed unlimited (and checked in the
    /// write's transaction).
    pub(crate) async fn seats_for_attempt(&self, tenant: &str, attempt: usize) -> Result<Seats> {
        if attempt == 0 && !self.limited_tenants().contains(tenant) {
            return Ok(Seats::UNLIMITED);
        }
        self.seats(tenant).await
    }

    /// Sets or removes the seat limit (admin). Users above a lowered limit stay.
    pub async fn set_seat_limit(&self, caller: &Caller, limit: Option<u64>) -> Result<Seats> {
        if caller.actor != Actor::Admin {
            return Err(Error::Forbidden("only a tenant administrator may set the seat limit".into()));
        }
        for attempt in 0..MAX_COUNTER_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let seats = self.seats(&caller.tenant).await?;
            let used = match (seats.limit, limit) {
                (_, None) => 0,
                (Some(_), Some(_)) => seats.used,
                (None, Some(_)) => self.count_users(&caller.tenant).await?,
            };
            let written = match limit {
                Some(_) => {
                    let item = counter_item(&caller.tenant, used, limit, seats.version + 1);
                    self.store.put(item, seats.current()).await.map(|()| Seats { used, limit, version: seats.version + 1 })
                }
                None if seats.version == 0 => Ok(Seats::UNLIMITED),
                None => self.store.delete(&keys::seats(&caller.tenant), seats.current()).await.map(|()| Seats::UNLIMITED),
            };
            match written {
                Ok(seats) => {
                    if seats.limit.is_none() {
                        self.limited_tenants().remove(&caller.tenant);
                    }
                    return Ok(seats);
                }
                Err(item_store::StoreError::ConditionFailed) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(contended())
    }
}

impl<S: ItemStore> Provisioning<S> {
    /// The tenant's users, counted page by page (an admin action, O(tenant)).
    async fn count_users(&self, tenant: &str) -> Result<u64> {
        let query = Query::index(GSI1, keys::listing(tenant, crate::types::USERS.name()));
        let mut count = 0u64;
        let mut cursor = None;
        loop {
            let page = self.store.query(&query.clone().after(cursor)).await?;
            count += page.items.len() as u64;
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(count),
            }
        }
    }
}

pub(crate) fn contended() -> Error {
    Error::Retryable {
        throttled: false,
        retry_after: std::time::Duration::from_secs(1),
        detail: "too many concurrent changes to the tenant's user count; retry after the delay".into(),
    }
}
