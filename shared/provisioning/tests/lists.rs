//! Lists: index pagination, cursor pagination at O(page), filters that walk with a cap.

mod common;

use std::sync::Arc;

use common::*;
use embedded_store::EmbeddedStore;
use item_store::CountingStore;
use provisioning::{Limits, Provisioning, USERS};
use scim::list::ListQuery;

async fn capped(max_examined: usize) -> Arc<Provisioning<Store>> {
    let dir = tempfile::tempdir().unwrap().keep();
    let store = Arc::new(CountingStore::new(EmbeddedStore::open(dir.join("items.redb")).unwrap()));
    Arc::new(Provisioning::new(store).with_limits(Limits { max_examined, ..Limits::default() }))
}

fn names(resources: &[serde_json::Value]) -> Vec<String> {
    resources.iter().map(|r| r["userName"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn index_pagination_sorting_and_totals() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    for n in [3, 1, 4, 0, 2] {
        service.create(&entra, &USERS, &entra_user(&format!("user{n}"))).await.unwrap();
    }
    let first = service.list(&entra, &USERS, &query(&[("startIndex", "1"), ("count", "2")])).await.unwrap();
    assert_eq!((first.total_results, first.start_index, first.items_per_page), (Some(5), Some(1), 2));
    assert_eq!(names(&first.resources), ["user0", "user1"]);
    let last = service.list(&entra, &USERS, &query(&[("startIndex", "5"), ("count", "5")])).await.unwrap();
    assert_eq!(names(&last.resources), ["user4"]);
    let sorted =
        service.list(&entra, &USERS, &query(&[("sortBy", "userName"), ("sortOrder", "descending"), ("count", "2")])).await.unwrap();
    assert_eq!(names(&sorted.resources), ["user4", "user3"]);
    let total_only = service.list(&entra, &USERS, &query(&[("count", "0")])).await.unwrap();
    assert_eq!((total_only.total_results, total_only.resources.len()), (Some(5), 0));
}

#[tokio::test]
async fn cursor_pages_cost_o_page_and_walk_everything_once() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    for n in 0..25 {
        service.create(&entra, &USERS, &entra_user(&format!("c{n:02}"))).await.unwrap();
    }
    let store = service.store();
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let params = [("cursor", cursor.as_str()), ("count", "10")];
        let query = ListQuery::from_params(params.iter().copied(), 100).unwrap();
        store.take();
        let page = service.list(&entra, &USERS, &query).await.unwrap();
        let counts = store.take();
        assert_eq!(counts.total(), 1, "one store page per cursor page: {counts:?}");
        assert_eq!(page.start_index, None);
        seen.extend(names(&page.resources));
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|n| format!("c{n:02}")).collect();
    assert_eq!(seen, expected);

    // A cursor of another tenant's list, or of another query, is refused.
    let other = tenant_caller(&service).await;
    let first = service.list(&entra, &USERS, &ListQuery::from_params([("cursor", ""), ("count", "5")], 100).unwrap()).await.unwrap();
    let token = first.next_cursor.unwrap();
    let replay = ListQuery::from_params([("cursor", token.as_str()), ("count", "5")], 100).unwrap();
    let e = service.list(&other, &USERS, &replay).await.unwrap_err().to_scim();
    assert_eq!((e.status, e.scim_type), (400, Some(scim::ScimType::InvalidCursor)));
    assert!(ListQuery::from_params([("cursor", token.as_str()), ("filter", "userName sw \"c\"")], 100).is_err());
}

async fn tenant_caller(service: &Provisioning<Store>) -> provisioning::Caller {
    let other = tenant(service, None).await;
    scim_integration(service, &other).await
}

#[tokio::test]
async fn walking_filters_are_capped_and_indexed_ones_are_not() {
    let service = capped(5).await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    for n in 0..8 {
        service.create(&entra, &USERS, &entra_user(&format!("w{n}"))).await.unwrap();
    }
    let e = service.list(&entra, &USERS, &filter("displayName eq \"Test User\"")).await.unwrap_err().to_scim();
    assert_eq!((e.status, e.scim_type), (400, Some(scim::ScimType::TooMany)));
    assert!(e.detail.contains("more than 5"), "{}", e.detail);
    // Indexed lookups do not walk.
    assert_eq!(service.list(&entra, &USERS, &filter("userName eq \"w7\"")).await.unwrap().total_results, Some(1));
    // Cursor pagination is how a big tenant is listed.
    let page = service.list(&entra, &USERS, &ListQuery::from_params([("cursor", ""), ("count", "3")], 100).unwrap()).await.unwrap();
    assert_eq!(page.resources.len(), 3);
    assert!(page.next_cursor.is_some());
    // A filter on an unknown attribute matches nothing, it is not an error; an invalid
    // one is 400 invalidFilter.
    let small = capped(100).await;
    let small_tenant = common::tenant(&small, None).await;
    let entra = scim_integration(&small, &small_tenant).await;
    small.create(&entra, &USERS, &entra_user("x")).await.unwrap();
    assert_eq!(small.list(&entra, &USERS, &filter("favouriteColour eq \"blue\"")).await.unwrap().total_results, Some(0));
    assert_eq!(small.list(&entra, &USERS, &filter("active gt true")).await.unwrap_err().to_scim().status, 400);
}

#[tokio::test]
async fn impossible_equalities_and_oversized_values_never_reach_the_store_as_keys() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let long = "x".repeat(600);
    let store = service.store();
    for text in [
        "userName eq \"\"".to_string(),
        format!("userName eq \"{long}\""),
        format!("externalId eq \"{long}\""),
        format!("id eq \"{long}\""),
    ] {
        store.take();
        let found = service.list(&entra, &USERS, &filter(&text)).await.unwrap();
        assert_eq!(found.total_results, Some(0));
        assert_eq!(store.take().total(), 0, "{text}");
    }
    let e = service.create(&entra, &USERS, &entra_user(&long)).await.unwrap_err().to_scim();
    assert_eq!((e.status, e.scim_type), (400, Some(scim::ScimType::InvalidValue)));
    let mut huge = entra_user("big");
    huge["displayName"] = serde_json::json!("y".repeat(500_000));
    let e = service.create(&entra, &USERS, &huge).await.unwrap_err().to_scim();
    assert_eq!(e.status, 400, "{}", e.detail);
    assert!(e.detail.contains("too large"), "{}", e.detail);
    let group = id_of(&service.create(&entra, &provisioning::GROUPS, &group_body("g")).await.unwrap().resource);
    let add = patch(serde_json::json!([{"op":"add","path":"members","value":[{"value": long}]}]));
    assert_eq!(service.patch(&entra, &provisioning::GROUPS, &group, &add, None).await.unwrap_err().to_scim().status, 400);
    assert_eq!(service.get(&entra, &USERS, &long, &all_attributes()).await.unwrap_err().to_scim().status, 404);
}

#[tokio::test]
async fn search_bodies_use_the_same_path_and_cursor_pages_refuse_sort_by() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    for name in ["vic", "val", "wes"] {
        service.create(&entra, &USERS, &entra_user(name)).await.unwrap();
    }
    let body = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": "userName sw \"v\"", "attributes": ["userName"], "sortBy": "userName", "startIndex": 1, "count": 10
    });
    let found = service.list(&entra, &USERS, &ListQuery::from_search_body(&body, 100).unwrap()).await.unwrap();
    assert_eq!(names(&found.resources), ["val", "vic"]);
    assert!(found.resources[0].get("emails").is_none());
    let sorted_cursor = ListQuery::from_params([("cursor", ""), ("sortBy", "userName")], 100).unwrap();
    let e = service.list(&entra, &USERS, &sorted_cursor).await.unwrap_err().to_scim();
    assert_eq!((e.status, e.scim_type), (400, Some(scim::ScimType::InvalidValue)));
}
