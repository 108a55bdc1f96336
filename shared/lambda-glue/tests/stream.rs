//! The mailer function's stream handling: the sample event parses as the mailer parses
//! it, and its outbox record is sent once however often the batch is delivered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use embedded_store::EmbeddedStore;
use item_store::ItemStore;
use lambda_glue::stream::{StreamEvent, process_stream};
use provisioning::Provisioning;
use provisioning::enrollment::{DeliveryPolicy, Email, EnrollmentConfig, LinkKey, Mailer, OutboxMailer, SendError};
use serde_json::{Value, json};

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

/// A mailer that records what it sends.
#[derive(Default)]
struct Recording {
    sent: Mutex<Vec<Email>>,
}

impl Recording {
    fn sent(&self) -> Vec<Email> {
        self.sent.lock().expect("lock").clone()
    }
}

impl Mailer for Recording {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        let mut sent = self.sent.lock().expect("lock");
        sent.push(email.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

/// The sample event for `cargo lambda invoke mailer --data-file events/mailer-stream.json`:
/// parsed as the mailer parses it, and processed against an outbox item with its keys.
#[tokio::test]
async fn the_sample_stream_event_is_processed() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/mailer-stream.json"))
        .expect("events/mailer-stream.json");
    let event: StreamEvent = serde_json::from_str(&text).expect("the sample parses as a stream event");
    assert_eq!(event.records.len(), 1);
    let record = &event.records[0];
    let change = record.outbox_change().expect("an outbox INSERT");
    let (tenant, user) = (change.tenant.as_str(), change.user_id.as_str());
    // The item the stream record reports, as the create's transaction wrote it (DynamoDB
    // JSON of the new image, converted to the store's attributes).
    let image = record.dynamodb.new_image.clone().expect("NewImage");
    let attrs: serde_json::Map<String, Value> = image
        .into_iter()
        .filter(|(name, _)| name != "pk" && name != "sk")
        .map(|(name, value)| {
            let plain = match (value.get("S"), value.get("N")) {
                (Some(s), _) => s.clone(),
                (_, Some(Value::String(n))) => json!(n.parse::<i64>().expect("integer")),
                _ => panic!("unexpected attribute {name}: {value}"),
            };
            (name, plain)
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let service = Arc::new(Provisioning::new(EmbeddedStore::open(dir.path().join("items.redb")).expect("open store")));
    let key = item_store::Key::new(format!("T#{tenant}#OUTBOX"), user);
    service.store().put(item_store::Item::new(key, attrs), item_store::Condition::Absent).await.expect("seed");

    let recording = Arc::new(Recording::default());
    let mailer = OutboxMailer::new(service.clone(), recording.clone(), config()).with_policy(fast());
    assert!(process_stream(&mailer, &event).await.batch_item_failures.is_empty());
    assert!(process_stream(&mailer, &event).await.batch_item_failures.is_empty());
    let sent = recording.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "alice@contoso.com");
    assert!(sent[0].text.contains("Hello Alice Example,"));
    let response = serde_json::to_value(process_stream(&mailer, &event).await).expect("json");
    assert_eq!(response, json!({"batchItemFailures": []}));
}
