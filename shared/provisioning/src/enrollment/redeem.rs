//! What the enrollment link leads to (the `enroll` function) and the admin's "resend
//! enrollment email".
//!
//! A link works when its signature holds, it has not expired, its user exists and is not
//! suspended (`PROVISIONING_DISABLED`), and its nonce is still the one in the user's
//! outbox item, unused. Enrolling consumes the nonce in the same transaction that
//! registers the device and turns the user `ACTIVE`, conditional on both items' versions:
//! a link works once, and a refused link changes nothing.

use item_store::{Condition, ItemStore, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::enrollment::config::EnrollmentConfig;
use crate::enrollment::link::{LinkClaims, TokenError};
use crate::enrollment::outbox::{self, OutboxItem, OutboxState, PendingEmail};
use crate::error::{Error, Result};
use crate::log::{LogOperation, LogOutcome, name_log};
use crate::mfa::devices::{Device, DeviceType, NewDevice};
use crate::mfa::state::{EnrollmentEmail, MfaState, UserStatus};
use crate::resources::record::Record;
use crate::resources::types::USERS;
use crate::service::Provisioning;
use crate::storage::ids::new_id;
use crate::storage::keys;
use crate::tenancy::ownership::Caller;

/// The most users one resend request names (one transaction each).
pub const MAX_RESEND_USERS: usize = 100;

/// Rounds of check-then-write before a contended enrollment gives up (retryable).
const MAX_ENROLL_ATTEMPTS: usize = 3;

/// Why an enrollment link was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq)]
pub enum EnrollError {
    /// Not a link of ours: altered, truncated or signed with another key.
    Tampered,
    Expired,
    /// Already used to enroll a device, or replaced by a newer email.
    Used,
    /// The user no longer exists.
    UserDeleted,
    /// The user is suspended (`PROVISIONING_DISABLED`); the link works again once restored.
    UserSuspended,
    /// The store failed (retryable ones are 429/503 with `Retry-After`).
    Store(Error),
}

impl EnrollError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            EnrollError::Tampered => 400,
            EnrollError::Expired | EnrollError::Used | EnrollError::UserDeleted => 410,
            EnrollError::UserSuspended => 403,
            EnrollError::Store(error) => error.to_scim().status,
        }
    }

    /// A stable code for the page or client.
    pub fn code(&self) -> &'static str {
        match self {
            EnrollError::Tampered => "invalidLink",
            EnrollError::Expired => "expiredLink",
            EnrollError::Used => "usedLink",
            EnrollError::UserDeleted => "userDeleted",
            EnrollError::UserSuspended => "userSuspended",
            EnrollError::Store(_) => "unavailable",
        }
    }

    /// What to tell the user.
    pub fn message(&self) -> String {
        match self {
            EnrollError::Tampered => {
                "This enrollment link is not valid: it may have been altered or cut short. Open the link from the email exactly as sent."
                    .into()
            }
            EnrollError::Expired => "This enrollment link has expired. Ask your administrator to send a new enrollment email.".into(),
            EnrollError::Used => "This enrollment link was already used, or a newer enrollment email replaced it.".into(),
            EnrollError::UserDeleted => "The account this link was sent for no longer exists.".into(),
            EnrollError::UserSuspended => "The account this link was sent for is suspended. Contact your administrator.".into(),
            EnrollError::Store(error) => error.detail(),
        }
    }
}

impl std::fmt::Display for EnrollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for EnrollError {}

impl From<Error> for EnrollError {
    fn from(error: Error) -> Self {
        EnrollError::Store(error)
    }
}

impl From<item_store::StoreError> for EnrollError {
    fn from(error: item_store::StoreError) -> Self {
        EnrollError::Store(error.into())
    }
}

/// What a working link enrolls (for the enrollment page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentInfo {
    pub user_id: String,
    pub user_name: String,
    /// The name to greet the user with.
    pub display_name: String,
    pub product_name: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// The body of a resend request: `{"userIds":[...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendRequest {
    pub user_ids: Vec<String>,
}

/// The body of an enrollment: `{"deviceName":..,"deviceType":"PUSH",..,"platform":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollDeviceRequest {
    pub device_name: String,
    pub device_type: DeviceType,
    #[serde(default)]
    pub platform: String,
}

impl From<EnrollDeviceRequest> for NewDevice {
    fn from(request: EnrollDeviceRequest) -> Self {
        NewDevice { device_name: request.device_name, device_type: request.device_type, platform: request.platform }
    }
}

/// The answer of a resend (`POST /email-enrollments` in the MFA product's API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendResult {
    /// Users whose email is queued (the mailer sends it).
    pub successfully_sent: Vec<String>,
    pub failed_to_send: Vec<FailedSend>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedSend {
    pub user_id: String,
    pub reason: String,
}

/// A link that passed every check, with what enrolling must be conditional on.
struct CheckedLink {
    claims: LinkClaims,
    user: Record,
    outbox: OutboxItem,
}

impl<S: ItemStore> Provisioning<S> {
    async fn check_link(&self, config: &EnrollmentConfig, token: &str) -> Result<CheckedLink, EnrollError> {
        let claims = config.key.verify(token, self.clock.now().unix_timestamp()).map_err(|error| match error {
            TokenError::Tampered => EnrollError::Tampered,
            TokenError::Expired => EnrollError::Expired,
        })?;
        if claims.user_id.is_empty() || claims.user_id.len() > keys::MAX_KEY_VALUE_BYTES || claims.tenant.is_empty() {
            return Err(EnrollError::Tampered);
        }
        let user = match self.store.get(&keys::resource(&claims.tenant, &claims.user_id)).await? {
            Some(item) => Record::from_item(&item)?,
            None => return Err(EnrollError::UserDeleted),
        };
        if user.type_name != USERS.name() {
            return Err(EnrollError::UserDeleted);
        }
        if user.mfa.unwrap_or_default().status == UserStatus::ProvisioningDisabled {
            return Err(EnrollError::UserSuspended);
        }
        let outbox = self.outbox_email(&claims.tenant, &claims.user_id).await?.ok_or(EnrollError::Used)?;
        // The nonces are random secrets: compared in constant time as well.
        let same_nonce = crate::tenancy::secrets::hashes_match(&outbox.email.nonce, &claims.nonce);
        if !same_nonce || outbox.email.used_at.is_some() {
            return Err(EnrollError::Used);
        }
        Ok(CheckedLink { claims, user, outbox })
    }

    /// What the link enrolls, without using it.
    pub async fn describe_enrollment(&self, config: &EnrollmentConfig, token: &str) -> Result<EnrollmentInfo, EnrollError> {
        let link = self.check_link(config, token).await?;
        let expires = time::OffsetDateTime::from_unix_timestamp(link.claims.expires_at).map_err(|_| EnrollError::Tampered)?;
        Ok(EnrollmentInfo {
            user_id: link.user.id.clone(),
            user_name: link.user.resource.get("userName").and_then(Value::as_str).unwrap_or_default().to_string(),
            display_name: outbox::greeting_name(&link.user.resource),
            product_name: config.product_name.clone(),
            expires_at: rfc3339(expires),
        })
    }

    /// Registers a device through the link, once: the device, the user's MFA state
    /// (`ACTIVE`) and the consumed nonce in one transaction, conditional on the user's and
    /// the outbox item's versions. A concurrent second use finds the nonce consumed.
    pub async fn enroll_device(&self, config: &EnrollmentConfig, token: &str, new: NewDevice) -> Result<Device, EnrollError> {
        // A canceled transaction means the link was used concurrently or the user changed
        // (suspended, deleted, modified) between the check and the write: checking again
        // gives the precise answer, or a fresh version to retry on.
        for _ in 0..MAX_ENROLL_ATTEMPTS {
            let link = self.check_link(config, token).await?;
            let tenant = link.claims.tenant.clone();
            let now = self.clock.now();
            let device = Device {
                device_id: new_id(),
                device_name: new.device_name.clone(),
                device_type: new.device_type,
                platform: new.platform.clone(),
                is_device_enabled: true,
                created_date: rfc3339(now),
            };
            let device_attrs = serde_json::to_value(&device).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
            let device_key = keys::device(&tenant, &link.user.id, &device.device_id);
            let user = Record {
                version: link.user.version + 1,
                mfa: Some(link.user.mfa.unwrap_or_default().with_device_added()),
                ..link.user.clone()
            };
            // Used, and sent for sure (it was opened): a mailer that crashed before marking
            // it sent must not send it again after its lease expires.
            let consumed =
                PendingEmail { used_at: Some(now.unix_timestamp()), state: OutboxState::Sent, lease_until: None, ..link.outbox.email };
            let ops = vec![
                TransactOp::Put { item: user.to_item(&tenant, &USERS), condition: Condition::VersionEquals(link.user.version) },
                TransactOp::Put {
                    item: consumed.to_item(link.outbox.version + 1),
                    condition: Condition::VersionEquals(link.outbox.version),
                },
                TransactOp::Put { item: item_store::Item::new(device_key, device_attrs), condition: Condition::Absent },
            ];
            match self.store.transact(ops).await {
                Ok(()) => {
                    let detail =
                        format!("device \"{}\" ({:?}) enrolled through the enrollment link", device.device_name, device.device_type);
                    let subject = (user.id.as_str(), user.resource.get("userName").and_then(Value::as_str).unwrap_or_default());
                    self.log_system(&tenant, "enrollment link", LogOperation::Enroll, subject, LogOutcome::Success, detail).await;
                    return Ok(device);
                }
                Err(item_store::StoreError::TransactionCanceled { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(EnrollError::Store(Error::Retryable {
            throttled: false,
            retry_after: std::time::Duration::from_secs(1),
            detail: "the account is being changed concurrently; retry after the delay".into(),
        }))
    }

    /// The admin's "resend enrollment email": queues a new email (new link; the previous
    /// link stops working) for each user that has an address and is not suspended, in one
    /// transaction per user with its MFA state and a log entry. The mailer sends them.
    pub async fn resend_enrollment_emails(&self, caller: &Caller, user_ids: &[String]) -> Result<ResendResult> {
        caller.require_admin("resend enrollment emails")?;
        if user_ids.len() > MAX_RESEND_USERS {
            return Err(Error::too_many(format!("at most {MAX_RESEND_USERS} users per request; {} were given", user_ids.len())));
        }
        let mut result = ResendResult::default();
        for id in user_ids {
            match self.resend_one(caller, id).await {
                Ok(()) => result.successfully_sent.push(id.clone()),
                Err(error) if error.is_retryable() => return Err(error),
                Err(error) => result.failed_to_send.push(FailedSend { user_id: id.clone(), reason: error.detail() }),
            }
        }
        Ok(result)
    }

    async fn resend_one(&self, caller: &Caller, id: &str) -> Result<()> {
        let tenant = &caller.tenant;
        let missing = || Error::not_found(format!("no user with id \"{id}\""));
        if id.is_empty() || id.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(missing());
        }
        let record = Record::from_item(&self.store.get(&keys::resource(tenant, id)).await?.ok_or_else(missing)?)?;
        if record.type_name != USERS.name() {
            return Err(missing());
        }
        let mfa = record.mfa.unwrap_or_default();
        if mfa.status == UserStatus::ProvisioningDisabled {
            return Err(Error::invalid_value("the user is suspended (PROVISIONING_DISABLED): restore the user first"));
        }
        let email = outbox::address(&record.resource).ok_or_else(|| Error::invalid_value("the user has no email address"))?;
        let pending = self.new_pending_email(tenant, id, &record.resource, email)?;
        // The outbox item keeps counting versions across resends, so that a mailer still
        // holding the old item's lease cannot mark the new one sent.
        let (outbox_version, outbox_condition) = match self.outbox_email(tenant, id).await? {
            Some(old) => (old.version + 1, Condition::VersionEquals(old.version)),
            None => (1, Condition::Absent),
        };
        let user = Record {
            version: record.version + 1,
            mfa: Some(MfaState { enrollment_email: Some(EnrollmentEmail::Queued), ..mfa }),
            ..record.clone()
        };
        let mut log = self.log_item(caller, LogOperation::EnrollmentEmail, USERS.name(), Some(id), Ok(&[]));
        name_log(&mut log, &USERS, record.resource.get("userName").and_then(Value::as_str));
        let ops = vec![
            TransactOp::Put { item: user.to_item(tenant, &USERS), condition: Condition::VersionEquals(record.version) },
            TransactOp::Put { item: pending.to_item(outbox_version), condition: outbox_condition },
            TransactOp::Put { item: log, condition: Condition::Absent },
        ];
        match self.store.transact(ops).await {
            Ok(()) => Ok(()),
            Err(item_store::StoreError::TransactionCanceled { .. }) => {
                Err(Error::conflict("the user or its enrollment email changed concurrently; retry"))
            }
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bodies() {
        let request: EnrollDeviceRequest =
            serde_json::from_value(serde_json::json!({"deviceName": "Phone", "deviceType": "HARDWARE_TOKEN"})).expect("request");
        assert_eq!(NewDevice::from(request).device_type, DeviceType::HardwareToken);
        let resend: ResendRequest = serde_json::from_value(serde_json::json!({"userIds": ["a", "b"]})).expect("resend");
        assert_eq!(resend.user_ids, ["a", "b"]);
    }
}
