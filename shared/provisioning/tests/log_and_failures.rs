//! The provisioning log, and store failures becoming retryable errors with nothing lost.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use embedded_store::EmbeddedStore;
use item_store::{FailingStore, Fault};
use provisioning::log::{LogOperation, LogOutcome};
use provisioning::{Caller, Error, IntegrationKind, Provisioning, Settings, USERS};
use serde_json::json;

#[tokio::test]
async fn every_write_and_failure_is_logged_newest_first_with_paging() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let id = id_of(&service.create(&entra, &USERS, &entra_user("lou")).await.unwrap().resource);
    service.patch(&entra, &USERS, &id, &patch(json!([{"op":"replace","path":"name.familyName","value":"Smith"}])), None).await.unwrap();
    // A no-op writes nothing and logs nothing.
    service.patch(&entra, &USERS, &id, &patch(json!([{"op":"replace","path":"name.familyName","value":"Smith"}])), None).await.unwrap();
    assert!(service.create(&entra, &USERS, &entra_user("LOU")).await.is_err());
    service.delete(&entra, &USERS, &id, None).await.unwrap();

    let page = service.list_log(&tenant.admin, &Default::default(), None, 3).await.unwrap();
    let ops: Vec<_> = page.entries.iter().map(|e| (e.operation, e.outcome)).collect();
    assert_eq!(
        ops,
        [
            (LogOperation::Delete, LogOutcome::Success),
            (LogOperation::Create, LogOutcome::Failure),
            (LogOperation::Patch, LogOutcome::Success)
        ]
    );
    let failure = &page.entries[1];
    assert!(failure.detail.as_deref().is_some_and(|d| d.contains("userName")), "{failure:?}");
    assert_eq!(page.entries[2].changed_attributes, ["name"]);
    assert_eq!(page.entries[2].resource_id.as_deref(), Some(id.as_str()));
    assert_eq!(page.entries[2].actor, entra.actor_name());
    assert_eq!(page.entries[2].expires_at - page.entries[2].time, 30 * 24 * 3600);
    let rest = service.list_log(&tenant.admin, &Default::default(), page.next.as_deref(), 3).await.unwrap();
    assert_eq!(rest.entries.len(), 1);
    assert_eq!(rest.entries[0].operation, LogOperation::Create);
    assert!(rest.entries[0].changed_attributes.contains(&"userName".to_string()));
    assert!(rest.next.is_none());
    // Integrations cannot read it; other tenants see their own (empty) log.
    assert!(service.list_log(&entra, &Default::default(), None, 10).await.is_err());
    let other = common::tenant(&service, None).await;
    assert!(service.list_log(&other.admin, &Default::default(), None, 10).await.unwrap().entries.is_empty());
}

#[tokio::test]
async fn store_throttling_and_outages_are_retryable_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap().keep();
    let store = Arc::new(FailingStore::new(EmbeddedStore::open(dir.join("items.redb")).unwrap()));
    let service = Provisioning::new(store.clone());
    let created = service.create_tenant("T", Some(100)).await.unwrap();
    let admin = Caller::admin(&created.tenant);
    let integration = service.create_integration(&admin, IntegrationKind::Scim, "Entra", Settings::default()).await.unwrap();
    let entra = service.authenticate(&integration.token).await.unwrap();

    let retry_after = Duration::from_millis(1500);
    store.fail_next(1, Fault::Throttled { retry_after });
    let error = service.create(&entra, &USERS, &entra_user("mo")).await.unwrap_err();
    assert_eq!(error, Error::Retryable { throttled: true, retry_after, detail: error.detail() });
    assert_eq!(error.to_scim().status, 429);
    store.fail_next(1, Fault::Unavailable);
    let error = service.list(&entra, &USERS, &filter("userName eq \"mo\"")).await.unwrap_err();
    assert!(error.is_retryable());
    assert_eq!(error.to_scim().status, 503);

    // Nothing half-written: the retry succeeds as a fresh create, once.
    let id = id_of(&service.create(&entra, &USERS, &entra_user("mo")).await.unwrap().resource);
    assert_eq!(service.seats(&created.tenant).await.unwrap().used, 1);
    // A failure in the middle of a PATCH leaves the user as it was.
    store.fail_next(1, Fault::Unavailable);
    let body = patch(json!([{"op":"replace","path":"active","value":false}]));
    assert!(service.patch(&entra, &USERS, &id, &body, None).await.unwrap_err().is_retryable());
    let got = service.get(&entra, &USERS, &id, &all_attributes()).await.unwrap();
    assert_eq!((got["active"].clone(), got["meta"]["version"].clone()), (json!(true), json!("W/\"1\"")));
}

/// Passes reads through and fails every transaction while `failing` is set: the failure
/// hits after the PATCH's read, in the middle of the operation.
struct TransactFails<S> {
    inner: S,
    failing: std::sync::atomic::AtomicBool,
}

impl<S: item_store::ItemStore> item_store::ItemStore for TransactFails<S> {
    async fn get(&self, key: &item_store::Key) -> Result<Option<item_store::Item>, item_store::StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: item_store::Item, condition: item_store::Condition) -> Result<(), item_store::StoreError> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &item_store::Key, condition: item_store::Condition) -> Result<(), item_store::StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn transact(&self, ops: Vec<item_store::TransactOp>) -> Result<(), item_store::StoreError> {
        if self.failing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(item_store::StoreError::Throttled { retry_after: Duration::from_secs(2) });
        }
        self.inner.transact(ops).await
    }
    async fn query(&self, query: &item_store::Query) -> Result<item_store::Page, item_store::StoreError> {
        self.inner.query(query).await
    }
}

#[tokio::test]
async fn a_throttled_transaction_after_the_read_changes_nothing_and_asks_to_retry() {
    let dir = tempfile::tempdir().unwrap().keep();
    let inner = EmbeddedStore::open(dir.join("items.redb")).unwrap();
    let store = Arc::new(TransactFails { inner, failing: false.into() });
    let service = Provisioning::new(store.clone());
    let created = service.create_tenant("T", Some(100)).await.unwrap();
    let admin = Caller::admin(&created.tenant);
    let integration = service.create_integration(&admin, IntegrationKind::Scim, "Entra", Settings::default()).await.unwrap();
    let entra = service.authenticate(&integration.token).await.unwrap();
    let id = id_of(&service.create(&entra, &USERS, &entra_user("nu")).await.unwrap().resource);

    store.failing.store(true, std::sync::atomic::Ordering::Relaxed);
    let body = patch(json!([{"op":"replace","path":"active","value":false}]));
    let error = service.patch(&entra, &USERS, &id, &body, None).await.unwrap_err();
    assert_eq!(error.to_scim().status, 429);
    assert!(matches!(error, Error::Retryable { retry_after, .. } if retry_after == Duration::from_secs(2)));
    assert!(service.create(&entra, &USERS, &entra_user("xi")).await.unwrap_err().is_retryable());
    assert!(service.delete(&entra, &USERS, &id, None).await.unwrap_err().is_retryable());
    store.failing.store(false, std::sync::atomic::Ordering::Relaxed);

    let got = service.get(&entra, &USERS, &id, &all_attributes()).await.unwrap();
    assert_eq!((got["active"].clone(), got["meta"]["version"].clone()), (json!(true), json!("W/\"1\"")));
    assert_eq!(service.seats(&created.tenant).await.unwrap().used, 1, "the failed create took no seat");
    // Retrying works.
    service.patch(&entra, &USERS, &id, &body, None).await.unwrap();
    service.create(&entra, &USERS, &entra_user("xi")).await.unwrap();
}
