//! 100,000 users and a group of 100,000 members on the embedded store: round trips flat
//! in the group's size and the page number, memory flat while paging. A measurement, not
//! a CI test (it takes minutes):
//!
//! `cargo test --release -p provisioning --test scale -- --ignored --nocapture`
//!
//! (`SCIM_SCALE_USERS` changes the count.) The regular guard at a size that runs in
//! seconds is `budgets.rs`.

mod scale_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of minutes: run with --ignored --nocapture"]
async fn hundred_thousand_users_on_the_embedded_store() {
    let users = std::env::var("SCIM_SCALE_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("dir");
    let store = embedded_store::EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    scale_support::measure("embedded", store, users, 8, 100).await;
}
