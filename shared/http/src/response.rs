//! Responses: every one carries `Content-Type: application/scim+json` (Entra's validator
//! aborts on anything else, errors included), and every failure is a SCIM error body. The
//! one exception is the enrollment page, HTML for a browser that asks for it.

use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderValue, LOCATION, REFERRER_POLICY, RETRY_AFTER,
    WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS,
};
use http::{Response, StatusCode};
use scim::ScimError;
use serde_json::Value;

pub const SCIM_JSON: &str = "application/scim+json";

/// The enrollment page's policy: its own inline script and style, requests only to this
/// origin (the form's POST), nothing else.
const PAGE_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A response being built: status, JSON body (none for 204) or an HTML page, and the
/// headers that vary.
pub(crate) struct Reply {
    status: StatusCode,
    body: Option<Value>,
    page: Option<String>,
    location: Option<String>,
    etag: Option<String>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Reply { status, body: Some(body), page: None, location: None, etag: None }
    }

    /// An HTML page (the enrollment page): never cached, never referred (its URL holds
    /// the link's token), scripts only its own.
    pub(crate) fn html(status: StatusCode, page: String) -> Self {
        Reply { status, body: None, page: Some(page), location: None, etag: None }
    }

    pub(crate) fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub(crate) fn no_content() -> Self {
        Reply { status: StatusCode::NO_CONTENT, body: None, page: None, location: None, etag: None }
    }

    pub(crate) fn location(mut self, location: Option<String>) -> Self {
        self.location = location;
        self
    }

    pub(crate) fn etag(mut self, etag: Option<String>) -> Self {
        self.etag = etag;
        self
    }

    pub(crate) fn into_response(self) -> Response<Bytes> {
        if let Some(page) = self.page {
            let mut response = Response::new(Bytes::from(page));
            *response.status_mut() = self.status;
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
            return response;
        }
        let body = match &self.body {
            Some(value) => Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
            None => Bytes::new(),
        };
        let mut response = base(self.status, body);
        let headers = response.headers_mut();
        // Header values built from our own ids and URLs; a value that is not a valid header
        // (it cannot happen for uuids and ASCII hosts) is left out rather than failing.
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(LOCATION, location);
        }
        if let Some(etag) = self.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.insert(ETAG, etag);
        }
        response
    }
}

fn base(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    response
}

/// Why a request failed, with the headers that some failures need.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: ScimError,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) allow: Option<&'static str>,
}

impl Failure {
    pub(crate) fn method_not_allowed(allow: &'static str) -> Self {
        let error = ScimError::new(405, None, format!("this endpoint accepts {allow}"));
        Failure { error, retry_after: None, allow: Some(allow) }
    }

    pub(crate) fn not_found(path: &str) -> Self {
        ScimError::not_found(format!("no endpoint at {path}")).into()
    }

    pub(crate) fn unauthorized() -> Self {
        provisioning::Error::Unauthorized.into()
    }

    /// The admin API's 401: it names the credential it wants (an integration's token, an
    /// unknown or revoked key all get this one).
    pub(crate) fn unauthorized_admin() -> Self {
        ScimError::new(
            401,
            None,
            "the admin key is not valid: send one of the tenant's admin keys as the Bearer token (an integration's API token does not open the admin API)",
        )
        .into()
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        ScimError::new(413, None, format!("the request body is larger than {limit} bytes")).into()
    }

    pub(crate) fn into_response(self, request_id: &str) -> Response<Bytes> {
        let error = if self.error.status == 500 && self.retry_after.is_none() {
            // Internal details (store item shapes) are for the log, not the client. Other
            // 5xx are chosen on purpose and say what to do (501 not served here, 502 EAA
            // refused the credentials).
            tracing::error!(detail = %self.error.detail, "internal error");
            ScimError::new(500, None, format!("internal error; quote request id {request_id} to the operator"))
        } else {
            self.error
        };
        let error = ScimError { detail: shorten(error.detail), ..error };
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Bytes::from(serde_json::to_vec(&error.to_json()).unwrap_or_default());
        let mut response = base(status, body);
        let headers = response.headers_mut();
        if let Some(allow) = self.allow {
            headers.insert(ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(delay) = self.retry_after {
            // Whole seconds, at least one: `Retry-After: 0` would invite a hot retry loop.
            let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The longest `detail` sent: details quote client input (ids, paths, filters), and a
/// 100 KB id is not worth sending back.
const MAX_DETAIL_CHARS: usize = 1000;

fn shorten(detail: String) -> String {
    match detail.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((end, _)) => format!("{}… (cut at {MAX_DETAIL_CHARS} characters)", &detail[..end]),
        None => detail,
    }
}

impl From<ScimError> for Failure {
    fn from(error: ScimError) -> Self {
        Failure { error, retry_after: None, allow: None }
    }
}

impl From<provisioning::Error> for Failure {
    fn from(error: provisioning::Error) -> Self {
        let retry_after = match &error {
            provisioning::Error::Retryable { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        Failure { error: error.to_scim(), retry_after, allow: None }
    }
}

pub(crate) type Outcome = Result<Reply, Failure>;
