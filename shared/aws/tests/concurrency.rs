//! The concurrency checks of `provisioning/tests/concurrency.rs` (embedded store) and of
//! `functions/local/tests/concurrency.rs` (real HTTP), on `DynamoDbStore` against the
//! DynamoDB test server (moto, started by `./scripts/test`): uniqueness under 50 identical
//! creates, no member lost under 20 concurrent member PATCHes, exactly one of 20 PATCHes
//! with the same `If-Match` through. Counts, no timing.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use aws_adapters::DynamoDbStore;
use provisioning::{Caller, GROUPS, IntegrationKind, Provisioning, Settings, USERS};
use scim::ScimType;
use scim::list::ListQuery;
use scim::projection::AttributeSelection;
use serde_json::{Value, json};

type Service = Arc<Provisioning<DynamoDbStore>>;

async fn setup(seat_limit: Option<u64>) -> (Service, Caller, String) {
    // One request at a time at moto, as DynamoDB's isolation would have it (see
    // `common::serialized`). No attempt timeout (as `DynamoDbStore::new`): requests wait in
    // line there, and moto ignores `ClientRequestToken`, so a timed-out transaction that
    // committed would not be recognised on retry as DynamoDB would.
    let client = common::client_at(&common::serialized(&common::endpoint()).await);
    let table = common::create_table(&client).await;
    let service = Arc::new(Provisioning::new(DynamoDbStore::new(&client, table)));
    let tenant = service.create_tenant("Contoso", seat_limit).await.expect("tenant").tenant;
    let caller = integration(&service, &tenant, "Entra").await;
    (service, caller, tenant)
}

/// A SCIM integration of `tenant` named `name`, and the caller its token authenticates as.
async fn integration(service: &Service, tenant: &str, name: &str) -> Caller {
    let created =
        service.create_integration(&Caller::admin(tenant), IntegrationKind::Scim, name, Settings::default()).await.expect("integration");
    service.authenticate(&created.token).await.expect("token")
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true,
           "emails": [{"primary": true, "type": "work", "value": format!("{name}@contoso.com")}]})
}

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_identical_creates_make_one_user_on_dynamodb() {
    let (service, entra, tenant) = setup(Some(1000)).await;
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let (service, entra) = (service.clone(), entra.clone());
            let name = if n % 2 == 0 { "Dup@contoso.com" } else { "dup@CONTOSO.com" };
            tokio::spawn(async move { service.create(&entra, &USERS, &user(name)).await })
        })
        .collect();
    let (mut created, mut conflicts) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => created += 1,
            Err(e) => {
                let e = e.to_scim();
                assert_eq!((e.status, e.scim_type), (409, Some(ScimType::Uniqueness)), "{}", e.detail);
                conflicts += 1;
            }
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    let all = ListQuery::from_params(std::iter::empty::<(&str, &str)>(), 100).expect("query");
    assert_eq!(service.list(&entra, &USERS, &all).await.expect("list").total_results, Some(1));
    assert_eq!(service.seats(&tenant).await.expect("seats").used, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_member_patches_lose_no_member_on_dynamodb() {
    let (service, entra, _) = setup(None).await;
    // Members must be users of the tenant.
    let mut users = std::collections::BTreeMap::new();
    for name in (0..10).map(|n| format!("initial-{n}")).chain((0..20).flat_map(|n| [format!("added-{n}-a"), format!("added-{n}-b")])) {
        let created = service.create(&entra, &USERS, &json!({"userName": name})).await.expect("user");
        users.insert(name, id_of(&created.resource));
    }
    let initial: Vec<String> = (0..10).map(|n| users[&format!("initial-{n}")].clone()).collect();
    let members: Vec<Value> = initial.iter().map(|id| json!({"value": id})).collect();
    let group = service.create(&entra, &GROUPS, &json!({"displayName": "Race", "members": members})).await.expect("group");
    let group = id_of(&group.resource);
    let mut expected: BTreeSet<String> = initial.iter().cloned().collect();
    let mut tasks = Vec::new();
    for n in 0..20 {
        let adds = [users[&format!("added-{n}-a")].clone(), users[&format!("added-{n}-b")].clone()];
        expected.extend(adds.iter().cloned());
        let mut operations =
            vec![json!({"op": "add", "path": "members", "value": adds.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()})];
        if n % 4 == 0 {
            let removed = &initial[n / 4];
            operations.push(json!({"op": "remove", "path": format!("members[value eq \"{removed}\"]")}));
            expected.remove(removed);
        }
        let (service, entra, group) = (service.clone(), entra.clone(), group.clone());
        tasks.push(tokio::spawn(async move { service.patch(&entra, &GROUPS, &group, &patch(Value::Array(operations)), None).await }));
    }
    for task in tasks {
        task.await.expect("task").expect("every member PATCH succeeds");
    }
    let got = service.get(&entra, &GROUPS, &group, &AttributeSelection::default()).await.expect("group");
    let members: BTreeSet<String> =
        got["members"].as_array().expect("members").iter().filter_map(|m| m["value"].as_str()).map(str::to_string).collect();
    assert_eq!(members.len(), 45);
    assert_eq!(members, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_patches_with_the_same_if_match_let_exactly_one_through_on_dynamodb() {
    let (service, entra, _) = setup(None).await;
    let id = id_of(&service.create(&entra, &USERS, &user("etag")).await.expect("user").resource);
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let (service, entra, id) = (service.clone(), entra.clone(), id.clone());
            let body = patch(json!([{"op": "replace", "path": "nickName", "value": format!("n{n}")}]));
            tokio::spawn(async move { service.patch(&entra, &USERS, &id, &body, Some("W/\"1\"")).await })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            Ok(written) => winners.push(written.resource["nickName"].clone()),
            Err(e) => assert_eq!(e.to_scim().status, 412, "{}", e.to_scim().detail),
        }
    }
    assert_eq!(winners.len(), 1);
    let now = service.get(&entra, &USERS, &id, &AttributeSelection::default()).await.expect("user");
    assert_eq!(now["nickName"], winners[0]);
    assert_eq!(now["meta"]["version"], "W/\"2\"");
}

fn member_ids(group: &Value) -> BTreeSet<String> {
    group["members"].as_array().into_iter().flatten().filter_map(|m| m["value"].as_str().map(str::to_string)).collect()
}

/// The membership rules on DynamoDB: an unknown member, or one the caller cannot reach,
/// refuses the PATCH with nothing applied, a group cannot contain itself, and a user deleted while adds name it, and a
/// group deleted while members are added, leave no membership behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memberships_name_existing_members_and_groups_on_dynamodb() {
    let (service, entra, tenant) = setup(None).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        ids.push(id_of(&service.create(&entra, &USERS, &user(&format!("m{n}"))).await.expect("user").resource));
    }
    let group = id_of(&service.create(&entra, &GROUPS, &json!({"displayName": "Sales"})).await.expect("group").resource);
    let add = |values: Vec<String>| {
        patch(json!([{"op": "add", "path": "members", "value": values.iter().map(|v| json!({"value": v})).collect::<Vec<_>>()}]))
    };
    let unknown =
        service.patch(&entra, &GROUPS, &group, &add(vec![ids[0].clone(), "no-such-user".into()]), None).await.expect_err("unknown");
    assert_eq!((unknown.to_scim().status, unknown.to_scim().scim_type), (400, Some(ScimType::InvalidValue)));
    assert!(unknown.to_scim().detail.contains("no-such-user"));
    let all = AttributeSelection::default();
    assert!(member_ids(&service.get(&entra, &GROUPS, &group, &all).await.expect("get")).is_empty(), "nothing applied");
    assert_eq!(service.patch(&entra, &GROUPS, &group, &add(vec![group.clone()]), None).await.expect_err("itself").to_scim().status, 400);
    // Another integration's user is as unknown to it as a random id.
    let okta = integration(&service, &tenant, "Okta").await;
    let neighbour = id_of(&service.create(&okta, &USERS, &user("neighbour")).await.expect("user").resource);
    let hidden = service.patch(&entra, &GROUPS, &group, &add(vec![ids[0].clone(), neighbour.clone()]), None).await.expect_err("hidden");
    assert_eq!((hidden.to_scim().status, hidden.to_scim().scim_type), (400, Some(ScimType::InvalidValue)));
    assert!(hidden.to_scim().detail.contains(&neighbour));
    assert!(member_ids(&service.get(&entra, &GROUPS, &group, &all).await.expect("get")).is_empty(), "nothing applied");

    // A user deleted while four PATCHes add it: afterwards no group names it.
    let doomed = ids[5].clone();
    let mut tasks = Vec::new();
    for id in &ids[..4] {
        let (service, entra) = (service.clone(), entra.clone());
        let body = add(vec![id.clone(), doomed.clone()]);
        let group = group.clone();
        tasks.push(tokio::spawn(async move { service.patch(&entra, &GROUPS, &group, &body, None).await.map(|_| ()) }));
    }
    service.delete(&entra, &USERS, &doomed, None).await.expect("delete user");
    for task in tasks {
        if let Err(error) = task.await.expect("task") {
            assert_eq!(error.to_scim().status, 400, "an add that met the deleted user is refused whole: {error:?}");
        }
    }
    assert!(!member_ids(&service.get(&entra, &GROUPS, &group, &all).await.expect("get")).contains(&doomed));

    // The group deleted while members are added: its members' counts stay exact, so each
    // of them can be deleted afterwards (a stale count would make the delete retry).
    let adding = tokio::spawn({
        let (service, entra, group, body) = (service.clone(), entra.clone(), group.clone(), add(ids[..5].to_vec()));
        async move { service.patch(&entra, &GROUPS, &group, &body, None).await.map(|_| ()) }
    });
    service.delete(&entra, &GROUPS, &group, None).await.expect("delete group");
    if let Err(error) = adding.await.expect("task") {
        assert_eq!(error.to_scim().status, 404, "{error:?}");
    }
    for id in &ids[..5] {
        service.delete(&entra, &USERS, id, None).await.expect("delete former member");
    }
}
