//! The sample events in `events/` through the real Lambda glue (deserialised as
//! `lambda_http`'s `LambdaRequest`, converted, routed) on the DynamoDB test server
//! (`SCIM_TEST_DYNAMODB_ENDPOINT`, started by `./scripts/test`), in the order an operator
//! and Entra would send them. Placeholders (`{{token}}`, `{{integration}}`, ..) are
//! replaced with what earlier events returned.
//!
//! The admin function's schedule finishes an integration's deletion that its request
//! left unfinished.
//!
//! The eaa-sync function's scheduled and manual events go through its handler against the
//! stand-in EAA server, with the credentials in an SSM SecureString.
//!
//! The mailer's stream event goes through its handler with SES on the same test server
//! (`SCIM_TEST_SES_ENDPOINT`), and the link key is read from a SecureString of its SSM API
//! (`SCIM_TEST_SSM_ENDPOINT`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use aws_adapters::DynamoDbStore;
use aws_adapters::ssm::SsmEaaCredentials;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use eaa_client::standin::{self, Delayed, Fixture, FixtureDirectory, FixtureGroup, StandinConfig};
use eaa_client::{ClientConfig, ClientConnector, EaaClient, EaaCredentials};
use lambda_glue::eaa_sync::{EaaSync, MARGIN, MAX_CONTINUATIONS, handle_eaa_sync};
use lambda_glue::{Events, handle_event};
use provisioning::tenancy::MoveTarget;
use provisioning::{BoxFuture, Caller, IntegrationKind, Provisioning, Settings, SyncTrigger};
use scim_http::Router;
use serde_json::{Value, json};
use serde_yaml_ng::Value as Yaml;

const TEMPLATE: &str = include_str!("../template.yaml");

fn client() -> Client {
    let Ok(endpoint) = std::env::var("SCIM_TEST_DYNAMODB_ENDPOINT") else {
        panic!(
            "SCIM_TEST_DYNAMODB_ENDPOINT is not set: run the tests with ./scripts/test, which starts the DynamoDB-compatible test server"
        );
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    Client::from_conf(config)
}

fn key_schema(v: &Yaml) -> Vec<KeySchemaElement> {
    v.as_sequence()
        .expect("key schema")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().expect("name"))
                .key_type(KeyType::from(k["KeyType"].as_str().expect("type")))
                .build()
                .expect("key schema element")
        })
        .collect()
}

/// A table as `template.yaml` declares it (its one declaration), under a fresh name.
async fn table_from_template(client: &Client) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!("scim-events-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let doc: Yaml = serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML");
    let props = &doc["Resources"]["Table"]["Properties"];
    let definitions = props["AttributeDefinitions"]
        .as_sequence()
        .expect("definitions")
        .iter()
        .map(|d| {
            AttributeDefinition::builder()
                .attribute_name(d["AttributeName"].as_str().expect("name"))
                .attribute_type(ScalarAttributeType::from(d["AttributeType"].as_str().expect("type")))
                .build()
                .expect("attribute definition")
        })
        .collect();
    let indexes = props["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("indexes")
        .iter()
        .map(|g| {
            GlobalSecondaryIndex::builder()
                .index_name(g["IndexName"].as_str().expect("index name"))
                .set_key_schema(Some(key_schema(&g["KeySchema"])))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("index")
        })
        .collect();
    client
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(&props["KeySchema"])))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateTable {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)));
    name
}

struct Harness {
    router: Router<DynamoDbStore>,
    values: Vec<(&'static str, String)>,
}

impl Harness {
    fn event(&self, file: &str) -> Value {
        let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
        let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for (name, value) in &self.values {
            text = text.replace(&format!("{{{{{name}}}}}"), value);
        }
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    /// Sends an event file through the glue as the given function, expects `status`,
    /// and returns the (parsed) body.
    async fn send(&self, file: &str, events: Events, status: u16) -> Value {
        let response = handle_event(&self.router, self.event(file), events).await.unwrap_or_else(|e| panic!("{file}: {e}"));
        let body = response["body"].as_str().map(|b| serde_json::from_str(b).expect("JSON body")).unwrap_or(Value::Null);
        assert_eq!(response["statusCode"], status, "{file}: {body:#}");
        assert_eq!(response["headers"]["content-type"], "application/scim+json", "{file}");
        body
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_sample_event_through_the_lambda_glue() {
    let client = client();
    let table = table_from_template(&client).await;
    let router = Router::new(Arc::new(Provisioning::new(DynamoDbStore::new(&client, table))));
    let mut h = Harness { router, values: Vec::new() };
    let http = Events::HttpOnly;

    // The operator's bootstrap invoke: only the admin function accepts it.
    assert!(handle_event(&h.router, h.event("bootstrap.json"), http).await.is_err());
    let nameless = serde_json::json!({"bootstrap": {"tenantName": " "}});
    assert!(handle_event(&h.router, nameless, Events::HttpAndBootstrap).await.is_err());
    let boot = handle_event(&h.router, h.event("bootstrap.json"), Events::HttpAndBootstrap).await.expect("bootstrap");
    h.values.push(("adminKey", boot["adminKey"].as_str().expect("admin key").to_string()));
    h.values.push(("tenantId", boot["tenantId"].as_str().expect("tenant id").to_string()));

    // The operator sets the seat limit; the admin sees it (and cannot set it).
    assert!(handle_event(&h.router, h.event("seat-limit.json"), http).await.is_err(), "only the admin function");
    let seats = handle_event(&h.router, h.event("seat-limit.json"), Events::HttpAndBootstrap).await.expect("seat limit");
    assert_eq!(seats["seats"], serde_json::json!({"used": 0, "limit": 2}));
    let unknown = serde_json::json!({"seatLimit": {"tenantId": "no-such-tenant", "limit": 2}});
    assert!(handle_event(&h.router, unknown, Events::HttpAndBootstrap).await.is_err(), "a tenant that does not exist");
    let tenant = h.send("admin-tenant.json", Events::HttpAndBootstrap, 200).await;
    assert_eq!((tenant["name"].as_str(), &tenant["seats"]), (Some("Contoso"), &serde_json::json!({"used": 0, "limit": 2})));

    let created = h.send("admin-integrations-create.json", Events::HttpAndBootstrap, 201).await;
    let integration = created["id"].as_str().expect("integration id").to_string();
    assert_eq!(created["scimBaseUrl"], format!("https://abc123.execute-api.eu-west-1.amazonaws.com/scim/v2/{integration}"));
    h.values.push(("token", created["token"].as_str().expect("token").to_string()));
    h.values.push(("integration", integration.clone()));
    h.send("admin-integrations-list.json", Events::HttpAndBootstrap, 200).await;

    // Entra: test connection, create, read, patch.
    assert_eq!(h.send("users-list.json", http, 200).await["totalResults"], 0);
    let user = h.send("users-create.json", http, 201).await;
    h.values.push(("userId", user["id"].as_str().expect("user id").to_string()));
    assert_eq!(h.send("users-list.json", http, 200).await["totalResults"], 1);
    h.send("users-get.json", http, 200).await;
    assert_eq!(h.send("users-patch.json", http, 200).await["active"], false);

    let group = h.send("groups-create.json", http, 201).await;
    h.values.push(("groupId", group["id"].as_str().expect("group id").to_string()));
    h.send("groups-patch.json", http, 204).await;
    assert!(h.send("groups-get.json", http, 200).await.get("members").is_none());
    assert_eq!(h.send("groups-list.json", http, 200).await["totalResults"], 1);

    // Discovery, one event with a named stage: the stage stays in the public URLs.
    let config = h.send("discovery-service-provider-config.json", http, 200).await;
    assert_eq!(
        config["meta"]["location"],
        format!("https://abc123.execute-api.eu-west-1.amazonaws.com/dev/scim/v2/{integration}/ServiceProviderConfig")
    );
    h.send("discovery-schemas.json", http, 200).await;
    h.send("discovery-resource-types.json", http, 200).await;

    h.send("admin-users-list.json", Events::HttpAndBootstrap, 200).await;
    let tenant = h.send("admin-tenant.json", Events::HttpAndBootstrap, 200).await;
    assert_eq!(tenant["seats"], serde_json::json!({"used": 1, "limit": 2}), "{tenant:#}");
    assert_eq!(tenant["users"]["byStatus"]["PROVISIONING_DISABLED"], 1, "a suspended user holds a seat: {tenant:#}");
    let log = h.send("admin-log.json", Events::HttpAndBootstrap, 200).await;
    assert!(log["entries"].as_array().is_some_and(|e| !e.is_empty()));

    // A query string a URI cannot hold is a 400 SCIM error, not a failed invocation.
    let mut raw = h.event("users-list.json");
    raw["rawQueryString"] = Value::String("filter=userName eq \"a b\"{}".into());
    let response = handle_event(&h.router, raw, http).await.expect("answered");
    assert!(matches!(response["statusCode"].as_u64(), Some(200 | 400)), "{response}");
    assert_eq!(response["headers"]["content-type"], "application/scim+json");

    h.send("groups-delete.json", http, 204).await;
    h.send("users-delete.json", http, 204).await;
    h.send("users-get.json", http, 404).await;
}

/// An integration's deletion that did not finish within its request goes on in the admin
/// function's scheduled invocations (`events/admin-schedule.json`), on DynamoDB.
#[tokio::test(flavor = "multi_thread")]
async fn the_admin_functions_schedule_finishes_an_integrations_deletion() {
    let client = client();
    let table = table_from_template(&client).await;
    let service = Arc::new(Provisioning::new(DynamoDbStore::new(&client, table)));
    let router = Router::new(Arc::clone(&service));
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant");
    let admin = Caller::admin(&tenant.tenant);
    let created = service.create_integration(&admin, IntegrationKind::Scim, "Entra", Settings::default()).await.expect("integration");
    let entra = service.authenticate(&created.token).await.expect("token");
    for name in ["ann", "bob", "cat"] {
        service.create(&entra, &provisioning::USERS, &json!({"userName": name})).await.expect("user");
    }
    let job = service.delete_integration(&admin, &created.integration.id, MoveTarget::Manual, 1).await.expect("delete");
    assert!(!job.done(), "one user examined in the request: {job:?}");

    let path = format!("{}/../events/admin-schedule.json", env!("CARGO_MANIFEST_DIR"));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("event")).expect("JSON");
    assert!(handle_event(&router, event.clone(), Events::HttpOnly).await.is_err(), "only the admin function has the schedule");
    let answer = handle_event(&router, event, Events::HttpAndBootstrap).await.expect("scheduled invocation");
    assert!(answer["sourceMoves"]["passes"].as_u64().is_some_and(|p| p >= 1), "{answer}");
    let done = service.source_move(&admin, &job.id).await.expect("job");
    assert_eq!((done.done(), done.moved), (true, 3), "{done:?}");
    assert!(service.pending_source_moves(10).await.expect("pending").is_empty());
}

fn test_endpoint(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run the tests with ./scripts/test, which starts the AWS test server"))
}

fn ses_client() -> aws_sdk_ses::Client {
    let config = aws_sdk_ses::Config::builder()
        .behavior_version(aws_sdk_ses::config::BehaviorVersion::latest())
        .region(aws_sdk_ses::config::Region::new("us-east-1"))
        .endpoint_url(test_endpoint("SCIM_TEST_SES_ENDPOINT"))
        .credentials_provider(aws_sdk_ses::config::Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_ses::Client::from_conf(config)
}

fn ssm_client() -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
        .region(aws_sdk_ssm::config::Region::new("us-east-1"))
        .endpoint_url(test_endpoint("SCIM_TEST_SSM_ENDPOINT"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

/// The enrollment flow in AWS: SCIM creates a user (outbox item), the table's stream
/// record reaches the mailer function's handler (SES sends), and the link's events reach
/// the enroll function's router.
#[tokio::test(flavor = "multi_thread")]
async fn mailer_stream_and_enroll_events_through_the_glue() {
    use aws_adapters::SesMailer;
    use provisioning::enrollment::EnrollmentConfig;
    use provisioning::enrollment::LinkClaims;
    use provisioning::enrollment::OutboxMailer;
    use provisioning::enrollment::OutboxState;
    use provisioning::{Caller, IntegrationKind, Settings};

    // The key as the template's functions read it: a SecureString, in hex.
    let ssm = ssm_client();
    let parameter = format!("/scim-events/{}/enrollment-key", std::process::id());
    let hex_key = "ab".repeat(32);
    ssm.put_parameter()
        .name(&parameter)
        .value(&hex_key)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("PutParameter");
    let key = aws_adapters::ssm::link_key(&ssm, &parameter).await.expect("the key from SSM");
    assert!(aws_adapters::ssm::link_key(&ssm, "/scim-events/missing").await.is_err());
    let config = EnrollmentConfig::new(key.clone(), "https://abc123.execute-api.eu-west-1.amazonaws.com/enroll", "Acme MFA");

    let client = client();
    let table = table_from_template(&client).await;
    let service = Arc::new(Provisioning::new(DynamoDbStore::new(&client, table)));
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant").tenant;
    let settings = Settings { send_enrollment_emails: true, ..Settings::default() };
    let admin = Caller::admin(&tenant);
    let integration = service.create_integration(&admin, IntegrationKind::Scim, "Entra", settings).await.expect("integration");
    let router = Router::new(Arc::clone(&service));
    let mut h = Harness { router: router.clone().with_enrollment(config.clone()), values: Vec::new() };
    h.values.push(("token", integration.token.clone()));
    h.values.push(("integration", integration.integration.id.clone()));
    let user = h.send("users-create.json", Events::HttpOnly, 201).await;
    let user_id = user["id"].as_str().expect("user id").to_string();

    // The sample stream record, pointed at this user's outbox item.
    let sender = format!("no-reply-{}@mfa.example.test", std::process::id());
    ses_client().verify_email_identity().email_address(&sender).send().await.expect("VerifyEmailIdentity");
    let mailer = OutboxMailer::new(Arc::clone(&service), SesMailer::new(ses_client(), &sender, None), config);
    let sample = h.event("mailer-stream.json").to_string();
    let record = sample.replace("7d0f9a4e-3b1c-4f4a-9a53-2f7f0d3c1b10", &tenant).replace("5b2c8e1a-6f0d-4d2e-8c7b-1a9e3f4d5c6b", &user_id);
    let record: Value = serde_json::from_str(&record).expect("stream event");
    let answer = lambda_glue::stream::handle_stream(&mailer, record.clone()).await.expect("mailer handler");
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    let outbox = service.outbox_email(&tenant, &user_id).await.expect("outbox").expect("outbox item");
    assert_eq!(outbox.email.state, OutboxState::Sent);
    // A replay (Lambda delivers at least once) sends nothing again and succeeds.
    assert_eq!(lambda_glue::stream::handle_stream(&mailer, record).await.expect("replay")["batchItemFailures"], serde_json::json!([]));
    assert!(lambda_glue::stream::handle_stream(&mailer, serde_json::json!({"Records": "x"})).await.is_err());

    // The link the email carries (same key, the outbox item's nonce).
    let expires_at = outbox.email.queued_at + 3600 * 24;
    let claims = LinkClaims { tenant: tenant.clone(), user_id: user_id.clone(), nonce: outbox.email.nonce, expires_at };
    h.values.push(("enrollToken", key.sign(&claims)));
    let info = h.send("enroll-get.json", Events::HttpOnly, 200).await;
    assert_eq!((info["userId"].as_str(), info["productName"].as_str()), (Some(user_id.as_str()), Some("Acme MFA")));
    let device = h.send("enroll-post.json", Events::HttpOnly, 201).await;
    assert_eq!(device["deviceType"], "PUSH");
    assert_eq!(h.send("enroll-post.json", Events::HttpOnly, 410).await["code"], "usedLink");

    // A function without the key does not serve links.
    let without = Harness { router, values: h.values.clone() };
    without.send("enroll-get.json", Events::HttpOnly, 404).await;
}

/// The mailer's stream filter in the template selects exactly what the mailer acts on: the
/// outbox items' kind and pending state as the code writes them.
#[test]
fn the_template_filters_the_stream_to_pending_outbox_items() {
    let doc: Yaml = serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML");
    let outbox = &doc["Resources"]["MailerFunction"]["Properties"]["Events"]["Outbox"]["Properties"];
    let pattern = outbox["FilterCriteria"]["Filters"][0]["Pattern"].as_str().expect("a filter pattern");
    let pattern: Value = serde_json::from_str(pattern).expect("the pattern is JSON");
    assert_eq!(pattern["eventName"], serde_json::json!(["INSERT", "MODIFY"]));
    let image = &pattern["dynamodb"]["NewImage"];
    assert_eq!(image["kind"]["S"], serde_json::json!([provisioning::enrollment::OUTBOX_KIND]));
    let pending = serde_json::to_value(provisioning::enrollment::OutboxState::Pending).expect("state");
    assert_eq!(image["state"]["S"], serde_json::json!([pending]));
    // The sample stream event is one the filter lets through.
    let sample: Value = serde_json::from_str(include_str!("../events/mailer-stream.json")).expect("mailer-stream.json");
    let record = &sample["Records"][0];
    assert!(pattern["eventName"].as_array().is_some_and(|names| names.contains(&record["eventName"])));
    for attribute in ["kind", "state"] {
        let value = &record["dynamodb"]["NewImage"][attribute]["S"];
        assert!(image[attribute]["S"].as_array().is_some_and(|values| values.contains(value)), "{attribute}");
    }
}

// --- The eaa-sync function: its sample events through its real handler, the tenant's EAA
// credentials read by the real SSM source from a SecureString of the test server's SSM
// API, EAA answered by the stand-in server.

fn eaa_user(id: &str, name: &str) -> Value {
    json!({"user_uuid_url": id, "username": name, "first_name": name, "last_name": "Doe", "email": format!("{name}@corp.example"),
           "display_name": "", "phone_num": "+15550100", "upn": format!("{name}@corp.example"), "status": 1, "modified_at": "2024-02-01T10:00:00"})
}

fn eaa_fixture() -> Fixture {
    Fixture {
        directories: vec![FixtureDirectory {
            uuid_url: "d1".into(),
            name: "Corp AD".into(),
            groups: vec![
                FixtureGroup {
                    uuid_url: "sales".into(),
                    name: "Sales".into(),
                    users: vec![eaa_user("u-ann", "ann"), eaa_user("u-bob", "bob")],
                },
                FixtureGroup { uuid_url: "idle".into(), name: "Idle".into(), users: vec![eaa_user("u-fay", "fay")] },
            ],
        }],
    }
}

fn eaa_event(file: &str, values: &[(&str, &str)]) -> Value {
    let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn eaa_client_config() -> ClientConfig {
    ClientConfig { scheme: "http", requests_per_minute: 100_000, ..ClientConfig::default() }
}

async fn eaa_user_names(service: &Provisioning<DynamoDbStore>, admin: &Caller) -> Vec<String> {
    let (users, _) = service.list_user_summaries(admin, &Default::default(), None, 100).await.expect("users");
    let mut names: Vec<String> = users.into_iter().map(|u| u.user_name).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_and_manual_events_sync_the_tenant() {
    let dynamodb = client();
    let table = table_from_template(&dynamodb).await;
    let service = Provisioning::new(DynamoDbStore::new(&dynamodb, table.clone()));
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant").tenant;
    let admin = Caller::admin(&tenant);
    let integration =
        service.create_integration(&admin, IntegrationKind::Eaa, "EAA", Settings::default()).await.expect("EAA").integration.id;

    let config = StandinConfig::for_tests();
    let (addr, standin) = standin::spawn(eaa_fixture(), config.clone()).await.expect("stand-in");
    let credentials =
        EaaCredentials { host: addr.to_string(), edgegrid: config.credentials.clone(), contract_id: config.contract_id.clone() };
    let setup_client = EaaClient::new(credentials.clone(), eaa_client_config()).expect("client");
    service.associate_eaa_directory(&admin, &setup_client, "d1").await.expect("directory");
    service.associate_eaa_group(&admin, &setup_client, "d1", "sales").await.expect("group");

    // The operator's parameter for this tenant's reference `corp`: {prefix}/{tenant}/corp.
    let prefix = format!("/{table}/eaa");
    let secret = json!({"host": credentials.host, "clientToken": config.credentials.client_token,
        "clientSecret": config.credentials.client_secret, "accessToken": config.credentials.access_token, "contractId": config.contract_id});
    ssm_client()
        .put_parameter()
        .name(format!("{prefix}/{tenant}/corp"))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(secret.to_string())
        .send()
        .await
        .expect("PutParameter");
    let connector = Arc::new(ClientConnector { credentials: SsmEaaCredentials::new(ssm_client(), &prefix), config: eaa_client_config() });
    // Checked when set: a reference with no parameter is 409, the operator's one is taken.
    let missing = service.set_eaa_credentials(&admin, "nothing-here", connector.as_ref()).await.expect_err("no parameter");
    assert_eq!(missing.to_scim().status, 409, "{}", missing.detail());
    assert!(!missing.detail().contains(&prefix), "the SSM path is the server's: {}", missing.detail());
    service.set_eaa_credentials(&admin, "corp", connector.as_ref()).await.expect("credentials reference");
    let continuations = Arc::new(Recorded::default());
    let sync = EaaSync { service, connector, continuation: Some(continuations.clone()) };
    let deadline = || Instant::now() + Duration::from_secs(900);

    let answer = handle_eaa_sync(&sync, eaa_event("eaa-sync-scheduled.json", &[]), deadline()).await.expect("scheduled");
    let targets = answer["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1, "{answer:#}");
    assert_eq!(targets[0]["tenant"], tenant.as_str());
    assert_eq!(targets[0]["result"]["progress"], "done", "{answer:#}");
    assert_eq!(eaa_user_names(&sync.service, &admin).await, ["ann@corp.example", "bob@corp.example"]);

    // A user joins the group in EAA; the manual event syncs the tenant now.
    standin.update(|f| f.directories[0].groups[0].users.push(eaa_user("u-cat", "cat")));
    let manual = eaa_event("eaa-sync-manual.json", &[("tenant", &tenant), ("integration", &integration)]);
    let answer = handle_eaa_sync(&sync, manual.clone(), deadline()).await.expect("manual");
    assert_eq!(answer["targets"][0]["result"]["progress"], "done", "{answer:#}");
    assert_eq!(eaa_user_names(&sync.service, &admin).await, ["ann@corp.example", "bob@corp.example", "cat@corp.example"]);
    assert!(continuations.take().is_empty(), "a finished sync starts nothing");

    // No time left: the target is skipped and handed to a new invocation.
    let answer = handle_eaa_sync(&sync, eaa_event("eaa-sync-scheduled.json", &[]), Instant::now()).await.expect("late");
    assert_eq!(answer["targets"][0]["result"]["progress"], "skipped");
    assert_eq!(answer["targets"][0]["continuedIn"], "invoked");
    assert_eq!(continuations.take(), [(tenant.clone(), integration.clone(), 1)]);

    // Out of time mid-run: checkpointed, and the continuation (the event the trigger
    // sends) goes on from the checkpoint until done. One user per page, each page 200 ms,
    // half a second per invocation: the run needs more than one.
    standin.update(|f| f.directories[0].groups[0].users.push(eaa_user("u-dan", "dan")));
    let slow_sync = EaaSync {
        service: Provisioning::new(sync.service.store().clone()),
        connector: Arc::new(Delayed {
            inner: ClientConnector {
                credentials: SsmEaaCredentials::new(ssm_client(), &prefix),
                config: ClientConfig { page_size: 1, ..eaa_client_config() },
            },
            delay: Duration::from_millis(200),
        }),
        continuation: Some(continuations.clone()),
    };
    let almost_out = || Instant::now() + MARGIN + Duration::from_millis(500);
    let mut event = manual.clone();
    let mut invocations = 0;
    loop {
        invocations += 1;
        assert!(invocations < 100, "no progress");
        let answer = handle_eaa_sync(&slow_sync, event, almost_out()).await.expect("step");
        match answer["targets"][0]["result"]["progress"].as_str() {
            Some("done") => break,
            // `skipped` only if this machine stalled for the whole half second.
            Some("continue" | "skipped") => {
                assert_eq!(answer["targets"][0]["continuedIn"], "invoked", "{answer:#}");
                let [(t, i, n)] = <[_; 1]>::try_from(continuations.take()).expect("one continuation");
                assert_eq!((t.as_str(), i.as_str(), n), (tenant.as_str(), integration.as_str(), invocations));
                event = json!({"tenant": t, "integration": i, "continuation": n});
            }
            other => panic!("unexpected {other:?}: {answer:#}"),
        }
    }
    assert!(invocations > 1, "the budget must have split the run");
    assert!(continuations.take().is_empty());
    assert_eq!(eaa_user_names(&sync.service, &admin).await.len(), 4);

    // A chain at its limit is not continued: the next schedule goes on from the checkpoint.
    standin.update(|f| f.directories[0].groups[0].users.push(eaa_user("u-eve", "eve")));
    let at_limit = json!({"tenant": tenant, "integration": integration, "continuation": MAX_CONTINUATIONS});
    let answer = handle_eaa_sync(&slow_sync, at_limit, almost_out()).await.expect("step");
    assert!(matches!(answer["targets"][0]["result"]["progress"].as_str(), Some("continue" | "skipped")), "{answer:#}");
    assert!(answer["targets"][0]["continuedIn"].as_str().is_some_and(|c| c.starts_with("next schedule")), "{answer:#}");
    assert!(continuations.take().is_empty());
    let answer = handle_eaa_sync(&sync, manual, deadline()).await.expect("resumed");
    assert_eq!(answer["targets"][0]["result"]["progress"], "done", "{answer:#}");
    assert_eq!(eaa_user_names(&sync.service, &admin).await.len(), 5);

    // Refused: another tenant, a replaced integration, an event of neither shape.
    let other = eaa_event("eaa-sync-manual.json", &[("tenant", "nobody"), ("integration", &integration)]);
    assert!(handle_eaa_sync(&sync, other, deadline()).await.is_err());
    let stale = eaa_event("eaa-sync-manual.json", &[("tenant", &tenant), ("integration", "old")]);
    assert!(handle_eaa_sync(&sync, stale, deadline()).await.is_err());
    assert!(handle_eaa_sync(&sync, json!({"Records": []}), deadline()).await.is_err());
}

/// The continuations the handler starts. Lambda's asynchronous invoke cannot run here
/// (no Lambda service); its request is tested in `shared/aws/tests/lambda_invoke.rs`.
#[derive(Default)]
struct Recorded(std::sync::Mutex<Vec<(String, String, u32)>>);

impl Recorded {
    fn take(&self) -> Vec<(String, String, u32)> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

impl SyncTrigger for Recorded {
    fn trigger<'a>(&'a self, tenant: &'a str, integration: &'a str, continuation: u32) -> BoxFuture<'a, Result<(), String>> {
        self.0.lock().expect("not poisoned").push((tenant.to_string(), integration.to_string(), continuation));
        Box::pin(async { Ok(()) })
    }
}

/// The template's sync function runs the `scim-eaa-sync` binary on the 6-hour schedule,
/// and gives it the variable the SSM credentials source reads.
#[test]
fn the_template_schedules_the_eaa_sync_function() {
    let doc: Yaml = serde_yaml_ng::from_str(TEMPLATE).expect("template.yaml is YAML");
    let function = &doc["Resources"]["EaaSyncFunction"];
    assert_eq!(function["Metadata"]["BuildProperties"]["Binary"].as_str(), Some("scim-eaa-sync"));
    let cargo = include_str!("../functions/eaa-sync/Cargo.toml");
    assert!(cargo.contains("name = \"scim-eaa-sync\""));
    let props = &function["Properties"];
    assert_eq!(props["Events"]["Schedule"]["Type"].as_str(), Some("Schedule"));
    assert_eq!(props["Events"]["Schedule"]["Properties"]["Schedule"].as_str(), Some("rate(6 hours)"));
    assert!(props["Environment"]["Variables"].get(aws_adapters::ssm::EAA_PREFIX_ENV).is_some());
    // It may invoke itself (continuations): the statement names its own function name.
    let name = props["FunctionName"]["Fn::Sub"].as_str().or(props["FunctionName"]["!Sub"].as_str());
    let statements = serde_yaml_ng::to_string(&props["Policies"]).expect("policies");
    assert!(statements.contains("lambda:InvokeFunction"), "{statements}");
    assert!(name.is_none_or(|n| statements.contains(n.trim_start_matches("${AWS::StackName}"))), "{statements}");
    assert!(serde_yaml_ng::to_string(&props["FunctionName"]).expect("name").contains("-eaa-sync"));

    // The admin function reaches EAA and starts the sync function ("sync now").
    let admin = &doc["Resources"]["AdminFunction"]["Properties"];
    let variables = &admin["Environment"]["Variables"];
    assert!(variables.get(aws_adapters::ssm::EAA_PREFIX_ENV).is_some());
    assert!(serde_yaml_ng::to_string(&variables[aws_adapters::lambda_invoke::SYNC_FUNCTION_ENV]).expect("var").contains("EaaSyncFunction"));
    let policies = serde_yaml_ng::to_string(&admin["Policies"]).expect("policies");
    assert!(policies.contains("LambdaInvokePolicy") && policies.contains("EaaSyncFunction"), "{policies}");
    assert!(policies.contains("ssm:GetParameter"), "{policies}");
}
