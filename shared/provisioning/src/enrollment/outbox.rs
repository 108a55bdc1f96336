//! Enrollment emails through an outbox (docs/ARCHITECTURE.md, "Enrollment email"): a user
//! of an integration with *send enrollment emails* is mailed once, as soon as they are
//! active, unenrolled, have an address and were never mailed: the write that makes it so
//! (the create or first claim, the one that brings the address, the one that restores
//! the user) puts an outbox item in its own transaction. The mailer (`delivery`) leases,
//! sends and marks it sent with conditional writes. A user who cannot be mailed yet
//! (suspended, no address) is marked so on the user and in the provisioning log.
//!
//! The outbox item is also the enrollment link's single-use state: it holds the per-email
//! nonce that the link names, and enrollment consumes it (see `enroll`).

use item_store::{Attributes, Condition, GSI1, Item, ItemStore, Query, SortKey, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::mfa::state::{EnrollmentEmail, MfaState, UserStatus};
use crate::resources::attributes::work_email;
use crate::service::Provisioning;
use crate::storage::keys::{self, GSI1_PK, GSI1_SK};
use crate::tenancy::ownership::{Actor, Caller};

/// The provisioning log's detail for a user that cannot be sent an enrollment email.
pub const NO_ADDRESS_DETAIL: &str = "no enrollment email: user has no email address";

/// The provisioning log's detail for a user not mailed because they are suspended.
pub const SUSPENDED_DETAIL: &str = "no enrollment email: user is suspended (it is sent when the user is restored)";

/// Marks outbox items, so that a stream filter can select them by their new image.
pub const OUTBOX_KIND: &str = "enrollmentEmail";

/// Where an outbox item is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboxState {
    /// Waiting to be sent (again, after `not_before`, when an attempt failed).
    #[default]
    Pending,
    /// Leased by a mailer until `lease_until`: sending now, or crashed (the lease expires
    /// and the email is retried, so a crash never loses it).
    Sending,
    Sent,
    /// Every attempt failed; the reason is in `last_error` and in the provisioning log.
    Failed,
}

impl OutboxState {
    /// How [`OutboxState::Pending`] is stored (what a change feed's filter matches).
    pub const PENDING: &'static str = "PENDING";
}

/// An enrollment email in the outbox (one per user: a resend replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingEmail {
    pub tenant: String,
    pub user_id: String,
    pub user_name: String,
    /// The name to greet the user with (display name, formatted name, or userName).
    #[serde(default)]
    pub display_name: String,
    pub email: String,
    /// Unix seconds.
    pub queued_at: i64,
    /// The per-email secret the link names; consumed at enrollment.
    #[serde(default)]
    pub nonce: String,
    #[serde(default)]
    pub state: OutboxState,
    /// Send attempts started so far.
    #[serde(default)]
    pub attempts: u32,
    /// Unix milliseconds: while `Sending`, no other mailer takes the item before this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// Unix milliseconds: a `Pending` item after a failed attempt waits until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<i64>,
    /// Unix seconds: when the link was used to enroll a device (it works once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<i64>,
    /// Unix seconds: when the link expires, fixed by the first lease. Every attempt signs
    /// the same claims (tenant, user, nonce, this expiry), so an email sent twice (a crash
    /// after the provider accepted it, before it was marked sent) carries the very same
    /// single-use link twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_expires_at: Option<i64>,
}

/// A stored outbox item with its version (every change is conditional on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub email: PendingEmail,
    pub version: u64,
}

impl PendingEmail {
    /// When the item is next due for a mailer, in unix milliseconds (`None`: never again).
    fn due_millis(&self) -> Option<i64> {
        match self.state {
            OutboxState::Pending => Some(self.not_before.unwrap_or(self.queued_at.saturating_mul(1000))),
            OutboxState::Sending => self.lease_until,
            OutboxState::Sent | OutboxState::Failed => None,
        }
    }

    /// The item at `version`. Items still to be sent are in gsi1 under their due time, so
    /// the local mailer's query finds exactly the due ones (expired leases included).
    pub(crate) fn to_item(&self, version: u64) -> Item {
        let mut attrs: Attributes = serde_json::to_value(self).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        attrs.insert("version".into(), version.into());
        attrs.insert("kind".into(), OUTBOX_KIND.into());
        if let Some(due) = self.due_millis() {
            attrs.insert(GSI1_PK.into(), keys::PENDING_OUTBOX.into());
            let due_nanos = i128::from(due) * 1_000_000;
            attrs.insert(GSI1_SK.into(), keys::pending_outbox_sort(due_nanos, &self.tenant, &self.user_id).into());
        }
        Item::new(keys::outbox(&self.tenant, &self.user_id), attrs)
    }

    fn from_item(item: &Item) -> Result<OutboxItem> {
        let email = serde_json::from_value(Value::Object(item.attrs.clone()))
            .map_err(|e| Error::Internal(format!("stored outbox item {}: {e}", item.key)))?;
        Ok(OutboxItem { email, version: item.version().unwrap_or(0) })
    }
}

/// The address to send to: the work email, else the primary one, else the first.
pub fn address(resource: &Value) -> Option<&str> {
    let emails = resource.get("emails")?.as_array()?;
    work_email(resource)
        .or_else(|| emails.iter().filter(|e| e.get("primary").and_then(Value::as_bool) == Some(true)).find_map(email_value))
        .or_else(|| emails.iter().find_map(email_value))
}

fn email_value(email: &Value) -> Option<&str> {
    email.get("value").and_then(Value::as_str).filter(|v| !v.is_empty())
}

/// The name an email greets the user with.
pub fn greeting_name(resource: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let name = resource.get("name");
    let given_family = || {
        let parts: Vec<String> =
            [name.and_then(|n| n.get("givenName")), name.and_then(|n| n.get("familyName"))].into_iter().filter_map(text).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    text(resource.get("displayName"))
        .or_else(|| text(name.and_then(|n| n.get("formatted"))))
        .or_else(given_family)
        .or_else(|| text(resource.get("userName")))
        .unwrap_or_default()
}

/// A fresh per-email nonce (128 random bits, hex).
pub(crate) fn new_nonce() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness for an enrollment nonce: {e}")))?;
    Ok(hex::encode(bytes))
}

/// What a write does about the enrollment email: the user's new marker and the outbox
/// operation to add to the write's transaction.
pub(crate) struct EnrollmentPlan {
    pub marker: Option<EnrollmentEmail>,
    pub outbox: Option<TransactOp>,
    /// Why the user is not mailed, for the write's log entry (said once per reason).
    pub detail: Option<&'static str>,
}

impl EnrollmentPlan {
    /// Adds why the user was not mailed to the write's log entry, so that it is visible
    /// in the provisioning log.
    pub fn annotate_log(&self, log: &mut Item) {
        if let Some(detail) = self.detail {
            log.attrs.insert("detail".into(), detail.into());
        }
    }
}

/// The user as a write found it, for [`Provisioning::enrollment_plan`] (`None`: a create).
pub(crate) struct Before<'a> {
    pub mfa: &'a MfaState,
    pub resource: &'a Value,
    /// The write claims the user: new to the integration, as a create would be.
    pub claimed: bool,
}

impl<S: ItemStore> Provisioning<S> {
    /// The enrollment email of a user write by `caller`, leaving the user with `resource`
    /// and `mfa`. Only an integration with *send enrollment emails* mails, once per user,
    /// and only at a moment that makes the user mailable: new to the integration, the
    /// address arrived, or restored. Switching the setting on later does not mail existing
    /// users on their unrelated updates (the admin's resend does).
    pub(crate) fn enrollment_plan(
        &self,
        caller: &Caller,
        user_id: &str,
        resource: &Value,
        mfa: &MfaState,
        before: Option<Before<'_>>,
    ) -> Result<EnrollmentPlan> {
        let previous = before.as_ref().and_then(|b| b.mfa.enrollment_email);
        let keep = EnrollmentPlan { marker: previous, outbox: None, detail: None };
        let sends = matches!(&caller.actor, Actor::Integration { settings, .. } if settings.send_enrollment_emails);
        if !sends
            || previous == Some(EnrollmentEmail::Queued)
            || !matches!(mfa.status, UserStatus::Unenrolled | UserStatus::ProvisioningDisabled)
        {
            return Ok(keep);
        }
        let not_mailed = |reason: EnrollmentEmail, detail: &'static str| EnrollmentPlan {
            marker: Some(reason),
            outbox: None,
            // Said when the reason is new, not on every later write of the same user.
            detail: (previous != Some(reason)).then_some(detail),
        };
        if mfa.status == UserStatus::ProvisioningDisabled {
            return Ok(not_mailed(EnrollmentEmail::Suspended, SUSPENDED_DETAIL));
        }
        let Some(email) = address(resource) else { return Ok(not_mailed(EnrollmentEmail::NoEmailAddress, NO_ADDRESS_DETAIL)) };
        let moment = match &before {
            None => true,
            Some(before) => before.claimed || address(before.resource).is_none() || before.mfa.status == UserStatus::ProvisioningDisabled,
        };
        if !moment {
            return Ok(keep);
        }
        let pending = self.new_pending_email(&caller.tenant, user_id, resource, email)?;
        let outbox = TransactOp::Put { item: pending.to_item(1), condition: Condition::Absent };
        Ok(EnrollmentPlan { marker: Some(EnrollmentEmail::Queued), outbox: Some(outbox), detail: None })
    }

    pub(crate) fn new_pending_email(&self, tenant: &str, user_id: &str, resource: &Value, email: &str) -> Result<PendingEmail> {
        Ok(PendingEmail {
            tenant: tenant.to_string(),
            user_id: user_id.to_string(),
            user_name: resource.get("userName").and_then(Value::as_str).unwrap_or_default().to_string(),
            display_name: greeting_name(resource),
            email: email.to_string(),
            queued_at: self.clock.now().unix_timestamp(),
            nonce: new_nonce()?,
            state: OutboxState::Pending,
            attempts: 0,
            lease_until: None,
            not_before: None,
            last_error: None,
            message_id: None,
            sent_at: None,
            used_at: None,
            link_expires_at: None,
        })
    }

    /// Emails due to be sent now, soonest first, across tenants (for the local mailer):
    /// new ones, retries whose backoff has passed, and leases that expired.
    pub async fn pending_emails(&self, limit: u32) -> Result<Vec<PendingEmail>> {
        let now_nanos = self.clock.now().unix_timestamp_nanos();
        // Sort keys are `{20-digit due time}#...`; `$` sorts right after `#`, so this bound
        // takes every item due at or before now.
        let bound = format!("{:020}$", now_nanos.max(0));
        let query = Query::index(GSI1, keys::PENDING_OUTBOX).sort(SortKey::Less(bound)).limit(limit.max(1));
        let page = self.store.query(&query).await?;
        page.items.iter().map(|item| PendingEmail::from_item(item).map(|o| o.email)).collect()
    }

    /// The outbox item of a user, if any (strongly consistent).
    pub async fn outbox_email(&self, tenant: &str, user_id: &str) -> Result<Option<OutboxItem>> {
        if user_id.is_empty() || user_id.len() > keys::MAX_KEY_VALUE_BYTES {
            return Ok(None);
        }
        self.store.get(&keys::outbox(tenant, user_id)).await?.map(|item| PendingEmail::from_item(&item)).transpose()
    }
}
