//! The optional seat limit: a per-tenant counter item, changed in the same transaction as
//! the user it counts, conditional on its version (so concurrent creates cannot exceed the
//! limit). A store condition cannot say "below the limit", so a create in a tenant with a
//! limit reads the counter first.
//!
//! Only tenants with a limit have a counter: concurrent creates all racing for one item
//! would serialise every create of a tenant (each loser re-reads and retries), which
//! only a limit justifies. A tenant without a limit has no counter item, and its creates
//! and deletes check that it is still absent in their own transaction instead of reading
//! it: one transaction, no read (docs/ARCHITECTURE.md, "Budgets"). A limit set meanwhile fails
//! that check, and the write retries with the counter. Setting a limit on a tenant
//! without one starts the counter at the tenant's maintained user count
//! (`resources::counts`); a create committed between reading that count and writing the
//! counter is missed (setting the limit again reads the count again).

use item_store::{Attributes, Condition, Item, ItemStore, TransactOp};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::log::LogOperation;
use crate::resources::types::USERS;
use crate::service::Provisioning;
use crate::storage::attrs::u64_attr;
use crate::storage::keys;
use crate::storage::retry::{MAX_RETRIES, backoff, contended};
use crate::tenancy::ownership::Caller;

/// The shares of the limit, in percent, whose crossing the provisioning log records.
pub const THRESHOLDS: [u64; 2] = [80, 100];

/// What a write that keeps losing the race for the counter reports.
pub(crate) const COUNTER: &str = "the tenant's user count";

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
                "seat limit of {limit} users reached ({} seats used; suspended users hold theirs): delete users to free seats, \
                 or ask the service operator to raise the tenant's limit (the admin function's seatLimit invoke, or \
                 scim-local --seat-limit)",
                self.used
            )));
        }
        Ok(self.write(tenant, self.used + 1))
    }

    /// The share of the limit (80 or 100 percent) that taking one more seat reaches, if it
    /// crosses one: what the provisioning log records.
    pub(crate) fn crossed_by_taking_one(&self) -> Option<u64> {
        let limit = self.limit.filter(|limit| *limit > 0)?;
        let percent = |used: u64| used.saturating_mul(100) / limit;
        THRESHOLDS.into_iter().rev().find(|threshold| percent(self.used) < *threshold && percent(self.used + 1) >= *threshold)
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
    /// The log entry of a create whose seat takes usage to `threshold` percent of the limit.
    pub(crate) fn seats_log_item(&self, caller: &Caller, seats: &Seats, threshold: u64) -> Item {
        let mut item = self.log_item(caller, LogOperation::Seats, "Tenant", Some(&caller.tenant), Ok(&[]));
        let limit = seats.limit.unwrap_or_default();
        let detail = format!("seat usage reached {threshold}% of the limit: {} of {limit} seats used", seats.used + 1);
        item.attrs.insert("detail".into(), detail.into());
        item
    }

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

    /// Sets or removes the seat limit (the operator: the admin function's invoke, or
    /// scim-local's option; a tenant's admin key cannot). Users above a lowered limit stay.
    pub async fn set_seat_limit(&self, caller: &Caller, limit: Option<u64>) -> Result<Seats> {
        caller.require_admin("set the seat limit")?;
        for attempt in 0..MAX_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let seats = self.seats(&caller.tenant).await?;
            let used = match (seats.limit, limit) {
                (_, None) => 0,
                (Some(_), Some(_)) => seats.used,
                (None, Some(_)) => self.resource_count_to_the_end(&caller.tenant, &USERS).await?,
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
        Err(contended(COUNTER))
    }
}
