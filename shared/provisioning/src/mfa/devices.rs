//! A user's MFA devices: items under their user, registered through an enrollment link
//! and listed or removed by the tenant's administrator. The user's device count and
//! status change in the same transaction.

use item_store::{Condition, ItemStore, Query, SortKey, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::mfa::state::MfaState;
use crate::mfa::summaries::MANAGE;
use crate::resources::record::Record;
use crate::resources::types::USERS;
use crate::service::{MAX_MEMBERS_IN_RESPONSE, Provisioning};
use crate::storage::ids::new_id;
use crate::storage::keys;
use crate::storage::paging;
use crate::storage::retry::{MAX_RETRIES, backoff, contended};
use crate::storage::transaction::Transaction;
use crate::tenancy::ownership::Caller;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeviceType {
    Push,
    PhoneOnly,
    SecurityKey,
    Totp,
    HardwareToken,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub device_id: String,
    pub device_name: String,
    pub device_type: DeviceType,
    pub platform: String,
    pub is_device_enabled: bool,
    pub created_date: String,
}

/// What registering a device needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub device_name: String,
    pub device_type: DeviceType,
    pub platform: String,
}

impl<S: ItemStore> Provisioning<S> {
    pub async fn list_devices(&self, caller: &Caller, user: &str) -> Result<Vec<Device>> {
        caller.require_admin(MANAGE)?;
        self.user_record(caller, user).await?;
        let query = Query::partition(keys::resource_partition(&caller.tenant, user)).sort(SortKey::Prefix(keys::device_prefix().into()));
        let items = paging::collect(&self.store, query, MAX_MEMBERS_IN_RESPONSE, "devices").await?;
        items
            .into_iter()
            .map(|item| serde_json::from_value(Value::Object(item.attrs)).map_err(|e| Error::Internal(format!("stored device: {e}"))))
            .collect()
    }

    /// Registers a device: the device item and the user's new MFA state (an unenrolled
    /// user becomes ACTIVE) in one transaction, conditional on the user's version.
    pub async fn add_device(&self, caller: &Caller, user: &str, new: NewDevice) -> Result<Device> {
        caller.require_admin(MANAGE)?;
        let device = Device {
            device_id: new_id(),
            device_name: new.device_name,
            device_type: new.device_type,
            platform: new.platform,
            is_device_enabled: true,
            created_date: rfc3339(self.clock.now()),
        };
        let attrs = serde_json::to_value(&device).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        let item = item_store::Item::new(keys::device(&caller.tenant, user, &device.device_id), attrs);
        self.change_mfa(caller, user, TransactOp::Put { item, condition: Condition::Absent }, MfaState::with_device_added).await?;
        Ok(device)
    }

    pub async fn remove_device(&self, caller: &Caller, user: &str, device: &str) -> Result<()> {
        caller.require_admin(MANAGE)?;
        if device.is_empty() || device.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(Error::not_found(format!("no device \"{device}\" for user \"{user}\"")));
        }
        let op = TransactOp::Delete { key: keys::device(&caller.tenant, user, device), condition: Condition::Present };
        self.change_mfa(caller, user, op, MfaState::with_device_removed).await
    }

    async fn change_mfa(&self, caller: &Caller, user: &str, op: TransactOp, change: fn(MfaState) -> MfaState) -> Result<()> {
        for attempt in 0..MAX_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let record = self.user_record(caller, user).await?;
            let updated = Record { version: record.version + 1, mfa: Some(change(record.mfa.unwrap_or_default())), ..record.clone() };
            let mut transaction = Transaction::new();
            let user_op = transaction.push(TransactOp::Put {
                item: updated.to_item(&caller.tenant, &USERS),
                condition: Condition::VersionEquals(record.version),
            });
            let device_op = transaction.push(op.clone());
            match transaction.run(&self.store).await {
                Ok(()) => return Ok(()),
                Err(failed) if failed.at(device_op) => {
                    return Err(Error::not_found(format!("no such device for user \"{user}\" (or it already exists)")));
                }
                Err(failed) if failed.at(user_op) => continue,
                Err(failed) => return Err(failed.into()),
            }
        }
        Err(contended("the user's devices"))
    }
}
