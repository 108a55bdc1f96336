//! The scale measurement, over any item store (the embedded store in
//! `provisioning/tests/scale.rs`, DynamoDB on moto in `aws/tests/scale.rs`): `users` users
//! and a group of as many members, then round trips counted with `CountingStore` (a
//! membership PATCH adding one member and a GET without members, at 10 members and at
//! `users`; a cursor page at page 1 and at the last page) and the process's memory while
//! paging through every user. Prints the figures; asserts the costs are flat.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Instant;

use item_store::{CountingStore, ItemStore, RoundTrips};
use provisioning::{Caller, GROUPS, IntegrationKind, Provisioning, Settings, USERS};
use scim::list::ListQuery;
use scim::projection::AttributeSelection;
use serde_json::{Value, json};

/// VmRSS and VmHWM of this process, in KiB (Linux).
pub fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

fn members<'a>(ids: impl Iterator<Item = &'a String>) -> Value {
    Value::Array(ids.map(|id| json!({"value": id})).collect())
}

/// Runs the measurement on `store` with `users` users, `workers` creates at a time,
/// paging `page_size` users at a time.
pub async fn measure<S: ItemStore + 'static>(label: &str, store: S, users: usize, workers: usize, page_size: usize) {
    let service = Arc::new(Provisioning::new(Arc::new(CountingStore::new(store))));
    let tenant = service.create_tenant("Scale", None).await.expect("tenant");
    let created = service
        .create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", Settings::default())
        .await
        .expect("integration");
    let entra = service.authenticate(&created.token).await.expect("token");
    let counts = || service.store().take();

    // Users, `workers` at a time.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (service, entra) = (service.clone(), entra.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in (w..users).step_by(workers) {
                let body = json!({"userName": format!("user{n:06}@contoso.com"), "active": true,
                                  "emails": [{"type": "work", "primary": true, "value": format!("user{n:06}@contoso.com")}]});
                ids.push(service.create(&entra, &USERS, &body).await.expect("create").resource["id"].clone());
            }
            ids
        }));
    }
    let mut ids: Vec<String> = Vec::new();
    for task in tasks {
        ids.extend(task.await.expect("task").into_iter().filter_map(|v| v.as_str().map(str::to_string)));
    }
    let create_secs = started.elapsed().as_secs_f64();
    let create_counts = counts();
    eprintln!(
        "[{label}] created {users} users in {create_secs:.1} s ({:.0}/s), {:?} round trips",
        users as f64 / create_secs,
        create_counts
    );

    // A group of 10 and a group of every user (members added 1,000 per PATCH).
    let small = service.create(&entra, &GROUPS, &json!({"displayName": "Ten", "members": members(ids.iter().take(10))})).await;
    let small = small.expect("small group").resource["id"].as_str().expect("id").to_string();
    let large = service.create(&entra, &GROUPS, &json!({"displayName": "Everyone"})).await.expect("large group");
    let large = large.resource["id"].as_str().expect("id").to_string();
    let started = Instant::now();
    for chunk in ids.chunks(1000) {
        let body = patch(json!([{"op": "add", "path": "members", "value": members(chunk.iter())}]));
        service.patch(&entra, &GROUPS, &large, &body, None).await.expect("add members");
    }
    let fill = counts();
    eprintln!("[{label}] group of {users} members filled in {:.1} s, {fill:?} round trips", started.elapsed().as_secs_f64());

    let excluded = AttributeSelection::parse(None, Some("members")).expect("selection");
    let mut costs: Vec<(RoundTrips, RoundTrips)> = Vec::new();
    for (group, member) in [(&small, "extra-small"), (&large, "extra-large")] {
        counts();
        let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": member}]}]));
        service.patch(&entra, &GROUPS, group, &body, None).await.expect("add one");
        let add_one = counts();
        let got = service.get(&entra, &GROUPS, group, &excluded).await.expect("get");
        assert!(got.get("members").is_none());
        costs.push((add_one, counts()));
    }
    eprintln!("[{label}] add 1 member: at 10 members {:?}, at {users} members {:?}", costs[0].0, costs[1].0);
    eprintln!("[{label}] GET excludedAttributes=members: at 10 members {:?}, at {users} members {:?}", costs[0].1, costs[1].1);
    assert_eq!(costs[0], costs[1], "{label}: the cost depends on the group's size");

    // Every user, `page_size` per cursor page, with the memory at points along the way.
    let (rss_before, _) = memory_kib();
    let started = Instant::now();
    let mut cursor = String::new();
    let mut pages: Vec<RoundTrips> = Vec::new();
    let mut seen = 0usize;
    let mut rss = Vec::new();
    loop {
        counts();
        let count = page_size.to_string();
        let query = ListQuery::from_params([("count", count.as_str()), ("cursor", cursor.as_str())], 100).expect("query");
        let page = service.list(&entra, &USERS, &query).await.expect("page");
        pages.push(counts());
        seen += page.resources.len();
        let number = pages.len();
        if number == 1 || number == 10 || number.is_multiple_of(100) {
            rss.push((number, memory_kib().0));
        }
        match page.next_cursor {
            Some(next) if !page.resources.is_empty() => cursor = next,
            _ => break,
        }
    }
    let (rss_after, hwm) = memory_kib();
    eprintln!(
        "[{label}] paged {seen} users in {} pages of {page_size} in {:.1} s: page 1 {:?}, page {} {:?}",
        pages.len(),
        started.elapsed().as_secs_f64(),
        pages[0],
        pages.len(),
        pages[pages.len() - 1]
    );
    eprintln!("[{label}] VmRSS KiB before paging {rss_before}, at pages {rss:?}, after {rss_after}; VmHWM {hwm}");
    assert_eq!(seen, users);
    // Full pages (all but possibly the last, which may find the end) cost the same.
    let full = &pages[..pages.len().saturating_sub(1).max(1)];
    assert!(full.iter().all(|c| *c == full[0]), "{label}: cursor pages cost differently: first {:?}", full[0]);
    // Flat memory: paging holds one page at a time (generous bound: allocator noise).
    let tenth = rss.iter().find(|(n, _)| *n == 10).map_or(rss_before, |(_, kib)| *kib);
    assert!(rss_after.saturating_sub(tenth) < 32 * 1024, "{label}: VmRSS grew from {tenth} to {rss_after} KiB while paging");
}
