//! A token revoked while a request is reading it from the store (rotation, deletion of
//! its integration) is neither answered nor cached from that stale read: it stops working
//! at once in the process that revoked it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use embedded_store::EmbeddedStore;
use item_store::{Condition, Item, ItemStore, Key, Page, Query, StoreError, TransactOp};
use provisioning::tenancy::MoveTarget;
use provisioning::{Error, IntegrationKind, Provisioning, Settings};
use tokio::sync::Notify;

/// A store whose next read of a key `held` picks waits, once armed, until released: the
/// moment between a refresh reading a token (or its integration) and caching what it read.
struct HeldTokenReads {
    inner: EmbeddedStore,
    held: std::sync::Mutex<fn(&Key) -> bool>,
    armed: AtomicBool,
    reached: Notify,
    release: Notify,
}

impl ItemStore for HeldTokenReads {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let found = self.inner.get(key).await;
        let held = *self.held.lock().expect("lock");
        if held(key) && self.armed.swap(false, Ordering::SeqCst) {
            self.reached.notify_one();
            self.release.notified().await;
        }
        found
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.inner.put(item, condition).await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.inner.delete(key, condition).await
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.inner.transact(ops).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
}

fn token_read(key: &Key) -> bool {
    key.pk.starts_with("SECRET#")
}

fn integration_read(key: &Key) -> bool {
    key.sk.starts_with("INT#")
}

async fn service() -> Arc<Provisioning<HeldTokenReads>> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let inner = EmbeddedStore::open(dir.join("items.redb")).expect("open store");
    let store = HeldTokenReads {
        inner,
        held: std::sync::Mutex::new(token_read),
        armed: AtomicBool::new(false),
        reached: Notify::new(),
        release: Notify::new(),
    };
    Arc::new(Provisioning::new(store))
}

/// Starts authenticating `token` with its store read held, runs `revoke` while it is held,
/// then lets the read finish; answers what the overtaken request got.
async fn overtaken_by<F>(service: &Arc<Provisioning<HeldTokenReads>>, token: &str, revoke: F) -> Result<provisioning::Caller, Error>
where
    F: std::future::Future<Output = ()>,
{
    service.store().armed.store(true, Ordering::SeqCst);
    let request = tokio::spawn({
        let (service, token) = (service.clone(), token.to_string());
        async move { service.authenticate(&token).await }
    });
    service.store().reached.notified().await;
    revoke.await;
    service.store().release.notify_one();
    request.await.expect("request task")
}

/// A service with a tenant and one SCIM integration: the admin and the integration.
async fn setup() -> (Arc<Provisioning<HeldTokenReads>>, provisioning::Caller, provisioning::WithToken) {
    let service = service().await;
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant");
    let admin = provisioning::Caller::admin(&tenant.tenant);
    let created = service.create_integration(&admin, IntegrationKind::Scim, "Entra", Settings::default()).await.expect("integration");
    (service, admin, created)
}

#[tokio::test]
async fn a_rotation_during_a_refresh_is_not_undone() {
    let (service, admin, created) = setup().await;

    let rotated = overtaken_by(&service, &created.token, async {
        service.rotate_token(&admin, &created.integration.id).await.expect("rotate");
    })
    .await;
    // The overtaken refresh read the token again and found it gone.
    assert_eq!(rotated.unwrap_err(), Error::Unauthorized);
    // Nothing stale was cached: the old token stays refused.
    assert_eq!(service.authenticate(&created.token).await.unwrap_err(), Error::Unauthorized);
}

#[tokio::test]
async fn a_deleted_integrations_token_stops_during_a_refresh() {
    let (service, admin, created) = setup().await;

    // Held after the integration was read: the last moment before the grant is cached.
    *service.store().held.lock().expect("lock") = integration_read;
    let deleted = overtaken_by(&service, &created.token, async {
        service.delete_integration(&admin, &created.integration.id, MoveTarget::Manual, 100).await.expect("delete");
    })
    .await;
    assert_eq!(deleted.unwrap_err(), Error::Unauthorized);
    assert_eq!(service.authenticate(&created.token).await.unwrap_err(), Error::Unauthorized);
}

#[tokio::test]
async fn a_refresh_nothing_overtook_is_cached() {
    let (service, _, created) = setup().await;
    let caller = overtaken_by(&service, &created.token, async {}).await.expect("authenticated");
    // Cached: the next authentication reads no secret (a held read would never return).
    service.store().armed.store(true, Ordering::SeqCst);
    let again = tokio::time::timeout(std::time::Duration::from_secs(5), service.authenticate(&created.token)).await;
    assert_eq!(again.expect("answered from the cache"), Ok(caller));
}
