//! Measurements on the embedded store, not CI tests (they take minutes):
//!
//! - 100,000 users and a group of 100,000 members: round trips flat in the group's size
//!   and the page number, memory flat while paging (`SCIM_SCALE_USERS` changes the count);
//!   `cargo test --release -p provisioning --test scale hundred_thousand -- --ignored --nocapture`
//! - index pages of 1,000,000 users (`SCIM_SCALE_INDEX_USERS`): see
//!   [`index_pages_of_a_million_users_on_the_embedded_store`].
//!
//! The regular guards at sizes that run in seconds are `budgets.rs` and `lists.rs`.

mod scale_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of minutes: run with --ignored --nocapture"]
async fn hundred_thousand_users_on_the_embedded_store() {
    let users = std::env::var("SCIM_SCALE_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("dir");
    let store = embedded_store::EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    scale_support::measure("embedded", store, users, 8, 100).await;
}

/// Index paging at 1,000,000 users (`SCIM_SCALE_INDEX_USERS`): what a SailPoint
/// aggregation or an Okta import does, every page of 100 by `startIndex`/`count` in
/// sequence. Page 1 and page 10,000 cost the same round trips and about the same time; the
/// process's peak memory (VmHWM) stays under 64 MB through the whole aggregation.
///
/// `cargo test --release -p provisioning --test scale index_pages -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of minutes: run with --ignored --nocapture"]
async fn index_pages_of_a_million_users_on_the_embedded_store() {
    use std::sync::Arc;
    use std::time::Instant;

    use item_store::CountingStore;
    use provisioning::{Caller, IntegrationKind, Provisioning, Settings, USERS};
    use scim::list::ListQuery;
    use serde_json::json;

    let users: usize = std::env::var("SCIM_SCALE_INDEX_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let (workers, page_size) = (32, 100);
    let dir = tempfile::tempdir().expect("dir");
    let store = embedded_store::EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
    let service = Arc::new(Provisioning::new(Arc::new(CountingStore::new(store))));
    let tenant = service.create_tenant("Scale", None).await.expect("tenant");
    let admin = Caller::admin(&tenant.tenant);
    let provisioner = service.create_integration(&admin, IntegrationKind::Scim, "Entra", Settings::default()).await.expect("integration");
    let entra = service.authenticate(&provisioner.token).await.expect("token");
    let reader = Settings { read_all_users: true, ..Settings::default() };
    let aggregator = service.create_integration(&admin, IntegrationKind::Scim, "SailPoint", reader).await.expect("integration");
    let sailpoint = service.authenticate(&aggregator.token).await.expect("token");
    let counts = || service.store().take();

    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let (service, entra) = (service.clone(), entra.clone());
            tokio::spawn(async move {
                for n in (w..users).step_by(workers) {
                    let name = format!("user{n:07}@contoso.com");
                    let body = json!({"userName": name, "active": true, "externalId": format!("ext-{n}"),
                                      "name": {"givenName": "Given", "familyName": format!("Family{n}")},
                                      "emails": [{"type": "work", "primary": true, "value": name}]});
                    service.create(&entra, &USERS, &body).await.expect("create");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let create_secs = started.elapsed().as_secs_f64();
    counts();
    let (rss_created, hwm_created) = scale_support::memory_kib();
    eprintln!(
        "[index] created {users} users in {create_secs:.1} s ({:.0}/s), {workers} at a time; VmRSS {rss_created} KiB, VmHWM {hwm_created} KiB",
        users as f64 / create_secs
    );

    let page = |start: usize| {
        let (start, count) = (start.to_string(), page_size.to_string());
        ListQuery::from_params([("startIndex", start.as_str()), ("count", count.as_str())], 100).expect("query")
    };
    let total_only = ListQuery::from_params([("count", "0")], 100).expect("query");
    let timed = Instant::now();
    let total = service.list(&sailpoint, &USERS, &total_only).await.expect("total");
    eprintln!("[index] totalResults {:?} in {:.2} ms, {:?}", total.total_results, timed.elapsed().as_secs_f64() * 1e3, counts());
    assert_eq!(total.total_results, Some(users));

    // Refused before any walk: a deep page without a bookmark, a filter without an index term.
    let deep = users - page_size + 1;
    for (what, query) in [
        ("startIndex of the last page, no bookmark", page(deep)),
        ("filter userName sw", ListQuery::from_params([("filter", "userName sw \"user1\"")], 100).expect("query")),
    ] {
        let timed = Instant::now();
        let refused = service.list(&sailpoint, &USERS, &query).await.expect_err("refused").to_scim();
        eprintln!(
            "[index] {what}: {} {:?} in {:.2} ms, {:?}",
            refused.status,
            refused.scim_type,
            timed.elapsed().as_secs_f64() * 1e3,
            counts()
        );
    }

    // The aggregation: every page in sequence.
    let (rss_before, _) = scale_support::memory_kib();
    let started = Instant::now();
    let mut start = 1;
    let mut number = 0usize;
    let mut seen = 0usize;
    let mut costs = Vec::new();
    let mut micros = Vec::new();
    let mut rss = Vec::new();
    while start <= users {
        counts();
        let timed = Instant::now();
        let answer = service.list(&sailpoint, &USERS, &page(start)).await.expect("page");
        micros.push(timed.elapsed().as_micros());
        costs.push(counts());
        number += 1;
        assert_eq!(answer.total_results, Some(users));
        seen += answer.resources.len();
        if number == 1 || number.is_multiple_of(1000) {
            rss.push((number, scale_support::memory_kib().0));
        }
        start += answer.items_per_page.max(1);
    }
    let aggregation_secs = started.elapsed().as_secs_f64();
    let (rss_after, hwm) = scale_support::memory_kib();
    assert_eq!(seen, users);
    let last = number - 1;
    let median = |from: usize, to: usize| {
        let mut window: Vec<u128> = micros[from..to].to_vec();
        window.sort_unstable();
        window[window.len() / 2] as f64 / 1e3
    };
    eprintln!(
        "[index] aggregation: {number} pages of {page_size} in {aggregation_secs:.1} s ({:.2} ms a page)",
        aggregation_secs * 1e3 / number as f64
    );
    eprintln!(
        "[index] page 1: {:?}; page 2: {:?}; page {}: {:?}; page {} (the last: no bookmark after it): {:?}",
        costs[0],
        costs[1],
        last,
        costs[last - 1],
        last + 1,
        costs[last]
    );
    eprintln!(
        "[index] median ms of pages 1-100 {:.2}, of pages {}-{} {:.2}",
        median(0, 100.min(number)),
        number.saturating_sub(100),
        last,
        median(number.saturating_sub(101), last)
    );
    eprintln!("[index] VmRSS KiB before the aggregation {rss_before}, at pages {rss:?}, after {rss_after}; VmHWM {hwm}");
    // Page 1 and the last full page again, alternately, for their typical time.
    let last_full = (last - 1) * page_size + 1;
    let (mut first_us, mut deep_us) = (Vec::new(), Vec::new());
    for _ in 0..21 {
        for (start, times) in [(1, &mut first_us), (last_full, &mut deep_us)] {
            counts();
            let timed = Instant::now();
            let answer = service.list(&sailpoint, &USERS, &page(start)).await.expect("page");
            times.push(timed.elapsed().as_micros());
            assert_eq!(answer.resources.len(), page_size);
        }
    }
    first_us.sort_unstable();
    deep_us.sort_unstable();
    eprintln!(
        "[index] page 1 and page {last} (startIndex {last_full}, from its bookmark) 21 times each: median {:.2} ms and {:.2} ms",
        first_us[10] as f64 / 1e3,
        deep_us[10] as f64 / 1e3
    );
    let later = &costs[1..last];
    assert!(later.iter().all(|c| c.total() == later[0].total() && c.query == later[0].query), "pages cost differently");
    assert_eq!(costs[0].total() + 1, later[0].total(), "page 1 reads no bookmark");
    assert!(hwm < 64 * 1024, "VmHWM {hwm} KiB: over the 64 MB budget");
}
