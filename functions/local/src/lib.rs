//! The local server: the whole API on 127.0.0.1 through the same router as the Lambda
//! functions, on the embedded store in a data folder. On first start it creates a tenant,
//! its admin key and one SCIM integration (which sends enrollment emails), and keeps them
//! in `credentials.json`; later starts reuse them.
//!
//! Enrollment emails are "sent" by a background mailer that writes each one as an `.eml`
//! file into `<data dir>/outbox`; their links point at this server's `/enroll`, signed
//! with the key kept in `<data dir>/enrollment.key`.
//!
//! Deleting an integration (or moving its users) finishes in the background: a loop
//! steps the pending source moves every half second.
//!
//! EAA directories are synced in process on a schedule (`--eaa-sync-interval`, 6 hours by
//! default) and on "sync now", with credentials files under `<data dir>/eaa-credentials`.
//!
//! A connection may not hold the server: its request head and body must arrive within
//! the [`ConnectionLimits`], and past their connection cap a new one is answered 503.
//! The store, the outbox's `.eml` files and `credentials.json` are owner-only.

mod connections;
mod eaa_schedule;
pub mod enrollment_key;
pub mod file_mailer;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use embedded_store::EmbeddedStore;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use item_store::ItemStore;
use provisioning::enrollment::{DEFAULT_PRODUCT_NAME, EnrollmentConfig, PRODUCT_NAME_ENV};
use provisioning::enrollment::{Mailer, OutboxMailer};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim_http::{Ingress, MAX_BODY_BYTES, Router};

use crate::enrollment_key::load_or_create_key;
use crate::file_mailer::FileMailer;

pub use connections::ConnectionLimits;
pub use eaa_schedule::{LocalTrigger, admin_file_connector, eaa_credentials_dir, file_connector, spawn_eaa_scheduler};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the local mailer looks for due emails, and how many it takes per pass: a
/// provisioned user's email appears within a second, without busy polling.
const MAILER_EVERY: Duration = Duration::from_millis(500);
const MAILER_BATCH: u32 = 25;

/// The `From` of the local server's `.eml` files.
const LOCAL_SENDER: &str = "MFA <no-reply@scim.local>";

/// What `credentials.json` holds: the URLs and secrets to paste into Entra (and curl).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub scim_base_url: String,
    pub scim_token: String,
    pub admin_base_url: String,
    pub admin_key: String,
    pub tenant_id: String,
    pub integration_id: String,
}

impl Credentials {
    fn with_origin(mut self, origin: &str) -> Self {
        self.scim_base_url = format!("{origin}/scim/v2/{}", self.integration_id);
        self.admin_base_url = format!("{origin}/admin/v1");
        self
    }
}

/// Opens the store in `data_dir` (created if missing).
pub fn open_store(data_dir: &Path) -> io::Result<EmbeddedStore> {
    std::fs::create_dir_all(data_dir)?;
    EmbeddedStore::open(data_dir.join("items.redb")).map_err(|e| io::Error::other(e.to_string()))
}

pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join("credentials.json")
}

/// The credentials of an earlier start if they still authenticate against this store;
/// otherwise a new tenant, admin key and SCIM integration. Written back with the URLs of
/// this start (the port may differ).
pub async fn ensure_credentials<S: ItemStore>(service: &Provisioning<S>, data_dir: &Path, origin: &str) -> io::Result<Credentials> {
    let path = credentials_path(data_dir);
    let previous = std::fs::read(&path).ok().and_then(|bytes| serde_json::from_slice::<Credentials>(&bytes).ok());
    let reusable = match previous {
        Some(previous) if still_valid(service, &previous).await => Some(previous),
        _ => None,
    };
    let credentials = match reusable {
        Some(previous) => previous.with_origin(origin),
        None => create_credentials(service).await.map_err(|e| io::Error::other(e.detail()))?.with_origin(origin),
    };
    write_private(&path, &serde_json::to_vec_pretty(&credentials).map_err(io::Error::other)?)?;
    Ok(credentials)
}

async fn still_valid<S: ItemStore>(service: &Provisioning<S>, credentials: &Credentials) -> bool {
    let admin = service.authenticate(&credentials.admin_key).await;
    let scim = service.authenticate(&credentials.scim_token).await;
    matches!((admin, scim), (Ok(a), Ok(s)) if a.tenant == credentials.tenant_id && s.tenant == credentials.tenant_id)
}

async fn create_credentials<S: ItemStore>(service: &Provisioning<S>) -> provisioning::Result<Credentials> {
    let tenant = service.create_tenant("Local", None).await?;
    let admin = Caller::admin(&tenant.tenant);
    // Enrollment emails on, so that provisioning shows the whole flow locally (the
    // emails only become files in the outbox folder).
    let settings = Settings { send_enrollment_emails: true, ..Settings::default() };
    let integration = service.create_integration(&admin, IntegrationKind::Scim, "Microsoft Entra ID", settings).await?;
    Ok(Credentials {
        scim_base_url: String::new(),
        scim_token: integration.token,
        admin_base_url: String::new(),
        admin_key: tenant.admin_key,
        tenant_id: tenant.tenant,
        integration_id: integration.integration.id,
    })
}

/// Writes a file readable by its owner only (it holds secrets), replacing it atomically.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temporary = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&temporary)?, bytes)?;
    std::fs::rename(&temporary, path)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish (up to `DRAIN_TIMEOUT`, 10 s). `limits` bound what one connection may hold and
/// how many are served at once (see [`ConnectionLimits`]).
pub async fn serve<S: ItemStore + 'static>(
    listener: TcpListener,
    router: Router<S>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let served = Arc::new(Semaphore::new(limits.max_connections));
    // Refusals hold a descriptor for up to two seconds each: as many as served, then
    // connections beyond are closed at once.
    let refusing = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.head_timeout);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&served).try_acquire_owned() else {
            tracing::warn!(%peer, max_connections = limits.max_connections, "connection refused: at the connection cap");
            if let Ok(refusal) = Arc::clone(&refusing).try_acquire_owned() {
                tokio::spawn(async move {
                    connections::refuse(stream, limits.max_connections).await;
                    drop(refusal);
                });
            }
            continue;
        };
        let router = router.clone();
        let service = service_fn(move |request| {
            let router = router.clone();
            async move { Ok::<_, std::convert::Infallible>(answer(&router, request, peer, limits.body_timeout).await) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still running after the drain timeout; stopping anyway");
    }
}

async fn answer<S: ItemStore>(
    router: &Router<S>,
    request: hyper::Request<Incoming>,
    peer: SocketAddr,
    body_timeout: Duration,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(Ingress { scheme: Some("http"), ..Ingress::default() });
    tracing::trace!(%peer, "request");
    // A body declared larger than the limit is refused before any of it is read (and
    // before a `100 Continue`): the client learns at once, and hyper closes the connection
    // rather than read the rest.
    let declared =
        parts.headers.get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return too_large(router, parts);
    }
    let Ok(collected) = tokio::time::timeout(body_timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await else {
        tracing::warn!(%peer, ?body_timeout, "request body too slow; connection closed");
        return too_slow(body_timeout);
    };
    let response = match collected {
        Ok(collected) => router.handle(hyper::Request::from_parts(parts, collected.to_bytes())).await,
        Err(error) if error.is::<http_body_util::LengthLimitError>() => return too_large(router, parts),
        // The client went away mid-body: nobody will read the answer; answer as if empty.
        Err(_) => router.handle(hyper::Request::from_parts(parts, Bytes::new())).await,
    };
    response.map(Full::new)
}

/// The 408 answer to a body that did not arrive in time; the connection ends with it.
fn too_slow(body_timeout: Duration) -> hyper::Response<Full<Bytes>> {
    let detail = format!("the request body did not arrive within {}; send it at once", humantime::format_duration(body_timeout));
    let body = scim::ScimError::new(408, None, detail).to_json().to_string();
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(scim_http::SCIM_JSON));
    headers.insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    response
}

/// The 413 answer, telling the client that this connection ends (the rest of its body is
/// never read).
fn too_large<S: ItemStore>(router: &Router<S>, parts: http::request::Parts) -> hyper::Response<Full<Bytes>> {
    let mut response = router.too_large(&hyper::Request::from_parts(parts, ()));
    response.headers_mut().insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
    response.map(Full::new)
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Where the local mailer writes its `.eml` files.
pub fn outbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox")
}

/// The enrollment configuration of a server at `origin`: the data folder's link key
/// (created on first start, so links survive restarts) and links to this server's
/// `/enroll`. The product name comes from `PRODUCT_NAME` as in AWS.
pub fn enrollment_config(data_dir: &Path, origin: &str) -> io::Result<EnrollmentConfig> {
    let key = load_or_create_key(data_dir)?;
    let product = std::env::var(PRODUCT_NAME_ENV).ok().filter(|p| !p.trim().is_empty());
    Ok(EnrollmentConfig::new(key, format!("{origin}/enroll"), product.unwrap_or_else(|| DEFAULT_PRODUCT_NAME.to_string())))
}

/// Starts the background mailer writing `.eml` files into [`outbox_dir`]. Abort the
/// handle (and await it) on shutdown: an email cut off mid-write is never half visible
/// (files are renamed into place), and its lease expires so the next start sends it.
pub fn spawn_mailer<S: ItemStore + 'static>(
    service: Arc<Provisioning<S>>,
    config: EnrollmentConfig,
    data_dir: &Path,
) -> tokio::task::JoinHandle<()> {
    let mailer = OutboxMailer::new(service, FileMailer::new(outbox_dir(data_dir), LOCAL_SENDER), config);
    tokio::spawn(async move { drain_outbox_forever(&mailer, MAILER_EVERY, MAILER_BATCH).await })
}

/// How often the background loop looks for pending source moves, and how many listing
/// items it lets each one examine per pass.
const SOURCE_MOVES_EVERY: Duration = Duration::from_millis(500);
const SOURCE_MOVES_EXAMINED: usize = 2_000;

/// Starts the loop that finishes integration deletions and user moves in the background
/// (`tenancy::source_moves`). Abort it on shutdown: a step cut off is redone on the next
/// start from the job's saved position.
pub fn spawn_source_moves<S: ItemStore + 'static>(service: Arc<Provisioning<S>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = service.continue_source_moves(SOURCE_MOVES_EXAMINED).await {
                tracing::warn!(retry_in = ?SOURCE_MOVES_EVERY, detail = %error.detail(), "source moves: pass failed");
            }
            tokio::time::sleep(SOURCE_MOVES_EVERY).await;
        }
    })
}

/// The local server's background mailer: drains the outbox every `every`, forever (spawn
/// it). A failing pass is logged and retried on the next one.
pub async fn drain_outbox_forever<S: ItemStore, M: Mailer>(mailer: &OutboxMailer<S, M>, every: Duration, batch: u32) {
    loop {
        if let Err(error) = mailer.drain_once(batch).await {
            tracing::warn!(retry_in = ?every, detail = %error.detail(), "mailer: outbox pass failed");
        }
        tokio::time::sleep(every).await;
    }
}
