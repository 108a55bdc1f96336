//! What the admin API and enrollment need beyond SCIM: user summaries with source, status
//! and device count, and devices (items under their user).

use item_store::{Condition, ItemStore, Query, SortKey, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::keys;
use crate::mfa::{MfaState, UserStatus};
use crate::ownership::{Actor, Caller, Source};
use crate::plan::{decode_cursor, encode_cursor};
use crate::record::Record;
use crate::seats::{MAX_COUNTER_RETRIES, backoff, contended};
use crate::secrets::new_id;
use crate::service::Provisioning;
use crate::types::USERS;

const SUMMARY_CURSOR_FINGERPRINT: u64 = 0x7573_6572_7375_6d6d;

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

/// A user as the admin API lists it (the MFA product's user model).
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub id: String,
    pub user_name: String,
    pub source: Source,
    pub status: UserStatus,
    pub device_count: u64,
    /// Whether an enrollment email was queued at creation (or the user had no address).
    pub enrollment_email: Option<crate::enrollment::EnrollmentEmail>,
    pub created: String,
    pub last_modified: String,
    /// The SCIM resource (names, emails..).
    pub resource: Value,
}

fn summary(record: Record) -> UserSummary {
    let mfa = record.mfa.unwrap_or_default();
    UserSummary {
        user_name: record.resource.get("userName").and_then(Value::as_str).unwrap_or_default().to_string(),
        id: record.id,
        source: record.source,
        status: mfa.status,
        device_count: mfa.device_count,
        enrollment_email: mfa.enrollment_email,
        created: record.created,
        last_modified: record.last_modified,
        resource: record.resource,
    }
}

fn require_admin(caller: &Caller) -> Result<()> {
    match caller.actor {
        Actor::Admin => Ok(()),
        Actor::Integration { .. } => Err(Error::Forbidden("devices and user summaries are for tenant administrators".into())),
    }
}

impl<S: ItemStore> Provisioning<S> {
    async fn user_record(&self, caller: &Caller, id: &str) -> Result<Record> {
        if id.is_empty() || id.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(Error::not_found(format!("no user with id \"{id}\"")));
        }
        let item = self
            .store
            .get(&keys::resource(&caller.tenant, id))
            .await?
            .ok_or_else(|| Error::not_found(format!("no user with id \"{id}\"")))?;
        let record = Record::from_item(&item)?;
        if record.type_name != USERS.name() {
            return Err(Error::not_found(format!("no user with id \"{id}\"")));
        }
        Ok(record)
    }

    pub async fn user_summary(&self, caller: &Caller, id: &str) -> Result<UserSummary> {
        require_admin(caller)?;
        Ok(summary(self.user_record(caller, id).await?))
    }

    /// The tenant's users in userName order, `limit` per page, with a cursor for the next.
    pub async fn list_user_summaries(
        &self,
        caller: &Caller,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<UserSummary>, Option<String>)> {
        require_admin(caller)?;
        let partition = keys::listing(&caller.tenant, USERS.name());
        let cursor = after.map(|token| decode_cursor(token, SUMMARY_CURSOR_FINGERPRINT, &partition)).transpose()?;
        let page = self.store.query(&Query::index(item_store::GSI1, partition.clone()).limit(limit.max(1)).after(cursor)).await?;
        let users = page.items.iter().map(|item| Record::from_item(item).map(summary)).collect::<Result<Vec<_>>>()?;
        let next = page.cursor.map(|c| encode_cursor(SUMMARY_CURSOR_FINGERPRINT, &partition, &c.0));
        Ok((users, next))
    }

    pub async fn list_devices(&self, caller: &Caller, user: &str) -> Result<Vec<Device>> {
        require_admin(caller)?;
        self.user_record(caller, user).await?;
        let query = Query::partition(keys::resource_partition(&caller.tenant, user)).sort(SortKey::Prefix(keys::device_prefix().into()));
        let items = self.collect(query, crate::members::MAX_MEMBERS_IN_RESPONSE, "devices").await?;
        items
            .into_iter()
            .map(|item| serde_json::from_value(Value::Object(item.attrs)).map_err(|e| Error::Internal(format!("stored device: {e}"))))
            .collect()
    }

    /// Registers a device: the device item and the user's new MFA state (an unenrolled
    /// user becomes ACTIVE) in one transaction, conditional on the user's version.
    pub async fn add_device(&self, caller: &Caller, user: &str, new: NewDevice) -> Result<Device> {
        require_admin(caller)?;
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
        require_admin(caller)?;
        if device.is_empty() || device.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(Error::not_found(format!("no device \"{device}\" for user \"{user}\"")));
        }
        let op = TransactOp::Delete { key: keys::device(&caller.tenant, user, device), condition: Condition::Present };
        self.change_mfa(caller, user, op, MfaState::with_device_removed).await
    }

    async fn change_mfa(&self, caller: &Caller, user: &str, op: TransactOp, change: fn(MfaState) -> MfaState) -> Result<()> {
        for attempt in 0..MAX_COUNTER_RETRIES {
            if attempt > 0 {
                backoff(attempt).await;
            }
            let record = self.user_record(caller, user).await?;
            let updated = Record { version: record.version + 1, mfa: Some(change(record.mfa.unwrap_or_default())), ..record.clone() };
            let ops = vec![
                TransactOp::Put { item: updated.to_item(&caller.tenant, &USERS), condition: Condition::VersionEquals(record.version) },
                op.clone(),
            ];
            match self.store.transact(ops).await {
                Ok(()) => return Ok(()),
                Err(error) if crate::members::failed_at(&error, 1) => {
                    return Err(Error::not_found(format!("no such device for user \"{user}\" (or it already exists)")));
                }
                Err(error) if crate::members::failed_at(&error, 0) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(contended())
    }
}
