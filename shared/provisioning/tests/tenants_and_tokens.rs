//! Tenants, integrations, tokens: shown once, stored hashed, cached, rotated; no token
//! reaches another tenant's or integration's data.

mod common;

use std::sync::Arc;

use common::*;
use embedded_store::EmbeddedStore;
use item_store::{CountingStore, ItemStore, Key};
use provisioning::clock::ManualClock;
use provisioning::tenancy::MoveTarget;
use provisioning::{Actor, Error, IntegrationKind, Provisioning, Settings, USERS};
use time::OffsetDateTime;

#[tokio::test]
async fn an_eaa_integration_token_opens_no_scim_endpoint() {
    let service = service().await;
    let a = tenant(&service, None).await;
    let eaa = service.create_integration(&a.admin, IntegrationKind::Eaa, "EAA", Settings::default()).await.unwrap();
    assert_eq!(service.authenticate(&eaa.token).await.unwrap_err(), Error::Unauthorized);
}

#[tokio::test]
async fn tokens_authenticate_their_integration_only_and_rotate() {
    let service = service().await;
    let a = tenant(&service, None).await;
    let b = tenant(&service, None).await;
    let (entra_a, token_a) = integration(&service, &a, Settings::default()).await;
    let (entra_b, _) = integration(&service, &b, Settings { read_all_users: true, ..Settings::default() }).await;
    assert_eq!(entra_a.tenant, a.id);
    assert_eq!(service.tenant(&a.id).await.unwrap().name, "Contoso");
    assert_eq!(service.tenant("nope").await.unwrap_err().to_scim().status, 404);
    assert!(matches!(&entra_a.actor, Actor::Integration { .. }));
    assert_eq!(service.authenticate(&a.admin_key).await.unwrap(), a.admin);
    // More admin keys: listed by id, revocable, never another tenant's.
    let second = service.create_admin_key(&a.admin).await.unwrap();
    assert_eq!(service.authenticate(&second.key).await.unwrap(), a.admin);
    assert_eq!(service.list_admin_keys(&a.admin).await.unwrap().len(), 2);
    assert_eq!(service.revoke_admin_key(&b.admin, &second.id).await.unwrap_err().to_scim().status, 404);
    service.revoke_admin_key(&a.admin, &second.id).await.unwrap();
    assert_eq!(service.authenticate(&second.key).await.unwrap_err(), Error::Unauthorized);
    assert_eq!(service.authenticate(&a.admin_key).await.unwrap(), a.admin);
    assert!(service.create_admin_key(&entra_a).await.is_err());
    assert_eq!(service.authenticate("scim_nope").await.unwrap_err(), Error::Unauthorized);
    assert_eq!(Error::Unauthorized.to_scim().status, 401);

    // Tenant B (even with read-all) cannot reach tenant A's user by id, filter or list.
    let id = id_of(&service.create(&entra_a, &USERS, &entra_user("zoe")).await.unwrap().resource);
    assert_eq!(service.get(&entra_b, &USERS, &id, &all_attributes()).await.unwrap_err().to_scim().status, 404);
    assert_eq!(service.delete(&entra_b, &USERS, &id, None).await.unwrap_err().to_scim().status, 404);
    assert_eq!(service.list(&entra_b, &USERS, &filter(&format!("id eq \"{id}\""))).await.unwrap().total_results, Some(0));
    assert_eq!(service.list(&entra_b, &USERS, &filter("userName eq \"zoe\"")).await.unwrap().total_results, Some(0));
    // The same userName is free in tenant B.
    service.create(&entra_b, &USERS, &entra_user("zoe")).await.unwrap();

    // Only the hash is stored.
    let hash = provisioning::tenancy::secrets::hash(&token_a);
    let stored = service.store().get(&Key::new(format!("SECRET#{hash}"), "SECRET")).await.unwrap().unwrap();
    assert!(!serde_json::to_string(&stored.attrs).unwrap().contains(&token_a));

    // Rotation: the old token stops, the new one works.
    let Actor::Integration { id: integration_id, .. } = &entra_a.actor else { unreachable!() };
    let rotated = service.rotate_token(&a.admin, integration_id).await.unwrap();
    assert_eq!(service.authenticate(&token_a).await.unwrap_err(), Error::Unauthorized);
    assert_eq!(service.authenticate(&rotated.token).await.unwrap().tenant, a.id);
    // Integrations are the admin's to manage, within their tenant.
    assert_eq!(service.list_integrations(&a.admin).await.unwrap().len(), 1);
    assert!(service.list_integrations(&entra_a).await.is_err());
    assert_eq!(service.integration(&b.admin, integration_id).await.unwrap_err().to_scim().status, 404);
    let updated =
        service.update_settings(&a.admin, integration_id, Settings { read_all_users: true, ..Settings::default() }).await.unwrap();
    assert!(updated.settings.read_all_users);
    assert_eq!(
        service.authenticate(&rotated.token).await.unwrap().actor,
        Actor::Integration { id: integration_id.clone(), settings: updated.settings }
    );
    service.delete_integration(&a.admin, integration_id, MoveTarget::Manual, 100).await.unwrap();
    assert_eq!(service.authenticate(&rotated.token).await.unwrap_err(), Error::Unauthorized);
}

#[tokio::test]
async fn last_used_is_written_at_most_once_a_minute() {
    let dir = tempfile::tempdir().unwrap().keep();
    let store = Arc::new(CountingStore::new(EmbeddedStore::open(dir.join("items.redb")).unwrap()));
    let clock = Arc::new(ManualClock::new(OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()));
    let service = Provisioning::with_clock(store.clone(), clock.clone());
    let created = service.create_tenant("T", None).await.unwrap();
    let admin = provisioning::Caller::admin(&created.tenant);
    let integration = service.create_integration(&admin, IntegrationKind::Scim, "Entra", Settings::default()).await.unwrap();
    store.take();
    service.authenticate(&integration.token).await.unwrap();
    assert_eq!(store.take().put, 1, "first use is recorded");
    for _ in 0..10 {
        clock.advance(time::Duration::seconds(5));
        service.authenticate(&integration.token).await.unwrap();
    }
    assert_eq!(store.take().total(), 0, "cached for a minute: no read, no write");
    clock.advance(time::Duration::seconds(61));
    service.authenticate(&integration.token).await.unwrap();
    let refresh = store.take();
    assert_eq!(refresh.put, 1, "{refresh:?}");
    let seen = service.integration(&admin, &integration.integration.id).await.unwrap();
    assert_eq!(seen.last_used, Some(clock_now(&clock)));
}

fn clock_now(clock: &ManualClock) -> i64 {
    use provisioning::clock::Clock;
    clock.now().unix_timestamp()
}
