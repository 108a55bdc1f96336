//! The mailer: sends outbox items exactly once (docs/ARCHITECTURE.md, "Enrollment email").
//!
//! Each attempt on an item is: read it; take a lease (a conditional write of state
//! `SENDING` with `leaseUntil`, on the version read); send; mark it `SENT` (conditional on
//! the lease's version). So:
//! - a replayed stream record, or ten tasks on the same record, find the item leased or
//!   sent and do not send it again (only one conditional lease write can win);
//! - a crash between lease and mark leaves a lease that expires, after which the item is
//!   due again (gsi1 lists it under its lease expiry): never lost. A crash after the
//!   provider accepted the email but before the mark is the one case that sends twice
//!   (SES has no idempotency key: delivery is at least once). The duplicate is harmless:
//!   the link's expiry is fixed by the first lease (`link_expires_at`), so every attempt
//!   signs the same claims and the second email carries the very same single-use link
//!   (same nonce, same token), identical content; using it once uses both.
//! - a failed send is retried with exponential backoff; after
//!   [`DeliveryPolicy::max_attempts`] it is `FAILED`, with the provider's reason in the
//!   item and in the provisioning log.
//!
//! Entry points: [`OutboxMailer::process_changes`] (the Lambda `mailer` function, fed by
//! the table's stream through the Lambda glue) and [`OutboxMailer::drain_once`] (the
//! local server's loop, with its `.eml` file mailer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use item_store::{Condition, ItemStore, StoreError};

use crate::enrollment::config::EnrollmentConfig;
use crate::enrollment::link::LinkClaims;
use crate::enrollment::mailer::{Mailer, SendError};
use crate::enrollment::outbox::{OutboxItem, OutboxState, PendingEmail};
use crate::enrollment::template::EnrollmentContent;
use crate::error::Result;
use crate::log::{LogOperation, LogOutcome};
use crate::service::Provisioning;
use crate::storage::keys;

/// Retries, leases and waits of the mailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Send attempts before an email is recorded as failed.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a mailer owns an item it is sending. Must exceed the longest send (and
    /// the Lambda timeout), or a slow sender's item could be taken over and sent twice.
    pub lease: Duration,
    /// How long [`OutboxMailer::settle`] waits in-process (backoffs, another mailer's
    /// lease) before handing the record back to the stream for a later retry. Keep it
    /// well under the Lambda timeout.
    pub max_wait: Duration,
    /// How often a mailer waiting on another's lease looks again.
    pub poll: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            max_attempts: 4,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            lease: Duration::from_secs(120),
            max_wait: Duration::from_secs(20),
            poll: Duration::from_millis(250),
        }
    }
}

impl DeliveryPolicy {
    /// The wait after failed attempt `attempt` (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// What one look at an outbox item came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Sent now, with the provider's message id.
    Sent { message_id: String },
    /// Sent before (a replay or a duplicate): not sent again.
    AlreadySent,
    /// Recorded as failed (now or before), with the provider's reason.
    Failed { reason: String },
    /// No such item: its user was deleted (or the record was not an outbox item).
    Gone,
    /// An attempt failed, or a retry is not due yet: due again at `due_millis` (unix ms).
    RetryLater { due_millis: i64, reason: Option<String> },
    /// Another mailer holds the lease until `lease_until` (unix ms).
    Busy { lease_until: i64 },
}

impl Delivery {
    /// Whether nothing more is to be done about the item.
    pub fn is_settled(&self) -> bool {
        !matches!(self, Delivery::RetryLater { .. } | Delivery::Busy { .. })
    }
}

/// An outbox item that the table's change feed (the DynamoDB Stream, in AWS) reports as
/// written, to be settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxChange {
    pub tenant: String,
    pub user_id: String,
    /// The feed's id for the change, reported back when it is not settled.
    pub change_id: String,
}

impl OutboxChange {
    /// The change of the item written under `pk`/`sk` with `new_state` (its `state`
    /// attribute after the write, if any), when that item is an outbox item that may need
    /// sending; `None` for other items and for the mailer's own lease and sent marks.
    pub fn of_written_item(pk: &str, sk: &str, new_state: Option<&str>, change_id: &str) -> Option<Self> {
        let (tenant, user_id) = keys::outbox_owner(pk, sk)?;
        if new_state.is_some_and(|state| state != OutboxState::PENDING) {
            return None;
        }
        Some(OutboxChange { tenant: tenant.to_string(), user_id: user_id.to_string(), change_id: change_id.to_string() })
    }
}

/// The mailer: the domain service, a [`Mailer`] adapter, the link configuration and the
/// retry policy. Cheap to share (`Arc`).
pub struct OutboxMailer<S, M> {
    service: Arc<Provisioning<S>>,
    mailer: M,
    config: EnrollmentConfig,
    policy: DeliveryPolicy,
}

fn millis(instant: time::OffsetDateTime) -> i64 {
    i64::try_from(instant.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The link's expiry as the email shows it.
fn shown_expiry(instant: time::OffsetDateTime) -> String {
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", instant.year(), u8::from(instant.month()), instant.day(), instant.hour(), instant.minute())
}

impl<S: ItemStore, M: Mailer> OutboxMailer<S, M> {
    pub fn new(service: Arc<Provisioning<S>>, mailer: M, config: EnrollmentConfig) -> Self {
        OutboxMailer { service, mailer, config, policy: DeliveryPolicy::default() }
    }

    pub fn with_policy(mut self, policy: DeliveryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn service(&self) -> &Provisioning<S> {
        &self.service
    }

    /// One look at a user's outbox item: send it if it is due and nobody else holds it.
    pub async fn deliver_once(&self, tenant: &str, user_id: &str) -> Result<Delivery> {
        // A lost lease race means another mailer moved the item: look again (bounded; each
        // round sees a newer version, and a few rounds end in Busy or a final state).
        for _ in 0..4 {
            let Some(current) = self.service.outbox_email(tenant, user_id).await? else { return Ok(Delivery::Gone) };
            let now = millis(self.service.clock.now());
            let email = &current.email;
            match email.state {
                OutboxState::Sent => return Ok(Delivery::AlreadySent),
                OutboxState::Failed => return Ok(Delivery::Failed { reason: email.last_error.clone().unwrap_or_default() }),
                OutboxState::Sending => match email.lease_until {
                    Some(lease_until) if lease_until > now => return Ok(Delivery::Busy { lease_until }),
                    _ => {}
                },
                OutboxState::Pending => match email.not_before {
                    Some(due_millis) if due_millis > now => {
                        return Ok(Delivery::RetryLater { due_millis, reason: email.last_error.clone() });
                    }
                    _ => {}
                },
            }
            let link_expires_at =
                email.link_expires_at.unwrap_or_else(|| (self.service.clock.now() + self.config.link_ttl).unix_timestamp());
            let leased = PendingEmail {
                state: OutboxState::Sending,
                attempts: email.attempts.saturating_add(1),
                lease_until: Some(now.saturating_add(duration_millis(self.policy.lease))),
                not_before: None,
                link_expires_at: Some(link_expires_at),
                ..email.clone()
            };
            match self.service.store.put(leased.to_item(current.version + 1), Condition::VersionEquals(current.version)).await {
                Ok(()) => return self.send_leased(OutboxItem { email: leased, version: current.version + 1 }).await,
                Err(StoreError::ConditionFailed) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        let current = self.service.outbox_email(tenant, user_id).await?;
        let lease_until = current.and_then(|c| c.email.lease_until).unwrap_or_default();
        Ok(Delivery::Busy { lease_until })
    }

    /// Sends an item this mailer holds the lease of, then records the outcome.
    async fn send_leased(&self, leased: OutboxItem) -> Result<Delivery> {
        let email = &leased.email;
        // The expiry the first lease fixed (see the module docs): the same link every time.
        let expires = email
            .link_expires_at
            .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok())
            .unwrap_or_else(|| self.service.clock.now() + self.config.link_ttl);
        let claims = LinkClaims {
            tenant: email.tenant.clone(),
            user_id: email.user_id.clone(),
            nonce: email.nonce.clone(),
            expires_at: expires.unix_timestamp(),
        };
        let link = self.config.link(&self.config.key.sign(&claims));
        let name = if email.display_name.is_empty() { email.user_name.as_str() } else { email.display_name.as_str() };
        let content = EnrollmentContent { name, product: &self.config.product_name, link: &link, expires: &shown_expiry(expires) };
        let result = self.mailer.send(&content.render(&email.email)).await;
        let now = self.service.clock.now();
        let (next, delivery, log) = match result {
            Ok(message_id) => {
                let sent = PendingEmail {
                    state: OutboxState::Sent,
                    lease_until: None,
                    last_error: None,
                    message_id: Some(message_id.clone()),
                    sent_at: Some(now.unix_timestamp()),
                    ..email.clone()
                };
                let detail = format!("enrollment email sent to {} (message id {message_id})", email.email);
                (sent, Delivery::Sent { message_id }, (LogOutcome::Success, detail))
            }
            Err(error) if email.attempts >= self.policy.max_attempts => {
                let reason = describe(&error);
                let failed =
                    PendingEmail { state: OutboxState::Failed, lease_until: None, last_error: Some(reason.clone()), ..email.clone() };
                let detail = format!("enrollment email to {} failed after {} attempts: {reason}", email.email, email.attempts);
                (failed, Delivery::Failed { reason }, (LogOutcome::Failure, detail))
            }
            Err(error) => {
                let reason = describe(&error);
                let due_millis = millis(now).saturating_add(duration_millis(self.policy.backoff(email.attempts)));
                let retry = PendingEmail {
                    state: OutboxState::Pending,
                    lease_until: None,
                    not_before: Some(due_millis),
                    last_error: Some(reason.clone()),
                    ..email.clone()
                };
                // Not logged: only the final outcome is (the log is for administrators).
                self.record(retry, leased.version).await?;
                return Ok(Delivery::RetryLater { due_millis, reason: Some(reason) });
            }
        };
        self.record(next, leased.version).await?;
        let (outcome, detail) = log;
        let subject = (email.user_id.as_str(), email.user_name.as_str());
        self.service.log_system(&email.tenant, "mailer", LogOperation::EnrollmentEmail, subject, outcome, detail).await;
        Ok(delivery)
    }

    /// Writes the outcome of an attempt, conditional on the lease's version. A failed
    /// condition means the item moved on without us (the user was deleted, an admin
    /// resent it, the link was already used, or our lease expired and another mailer took
    /// over): its new state is the newer truth, so there is nothing to undo.
    async fn record(&self, next: PendingEmail, leased_version: u64) -> Result<()> {
        match self.service.store.put(next.to_item(leased_version + 1), Condition::VersionEquals(leased_version)).await {
            Ok(()) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Delivers until settled, waiting in-process for backoffs and other mailers' leases
    /// for at most [`DeliveryPolicy::max_wait`]; an unsettled result after that is for the
    /// caller to retry later.
    pub async fn settle(&self, tenant: &str, user_id: &str) -> Result<Delivery> {
        let deadline = Instant::now() + self.policy.max_wait;
        loop {
            let delivery = self.deliver_once(tenant, user_id).await?;
            let now = millis(self.service.clock.now());
            let wait = match &delivery {
                Delivery::RetryLater { due_millis, .. } => Duration::from_millis(u64::try_from(due_millis - now).unwrap_or(0)),
                Delivery::Busy { lease_until } => {
                    Duration::from_millis(u64::try_from(lease_until - now).unwrap_or(0)).min(self.policy.poll)
                }
                _ => return Ok(delivery),
            };
            if Instant::now() + wait > deadline {
                return Ok(delivery);
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Settles each changed outbox item of a batch and answers the ids of the changes
    /// that are not settled (store failures included), for the feed to deliver again.
    /// Replays and duplicates are harmless: the lease makes them no-ops.
    pub async fn process_changes(&self, changes: &[OutboxChange]) -> Vec<String> {
        let mut unsettled = Vec::new();
        for change in changes {
            let settled = matches!(self.settle(&change.tenant, &change.user_id).await, Ok(delivery) if delivery.is_settled());
            if !settled {
                unsettled.push(change.change_id.clone());
            }
        }
        unsettled
    }

    /// One pass of the local mailer over the due emails (at most `limit`), one attempt
    /// each; retries come on later passes, when due.
    pub async fn drain_once(&self, limit: u32) -> Result<Vec<Delivery>> {
        let mut deliveries = Vec::new();
        for email in self.service.pending_emails(limit).await? {
            deliveries.push(self.deliver_once(&email.tenant, &email.user_id).await?);
        }
        Ok(deliveries)
    }
}

fn describe(error: &SendError) -> String {
    match error {
        SendError::Retryable(reason) => format!("temporary failure: {reason}"),
        SendError::Permanent(reason) => format!("rejected: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = DeliveryPolicy { first_backoff: Duration::from_secs(1), max_backoff: Duration::from_secs(5), ..Default::default() };
        let waits: Vec<u64> = (1..=5).map(|a| policy.backoff(a).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
    }
}
