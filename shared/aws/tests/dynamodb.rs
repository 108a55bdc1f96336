//! The DynamoDB store against a DynamoDB-compatible server (moto, started by
//! `./scripts/test`), on tables created from `template.yaml` — the one declaration of the
//! table — plus checks that the template and the port's declared indexes agree.

mod common;

use std::time::Duration;

use aws_adapters::{DynamoDbStore, RetryPolicy};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{KeySchemaElement, KeyType};
use common::{TEMPLATE, client, create_table, key_schema, list, table_properties, text};
use item_store::{INDEXES, ItemStore, Key, StoreError};
use serde_yaml_ng::Value;

/// (name, hash attribute, range attribute) of each key schema.
fn names(schema: &[KeySchemaElement]) -> (String, String) {
    let find = |t: KeyType| schema.iter().find(|k| k.key_type() == &t).map(|k| k.attribute_name().to_string()).unwrap_or_default();
    (find(KeyType::Hash), find(KeyType::Range))
}

async fn fresh_store() -> DynamoDbStore {
    let client = client();
    let table = create_table(&client).await;
    DynamoDbStore::new(&client, table)
}

item_store::contract_tests!(fresh_store());

#[test]
fn template_indexes_equal_the_ports_declared_indexes() {
    let props = table_properties();
    assert_eq!(names(&key_schema(&props["KeySchema"])), ("pk".into(), "sk".into()));
    let mut declared: Vec<(String, String, String)> = INDEXES.iter().map(|i| (i.name.into(), i.pk_attr.into(), i.sk_attr.into())).collect();
    let mut in_template: Vec<(String, String, String)> = list(&props["GlobalSecondaryIndexes"])
        .iter()
        .map(|g| {
            assert_eq!(text(&g["Projection"]["ProjectionType"]), "ALL", "index projections are ALL");
            let (pk, sk) = names(&key_schema(&g["KeySchema"]));
            (text(&g["IndexName"]).to_string(), pk, sk)
        })
        .collect();
    declared.sort();
    in_template.sort();
    assert_eq!(in_template, declared);
    // Every key attribute is declared, as a string, and nothing else is.
    let mut defined: Vec<(String, String)> =
        list(&props["AttributeDefinitions"]).iter().map(|d| (text(&d["AttributeName"]).into(), text(&d["AttributeType"]).into())).collect();
    defined.sort();
    let mut keys: Vec<(String, String)> = ["pk", "sk"]
        .into_iter()
        .map(String::from)
        .chain(INDEXES.iter().flat_map(|i| [i.pk_attr.to_string(), i.sk_attr.to_string()]))
        .map(|a| (a, "S".to_string()))
        .collect();
    keys.sort();
    assert_eq!(defined, keys);
}

#[test]
fn template_declares_the_operational_settings() {
    let props = table_properties();
    assert_eq!(text(&props["BillingMode"]), "PAY_PER_REQUEST");
    assert_eq!(text(&props["StreamSpecification"]["StreamViewType"]), "NEW_AND_OLD_IMAGES");
    assert_eq!(text(&props["TimeToLiveSpecification"]["AttributeName"]), "expiresAt");
    assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    let doc: Value = serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML");
    assert_eq!(text(&doc["Resources"]["Table"]["DeletionPolicy"]), "Retain");
    assert_eq!(text(&doc["Resources"]["Table"]["UpdateReplacePolicy"]), "Retain");
}

/// A store that cannot reach DynamoDB answers `Unavailable` after its bounded retries.
#[tokio::test]
async fn unreachable_endpoint_is_unavailable_after_retries() {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:1")
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    let policy = RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(2) };
    let store = DynamoDbStore::new(&Client::from_conf(config), "t").with_retry_policy(policy);
    let result = store.get(&Key::new("p", "s")).await;
    assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("GetItem failed 3 times")), "{result:?}");
}

/// A missing table is a deployment problem, reported (not retried) as `Unavailable`.
#[tokio::test]
async fn missing_table_is_unavailable() {
    let store = DynamoDbStore::new(&client(), "no-such-table");
    let result = store.get(&Key::new("p", "s")).await;
    assert!(matches!(&result, Err(StoreError::Unavailable(m)) if m.contains("ResourceNotFound")), "{result:?}");
}
