//! `scim-loadgen`: replays Microsoft Entra ID provisioning cycles (the request shapes of the
//! repository's docs/ENTRA.md) against any SCIM 2.0 server and reports, per operation kind,
//! the count, the failures (by status), throughput and latency (p50/p99/max).
//!
//! Each operation kind runs as its own phase at the given concurrency, in the order of an
//! Entra cycle, so that its throughput is measured alone:
//!
//! 1. Test Connection: `GET /Users?filter=userName eq "<random guid>"` (expects 0 results)
//! 2. initial cycle, users: match query (0 results), create (Entra's body, enterprise
//!    extension included), PATCH (the path-less replace of several attributes)
//! 3. initial cycle, groups: match query (`excludedAttributes=members`), create (empty),
//!    members added by PATCH in batches (one group's batches in order, groups in parallel)
//! 4. incremental cycle: match queries (1 result) for users and groups, a PATCH that changes
//!    nothing, a one-attribute PATCH (the default dialect: `"op":"Replace"` with a path)
//! 5. disables (`PATCH active` `"False"`), user deletes, group deletes
//!
//! Only standard SCIM is used. A server that refuses something has it counted as an error
//! with its status; nothing on the wire can make the generator panic.

pub mod client;
pub mod coldstart;
pub mod interference;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::Method;
use serde_json::{Value, json};

pub use client::{Answer, Connection, Target};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub token: String,
    pub concurrency: usize,
    pub users: usize,
    pub groups: usize,
    pub members_per_batch: usize,
    pub timeout: Duration,
    pub label: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            url: String::new(),
            token: String::new(),
            concurrency: 8,
            users: 1000,
            groups: 10,
            members_per_batch: 50,
            timeout: Duration::from_secs(30),
            label: "server".to_string(),
        }
    }
}

/// The operation kinds, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    TestConnection,
    UserMatchAbsent,
    UserCreate,
    UserPatch,
    GroupMatchAbsent,
    GroupCreate,
    GroupAddMembers,
    UserMatchPresent,
    GroupMatchPresent,
    UserPatchNoop,
    UserPatchOne,
    UserDisable,
    UserDelete,
    GroupDelete,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::TestConnection,
        Kind::UserMatchAbsent,
        Kind::UserCreate,
        Kind::UserPatch,
        Kind::GroupMatchAbsent,
        Kind::GroupCreate,
        Kind::GroupAddMembers,
        Kind::UserMatchPresent,
        Kind::GroupMatchPresent,
        Kind::UserPatchNoop,
        Kind::UserPatchOne,
        Kind::UserDisable,
        Kind::UserDelete,
        Kind::GroupDelete,
    ];

    /// The name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::TestConnection => "test-connection",
            Kind::UserMatchAbsent => "user-match-absent",
            Kind::UserCreate => "user-create",
            Kind::UserPatch => "user-patch-pathless",
            Kind::GroupMatchAbsent => "group-match-absent",
            Kind::GroupCreate => "group-create",
            Kind::GroupAddMembers => "group-add-members",
            Kind::UserMatchPresent => "user-match-present",
            Kind::GroupMatchPresent => "group-match-present",
            Kind::UserPatchNoop => "user-patch-noop",
            Kind::UserPatchOne => "user-patch-one-attr",
            Kind::UserDisable => "user-disable",
            Kind::UserDelete => "user-delete",
            Kind::GroupDelete => "group-delete",
        }
    }
}

/// The figures of one operation kind.
#[derive(Debug, Clone)]
pub struct KindReport {
    pub kind: Kind,
    /// Requests sent (answered or not).
    pub count: u64,
    /// Failures by reason: the unexpected status (`"409"`), `"200 totalResults=3"`,
    /// `"timeout"`, `"connect: ConnectionRefused"`, ...
    pub errors: BTreeMap<String, u64>,
    /// Operations not sent because what they act on failed earlier (no id).
    pub skipped: u64,
    /// Wall time of the phase.
    pub seconds: f64,
    /// Latency of every sent request, in microseconds.
    pub latency_us: Histogram<u64>,
}

impl KindReport {
    fn new(kind: Kind) -> KindReport {
        KindReport {
            kind,
            count: 0,
            errors: BTreeMap::new(),
            skipped: 0,
            seconds: 0.0,
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn ops_per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.count as f64 / self.seconds } else { 0.0 }
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 { 0.0 } else { self.latency_us.value_at_quantile(q) as f64 / 1000.0 }
    }

    pub fn p50_ms(&self) -> f64 {
        self.quantile_ms(0.5)
    }

    pub fn p99_ms(&self) -> f64 {
        self.quantile_ms(0.99)
    }

    pub fn max_ms(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.latency_us.max() as f64 / 1000.0 }
    }

    fn record(&mut self, elapsed: Duration, outcome: Result<(), String>) {
        self.count += 1;
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency_us.saturating_record(micros);
        if let Err(reason) = outcome {
            *self.errors.entry(reason).or_default() += 1;
        }
    }

    fn merge(&mut self, other: &KindReport) {
        self.count += other.count;
        self.skipped += other.skipped;
        for (reason, n) in &other.errors {
            *self.errors.entry(reason.clone()).or_default() += n;
        }
        // Same bounds on both sides: cannot fail; a failure would only lose samples.
        let _ = self.latency_us.add(&other.latency_us);
    }
}

/// A whole run.
#[derive(Debug, Clone)]
pub struct Report {
    pub label: String,
    pub options: Options,
    pub kinds: Vec<KindReport>,
    pub seconds: f64,
}

impl Report {
    pub fn kind(&self, kind: Kind) -> Option<&KindReport> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    pub fn requests(&self) -> u64 {
        self.kinds.iter().map(|k| k.count).sum()
    }

    pub fn errors(&self) -> u64 {
        self.kinds.iter().map(KindReport::error_count).sum()
    }

    /// The readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let o = &self.options;
        let _ = writeln!(
            out,
            "{}: {} users, {} groups, {} members per PATCH, concurrency {}",
            self.label, o.users, o.groups, o.members_per_batch, o.concurrency
        );
        let _ = writeln!(
            out,
            "{:<22} {:>7} {:>7} {:>7} {:>10} {:>8} {:>8} {:>9}",
            "operation", "count", "errors", "skipped", "ops/s", "p50 ms", "p99 ms", "max ms"
        );
        for k in &self.kinds {
            let _ = writeln!(
                out,
                "{:<22} {:>7} {:>7} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>9.2}",
                k.kind.name(),
                k.count,
                k.error_count(),
                k.skipped,
                k.ops_per_second(),
                k.p50_ms(),
                k.p99_ms(),
                k.max_ms()
            );
        }
        let _ = writeln!(
            out,
            "total: {} requests, {} errors in {:.2} s ({:.0} requests/s)",
            self.requests(),
            self.errors(),
            self.seconds,
            if self.seconds > 0.0 { self.requests() as f64 / self.seconds } else { 0.0 }
        );
        for k in self.kinds.iter().filter(|k| !k.errors.is_empty()) {
            let reasons: Vec<String> = k.errors.iter().map(|(reason, n)| format!("{reason} x{n}")).collect();
            let _ = writeln!(out, "  {} failures: {}", k.kind.name(), reasons.join(", "));
        }
        out
    }

    pub fn json(&self) -> Value {
        let o = &self.options;
        json!({
            "label": self.label,
            "users": o.users,
            "groups": o.groups,
            "membersPerBatch": o.members_per_batch,
            "concurrency": o.concurrency,
            "seconds": self.seconds,
            "requests": self.requests(),
            "errors": self.errors(),
            "operations": self.kinds.iter().map(|k| json!({
                "operation": k.kind.name(),
                "count": k.count,
                "errors": k.error_count(),
                "errorsByReason": k.errors,
                "skipped": k.skipped,
                "seconds": k.seconds,
                "opsPerSecond": k.ops_per_second(),
                "p50Ms": k.p50_ms(),
                "p99Ms": k.p99_ms(),
                "maxMs": k.max_ms(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The shared state of a run: names, and the ids the server gave.
struct Run {
    options: Options,
    id: String,
    users: Vec<OnceLock<String>>,
    groups: Vec<OnceLock<String>>,
}

impl Run {
    fn user_name(&self, i: usize) -> String {
        format!("lg-{}-{i:06}@loadgen.example", self.id)
    }

    fn external_id(&self, i: usize) -> String {
        format!("{}-{:04x}-4000-8000-{i:012x}", self.id, i % 0xffff)
    }

    fn group_name(&self, g: usize) -> String {
        format!("Loadgen {} group {g:04}", self.id)
    }

    fn user_filter(&self, i: usize) -> String {
        format!("filter={}", client::form_encode(&format!("userName eq \"{}\"", self.user_name(i))))
    }

    fn group_filter(&self, g: usize) -> String {
        format!("excludedAttributes=members&filter={}", client::form_encode(&format!("displayName eq \"{}\"", self.group_name(g))))
    }

    fn user_body(&self, i: usize) -> Bytes {
        // Entra's create (docs/ENTRA.md §4), enterprise extension included. `manager: null` is
        // left out: strict servers refuse it as an unknown top-level attribute.
        let name = self.user_name(i);
        Bytes::from(
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE],
                "externalId": self.external_id(i),
                "userName": name,
                "active": true,
                "displayName": format!("Load User {i}"),
                "emails": [{"primary": true, "type": "work", "value": name}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": format!("Given{i} Family{i}"), "familyName": format!("Family{i}"), "givenName": format!("Given{i}")},
                "roles": [],
                "addresses": null,
                ENTERPRISE: {"employeeNumber": i.to_string(), "department": format!("Department {}", i % 17)},
            })
            .to_string(),
        )
    }

    fn pathless_patch(&self, i: usize) -> Bytes {
        patch(json!([{"op": "replace", "value": {
            "displayName": format!("Load User {i} (renamed)"),
            "name.givenName": format!("Given{i}b"),
            "name.familyName": format!("Family{i}b"),
            format!("{ENTERPRISE}:employeeNumber"): format!("E{i}"),
        }}]))
    }

    fn one_attribute_patch(&self, i: usize) -> Bytes {
        patch(json!([{"op": "Replace", "path": "name.familyName", "value": format!("Family{i}c")}]))
    }

    fn group_body(&self, g: usize) -> Bytes {
        Bytes::from(
            json!({"schemas": [GROUP_SCHEMA], "displayName": self.group_name(g), "externalId": format!("{}-group-{g}", self.id), "members": []})
                .to_string(),
        )
    }

    /// Group `g`'s members: every user `i` with `i % groups == g`.
    fn member_batches(&self, g: usize) -> Vec<Vec<String>> {
        let groups = self.options.groups.max(1);
        let ids: Vec<String> = (g..self.options.users).step_by(groups).filter_map(|i| self.users[i].get().cloned()).collect();
        ids.chunks(self.options.members_per_batch.max(1)).map(<[String]>::to_vec).collect()
    }
}

fn patch(operations: Value) -> Bytes {
    Bytes::from(json!({"schemas": [PATCH_OP], "Operations": operations}).to_string())
}

fn members_patch(ids: &[String]) -> Bytes {
    let values: Vec<Value> = ids.iter().map(|id| json!({"$ref": null, "value": id})).collect();
    patch(json!([{"op": "Add", "path": "members", "value": values}]))
}

fn random_guid() -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u16(..0x1000),
        fastrand::u16(..0x1000),
        fastrand::u64(..1 << 48)
    )
}

/// The answer checks: `Ok(id)` (for creates) or the reason it failed.
fn expect_status(answer: &Answer, allowed: &[u16]) -> Result<(), String> {
    if allowed.contains(&answer.status) { Ok(()) } else { Err(answer.status.to_string()) }
}

fn expect_results(answer: &Answer, expected: u64) -> Result<(), String> {
    expect_status(answer, &[200])?;
    let total = serde_json::from_slice::<Value>(&answer.body).ok().and_then(|body| body.get("totalResults").and_then(Value::as_u64));
    match total {
        Some(total) if total == expected => Ok(()),
        Some(total) => Err(format!("200 totalResults={total}")),
        None => Err("200 not a ListResponse".to_string()),
    }
}

fn created_id(answer: &Answer) -> Result<String, String> {
    expect_status(answer, &[201])?;
    serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|body| body.get("id").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| "201 without id".to_string())
}

const WRITE_OK: &[u16] = &[200, 204];

/// Runs one timed request and records it.
async fn timed(
    connection: &mut Connection,
    report: &mut KindReport,
    method: Method,
    path: &str,
    query: Option<&str>,
    body: Option<Bytes>,
    check: impl FnOnce(&Answer) -> Result<(), String>,
) {
    let started = Instant::now();
    let answer = connection.send(method, path, query, body).await;
    let elapsed = started.elapsed();
    report.record(elapsed, answer.and_then(|answer| check(&answer)));
}

/// One item of a phase (a user index or a group index).
async fn step(run: &Run, connection: &mut Connection, kind: Kind, i: usize, report: &mut KindReport) {
    let user_id = || run.users.get(i).and_then(|id| id.get()).cloned();
    let group_id = || run.groups.get(i).and_then(|id| id.get()).cloned();
    match kind {
        Kind::TestConnection => {
            let query = format!("filter={}", client::form_encode(&format!("userName eq \"{}\"", random_guid())));
            timed(connection, report, Method::GET, "/Users", Some(&query), None, |a| expect_results(a, 0)).await;
        }
        Kind::UserMatchAbsent | Kind::UserMatchPresent => {
            let expected = if kind == Kind::UserMatchAbsent { 0 } else { 1 };
            timed(connection, report, Method::GET, "/Users", Some(&run.user_filter(i)), None, |a| expect_results(a, expected)).await;
        }
        Kind::GroupMatchAbsent | Kind::GroupMatchPresent => {
            let expected = if kind == Kind::GroupMatchAbsent { 0 } else { 1 };
            timed(connection, report, Method::GET, "/Groups", Some(&run.group_filter(i)), None, |a| expect_results(a, expected)).await;
        }
        Kind::UserCreate => {
            let slot = &run.users[i];
            timed(connection, report, Method::POST, "/Users", None, Some(run.user_body(i)), |a| {
                created_id(a).map(|id| {
                    let _ = slot.set(id);
                })
            })
            .await;
        }
        Kind::GroupCreate => {
            let slot = &run.groups[i];
            timed(connection, report, Method::POST, "/Groups", None, Some(run.group_body(i)), |a| {
                created_id(a).map(|id| {
                    let _ = slot.set(id);
                })
            })
            .await;
        }
        Kind::UserPatch | Kind::UserPatchNoop | Kind::UserPatchOne | Kind::UserDisable => {
            let Some(id) = user_id() else {
                report.skipped += 1;
                return;
            };
            let body = match kind {
                Kind::UserPatch | Kind::UserPatchNoop => run.pathless_patch(i),
                Kind::UserPatchOne => run.one_attribute_patch(i),
                _ => patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
            };
            timed(connection, report, Method::PATCH, &format!("/Users/{id}"), None, Some(body), |a| expect_status(a, WRITE_OK)).await;
        }
        Kind::GroupAddMembers => {
            let Some(id) = group_id() else {
                report.skipped += run.member_batches(i).len().max(1) as u64;
                return;
            };
            // One group's batches in order, as Entra sends them.
            for batch in run.member_batches(i) {
                let path = format!("/Groups/{id}");
                timed(connection, report, Method::PATCH, &path, None, Some(members_patch(&batch)), |a| expect_status(a, WRITE_OK)).await;
            }
        }
        Kind::UserDelete | Kind::GroupDelete => {
            let (id, path) = if kind == Kind::UserDelete { (user_id(), "/Users") } else { (group_id(), "/Groups") };
            let Some(id) = id else {
                report.skipped += 1;
                return;
            };
            timed(connection, report, Method::DELETE, &format!("{path}/{id}"), None, None, |a| expect_status(a, &[204, 200])).await;
        }
    }
}

/// Runs `items` items of `kind` on the connections (one task per connection), and returns
/// the connections for the next phase.
async fn phase(run: &Arc<Run>, connections: Vec<Connection>, kind: Kind, items: usize) -> Result<(Vec<Connection>, KindReport), String> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections.len());
    for mut connection in connections {
        let run = Arc::clone(run);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut report = KindReport::new(kind);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items {
                    break;
                }
                step(&run, &mut connection, kind, i, &mut report).await;
            }
            (connection, report)
        }));
    }
    let mut total = KindReport::new(kind);
    let mut connections = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (connection, report) = task.await.map_err(|e| format!("a worker of {} failed: {e}", kind.name()))?;
        total.merge(&report);
        connections.push(connection);
    }
    total.seconds = started.elapsed().as_secs_f64();
    Ok((connections, total))
}

/// Runs the whole workload against the server at `options.url`. Fails only on bad options
/// or a broken worker; what the server answers is in the report.
pub async fn run(options: &Options) -> Result<Report, String> {
    let target = Target::new(&options.url, &options.token)?;
    if options.concurrency == 0 {
        return Err("--concurrency must be at least 1".to_string());
    }
    let run = Arc::new(Run {
        options: options.clone(),
        id: format!("{:08x}", fastrand::u32(..)),
        users: (0..options.users).map(|_| OnceLock::new()).collect(),
        groups: (0..options.groups).map(|_| OnceLock::new()).collect(),
    });
    let mut connections: Vec<Connection> = (0..options.concurrency).map(|_| Connection::new(target.clone(), options.timeout)).collect();
    let started = Instant::now();
    let mut kinds = Vec::new();
    for kind in Kind::ALL {
        let items = match kind {
            Kind::TestConnection => 1,
            Kind::UserMatchAbsent
            | Kind::UserCreate
            | Kind::UserPatch
            | Kind::UserMatchPresent
            | Kind::UserPatchNoop
            | Kind::UserPatchOne
            | Kind::UserDisable
            | Kind::UserDelete => options.users,
            Kind::GroupMatchAbsent | Kind::GroupCreate | Kind::GroupAddMembers | Kind::GroupMatchPresent | Kind::GroupDelete => {
                options.groups
            }
        };
        let (returned, report) = phase(&run, connections, kind, items).await?;
        connections = returned;
        kinds.push(report);
    }
    Ok(Report { label: options.label.clone(), options: options.clone(), kinds, seconds: started.elapsed().as_secs_f64() })
}
