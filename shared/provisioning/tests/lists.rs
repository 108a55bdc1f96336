//! Lists: index pagination, cursor pagination at O(page), filters that walk with a cap.

mod common;

use std::future::Future;
use std::sync::{Arc, Mutex};

use common::*;
use embedded_store::EmbeddedStore;
use item_store::{Condition, CountingStore, GSI1, Item, ItemStore, Key, Page, Query, RoundTrips, SortKey, StoreError, TransactOp};
use provisioning::clock::ManualClock;
use provisioning::{GROUPS, IntegrationKind, Limits, Provisioning, Settings, USERS};
use scim::ScimType;
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

/// A capped service whose clock only moves when told to (bookmark expiry).
async fn capped_with_clock(max_examined: usize) -> (Arc<Provisioning<Store>>, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap().keep();
    let store = Arc::new(CountingStore::new(EmbeddedStore::open(dir.join("items.redb")).unwrap()));
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let service = Provisioning::with_clock(store, clock.clone()).with_limits(Limits { max_examined, ..Limits::default() });
    (Arc::new(service), clock)
}

/// `n` users named `{prefix}{000..}`, created by the tenant's admin.
async fn users(service: &Provisioning<Store>, tenant: &Tenant, prefix: &str, n: usize) {
    for i in 0..n {
        service.create(&tenant.admin, &USERS, &entra_user(&format!("{prefix}{i:03}"))).await.unwrap();
    }
}

fn page_query(start_index: usize, count: usize) -> ListQuery {
    query(&[("startIndex", &start_index.to_string()), ("count", &count.to_string())])
}

fn too_many(error: provisioning::Error) -> String {
    let error = error.to_scim();
    assert_eq!((error.status, error.scim_type), (400, Some(ScimType::TooMany)), "{}", error.detail);
    error.detail
}

#[tokio::test]
async fn totals_are_the_maintained_count_after_creates_deletes_and_claims() {
    let service = capped(5).await;
    let tenant = tenant(&service, None).await;
    let settings = Settings { read_all_users: true, include_manual_users: true, ..Settings::default() };
    let (reader, _) = integration(&service, &tenant, settings).await;
    let store = service.store();
    let total = |caller: provisioning::Caller| {
        let service = service.clone();
        async move { service.list(&caller, &USERS, &query(&[("count", "0")])).await.unwrap().total_results }
    };
    assert_eq!(total(reader.clone()).await, Some(0));
    users(&service, &tenant, "t", 12).await;
    store.take();
    assert_eq!(total(reader.clone()).await, Some(12), "more than max_examined, and still exact");
    assert_eq!(store.take().total(), 1, "the total alone is one query of the count");
    let ids: Vec<String> = service.list(&tenant.admin, &USERS, &page_query(1, 3)).await.unwrap().resources.iter().map(id_of).collect();
    for id in &ids {
        service.delete(&tenant.admin, &USERS, id, None).await.unwrap();
    }
    assert_eq!(total(reader.clone()).await, Some(9));
    // A claim takes over a manual record: the same record, the same count.
    let claimed = service.create(&reader, &USERS, &entra_user("t011")).await.unwrap();
    assert!(claimed.claimed);
    assert_eq!(total(tenant.admin.clone()).await, Some(9));
    // A failed create (409) and a failed delete (404) change nothing.
    assert!(service.create(&tenant.admin, &USERS, &entra_user("t010")).await.is_err());
    assert!(service.delete(&tenant.admin, &USERS, &ids[0], None).await.is_err());
    assert_eq!(total(reader.clone()).await, Some(9));
    // Groups are counted apart.
    service.create(&tenant.admin, &GROUPS, &group_body("g")).await.unwrap();
    let groups = service.list(&tenant.admin, &GROUPS, &query(&[("count", "0")])).await.unwrap();
    assert_eq!((groups.total_results, total(reader).await), (Some(1), Some(9)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_and_deletes_are_all_counted_and_failed_ones_not() {
    let service = capped(5).await;
    let tenant = tenant(&service, None).await;
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let (service, admin) = (service.clone(), tenant.admin.clone());
            // Every fourth name is taken by another task: 30 distinct users.
            let name = if n % 4 == 3 { format!("c{:02}", n - 1) } else { format!("c{n:02}") };
            tokio::spawn(async move { service.create(&admin, &USERS, &entra_user(&name)).await.map(|w| id_of(&w.resource)) })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        if let Ok(id) = task.await.unwrap() {
            ids.push(id);
        }
    }
    assert_eq!(ids.len(), 30);
    let deletes: Vec<_> = ids
        .iter()
        .take(10)
        .map(|id| {
            let (service, admin, id) = (service.clone(), tenant.admin.clone(), id.clone());
            tokio::spawn(async move { service.delete(&admin, &USERS, &id, None).await })
        })
        .collect();
    for task in deletes {
        task.await.unwrap().unwrap();
    }
    let listed = service.list(&tenant.admin, &USERS, &query(&[("count", "0")])).await.unwrap();
    assert_eq!(listed.total_results, Some(20));
}

/// docs/ARCHITECTURE.md, "Budgets": page 1 and a deep page of the whole listing cost the
/// same round trips (plus the bookmark's get after page 1), far past `max_examined`.
#[tokio::test]
async fn sequential_index_pages_cost_the_same_at_any_depth_and_see_every_user_once() {
    let service = capped(10).await;
    let tenant = tenant(&service, None).await;
    users(&service, &tenant, "p", 63).await;
    let store = service.store();
    let mut seen = Vec::new();
    let mut costs = Vec::new();
    let mut start_index = 1;
    loop {
        store.take();
        let page = service.list(&tenant.admin, &USERS, &page_query(start_index, 5)).await.unwrap();
        costs.push(store.take());
        assert_eq!((page.total_results, page.start_index), (Some(63), Some(start_index)));
        seen.extend(names(&page.resources));
        if page.resources.is_empty() || start_index + page.items_per_page > 63 {
            break;
        }
        start_index += page.items_per_page;
    }
    let expected: Vec<String> = (0..63).map(|i| format!("p{i:03}")).collect();
    assert_eq!(seen, expected);
    eprintln!("measured: index page 1 = {:?}, page 2 = {:?}, page 12 = {:?}", costs[0], costs[1], costs[11]);
    assert_eq!((costs[0].query, costs[0].put, costs[0].get, costs[0].total()), (2, 1, 0, 3), "page 1: count, page, next bookmark");
    // Every later page also reads its bookmark; its write is a put, or from page 3 on a
    // transaction that also drops the bookmark two pages back.
    for (page, cost) in costs.iter().enumerate().take(costs.len() - 1).skip(1) {
        assert_eq!((cost.get, cost.query, cost.put + cost.transact, cost.total()), (1, 2, 1, 4), "page {}: {cost:?}", page + 1);
    }
    assert!(costs[2..costs.len() - 1].iter().all(|c| *c == costs[2]), "{costs:?}");
    // The last page leaves no bookmark, and a page past the end reads nothing but the count.
    assert_eq!(costs[costs.len() - 1].put, 0);
    service.list(&tenant.admin, &USERS, &page_query(64, 5)).await.unwrap();
    assert_eq!(store.take().total(), 1);
    // A sequential walk keeps at most two bookmarks.
    let bookmarks = service.store().query(&Query::partition(format!("T#{}#BOOKMARK", tenant.id))).await.unwrap();
    assert!(bookmarks.items.len() <= 2, "{:?}", bookmarks.items.iter().map(|i| &i.key.sk).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_page_without_a_bookmark_skips_at_most_max_examined_and_deeper_ones_are_refused_before_any_walk() {
    let service = capped(10).await;
    let tenant = tenant(&service, None).await;
    users(&service, &tenant, "s", 30).await;
    let store = service.store();
    // startIndex 11 skips the first 10 (as many as may be examined).
    let shallow = service.list(&tenant.admin, &USERS, &page_query(11, 3)).await.unwrap();
    assert_eq!(names(&shallow.resources), ["s010", "s011", "s012"]);
    store.take();
    let detail = too_many(service.list(&tenant.admin, &USERS, &page_query(12, 3)).await.unwrap_err());
    assert!(detail.contains("startIndex=1") && detail.contains("cursor"), "{detail}");
    assert_eq!(store.take(), RoundTrips { query: 1, get: 1, ..RoundTrips::default() }, "the count and the bookmark, no walk");
    // Cursor pagination reaches every user at any depth.
    let mut cursor = String::new();
    let mut seen = 0;
    loop {
        let page = service.list(&tenant.admin, &USERS, &query(&[("cursor", &cursor), ("count", "7")])).await.unwrap();
        seen += page.resources.len();
        match page.next_cursor {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(seen, 30);
}

#[tokio::test]
async fn bookmarks_resume_where_the_previous_page_ended_and_expire() {
    let (service, clock) = capped_with_clock(4).await;
    let tenant = tenant(&service, None).await;
    users(&service, &tenant, "b", 20).await;
    let first = service.list(&tenant.admin, &USERS, &page_query(1, 5)).await.unwrap();
    assert_eq!(names(&first.resources).last().map(String::as_str), Some("b004"));
    // Records created before the page's end, and the first page's own records deleted,
    // do not shift the next page: it goes on after b004.
    service.create(&tenant.admin, &USERS, &entra_user("a-new")).await.unwrap();
    service.delete(&tenant.admin, &USERS, &id_of(&first.resources[0]), None).await.unwrap();
    let second = service.list(&tenant.admin, &USERS, &page_query(6, 5)).await.unwrap();
    assert_eq!(names(&second.resources), ["b005", "b006", "b007", "b008", "b009"]);
    assert_eq!(second.total_results, Some(20));
    // A retried page finds its bookmark again.
    let again = service.list(&tenant.admin, &USERS, &page_query(6, 5)).await.unwrap();
    assert_eq!(names(&again.resources), names(&second.resources));
    // Each bookmark lasts an hour.
    clock.advance(time::Duration::minutes(61));
    too_many(service.list(&tenant.admin, &USERS, &page_query(11, 5)).await.unwrap_err());
    // Descending pages have bookmarks of their own.
    let descending =
        |start: usize| query(&[("sortBy", "userName"), ("sortOrder", "descending"), ("startIndex", &start.to_string()), ("count", "5")]);
    let last = service.list(&tenant.admin, &USERS, &descending(1)).await.unwrap();
    assert_eq!(names(&last.resources), ["b019", "b018", "b017", "b016", "b015"]);
    let before = service.list(&tenant.admin, &USERS, &descending(6)).await.unwrap();
    assert_eq!(names(&before.resources), ["b014", "b013", "b012", "b011", "b010"]);
}

/// A store that remembers the queries it was asked (which partition a request read).
struct Recording<S> {
    inner: S,
    queries: Mutex<Vec<Query>>,
}

impl<S> Recording<S> {
    fn take(&self) -> Vec<Query> {
        std::mem::take(&mut *self.queries.lock().unwrap())
    }
}

impl<S: ItemStore> ItemStore for Recording<S> {
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send {
        self.inner.get(key)
    }
    fn put(&self, item: Item, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.put(item, condition)
    }
    fn delete(&self, key: &Key, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.delete(key, condition)
    }
    fn transact(&self, ops: Vec<TransactOp>) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.transact(ops)
    }
    fn query(&self, query: &Query) -> impl Future<Output = Result<Page, StoreError>> + Send {
        self.queries.lock().unwrap().push(query.clone());
        self.inner.query(query)
    }
}

#[tokio::test]
async fn requests_that_cannot_be_answered_cheaply_are_refused_before_any_walk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Recording { inner: EmbeddedStore::open(dir.path().join("items.redb")).unwrap(), queries: Mutex::default() };
    let service = Provisioning::new(store).with_limits(Limits { max_examined: 5, ..Limits::default() });
    let tenant = service.create_tenant("Contoso", None).await.unwrap();
    let admin = provisioning::Caller::admin(&tenant.tenant);
    let created = service.create_integration(&admin, IntegrationKind::Scim, "Entra", Settings::default()).await.unwrap();
    let entra = service.authenticate(&created.token).await.unwrap();
    for n in 0..8 {
        service.create(&entra, &USERS, &entra_user(&format!("r{n}"))).await.unwrap();
    }
    let count_only = |queries: Vec<Query>| {
        assert_eq!(queries.len(), 1, "{queries:?}");
        assert_eq!((queries[0].index, queries[0].sort.clone()), (None, SortKey::Prefix("COUNT#User#".into())), "the count, no walk");
    };
    service.store().take();
    let detail = too_many(service.list(&admin, &USERS, &filter("userName sw \"r\"")).await.unwrap_err());
    assert!(detail.contains("more than 5") && detail.contains("cursor"), "{detail}");
    count_only(service.store().take());
    // An integration that reads only its own records sees a filtered listing.
    let detail = too_many(service.list(&entra, &USERS, &query(&[])).await.unwrap_err());
    assert!(detail.contains("read all users"), "{detail}");
    count_only(service.store().take());
    // A sortBy other than the listing's order needs no read to be refused.
    let e = service.list(&admin, &USERS, &query(&[("sortBy", "name.familyName")])).await.unwrap_err().to_scim();
    assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
    assert!(e.detail.contains("sortBy=userName"), "{}", e.detail);
    assert!(service.store().take().is_empty());
    // Index lookups do not depend on the tenant's size: one query, of the index.
    let found = service.list(&entra, &USERS, &filter("userName eq \"r7\" and displayName eq \"Test User\"")).await.unwrap();
    assert_eq!(found.total_results, Some(1));
    let lookups = service.store().take();
    assert_eq!((lookups.len(), lookups[0].index), (1, Some(GSI1)));
}

#[tokio::test]
async fn walks_within_the_cap_answer_exactly_holding_only_their_page() {
    let service = capped(50).await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    for n in 0..30 {
        let mut body = entra_user(&format!("{}{n:02}", if n % 3 == 0 { "x" } else { "y" }));
        body["externalId"] = serde_json::json!(if n < 4 { "shared".to_string() } else { format!("e{n}") });
        service.create(&entra, &USERS, &body).await.unwrap();
    }
    // A filter without an index term: every match counted, only the page kept.
    let page = service.list(&entra, &USERS, &query(&[("filter", "userName sw \"x\""), ("startIndex", "3"), ("count", "2")])).await.unwrap();
    assert_eq!((page.total_results, page.start_index), (Some(10), Some(3)));
    assert_eq!(names(&page.resources), ["x06", "x09"]);
    let descending = query(&[("filter", "userName sw \"x\""), ("sortBy", "userName"), ("sortOrder", "descending"), ("count", "2")]);
    assert_eq!(names(&service.list(&entra, &USERS, &descending).await.unwrap().resources), ["x27", "x24"]);
    // An integration's own records, without a filter.
    let own = service.list(&entra, &USERS, &page_query(29, 5)).await.unwrap();
    assert_eq!((own.total_results, names(&own.resources)), (Some(30), vec!["y28".to_string(), "y29".to_string()]));
    // A lookup in id order, sorted by userName in memory.
    let sorted = query(&[("filter", "externalId eq \"shared\""), ("sortBy", "userName"), ("sortOrder", "descending")]);
    let shared = service.list(&entra, &USERS, &sorted).await.unwrap();
    assert_eq!(
        (shared.total_results, names(&shared.resources)),
        (Some(4), vec!["y02", "y01", "x03", "x00"].into_iter().map(String::from).collect())
    );
}

#[tokio::test]
async fn a_tenant_older_than_counts_is_counted_once_then_kept() {
    let service = capped(5).await;
    let tenant = tenant(&service, None).await;
    users(&service, &tenant, "o", 12).await;
    // As before counts existed: no base, no shards.
    let store = service.store();
    let config = Query::partition(format!("T#{}", tenant.id)).sort(SortKey::Prefix("COUNT#".into()));
    for item in store.query(&config).await.unwrap().items {
        store.delete(&item.key, Condition::None).await.unwrap();
    }
    // 12 users, at most 5 counted per request: two requests answer 503 and move it on.
    for counted in ["5 so far", "10 so far"] {
        let error = service.list(&tenant.admin, &USERS, &query(&[("count", "0")])).await.unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        let error = error.to_scim();
        assert_eq!(error.status, 503);
        assert!(error.detail.contains(counted) && error.detail.contains("cursor"), "{}", error.detail);
    }
    // Lookups and cursor pages need no count meanwhile.
    assert_eq!(service.list(&tenant.admin, &USERS, &filter("userName eq \"o003\"")).await.unwrap().total_results, Some(1));
    let total = |service: Arc<Provisioning<Store>>, admin: provisioning::Caller| async move {
        service.list(&admin, &USERS, &query(&[("count", "0")])).await.unwrap().total_results
    };
    assert_eq!(total(service.clone(), tenant.admin.clone()).await, Some(12));
    service.create(&tenant.admin, &USERS, &entra_user("o100")).await.unwrap();
    store.take();
    assert_eq!(total(service.clone(), tenant.admin.clone()).await, Some(13));
    assert_eq!(store.take().total(), 1, "counted once, then one query");
    // A tenant small enough is counted within its first request.
    let small = common::tenant(&service, None).await;
    users(&service, &small, "q", 4).await;
    let config = Query::partition(format!("T#{}", small.id)).sort(SortKey::Prefix("COUNT#".into()));
    for item in store.query(&config).await.unwrap().items {
        store.delete(&item.key, Condition::None).await.unwrap();
    }
    assert_eq!(total(service.clone(), small.admin.clone()).await, Some(4));
}

/// A store whose queries take a while, and which tracks how many queries that continue a
/// walk (with a cursor) are in flight at once.
struct Slow<S> {
    inner: S,
    continuing: std::sync::atomic::AtomicUsize,
    most_continuing: std::sync::atomic::AtomicUsize,
}

impl<S: ItemStore> ItemStore for Slow<S> {
    fn get(&self, key: &Key) -> impl Future<Output = Result<Option<Item>, StoreError>> + Send {
        self.inner.get(key)
    }
    fn put(&self, item: Item, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.put(item, condition)
    }
    fn delete(&self, key: &Key, condition: Condition) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.delete(key, condition)
    }
    fn transact(&self, ops: Vec<TransactOp>) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.transact(ops)
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let continuing = query.cursor.is_some() && query.index.is_some();
        if continuing {
            let now = self.continuing.fetch_add(1, SeqCst) + 1;
            self.most_continuing.fetch_max(now, SeqCst);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let page = self.inner.query(query).await;
        if continuing {
            self.continuing.fetch_sub(1, SeqCst);
        }
        page
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn walks_past_their_first_page_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Slow { inner: EmbeddedStore::open(dir.path().join("items.redb")).unwrap(), continuing: 0.into(), most_continuing: 0.into() };
    let service = Arc::new(Provisioning::new(store));
    let tenant = service.create_tenant("Contoso", None).await.unwrap();
    let admin = provisioning::Caller::admin(&tenant.tenant);
    let creates: Vec<_> = (0..8)
        .map(|worker| {
            let (service, admin) = (service.clone(), admin.clone());
            tokio::spawn(async move {
                for n in (worker..1200).step_by(8) {
                    service.create(&admin, &USERS, &serde_json::json!({"userName": format!("w{n:04}")})).await.unwrap();
                }
            })
        })
        .collect();
    for create in creates {
        create.await.unwrap();
    }
    // Four filters without an index term at once, each three store pages of the listing.
    let walks: Vec<_> = (0..4)
        .map(|_| {
            let (service, admin) = (service.clone(), admin.clone());
            tokio::spawn(async move { service.list(&admin, &USERS, &filter("userName ew \"7\"")).await })
        })
        .collect();
    for walk in walks {
        assert_eq!(walk.await.unwrap().unwrap().total_results, Some(120));
    }
    assert_eq!(service.store().most_continuing.load(std::sync::atomic::Ordering::SeqCst), 1, "one walk at a time past its first page");
    // Lookups end within their first page and take no turn.
    assert_eq!(service.list(&admin, &USERS, &filter("userName eq \"w0007\"")).await.unwrap().total_results, Some(1));
}
