//! The local server's mailer loop with its `.eml` adapter and its key file: a created
//! user's email appears as a file whose link enrolls a device once.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use embedded_store::EmbeddedStore;
use provisioning::enrollment::{EnrollError, EnrollmentConfig, OutboxMailer};
use provisioning::mfa::{DeviceType, NewDevice};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings, USERS, UserStatus};
use scim_local::drain_outbox_forever;
use scim_local::enrollment_key::load_or_create_key;
use scim_local::file_mailer::FileMailer;
use serde_json::{Value, json};

const SENDING: Settings = Settings { send_enrollment_emails: true, include_manual_users: false, read_all_users: false };

struct Tenant {
    admin: Caller,
}

async fn service() -> Arc<Provisioning<EmbeddedStore>> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Arc::new(Provisioning::new(EmbeddedStore::open(dir.join("items.redb")).expect("open store")))
}

async fn tenant(service: &Provisioning<EmbeddedStore>) -> Tenant {
    let created = service.create_tenant("Contoso", None).await.expect("tenant");
    Tenant { admin: Caller::admin(&created.tenant) }
}

async fn integration(service: &Provisioning<EmbeddedStore>, tenant: &Tenant, settings: Settings) -> (Caller, String) {
    let created = service.create_integration(&tenant.admin, IntegrationKind::Scim, "Entra", settings).await.expect("integration");
    (service.authenticate(&created.token).await.expect("token works"), created.token)
}

fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true,
        "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": format!("{user_name}@contoso.com")}],
    })
}

fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_string()
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

async fn status(service: &Provisioning<EmbeddedStore>, admin: &Caller, id: &str) -> (UserStatus, u64) {
    let summary = service.user_summary(admin, id).await.expect("user");
    (summary.status, summary.device_count)
}

#[tokio::test]
async fn the_local_loop_writes_an_eml_whose_link_enrolls_a_device_once() {
    let service = service().await;
    let tenant = tenant(&service).await;
    let (mailing, _) = integration(&service, &tenant, SENDING).await;
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("ada")).await.expect("create").resource);

    let dir = tempfile::tempdir().expect("dir");
    let key = load_or_create_key(dir.path()).expect("key");
    let config = EnrollmentConfig::new(key, "https://mfa.example.test/enroll", "Acme MFA");
    let outbox = dir.path().join("outbox");
    let mailer = Arc::new(OutboxMailer::new(service.clone(), FileMailer::new(&outbox, "MFA <no-reply@mfa.example.test>"), config.clone()));
    // The local server spawns this loop; here it runs until the file appears.
    let looping = tokio::spawn({
        let mailer = mailer.clone();
        async move { drain_outbox_forever(&mailer, Duration::from_millis(10), 10).await }
    });
    let eml = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let files: Vec<_> = std::fs::read_dir(&outbox).into_iter().flatten().flatten().map(|e| e.path()).collect();
            if let Some(file) = files.iter().find(|p| p.extension().is_some_and(|x| x == "eml")) {
                return std::fs::read_to_string(file).expect("eml");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("an .eml file within 10 s");
    tokio::time::sleep(Duration::from_millis(50)).await;
    looping.abort();
    assert_eq!(std::fs::read_dir(&outbox).expect("dir").count(), 1, "one email, once, however many passes");

    assert!(eml.contains("To: ada@contoso.com\r\n") && eml.contains("From: MFA <no-reply@mfa.example.test>\r\n"));
    assert!(eml.contains("Content-Type: multipart/alternative; boundary="));
    let boundary = eml.split("boundary=\"").nth(1).and_then(|s| s.split('"').next()).expect("boundary");
    let part = |kind: &str| {
        let part = eml.split(&format!("--{boundary}")).find(|p| p.contains(kind)).expect("part");
        let encoded: String = part.split("\r\n\r\n").nth(1).expect("body").split_whitespace().collect();
        String::from_utf8(STANDARD.decode(encoded).expect("base64")).expect("utf-8")
    };
    let text = part("text/plain");
    let html = part("text/html");
    assert!(text.contains("Hello Test User,") && text.contains("Acme MFA"));
    let link = link_in(&text);
    assert!(html.contains(&format!("href=\"{link}\"")));

    let token = token_of(&link);
    let info = service.describe_enrollment(&config, token).await.expect("describe");
    assert_eq!((info.user_id.as_str(), info.user_name.as_str(), info.product_name.as_str()), (id.as_str(), "ada", "Acme MFA"));
    let expires = time::OffsetDateTime::parse(&info.expires_at, &time::format_description::well_known::Rfc3339).expect("rfc3339");
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((167..=168).contains(&days), "7 days by default, got {days} hours");
    assert!(text.contains(&format!("{}-{:02}-{:02}", expires.year(), u8::from(expires.month()), expires.day())));

    assert_eq!(status(&service, &tenant.admin, &id).await, (UserStatus::Unenrolled, 0));
    let registered = service.enroll_device(&config, token, device("Ada's phone")).await.expect("enroll");
    assert_eq!(status(&service, &tenant.admin, &id).await, (UserStatus::Active, 1));
    assert_eq!(service.list_devices(&tenant.admin, &id).await.expect("devices"), vec![registered]);
    assert_eq!(service.enroll_device(&config, token, device("again")).await.expect_err("used"), EnrollError::Used);
    // Resent, then the new link used by ten concurrent requests: one device.
    let resent = service.resend_enrollment_emails(&tenant.admin, std::slice::from_ref(&id)).await.expect("resend");
    assert_eq!(resent.successfully_sent, vec![id.clone()]);
    mailer.drain_once(10).await.expect("drain");
    let second = std::fs::read_dir(&outbox)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p).is_ok_and(|text| text != eml));
    let second = std::fs::read_to_string(second.expect("a second .eml")).expect("eml");
    let second_text = {
        let part = second.split("Content-Type: text/plain").nth(1).expect("text part");
        let encoded: String = part.split("\r\n\r\n").nth(1).expect("body").split("--").next().expect("body").split_whitespace().collect();
        String::from_utf8(STANDARD.decode(encoded).expect("base64")).expect("utf-8")
    };
    let second_token = token_of(&link_in(&second_text)).to_string();
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let (service, config, token) = (service.clone(), config.clone(), second_token.clone());
            tokio::spawn(async move { service.enroll_device(&config, &token, device(&format!("d{n}"))).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().filter_map(|o| o.as_ref().err()).all(|e| *e == EnrollError::Used), "{outcomes:?}");
    assert_eq!(status(&service, &tenant.admin, &id).await, (UserStatus::Active, 2));
    assert_eq!(service.describe_enrollment(&config, token).await.expect_err("used"), EnrollError::Used);
}
