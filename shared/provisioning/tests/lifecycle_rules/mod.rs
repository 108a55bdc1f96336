//! The lifecycle rules of integrations and their records, written once over any item
//! store: `provisioning/tests/lifecycle.rs` runs them on the embedded store,
//! `aws/tests/lifecycle.rs` on DynamoDB (moto).
//!
//! - Deleting an integration releases its users and groups to manual (devices kept), or
//!   removes them with their devices (`?users=delete`); the job's counts say how many.
//! - The integration is gone at once: its records are manual (claimable) before the job
//!   reaches them, and so are records orphaned before deletions released them.
//! - An admin moves one user, or all users of an integration, to manual or to another
//!   integration, and each move is logged.
#![allow(dead_code)]

use item_store::{Condition, ItemStore};
use provisioning::log::LogOperation;
use provisioning::mfa::{DeviceType, NewDevice};
use provisioning::storage::keys;
use provisioning::tenancy::{MoveTarget, SourceMove};
use provisioning::{Caller, GROUPS, IntegrationKind, Provisioning, Settings, Source, USERS};
use scim::projection::AttributeSelection;
use serde_json::{Value, json};

const CLAIMING: Settings = Settings { send_enrollment_emails: false, include_manual_users: true, read_all_users: false };

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true,
           "emails": [{"type": "work", "value": format!("{name}@contoso.com")}]})
}

fn group(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members})
}

fn id(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_string()
}

async fn integration<S: ItemStore>(service: &Provisioning<S>, admin: &Caller, name: &str, settings: Settings) -> Caller {
    let created = service.create_integration(admin, IntegrationKind::Scim, name, settings).await.expect("integration");
    service.authenticate(&created.token).await.expect("token")
}

async fn source_of<S: ItemStore>(service: &Provisioning<S>, admin: &Caller, id: &str) -> Source {
    service.user_summary(admin, id).await.expect("user").source
}

/// Steps the background work until the job is done (bounded: a job that never ends fails).
async fn finish<S: ItemStore>(service: &Provisioning<S>, admin: &Caller, job: &SourceMove) -> SourceMove {
    for _ in 0..100 {
        let current = service.source_move(admin, &job.id).await.expect("job");
        if current.done() {
            return current;
        }
        service.continue_source_moves(3).await.expect("step");
    }
    panic!("the job did not finish: {job:?}")
}

pub async fn deletion_releases_or_removes_and_nothing_names_a_deleted_integration<S: ItemStore>(service: &Provisioning<S>) {
    let tenant = service.create_tenant("Contoso", Some(100)).await.expect("tenant");
    let admin = Caller::admin(&tenant.tenant);
    let entra = integration(service, &admin, "Entra", Settings::default()).await;
    let mut users = Vec::new();
    for name in ["ann", "bob", "cat", "dan"] {
        users.push(id(&service.create(&entra, &USERS, &user(name)).await.expect("create").resource));
    }
    let sales = id(&service.create(&entra, &GROUPS, &group("Sales", &[&users[0], &users[1]])).await.expect("group").resource);
    let device = NewDevice { device_name: "Phone".into(), device_type: DeviceType::Push, platform: "iOS".into() };
    service.add_device(&admin, &users[0], device.clone()).await.expect("device");

    // A first step that examines only two users: the rest goes on in the background.
    let entra_id = entra.actor_name().to_string();
    let job = service.delete_integration(&admin, &entra_id, MoveTarget::Manual, 2).await.expect("delete");
    assert!(!job.done(), "{job:?}");
    assert!(service.integration(&admin, &entra_id).await.is_err(), "gone at once");
    // Before the job reaches dan, another integration may claim him: he counts as manual.
    let okta = integration(service, &admin, "Okta", CLAIMING).await;
    let claimed = service.create(&okta, &USERS, &user("dan")).await.expect("claim of a released user");
    assert!(claimed.claimed);
    assert_eq!(id(&claimed.resource), users[3]);
    let done = finish(service, &admin, &job).await;
    assert_eq!((done.moved, done.removed, done.failed), (4, 0, 0), "ann, bob, cat and Sales: {done:?}");
    for released in &users[..3] {
        assert_eq!(source_of(service, &admin, released).await, Source::Manual);
    }
    assert_eq!(source_of(service, &admin, &users[3]).await, Source::Integration(okta.actor_name().to_string()));
    assert_eq!(service.list_devices(&admin, &users[0]).await.expect("devices").len(), 1, "devices stay");
    let members = service.get(&admin, &GROUPS, &sales, &AttributeSelection::default()).await.expect("group")["members"].clone();
    assert_eq!(members.as_array().map(Vec::len), Some(2), "memberships stay: {members}");
    // The released group's name claim moved with it: the name is taken among manual
    // groups, free again for the integration that had it, and the group can be renamed.
    let duplicate = service.create(&admin, &GROUPS, &group("Sales", &[])).await.expect_err("a second manual Sales");
    assert_eq!(duplicate.to_scim().status, 409);
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName", "value": "Sales EMEA"}]});
    service.patch(&admin, &GROUPS, &sales, &rename, None).await.expect("rename of the released group");
    service.create(&admin, &GROUPS, &group("Sales", &[])).await.expect("the old name is free");
    let log = service.list_log(&admin, &Default::default(), None, 100).await.expect("log").entries;
    let moves: Vec<_> = log.iter().filter(|e| e.operation == LogOperation::Move).collect();
    assert_eq!(moves.len(), 4, "{log:?}");
    assert!(moves.iter().all(|e| e.detail.as_deref().is_some_and(|d| d.contains("released to manual"))), "{moves:?}");

    // Removal: users and groups with their devices; the seats are freed.
    let doomed = integration(service, &admin, "Doomed", Settings::default()).await;
    let eve = id(&service.create(&doomed, &USERS, &user("eve")).await.expect("create").resource);
    service.add_device(&admin, &eve, device).await.expect("device");
    service.create(&doomed, &GROUPS, &group("Ops", &[&eve])).await.expect("group");
    let before = service.seats(&tenant.tenant).await.expect("seats").used;
    let job = service.delete_integration(&admin, doomed.actor_name(), MoveTarget::Delete, 1_000).await.expect("delete");
    assert!(job.done(), "a small integration is done within the request: {job:?}");
    assert_eq!((job.moved, job.removed), (0, 2));
    assert!(service.user_summary(&admin, &eve).await.is_err(), "removed");
    assert_eq!(service.seats(&tenant.tenant).await.expect("seats").used, before - 1);

    // A record orphaned before deletions released records (its integration item simply
    // gone): manual for the admin and claimable.
    let legacy = integration(service, &admin, "Legacy", Settings::default()).await;
    let fay = id(&service.create(&legacy, &USERS, &user("fay")).await.expect("create").resource);
    service.store().delete(&keys::integration(&tenant.tenant, legacy.actor_name()), Condition::None).await.expect("orphan it");
    assert_eq!(source_of(service, &admin, &fay).await, Source::Manual);
    let rename = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "displayName", "value": "Fay"}]});
    service.patch(&okta, &USERS, &fay, &rename, None).await.expect("a write claims the orphan");
    assert_eq!(source_of(service, &admin, &fay).await, Source::Integration(okta.actor_name().to_string()));

    // Moves by the admin: one user, then all of an integration's.
    let okta_id = okta.actor_name().to_string();
    let to_okta = MoveTarget::Integration { integration_id: okta_id.clone() };
    assert!(service.move_user(&admin, &users[0], to_okta.clone()).await.expect("move"));
    assert_eq!(source_of(service, &admin, &users[0]).await, Source::Integration(okta_id.clone()));
    let nowhere = MoveTarget::Integration { integration_id: "no-such-integration".into() };
    assert_eq!(service.move_user(&admin, &users[1], nowhere).await.expect_err("unknown target").to_scim().status, 404);
    let job = service.move_integration_users(&admin, &okta_id, MoveTarget::Manual, 1_000).await.expect("move all");
    assert_eq!((job.done(), job.moved), (true, 3), "ann, dan and fay: {job:?}");
    for moved in [&users[0], &users[3], &fay] {
        assert_eq!(source_of(service, &admin, moved).await, Source::Manual);
    }
    assert!(service.integration(&admin, &okta_id).await.is_ok(), "a move deletes nothing");
}
