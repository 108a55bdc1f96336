//! One router from HTTP requests to the provisioning domain, used by every Lambda function
//! and by the local server: `http::Request<Bytes>` in, `http::Response<Bytes>` out.
//!
//! - SCIM 2.0 per integration under `/scim/v2/{integration}` (see [`scim`]), authenticated
//!   by that integration's token only.
//! - The admin API under `/admin/v1` (see [`admin`]), authenticated by a tenant admin key.
//! - The enrollment link's endpoint `/enroll/{token}` (see [`enroll_routes`]), when the
//!   router has an [`EnrollmentConfig`]; the signed token is its only credential.
//!
//! Every response is `application/scim+json` (except the enrollment page a browser gets
//! from `/enroll/{token}`); every failure (unknown path, wrong method,
//! bad JSON, oversized body, store throttling) is a SCIM error body. Each request runs in
//! one `tracing` span carrying its request id; tokens and the Authorization header are
//! never logged.

mod admin;
mod enroll_page;
mod enroll_routes;
mod response;
mod scim_routes;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, HeaderValue};
use http::request::Parts;
use http::{Request, Response};
use item_store::ItemStore;
use provisioning::enroll::EnrollmentConfig;
use provisioning::{Caller, EaaConnector, Provisioning, SyncTrigger};
use serde_json::Value;
use tracing::Instrument;

pub use response::SCIM_JSON;
use response::{Failure, Outcome};

/// Request bodies larger than this are refused with 413 (Entra's largest requests, group
/// member PATCHes, stay far below).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The most resources one list page returns (`count` is capped to it; advertised in
/// `/ServiceProviderConfig`).
pub const MAX_RESULTS: usize = 100;

/// Where a request entered, as the front end saw it. Set by the Lambda glue (API
/// Gateway's domain, stage and request id) or the local server (`http`); without it the
/// `Host` and `X-Forwarded-Proto` headers decide.
#[derive(Debug, Clone, Default)]
pub struct Ingress {
    /// `https` behind API Gateway, `http` for the local server.
    pub scheme: Option<&'static str>,
    /// The domain the client called (API Gateway's `requestContext.domainName`), used
    /// when the request has no `Host` header.
    pub domain: Option<String>,
    /// The stage prefix of the public URL (`/dev`), empty for the `$default` stage. The
    /// request's path no longer contains it.
    pub stage_prefix: String,
    pub request_id: Option<String>,
}

/// The router: stateless apart from the domain service, the enrollment configuration and
/// the way to EAA it holds.
pub struct Router<S> {
    service: Arc<Provisioning<S>>,
    /// The link key and settings `/enroll/{token}` needs; `None` in functions that do not
    /// serve links (the path then answers 404).
    enrollment: Option<Arc<EnrollmentConfig>>,
    /// What the admin API's EAA routes that call EAA or start a sync need; `None` where
    /// they are not served (they then answer 501).
    eaa: Option<EaaAccess>,
}

/// The admin API's way to EAA: the tenant's directory (listing directories and groups,
/// checking a selection) and the start of a sync ("sync now").
#[derive(Clone)]
pub struct EaaAccess {
    pub connector: Arc<dyn EaaConnector>,
    pub trigger: Arc<dyn SyncTrigger>,
}

impl<S> Clone for Router<S> {
    fn clone(&self) -> Self {
        Router { service: Arc::clone(&self.service), enrollment: self.enrollment.clone(), eaa: self.eaa.clone() }
    }
}

impl<S: ItemStore> Router<S> {
    /// A router without `/enroll` (see [`Router::with_enrollment`]).
    pub fn new(service: Arc<Provisioning<S>>) -> Self {
        Router { service, enrollment: None, eaa: None }
    }

    /// The same router also serving the admin API's EAA routes that call EAA.
    pub fn with_eaa(mut self, access: EaaAccess) -> Self {
        self.eaa = Some(access);
        self
    }

    /// The same router also serving enrollment links checked with `config`.
    pub fn with_enrollment(mut self, config: EnrollmentConfig) -> Self {
        self.enrollment = Some(Arc::new(config));
        self
    }

    pub fn service(&self) -> &Provisioning<S> {
        &self.service
    }

    /// Answers one request. Never panics on request data and always answers.
    pub async fn handle(&self, request: Request<Bytes>) -> Response<Bytes> {
        let request_id = request_id(&request);
        let path = logged_path(request.uri().path());
        let span = tracing::info_span!("request", request_id = %request_id, method = %request.method(), path = %path);
        async {
            let started = std::time::Instant::now();
            let (parts, body) = request.into_parts();
            let mut response = match self.route(&parts, &body).await {
                Ok(reply) => reply.into_response(),
                Err(failure) => failure.into_response(&request_id),
            };
            if let Ok(value) = HeaderValue::from_str(&request_id) {
                response.headers_mut().insert("x-request-id", value);
            }
            tracing::info!(status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "answered");
            response
        }
        .instrument(span)
        .await
    }

    /// The 400 answer for a request the front end could not even turn into an HTTP
    /// request (a malformed gateway event).
    pub fn malformed(&self, detail: &str) -> Response<Bytes> {
        let id = uuid::Uuid::new_v4().to_string();
        Failure::from(scim::ScimError::invalid_syntax(detail)).into_response(&id)
    }

    /// The 413 answer for a body the front end stopped reading past [`MAX_BODY_BYTES`].
    pub fn too_large(&self, request: &Request<()>) -> Response<Bytes> {
        let request_id = request_id(request);
        let mut response = Failure::too_large(MAX_BODY_BYTES).into_response(&request_id);
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }

    async fn route(&self, parts: &Parts, body: &Bytes) -> Outcome {
        if body.len() > MAX_BODY_BYTES {
            return Err(Failure::too_large(MAX_BODY_BYTES));
        }
        let path = parts.uri.path();
        let segments = match segments(path) {
            Some(segments) => segments,
            None => return Err(Failure::not_found(path)),
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["scim", "v2", integration, rest @ ..] => scim_routes::handle(self, parts, body, integration, rest).await,
            ["admin", "v1", rest @ ..] => admin::handle(self, parts, body, rest).await,
            ["enroll", token] => enroll_routes::handle(self, parts, body, token).await,
            _ => Err(Failure::not_found(path)),
        }
    }

    /// The caller a bearer token stands for; 401 without one.
    async fn authenticate(&self, parts: &Parts) -> Result<Caller, Failure> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().trim();
        let token = match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => token.trim(),
            _ => return Err(Failure::unauthorized()),
        };
        Ok(self.service.authenticate(token).await?)
    }
}

/// The path as the log shows it: an enrollment link's token is a credential, so it is
/// replaced (the signed token would let anyone reading the log enroll a device).
/// The first segment is compared decoded, as the router routes it (`/%65nroll/..` is
/// served as `/enroll/..`).
fn logged_path(path: &str) -> &str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    let decoded = percent_decode(first).unwrap_or_default();
    if decoded.to_ascii_lowercase().starts_with("enroll") { "/enroll/{token}" } else { path }
}

/// API Gateway's request id, else a proxy's, else a fresh one (so every log line and
/// 500 answer can be correlated).
/// Only ids that are short, visible ASCII are kept (the id is echoed in `x-request-id`).
fn request_id<B>(request: &Request<B>) -> String {
    let gateway = request.extensions().get::<Ingress>().and_then(|i| i.request_id.as_deref());
    let header = || ["x-amzn-requestid", "x-request-id"].iter().find_map(|name| request.headers().get(*name).and_then(|v| v.to_str().ok()));
    gateway
        .or_else(header)
        .filter(|id| !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The path's segments, percent-decoded, without empty ones (a trailing slash is
/// tolerated). `None` when a segment does not decode to UTF-8.
fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

fn percent_decode(segment: &str) -> Option<String> {
    // Unlike a query string, a path holds `+` as itself, never as an encoded space.
    percent_encoding::percent_decode_str(segment).decode_utf8().ok().map(|s| s.into_owned())
}

/// The public origin and stage prefix of the service as the client addressed it, e.g.
/// `https://abc.execute-api.eu-west-1.amazonaws.com/dev`: the one function behind every
/// URL the service hands out (`Location`, `meta.location`, `scimBaseUrl`).
pub fn public_base_url(parts: &Parts) -> String {
    let ingress = parts.extensions.get::<Ingress>();
    let forwarded = parts.headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).filter(|p| matches!(*p, "http" | "https"));
    let scheme = forwarded.or(ingress.and_then(|i| i.scheme)).unwrap_or("http");
    let host = parts
        .headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        // A host and port only: a `Host` with a path, userinfo or spaces would be echoed
        // into every URL handed out (`Location`, `meta.location`, `scimBaseUrl`).
        .filter(|h| !h.is_empty() && !h.contains('@') && h.parse::<http::uri::Authority>().is_ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .or_else(|| ingress.and_then(|i| i.domain.clone()))
        .unwrap_or_else(|| "localhost".into());
    let prefix = ingress.map(|i| i.stage_prefix.as_str()).unwrap_or_default();
    format!("{scheme}://{host}{prefix}")
}

/// URL-decoded query parameters (`+` is a space: Entra sends `filter=userName+eq+%22x%22`);
/// 400 when a name or value decodes to bytes that are not UTF-8 (rather than a lossy guess).
fn query_params(parts: &Parts) -> Result<Vec<(String, String)>, Failure> {
    let decode = |text: &str| {
        let spaced = text.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced).decode_utf8().map(|s| s.into_owned()).map_err(|_| {
            Failure::from(scim::ScimError::invalid_syntax(
                "the query string holds percent-encoded bytes that are not UTF-8: encode parameter values as UTF-8",
            ))
        })
    };
    let query = parts.uri.query().unwrap_or_default();
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().rev().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// The request body as JSON: 400 `invalidSyntax` with what is wrong.
fn json_body(body: &Bytes) -> Result<Value, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(scim::ScimError::invalid_syntax("the request needs a JSON body").into());
    }
    serde_json::from_slice(body).map_err(|e| scim::ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)], ingress: Option<Ingress>) -> Parts {
        let mut builder = Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        if let Some(ingress) = ingress {
            parts.extensions.insert(ingress);
        }
        parts
    }

    #[test]
    fn base_url_comes_from_host_scheme_and_stage() {
        let gateway =
            Ingress { scheme: Some("https"), domain: Some("api.example.com".into()), stage_prefix: "/dev".into(), request_id: None };
        assert_eq!(
            public_base_url(&parts("/scim/v2/x/Users", &[("host", "h.example.com")], Some(gateway.clone()))),
            "https://h.example.com/dev"
        );
        assert_eq!(public_base_url(&parts("/scim/v2/x/Users", &[], Some(gateway))), "https://api.example.com/dev");
        assert_eq!(public_base_url(&parts("/x", &[("host", "127.0.0.1:8080")], None)), "http://127.0.0.1:8080");
        assert_eq!(public_base_url(&parts("/x", &[("host", "a"), ("x-forwarded-proto", "https")], None)), "https://a");
        // A Host that is not a host and port is not echoed into URLs.
        for host in ["evil.test/x?", "a b", "u@evil.test", "a\"b"] {
            assert_eq!(public_base_url(&parts("/x", &[("host", host)], None)), "http://localhost", "{host}");
        }
    }

    #[test]
    fn query_parameters_decode_plus_as_space() {
        let p = parts("/Users?filter=userName+eq+%22a%2Bb%40x%22&aadOptscim062020", &[], None);
        let params = query_params(&p).unwrap();
        assert_eq!(param(&params, "FILTER"), Some("userName eq \"a+b@x\""));
        assert_eq!(param(&params, "aadOptscim062020"), Some(""));
    }

    #[test]
    fn enrollment_tokens_never_reach_the_logged_path() {
        for path in ["/enroll/tok", "//enroll/tok", "/%65nroll/tok", "/%65%6E%72%6F%6C%6C/tok", "/ENROLL/tok", "/enroll%2Ftok"] {
            assert_eq!(logged_path(path), "/enroll/{token}", "{path}");
        }
        assert_eq!(logged_path("/scim/v2/x/Users"), "/scim/v2/x/Users");
    }

    #[test]
    fn path_segments_are_decoded_and_plus_kept() {
        assert_eq!(segments("/scim/v2/a%20b/Users/x+y/").unwrap(), vec!["scim", "v2", "a b", "Users", "x+y"]);
        assert!(segments("/%FF").is_none());
    }
}
