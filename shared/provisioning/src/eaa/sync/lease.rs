//! One sync per tenant at a time: a lease item (`EAASYNC#LEASE`) taken with a conditional
//! put (absent, or expired and at the version read), valid for the step's budget plus
//! [`LEASE_MARGIN`].

use std::time::Duration;

use item_store::{Condition, Item, ItemStore, StoreError};
use serde_json::{Value, json};

use crate::eaa::sync::mapping::to_attrs;
use crate::error::Result;
use crate::service::Provisioning;
use crate::storage::ids::new_id;
use crate::storage::keys;

/// How long a lease outlives the step's budget (a crashed step blocks the next for at
/// most its budget plus this).
pub const LEASE_MARGIN: Duration = Duration::from_secs(60);
impl<S: ItemStore> Provisioning<S> {
    /// The lease's version when taken, `None` when another holder's lease is valid.
    pub(crate) async fn take_lease(&self, tenant: &str, valid_for: Duration) -> Result<Option<u64>> {
        let key = keys::eaa_sync(tenant, "LEASE");
        let now = self.clock.now().unix_timestamp();
        let current = self.store.get(&key).await?;
        let condition = match &current {
            None => Condition::Absent,
            Some(item) if item.attrs.get("expiresAt").and_then(Value::as_i64).is_some_and(|at| at > now) => return Ok(None),
            Some(item) => Condition::VersionEquals(item.version().unwrap_or(0)),
        };
        let version = current.and_then(|i| i.version()).unwrap_or(0) + 1;
        let attrs = to_attrs(&json!({"holder": new_id(), "version": version, "expiresAt": now + valid_for.as_secs() as i64}));
        match self.store.put(Item::new(key, attrs), condition).await {
            Ok(()) => Ok(Some(version)),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Best effort: a lease left behind expires by itself.
    pub(crate) async fn release_lease(&self, tenant: &str, version: u64) {
        let _ = self.store.delete(&keys::eaa_sync(tenant, "LEASE"), Condition::VersionEquals(version)).await;
    }
}
