//! Group displayNames unique per owner on `DynamoDbStore` against the DynamoDB test server
//! (moto, started by `./scripts/test`): the embedded store's scenario, run here too.

mod common;

#[path = "../../provisioning/tests/scenarios/group_names.rs"]
mod scenario;

#[tokio::test]
async fn group_names_are_unique_per_owner_and_old_groups_read_correctly() {
    let client = common::client();
    let table = common::create_table(&client).await;
    scenario::group_names_are_unique_per_owner(provisioning::Provisioning::new(aws_adapters::DynamoDbStore::new(&client, table))).await;
}
