//! The mailer function's events: DynamoDB Stream batches as Lambda delivers them (only
//! what the mailer reads), turned into the outbox changes the domain settles, and the
//! partial batch failures Lambda retries.

use item_store::ItemStore;
use provisioning::enrollment::delivery::{OutboxChange, OutboxMailer};
use provisioning::enrollment::mailer::Mailer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// A DynamoDB Stream event.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    #[serde(default)]
    pub dynamodb: StreamData,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StreamData {
    /// Attribute values in DynamoDB JSON (`{"pk":{"S":"..."}}`).
    #[serde(rename = "Keys", default)]
    pub keys: Map<String, Value>,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<Map<String, Value>>,
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: String,
}

/// The Lambda answer for partial batch failures (`ReportBatchItemFailures`): the records
/// to deliver again (Lambda retries from the lowest one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StreamResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

fn string_attr<'a>(attrs: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    attrs.get(name)?.get("S")?.as_str()
}

impl StreamRecord {
    /// The outbox change this record reports; `None` for records the mailer ignores:
    /// other items, removals, and its own lease/sent changes.
    pub fn outbox_change(&self) -> Option<OutboxChange> {
        if self.event_name != "INSERT" && self.event_name != "MODIFY" {
            return None;
        }
        let pk = string_attr(&self.dynamodb.keys, item_store::PK_ATTR)?;
        let sk = string_attr(&self.dynamodb.keys, item_store::SK_ATTR)?;
        let state = self.dynamodb.new_image.as_ref().and_then(|image| string_attr(image, "state"));
        OutboxChange::of_written_item(pk, sk, state, &self.dynamodb.sequence_number)
    }
}

/// Settles a batch's outbox records; the unsettled ones (and store failures) are
/// reported for Lambda to deliver again.
pub async fn process_stream<S: ItemStore, M: Mailer>(mailer: &OutboxMailer<S, M>, event: &StreamEvent) -> StreamResponse {
    let changes: Vec<OutboxChange> = event.records.iter().filter_map(StreamRecord::outbox_change).collect();
    let unsettled = mailer.process_changes(&changes).await;
    StreamResponse { batch_item_failures: unsettled.into_iter().map(|item_identifier| BatchItemFailure { item_identifier }).collect() }
}

/// One mailer invocation: a DynamoDB Stream event in, `{"batchItemFailures": [..]}` out
/// (the records Lambda must deliver again). An event that is not a stream batch fails
/// the invocation: it was not sent by the event source mapping.
pub async fn handle_stream<S: ItemStore, M: Mailer>(mailer: &OutboxMailer<S, M>, event: Value) -> Result<Value, Error> {
    let event: StreamEvent = serde_json::from_value(event)?;
    let response = process_stream(mailer, &event).await;
    if !response.batch_item_failures.is_empty() {
        tracing::warn!(failed = response.batch_item_failures.len(), records = event.records.len(), "records to deliver again");
    }
    Ok(serde_json::to_value(response)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pending_outbox_records_are_taken() {
        let record = |name: &str, pk: &str, state: Option<&str>| {
            let image = state.map(|s| serde_json::json!({"state": {"S": s}}));
            let value = serde_json::json!({"eventName": name, "dynamodb": {
                "Keys": {"pk": {"S": pk}, "sk": {"S": "u1"}}, "NewImage": image, "SequenceNumber": "1"}});
            serde_json::from_value::<StreamRecord>(value).expect("record")
        };
        let key = |record: StreamRecord| record.outbox_change().map(|change| (change.tenant, change.user_id));
        let owner = Some(("t1".to_string(), "u1".to_string()));
        assert_eq!(key(record("INSERT", "T#t1#OUTBOX", Some("PENDING"))), owner);
        assert_eq!(key(record("MODIFY", "T#t1#OUTBOX", None)), owner);
        assert_eq!(key(record("MODIFY", "T#t1#OUTBOX", Some("SENDING"))), None);
        assert_eq!(key(record("REMOVE", "T#t1#OUTBOX", None)), None);
        assert_eq!(key(record("INSERT", "T#t1#R#u1", Some("PENDING"))), None);
    }
}
