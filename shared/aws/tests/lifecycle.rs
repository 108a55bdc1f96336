//! The lifecycle rules of `provisioning/tests/lifecycle_rules` (an integration's deletion
//! releasing or removing its records through its job, records of deleted integrations
//! manual, admin moves) on `DynamoDbStore` against the DynamoDB test server (moto).

mod common;

#[path = "../../provisioning/tests/lifecycle_rules/mod.rs"]
mod lifecycle_rules;

use aws_adapters::DynamoDbStore;
use provisioning::Provisioning;

#[tokio::test]
async fn deletion_releases_or_removes_and_nothing_names_a_deleted_integration() {
    let client = common::client();
    let table = common::create_table(&client).await;
    let service = Provisioning::new(DynamoDbStore::new(&client, table));
    lifecycle_rules::deletion_releases_or_removes_and_nothing_names_a_deleted_integration(&service).await;
}
