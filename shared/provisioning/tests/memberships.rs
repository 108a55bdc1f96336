//! A membership names an existing member and an existing group, always: unknown values
//! are refused with nothing applied, a group cannot contain itself, and deletes racing
//! member adds (in either direction) leave no membership naming a deleted resource.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use item_store::{ItemStore, Query, SortKey};
use provisioning::storage::keys;
use provisioning::{Caller, GROUPS, Provisioning, Settings, USERS};
use serde_json::{Value, json};

fn members(ids: &[String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({"value": id})).collect())
}

fn add(ids: &[String]) -> Value {
    patch(json!([{"op": "add", "path": "members", "value": members(ids)}]))
}

async fn users(service: &Provisioning<Store>, entra: &Caller, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        ids.push(id_of(&service.create(entra, &USERS, &json!({"userName": format!("{prefix}{n}")})).await.expect("user").resource));
    }
    ids
}

async fn member_ids(service: &Provisioning<Store>, entra: &Caller, group: &str) -> BTreeSet<String> {
    let got = service.get(entra, &GROUPS, group, &all_attributes()).await.expect("group");
    got["members"].as_array().into_iter().flatten().filter_map(|m| m["value"].as_str().map(str::to_string)).collect()
}

/// Every membership item of the tenant as (group, member), from the groups' partitions
/// and from the reverse index: what a reader could ever see.
async fn memberships(service: &Provisioning<Store>, tenant: &str, groups: &[String], users: &[String]) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for group in groups {
        let query = Query::partition(keys::resource_partition(tenant, group)).sort(SortKey::Prefix(keys::membership_prefix().into()));
        for item in service.store().query(&query).await.expect("query").items {
            found.insert((group.clone(), item.attrs["value"].as_str().expect("value").to_string()));
        }
    }
    for user in users {
        for item in service.store().query(&Query::index(item_store::GSI2, keys::member_of(tenant, user))).await.expect("query").items {
            found.insert((item.attrs["gsi2sk"].as_str().expect("group").to_string(), user.clone()));
        }
    }
    found
}

async fn exists(service: &Provisioning<Store>, tenant: &str, id: &str) -> bool {
    service.store().get(&keys::resource(tenant, id)).await.expect("get").is_some()
}

#[tokio::test]
async fn unknown_members_are_refused_by_name_and_nothing_is_applied() {
    let service = service().await;
    let other = tenant(&service, None).await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let foreign = scim_integration(&service, &other).await;
    let group = id_of(&service.create(&entra, &GROUPS, &group_body("Sales")).await.expect("group").resource);
    let known = users(&service, &entra, "known", 60).await;
    let stranger = users(&service, &foreign, "stranger", 1).await.remove(0);
    for unknown in ["no-such-user", "00000000-0000-4000-8000-000000000000", "T#x#R#y", stranger.as_str()] {
        // A small PATCH (one transaction) and a large one (presence checked first).
        for size in [3, 60] {
            let mut ids = known[..size].to_vec();
            ids.push(unknown.to_string());
            let error = service.patch(&entra, &GROUPS, &group, &add(&ids), None).await.expect_err("unknown member");
            let scim = error.to_scim();
            assert_eq!((scim.status, scim.scim_type.map(|t| t.as_str())), (400, Some("invalidValue")), "{unknown}: {scim:?}");
            assert!(scim.detail.contains(unknown), "the detail names the value: {}", scim.detail);
            assert!(member_ids(&service, &entra, &group).await.is_empty(), "{unknown} at {size}: nothing applied");
        }
    }
    // Creates and replaces refuse them too.
    let body = json!({"displayName": "Ghosts", "members": [{"value": "no-such-user"}]});
    assert_eq!(service.create(&entra, &GROUPS, &body).await.expect_err("create").to_scim().status, 400);
    let body = json!({"displayName": "Sales", "members": [{"value": known[0]}, {"value": "no-such-user"}]});
    assert_eq!(service.replace(&entra, &GROUPS, &group, &body, None).await.expect_err("replace").to_scim().status, 400);
    assert!(member_ids(&service, &entra, &group).await.is_empty());
    // A group cannot contain itself.
    let error = service.patch(&entra, &GROUPS, &group, &add(std::slice::from_ref(&group)), None).await.expect_err("itself");
    assert_eq!(error.to_scim().status, 400);
    assert!(error.to_scim().detail.contains("itself"));
}

/// An integration names as members only the users and groups it reaches: its own, the
/// manual ones with *include manually provisioned users*, all with *read all users*.
/// Another integration's user is as unknown to it as a random id, in a small PATCH and
/// in a large one, and in a create.
#[tokio::test]
async fn members_the_caller_cannot_reach_are_refused_like_unknown_ones() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let okta = scim_integration(&service, &tenant).await;
    let (manual_claimer, _) = integration(&service, &tenant, Settings { include_manual_users: true, ..Settings::default() }).await;
    let (reader, _) = integration(&service, &tenant, Settings { read_all_users: true, ..Settings::default() }).await;
    let admin = tenant.admin.clone();
    let own = users(&service, &entra, "own", 60).await;
    let neighbour = users(&service, &okta, "neighbour", 1).await.remove(0);
    let manual = users(&service, &admin, "manual", 1).await.remove(0);
    let group = id_of(&service.create(&entra, &GROUPS, &group_body("Sales")).await.expect("group").resource);
    for hidden in [&neighbour, &manual] {
        for size in [3, 60] {
            let mut ids = own[..size].to_vec();
            ids.push(hidden.clone());
            let scim = service.patch(&entra, &GROUPS, &group, &add(&ids), None).await.expect_err("hidden member").to_scim();
            assert_eq!((scim.status, scim.scim_type.map(|t| t.as_str())), (400, Some("invalidValue")), "{scim:?}");
            assert!(scim.detail.contains(hidden.as_str()), "{}", scim.detail);
            assert!(member_ids(&service, &entra, &group).await.is_empty(), "{hidden} at {size}: nothing applied");
        }
    }
    let body = json!({"displayName": "Mixed", "members": [{"value": own[0]}, {"value": neighbour}]});
    assert_eq!(service.create(&entra, &GROUPS, &body).await.expect_err("create naming a hidden user").to_scim().status, 400);

    // Whom the switches let it reach, it may name.
    service.patch(&entra, &GROUPS, &group, &add(&own[..2]), None).await.expect("own users");
    let claimers = id_of(&service.create(&manual_claimer, &GROUPS, &group_body("Claimers")).await.expect("group").resource);
    service.patch(&manual_claimer, &GROUPS, &claimers, &add(std::slice::from_ref(&manual)), None).await.expect("a manual user");
    let refused = service.patch(&manual_claimer, &GROUPS, &claimers, &add(std::slice::from_ref(&neighbour)), None).await;
    assert_eq!(refused.expect_err("another integration's user").to_scim().status, 400);
    let readers = id_of(&service.create(&reader, &GROUPS, &group_body("Readers")).await.expect("group").resource);
    service.patch(&reader, &GROUPS, &readers, &add(&[neighbour.clone(), manual.clone(), own[0].clone()]), None).await.expect("any user");
    service.patch(&admin, &GROUPS, &group, &add(std::slice::from_ref(&neighbour)), None).await.expect("the admin reaches everyone");
    let expected: BTreeSet<String> = [own[0].clone(), own[1].clone(), neighbour.clone()].into();
    assert_eq!(member_ids(&service, &admin, &group).await, expected);
}

#[tokio::test]
async fn adds_and_removes_stay_idempotent_and_counts_exact() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let group = id_of(&service.create(&entra, &GROUPS, &group_body("Sales")).await.expect("group").resource);
    let nested = id_of(&service.create(&entra, &GROUPS, &group_body("Nested")).await.expect("group").resource);
    let ids = users(&service, &entra, "u", 120).await;
    service.patch(&entra, &GROUPS, &group, &add(&ids[..80]), None).await.expect("add 80");
    // Again, overlapping, with a nested group: the present ones are not added twice.
    let mut more = ids[40..120].to_vec();
    more.push(nested.clone());
    service.patch(&entra, &GROUPS, &group, &add(&more), None).await.expect("add overlapping");
    let mut expected: BTreeSet<String> = ids.iter().cloned().collect();
    expected.insert(nested.clone());
    assert_eq!(member_ids(&service, &entra, &group).await, expected);
    // Removing non-members is fine; removing members removes them.
    let remove = patch(json!([{"op": "remove", "path": "members", "value": members(&[ids[0].clone(), "never-a-member".into()])}]));
    service.patch(&entra, &GROUPS, &group, &remove, None).await.expect("remove");
    expected.remove(&ids[0]);
    assert_eq!(member_ids(&service, &entra, &group).await, expected);
    // Every member's count is exact: each can be deleted, and the group forgets it.
    for id in &ids[..10] {
        service.delete(&entra, &USERS, id, None).await.expect("delete member");
        expected.remove(id);
    }
    service.delete(&entra, &GROUPS, &nested, None).await.expect("delete nested group");
    expected.remove(&nested);
    assert_eq!(member_ids(&service, &entra, &group).await, expected);
    // Deleting the group decrements its members' counts: they can be deleted after.
    service.delete(&entra, &GROUPS, &group, None).await.expect("delete group");
    for id in &ids[10..] {
        service.delete(&entra, &USERS, id, None).await.expect("delete former member");
    }
    assert!(memberships(&service, &tenant.id, &[group], &ids).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_deleted_while_members_are_added_leaves_no_membership() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let ids = users(&service, &entra, "u", 300).await;
    for trial in 0..5 {
        let group = id_of(&service.create(&entra, &GROUPS, &group_body(&format!("Doomed {trial}"))).await.expect("group").resource);
        let adding = tokio::spawn({
            let (service, entra, group, ids) = (Arc::clone(&service), entra.clone(), group.clone(), ids.clone());
            async move { service.patch(&entra, &GROUPS, &group, &add(&ids), None).await }
        });
        tokio::task::yield_now().await;
        let deleting = tokio::spawn({
            let (service, entra, group) = (Arc::clone(&service), entra.clone(), group.clone());
            async move { service.delete(&entra, &GROUPS, &group, None).await }
        });
        let (added, deleted) = (adding.await.expect("task"), deleted_result(deleting.await.expect("task")));
        assert!(deleted, "trial {trial}: the delete succeeds");
        // The PATCH either finished before the delete or met a deleted group (404).
        if let Err(error) = added {
            assert_eq!(error.to_scim().status, 404, "trial {trial}: {error:?}");
        }
        assert!(!exists(&service, &tenant.id, &group).await);
        let left = memberships(&service, &tenant.id, std::slice::from_ref(&group), &ids).await;
        assert!(left.is_empty(), "trial {trial}: {} memberships name the deleted group", left.len());
    }
    // The members' counts stayed exact: every one can still be deleted.
    for id in &ids {
        service.delete(&entra, &USERS, id, None).await.expect("delete");
    }
}

fn deleted_result(result: provisioning::Result<()>) -> bool {
    result.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_deleted_while_adds_name_it_stays_a_member_of_nothing() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let others = users(&service, &entra, "other", 5).await;
    let mut groups = Vec::new();
    for n in 0..20 {
        groups.push(id_of(&service.create(&entra, &GROUPS, &group_body(&format!("G{n}"))).await.expect("group").resource));
    }
    for trial in 0..5 {
        let doomed = users(&service, &entra, &format!("doomed{trial}-"), 1).await.remove(0);
        let mut tasks = Vec::new();
        for group in &groups {
            let (service, entra, group) = (Arc::clone(&service), entra.clone(), group.clone());
            let mut ids = others.clone();
            ids.push(doomed.clone());
            tasks.push(tokio::spawn(async move { service.patch(&entra, &GROUPS, &group, &add(&ids), None).await.map(|_| ()) }));
        }
        let deleting = tokio::spawn({
            let (service, entra, doomed) = (Arc::clone(&service), entra.clone(), doomed.clone());
            async move { service.delete(&entra, &USERS, &doomed, None).await }
        });
        for task in tasks {
            // An add that met the deleted user is refused as a whole (400), else it applied.
            if let Err(error) = task.await.expect("task") {
                assert_eq!(error.to_scim().status, 400, "trial {trial}: {error:?}");
            }
        }
        deleting.await.expect("task").expect("the delete succeeds");
        let left = memberships(&service, &tenant.id, &groups, std::slice::from_ref(&doomed)).await;
        assert!(left.iter().all(|(_, member)| *member != doomed), "trial {trial}: the deleted user is still a member of {left:?}");
    }
}

#[tokio::test]
async fn a_user_in_more_groups_than_one_transaction_holds_is_deleted_cleanly() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let user = users(&service, &entra, "busy", 1).await.remove(0);
    let mut groups = Vec::new();
    for n in 0..130 {
        let body = json!({"displayName": format!("G{n}"), "members": [{"value": user}]});
        groups.push(id_of(&service.create(&entra, &GROUPS, &body).await.expect("group").resource));
    }
    // A group with more members than one transaction holds, deleted too.
    let crowd = users(&service, &entra, "crowd", 120).await;
    let big = id_of(&service.create(&entra, &GROUPS, &json!({"displayName": "Big"})).await.expect("group").resource);
    service.patch(&entra, &GROUPS, &big, &add(&crowd), None).await.expect("add 120");
    assert_eq!(member_ids(&service, &entra, &big).await.len(), 120);
    service.delete(&entra, &USERS, &user, None).await.expect("delete the busy user");
    service.delete(&entra, &GROUPS, &big, None).await.expect("delete the big group");
    let mut all_groups = groups.clone();
    all_groups.push(big);
    let mut all_users = crowd.clone();
    all_users.push(user);
    assert!(memberships(&service, &tenant.id, &all_groups, &all_users).await.is_empty());
    // The crowd's counts went down with the group: each can be deleted.
    for id in &crowd {
        service.delete(&entra, &USERS, id, None).await.expect("delete");
    }
}
