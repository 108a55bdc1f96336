//! The lifecycle rules (`lifecycle_rules`) on the embedded store.

mod common;
mod lifecycle_rules;

#[tokio::test]
async fn deletion_releases_or_removes_and_nothing_names_a_deleted_integration() {
    let service = common::service().await;
    lifecycle_rules::deletion_releases_or_removes_and_nothing_names_a_deleted_integration(&service).await;
}
