//! The request side of the router: the path's segments, query parameters, the JSON
//! body, the bearer token, the request id, the public base URL and the path as logged.
//! Every route module reads its request through these.

use bytes::Bytes;
use http::Request;
use http::header::{AUTHORIZATION, HOST};
use http::request::Parts;
use serde_json::Value;
use serde_json::error::Category;

use crate::response::Failure;
use crate::strict_json;

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

/// The bearer token of a request; 401 without one.
pub(crate) fn bearer_token(parts: &Parts) -> Result<&str, Failure> {
    let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default().trim();
    match header.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(Failure::unauthorized()),
    }
}

/// The path as the log shows it: an enrollment link's token is a credential, so it is
/// replaced (the signed token would let anyone reading the log enroll a device).
/// The first segment is compared decoded, as the router routes it (`/%65nroll/..` is
/// served as `/enroll/..`).
pub(crate) fn logged_path(path: &str) -> &str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    let decoded = percent_decode(first).unwrap_or_default();
    if decoded.to_ascii_lowercase().starts_with("enroll") { "/enroll/{token}" } else { path }
}

/// API Gateway's request id, else a proxy's, else a fresh one (so every log line and
/// 500 answer can be correlated).
/// Only ids that are short, visible ASCII are kept (the id is echoed in `x-request-id`).
pub(crate) fn request_id<B>(request: &Request<B>) -> String {
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
pub(crate) fn segments(path: &str) -> Option<Vec<String>> {
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

/// The SCIM base URL of an integration, as the client addressed the service.
pub(crate) fn scim_base_url(parts: &Parts, integration: &str) -> String {
    format!("{}/scim/v2/{}", public_base_url(parts), percent_encoding::utf8_percent_encode(integration, SEGMENT))
}

/// Characters escaped in a path segment we build (ids are uuids; this is defence).
pub(crate) const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// URL-decoded query parameters (`+` is a space: Entra sends `filter=userName+eq+%22x%22`);
/// 400 when a name or value decodes to bytes that are not UTF-8 (rather than a lossy guess).
pub(crate) fn query_params(parts: &Parts) -> Result<Vec<(String, String)>, Failure> {
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

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().rev().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
}

/// The request body as JSON: 400 `invalidSyntax` with what is wrong, a key repeated in
/// one object included (see `strict_json`).
pub(crate) fn json_body(body: &Bytes) -> Result<Value, Failure> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(scim::ScimError::invalid_syntax("the request needs a JSON body").into());
    }
    strict_json::parse(body).map_err(|e| {
        let detail = match e.classify() {
            // The only data error the parser raises is a repeated key, which its message
            // says with what to fix.
            Category::Data => e.to_string(),
            _ => format!("the body is not valid JSON: {e}"),
        };
        scim::ScimError::invalid_syntax(detail).into()
    })
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
