//! Round-trip budgets (docs/ARCHITECTURE.md, "Budgets"), counted with `CountingStore`: no timing.

mod common;

use common::*;
use item_store::RoundTrips;
use provisioning::{Caller, GROUPS, Provisioning, USERS};
use serde_json::{Value, json};

fn members(ids: impl Iterator<Item = String>) -> Value {
    Value::Array(ids.map(|id| json!({"value": id})).collect())
}

#[tokio::test]
async fn entra_request_budgets() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (entra, token) = integration(&service, &tenant, Default::default()).await;
    let store = service.store();

    // The token check is cached: a second request costs nothing.
    store.take();
    service.authenticate(&token).await.unwrap();
    assert_eq!(store.take(), RoundTrips::default(), "cached token check");

    // Match query: one index query, also when empty.
    service.list(&entra, &USERS, &filter("userName eq \"ivy\"")).await.unwrap();
    let match_empty = store.take();
    assert_eq!((match_empty.query, match_empty.total()), (1, 1));

    // Create: one transaction (no seat limit: the counter's absence is checked in it).
    let id = id_of(&service.create(&entra, &USERS, &entra_user("ivy")).await.unwrap().resource);
    let create = store.take();
    assert_eq!((create.transact, create.total()), (1, 1), "{create:?}");

    service.list(&entra, &USERS, &filter("userName eq \"ivy\"")).await.unwrap();
    assert_eq!(store.take().total(), 1, "match query that finds");
    for text in ["externalId eq \"ext-ivy\"", "emails[type eq \"work\"].value eq \"ivy@contoso.com\"", &format!("id eq \"{id}\"")] {
        let found = service.list(&entra, &USERS, &filter(text)).await.unwrap();
        assert_eq!(found.total_results, Some(1));
        assert_eq!(store.take().total(), 1, "{text}");
    }

    service.get(&entra, &USERS, &id, &all_attributes()).await.unwrap();
    let get = store.take();
    assert_eq!((get.get, get.total()), (1, 1), "GET by id");

    service.patch(&entra, &USERS, &id, &patch(json!([{"op":"Replace","path":"active","value":"False"}])), None).await.unwrap();
    let patch_counts = store.take();
    assert_eq!((patch_counts.get, patch_counts.transact, patch_counts.total()), (1, 1, 2), "PATCH");

    service.patch(&entra, &USERS, &id, &patch(json!([{"op":"Replace","path":"active","value":"False"}])), None).await.unwrap();
    let noop = store.take();
    assert_eq!((noop.get, noop.total()), (1, 1), "a no-op PATCH only reads");

    let group = id_of(&service.create(&entra, &GROUPS, &group_body("Budget")).await.unwrap().resource);
    let group_create = store.take();
    assert_eq!((group_create.transact, group_create.total()), (1, 1), "group create");
    service.get(&entra, &GROUPS, &group, &selection(None, Some("members"))).await.unwrap();
    assert_eq!(store.take().total(), 1, "GET group by id without members");
    eprintln!(
        "measured: match={match_empty:?} create={create:?} get={get:?} patch={patch_counts:?} noop={noop:?} group_create={group_create:?}"
    );
}

/// `count` users of the tenant, created for their ids (members must exist).
async fn users(service: &Provisioning<Store>, entra: &Caller, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        ids.push(id_of(&service.create(entra, &USERS, &json!({"userName": format!("{prefix}{n}")})).await.unwrap().resource));
    }
    ids
}

/// Adding k members: each membership and its member's count are two operations of one
/// transaction (the member's existence is checked for free), so about k/49 transactions;
/// more than fit beside the group's own operations are checked for presence first (100 a
/// transaction, so that an unknown member refuses the whole PATCH) and recorded as an
/// intent in the group's write, then applied (all or nothing, see `member_intents`).
#[tokio::test]
async fn adding_k_members_costs_about_k_over_49_transactions_and_get_without_members_is_flat() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let store = service.store();
    let group = id_of(&service.create(&entra, &GROUPS, &group_body("Big")).await.unwrap().resource);
    let small = id_of(&service.create(&entra, &GROUPS, &group_body("Small")).await.unwrap().resource);
    let small_ids = users(&service, &entra, "s", 10).await;
    let ids = users(&service, &entra, "m", 1000).await;
    let small_members = patch(json!([{"op":"Add","path":"members","value":members(small_ids.iter().cloned())}]));
    service.patch(&entra, &GROUPS, &small, &small_members, None).await.unwrap();

    let mut added = 0;
    for k in [48usize, 99, 100, 250, 503] {
        store.take();
        let body = patch(json!([{"op":"Add","path":"members","value":members(ids[added..added + k].iter().cloned())}]));
        service.patch(&entra, &GROUPS, &group, &body, None).await.unwrap();
        let counts = store.take();
        // More than fit beside the group's own operations: presence checks, the write
        // with its intent, the batches, the intent dropped (reads: the group, the intent
        // and its chunk, the group again before the drop).
        let large = k > 46;
        let (checks, intent) = if large { (k.div_ceil(100), 2) } else { (0, 0) };
        assert!(counts.transact as usize <= k.div_ceil(49) + checks + intent, "k={k}: {counts:?}");
        assert_eq!(counts.get, if large { 4 } else { 1 }, "k={k}: reads {counts:?}");
        eprintln!("measured: add {k} members = {counts:?}");
        added += k;
    }
    assert_eq!(added, 1000);

    let excluded = selection(None, Some("members"));
    service.get(&entra, &GROUPS, &small, &excluded).await.unwrap();
    let at_10 = store.take();
    service.get(&entra, &GROUPS, &group, &excluded).await.unwrap();
    let at_1000 = store.take();
    assert_eq!(at_10, at_1000);
    assert_eq!(at_10.total(), 1);
    service.list(&entra, &GROUPS, &query(&[("excludedAttributes", "members"), ("filter", "displayName eq \"Big\"")])).await.unwrap();
    assert_eq!(store.take().total(), 1, "Entra's group match query");

    // With members: page by page (DynamoDB pages are 1 MB; the embedded store's too).
    let full = service.get(&entra, &GROUPS, &group, &all_attributes()).await.unwrap();
    assert_eq!(full["members"].as_array().map(Vec::len), Some(1000));
    let with_members = store.take();
    assert_eq!(with_members.get, 1);
    assert!(with_members.query >= 1);
    eprintln!("measured: GET group excluded members at 10 = {at_10:?}, at 1000 = {at_1000:?}, with 1000 members = {with_members:?}");

    // Removing them all pages through them, then deleting the group leaves nothing.
    service.delete(&entra, &GROUPS, &group, None).await.unwrap();
    let delete = store.take();
    assert!(delete.transact >= 10, "{delete:?}");
    eprintln!("measured: delete group with 1000 members = {delete:?}");
}

/// docs/ARCHITECTURE.md, "Budgets": "any request is O(its own data)". Adding one member
/// and reading a group without its members cost the same at 10 members and at 2,000; a
/// cursor page costs the same at page 1 and at page 50. (The 100,000 figures: `scale.rs`,
/// ignored.)
#[tokio::test]
async fn member_patch_group_get_and_cursor_pages_cost_the_same_small_and_large() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let store = service.store();
    let small = id_of(&service.create(&entra, &GROUPS, &group_body("Small")).await.unwrap().resource);
    let large = id_of(&service.create(&entra, &GROUPS, &group_body("Large")).await.unwrap().resource);
    let fill = |ids: Vec<String>| patch(json!([{"op":"Add","path":"members","value":members(ids.into_iter())}]));
    service.patch(&entra, &GROUPS, &small, &fill(users(&service, &entra, "s", 10).await), None).await.unwrap();
    service.patch(&entra, &GROUPS, &large, &fill(users(&service, &entra, "l", 2000).await), None).await.unwrap();
    let more = users(&service, &entra, "one-more-", 2).await;

    let mut costs = Vec::new();
    for (group, member) in [(&small, &more[0]), (&large, &more[1])] {
        store.take();
        let add = patch(json!([{"op":"Add","path":"members","value":[{"value": member}]}]));
        service.patch(&entra, &GROUPS, group, &add, None).await.unwrap();
        let add_one = store.take();
        service.get(&entra, &GROUPS, group, &selection(None, Some("members"))).await.unwrap();
        let get = store.take();
        costs.push((add_one, get));
    }
    eprintln!("measured: (add 1 member, GET excludedAttributes=members) at 10 members = {:?}, at 2000 = {:?}", costs[0], costs[1]);
    assert_eq!(costs[0], costs[1], "the cost does not depend on the group's size");
    assert_eq!((costs[0].0.get, costs[0].0.transact, costs[0].0.total()), (1, 1, 2), "add one member: 1 read + 1 transaction");
    assert_eq!(costs[0].1.total(), 1, "GET without members: 1 read");

    // 505: page 50 is full and not the last.
    for n in 0..505 {
        service.create(&entra, &USERS, &json!({"userName": format!("page{n:04}")})).await.unwrap();
    }
    let mut cursor = String::new();
    let mut per_page = Vec::new();
    for _ in 0..50 {
        store.take();
        let page = service.list(&entra, &USERS, &query(&[("count", "10"), ("cursor", &cursor)])).await.unwrap();
        per_page.push(store.take());
        assert_eq!(page.resources.len(), 10);
        cursor = page.next_cursor.clone().unwrap_or_else(|| panic!("more pages after page {}: {page:?}", per_page.len()));
    }
    eprintln!("measured: cursor page 1 = {:?}, page 50 = {:?}", per_page[0], per_page[49]);
    assert!(per_page.iter().all(|c| *c == per_page[0]), "every page costs the same: {per_page:?}");
    assert_eq!(per_page[0].total(), 1, "one query per page");
}
