//! `scim-loadgen interference`: how much clients looping on one request slow everyone
//! else, for the requests a large tenant makes expensive (deep index pages, filters
//! without an index term, sorting, oversized lookups).
//!
//! 1. Fill: the tenant gets `users` users named `lg-fill-{i}@loadgen.example` (those
//!    missing are created; a 409 means the user is there already), every one with the
//!    same `externalId`, so that one lookup matches them all.
//! 2. The foreground, for `seconds`: `concurrency` clients sending Entra's match query
//!    (`userName eq`, a user that exists) and one client paging through the tenant as an
//!    aggregation does (index pages of 100, `startIndex` advancing, from 1 after the end).
//!    First alone, then while `background` clients loop on each probe; the report gives
//!    both, and the slowdown (p50 and p99 against the foreground alone).
//!
//! The probes include an ordinary match query as the reference: clients looping on
//! anything at all compete for the same cores, so a probe is cheap when it slows the
//! foreground no more than the reference does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::Method;
use serde_json::{Value, json};

use crate::client::{Connection, Target, form_encode};

/// What to run.
#[derive(Debug, Clone)]
pub struct InterferenceOptions {
    pub url: String,
    /// A token that reads every user (an integration with *read all users*).
    pub token: String,
    pub users: usize,
    pub fill_concurrency: usize,
    /// Foreground match-query clients (the aggregation client comes on top).
    pub concurrency: usize,
    /// Background client counts to try, each with every probe.
    pub background: Vec<usize>,
    pub seconds: f64,
    pub timeout: Duration,
}

/// The externalId every filled user shares.
const SHARED_EXTERNAL_ID: &str = "lg-fill-shared";

/// The aggregation's page size.
const PAGE: usize = 100;

fn user_name(i: usize) -> String {
    format!("lg-fill-{i:07}@loadgen.example")
}

/// A request looped on in the background.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub query: String,
}

/// The probes for a tenant of `users` users.
pub fn probes(users: usize) -> Vec<Probe> {
    let filter = |text: &str| format!("filter={}", form_encode(text));
    // Off the aggregation's page starts (1 + a multiple of 100), which have bookmarks.
    let deep = users.saturating_sub(PAGE).max(2);
    [
        ("match query (reference)", filter(&format!("userName eq \"{}\"", user_name(users / 2)))),
        ("count=1", "count=1".to_string()),
        ("deep startIndex, no bookmark", format!("startIndex={deep}&count={PAGE}")),
        ("filter without an index term", filter("userName sw \"lg-fill-000\"")),
        ("sortBy other than userName", "sortBy=name.familyName".to_string()),
        ("lookup matching every user", filter(&format!("externalId eq \"{SHARED_EXTERNAL_ID}\""))),
        ("startIndex=10000, skipped to", format!("startIndex=10000&count={PAGE}")),
    ]
    .into_iter()
    .map(|(name, query)| Probe { name: name.to_string(), query })
    .collect()
}

/// Latencies and outcomes of one kind of request.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Answers by status (`"200"`, `"400"`, or a failure such as `"timeout"`).
    pub statuses: BTreeMap<String, u64>,
    pub latency_us: Histogram<u64>,
    pub seconds: f64,
}

impl Latencies {
    fn new() -> Self {
        Latencies {
            statuses: BTreeMap::new(),
            latency_us: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
            seconds: 0.0,
        }
    }

    fn record(&mut self, elapsed: Duration, outcome: Result<u16, String>) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency_us.saturating_record(micros);
        let key = match outcome {
            Ok(status) => status.to_string(),
            Err(reason) => reason,
        };
        *self.statuses.entry(key).or_default() += 1;
    }

    fn merge(&mut self, other: &Latencies) {
        for (status, n) in &other.statuses {
            *self.statuses.entry(status.clone()).or_default() += n;
        }
        // Same bounds on both sides: cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
    }

    pub fn count(&self) -> u64 {
        self.latency_us.len()
    }

    pub fn ops_per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.count() as f64 / self.seconds } else { 0.0 }
    }

    pub fn p50_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.5) as f64 / 1000.0
    }

    pub fn p99_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.99) as f64 / 1000.0
    }

    fn statuses_text(&self) -> String {
        self.statuses.iter().map(|(status, n)| format!("{status} x{n}")).collect::<Vec<_>>().join(", ")
    }
}

/// One phase: the foreground, with `background` clients looping on `probe` (none: alone).
#[derive(Debug, Clone)]
pub struct Phase {
    pub probe: Option<Probe>,
    pub background: usize,
    pub probe_answers: Latencies,
    pub matches: Latencies,
    pub pages: Latencies,
}

#[derive(Debug, Clone)]
pub struct InterferenceReport {
    pub options: InterferenceOptions,
    pub fill_seconds: f64,
    pub created: usize,
    pub phases: Vec<Phase>,
}

impl InterferenceReport {
    fn alone(&self) -> Option<&Phase> {
        self.phases.iter().find(|phase| phase.probe.is_none())
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let o = &self.options;
        let _ = writeln!(
            out,
            "{} users ({} created in {:.1} s); foreground: {} match-query clients + 1 aggregation client, {} s a phase",
            o.users, self.created, self.fill_seconds, o.concurrency, o.seconds
        );
        let _ = writeln!(
            out,
            "{:<31} {:>4} {:>24} {:>8} {:>9} {:>9} {:>8} {:>9} {:>9} {:>7} {:>7}",
            "background probe",
            "bg",
            "probe answers",
            "probe/s",
            "match p50",
            "match p99",
            "match/s",
            "page p50",
            "page p99",
            "x p50",
            "x p99"
        );
        let alone = self.alone();
        for phase in &self.phases {
            let (x50, x99) = match alone {
                Some(alone) if phase.probe.is_some() => {
                    (phase.matches.p50_ms() / alone.matches.p50_ms().max(1e-3), phase.matches.p99_ms() / alone.matches.p99_ms().max(1e-3))
                }
                _ => (1.0, 1.0),
            };
            let _ = writeln!(
                out,
                "{:<31} {:>4} {:>24} {:>8.0} {:>9.2} {:>9.2} {:>8.0} {:>9.2} {:>9.2} {:>7.2} {:>7.2}",
                phase.probe.as_ref().map_or("none (foreground alone)", |p| p.name.as_str()),
                phase.background,
                phase.probe_answers.statuses_text(),
                phase.probe_answers.ops_per_second(),
                phase.matches.p50_ms(),
                phase.matches.p99_ms(),
                phase.matches.ops_per_second(),
                phase.pages.p50_ms(),
                phase.pages.p99_ms(),
                x50,
                x99
            );
        }
        out
    }

    pub fn json(&self) -> Value {
        let latencies = |l: &Latencies| json!({"count": l.count(), "statuses": l.statuses, "opsPerSecond": l.ops_per_second(), "p50Ms": l.p50_ms(), "p99Ms": l.p99_ms()});
        json!({
            "users": self.options.users,
            "created": self.created,
            "fillSeconds": self.fill_seconds,
            "phases": self.phases.iter().map(|phase| json!({
                "probe": phase.probe.as_ref().map(|p| json!({"name": p.name, "query": p.query})),
                "background": phase.background,
                "probeAnswers": latencies(&phase.probe_answers),
                "matchQueries": latencies(&phase.matches),
                "aggregationPages": latencies(&phase.pages),
            })).collect::<Vec<_>>(),
        })
    }
}

async fn timed(
    connection: &mut Connection,
    latencies: &mut Latencies,
    method: Method,
    path: &str,
    query: Option<&str>,
    body: Option<Bytes>,
) {
    let started = Instant::now();
    let answer = connection.send(method, path, query, body).await;
    latencies.record(started.elapsed(), answer.map(|a| a.status));
}

/// Creates the users that are missing; returns how many were created.
async fn fill(target: &Target, options: &InterferenceOptions) -> Result<usize, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..options.fill_concurrency.max(1))
        .map(|_| {
            let (mut connection, next, created, failures) =
                (Connection::new(target.clone(), options.timeout), next.clone(), created.clone(), failures.clone());
            let users = options.users;
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= users {
                        break;
                    }
                    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name(i),
                        "externalId": SHARED_EXTERNAL_ID, "active": true, "name": {"givenName": "Fill", "familyName": format!("User{i}")},
                        "emails": [{"type": "work", "primary": true, "value": user_name(i)}]});
                    match connection.send(Method::POST, "/Users", None, Some(Bytes::from(body.to_string()))).await {
                        Ok(answer) if answer.status == 201 => {
                            created.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(answer) if answer.status == 409 => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.map_err(|e| format!("a fill worker failed: {e}"))?;
    }
    match failures.load(Ordering::Relaxed) {
        0 => Ok(created.load(Ordering::Relaxed)),
        n => Err(format!("{n} users could not be created")),
    }
}

/// One phase of `seconds`.
async fn phase(
    target: &Target,
    options: &InterferenceOptions,
    probe: Option<&Probe>,
    background: usize,
    page_start: &Arc<AtomicUsize>,
) -> Result<Phase, String> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut probes = Vec::new();
    if let Some(probe) = probe {
        for _ in 0..background {
            let (mut connection, stop, query) = (Connection::new(target.clone(), options.timeout), stop.clone(), probe.query.clone());
            probes.push(tokio::spawn(async move {
                let mut latencies = Latencies::new();
                while !stop.load(Ordering::Relaxed) {
                    timed(&mut connection, &mut latencies, Method::GET, "/Users", Some(&query), None).await;
                }
                latencies
            }));
        }
    }
    let mut matches = Vec::new();
    for _ in 0..options.concurrency {
        let (mut connection, stop, users) = (Connection::new(target.clone(), options.timeout), stop.clone(), options.users.max(1));
        matches.push(tokio::spawn(async move {
            let mut latencies = Latencies::new();
            while !stop.load(Ordering::Relaxed) {
                let query = format!("filter={}", form_encode(&format!("userName eq \"{}\"", user_name(fastrand::usize(..users)))));
                timed(&mut connection, &mut latencies, Method::GET, "/Users", Some(&query), None).await;
            }
            latencies
        }));
    }
    let pages = {
        let (mut connection, stop, page_start, users) =
            (Connection::new(target.clone(), options.timeout), stop.clone(), page_start.clone(), options.users);
        tokio::spawn(async move {
            let mut latencies = Latencies::new();
            while !stop.load(Ordering::Relaxed) {
                let start = page_start.load(Ordering::Relaxed);
                timed(&mut connection, &mut latencies, Method::GET, "/Users", Some(&format!("startIndex={start}&count={PAGE}")), None)
                    .await;
                let next = if start + PAGE > users { 1 } else { start + PAGE };
                page_start.store(next, Ordering::Relaxed);
            }
            latencies
        })
    };
    tokio::time::sleep(Duration::from_secs_f64(options.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let collect = |tasks: Vec<tokio::task::JoinHandle<Latencies>>| async move {
        let mut total = Latencies::new();
        for task in tasks {
            total.merge(&task.await.map_err(|e| format!("a worker failed: {e}"))?);
        }
        total.seconds = seconds;
        Ok::<Latencies, String>(total)
    };
    Ok(Phase {
        probe: probe.cloned(),
        background,
        probe_answers: collect(probes).await?,
        matches: collect(matches).await?,
        pages: collect(vec![pages]).await?,
    })
}

/// Fills the tenant, then runs the foreground alone and beside every probe at every
/// background count.
pub async fn interference(options: &InterferenceOptions) -> Result<InterferenceReport, String> {
    let target = Target::new(&options.url, &options.token)?;
    let started = Instant::now();
    let created = fill(&target, options).await?;
    let fill_seconds = started.elapsed().as_secs_f64();
    let page_start = Arc::new(AtomicUsize::new(1));
    let mut phases = vec![phase(&target, options, None, 0, &page_start).await?];
    for &background in &options.background {
        for probe in probes(options.users) {
            phases.push(phase(&target, options, Some(&probe), background, &page_start).await?);
        }
    }
    Ok(InterferenceReport { options: options.clone(), fill_seconds, created, phases })
}
