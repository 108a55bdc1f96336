//! Group displayNames unique per owner, userName per tenant, and groups stored before
//! (holding the tenant-wide claim) read correctly: one scenario, generic over the store,
//! run on the embedded store (`provisioning/tests/group_names.rs`) and on DynamoDB
//! (`aws/tests/group_names.rs`, which includes this file).

use item_store::{Condition, ItemStore, TransactOp};
use provisioning::resources::Record;
use provisioning::storage::keys;
use provisioning::{Caller, GROUPS, IntegrationKind, Provisioning, Settings, USERS};
use serde_json::{Value, json};

fn group(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

fn status<T>(result: provisioning::Result<T>) -> u16 {
    match result {
        Ok(_) => 201,
        Err(error) => error.to_scim().status,
    }
}

async fn integration<S: ItemStore>(service: &Provisioning<S>, admin: &Caller, name: &str, settings: Settings) -> Caller {
    let created = service.create_integration(admin, IntegrationKind::Scim, name, settings).await.expect("integration");
    service.authenticate(&created.token).await.expect("token")
}

async fn record<S: ItemStore>(service: &Provisioning<S>, tenant: &str, id: &str) -> Record {
    Record::from_item(&service.store().get(&keys::resource(tenant, id)).await.expect("get").expect("stored")).expect("record")
}

/// Turns a group into one stored before names were unique per owner: no mark on the
/// record, the tenant-wide claim instead of its owner's.
async fn make_legacy<S: ItemStore>(service: &Provisioning<S>, tenant: &str, id: &str) {
    let stored = record(service, tenant, id).await;
    let name = stored.unique_value(&GROUPS).expect("displayName").to_string();
    let mut item = stored.to_item(tenant, &GROUPS);
    item.attrs.remove("ownerScopedName");
    let mut claim = item_store::Attributes::new();
    claim.insert("id".into(), id.into());
    service
        .store()
        .transact(vec![
            TransactOp::Put { item, condition: Condition::Present },
            TransactOp::Delete { key: keys::group_name(tenant, stored.source.as_stored(), &name), condition: Condition::Present },
            TransactOp::Put {
                item: item_store::Item::new(keys::uniqueness(tenant, GROUPS.name(), &name), claim),
                condition: Condition::Absent,
            },
        ])
        .await
        .expect("legacy state");
}

fn id_of(written: &provisioning::Written) -> String {
    written.resource["id"].as_str().expect("id").to_string()
}

pub async fn group_names_are_unique_per_owner<S: ItemStore>(service: Provisioning<S>) {
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant").tenant;
    let admin = Caller::admin(&tenant);
    let eaa = integration(&service, &admin, "EAA-like", Settings::default()).await;
    let entra = integration(&service, &admin, "Entra", Settings::default()).await;
    let claiming = integration(&service, &admin, "Claiming", Settings { include_manual_users: true, ..Settings::default() }).await;

    // One Sales per owner: EAA's, Entra's, the manual one; a second of one owner is 409.
    let eaa_sales = id_of(&service.create(&eaa, &GROUPS, &group("Sales")).await.expect("EAA's Sales"));
    let entra_sales = id_of(&service.create(&entra, &GROUPS, &group("sales")).await.expect("Entra's Sales beside EAA's"));
    assert_ne!(eaa_sales, entra_sales);
    assert_eq!(status(service.create(&entra, &GROUPS, &group("SALES")).await), 409, "Entra's own Sales again");
    let manual_sales = id_of(&service.create(&admin, &GROUPS, &group("Sales")).await.expect("the manual Sales"));
    // An integration that may claim manual groups claims the manual Sales instead.
    let claimed = service.create(&claiming, &GROUPS, &group("Sales")).await.expect("claim");
    assert!(claimed.claimed);
    assert_eq!(id_of(&claimed), manual_sales);
    assert_eq!(status(service.create(&claiming, &GROUPS, &group("Sales")).await), 409, "its Sales now");
    // Renames stay unique within the owner only.
    service.create(&entra, &GROUPS, &group("Marketing")).await.expect("Marketing");
    let rename = |name: &str| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": name}]});
    assert_eq!(status(service.patch(&entra, &GROUPS, &entra_sales, &rename("Marketing"), None).await), 409);
    service.patch(&eaa, &GROUPS, &eaa_sales, &rename("Marketing"), None).await.expect("EAA may have a Marketing too");
    service.patch(&eaa, &GROUPS, &eaa_sales, &rename("Sales"), None).await.expect("and go back");

    // userName stays unique per tenant: one person, one MFA user.
    service.create(&eaa, &USERS, &user("ann@contoso.com")).await.expect("ann");
    assert_eq!(status(service.create(&entra, &USERS, &user("Ann@contoso.com")).await), 409);

    // A group stored before holds the tenant-wide claim: its own owner still collides with
    // it, another owner's create moves it into its owner's scope and succeeds.
    let old = id_of(&service.create(&eaa, &GROUPS, &group("Finance")).await.expect("Finance"));
    make_legacy(&service, &tenant, &old).await;
    assert!(!record(&service, &tenant, &old).await.owner_scoped_name);
    assert_eq!(status(service.create(&eaa, &GROUPS, &group("finance")).await), 409, "its owner's second Finance");
    let entra_finance = service.create(&entra, &GROUPS, &group("Finance")).await.expect("Entra's Finance beside the old one");
    assert!(!entra_finance.claimed);
    let moved = record(&service, &tenant, &old).await;
    assert!(moved.owner_scoped_name, "the old group's claim is now its owner's");
    assert!(service.store().get(&keys::uniqueness(&tenant, GROUPS.name(), "Finance")).await.expect("get").is_none());
    assert!(service.store().get(&keys::group_name(&tenant, moved.source.as_stored(), "Finance")).await.expect("get").is_some());
    assert_eq!(status(service.create(&eaa, &GROUPS, &group("Finance")).await), 409, "still one Finance for EAA");

    // A legacy group renamed frees its tenant-wide claim; deleted, frees its owner's.
    let legal = id_of(&service.create(&eaa, &GROUPS, &group("Legal")).await.expect("Legal"));
    make_legacy(&service, &tenant, &legal).await;
    service.patch(&eaa, &GROUPS, &legal, &rename("Legal EU"), None).await.expect("rename");
    assert!(service.store().get(&keys::uniqueness(&tenant, GROUPS.name(), "Legal")).await.expect("get").is_none());
    service.create(&eaa, &GROUPS, &group("Legal")).await.expect("the old name is free");
    let audit = id_of(&service.create(&eaa, &GROUPS, &group("Audit")).await.expect("Audit"));
    make_legacy(&service, &tenant, &audit).await;
    service.delete(&eaa, &GROUPS, &audit, None).await.expect("delete");
    assert!(service.store().get(&keys::uniqueness(&tenant, GROUPS.name(), "Audit")).await.expect("get").is_none());
    service.create(&eaa, &GROUPS, &group("Audit")).await.expect("the name is free again");
    // A legacy manual group is claimed by a create of the claiming integration.
    let board = id_of(&service.create(&admin, &GROUPS, &group("Board")).await.expect("Board"));
    make_legacy(&service, &tenant, &board).await;
    let claimed = service.create(&claiming, &GROUPS, &group("Board")).await.expect("claim the old manual Board");
    assert!(claimed.claimed);
    assert_eq!(id_of(&claimed), board);
    assert!(record(&service, &tenant, &board).await.owner_scoped_name, "claimed: its claim is its new owner's");
}
