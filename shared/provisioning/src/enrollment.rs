//! Enrollment emails through an outbox (DESIGN.md, "Enrollment email"): the create of a
//! user by an integration with *send enrollment emails* writes an outbox item in the same
//! transaction, so the email is queued exactly when the user exists. The mailer sends it
//! and marks it sent with a conditional write, so a retry never sends twice. A user
//! without an email address gets none, and that is recorded on the user (visible).

use item_store::{Attributes, Condition, GSI1, Item, ItemStore, Query, StoreError, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::keys::{self, GSI1_PK, GSI1_SK};
use crate::service::Provisioning;

/// What happened about a user's enrollment email (kept in its MFA state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnrollmentEmail {
    Queued,
    /// The integration sends enrollment emails, but the user has no email address.
    NoEmailAddress,
}

/// An email waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingEmail {
    pub tenant: String,
    pub user_id: String,
    pub user_name: String,
    pub email: String,
    /// Unix seconds.
    pub queued_at: i64,
}

/// The address to send to: the work email, else the primary one, else the first.
pub fn address(resource: &Value) -> Option<&str> {
    let emails = resource.get("emails")?.as_array()?;
    crate::record::work_email(resource)
        .or_else(|| emails.iter().filter(|e| e.get("primary").and_then(Value::as_bool) == Some(true)).find_map(email_value))
        .or_else(|| emails.iter().find_map(email_value))
}

fn email_value(email: &Value) -> Option<&str> {
    email.get("value").and_then(Value::as_str).filter(|v| !v.is_empty())
}

impl<S: ItemStore> Provisioning<S> {
    /// The outbox item for a new user, to put in the create's transaction.
    pub(crate) fn outbox_op(&self, tenant: &str, user_id: &str, user_name: &str, email: &str) -> TransactOp {
        let now = self.clock.now();
        let pending = PendingEmail {
            tenant: tenant.to_string(),
            user_id: user_id.to_string(),
            user_name: user_name.to_string(),
            email: email.to_string(),
            queued_at: now.unix_timestamp(),
        };
        let mut attrs = serde_json::to_value(&pending).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        attrs.insert("version".into(), 1.into());
        attrs.insert(GSI1_PK.into(), keys::PENDING_OUTBOX.into());
        attrs.insert(GSI1_SK.into(), keys::pending_outbox_sort(now.unix_timestamp_nanos(), tenant, user_id).into());
        TransactOp::Put { item: Item::new(keys::outbox(tenant, user_id), attrs), condition: Condition::Absent }
    }

    /// Emails not sent yet, oldest first, across tenants (for the local mailer).
    pub async fn pending_emails(&self, limit: u32) -> Result<Vec<PendingEmail>> {
        let page = self.store.query(&Query::index(GSI1, keys::PENDING_OUTBOX).limit(limit.max(1))).await?;
        page.items
            .into_iter()
            .map(|item| serde_json::from_value(Value::Object(item.attrs)).map_err(|e| Error::Internal(format!("stored outbox item: {e}"))))
            .collect()
    }

    /// Marks an email sent, once: `false` when it was already marked (by a concurrent or
    /// earlier run), in which case the caller must not send it again.
    pub async fn mark_email_sent(&self, email: &PendingEmail) -> Result<bool> {
        let mut attrs: Attributes = serde_json::to_value(email).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        attrs.insert("version".into(), 2.into());
        attrs.insert("sent".into(), true.into());
        let item = Item::new(keys::outbox(&email.tenant, &email.user_id), attrs);
        match self.store.put(item, Condition::VersionEquals(1)).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}
