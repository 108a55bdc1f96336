//! The scale measurement of `provisioning/tests/scale.rs` on `DynamoDbStore` against the
//! DynamoDB test server (moto, which does a few hundred operations a second: the count is
//! what finishes in minutes, `SCIM_SCALE_MOTO_USERS`, default 200; pages of 10 so that there
//! are pages to compare). Moto's `TransactWriteItems` copies the whole table each time,
//! so its cost grows with the table: 200 users take about 2 minutes, 1,000 far more.
//!
//! `cargo test -p aws-adapters --test scale -- --ignored --nocapture` (with moto running,
//! `SCIM_TEST_DYNAMODB_ENDPOINT` set, as `./scripts/test` does)

mod common;
#[path = "../../provisioning/tests/scale_support/mod.rs"]
mod scale_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of minutes: run with --ignored --nocapture"]
async fn users_and_a_group_as_large_on_dynamodb() {
    let users = std::env::var("SCIM_SCALE_MOTO_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    // One request at a time (moto answers 500 to concurrent transactions; see
    // `common::serialized`): moto works one request at a time anyway.
    let client = common::client_at(&common::serialized(&common::endpoint()).await);
    let table = common::create_table(&client).await;
    scale_support::measure("dynamodb (moto)", aws_adapters::DynamoDbStore::new(&client, table), users, 4, 10).await;
}
