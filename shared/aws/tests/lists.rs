//! The list rules of `provisioning/tests/lists.rs` (embedded store) on `DynamoDbStore`
//! against the DynamoDB test server (moto, started by `./scripts/test`): totals from the
//! maintained count, index pages resumed from bookmarks at the same cost at any depth,
//! deep pages without a bookmark and non-index filters refused before any walk, an older
//! tenant counted once, concurrent creates all counted. Small limits keep the tables small
//! (moto copies the whole table on every transaction).

mod common;

use std::sync::Arc;

use aws_adapters::DynamoDbStore;
use item_store::{Condition, CountingStore, ItemStore, Query, RoundTrips, SortKey};
use provisioning::{Caller, Limits, Provisioning, USERS};
use scim::ScimType;
use scim::list::ListQuery;
use serde_json::{Value, json};

type Service = Arc<Provisioning<CountingStore<DynamoDbStore>>>;

/// A fresh table, a tenant and its admin; `max_examined` as given. Through `serialized`
/// when requests run concurrently (see `common::serialized`).
async fn setup(max_examined: usize, serialized: bool) -> (Service, Caller) {
    let endpoint = if serialized { common::serialized(&common::endpoint()).await } else { common::endpoint() };
    let client = common::client_at(&endpoint);
    let table = common::create_table(&client).await;
    let store = CountingStore::new(DynamoDbStore::new(&client, table));
    let service = Provisioning::new(store).with_limits(Limits { max_examined, ..Limits::default() });
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant");
    (Arc::new(service), Caller::admin(&tenant.tenant))
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true,
           "emails": [{"primary": true, "type": "work", "value": format!("{name}@contoso.com")}]})
}

fn query(params: &[(&str, &str)]) -> ListQuery {
    ListQuery::from_params(params.iter().copied(), 100).expect("query")
}

fn page_query(start_index: usize, count: usize) -> ListQuery {
    query(&[("startIndex", &start_index.to_string()), ("count", &count.to_string())])
}

fn names(page: &scim::list::ListResponse) -> Vec<String> {
    page.resources.iter().map(|r| r["userName"].as_str().unwrap_or_default().to_string()).collect()
}

async fn total(service: &Service, admin: &Caller) -> Result<Option<usize>, provisioning::Error> {
    Ok(service.list(admin, &USERS, &query(&[("count", "0")])).await?.total_results)
}

fn too_many(error: provisioning::Error) -> String {
    let error = error.to_scim();
    assert_eq!((error.status, error.scim_type), (400, Some(ScimType::TooMany)), "{}", error.detail);
    error.detail
}

#[tokio::test]
async fn index_pages_resume_from_bookmarks_and_totals_are_counted_on_dynamodb() {
    let (service, admin) = setup(4, false).await;
    for n in 0..14 {
        service.create(&admin, &USERS, &user(&format!("d{n:02}"))).await.expect("create");
    }
    let store = service.store();
    store.take();
    assert_eq!(total(&service, &admin).await.expect("total"), Some(14));
    assert_eq!(store.take(), RoundTrips { query: 1, ..RoundTrips::default() }, "the total is one query of the count");

    // Every page of 3 in sequence, far past max_examined (4).
    let mut seen = Vec::new();
    let mut costs = Vec::new();
    let mut start_index = 1;
    while start_index <= 14 {
        store.take();
        let page = service.list(&admin, &USERS, &page_query(start_index, 3)).await.expect("page");
        costs.push(store.take());
        assert_eq!(page.total_results, Some(14));
        seen.extend(names(&page));
        start_index += page.items_per_page.max(1);
    }
    assert_eq!(seen, (0..14).map(|n| format!("d{n:02}")).collect::<Vec<_>>());
    eprintln!("measured on DynamoDB (moto): index page 1 = {:?}, page 2 = {:?}, page 4 = {:?}", costs[0], costs[1], costs[3]);
    assert_eq!((costs[0].get, costs[0].query, costs[0].put), (0, 2, 1), "page 1: the count, the page, the next bookmark");
    for cost in &costs[1..costs.len() - 1] {
        assert_eq!((cost.get, cost.query, cost.put + cost.transact), (1, 2, 1), "{costs:?}");
    }
    let bookmarks = store.inner().query(&Query::partition(format!("T#{}#BOOKMARK", admin.tenant))).await.expect("bookmarks");
    assert!(bookmarks.items.len() <= 2, "{:?}", bookmarks.items);

    // A deep page without a bookmark, and a filter without an index term: refused
    // before any walk.
    store.take();
    let descending = query(&[("sortBy", "userName"), ("sortOrder", "descending"), ("startIndex", "9"), ("count", "3")]);
    let detail = too_many(service.list(&admin, &USERS, &descending).await.expect_err("too deep"));
    assert!(detail.contains("startIndex=1"), "{detail}");
    assert_eq!(store.take(), RoundTrips { query: 1, get: 1, ..RoundTrips::default() });
    too_many(service.list(&admin, &USERS, &query(&[("filter", "userName sw \"d\"")])).await.expect_err("no index"));
    assert_eq!(store.take(), RoundTrips { query: 1, ..RoundTrips::default() });

    // Deletes are counted; cursor pages still reach everyone.
    let first = service.list(&admin, &USERS, &page_query(1, 2)).await.expect("page");
    for resource in &first.resources {
        service.delete(&admin, &USERS, resource["id"].as_str().expect("id"), None).await.expect("delete");
    }
    assert_eq!(total(&service, &admin).await.expect("total"), Some(12));
    let (mut cursor, mut reached) = (String::new(), 0);
    loop {
        let page = service.list(&admin, &USERS, &query(&[("cursor", &cursor), ("count", "5")])).await.expect("cursor page");
        reached += page.resources.len();
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(reached, 12);
}

#[tokio::test]
async fn a_tenant_older_than_counts_is_counted_once_on_dynamodb() {
    let (service, admin) = setup(4, false).await;
    for n in 0..9 {
        service.create(&admin, &USERS, &user(&format!("o{n}"))).await.expect("create");
    }
    let store = service.store();
    let counts = Query::partition(format!("T#{}", admin.tenant)).sort(SortKey::Prefix("COUNT#User#".into()));
    for item in store.query(&counts).await.expect("count items").items {
        store.delete(&item.key, Condition::None).await.expect("delete");
    }
    for _ in 0..2 {
        let error = total(&service, &admin).await.expect_err("still counting");
        assert_eq!(error.to_scim().status, 503, "{}", error.detail());
    }
    assert_eq!(total(&service, &admin).await.expect("counted"), Some(9));
    service.create(&admin, &USERS, &user("o9")).await.expect("create");
    assert_eq!(total(&service, &admin).await.expect("total"), Some(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_are_all_counted_on_dynamodb() {
    let (service, admin) = setup(4, true).await;
    let tasks: Vec<_> = (0..16)
        .map(|n| {
            let (service, admin) = (service.clone(), admin.clone());
            tokio::spawn(async move { service.create(&admin, &USERS, &user(&format!("c{n:02}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("create");
    }
    assert_eq!(total(&service, &admin).await.expect("total"), Some(16));
}
