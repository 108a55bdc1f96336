//! Enrollment emails end to end above the store: the outbox rules, the mailer's
//! exactly-once delivery (replays, duplicates, crashes, failures), the enrollment link's
//! checks, resend, and removal. The local `.eml` loop is tested with the local server
//! (`functions/local/tests/file_mailer.rs`), the stream event with the Lambda glue
//! (`shared/lambda-glue/tests/stream.rs`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use item_store::ItemStore;
use provisioning::clock::ManualClock;
use provisioning::enrollment::{
    Delivery, DeliveryPolicy, Email, EnrollError, EnrollmentConfig, LinkKey, Mailer, NO_ADDRESS_DETAIL, OutboxChange, OutboxMailer,
    OutboxState, SendError,
};
use provisioning::log::{LogOperation, LogOutcome};
use provisioning::mfa::{DeviceType, EnrollmentEmail, NewDevice};
use provisioning::{Caller, Provisioning, Settings, USERS, UserStatus};
use serde_json::{Value, json};

const SENDING: Settings = Settings { send_enrollment_emails: true, include_manual_users: false, read_all_users: false };

fn config() -> EnrollmentConfig {
    EnrollmentConfig::new(LinkKey::new(vec![42u8; 32]).expect("key"), "https://mfa.example.test/enroll/", "Acme MFA")
}

fn fast() -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: 3,
        first_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        lease: Duration::from_secs(60),
        max_wait: Duration::from_secs(5),
        poll: Duration::from_millis(5),
    }
}

/// A mailer that records what it sends, or fails as told.
#[derive(Default)]
struct Recording {
    sent: Mutex<Vec<Email>>,
    failure: Option<SendError>,
    attempts: AtomicUsize,
}

impl Recording {
    fn failing(error: SendError) -> Self {
        Recording { failure: Some(error), ..Recording::default() }
    }

    fn sent(&self) -> Vec<Email> {
        self.sent.lock().expect("lock").clone()
    }
}

impl Mailer for Recording {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        // A yield, so concurrent deliveries really interleave.
        tokio::time::sleep(Duration::from_millis(2)).await;
        if let Some(error) = &self.failure {
            return Err(error.clone());
        }
        let mut sent = self.sent.lock().expect("lock");
        sent.push(email.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

fn link_in(text: &str) -> String {
    text.split_whitespace().find(|w| w.starts_with("https://mfa.example.test/enroll/")).expect("a link in the email").to_string()
}

fn token_of(link: &str) -> &str {
    link.rsplit('/').next().expect("token")
}

fn device(name: &str) -> NewDevice {
    NewDevice { device_name: name.into(), device_type: DeviceType::Push, platform: "iOS".into() }
}

/// The change the table's stream reports for a user's new outbox item.
fn stream_insert(tenant: &str, user: &str, sequence: &str) -> Vec<OutboxChange> {
    vec![OutboxChange { tenant: tenant.into(), user_id: user.into(), change_id: sequence.into() }]
}

async fn log_details(service: &Provisioning<Store>, admin: &Caller) -> Vec<(LogOperation, LogOutcome, String)> {
    let page = service.list_log(admin, &Default::default(), None, 100).await.expect("log");
    page.entries.into_iter().map(|e| (e.operation, e.outcome, e.detail.unwrap_or_default())).collect()
}

async fn status(service: &Provisioning<Store>, admin: &Caller, id: &str) -> (UserStatus, u64) {
    let summary = service.user_summary(admin, id).await.expect("user");
    (summary.status, summary.device_count)
}

#[tokio::test]
async fn the_outbox_follows_creates_and_first_claims_only() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let silent = scim_integration(&service, &tenant).await;
    let store = service.store();

    store.take();
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("rae")).await.expect("create").resource);
    let counts = store.take();
    assert_eq!(counts.transact, 1, "the outbox item rides in the create's transaction: {counts:?}");
    // Entra's retried POST is a 409 and queues nothing more.
    assert_eq!(service.create(&mailing, &USERS, &entra_user("rae")).await.expect_err("409").to_scim().status, 409);
    let no_address = id_of(&service.create(&mailing, &USERS, &json!({"userName": "sam"})).await.expect("create").resource);
    let unmailed = id_of(&service.create(&silent, &USERS, &entra_user("tia")).await.expect("create").resource);

    let pending = service.pending_emails(10).await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].user_id.as_str(), pending[0].email.as_str()), (id.as_str(), "rae@contoso.com"));
    assert_eq!(pending[0].display_name, "Test User");
    assert_eq!(service.user_summary(&tenant.admin, &id).await.expect("user").enrollment_email, Some(EnrollmentEmail::Queued));
    assert_eq!(
        service.user_summary(&tenant.admin, &no_address).await.expect("user").enrollment_email,
        Some(EnrollmentEmail::NoEmailAddress)
    );
    let log = log_details(&service, &tenant.admin).await;
    assert!(log.contains(&(LogOperation::Create, LogOutcome::Success, NO_ADDRESS_DETAIL.to_string())), "{log:?}");
    assert_eq!(log.iter().filter(|(_, _, d)| d == NO_ADDRESS_DETAIL).count(), 1, "only the user without an address: {log:?}");

    // Switching the setting on later mails nobody: not the existing user, not on its updates.
    let silent_id = match &silent.actor {
        provisioning::Actor::Integration { id, .. } => id.clone(),
        provisioning::Actor::Admin => unreachable!("an integration"),
    };
    service.update_settings(&tenant.admin, &silent_id, SENDING).await.expect("settings");
    let now_mailing = Caller { actor: provisioning::Actor::Integration { id: silent_id, settings: SENDING }, ..silent.clone() };
    service
        .patch(&now_mailing, &USERS, &unmailed, &patch(json!([{"op": "replace", "path": "displayName", "value": "T"}])), None)
        .await
        .expect("patch");
    assert_eq!(service.pending_emails(10).await.expect("pending").len(), 1);

    // The first claim of a manual user that was never sent one queues one, in the claim's
    // transaction; changes after that do not.
    let claiming = Settings { include_manual_users: true, ..SENDING };
    let (claimer, _) = integration(&service, &tenant, claiming).await;
    let manual = json!({"userName": "uma", "emails": [{"value": "uma@x.test"}]});
    let uma = id_of(&service.create(&tenant.admin, &USERS, &manual).await.expect("manual").resource);
    assert_eq!(service.pending_emails(10).await.expect("pending").len(), 1, "an admin's create queues nothing");
    assert!(service.create(&claimer, &USERS, &entra_user("uma")).await.expect("claim").claimed);
    let pending = service.pending_emails(10).await.expect("pending");
    assert_eq!(pending.iter().filter(|p| p.user_id == uma).count(), 1, "{pending:?}");
    assert_eq!(pending.iter().find(|p| p.user_id == uma).map(|p| p.email.as_str()), Some("uma@contoso.com"));
    service
        .patch(&claimer, &USERS, &uma, &patch(json!([{"op": "replace", "path": "displayName", "value": "U"}])), None)
        .await
        .expect("patch");
    assert_eq!(service.pending_emails(10).await.expect("pending").len(), 2);
}

/// Only people who can enroll are mailed: a user created suspended gets nothing until
/// restored, a user without an address gets it when the address arrives, each once, and
/// the log says why each one was not mailed.
#[tokio::test]
async fn emails_wait_for_an_active_user_with_an_address_and_go_out_once() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let queued_for =
        |pending: &[provisioning::enrollment::outbox::PendingEmail], id: &str| pending.iter().filter(|p| p.user_id == id).count();

    // Entra's string boolean: created inactive.
    let mut inactive = entra_user("ivy");
    inactive["active"] = json!("False");
    let ivy = id_of(&service.create(&mailing, &USERS, &inactive).await.expect("create").resource);
    let nameless = id_of(&service.create(&mailing, &USERS, &json!({"userName": "ned"})).await.expect("create").resource);
    assert!(service.pending_emails(10).await.expect("pending").is_empty(), "neither can enroll yet");
    let summary = |id: String| {
        let service = Arc::clone(&service);
        let admin = tenant.admin.clone();
        async move { service.user_summary(&admin, &id).await.expect("user").enrollment_email }
    };
    assert_eq!(summary(ivy.clone()).await, Some(EnrollmentEmail::Suspended));
    assert_eq!(summary(nameless.clone()).await, Some(EnrollmentEmail::NoEmailAddress));
    let log = log_details(&service, &tenant.admin).await;
    assert!(log.contains(&(LogOperation::Create, LogOutcome::Success, provisioning::enrollment::SUSPENDED_DETAIL.to_string())), "{log:?}");

    // An unrelated change while suspended mails nothing and says nothing new.
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Ivy"}]));
    service.patch(&mailing, &USERS, &ivy, &rename, None).await.expect("patch");
    assert!(service.pending_emails(10).await.expect("pending").is_empty());

    // Restored: mailed. The address arrives: mailed.
    service
        .patch(&mailing, &USERS, &ivy, &patch(json!([{"op": "replace", "path": "active", "value": "True"}])), None)
        .await
        .expect("restore");
    let address = patch(json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "ned@contoso.com"}]));
    service.patch(&mailing, &USERS, &nameless, &address, None).await.expect("address");
    let pending = service.pending_emails(10).await.expect("pending");
    assert_eq!((queued_for(&pending, &ivy), queued_for(&pending, &nameless)), (1, 1), "{pending:?}");
    assert_eq!(pending.iter().find(|p| p.user_id == nameless).map(|p| p.email.as_str()), Some("ned@contoso.com"));

    // Once: suspending and restoring again, or a new address, queues nothing more.
    let suspend = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    service.patch(&mailing, &USERS, &ivy, &suspend, None).await.expect("suspend");
    service
        .patch(&mailing, &USERS, &ivy, &patch(json!([{"op": "replace", "path": "active", "value": true}])), None)
        .await
        .expect("restore");
    let other = patch(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ned2@contoso.com"}]));
    service.patch(&mailing, &USERS, &nameless, &other, None).await.expect("address");
    let again = service.pending_emails(10).await.expect("pending");
    assert_eq!((queued_for(&again, &ivy), queued_for(&again, &nameless)), (1, 1), "{again:?}");
    assert_eq!(again.iter().find(|p| p.user_id == nameless).map(|p| p.email.as_str()), Some("ned@contoso.com"));
}

#[tokio::test]
async fn replayed_and_duplicate_stream_records_send_once() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("bo")).await.expect("create").resource);
    let recording = Arc::new(Recording::default());
    let mailer = Arc::new(OutboxMailer::new(service.clone(), recording.clone(), config()).with_policy(fast()));
    let event = stream_insert(&tenant.id, &id, "100");

    // Ten concurrent deliveries of the same record.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (mailer, event) = (mailer.clone(), event.clone());
            tokio::spawn(async move { mailer.process_changes(&event).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task").is_empty(), "every duplicate settles");
    }
    // And the batch replayed, twice.
    assert!(mailer.process_changes(&event).await.is_empty());
    assert!(mailer.process_changes(&event).await.is_empty());
    let sent = recording.sent();
    assert_eq!(sent.len(), 1, "exactly one email");
    assert_eq!(recording.attempts.load(Ordering::SeqCst), 1);
    assert_eq!(sent[0].to, "bo@contoso.com");
    let outbox = service.outbox_email(&tenant.id, &id).await.expect("read").expect("item");
    assert_eq!((outbox.email.state, outbox.email.message_id.as_deref()), (OutboxState::Sent, Some("msg-1")));
    assert!(service.pending_emails(10).await.expect("pending").is_empty());
    let log = log_details(&service, &tenant.admin).await;
    assert_eq!(log.iter().filter(|(op, outcome, _)| *op == LogOperation::EnrollmentEmail && *outcome == LogOutcome::Success).count(), 1);

    // A change of something else, or the mailer's own lease and sent marks, is ignored.
    assert_eq!(OutboxChange::of_written_item(&format!("T#{}#R#x", tenant.id), "R", None, "7"), None);
    assert_eq!(OutboxChange::of_written_item(&format!("T#{}#OUTBOX", tenant.id), &id, Some("SENDING"), "8"), None);
    assert!(mailer.process_changes(&[]).await.is_empty());
    assert_eq!(recording.sent().len(), 1);
}

/// A mailer that never finishes: the process "crashes" while sending.
struct Hanging;

impl Mailer for Hanging {
    async fn send(&self, _email: &Email) -> Result<String, SendError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_crash_while_sending_loses_nothing_the_lease_expires_and_it_is_sent_once() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let dir = tempfile::tempdir().expect("dir");
    let store = embedded_store::EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    let service = Arc::new(Provisioning::with_clock(Arc::new(item_store::CountingStore::new(store)), clock.clone()));
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("cy")).await.expect("create").resource);

    let crashed = OutboxMailer::new(service.clone(), Hanging, config()).with_policy(fast());
    assert!(tokio::time::timeout(Duration::from_millis(100), crashed.deliver_once(&tenant.id, &id)).await.is_err());
    assert_eq!(service.outbox_email(&tenant.id, &id).await.expect("read").expect("item").email.state, OutboxState::Sending);

    let recording = Arc::new(Recording::default());
    let mailer = OutboxMailer::new(service.clone(), recording.clone(), config()).with_policy(fast());
    // While the lease holds, nobody else sends it; the stream record is handed back.
    assert!(matches!(mailer.deliver_once(&tenant.id, &id).await.expect("deliver"), Delivery::Busy { .. }));
    assert!(service.pending_emails(10).await.expect("pending").is_empty(), "not due while leased");
    let event = stream_insert(&tenant.id, &id, "5");
    let quick = OutboxMailer::new(service.clone(), recording.clone(), config())
        .with_policy(DeliveryPolicy { max_wait: Duration::from_millis(20), ..fast() });
    assert_eq!(quick.process_changes(&event).await.len(), 1, "unsettled: Lambda delivers it again");
    assert!(recording.sent().is_empty());

    clock.advance(time::Duration::seconds(61));
    assert_eq!(service.pending_emails(10).await.expect("pending").len(), 1, "due again once the lease expired");
    assert!(matches!(mailer.drain_once(10).await.expect("drain").as_slice(), [Delivery::Sent { .. }]));
    assert!(mailer.drain_once(10).await.expect("drain").is_empty());
    assert_eq!(recording.sent().len(), 1);
}

/// A mailer whose provider accepts the email, then the process "crashes" before the
/// mailer can mark it sent (the send never returns).
struct SentThenCrashed(Arc<Recording>);

impl Mailer for SentThenCrashed {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        self.0.send(email).await?;
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_crash_after_the_provider_accepted_before_the_mark_resends_the_identical_single_use_link() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let dir = tempfile::tempdir().expect("dir");
    let store = embedded_store::EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    let service = Arc::new(Provisioning::with_clock(Arc::new(item_store::CountingStore::new(store)), clock.clone()));
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("di")).await.expect("create").resource);

    // Sent, then the crash: the item stays leased (SENDING), not marked SENT.
    let recording = Arc::new(Recording::default());
    let crashed = OutboxMailer::new(service.clone(), SentThenCrashed(recording.clone()), config()).with_policy(fast());
    assert!(tokio::time::timeout(Duration::from_millis(200), crashed.deliver_once(&tenant.id, &id)).await.is_err());
    assert_eq!(recording.sent().len(), 1, "the provider accepted it");
    assert_eq!(service.outbox_email(&tenant.id, &id).await.expect("read").expect("item").email.state, OutboxState::Sending);

    // Some time later the lease expires and another mailer sends it again: at least once
    // (SES has no idempotency key), never lost.
    clock.advance(time::Duration::seconds(61));
    let mailer = OutboxMailer::new(service.clone(), recording.clone(), config()).with_policy(fast());
    assert!(matches!(mailer.drain_once(10).await.expect("drain").as_slice(), [Delivery::Sent { .. }]));
    assert!(mailer.drain_once(10).await.expect("drain").is_empty(), "sent: not due again");
    let sent = recording.sent();
    assert_eq!(sent.len(), 2, "the one duplicate the window allows");
    // The duplicate is harmless: the same email, with the same link, which works once.
    assert_eq!(sent[0], sent[1], "identical content and link, although the second went out 61 s later");
    let token = token_of(&link_in(&sent[0].text)).to_string();
    service.enroll_device(&config(), &token, device("phone")).await.expect("the link enrolls once");
    assert_eq!(service.enroll_device(&config(), &token, device("again")).await.expect_err("used"), EnrollError::Used);
    assert_eq!(status(&service, &tenant.admin, &id).await, (UserStatus::Active, 1));
    let outbox = service.outbox_email(&tenant.id, &id).await.expect("read").expect("item");
    assert_eq!(outbox.email.state, OutboxState::Sent);
    assert_eq!(outbox.email.attempts, 2);
}

#[tokio::test]
async fn rejected_emails_are_retried_with_backoff_then_recorded_as_failed_with_the_reason() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("di")).await.expect("create").resource);
    let failing = Arc::new(Recording::failing(SendError::Permanent("Email address is not verified.".into())));
    let mailer = OutboxMailer::new(service.clone(), failing.clone(), config()).with_policy(fast());

    let unsettled = mailer.process_changes(&stream_insert(&tenant.id, &id, "9")).await;
    assert!(unsettled.is_empty(), "a final failure is settled, not redelivered");
    assert_eq!(failing.attempts.load(Ordering::SeqCst), 3, "max_attempts");
    let item = service.outbox_email(&tenant.id, &id).await.expect("read").expect("item").email;
    assert_eq!((item.state, item.attempts), (OutboxState::Failed, 3));
    assert_eq!(item.last_error.as_deref(), Some("rejected: Email address is not verified."));
    let log = log_details(&service, &tenant.admin).await;
    let failures: Vec<_> =
        log.iter().filter(|(op, outcome, _)| *op == LogOperation::EnrollmentEmail && *outcome == LogOutcome::Failure).collect();
    assert_eq!(failures.len(), 1, "{log:?}");
    assert!(failures[0].2.contains("di@contoso.com") && failures[0].2.contains("Email address is not verified."), "{failures:?}");
    // Settled for good: a replay does not try again.
    assert!(matches!(mailer.settle(&tenant.id, &id).await.expect("settle"), Delivery::Failed { .. }));
    assert_eq!(failing.attempts.load(Ordering::SeqCst), 3);

    // A retryable failure waits for its backoff between attempts.
    let id2 = id_of(&service.create(&mailing, &USERS, &entra_user("ed")).await.expect("create").resource);
    let throttled = OutboxMailer::new(service.clone(), Recording::failing(SendError::Retryable("Throttling".into())), config())
        .with_policy(DeliveryPolicy { first_backoff: Duration::from_secs(30), ..fast() });
    let first = throttled.deliver_once(&tenant.id, &id2).await.expect("deliver");
    assert!(matches!(&first, Delivery::RetryLater { reason: Some(r), .. } if r.contains("Throttling")), "{first:?}");
    assert!(matches!(throttled.deliver_once(&tenant.id, &id2).await.expect("deliver"), Delivery::RetryLater { .. }));
    assert!(service.pending_emails(10).await.expect("pending").is_empty(), "not due during the backoff");
    assert_eq!(service.outbox_email(&tenant.id, &id2).await.expect("read").expect("item").email.attempts, 1);
}

#[tokio::test]
async fn bad_links_are_refused_with_a_typed_error_and_change_nothing() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let dir = tempfile::tempdir().expect("dir");
    let store = embedded_store::EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    let service = Arc::new(Provisioning::with_clock(Arc::new(item_store::CountingStore::new(store)), clock.clone()));
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let recording = Arc::new(Recording::default());
    let mailer = OutboxMailer::new(service.clone(), recording.clone(), config()).with_policy(fast());
    let mut links = Vec::new();
    for name in ["fay", "gus", "hal"] {
        let id = id_of(&service.create(&mailing, &USERS, &entra_user(name)).await.expect("create").resource);
        assert!(matches!(mailer.settle(&tenant.id, &id).await.expect("send"), Delivery::Sent { .. }));
        links.push((id, link_in(&recording.sent().last().expect("sent").text)));
    }
    let config = config();
    let unchanged = |id: String| {
        let service = service.clone();
        let admin = tenant.admin.clone();
        async move { assert_eq!(status(&service, &admin, &id).await, (UserStatus::Unenrolled, 0)) }
    };

    // Tampered: a changed character, a truncation, another key.
    let (fay, link) = &links[0];
    let token = token_of(link);
    let mut altered = token.to_string().into_bytes();
    let middle = altered.len() / 3;
    altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ascii");
    for bad in [altered.as_str(), &token[..token.len() - 3], "not-a-token"] {
        assert_eq!(service.enroll_device(&config, bad, device("x")).await.expect_err("tampered"), EnrollError::Tampered);
    }
    let other_key = EnrollmentConfig::new(LinkKey::new(vec![1u8; 32]).expect("key"), "https://x", "X");
    assert_eq!(service.describe_enrollment(&other_key, token).await.expect_err("other key"), EnrollError::Tampered);
    unchanged(fay.clone()).await;

    // Suspended: refused until restored, then it works.
    let (gus, gus_link) = &links[1];
    let deactivate = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    service.patch(&mailing, &USERS, gus, &deactivate, None).await.expect("suspend");
    assert_eq!(service.enroll_device(&config, token_of(gus_link), device("x")).await.expect_err("suspended"), EnrollError::UserSuspended);
    assert_eq!(service.describe_enrollment(&config, token_of(gus_link)).await.expect_err("suspended"), EnrollError::UserSuspended);
    assert_eq!(status(&service, &tenant.admin, gus).await, (UserStatus::ProvisioningDisabled, 0));
    service.patch(&mailing, &USERS, gus, &patch(json!([{"op": "replace", "path": "active", "value": true}])), None).await.expect("restore");
    service.enroll_device(&config, token_of(gus_link), device("gus phone")).await.expect("works once restored");
    assert_eq!(status(&service, &tenant.admin, gus).await, (UserStatus::Active, 1));

    // Deleted: refused; the user's devices and outbox item went with it.
    let (hal, hal_link) = &links[2];
    service.delete(&mailing, &USERS, hal, None).await.expect("delete");
    assert_eq!(service.enroll_device(&config, token_of(hal_link), device("x")).await.expect_err("deleted"), EnrollError::UserDeleted);
    assert!(service.outbox_email(&tenant.id, hal).await.expect("read").is_none());

    // Expired: after 7 days, even a never-used link.
    clock.advance(time::Duration::days(7));
    assert_eq!(service.enroll_device(&config, token, device("x")).await.expect_err("expired"), EnrollError::Expired);
    assert_eq!(service.describe_enrollment(&config, token).await.expect_err("expired"), EnrollError::Expired);
    unchanged(fay.clone()).await;
    assert_eq!(EnrollError::Expired.status(), 410);
    assert_eq!(EnrollError::Tampered.status(), 400);
}

#[tokio::test]
async fn deleting_a_user_removes_its_unsent_email_and_devices() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("ivy")).await.expect("create").resource);
    service.add_device(&tenant.admin, &id, device("phone")).await.expect("device");
    assert_eq!(service.pending_emails(10).await.expect("pending").len(), 1);
    service.delete(&mailing, &USERS, &id, None).await.expect("delete");
    assert!(service.pending_emails(10).await.expect("pending").is_empty());
    assert!(service.outbox_email(&tenant.id, &id).await.expect("read").is_none());
    let recording = Arc::new(Recording::default());
    let mailer = OutboxMailer::new(service.clone(), recording.clone(), config()).with_policy(fast());
    assert_eq!(mailer.settle(&tenant.id, &id).await.expect("settle"), Delivery::Gone, "a stream record arriving late sends nothing");
    assert!(recording.sent().is_empty());
    let devices = service.store().query(&item_store::Query::partition(format!("T#{}#R#{id}", tenant.id))).await.expect("query");
    assert!(devices.items.is_empty(), "devices deleted with the user");
}

#[tokio::test]
async fn resend_queues_a_new_email_whose_link_replaces_the_old_one() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let silent = scim_integration(&service, &tenant).await;
    let recording = Arc::new(Recording::default());
    let mailer = OutboxMailer::new(service.clone(), recording.clone(), config()).with_policy(fast());

    let jo = id_of(&service.create(&mailing, &USERS, &entra_user("jo")).await.expect("create").resource);
    mailer.settle(&tenant.id, &jo).await.expect("send");
    let first_link = link_in(&recording.sent()[0].text);
    let kim = id_of(&service.create(&silent, &USERS, &entra_user("kim")).await.expect("create").resource);
    let lea = id_of(&service.create(&silent, &USERS, &json!({"userName": "lea"})).await.expect("create").resource);
    let max = id_of(
        &service
            .create(&silent, &USERS, &json!({"userName": "max", "active": false, "emails": [{"value": "m@x.test"}]}))
            .await
            .expect("create")
            .resource,
    );

    let ids = vec![jo.clone(), kim.clone(), lea.clone(), max.clone(), "nobody".to_string()];
    let result = service.resend_enrollment_emails(&tenant.admin, &ids).await.expect("resend");
    assert_eq!(result.successfully_sent, vec![jo.clone(), kim.clone()]);
    let failed: Vec<(&str, &str)> = result.failed_to_send.iter().map(|f| (f.user_id.as_str(), f.reason.as_str())).collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(failed[0].0 == lea && failed[0].1.contains("no email address"), "{failed:?}");
    assert!(failed[1].0 == max && failed[1].1.contains("suspended"), "{failed:?}");
    assert!(failed[2].0 == "nobody" && failed[2].1.contains("no user"), "{failed:?}");
    let json = serde_json::to_value(&result).expect("json");
    assert_eq!(json["successfullySent"], json!([jo, kim]));
    assert_eq!(json["failedToSend"][0]["userId"], Value::String(lea.clone()));
    assert!(service.resend_enrollment_emails(&mailing, &ids).await.is_err(), "admins only");

    assert_eq!(mailer.drain_once(10).await.expect("drain").len(), 2);
    let sent = recording.sent();
    let mut recipients: Vec<&str> = sent.iter().map(|e| e.to.as_str()).collect();
    recipients.sort();
    assert_eq!(recipients, ["jo@contoso.com", "jo@contoso.com", "kim@contoso.com"]);
    let resent = sent.iter().skip(1).find(|e| e.to == "jo@contoso.com").expect("jo's new email");
    let config = config();
    assert_eq!(service.describe_enrollment(&config, token_of(&first_link)).await.expect_err("replaced"), EnrollError::Used);
    service.enroll_device(&config, token_of(&link_in(&resent.text)), device("jo phone")).await.expect("the new link works");
    assert_eq!(service.user_summary(&tenant.admin, &kim).await.expect("user").enrollment_email, Some(EnrollmentEmail::Queued));
}
