//! Shared setup: a fresh embedded store in a temp dir, a tenant, integrations.
#![allow(dead_code)]

use std::sync::Arc;

use embedded_store::EmbeddedStore;
use item_store::CountingStore;
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim::list::ListQuery;
use scim::projection::AttributeSelection;
use serde_json::{Value, json};

pub type Store = Arc<CountingStore<EmbeddedStore>>;

pub async fn service() -> Arc<Provisioning<Store>> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = EmbeddedStore::open(dir.join("items.redb")).expect("open store");
    Arc::new(Provisioning::new(Arc::new(CountingStore::new(store))))
}

pub struct Tenant {
    pub id: String,
    pub admin: Caller,
    pub admin_key: String,
}

pub async fn tenant(service: &Provisioning<Store>, seat_limit: Option<u64>) -> Tenant {
    let created = service.create_tenant("Contoso", seat_limit).await.expect("tenant");
    Tenant { admin: Caller::admin(&created.tenant), id: created.tenant, admin_key: created.admin_key }
}

/// An integration with these switches, and the caller its token authenticates as.
pub async fn integration(service: &Provisioning<Store>, tenant: &Tenant, settings: Settings) -> (Caller, String) {
    // Names are unique per tenant: a test may create several.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let name = format!("Entra {}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    let created = service.create_integration(&tenant.admin, IntegrationKind::Scim, &name, settings).await.expect("integration");
    let caller = service.authenticate(&created.token).await.expect("token works");
    (caller, created.token)
}

pub async fn scim_integration(service: &Provisioning<Store>, tenant: &Tenant) -> Caller {
    integration(service, tenant, Settings::default()).await.0
}

pub fn entra_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("ext-{user_name}"), "userName": user_name, "active": true, "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": format!("{user_name}@contoso.com")}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [], "addresses": null, "manager": null
    })
}

pub fn group_body(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "externalId": format!("ext-{name}"), "members": []})
}

pub fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

pub fn query(params: &[(&str, &str)]) -> ListQuery {
    ListQuery::from_params(params.iter().copied(), 100).expect("valid query")
}

pub fn filter(text: &str) -> ListQuery {
    query(&[("filter", text)])
}

pub fn all_attributes() -> AttributeSelection {
    AttributeSelection::default()
}

pub fn selection(attributes: Option<&str>, excluded: Option<&str>) -> AttributeSelection {
    AttributeSelection::parse(attributes, excluded).expect("selection")
}

pub fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_string()
}
