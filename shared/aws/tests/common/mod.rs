//! Shared by the DynamoDB tests: a client for the test server (moto, started by
//! `./scripts/test`) and tables created from `template.yaml`, the one declaration of the
//! table.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    StreamSpecification, StreamViewType,
};
use serde_yaml_ng::Value;

pub const TEMPLATE: &str = include_str!("../../../../template.yaml");

/// The `Table` resource's properties in template.yaml (short tags such as `!Sub` parse as
/// tagged values and are simply not looked at).
pub fn table_properties() -> Value {
    let doc: Value = serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML");
    let table = &doc["Resources"]["Table"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    table["Properties"].clone()
}

pub fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string in template.yaml, got {v:?}"))
}

pub fn list(v: &Value) -> &Vec<Value> {
    v.as_sequence().unwrap_or_else(|| panic!("expected a list in template.yaml, got {v:?}"))
}

pub fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    list(v)
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(text(&k["AttributeName"]))
                .key_type(KeyType::from(text(&k["KeyType"])))
                .build()
                .expect("key schema element")
        })
        .collect()
}

/// A client for the test server.
pub fn client() -> Client {
    client_at(&endpoint())
}

/// The test server's endpoint; the DynamoDB tests fail, not skip, without it.
pub fn endpoint() -> String {
    let Ok(endpoint) = std::env::var("SCIM_TEST_DYNAMODB_ENDPOINT") else {
        panic!(
            "SCIM_TEST_DYNAMODB_ENDPOINT is not set: run the tests with ./scripts/test, \
             which installs and starts the DynamoDB-compatible test server (moto)"
        );
    };
    endpoint
}

/// A client for the DynamoDB API at `endpoint` (static test credentials, us-east-1).
pub fn client_at(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    Client::from_conf(config)
}

/// Creates a table from the template's definition, under a name unique to this test.
pub async fn create_table(client: &Client) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!("scim-test-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let props = table_properties();
    let definitions = list(&props["AttributeDefinitions"])
        .iter()
        .map(|d| {
            AttributeDefinition::builder()
                .attribute_name(text(&d["AttributeName"]))
                .attribute_type(ScalarAttributeType::from(text(&d["AttributeType"])))
                .build()
                .expect("attribute definition")
        })
        .collect();
    let indexes = list(&props["GlobalSecondaryIndexes"])
        .iter()
        .map(|g| {
            GlobalSecondaryIndex::builder()
                .index_name(text(&g["IndexName"]))
                .set_key_schema(Some(key_schema(&g["KeySchema"])))
                .projection(Projection::builder().projection_type(ProjectionType::from(text(&g["Projection"]["ProjectionType"]))).build())
                .build()
                .expect("global secondary index")
        })
        .collect();
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::from(text(&props["BillingMode"])))
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(&props["KeySchema"])))
        .set_global_secondary_indexes(Some(indexes))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(text(&props["StreamSpecification"]["StreamViewType"])))
                .build()
                .expect("stream specification"),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)));
    name
}

/// An endpoint in front of `upstream` that forwards one request at a time.
///
/// Moto's DynamoDB is not isolated under concurrent requests: `TransactWriteItems`
/// deep-copies the table, applies its operations without a lock and, when canceled,
/// restores the copy, wiping writes that other requests made meanwhile; conditions are
/// not checked atomically with the writes either. DynamoDB guarantees both. The
/// concurrency tests put this in front of moto so that each request is atomic and
/// isolated, as on DynamoDB, while the domain still has every request in flight at once.
/// Call it inside the test's runtime (it spawns the proxy there).
pub async fn serialized(upstream: &str) -> String {
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper_util::client::legacy::Client as HttpClient;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
    let address = listener.local_addr().expect("proxy address");
    let upstream = upstream.trim_end_matches('/').to_string();
    let client: HttpClient<_, Full<Bytes>> = HttpClient::builder(TokioExecutor::new()).build_http();
    let one_at_a_time = Arc::new(tokio::sync::Mutex::new(()));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (client, upstream, one_at_a_time) = (client.clone(), upstream.clone(), one_at_a_time.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                    let (client, upstream, one_at_a_time) = (client.clone(), upstream.clone(), one_at_a_time.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                        let mut forward = hyper::Request::builder().method(parts.method).uri(format!("{upstream}{path}"));
                        for (name, value) in &parts.headers {
                            forward = forward.header(name, value);
                        }
                        let forward = forward.body(Full::new(body)).expect("forwarded request");
                        let _turn = one_at_a_time.lock().await;
                        let response = client.request(forward).await.expect("moto answers");
                        let (parts, body) = response.into_parts();
                        let body = body.collect().await?.to_bytes();
                        Ok::<_, hyper::Error>(hyper::Response::from_parts(parts, Full::new(body)))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    format!("http://{address}")
}
