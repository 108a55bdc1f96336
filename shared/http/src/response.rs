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

    /// 501 for an endpoint of RFC 7644 this service does not offer, saying what to send
    /// instead.
    pub(crate) fn not_implemented(detail: &str) -> Self {
        ScimError::new(501, None, detail).into()
    }

    pub(crate) fn too_large(limit: usize) -> Self {
        ScimError::new(413, None, format!("the request body is larger than {limit} bytes")).into()
    }

    pub(crate) fn into_response(self, request_id: &str) -> Response<Bytes> {
        let error = if self.error.status == 500 && self.retry_after.is_none() {
            // Internal details (store item shapes) are for the log, not the client.
            tracing::error!(detail = %self.error.detail, "internal error");
            ScimError::new(500, None, format!("internal error; quote request id {request_id} to the operator"))
        } else if self.error.status >= 500 || self.retry_after.is_some() {
            // Other 5xx (and 429) are chosen on purpose and say what to do (503 retry, 502
            // EAA refused the credentials); what they say must hold nothing internal.
            let detail = public_detail(&self.error.detail, self.error.status, self.retry_after, request_id);
            if detail != self.error.detail {
                tracing::warn!(status = self.error.status, detail = %self.error.detail, "failure answered without its internals");
            }
            ScimError { detail, ..self.error }
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
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_seconds(delay)));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Text that only an SDK, the OS or the network stack writes: a detail holding one is
/// replaced whole (the domain words its 5xx details itself; this catches what slips by).
const INTERNAL_MARKERS: [&str; 9] = [
    "os error",
    "io error",
    "dispatch failure",
    "tcp connect",
    "error trying to connect",
    "client error (connect)",
    "connection refused",
    "broken pipe",
    "panicked",
];

/// The detail of a deliberate 5xx or 429: server file paths and OS error codes taken
/// out, the whole detail replaced when it still holds SDK or network internals (or an
/// IP address), and, for a retryable failure, the `Retry-After` delay and the request
/// id added, so the admin knows when to retry and what to quote.
pub(crate) fn public_detail(detail: &str, status: u16, retry_after: Option<Duration>, request_id: &str) -> String {
    let scrubbed = without_paths(detail);
    // Judged on the detail as written. A retryable failure is never the admin's to fix,
    // so an OS error there is the store's disk or network talking: replaced. Elsewhere
    // (a 502 about the admin's EAA credentials file) the OS's words say what to fix,
    // and only the code and the path go.
    let lower = detail.to_ascii_lowercase();
    let markers = INTERNAL_MARKERS.iter().filter(|marker| retry_after.is_some() || **marker != "os error");
    let internal = markers.into_iter().any(|marker| lower.contains(marker)) || has_ip_address(detail);
    let text = match (internal, status) {
        (false, _) => scrubbed,
        (true, 429) => "the service is busy; retry after the delay".to_string(),
        (true, 502) => "an upstream service failed; see the provisioning log or ask the operator".to_string(),
        (true, _) => "the service is unavailable right now; retry after the delay".to_string(),
    };
    match retry_after {
        Some(delay) => format!("{text} (Retry-After: {} s); request id {request_id}", retry_seconds(delay)),
        None => format!("{text}; request id {request_id}"),
    }
}

/// Words that are absolute file paths (`/var/lib/x/creds.json`, `C:\x`) become `[path]`;
/// ` (os error 2)` goes. URLs and `scim/v2`-style relative paths are kept.
fn without_paths(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len());
    for (index, word) in detail.split(' ').enumerate() {
        if index > 0 {
            out.push(' ');
        }
        let core = word.trim_start_matches(['"', '\'', '(', '[', '`']).trim_end_matches(['"', '\'', ')', ']', '`', ':', ',', ';', '.']);
        let unix = core.starts_with('/') && core[1..].contains('/');
        let windows = core.len() > 2 && core.as_bytes()[1] == b':' && core.as_bytes()[2] == b'\\';
        if unix || windows {
            out.push_str(&word.replacen(core, "[path]", 1));
        } else {
            out.push_str(word);
        }
    }
    strip_os_error(&out)
}

fn strip_os_error(text: &str) -> String {
    let mut out = text.to_string();
    while let Some(start) = out.find(" (os error ") {
        let Some(end) = out[start..].find(')') else { break };
        out.replace_range(start..start + end + 1, "");
    }
    out
}

/// Whether the text holds a dotted IPv4 address (`127.0.0.1`, `10.0.3.7:443`).
fn has_ip_address(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.')).any(|word| {
        let parts: Vec<&str> = word.split('.').collect();
        parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
    })
}

/// Whole seconds, at least one: `Retry-After: 0` would invite a hot retry loop.
fn retry_seconds(delay: Duration) -> u64 {
    (delay.as_secs() + u64::from(delay.subsec_nanos() > 0)).max(1)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliberate_details_keep_their_words_without_paths_or_os_errors() {
        let eaa = public_detail("EAA refused the credentials: 401: invalid signature", 502, None, "r1");
        assert_eq!(eaa, "EAA refused the credentials: 401: invalid signature; request id r1");
        let file = "EAA refused the credentials: cannot read the EAA credentials file /srv/scim/eaa/t1.json: No such file or directory (os error 2)";
        assert_eq!(
            public_detail(file, 502, None, "r2"),
            "EAA refused the credentials: cannot read the EAA credentials file [path]: No such file or directory; request id r2"
        );
        let windows = public_detail("cannot read \"C:\\scim\\creds.json\"", 502, None, "r3");
        assert_eq!(windows, "cannot read \"[path]\"; request id r3");
        // URLs and request paths are not server files.
        let url = public_detail("EAA answered unexpectedly: 404: https://eaa.example.com/crux/v1/x", 502, None, "r4");
        assert!(url.contains("https://eaa.example.com/crux/v1/x"), "{url}");
        let busy =
            public_detail("too many concurrent changes to the group; retry after the delay", 503, Some(Duration::from_millis(1500)), "r5");
        assert_eq!(busy, "too many concurrent changes to the group; retry after the delay (Retry-After: 2 s); request id r5");
    }

    #[test]
    fn details_with_network_or_sdk_internals_are_replaced() {
        for (status, internal) in [
            (503, "dispatch failure: io error: client error (Connect): tcp connect error"),
            (503, "redb: No space left on device (os error 28)"),
            (502, "EAA unavailable: https://akab.example.net: error trying to connect: 10.0.3.7:443"),
            (429, "throttled by 192.168.1.20"),
        ] {
            let detail = public_detail(internal, status, Some(Duration::from_secs(1)), "r9");
            let lower = detail.to_ascii_lowercase();
            for leak in ["os error", "tcp", "dispatch", "10.0.3.7", "192.168", "akab", "redb"] {
                assert!(!lower.contains(leak), "{internal} -> {detail}");
            }
            assert!(detail.ends_with("(Retry-After: 1 s); request id r9"), "{detail}");
        }
        assert!(public_detail("x at 127.0.0.1:1", 503, None, "r").starts_with("the service is unavailable right now"));
        assert!(public_detail("throttled at 127.0.0.1", 429, None, "r").starts_with("the service is busy"));
    }
}
