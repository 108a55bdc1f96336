//! Group displayNames unique per owner on the embedded store (the scenario is shared with
//! the DynamoDB run: `scenarios/group_names.rs`).

#[path = "scenarios/group_names.rs"]
mod scenario;

#[tokio::test]
async fn group_names_are_unique_per_owner_and_old_groups_read_correctly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = embedded_store::EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    scenario::group_names_are_unique_per_owner(provisioning::Provisioning::new(store)).await;
}
