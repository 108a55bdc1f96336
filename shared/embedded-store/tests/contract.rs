//! The item store contract, run against the embedded store (one fresh file per case).

use embedded_store::EmbeddedStore;

/// A store in a fresh temporary directory. The directory is leaked for the test's
/// duration (the process exit removes nothing, but the OS temp dir is cleaned).
async fn fresh_store() -> EmbeddedStore {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    EmbeddedStore::open(dir.join("items.redb")).expect("open store")
}

item_store::contract_tests!(fresh_store());

/// The whole suite against one store, as the local server would share it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_on_one_store() {
    let store = std::sync::Arc::new(fresh_store().await);
    item_store::contract::run_all(&store).await;
}
