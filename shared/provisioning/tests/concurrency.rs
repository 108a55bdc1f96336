//! Uniqueness under concurrency, If-Match, and the seat limit under concurrency.

mod common;

use common::*;
use provisioning::{GROUPS, USERS};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_identical_creates_make_one_user() {
    let service = service().await;
    // With a (high) seat limit, so that the seat counter counts too.
    let tenant = tenant(&service, Some(100)).await;
    let entra = scim_integration(&service, &tenant).await;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let (service, entra) = (service.clone(), entra.clone());
            // Case varies: uniqueness is case-insensitive.
            let name = if n % 2 == 0 { "Frank@contoso.com" } else { "frank@CONTOSO.com" };
            tokio::spawn(async move { service.create(&entra, &USERS, &entra_user(name)).await })
        })
        .collect();
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            Err(e) => {
                let e = e.to_scim();
                assert_eq!((e.status, e.scim_type), (409, Some(scim::ScimType::Uniqueness)), "{}", e.detail);
                conflicts += 1;
            }
        }
    }
    assert_eq!((created, conflicts), (1, 19));
    let listed = service.list(&entra, &USERS, &query(&[])).await.unwrap();
    assert_eq!(listed.total_results, Some(1));
    assert_eq!(service.seats(&tenant.id).await.unwrap().used, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seat_limit_holds_under_concurrency_and_deletes_free_seats() {
    let service = service().await;
    let tenant = tenant(&service, Some(5)).await;
    let entra = scim_integration(&service, &tenant).await;
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let (service, entra) = (service.clone(), entra.clone());
            tokio::spawn(async move { service.create(&entra, &USERS, &entra_user(&format!("seat{n}"))).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(written) => ids.push(id_of(&written.resource)),
            Err(e) => {
                let e = e.to_scim();
                assert_eq!(e.status, 409);
                assert!(e.detail.contains("seat limit of 5 users reached"), "{}", e.detail);
            }
        }
    }
    assert_eq!(ids.len(), 5);
    assert_eq!(service.seats(&tenant.id).await.unwrap().used, 5);
    assert_eq!(service.list(&entra, &USERS, &query(&[])).await.unwrap().total_results, Some(5));
    // Groups take no seat.
    service.create(&entra, &GROUPS, &group_body("g")).await.unwrap();
    service.delete(&entra, &USERS, &ids[0], None).await.unwrap();
    assert_eq!(service.seats(&tenant.id).await.unwrap().used, 4);
    service.create(&entra, &USERS, &entra_user("late")).await.unwrap();
    assert_eq!(service.create(&entra, &USERS, &entra_user("later")).await.unwrap_err().to_scim().status, 409);
    // Raising the limit lets creates through again.
    service.set_seat_limit(&tenant.admin, Some(6)).await.unwrap();
    service.create(&entra, &USERS, &entra_user("later")).await.unwrap();
}

#[tokio::test]
async fn if_match_is_honoured_for_put_patch_and_delete() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let id = id_of(&service.create(&entra, &USERS, &entra_user("gina")).await.unwrap().resource);
    let change = patch(json!([{"op":"replace","path":"nickName","value":"G"}]));
    for stale in ["W/\"7\"", "\"2\""] {
        let e = service.patch(&entra, &USERS, &id, &change, Some(stale)).await.unwrap_err().to_scim();
        assert_eq!(e.status, 412, "{stale}");
        assert!(e.detail.contains("W/\"1\""), "{}", e.detail);
        assert_eq!(service.replace(&entra, &USERS, &id, &entra_user("gina"), Some(stale)).await.unwrap_err().to_scim().status, 412);
        assert_eq!(service.delete(&entra, &USERS, &id, Some(stale)).await.unwrap_err().to_scim().status, 412);
    }
    let patched = service.patch(&entra, &USERS, &id, &change, Some("W/\"1\"")).await.unwrap();
    assert_eq!(patched.resource["meta"]["version"], "W/\"2\"");
    // A no-op PATCH keeps the version and writes nothing.
    let same = service.patch(&entra, &USERS, &id, &change, Some("W/\"2\"")).await.unwrap();
    assert_eq!(same.version, 2);
    assert_eq!(same.resource["meta"]["lastModified"], patched.resource["meta"]["lastModified"]);
    let empty = service.patch(&entra, &USERS, &id, &patch(json!([])), None).await.unwrap();
    assert_eq!(empty.version, 2);
    let replaced = service.replace(&entra, &USERS, &id, &entra_user("gina"), Some("\"2\"")).await.unwrap();
    assert_eq!(replaced.version, 3);
    assert!(replaced.resource.get("nickName").is_none(), "PUT replaces");
    service.delete(&entra, &USERS, &id, Some("W/\"3\"")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_with_the_same_if_match_let_one_through() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let id = id_of(&service.create(&entra, &USERS, &entra_user("hal")).await.unwrap().resource);
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let (service, entra, id) = (service.clone(), entra.clone(), id.clone());
            let body = patch(json!([{"op":"replace","path":"nickName","value":format!("n{n}")}]));
            tokio::spawn(async move { service.patch(&entra, &USERS, &id, &body, Some("W/\"1\"")).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.to_scim().status, 412),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn a_claim_succeeds_at_the_seat_limit_because_it_takes_no_seat() {
    let service = service().await;
    let tenant = tenant(&service, Some(1)).await;
    let (entra, _) = integration(&service, &tenant, provisioning::Settings { include_manual_users: true, ..Default::default() }).await;
    service.create(&tenant.admin, &USERS, &json!({"userName": "quinn"})).await.unwrap();
    assert_eq!(service.create(&entra, &USERS, &entra_user("other")).await.unwrap_err().to_scim().status, 409);
    let claimed = service.create(&entra, &USERS, &entra_user("Quinn")).await.unwrap();
    assert!(claimed.claimed);
    assert_eq!(service.seats(&tenant.id).await.unwrap().used, 1);
}

#[tokio::test]
async fn a_limit_set_later_counts_the_existing_users_first() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let store = service.store();
    store.take();
    service.create(&entra, &USERS, &entra_user("a1")).await.unwrap();
    assert_eq!(store.take().transact, 1);
    let second = id_of(&service.create(&entra, &USERS, &entra_user("a2")).await.unwrap().resource);
    service.create(&entra, &GROUPS, &group_body("not a seat")).await.unwrap();
    let seats = service.set_seat_limit(&tenant.admin, Some(3)).await.unwrap();
    assert_eq!((seats.used, seats.limit), (2, Some(3)));
    service.create(&entra, &USERS, &entra_user("a3")).await.unwrap();
    let e = service.create(&entra, &USERS, &entra_user("a4")).await.unwrap_err().to_scim();
    assert!(e.detail.contains("seat limit of 3 users reached"), "{}", e.detail);
    service.delete(&entra, &USERS, &second, None).await.unwrap();
    service.create(&entra, &USERS, &entra_user("a4")).await.unwrap();
    // Removing the limit stops counting.
    assert_eq!(service.set_seat_limit(&tenant.admin, None).await.unwrap().limit, None);
    service.create(&entra, &USERS, &entra_user("a5")).await.unwrap();
    assert!(service.set_seat_limit(&entra, Some(1)).await.is_err(), "admins only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_racing_for_the_seat_counter_all_get_through() {
    let service = service().await;
    let tenant = tenant(&service, Some(10_000)).await;
    let entra = scim_integration(&service, &tenant).await;
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (service, entra) = (service.clone(), entra.clone());
            tokio::spawn(async move {
                for n in 0..40 {
                    service.create(&entra, &USERS, &entra_user(&format!("r{w}-{n}"))).await?;
                }
                Ok::<(), provisioning::Error>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(service.seats(&tenant.id).await.unwrap().used, 320);
}

/// Without If-Match a PATCH asks for no version: concurrent member PATCHes of one group
/// all apply (a loser of the race for the group's version is applied again to the newer
/// version), so no member is lost and nobody gets a 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_member_patches_without_if_match_all_apply() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    // Members must exist: users for the 4 initial and the 12 added ones.
    let mut ids = Vec::new();
    for name in (0..4).map(|n| format!("initial{n}")).chain((0..12).map(|n| format!("m{n}"))) {
        ids.push(id_of(&service.create(&entra, &USERS, &json!({"userName": name})).await.unwrap().resource));
    }
    let (initial_ids, added_ids) = ids.split_at(4);
    let initial: Vec<serde_json::Value> = initial_ids.iter().map(|id| json!({"value": id})).collect();
    let group = service.create(&entra, &GROUPS, &json!({"displayName": "Race", "members": initial})).await.unwrap();
    let group = id_of(&group.resource);
    let tasks: Vec<_> = (0..12)
        .map(|n| {
            let (service, entra, group) = (service.clone(), entra.clone(), group.clone());
            let mut operations = vec![json!({"op": "add", "path": "members", "value": [{"value": added_ids[n]}]})];
            if n < 4 {
                operations.push(json!({"op": "remove", "path": format!("members[value eq \"{}\"]", initial_ids[n])}));
            }
            tokio::spawn(async move { service.patch(&entra, &GROUPS, &group, &patch(json!(operations)), None).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("no 409: the PATCH is applied to the newer version");
    }
    let got = service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap();
    let mut members: Vec<&str> = got["members"].as_array().unwrap().iter().filter_map(|m| m["value"].as_str()).collect();
    members.sort_unstable();
    let mut expected: Vec<String> = added_ids.to_vec();
    expected.sort_unstable();
    assert_eq!(members, expected);
    assert_eq!(got["meta"]["version"], "W/\"13\"", "one version per PATCH");
}
