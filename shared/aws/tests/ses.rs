//! The enrollment mailer against the real SES API of moto (started by `./scripts/test`,
//! endpoint in `SCIM_TEST_SES_ENDPOINT`): what SES accepted is read back from moto's
//! `/moto-api/data.json` and checked. The domain runs on the embedded store; the stream
//! records are the ones DynamoDB Streams would deliver for the outbox items.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_adapters::SesMailer;
use aws_sdk_ses::Client;
use aws_sdk_ses::config::{BehaviorVersion, Credentials, Region};
use embedded_store::EmbeddedStore;
use provisioning::clock::ManualClock;
use provisioning::enrollment::LinkKey;
use provisioning::enrollment::{DeliveryPolicy, OutboxChange, OutboxMailer};
use provisioning::enrollment::{Email, Mailer, SendError};
use provisioning::enrollment::{EnrollError, EnrollmentConfig};
use provisioning::enrollment::{NO_ADDRESS_DETAIL, OutboxState};
use provisioning::log::{LogOperation, LogOutcome};
use provisioning::mfa::{DeviceType, NewDevice};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings, USERS};
use serde_json::{Value, json};

type Service = Provisioning<EmbeddedStore>;

fn endpoint() -> String {
    std::env::var("SCIM_TEST_SES_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "SCIM_TEST_SES_ENDPOINT is not set: run the tests with ./scripts/test, which installs and starts \
             the SES-compatible test server (moto)"
        )
    })
}

fn client() -> Client {
    let config = aws_sdk_ses::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint())
        .build();
    Client::from_conf(config)
}

/// A name no other test (or earlier run against the same server) uses.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{prefix}{}x{nanos}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

/// A minimal HTTP/1.1 exchange with moto's own API (no HTTP client in the dependencies).
fn moto_api(method: &str, path: &str) -> String {
    let endpoint = endpoint();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host).expect("moto reachable");
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").expect("request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("response");
    let text = String::from_utf8(raw).expect("utf-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers");
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{method} {path}: {head}");
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut decoded = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if size == 0 {
                break;
            }
            decoded.push_str(&tail[..size]);
            rest = &tail[size + 2..];
        }
        return decoded;
    }
    body.to_string()
}

/// The messages SES accepted for `to`.
fn sent_to(to: &str) -> Vec<Value> {
    let data: Value = serde_json::from_str(&moto_api("GET", "/moto-api/data.json")).expect("data.json");
    let messages = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
    messages.into_iter().filter(|m| m["destinations"]["ToAddresses"].as_array().is_some_and(|a| a.iter().any(|t| t == to))).collect()
}

async fn verified_sender() -> String {
    let sender = format!("{}@mfa.example.test", unique("no-reply-"));
    client().verify_email_identity().email_address(&sender).send().await.expect("VerifyEmailIdentity");
    sender
}

struct Setup {
    service: Arc<Service>,
    tenant: String,
    admin: Caller,
    integration: Caller,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("dir");
    let store = EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    let service = Arc::new(Provisioning::new(store));
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant").tenant;
    let admin = Caller::admin(&tenant);
    let settings = Settings { send_enrollment_emails: true, ..Settings::default() };
    let token = service.create_integration(&admin, IntegrationKind::Scim, "Entra", settings).await.expect("integration").token;
    let integration = service.authenticate(&token).await.expect("token");
    Setup { service, tenant, admin, integration, _dir: dir }
}

fn config() -> EnrollmentConfig {
    EnrollmentConfig::new(LinkKey::new(vec![9u8; 32]).expect("key"), "https://mfa.example.test/enroll", "Acme MFA")
}

fn fast() -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: 3,
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(50),
        lease: Duration::from_secs(60),
        max_wait: Duration::from_secs(10),
        poll: Duration::from_millis(20),
    }
}

async fn create_user(setup: &Setup, user_name: &str, email: Option<&str>) -> String {
    let mut body = json!({"userName": user_name, "displayName": "Rae Example", "active": true});
    if let Some(email) = email {
        body["emails"] = json!([{"type": "work", "primary": true, "value": email}]);
    }
    let written = setup.service.create(&setup.integration, &USERS, &body).await.expect("create");
    written.resource["id"].as_str().expect("id").to_string()
}

/// The change the table's stream reports for a user's new outbox item.
fn insert_record(tenant: &str, user: &str) -> Vec<OutboxChange> {
    vec![OutboxChange { tenant: tenant.to_string(), user_id: user.to_string(), change_id: "111".to_string() }]
}

#[tokio::test]
async fn an_enrollment_email_goes_out_through_ses_exactly_once_and_its_link_works() {
    let setup = setup().await;
    let sender = verified_sender().await;
    let to = format!("{}@contoso.test", unique("rae"));
    let user = create_user(&setup, &unique("rae"), Some(&to)).await;
    let mailer = Arc::new(OutboxMailer::new(setup.service.clone(), SesMailer::new(client(), &sender, None), config()).with_policy(fast()));
    let event = insert_record(&setup.tenant, &user);

    // Ten concurrent invocations with the same record, then the batch replayed twice.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (mailer, event) = (mailer.clone(), event.clone());
            tokio::spawn(async move { mailer.process_changes(&event).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.expect("task").is_empty());
    }
    for _ in 0..2 {
        assert!(mailer.process_changes(&event).await.is_empty());
    }

    let messages = sent_to(&to);
    assert_eq!(messages.len(), 1, "exactly one email: {messages:?}");
    let message = &messages[0];
    assert_eq!(message["source"], Value::String(sender));
    assert_eq!(message["subject"], "Set up Acme MFA for your account");
    let body = message["body"].as_str().expect("body");
    assert!(body.contains("Hello Rae Example,"), "{body}");
    let link = body.split("href=\"").nth(1).and_then(|s| s.split('"').next()).expect("a link in the HTML body");
    assert!(link.starts_with("https://mfa.example.test/enroll/"), "{link}");
    let outbox = setup.service.outbox_email(&setup.tenant, &user).await.expect("read").expect("item");
    assert_eq!(outbox.email.state, OutboxState::Sent);
    assert_eq!(outbox.email.message_id.as_deref(), message["id"].as_str(), "the SES message id is recorded");

    let token = link.rsplit('/').next().expect("token");
    let info = setup.service.describe_enrollment(&config(), token).await.expect("the link works");
    assert_eq!((info.user_id.as_str(), info.display_name.as_str()), (user.as_str(), "Rae Example"));
}

#[tokio::test]
async fn an_ses_rejection_is_retried_then_recorded_as_failed_with_the_reason() {
    let setup = setup().await;
    // Never verified: SES (moto) answers MessageRejected.
    let sender = format!("{}@unverified.example.test", unique("nobody-"));
    let to = format!("{}@contoso.test", unique("sol"));
    let user = create_user(&setup, &unique("sol"), Some(&to)).await;
    let mailer = OutboxMailer::new(setup.service.clone(), SesMailer::new(client(), &sender, None), config()).with_policy(fast());

    let unsettled = mailer.process_changes(&insert_record(&setup.tenant, &user)).await;
    assert!(unsettled.is_empty(), "a final failure is settled: {unsettled:?}");
    assert!(sent_to(&to).is_empty());
    let item = setup.service.outbox_email(&setup.tenant, &user).await.expect("read").expect("item").email;
    assert_eq!((item.state, item.attempts), (OutboxState::Failed, 3), "retried up to max_attempts");
    let reason = item.last_error.expect("reason");
    assert!(reason.contains("MessageRejected"), "{reason}");
    let log = setup.service.list_log(&setup.admin, &Default::default(), None, 50).await.expect("log").entries;
    let failure = log
        .iter()
        .find(|e| e.operation == LogOperation::EnrollmentEmail && e.outcome == LogOutcome::Failure)
        .expect("the failure is in the provisioning log");
    let detail = failure.detail.as_deref().unwrap_or_default();
    assert!(detail.contains("MessageRejected") && detail.contains(&to) && detail.contains("3 attempts"), "{detail}");
    assert_eq!(failure.resource_id.as_deref(), Some(user.as_str()));
}

#[tokio::test]
async fn a_user_without_an_address_gets_no_email_and_the_log_says_so() {
    let setup = setup().await;
    let sender = verified_sender().await;
    let user = create_user(&setup, &unique("tom"), None).await;
    assert!(setup.service.outbox_email(&setup.tenant, &user).await.expect("read").is_none());
    let mailer = OutboxMailer::new(setup.service.clone(), SesMailer::new(client(), &sender, None), config()).with_policy(fast());
    assert!(mailer.process_changes(&insert_record(&setup.tenant, &user)).await.is_empty());
    let data: Value = serde_json::from_str(&moto_api("GET", "/moto-api/data.json")).expect("data.json");
    let from_sender = data["ses"]["Message"].as_array().into_iter().flatten().filter(|m| m["source"] == sender.as_str()).count();
    assert_eq!(from_sender, 0, "nothing was sent");
    let log = setup.service.list_log(&setup.admin, &Default::default(), None, 50).await.expect("log").entries;
    let create = log.iter().find(|e| e.resource_id.as_deref() == Some(user.as_str())).expect("the create's entry");
    assert_eq!(create.detail.as_deref(), Some(NO_ADDRESS_DETAIL));
}

/// SES accepts the email, then the mailer's process dies before it marks the item sent
/// (the send never returns to it).
struct SentThenCrashed {
    ses: SesMailer,
    sent: Arc<tokio::sync::Notify>,
}

impl Mailer for SentThenCrashed {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        self.ses.send(email).await?;
        self.sent.notify_one();
        std::future::pending().await
    }
}

/// The one window of the outbox: a crash after SES accepted the email, before the `SENT`
/// mark. SES has no idempotency key, so the email goes out again once the lease expires
/// (at least once, never lost); the second copy is the same email with the same
/// single-use link, so the duplicate cannot enroll twice.
#[tokio::test]
async fn a_crash_between_the_ses_send_and_the_sent_mark_resends_the_identical_link_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let service = Arc::new(Provisioning::with_clock(store, clock.clone()));
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant").tenant;
    let settings = Settings { send_enrollment_emails: true, ..Settings::default() };
    let token = service.create_integration(&Caller::admin(&tenant), IntegrationKind::Scim, "Entra", settings).await.expect("integration");
    let integration = service.authenticate(&token.token).await.expect("token");
    let setup = Setup { service: service.clone(), tenant: tenant.clone(), admin: Caller::admin(&tenant), integration, _dir: dir };
    let sender = verified_sender().await;
    let to = format!("{}@contoso.test", unique("uma"));
    let user = create_user(&setup, &unique("uma"), Some(&to)).await;

    let sent = Arc::new(tokio::sync::Notify::new());
    let crashing = Arc::new(
        OutboxMailer::new(service.clone(), SentThenCrashed { ses: SesMailer::new(client(), &sender, None), sent: sent.clone() }, config())
            .with_policy(fast()),
    );
    let task = tokio::spawn({
        let (crashing, tenant, user) = (crashing.clone(), tenant.clone(), user.clone());
        async move { crashing.deliver_once(&tenant, &user).await }
    });
    sent.notified().await;
    task.abort();
    assert_eq!(sent_to(&to).len(), 1, "SES accepted it");
    assert_eq!(service.outbox_email(&tenant, &user).await.expect("read").expect("item").email.state, OutboxState::Sending);

    // While the lease holds, the stream record is handed back, nothing is sent.
    let mailer = OutboxMailer::new(service.clone(), SesMailer::new(client(), &sender, None), config())
        .with_policy(DeliveryPolicy { max_wait: Duration::ZERO, ..fast() });
    assert_eq!(mailer.process_changes(&insert_record(&tenant, &user)).await.len(), 1);
    assert_eq!(sent_to(&to).len(), 1);
    // Once it expired, Lambda's next delivery of the record sends it again, and only once.
    clock.advance(time::Duration::seconds(61));
    for _ in 0..3 {
        assert!(mailer.process_changes(&insert_record(&tenant, &user)).await.is_empty());
    }
    let messages = sent_to(&to);
    assert_eq!(messages.len(), 2, "at least once: the one duplicate of the window");
    assert_eq!((&messages[0]["subject"], &messages[0]["body"]), (&messages[1]["subject"], &messages[1]["body"]), "the same email");
    let body = messages[1]["body"].as_str().expect("body");
    let link = body.split("href=\"").nth(1).and_then(|s| s.split('"').next()).expect("a link in the HTML body");
    let token = link.rsplit('/').next().expect("token");
    let device = NewDevice { device_name: "phone".into(), device_type: DeviceType::Push, platform: "iOS".into() };
    service.enroll_device(&config(), token, device.clone()).await.expect("the link works once");
    assert_eq!(service.enroll_device(&config(), token, device).await.expect_err("used"), EnrollError::Used);
    let item = service.outbox_email(&tenant, &user).await.expect("read").expect("item").email;
    assert_eq!((item.state, item.attempts), (OutboxState::Sent, 2));
    assert_eq!(item.message_id.as_deref(), messages[1]["id"].as_str());
}
