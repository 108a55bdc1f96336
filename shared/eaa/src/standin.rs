//! A stand-in EAA server for tests and the local demo: serves directories, groups and
//! group users from a [`Fixture`] with the crux v1 shapes and paging (`limit` <= 250,
//! `offset`, `meta.next`), checks `contractId` and the EdgeGrid signature of every
//! request (401 otherwise), and rate-limits like EAA (`429` with `X-RateLimit-Next` past
//! `requests_per_window` in a fixed window). Tests change the data and inject failures
//! through the [`StandinHandle`] while it runs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use provisioning::{BoxFuture, EaaConnector, EaaDirectory, EaaDirectoryInfo, EaaError, EaaGroup, EaaGroupUser, EaaPage};

use crate::edgegrid::{self, EdgeGridCredentials, SignedRequest};

/// What the stand-in serves: directories, their groups, and each group's users (objects
/// with the fields of EAA's user: `user_uuid_url`, `username`, `first_name`, ...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fixture {
    pub directories: Vec<FixtureDirectory>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixtureDirectory {
    pub uuid_url: String,
    pub name: String,
    #[serde(default)]
    pub groups: Vec<FixtureGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixtureGroup {
    pub uuid_url: String,
    pub name: String,
    #[serde(default)]
    pub users: Vec<Value>,
}

impl Fixture {
    pub fn group_mut(&mut self, group: &str) -> Option<&mut FixtureGroup> {
        self.directories.iter_mut().flat_map(|d| d.groups.iter_mut()).find(|g| g.uuid_url == group)
    }
}

#[derive(Debug, Clone)]
pub struct StandinConfig {
    pub credentials: EdgeGridCredentials,
    pub contract_id: String,
    /// Requests allowed per `window` before `429` (EAA: 25 a minute).
    pub requests_per_window: u64,
    pub window: Duration,
}

impl StandinConfig {
    /// Test credentials and a limit high enough not to interfere.
    pub fn for_tests() -> Self {
        StandinConfig {
            credentials: EdgeGridCredentials {
                client_token: "akab-standin-client-token".into(),
                client_secret: "c3RhbmRpbi1zZWNyZXQtbm90LWEtcmVhbC1vbmU=".into(),
                access_token: "akab-standin-access-token".into(),
            },
            contract_id: "C-STANDIN".into(),
            requests_per_window: 1_000_000,
            window: Duration::from_secs(60),
        }
    }
}

struct Window {
    started: Instant,
    count: u64,
}

struct Shared {
    fixture: Mutex<Fixture>,
    config: StandinConfig,
    window: Mutex<Window>,
    /// Requests answered (any status).
    requests: AtomicU64,
    /// Answer 500 to every request from this count on (`u64::MAX`: never).
    fail_from: AtomicU64,
    /// 429 answers given.
    limited: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running server; it stops when this is dropped.
pub struct StandinHandle {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl StandinHandle {
    /// Changes the data served.
    pub fn update(&self, change: impl FnOnce(&mut Fixture)) {
        change(&mut lock(&self.shared.fixture));
    }

    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    pub fn rate_limited(&self) -> u64 {
        self.shared.limited.load(Ordering::Relaxed)
    }

    /// From `after` more requests on, every answer is 500 (`None`: back to normal).
    pub fn fail_after(&self, after: Option<u64>) {
        let from = after.map_or(u64::MAX, |n| self.requests() + n);
        self.shared.fail_from.store(from, Ordering::Relaxed);
    }
}

impl Drop for StandinHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the server on `addr` (port 0: any free port).
pub async fn spawn_on(addr: SocketAddr, fixture: Fixture, config: StandinConfig) -> std::io::Result<(SocketAddr, StandinHandle)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let shared = Arc::new(Shared {
        fixture: Mutex::new(fixture),
        config,
        window: Mutex::new(Window { started: Instant::now(), count: 0 }),
        requests: AtomicU64::new(0),
        fail_from: AtomicU64::new(u64::MAX),
        limited: AtomicU64::new(0),
    });
    let serving = shared.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let shared = serving.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(answer(&shared, request)) }
                });
                // A client that hangs up mid-request is its own problem.
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok((local, StandinHandle { shared, task }))
}

/// Starts the server on a free local port (for tests).
pub async fn spawn(fixture: Fixture, config: StandinConfig) -> std::io::Result<(SocketAddr, StandinHandle)> {
    spawn_on(SocketAddr::from(([127, 0, 0, 1], 0)), fixture, config).await
}

fn respond(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, detail: &str) -> Response<Full<Bytes>> {
    respond(status, json!({"type": "error", "title": status.canonical_reason(), "detail": detail}))
}

fn signature_ok(config: &StandinConfig, request: &Request<Incoming>) -> bool {
    let header = request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let host = request.headers().get("host").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(parsed) = edgegrid::parse_authorization(header) else { return false };
    if parsed.client_token != config.credentials.client_token || parsed.access_token != config.credentials.access_token {
        return false;
    }
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let signed = SignedRequest { method: request.method().as_str(), scheme: "http", host, path_and_query, body: b"" };
    let expected = edgegrid::signature(&config.credentials.client_secret, &parsed.timestamp, &signed, &parsed.signed_part);
    expected == parsed.signature
}

/// `Err(wait)` when the request is over the window's limit.
fn admit(shared: &Shared) -> Result<(), Duration> {
    let mut window = lock(&shared.window);
    let now = Instant::now();
    if now.duration_since(window.started) >= shared.config.window {
        *window = Window { started: now, count: 0 };
    }
    window.count += 1;
    if window.count > shared.config.requests_per_window {
        return Err(shared.config.window.saturating_sub(now.duration_since(window.started)));
    }
    Ok(())
}

fn answer(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let served = shared.requests.fetch_add(1, Ordering::Relaxed);
    if served >= shared.fail_from.load(Ordering::Relaxed) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure");
    }
    if !signature_ok(&shared.config, &request) {
        return error(StatusCode::UNAUTHORIZED, "EdgeGrid signature does not match");
    }
    if let Err(wait) = admit(shared) {
        shared.limited.fetch_add(1, Ordering::Relaxed);
        let next = time::OffsetDateTime::now_utc() + wait;
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        let headers = response.headers_mut();
        let next_text = next.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        for (name, value) in [
            ("x-ratelimit-limit", shared.config.requests_per_window.to_string()),
            ("x-ratelimit-remaining", "0".to_string()),
            ("x-ratelimit-next", next_text),
        ] {
            if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        return response;
    }
    let params: Vec<(String, String)> = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if param("contractId") != Some(shared.config.contract_id.as_str()) {
        return error(StatusCode::BAD_REQUEST, "contractId is missing or unknown");
    }
    let limit: usize = param("limit").and_then(|v| v.parse().ok()).unwrap_or(20);
    let offset: usize = param("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    if limit == 0 || limit > 250 {
        return error(StatusCode::BAD_REQUEST, "limit must be between 1 and 250");
    }
    let segments: Vec<&str> = request.uri().path().trim_end_matches('/').split('/').skip(1).collect();
    let fixture = lock(&shared.fixture);
    let objects: Vec<Value> = match segments.as_slice() {
        ["crux", "v1", "mgmt-pop", "directories"] => fixture
            .directories
            .iter()
            .map(|d| {
                let users: usize = d.groups.iter().map(|g| g.users.len()).sum();
                json!({"uuid_url": d.uuid_url, "name": d.name, "service": 1, "status": 1, "user_count": users, "group_count": d.groups.len()})
            })
            .collect(),
        ["crux", "v1", "mgmt-pop", "directories", directory, "groups"] => {
            match fixture.directories.iter().find(|d| d.uuid_url == *directory) {
                Some(d) => d
                    .groups
                    .iter()
                    .map(|g| json!({"uuid_url": g.uuid_url, "name": g.name, "group_type": 2, "status": 1, "user_count": g.users.len()}))
                    .collect(),
                None => return error(StatusCode::NOT_FOUND, "no such directory"),
            }
        }
        ["crux", "v1", "mgmt-pop", "directories", directory, "groups", group, "users"] => {
            let found = fixture.directories.iter().find(|d| d.uuid_url == *directory).and_then(|d| d.groups.iter().find(|g| g.uuid_url == *group));
            let Some(group) = found else { return error(StatusCode::NOT_FOUND, "no such group") };
            let members = group.users.iter().skip(offset).take(limit).map(|user| {
                let id = user.get("user_uuid_url").and_then(Value::as_str).unwrap_or_default();
                json!({"uuid_url": format!("m-{id}"), "status": 1, "group": {"group_uuid_url": group.uuid_url, "name": group.name}, "user": user})
            });
            let page: Vec<Value> = members.collect();
            return respond(StatusCode::OK, listing(page, group.users.len(), limit, offset));
        }
        _ => return error(StatusCode::NOT_FOUND, "no such resource"),
    };
    let total = objects.len();
    let page = objects.into_iter().skip(offset).take(limit).collect();
    respond(StatusCode::OK, listing(page, total, limit, offset))
}

fn listing(objects: Vec<Value>, total: usize, limit: usize, offset: usize) -> Value {
    let next = (offset + limit < total).then(|| format!("?limit={limit}&offset={}", offset + limit));
    let previous = (offset > 0).then(|| format!("?limit={limit}&offset={}", offset.saturating_sub(limit)));
    json!({"meta": {"limit": limit, "offset": offset, "total_count": total, "next": next, "previous": previous}, "objects": objects})
}

/// EAA as seen over a slow link: every page of a group's users arrives `delay` late.
/// Tests use it to make sync steps overlap or outrun their time budget; wrapped around a
/// connector, every directory it opens is delayed.
pub struct Delayed<T> {
    pub inner: T,
    pub delay: Duration,
}

impl<D: EaaDirectory> EaaDirectory for Delayed<D> {
    fn directories(&self, offset: u64) -> BoxFuture<'_, Result<EaaPage<EaaDirectoryInfo>, EaaError>> {
        self.inner.directories(offset)
    }

    fn groups<'a>(&'a self, directory: &'a str, offset: u64) -> BoxFuture<'a, Result<EaaPage<EaaGroup>, EaaError>> {
        self.inner.groups(directory, offset)
    }

    fn group_users<'a>(
        &'a self,
        directory: &'a str,
        group: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<EaaPage<EaaGroupUser>, EaaError>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.group_users(directory, group, offset).await
        })
    }
}

impl<C: EaaConnector> EaaConnector for Delayed<C> {
    fn connect<'a>(&'a self, tenant: &'a str, credentials_ref: &'a str) -> BoxFuture<'a, Result<Box<dyn EaaDirectory>, EaaError>> {
        Box::pin(async move {
            let inner = self.inner.connect(tenant, credentials_ref).await?;
            let delayed: Box<dyn EaaDirectory> = Box::new(Delayed { inner, delay: self.delay });
            Ok(delayed)
        })
    }
}
