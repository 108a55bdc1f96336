//! Hostile input at the router (issue 7): every case is a 4xx SCIM error body (schemas =
//! Error, `status` as a string, `scimType` where RFC 7644 defines one, a `detail` saying
//! what to fix), never a panic or a 5xx, and never another tenant's data (see
//! `isolation.rs` for that matrix). The transport cases (raw bytes on the wire, a 10 MB
//! body) run over real HTTP in `functions/local/tests/hostile.rs`.

use std::sync::Arc;

use bytes::Bytes;
use embedded_store::EmbeddedStore;
use http::{Request, Response};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim_http::{Ingress, Router};
use serde_json::{Value, json};

const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

struct Setup {
    _dir: tempfile::TempDir,
    router: Router<EmbeddedStore>,
    integration: String,
    token: String,
    admin_key: String,
    user: String,
    group: String,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let service = Arc::new(Provisioning::new(EmbeddedStore::open(dir.path().join("items.redb")).unwrap()));
        let tenant = service.create_tenant("T", None).await.unwrap();
        let created =
            service.create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", Settings::default()).await.unwrap();
        let mut s = Setup {
            _dir: dir,
            router: Router::new(service),
            integration: created.integration.id,
            token: created.token,
            admin_key: tenant.admin_key,
            user: String::new(),
            group: String::new(),
        };
        let user = s.send("POST", &s.scim("/Users"), Some(&s.token.clone()), r#"{"userName":"alice@x.test"}"#).await;
        s.user = body(&user)["id"].as_str().unwrap().to_string();
        let group = s.send("POST", &s.scim("/Groups"), Some(&s.token.clone()), r#"{"displayName":"G"}"#).await;
        s.group = body(&group)["id"].as_str().unwrap().to_string();
        s
    }

    fn scim(&self, rest: &str) -> String {
        format!("/scim/v2/{}{rest}", self.integration)
    }

    async fn send(&self, method: &str, uri: &str, token: Option<&str>, body: &str) -> Response<Bytes> {
        self.send_bytes(method, uri, token, &[], Bytes::from(body.to_string())).await
    }

    async fn send_bytes(&self, method: &str, uri: &str, token: Option<&str>, headers: &[(&str, &[u8])], body: Bytes) -> Response<Bytes> {
        let mut request = Request::builder().method(method).uri(uri);
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
            request = request.header("host", "api.example.com");
        }
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, http::HeaderValue::from_bytes(value).unwrap());
        }
        self.router.handle(request.body(body).unwrap()).await
    }

    async fn get(&self, uri: &str) -> Response<Bytes> {
        self.send("GET", uri, Some(&self.token), "").await
    }
}

fn body(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(response.body())))
}

/// A SCIM error with this status and scimType; returns the detail. `what` names the case.
#[track_caller]
fn expect_error(what: &str, response: &Response<Bytes>, status: u16, scim_type: Option<&str>) -> String {
    assert_eq!(response.status().as_u16(), status, "{what}: {:?}", String::from_utf8_lossy(response.body()));
    assert_eq!(response.headers()["content-type"], "application/scim+json", "{what}");
    let body = body(response);
    assert_eq!(body["schemas"], json!([ERROR]), "{what}: {body}");
    assert_eq!(body["status"], status.to_string(), "{what}: {body}");
    assert_eq!(body["scimType"].as_str(), scim_type, "{what}: {body}");
    let detail = body["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.len() > 10, "{what}: the detail must say what to fix: {body}");
    detail
}

/// No header value carries a CR or LF (the `http` crate forbids them; this is the guard
/// should a value ever be built another way).
#[track_caller]
fn assert_clean_headers(what: &str, response: &Response<Bytes>) {
    for (name, value) in response.headers() {
        assert!(!value.as_bytes().iter().any(|b| matches!(b, b'\r' | b'\n' | 0)), "{what}: header {name} = {value:?}");
    }
}

#[tokio::test]
async fn invalid_utf8_in_path_query_and_body() {
    let s = Setup::new().await;
    // Percent-encoded bytes that are not UTF-8 in a path segment: no such endpoint or id.
    for path in [s.scim("/Users/%FF"), s.scim("/Users/%C0%AE%C0%AE"), s.scim("/%FF"), "/admin/v1/users/%FE%FF".into()] {
        let token = if path.starts_with("/admin") { &s.admin_key } else { &s.token };
        let response = s.send("GET", &path, Some(token), "").await;
        let detail = expect_error(&path, &response, 404, None);
        assert!(detail.contains("no endpoint"), "{detail}");
    }
    // The same in the query string: 400, not a lossy guess at what was meant.
    for query in ["filter=userName+eq+%22%FF%22", "attributes=%FFuserName", "count=%FF", "%FF=1"] {
        let response = s.get(&s.scim(&format!("/Users?{query}"))).await;
        let detail = expect_error(query, &response, 400, Some("invalidSyntax"));
        assert!(detail.contains("UTF-8"), "{detail}");
    }
    // On a write the query is checked first: no user is created behind a 400.
    let response = s.send("POST", &s.scim("/Users?attributes=%FF"), Some(&s.token), r#"{"userName":"utf8@x.test"}"#).await;
    expect_error("write with a bad query", &response, 400, Some("invalidSyntax"));
    let found = s.get(&s.scim("/Users?filter=userName+eq+%22utf8@x.test%22")).await;
    assert_eq!(body(&found)["totalResults"], 0, "the write happened before the query was refused");
    let response = s.send("GET", "/admin/v1/users?cursor=%FF", Some(&s.admin_key), "").await;
    expect_error("admin cursor", &response, 400, Some("invalidSyntax"));
    // And in bodies, on every route that reads one.
    let bad = Bytes::from_static(b"{\"userName\":\"\xff\xfe\"}");
    for (method, path, token) in [
        ("POST", s.scim("/Users"), &s.token),
        ("PUT", s.scim(&format!("/Users/{}", s.user)), &s.token),
        ("PATCH", s.scim(&format!("/Groups/{}", s.group)), &s.token),
        ("POST", s.scim("/Users/.search"), &s.token),
        ("POST", s.scim("/.search"), &s.token),
        ("POST", "/admin/v1/users".into(), &s.admin_key),
        ("POST", "/admin/v1/integrations".into(), &s.admin_key),
    ] {
        let response = s.send_bytes(method, &path, Some(token), &[], bad.clone()).await;
        let detail = expect_error(&format!("{method} {path}"), &response, 400, Some("invalidSyntax"));
        assert!(detail.contains("JSON"), "{detail}");
    }
}

#[tokio::test]
async fn deeply_nested_filters_and_json_bodies_are_400() {
    let s = Setup::new().await;
    // A URI stops at 64 KB (the `http` crate; hyper answers 414 beyond): 30,000 levels fit
    // in the query (parentheses need no encoding), 100,000 go in a search body.
    let in_query = format!("{}userName+eq+%22a%22{}", "(".repeat(30_000), ")".repeat(30_000));
    let response = s.get(&s.scim(&format!("/Users?filter={in_query}"))).await;
    let detail = expect_error("nested filter in the query", &response, 400, Some("invalidFilter"));
    assert!(detail.contains("nested"), "{detail}");
    let deep = format!("{}userName eq \"a\"{}", "(".repeat(100_000), ")".repeat(100_000));
    let search = json!({"filter": deep}).to_string();
    let response = s.send("POST", &s.scim("/Users/.search"), Some(&s.token), &search).await;
    expect_error("nested filter in a search", &response, 400, Some("invalidFilter"));
    let response = s.send("POST", &s.scim("/.search"), Some(&s.token), &search).await;
    expect_error("nested filter in a base search", &response, 400, Some("invalidFilter"));
    let nots = format!("{}userName+eq+%22a%22", "not+(".repeat(10_000));
    let response = s.get(&s.scim(&format!("/Users?filter={nots}"))).await;
    expect_error("nested not", &response, 400, Some("invalidFilter"));
    // A PATCH path with a deep filter.
    let op = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"remove","path": format!("members[{}value eq \"x\"{}]", "(".repeat(10_000), ")".repeat(10_000))}]});
    let response = s.send("PATCH", &s.scim(&format!("/Groups/{}", s.group)), Some(&s.token), &op.to_string()).await;
    assert_eq!(response.status(), 400, "{:?}", body(&response));

    // serde_json stops at 128 levels: a 400, not a stack overflow, on every body route.
    for deep in ["[".repeat(100_000), "{\"a\":".repeat(100_000), format!("{{\"userName\":\"a\",\"x\":{}", "[".repeat(100_000))] {
        for (method, path, token) in [
            ("POST", s.scim("/Users"), &s.token),
            ("PATCH", s.scim(&format!("/Users/{}", s.user)), &s.token),
            ("POST", s.scim("/.search"), &s.token),
            ("POST", "/admin/v1/users".into(), &s.admin_key),
            ("POST", "/admin/v1/email-enrollments".into(), &s.admin_key),
        ] {
            let response = s.send(method, &path, Some(token), &deep).await;
            let detail = expect_error(&format!("deep JSON {method} {path}"), &response, 400, Some("invalidSyntax"));
            assert!(detail.contains("recursion limit"), "{detail}");
        }
    }
    // Just under serde_json's limit the body parses: the domain must cope with the depth.
    let nested = format!("{}1{}", "[".repeat(120), "]".repeat(120));
    let user = format!(r#"{{"userName":"deep@x.test","nickName":{nested},"urn:x:custom":{nested}}}"#);
    let response = s.send("POST", &s.scim("/Users"), Some(&s.token), &user).await;
    assert!(response.status().is_client_error(), "{:?}", body(&response));
    let patch = json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"add","value": serde_json::from_str::<Value>(&format!(r#"{{"nickName":{nested}}}"#)).unwrap()}]});
    let response = s.send("PATCH", &s.scim(&format!("/Users/{}", s.user)), Some(&s.token), &patch.to_string()).await;
    assert!(response.status().is_client_error(), "{:?}", body(&response));
}

/// Form encoding as a client sends a filter.
fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn filters_with_thousands_of_terms_are_400() {
    let s = Setup::new().await;
    for joiner in [" or ", " and "] {
        // 1,500 terms fit in a URI (64 KB at most), 10,000 in a search body.
        let terms: Vec<String> = (0..1_500).map(|i| format!("userName eq \"u{i}\"")).collect();
        let filter = terms.join(joiner);
        let response = s.get(&s.scim(&format!("/Users?filter={}", form_encode(&filter)))).await;
        let detail = expect_error(joiner, &response, 400, Some("invalidFilter"));
        assert!(detail.contains("1000"), "{detail}");
        let terms: Vec<String> = (0..10_000).map(|i| format!("userName eq \"u{i}@x.test\"")).collect();
        let search = json!({"filter": terms.join(joiner)}).to_string();
        let response = s.send("POST", &s.scim("/Users/.search"), Some(&s.token), &search).await;
        expect_error(joiner, &response, 400, Some("invalidFilter"));
    }
    // Within the limit it is answered (and finds alice).
    let terms: Vec<String> = (0..999).map(|i| format!("userName eq \"u{i}\"")).chain(["userName eq \"alice@x.test\"".into()]).collect();
    let response = s.get(&s.scim(&format!("/Users?filter={}", form_encode(&terms.join(" or "))))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(body(&response)["totalResults"], 1);
}

#[tokio::test]
async fn paging_parameters_out_of_range() {
    let s = Setup::new().await;
    // Huge counts are capped (RFC 7644 3.4.2.4), negative ones mean 0; startIndex below 1
    // means 1.
    for (query, items, start) in [
        ("count=1000000000000", 1, 1),
        ("count=9223372036854775807", 1, 1),
        ("count=99999999999999999999999", 1, 1),
        ("count=-1", 0, 1),
        ("count=-9223372036854775808", 0, 1),
        ("count=0", 0, 1),
        ("startIndex=0", 1, 1),
        ("startIndex=-5", 1, 1),
        ("startIndex=-99999999999999999999", 1, 1),
        ("startIndex=9223372036854775807", 0, 9223372036854775807u64),
        ("startIndex=9223372036854775807&count=9223372036854775807", 0, 9223372036854775807),
    ] {
        let response = s.get(&s.scim(&format!("/Users?{query}"))).await;
        assert_eq!(response.status(), 200, "{query}: {:?}", body(&response));
        let page = body(&response);
        assert_eq!(page["itemsPerPage"], items, "{query}: {page}");
        assert_eq!(page["startIndex"], start, "{query}: {page}");
    }
    for (query, name) in [("count=abc", "count"), ("count=1e3", "count"), ("startIndex=abc", "startIndex"), ("count=", "count")] {
        let response = s.get(&s.scim(&format!("/Users?{query}"))).await;
        let detail = expect_error(query, &response, 400, Some("invalidValue"));
        assert!(detail.contains(name), "{detail}");
    }
    let response = s.send("POST", &s.scim("/.search"), Some(&s.token), r#"{"startIndex":9223372036854775807,"count":1e300}"#).await;
    assert!(response.status() == 200 || response.status() == 400, "{:?}", body(&response));
    if response.status() == 400 {
        expect_error("search with a float count", &response, 400, Some("invalidValue"));
    }
    let response = s.send("POST", &s.scim("/.search"), Some(&s.token), r#"{"startIndex":9223372036854775807,"count":100}"#).await;
    assert_eq!(response.status(), 200, "{:?}", body(&response));
    // The admin listings' limit.
    for query in ["limit=abc", "limit=-1", "limit=99999999999999999999", "limit=0", "limit=201", "limit=1000000"] {
        for listing in ["users", "log"] {
            let response = s.send("GET", &format!("/admin/v1/{listing}?{query}"), Some(&s.admin_key), "").await;
            expect_error(query, &response, 400, Some("invalidValue"));
            assert!(body(&response)["detail"].as_str().is_some_and(|d| d.contains("from 1 to 200")), "{listing}?{query}");
        }
    }
    for query in ["limit=1", "limit=200"] {
        let response = s.send("GET", &format!("/admin/v1/log?{query}"), Some(&s.admin_key), "").await;
        assert_eq!(response.status(), 200, "{query}");
    }
    // Cursors that are not ours.
    for cursor in ["abc", "%00", &"A".repeat(5000)] {
        let response = s.get(&s.scim(&format!("/Users?cursor={cursor}"))).await;
        assert_eq!(response.status(), 400, "{cursor}");
        let response = s.send("GET", &format!("/admin/v1/users?cursor={cursor}"), Some(&s.admin_key), "").await;
        assert_eq!(response.status(), 400, "admin {cursor}");
        assert_eq!(body(&response)["status"], "400");
    }
}

#[tokio::test]
async fn path_traversal_and_odd_ids_are_404() {
    let s = Setup::new().await;
    // A URI stops at 64 KB (the `http` crate; hyper answers 414 beyond, see the HTTP
    // tests): 60 KB ids here.
    let long = "a".repeat(60_000);
    let long_encoded = "%41".repeat(20_000);
    for id in ["..%2F..%2Fadmin", "%2e%2e", "..", "%2E", "a%2Fb", "%00", "a%00b", "%0D%0ALocation:%20x", &long, &long_encoded, "*", "%25"] {
        for method in ["GET", "PUT", "PATCH", "DELETE"] {
            for resource in ["/Users/", "/Groups/"] {
                let path = s.scim(&format!("{resource}{id}"));
                let body = match method {
                    "PUT" => r#"{"userName":"x@x.test","displayName":"x"}"#,
                    "PATCH" => {
                        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"x"}]}"#
                    }
                    _ => "",
                };
                let response = s.send(method, &path, Some(&s.token), body).await;
                let what = format!("{method} {resource}{}", &id[..id.len().min(40)]);
                expect_error(&what, &response, 404, None);
                assert_clean_headers(&what, &response);
                // The id is not echoed whole (a 100 KB detail helps nobody).
                assert!(response.body().len() < 2_000, "{what}: {} bytes", response.body().len());
            }
        }
        for path in [format!("/admin/v1/users/{id}"), format!("/admin/v1/users/{id}/devices"), format!("/admin/v1/integrations/{id}")] {
            let response = s.send("GET", &path, Some(&s.admin_key), "").await;
            let what = format!("GET {}", &path[..path.len().min(60)]);
            expect_error(&what, &response, 404, None);
            assert!(response.body().len() < 2_000, "{what}: {} bytes", response.body().len());
        }
    }
    // A traversal in the middle of a path is no route (segments are decoded, never
    // resolved): `/scim/v2/{i}/Users/..%2F..%2F..%2Fadmin%2Fv1%2Fintegrations`.
    let response = s.get(&s.scim("/Users/..%2F..%2F..%2Fadmin%2Fv1%2Fintegrations")).await;
    expect_error("traversal to admin", &response, 404, None);
    let response = s.send("GET", "/scim/v2/..%2F..%2Fadmin%2Fv1/integrations", Some(&s.admin_key), "").await;
    expect_error("traversal from scim to admin", &response, 401, None);
    // The real user is still there.
    assert_eq!(s.get(&s.scim(&format!("/Users/{}", s.user))).await.status(), 200);
}

#[tokio::test]
async fn echoed_header_values_carry_no_raw_input() {
    let s = Setup::new().await;
    // A request id with CR/LF from the gateway: not echoed raw (a fresh id instead).
    let mut request = Request::builder().uri(s.scim("/Users")).header("authorization", format!("Bearer {}", s.token));
    request = request.extension(Ingress { request_id: Some("id\r\nSet-Cookie: a=b".into()), ..Ingress::default() });
    let response = s.router.handle(request.body(Bytes::new()).unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_clean_headers("gateway request id", &response);
    assert!(response.headers().get("x-request-id").is_some_and(|v| !v.as_bytes().contains(&b'\n')));
    assert!(response.headers().get("set-cookie").is_none());

    // Header values a client can send (no CR/LF: the http crate and hyper refuse them) but
    // that must not be echoed as they are: control characters, long ids, odd hosts.
    for (name, value) in [
        ("x-request-id", b"a\tb".as_slice()),
        ("x-request-id", "é".as_bytes()),
        ("x-request-id", &[b'x'; 4096]),
        ("if-match", b"W/\"1\"\t<script>"),
        ("host", b"evil.test/%0d%0aSet-Cookie:a=b?"),
        ("host", b"a b"),
        ("x-forwarded-proto", b"javascript"),
    ] {
        let response =
            s.send_bytes("POST", &s.scim("/Users"), Some(&s.token), &[(name, value)], Bytes::from_static(b"{\"userName\":\"h\"}")).await;
        let what = format!("{name}: {:?}", String::from_utf8_lossy(&value[..value.len().min(30)]));
        assert!(response.status().as_u16() < 500, "{what}");
        assert_clean_headers(&what, &response);
        if name == "x-request-id" {
            assert_ne!(response.headers()["x-request-id"].as_bytes(), value, "{what}");
        }
        if let Some(location) = response.headers().get("location") {
            let location = location.to_str().unwrap();
            assert!(location.parse::<http::Uri>().is_ok_and(|uri| uri.scheme().is_some()), "{what}: Location {location:?}");
            assert!(!location.contains(' ') && !location.contains("evil.test/"), "{what}: Location {location:?}");
            assert!(location.starts_with("http://") || location.starts_with("https://"), "{what}: Location {location:?}");
        }
        if response.status() == 201 {
            let id = body(&response)["id"].as_str().unwrap().to_string();
            assert_eq!(s.send("DELETE", &s.scim(&format!("/Users/{id}")), Some(&s.token), "").await.status(), 204);
        }
    }
    // If-Match with garbage is a precondition failure, never echoed; `*` matches.
    let group = format!("/Groups/{}", s.group);
    for (value, status, scim_type) in [
        (b"\"nope\"".as_slice(), 412, None),
        (b"W/\"999\"", 412, None),
        (b"\"7\", \"8\"", 412, None),
        (b"W/", 400, Some("invalidValue")),
        (b"abc", 400, Some("invalidValue")),
        (b"\"1", 400, Some("invalidValue")),
    ] {
        let response = s.send_bytes("DELETE", &s.scim(&group), Some(&s.token), &[("if-match", value)], Bytes::new()).await;
        let what = format!("If-Match {:?}", String::from_utf8_lossy(value));
        expect_error(&what, &response, status, scim_type);
        assert_clean_headers(&what, &response);
    }
    let response = s.send_bytes("DELETE", &s.scim(&group), Some(&s.token), &[("if-match", b"*")], Bytes::new()).await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn content_types_and_empty_bodies() {
    let s = Setup::new().await;
    let user = Bytes::from_static(br#"{"userName":"ct@x.test"}"#);
    // Not JSON, whatever the content type says: 400 invalidSyntax naming the problem.
    for content_type in ["application/scim+json", "application/json", "text/plain", "application/x-www-form-urlencoded", "application/xml"]
    {
        let response = s
            .send_bytes(
                "POST",
                &s.scim("/Users"),
                Some(&s.token),
                &[("content-type", content_type.as_bytes())],
                Bytes::from_static(b"userName=x"),
            )
            .await;
        expect_error(content_type, &response, 400, Some("invalidSyntax"));
    }
    // JSON under another (or no) content type is read as JSON: clients (and curl -d)
    // label bodies loosely, and the body, not the label, is what the service reads.
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/scim+json; charset=utf-8")]
    {
        let headers: Vec<(&str, &[u8])> = content_type.iter().map(|c| ("content-type", c.as_bytes())).collect();
        let response = s.send_bytes("POST", &s.scim("/Users"), Some(&s.token), &headers, user.clone()).await;
        assert_eq!(response.status(), 201, "{content_type:?}");
        let id = body(&response)["id"].as_str().unwrap().to_string();
        assert_eq!(s.send("DELETE", &s.scim(&format!("/Users/{id}")), Some(&s.token), "").await.status(), 204);
    }
    // Empty or whitespace bodies where one is needed.
    for body in ["", "   \r\n", "null", "[]", "\"x\"", "1"] {
        for (method, path) in [("POST", s.scim("/Users")), ("PUT", s.scim(&format!("/Users/{}", s.user))), ("POST", s.scim("/.search"))] {
            let response = s.send(method, &path, Some(&s.token), body).await;
            let what = format!("{method} {path} {body:?}");
            assert_eq!(response.status(), 400, "{what}: {:?}", String::from_utf8_lossy(response.body()));
            let scim_type = serde_json::from_slice::<Value>(response.body()).unwrap()["scimType"].clone();
            assert!(scim_type == "invalidSyntax" || scim_type == "invalidValue", "{what}: {scim_type}");
        }
    }
}

#[tokio::test]
async fn unsupported_methods_are_405_with_allow() {
    let s = Setup::new().await;
    let user = format!("/Users/{}", s.user);
    for (method, path, allow) in [
        ("DELETE", s.scim("/Users"), "GET, POST"),
        ("PUT", s.scim("/Groups"), "GET, POST"),
        ("POST", s.scim(&user), "GET, PUT, PATCH, DELETE"),
        ("HEAD", s.scim(&user), "GET, PUT, PATCH, DELETE"),
        ("OPTIONS", s.scim("/Users"), "GET, POST"),
        ("TRACE", s.scim("/Users"), "GET, POST"),
        ("GET", s.scim("/.search"), "POST"),
        ("GET", s.scim("/Users/.search"), "POST"),
        ("POST", s.scim("/ServiceProviderConfig"), "GET"),
        ("DELETE", s.scim("/Schemas"), "GET"),
        ("PATCH", s.scim("/ResourceTypes/User"), "GET"),
        ("FOO", s.scim("/Users"), "GET, POST"),
    ] {
        let response = s.send(method, &path, Some(&s.token), "").await;
        expect_error(&format!("{method} {path}"), &response, 405, None);
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
    for (method, path, allow) in [
        ("PUT", "/admin/v1/integrations", "GET, POST"),
        ("POST", "/admin/v1/log", "GET"),
        ("GET", "/admin/v1/email-enrollments", "POST"),
        ("PUT", "/admin/v1/users", "GET, POST"),
    ] {
        let response = s.send(method, path, Some(&s.admin_key), "").await;
        expect_error(&format!("{method} {path}"), &response, 405, None);
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
}

/// Tokens are looked up by their SHA-256 hash (`Provisioning::authenticate`: one get of
/// `SECRET#{sha256 hex}`, then a constant-time compare of the stored hash): a token that
/// differs from a real one by one byte hashes to an unrelated key, so the lookup misses
/// exactly as for a random token, and no comparison ever runs over the plaintext. Hence no
/// timing signal to measure; this test asserts the observable half: the same 401 body.
#[tokio::test]
async fn near_miss_tokens_other_schemes_and_empty_tokens_are_401() {
    let s = Setup::new().await;
    let users = s.scim("/Users");
    let reference = s.send("GET", &users, Some("scim_unknown"), "").await;
    let reference_body = body(&reference);
    expect_error("unknown token", &reference, 401, None);
    // The admin API names the credential it wants (an admin key): one answer there too.
    let admin_reference = body(&s.send("GET", "/admin/v1/integrations", Some("adm_unknown"), "").await);
    for secret in [&s.token, &s.admin_key] {
        let bytes = secret.as_bytes();
        for at in [0, 4, 5, bytes.len() / 2, bytes.len() - 1] {
            let mut near = bytes.to_vec();
            near[at] = if near[at] == b'a' { b'b' } else { b'a' };
            let near = String::from_utf8(near).unwrap();
            for path in [users.clone(), "/admin/v1/integrations".to_string()] {
                let response = s.send("GET", &path, Some(&near), "").await;
                expect_error(&format!("one byte off at {at} on {path}"), &response, 401, None);
                let expected = if path.starts_with("/admin") { &admin_reference } else { &reference_body };
                assert_eq!(&body(&response), expected, "the same answer as for any unknown token");
                assert_eq!(response.headers()["www-authenticate"], "Bearer");
            }
        }
        // Longer or shorter by one byte.
        for near in [format!("{secret}a"), secret[..secret.len() - 1].to_string(), secret.to_uppercase()] {
            let response = s.send("GET", &users, Some(&near), "").await;
            expect_error("length off by one", &response, 401, None);
        }
    }
    let token = &s.token;
    for header in [
        format!("Basic {token}"),
        format!("Token {token}"),
        format!("Bearer{token}"),
        format!("Bearer: {token}"),
        format!("Digest {token}"),
        token.to_string(),
        format!("{token} Bearer"),
        "Bearer".into(),
        "Bearer ".into(),
        "Bearer    ".into(),
        "".into(),
        format!("Bearer {token} {token}"),
        format!("Bearer {token},Bearer {token}"),
        format!("Bearer \"{token}\""),
    ] {
        let response = s.send_bytes("GET", &users, None, &[("authorization", header.as_bytes())], Bytes::new()).await;
        expect_error(&format!("Authorization: {header:?}"), &response, 401, None);
    }
    // Non-ASCII bytes in the header.
    let response = s.send_bytes("GET", &users, None, &[("authorization", b"Bearer \xff\xfe")], Bytes::new()).await;
    expect_error("non-UTF-8 token", &response, 401, None);
    // Two Authorization headers, one of them right: refused rather than guessed.
    let request = Request::builder()
        .uri(&users)
        .header("authorization", "Bearer wrong")
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::new())
        .unwrap();
    let response = s.router.handle(request).await;
    expect_error("two Authorization headers", &response, 401, None);
    // The scheme is case-insensitive (RFC 7235) and surrounding whitespace is tolerated.
    for header in [format!("bearer {token}"), format!("BEARER {token}"), format!("  Bearer  {token}  ")] {
        let response = s.send_bytes("GET", &users, None, &[("authorization", header.as_bytes())], Bytes::new()).await;
        assert_eq!(response.status(), 200, "{header:?}");
    }
}

/// Values that would make an item larger than the store takes (400 KB) or a key longer
/// than it takes: a 4xx naming the limit, never the store's refusal as a 500.
#[tokio::test]
async fn oversized_values_are_4xx_not_store_failures() {
    let s = Setup::new().await;
    let big = "x".repeat(900_000);
    let long_id = "u".repeat(5_000);
    let mut failures = Vec::new();
    for (method, path, token, body) in [
        ("POST", "/admin/v1/integrations".to_string(), &s.admin_key, json!({"name": big})),
        ("POST", "/admin/v1/integrations".to_string(), &s.admin_key, json!({"name": "EAA", "kind": "EAA"})),
        ("PUT", "/admin/v1/eaa".to_string(), &s.admin_key, json!({"credentialsRef": big})),
        ("POST", "/admin/v1/email-enrollments".to_string(), &s.admin_key, json!({"userIds": [long_id, big]})),
        ("POST", "/admin/v1/users".to_string(), &s.admin_key, json!({"userName": big})),
        ("POST", "/admin/v1/users".to_string(), &s.admin_key, json!({"userName": "big@x.test", "displayName": big})),
        ("POST", s.scim("/Users"), &s.token, json!({"userName": "big2@x.test", "displayName": big})),
        ("POST", s.scim("/Users"), &s.token, json!({"userName": "big3@x.test", "externalId": long_id})),
        ("POST", s.scim("/Groups"), &s.token, json!({"displayName": big})),
        ("POST", s.scim("/Groups"), &s.token, json!({"displayName": "big", "members": [{"value": long_id}]})),
        ("PUT", s.scim(&format!("/Users/{}", s.user)), &s.token, json!({"userName": "alice@x.test", "nickName": big})),
        (
            "PATCH",
            s.scim(&format!("/Groups/{}", s.group)),
            &s.token,
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value": long_id}]}]}),
        ),
        // Invalid values whose error quotes them (the answer's detail is cut; the log's
        // entry must not outgrow its item either).
        ("POST", s.scim("/Users"), &s.token, json!({"userName": "big4@x.test", "active": big})),
        ("POST", s.scim("/Users"), &s.token, json!({"userName": "big5@x.test", "schemas": [big]})),
        ("POST", s.scim("/Users"), &s.token, json!({"userName": "big6@x.test", "emails": [{"value": "a@x.test", "type": big}]})),
        ("POST", s.scim("/Users"), &s.token, json!({"userName": "big7@x.test", big.clone(): 1})),
        (
            "PATCH",
            s.scim(&format!("/Users/{}", s.user)),
            &s.token,
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op": big, "path": "active", "value": true}]}),
        ),
        (
            "PATCH",
            s.scim(&format!("/Users/{}", s.user)),
            &s.token,
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op": "replace", "path": big, "value": true}]}),
        ),
        (
            "PATCH",
            s.scim(&format!("/Users/{}", s.user)),
            &s.token,
            json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op": "replace", "path": "active", "value": big}]}),
        ),
        ("PUT", s.scim(&format!("/Users/{}", s.user)), &s.token, json!({"userName": big})),
        ("POST", s.scim("/Users/.search"), &s.token, json!({"filter": format!("userName eq \"{big}\"")})),
        ("GET", s.scim(&format!("/Users?filter=userName+eq+%22{}%22", "y".repeat(60_000))), &s.token, json!(null)),
        ("POST", s.scim("/Users/.search"), &s.token, json!({"filter": format!("externalId eq \"{long_id}\"")})),
        ("POST", s.scim("/Groups/.search"), &s.token, json!({"filter": format!("members.value eq \"{long_id}\"")})),
    ] {
        let text = if body.is_null() { String::new() } else { body.to_string() };
        let response = s.send(method, &path, Some(token), &text).await;
        let what = format!("{method} {} {}", &path[..80.min(path.len())], &text[..60.min(text.len())]);
        let status = response.status().as_u16();
        if status >= 500 {
            failures.push(format!("{what}: {status} {:?}", String::from_utf8_lossy(response.body())));
        }
        if status >= 400 {
            let body = self::body(&response);
            assert_eq!(body["schemas"], json!([ERROR]), "{what}");
            assert!(body["detail"].as_str().is_some_and(|d| d.len() > 10), "{what}: {body}");
        }
        assert!(response.body().len() < 10_000 || status < 300, "{what}: {} bytes", response.body().len());
    }
    // The log took every one of them (its entries quote no unbounded input).
    let log = s.send("GET", "/admin/v1/log?limit=200", Some(&s.admin_key), "").await;
    assert_eq!(log.status(), 200);
    assert!(log.body().len() < 1_000_000, "the log holds {} bytes", log.body().len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// Issue 12 item 5: names are normalised and bodies checked.

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn patch_body(operations: Value) -> String {
    json!({"schemas": [PATCH_OP], "Operations": operations}).to_string()
}

/// `userName` and a group's `displayName` are stored trimmed and NFC and compared without
/// regard to case, on every write and in every lookup by name.
#[tokio::test]
async fn unique_names_are_one_spelling_however_they_are_sent() {
    let s = Setup::new().await;
    // alice@x.test exists: every other spelling of it is the same name.
    for spelling in [" alice@x.test", "alice@x.test ", "ALICE@x.test", "\u{3000}Alice@X.test\u{a0}"] {
        let response = s.send("POST", &s.scim("/Users"), Some(&s.token), &json!({"userName": spelling}).to_string()).await;
        expect_error(&format!("{spelling:?}"), &response, 409, Some("uniqueness"));
    }
    for spelling in [" G", "g ", "\u{2003}G"] {
        let response = s.send("POST", &s.scim("/Groups"), Some(&s.token), &json!({"displayName": spelling}).to_string()).await;
        expect_error(&format!("{spelling:?}"), &response, 409, Some("uniqueness"));
    }
    // A decomposed accent is stored composed, and the composed spelling collides with it.
    let response = s.send("POST", &s.scim("/Users"), Some(&s.token), &json!({"userName": " Jose\u{301}@x.test "}).to_string()).await;
    assert_eq!(response.status(), 201, "{:?}", body(&response));
    assert_eq!(body(&response)["userName"], "Jos\u{e9}@x.test");
    let response = s.send("POST", &s.scim("/Users"), Some(&s.token), &json!({"userName": "jos\u{e9}@x.test"}).to_string()).await;
    expect_error("composed spelling", &response, 409, Some("uniqueness"));

    // Lookups by name find the stored spelling: Entra's match query, a search, a group.
    for filter in ["userName eq \" Alice@X.test \"", "userName eq \"alice@x.test\u{3000}\""] {
        let found = body(&s.get(&s.scim(&format!("/Users?filter={}", form_encode(filter)))).await);
        assert_eq!((&found["totalResults"], &found["Resources"][0]["id"]), (&json!(1), &json!(s.user)), "{filter}");
    }
    let search = json!({"filter": "userName eq \"JOSE\u{301}@x.test \""}).to_string();
    let found = body(&s.send("POST", &s.scim("/Users/.search"), Some(&s.token), &search).await);
    assert_eq!(found["totalResults"], 1, "{found}");
    let found = body(&s.get(&s.scim(&format!("/Groups?filter={}", form_encode("displayName eq \" g \"")))).await);
    assert_eq!(found["Resources"][0]["id"], s.group, "{found}");

    // Replace and both PATCH forms store the name normalised, and its old spelling is free.
    let user = format!("/Users/{}", s.user);
    let replaced = s.send("PUT", &s.scim(&user), Some(&s.token), &json!({"userName": "  bob@x.test "}).to_string()).await;
    assert_eq!(body(&replaced)["userName"], "bob@x.test");
    let pathless = patch_body(json!([{"op": "Replace", "value": {"userName": " carol@x.test\u{a0}"}}]));
    assert_eq!(body(&s.send("PATCH", &s.scim(&user), Some(&s.token), &pathless).await)["userName"], "carol@x.test");
    let with_path = patch_body(json!([{"op": "replace", "path": "userName", "value": "Dave@x.test "}]));
    assert_eq!(body(&s.send("PATCH", &s.scim(&user), Some(&s.token), &with_path).await)["userName"], "Dave@x.test");
    let response = s.send("POST", &s.scim("/Users"), Some(&s.token), &json!({"userName": " dave@X.TEST"}).to_string()).await;
    expect_error("renamed user's name", &response, 409, Some("uniqueness"));
    let response = s.send("POST", &s.scim("/Users"), Some(&s.token), &json!({"userName": "alice@x.test"}).to_string()).await;
    assert_eq!(response.status(), 201, "the old name is free again: {:?}", body(&response));
    let group = patch_body(json!([{"op": "replace", "path": "displayName", "value": " Sales "}]));
    let renamed = s.send("PATCH", &s.scim(&format!("/Groups/{}?excludedAttributes=members", s.group)), Some(&s.token), &group).await;
    assert_eq!(body(&renamed)["displayName"], "Sales");
    // A name that is only blanks is a missing name.
    let response = s.send("POST", &s.scim("/Users"), Some(&s.token), &json!({"userName": " \u{3000} "}).to_string()).await;
    let detail = expect_error("blank name", &response, 400, Some("invalidValue"));
    assert!(detail.contains("userName is required"), "{detail}");
}

#[tokio::test]
async fn invisible_and_control_characters_in_names_are_400() {
    let s = Setup::new().await;
    let user = s.scim(&format!("/Users/{}", s.user));
    let group = s.scim(&format!("/Groups/{}", s.group));
    for (character, code_point) in [("\u{200b}", "U+200B"), ("\r", "U+000D"), ("\n", "U+000A"), ("\t", "U+0009"), ("\0", "U+0000")] {
        let name = format!("eve{character}@x.test");
        for (method, path, request, attribute) in [
            ("POST", s.scim("/Users"), json!({"userName": name}).to_string(), "userName"),
            ("PUT", user.clone(), json!({"userName": name}).to_string(), "userName"),
            ("PATCH", user.clone(), patch_body(json!([{"op": "replace", "path": "userName", "value": name}])), "userName"),
            ("PATCH", user.clone(), patch_body(json!([{"op": "Replace", "value": {"userName": name}}])), "userName"),
            ("POST", s.scim("/Groups"), json!({"displayName": name}).to_string(), "displayName"),
            ("PATCH", group.clone(), patch_body(json!([{"op": "replace", "value": {"displayName": name}}])), "displayName"),
            ("POST", "/admin/v1/users".into(), json!({"userName": name}).to_string(), "userName"),
        ] {
            let token = if path.starts_with("/admin") { &s.admin_key } else { &s.token };
            let response = s.send(method, &path, Some(token), &request).await;
            let detail = expect_error(&format!("{method} {path} {code_point}"), &response, 400, Some("invalidValue"));
            assert!(detail.contains(&format!("{attribute} contains {code_point} at character 4")), "{detail}");
            assert!(detail.contains("remove it"), "{detail}");
        }
    }
    // Nothing was written.
    assert_eq!(body(&s.get(&user).await)["userName"], "alice@x.test");
    assert_eq!(body(&s.get(&s.scim("/Users?filter=userName+sw+%22eve%22")).await)["totalResults"], 0);
    assert_eq!(body(&s.get(&s.scim("/Groups")).await)["totalResults"], 1);
}

#[tokio::test]
async fn bodies_that_say_they_are_something_else_are_400() {
    let s = Setup::new().await;
    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    let user_body = json!({"schemas": [USER], "userName": "mallory@x.test", "displayName": "Mallory"}).to_string();
    for (method, path, request, expected) in [
        ("POST", s.scim("/Groups"), user_body.clone(), GROUP),
        ("PUT", s.scim(&format!("/Groups/{}", s.group)), user_body.clone(), GROUP),
        ("POST", s.scim("/Users"), json!({"schemas": [GROUP], "userName": "g@x.test", "displayName": "G2"}).to_string(), USER),
        ("POST", s.scim("/Users"), json!({"schemas": ["urn:evil"], "userName": "evil@x.test"}).to_string(), USER),
        ("PUT", s.scim(&format!("/Users/{}", s.user)), json!({"schemas": [], "userName": "alice@x.test"}).to_string(), USER),
        (
            "PATCH",
            s.scim(&format!("/Users/{}", s.user)),
            json!({"schemas": [USER], "Operations": [{"op": "add", "path": "nickName", "value": "x"}]}).to_string(),
            PATCH_OP,
        ),
        (
            "POST",
            s.scim("/Users/.search"),
            json!({"schemas": [PATCH_OP], "filter": "userName eq \"alice@x.test\""}).to_string(),
            "urn:ietf:params:scim:api:messages:2.0:SearchRequest",
        ),
        ("POST", s.scim("/.search"), json!({"schemas": ["urn:evil"]}).to_string(), "urn:ietf:params:scim:api:messages:2.0:SearchRequest"),
    ] {
        let response = s.send(method, &path, Some(&s.token), &request).await;
        let detail = expect_error(&format!("{method} {path} {request}"), &response, 400, Some("invalidValue"));
        assert!(detail.contains(&format!("must list \"{expected}\"")), "{detail}");
    }
    // Nothing was written: one group, alice unchanged.
    let groups = body(&s.get(&s.scim("/Groups")).await);
    assert_eq!((&groups["totalResults"], &groups["Resources"][0]["displayName"]), (&json!(1), &json!("G")));
    assert!(body(&s.get(&s.scim(&format!("/Users/{}", s.user))).await).get("nickName").is_none());
    // Extra URNs next to the right core schema are dropped, and no schemas at all is fine.
    let response = s
        .send("POST", &s.scim("/Users"), Some(&s.token), &json!({"schemas": [USER, "urn:bogus"], "userName": "ok@x.test"}).to_string())
        .await;
    assert_eq!(body(&response)["schemas"], json!([USER]));
    let response = s.send("POST", &s.scim("/Groups"), Some(&s.token), &json!({"displayName": "No schemas"}).to_string()).await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn a_key_repeated_in_one_object_is_400_naming_it() {
    let s = Setup::new().await;
    let user = s.scim(&format!("/Users/{}", s.user));
    for (method, path, request, named) in [
        ("POST", s.scim("/Users"), r#"{"userName":"a@x.test","userName":"b@x.test"}"#, "the key \"userName\" twice"),
        ("POST", s.scim("/Users"), r#"{"userName":"a@x.test","USERNAME":"b@x.test"}"#, "the keys \"userName\" and \"USERNAME\""),
        ("PUT", user.clone(), r#"{"userName":"a@x.test","name":{"givenName":"A","givenName":"B"}}"#, "the key \"givenName\" twice"),
        (
            "PATCH",
            user.clone(),
            r#"{"Operations":[{"op":"replace","path":"active","value":false,"Value":true}]}"#,
            "the keys \"value\" and \"Value\"",
        ),
        ("POST", s.scim("/Users/.search"), r#"{"filter":"userName eq \"a\"","filter":"id pr"}"#, "the key \"filter\" twice"),
        ("POST", "/admin/v1/users".into(), r#"{"userName":"a@x.test","userName":"b@x.test"}"#, "the key \"userName\" twice"),
    ] {
        let token = if path.starts_with("/admin") { &s.admin_key } else { &s.token };
        let response = s.send(method, &path, Some(token), request).await;
        let detail = expect_error(&format!("{method} {path} {request}"), &response, 400, Some("invalidSyntax"));
        assert!(detail.contains(named), "{detail}");
    }
    // Nothing was written.
    assert_eq!(body(&s.get(&s.scim("/Users")).await)["totalResults"], 1);
    assert_eq!(body(&s.get(&user).await)["active"], Value::Null);
}
