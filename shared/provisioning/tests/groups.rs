//! Groups and memberships: members stored apart, added and removed by PATCH in every
//! Entra shape, the users' `groups`, and cleanup on delete.

mod common;

use common::*;
use provisioning::{GROUPS, USERS};
use serde_json::{Value, json};

fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> =
        group["members"].as_array().map(|m| m.iter().filter_map(|v| v["value"].as_str().map(str::to_string)).collect()).unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn members_added_and_removed_by_value_array_and_by_filter() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let mut users = Vec::new();
    for n in 0..4 {
        users.push(id_of(&service.create(&entra, &USERS, &entra_user(&format!("u{n}"))).await.unwrap().resource));
    }
    let created = service.create(&entra, &GROUPS, &group_body("Sales")).await.unwrap();
    let group = id_of(&created.resource);
    assert!(created.resource.get("members").is_none());

    let add = patch(json!([{"op":"Add","path":"members","value":[
        {"$ref":null,"value":users[0]}, {"value":users[1]}, {"value":users[2]}, {"value":users[3]}]}]));
    let written = service.patch(&entra, &GROUPS, &group, &add, None).await.unwrap();
    assert_eq!(written.version, 2, "a member change is a change");
    let mut expected = users.clone();
    expected.sort();
    assert_eq!(member_ids(&service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap()), expected);

    // Adding again is idempotent.
    service.patch(&entra, &GROUPS, &group, &add, None).await.unwrap();
    assert_eq!(member_ids(&service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap()).len(), 4);

    // Remove only the listed members.
    let remove = patch(json!([{"op":"Remove","path":"members","value":[{"value":users[0]}]}]));
    service.patch(&entra, &GROUPS, &group, &remove, None).await.unwrap();
    // Remove by filter (the flagged dialect).
    let by_filter = patch(json!([{"op":"remove","path":format!("members[value eq \"{}\"]", users[1])}]));
    service.patch(&entra, &GROUPS, &group, &by_filter, None).await.unwrap();
    let mut left = vec![users[2].clone(), users[3].clone()];
    left.sort();
    assert_eq!(member_ids(&service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap()), left);

    // A user's read-only groups, on request.
    let with_groups = service.get(&entra, &USERS, &users[2], &selection(Some("groups,userName"), None)).await.unwrap();
    assert_eq!(with_groups["groups"], json!([{"value": group, "$ref": format!("/Groups/{group}"), "type": "direct"}]));
    // Returned on request only: a plain GET does not cost the index query.
    assert!(service.get(&entra, &USERS, &users[2], &all_attributes()).await.unwrap().get("groups").is_none());
    let removed_user = service.get(&entra, &USERS, &users[0], &selection(Some("groups"), None)).await.unwrap();
    assert!(removed_user.get("groups").is_none());

    // excludedAttributes=members leaves them out; Entra's group match query too.
    let without = service.get(&entra, &GROUPS, &group, &selection(None, Some("members"))).await.unwrap();
    assert!(without.get("members").is_none());
    let matched =
        service.list(&entra, &GROUPS, &query(&[("excludedAttributes", "members"), ("filter", "displayName eq \"sales\"")])).await.unwrap();
    assert_eq!(matched.total_results, Some(1));
    assert!(matched.resources[0].get("members").is_none());

    // Deleting a member user removes its membership.
    service.delete(&entra, &USERS, &users[3], None).await.unwrap();
    assert_eq!(member_ids(&service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap()), vec![users[2].clone()]);

    // Remove all, then replace members by PATCH replace.
    service.patch(&entra, &GROUPS, &group, &patch(json!([{"op":"remove","path":"members"}])), None).await.unwrap();
    assert!(member_ids(&service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap()).is_empty());
    let replace = patch(json!([{"op":"replace","path":"members","value":[{"value":users[1]}]}]));
    service.patch(&entra, &GROUPS, &group, &replace, None).await.unwrap();
    assert_eq!(member_ids(&service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap()), vec![users[1].clone()]);

    // Deleting the group removes its membership items: the user has no groups left.
    service.delete(&entra, &GROUPS, &group, None).await.unwrap();
    let orphan = service.get(&entra, &USERS, &users[1], &selection(Some("groups"), None)).await.unwrap();
    assert!(orphan.get("groups").is_none());
    assert_eq!(service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap_err().to_scim().status, 404);
}

#[tokio::test]
async fn group_display_names_are_unique_and_renames_move_the_claim() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let sales = id_of(&service.create(&entra, &GROUPS, &group_body("Sales")).await.unwrap().resource);
    let error = service.create(&entra, &GROUPS, &group_body("SALES")).await.unwrap_err().to_scim();
    assert_eq!((error.status, error.scim_type), (409, Some(scim::ScimType::Uniqueness)));
    assert!(error.detail.contains("displayName"), "{}", error.detail);
    service.patch(&entra, &GROUPS, &sales, &patch(json!([{"op":"replace","path":"displayName","value":"Marketing"}])), None).await.unwrap();
    service.create(&entra, &GROUPS, &group_body("Sales")).await.unwrap();
    assert_eq!(service.create(&entra, &GROUPS, &group_body("marketing")).await.unwrap_err().to_scim().status, 409);
    // Users and groups have separate name spaces.
    service.create(&entra, &USERS, &entra_user("Sales")).await.unwrap();
}

#[tokio::test]
async fn groups_created_with_members_and_nested_groups() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let user = id_of(&service.create(&entra, &USERS, &entra_user("ann")).await.unwrap().resource);
    let inner = id_of(&service.create(&entra, &GROUPS, &group_body("Inner")).await.unwrap().resource);
    let body = json!({"displayName": "Outer", "members": [{"value": user, "type": "User"}, {"value": inner, "type": "Group"}]});
    let outer = id_of(&service.create(&entra, &GROUPS, &body).await.unwrap().resource);
    let got = service.get(&entra, &GROUPS, &outer, &all_attributes()).await.unwrap();
    assert_eq!(got["members"].as_array().map(Vec::len), Some(2));
    assert!(got["members"].as_array().unwrap().iter().any(|m| m["type"] == "Group" && m["value"] == inner.as_str()));
    // Deleting the nested group removes it from the outer one.
    service.delete(&entra, &GROUPS, &inner, None).await.unwrap();
    assert_eq!(member_ids(&service.get(&entra, &GROUPS, &outer, &all_attributes()).await.unwrap()), vec![user]);
}

#[tokio::test]
async fn put_replaces_members_and_huge_member_lists_are_refused_not_truncated() {
    let dir = tempfile::tempdir().unwrap().keep();
    let store = std::sync::Arc::new(item_store::CountingStore::new(embedded_store::EmbeddedStore::open(dir.join("i.redb")).unwrap()));
    let limits = provisioning::Limits { max_members_in_response: 3, ..provisioning::Limits::default() };
    let service = provisioning::Provisioning::new(store).with_limits(limits);
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        ids.push(id_of(&service.create(&entra, &USERS, &json!({"userName": name})).await.unwrap().resource));
    }
    let group = id_of(
        &service
            .create(&entra, &GROUPS, &json!({"displayName": "G", "members": [{"value": ids[0]}, {"value": ids[1]}]}))
            .await
            .unwrap()
            .resource,
    );
    // PUT without the members removes them; an identical PUT then changes nothing.
    let put = service.replace(&entra, &GROUPS, &group, &json!({"displayName": "G"}), None).await.unwrap();
    assert_eq!(put.version, 2);
    assert!(member_ids(&service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap()).is_empty());
    assert_eq!(service.replace(&entra, &GROUPS, &group, &json!({"displayName": "G"}), None).await.unwrap().version, 2);
    let four = json!({"displayName": "G", "members": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()});
    service.replace(&entra, &GROUPS, &group, &four, None).await.unwrap();
    let e = service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap_err().to_scim();
    assert_eq!((e.status, e.scim_type), (400, Some(scim::ScimType::TooMany)));
    assert!(e.detail.contains("excludedAttributes=members"), "{}", e.detail);
    assert_eq!(service.get(&entra, &GROUPS, &group, &selection(None, Some("members"))).await.unwrap()["displayName"], "G");
}
