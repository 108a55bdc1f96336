//! The EAA crux v1 client: directories, a directory's groups and a group's users, every
//! call with `contractId`, signed with EdgeGrid.
//!
//! Limits (docs/EAA.md §2): EAA allows 25 requests a minute. The client paces itself with a
//! sliding window (never more than `requests_per_minute` requests in any 60 s), and on a
//! `429` waits until `X-RateLimit-Next` (at most `max_rate_wait`, else it reports
//! `RateLimited` so that the sync step checkpoints instead of sleeping past its budget).
//! Network errors, timeouts and 5xx are retried `max_retries` times with jittered
//! exponential backoff; other answers are final.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use provisioning::{BoxFuture, EaaDirectory, EaaDirectoryInfo, EaaError, EaaGroup, EaaGroupUser, EaaPage};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::credentials::EaaCredentials;
use crate::edgegrid::{self, SignedRequest};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https`; `http` only for the stand-in server.
    pub scheme: &'static str,
    pub requests_per_minute: usize,
    /// Per request (connect, send, read the whole body).
    pub timeout: Duration,
    /// Retries of network errors, timeouts and 5xx.
    pub max_retries: u32,
    /// The longest a `429` is waited out before giving up with `RateLimited`.
    pub max_rate_wait: Duration,
    /// `limit` of every page (EAA allows at most 250).
    pub page_size: u32,
    /// First backoff after a failure (doubles per retry).
    pub backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            scheme: "https",
            requests_per_minute: 25,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            max_rate_wait: Duration::from_secs(90),
            page_size: 250,
            backoff: Duration::from_millis(500),
        }
    }
}

impl ClientConfig {
    /// For EAA calls made while an admin request waits (listing directories and groups,
    /// checking a selection): one page within API Gateway's 30 s, a rate limit longer than
    /// a few seconds passed on (429 with `Retry-After`) instead of waited out.
    pub fn for_admin_requests() -> Self {
        ClientConfig { max_rate_wait: Duration::from_secs(5), max_retries: 1, timeout: Duration::from_secs(8), ..ClientConfig::default() }
    }
}

/// Most `429`s waited out for one call (each already bounded by `max_rate_wait`).
const MAX_RATE_RETRIES: u32 = 5;

pub struct EaaClient {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    credentials: EaaCredentials,
    config: ClientConfig,
    /// Start times of the requests of the last minute (the pacing window).
    sent: Mutex<VecDeque<Instant>>,
}

#[derive(Deserialize)]
struct Meta {
    next: Option<String>,
}

#[derive(Deserialize)]
struct Listing<T> {
    meta: Meta,
    objects: Vec<T>,
}

/// The offset in a `meta.next` such as `?limit=250&offset=250`.
fn next_offset(next: Option<&str>) -> Option<u64> {
    let query = next?.rsplit_once('?').map_or(next?, |(_, q)| q);
    query.split('&').find_map(|pair| pair.strip_prefix("offset=")).and_then(|v| v.parse().ok())
}

/// How long `X-RateLimit-Next` says to wait: an RFC 3339 time, Unix seconds or
/// milliseconds, or a number of seconds (the format is not documented publicly).
fn rate_wait(header: Option<&str>, now: time::OffsetDateTime) -> Option<Duration> {
    let text = header?.trim();
    let until = if let Ok(number) = text.parse::<f64>() {
        match number {
            n if n > 1e12 => n / 1000.0,
            n if n > 1e9 => n,
            n => return Some(Duration::from_secs_f64(n.max(0.0))),
        }
    } else {
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
        at.unix_timestamp_nanos() as f64 / 1e9
    };
    let now = now.unix_timestamp_nanos() as f64 / 1e9;
    Some(Duration::from_secs_f64((until - now).max(0.0)))
}

impl EaaClient {
    pub fn new(credentials: EaaCredentials, config: ClientConfig) -> Result<Self, EaaError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| EaaError::Invalid(format!("TLS setup: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(EaaClient { http, credentials, config, sent: Mutex::new(VecDeque::new()) })
    }

    /// Waits until one more request fits in the last minute's window, and takes it.
    async fn pace(&self) {
        let window = Duration::from_secs(60);
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent.front().is_some_and(|at| now.duration_since(*at) >= window) {
                sent.pop_front();
            }
            match sent.front() {
                Some(oldest) if sent.len() >= self.config.requests_per_minute.max(1) => {
                    tokio::time::sleep_until(*oldest + window).await;
                }
                _ => {
                    sent.push_back(now);
                    return;
                }
            }
        }
    }

    /// One signed GET; `Ok((status, headers' rate-limit-next, body))`.
    async fn send(&self, path_and_query: &str) -> Result<(StatusCode, Option<String>, Bytes), String> {
        let stamp = edgegrid::timestamp(time::OffsetDateTime::now_utc());
        let nonce = uuid::Uuid::new_v4().to_string();
        let signed = SignedRequest { method: "GET", scheme: self.config.scheme, host: &self.credentials.host, path_and_query, body: b"" };
        let authorization = edgegrid::authorization(&self.credentials.edgegrid, &stamp, &nonce, &signed);
        let uri = format!("{}://{}{}", self.config.scheme, self.credentials.host, path_and_query);
        let request = Request::get(uri)
            .header("authorization", authorization)
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self.http.request(request).await.map_err(|e| e.to_string())?;
            let status = response.status();
            let next = response.headers().get("x-ratelimit-next").and_then(|v| v.to_str().ok()).map(str::to_string);
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok((status, next, body))
        };
        tokio::time::timeout(self.config.timeout, exchange).await.map_err(|_| "timed out".to_string())?
    }

    /// GET with pacing, 429 waits and bounded retries; the body of a 2xx.
    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Bytes, EaaError> {
        let mut query = format!("contractId={}", self.credentials.contract_id);
        for (name, value) in params {
            query.push_str(&format!("&{name}={value}"));
        }
        let path_and_query = format!("/crux/v1{path}?{query}");
        let (mut failures, mut limited) = (0, 0);
        loop {
            self.pace().await;
            let failure = match self.send(&path_and_query).await {
                Ok((status, _, body)) if status.is_success() => return Ok(body),
                Ok((StatusCode::TOO_MANY_REQUESTS, next, _)) => {
                    let wait = rate_wait(next.as_deref(), time::OffsetDateTime::now_utc()).unwrap_or(Duration::from_secs(60));
                    limited += 1;
                    if wait > self.config.max_rate_wait || limited > MAX_RATE_RETRIES {
                        return Err(EaaError::RateLimited { retry_after: wait });
                    }
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Ok((status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), _, body)) => {
                    return Err(EaaError::Unauthorized(format!("{status}: {}", String::from_utf8_lossy(&body))));
                }
                Ok((status, _, body)) if status.is_server_error() => format!("{status}: {}", String::from_utf8_lossy(&body)),
                Ok((status, _, body)) => return Err(EaaError::Invalid(format!("{status}: {}", String::from_utf8_lossy(&body)))),
                Err(network) => network,
            };
            failures += 1;
            if failures > self.config.max_retries {
                return Err(EaaError::Unavailable(format!("{path}: {failure} (after {} retries)", self.config.max_retries)));
            }
            let backoff = self.config.backoff * 2u32.saturating_pow(failures - 1);
            tokio::time::sleep(backoff + backoff.mul_f64(fastrand::f64() / 2.0)).await;
        }
    }

    async fn page<T: DeserializeOwned>(&self, path: &str, offset: u64) -> Result<EaaPage<T>, EaaError> {
        let body = self.get(path, &[("limit", self.config.page_size.min(250).to_string()), ("offset", offset.to_string())]).await?;
        let listing: Listing<T> = serde_json::from_slice(&body).map_err(|e| EaaError::Invalid(format!("{path}: {e}")))?;
        Ok(EaaPage { items: listing.objects, next: next_offset(listing.meta.next.as_deref()) })
    }
}

impl EaaDirectory for EaaClient {
    fn directories(&self, offset: u64) -> BoxFuture<'_, Result<EaaPage<EaaDirectoryInfo>, EaaError>> {
        Box::pin(self.page("/mgmt-pop/directories", offset))
    }

    fn groups<'a>(&'a self, directory: &'a str, offset: u64) -> BoxFuture<'a, Result<EaaPage<EaaGroup>, EaaError>> {
        Box::pin(async move { self.page(&format!("/mgmt-pop/directories/{directory}/groups"), offset).await })
    }

    fn group_users<'a>(
        &'a self,
        directory: &'a str,
        group: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<EaaPage<EaaGroupUser>, EaaError>> {
        Box::pin(async move { self.page(&format!("/mgmt-pop/directories/{directory}/groups/{group}/users"), offset).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_offsets_and_rate_waits() {
        assert_eq!(next_offset(Some("?limit=20&offset=40")), Some(40));
        assert_eq!(next_offset(Some("/crux/v1/x?offset=7&limit=2")), Some(7));
        assert_eq!(next_offset(None), None);
        let now = time::macros::datetime!(2024-01-01 00:00:00 UTC);
        assert_eq!(rate_wait(Some("3"), now), Some(Duration::from_secs(3)));
        assert_eq!(rate_wait(Some(&(now.unix_timestamp() + 5).to_string()), now), Some(Duration::from_secs(5)));
        assert_eq!(rate_wait(Some("2024-01-01T00:00:10Z"), now), Some(Duration::from_secs(10)));
        assert_eq!(rate_wait(Some("soon"), now), None);
    }
}
