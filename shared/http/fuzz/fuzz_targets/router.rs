//! The router on arbitrary requests: never panics, never answers 5xx (the embedded store
//! does not fail), and every answer that is not a success is a SCIM error body (status as
//! a string, a non-empty detail), `application/scim+json` (the enrollment page a browser
//! gets is the one HTML exception).
//!
//! One router over the embedded store in a temporary folder, with a tenant (admin key),
//! a SCIM integration (token), a user and a group, built once; requests are assembled
//! from fragments that reach every route (`/scim/v2/{integration}/Users`, `/admin/v1/..`,
//! `/enroll/..`) with the real credentials some of the time. A second tenant has a user
//! whose id and userName must never appear in an answer.
#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use embedded_store::EmbeddedStore;
use libfuzzer_sys::fuzz_target;
use provisioning::enrollment::EnrollmentConfig;
use provisioning::enrollment::{LinkClaims, LinkKey};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim_http::Router;
use serde_json::{Value, json};

struct World {
    runtime: tokio::runtime::Runtime,
    router: Router<EmbeddedStore>,
    _dir: tempfile::TempDir,
    integration: String,
    token: String,
    admin_key: String,
    user: String,
    group: String,
    link: String,
    /// A user of a second tenant, whose credentials the fuzzer never gets: its id and
    /// userName must never appear in an answer.
    other_user: (String, String),
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        // In memory when possible: every write is a durable commit.
        let dir = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir()).expect("temp dir");
        let store = EmbeddedStore::open(dir.path().join("items.redb")).expect("store");
        let service = Arc::new(Provisioning::new(store));
        let key = LinkKey::new(vec![7u8; 32]).expect("link key");
        let router = Router::new(Arc::clone(&service)).with_enrollment(EnrollmentConfig::new(key.clone(), "https://m.test/enroll", "MFA"));
        let (other_user, integration, token, admin_key, user, group, link) = runtime.block_on(async {
            let tenant = service.create_tenant("T", None).await.expect("tenant");
            let admin = Caller::admin(&tenant.tenant);
            let settings = Settings { send_enrollment_emails: true, ..Settings::default() };
            let created = service.create_integration(&admin, IntegrationKind::Scim, "Entra", settings).await.expect("integration");
            let caller = service.authenticate(&created.token).await.expect("token");
            let user = json!({"userName": "alice@x.test", "emails": [{"type": "work", "value": "alice@x.test"}]});
            let user = service.create(&caller, &provisioning::USERS, &user).await.expect("user");
            let user_id = user.resource["id"].as_str().unwrap_or_default().to_string();
            let group = json!({"displayName": "G", "members": [{"value": user_id}]});
            let group = service.create(&caller, &provisioning::GROUPS, &group).await.expect("group");
            let outbox = service.outbox_email(&tenant.tenant, &user_id).await.expect("outbox").expect("email");
            let claims = LinkClaims {
                tenant: tenant.tenant.clone(),
                user_id: user_id.clone(),
                nonce: outbox.email.nonce,
                expires_at: time::OffsetDateTime::now_utc().unix_timestamp() + 86_400 * 365,
            };
            let other = service.create_tenant("Other", None).await.expect("other tenant");
            let other_name = "hidden-user@other-tenant.test".to_string();
            let hidden = service
                .create(&Caller::admin(&other.tenant), &provisioning::USERS, &json!({"userName": other_name}))
                .await
                .expect("hidden user");
            let other_user = (hidden.resource["id"].as_str().unwrap_or_default().to_string(), other_name);
            (
                other_user,
                created.integration.id,
                created.token,
                tenant.admin_key,
                user_id,
                group.resource["id"].as_str().unwrap_or_default().to_string(),
                key.sign(&claims),
            )
        });
        World { runtime, router, _dir: dir, integration, token, admin_key, user, group, link, other_user }
    })
}

#[derive(Debug, Arbitrary)]
enum Prefix {
    /// One of the router's real routes ([`ROUTES`]), with the real ids filled in.
    Route(u8),
    Scim,
    Admin,
    Enroll,
    None,
}

#[derive(Debug, Arbitrary)]
enum Segment {
    Integration,
    User,
    Group,
    Link,
    /// The other tenant's user id.
    OtherUser,
    Word(u8),
    /// Arbitrary text, percent-encoded byte by byte where the URI grammar needs it.
    Text(Vec<u8>),
    /// Arbitrary text as is (often not a valid URI: such inputs are skipped).
    Raw(String),
}

/// Every route of the router (`scim_routes.rs`, `admin.rs`, `enroll_routes.rs`): `{i}` is
/// the integration, `{u}` the user, `{g}` the group, `{l}` the enrollment link.
const ROUTES: &[&str] = &[
    "/scim/v2/{i}/Users",
    "/scim/v2/{i}/Users/{u}",
    "/scim/v2/{i}/Users/.search",
    "/scim/v2/{i}/Groups",
    "/scim/v2/{i}/Groups/{g}",
    "/scim/v2/{i}/Groups/.search",
    "/scim/v2/{i}/.search",
    "/scim/v2/{i}/ServiceProviderConfig",
    "/scim/v2/{i}/ResourceTypes",
    "/scim/v2/{i}/ResourceTypes/User",
    "/scim/v2/{i}/Schemas",
    "/scim/v2/{i}/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
    "/admin/v1/integrations",
    "/admin/v1/integrations/{i}",
    "/admin/v1/integrations/{i}/token",
    "/admin/v1/users",
    "/admin/v1/users/{u}",
    "/admin/v1/users/{u}/devices",
    "/admin/v1/email-enrollments",
    "/admin/v1/log",
    "/admin/v1/eaa",
    "/admin/v1/eaa/sync",
    "/admin/v1/eaa/directories/d1",
    "/admin/v1/eaa/directories/d1/groups/g1",
    "/enroll/{l}",
];

const WORDS: &[&str] = &[
    "Users",
    "Groups",
    ".search",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    "User",
    "Group",
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "integrations",
    "token",
    "users",
    "devices",
    "log",
    "email-enrollments",
    "eaa",
    "directories",
    "groups",
    "sync",
    "scim",
    "v2",
    "admin",
    "v1",
    "enroll",
    "..",
    ".",
    "%2e%2e",
    "..%2F..%2Fadmin",
    "%2F",
    "%00",
    "%FF",
    "%C0%AE",
    "%",
    "%zz",
    "users%2F..",
    "Users%00",
    "~",
    "+",
    "%20",
    "*",
    "manual",
];

#[derive(Debug, Arbitrary)]
enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Auth {
    /// The credential the prefix needs (the integration's token for `/scim`, the admin key
    /// elsewhere), so that most requests get past authentication.
    Right,
    Token,
    AdminKey,
    None,
    /// A real credential with one byte changed.
    Flipped(bool, u8, u8),
    Scheme(String, bool),
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Body {
    Empty,
    Bytes(Vec<u8>),
    Json(JsonSeed),
    /// `[[[[..` or `{"a":{"a":..` nested this deep.
    Deep(bool, u16),
    /// A PatchOp request: (op, path, value) operations.
    Patch(Vec<(u8, Option<u8>, JsonSeed)>),
    /// A resource with a real name attribute and arbitrary others.
    Resource(u8, JsonSeed),
    /// `{"name": "x", key: "xxxx.."}` with a string of up to ~1 MiB: values past the store's
    /// item and key limits.
    Big(u8, u16),
}

const OPS: &[&str] = &["add", "replace", "remove", "Add", "Replace", "Remove", "copy", ""];

const PATHS: &[&str] = &[
    "active",
    "userName",
    "displayName",
    "name.givenName",
    "name",
    "emails",
    "emails[type eq \"work\"].value",
    "emails[type eq \"work\"]",
    "phoneNumbers[type eq \"mobile\"].value",
    "members",
    "members[value eq \"x\"]",
    "externalId",
    "roles",
    "groups",
    "meta.version",
    "id",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "addresses[type eq \"work\"].streetAddress",
    "members[value eq",
    "emails[",
    "",
];

/// Seeds a JSON value from the fuzzer's bytes with SCIM-shaped keys and values.
#[derive(Debug)]
struct JsonSeed(Value);

impl<'a> Arbitrary<'a> for JsonSeed {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(JsonSeed(json_value(u, 4)?))
    }
}

const KEYS: &[&str] = &[
    "schemas",
    "userName",
    "displayName",
    "externalId",
    "active",
    "emails",
    "value",
    "type",
    "primary",
    "members",
    "name",
    "givenName",
    "familyName",
    "Operations",
    "op",
    "path",
    "filter",
    "startIndex",
    "count",
    "cursor",
    "sortBy",
    "sortOrder",
    "attributes",
    "excludedAttributes",
    "kind",
    "settings",
    "readAllUsers",
    "includeManualUsers",
    "sendEnrollmentEmails",
    "userIds",
    "credentialsRef",
    "deviceName",
    "deviceType",
    "platform",
    "id",
    "meta",
    "version",
    "groups",
    "phoneNumbers",
    "password",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "manager",
];

const STRINGS: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:api:messages:2.0:PatchOp",
    "urn:ietf:params:scim:api:messages:2.0:SearchRequest",
    "add",
    "replace",
    "remove",
    "Add",
    "work",
    "PUSH",
    "EAA",
    "SCIM",
    "userName eq \"alice@x.test\"",
    "members[value eq \"x\"]",
    "emails[type eq \"work\"].value",
    "True",
    "False",
    "bob@x.test",
    "",
    "((((((((((((((((((((((((((((((((((a eq 1))))))))))))))))))))))))))))))))))",
    "-1",
    "0",
    "1000000000000",
    "9223372036854775807",
];

fn json_value(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let choice = if depth == 0 { u.int_in_range(0..=5)? } else { u.int_in_range(0..=8)? };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => serde_json::Number::from_f64(u.arbitrary()?).map(Value::Number).unwrap_or(Value::Null),
        4 => Value::String(u.choose(STRINGS)?.to_string()),
        5 => Value::String(u.arbitrary()?),
        6 => {
            let n = u.int_in_range(0..=4)?;
            Value::Array((0..n).map(|_| json_value(u, depth - 1)).collect::<arbitrary::Result<_>>()?)
        }
        _ => {
            let n = u.int_in_range(0..=5)?;
            let mut object = serde_json::Map::new();
            for _ in 0..n {
                let key = if u.ratio(1, 6)? { u.arbitrary::<String>()? } else { u.choose(KEYS)?.to_string() };
                object.insert(key, json_value(u, depth - 1)?);
            }
            Value::Object(object)
        }
    })
}

#[derive(Debug, Arbitrary)]
struct Input {
    method: Method,
    prefix: Prefix,
    /// Whether the prefix names the real integration (else a fragment).
    real_integration: bool,
    segments: Vec<Segment>,
    trailing_slash: bool,
    query: Vec<(Segment, Segment)>,
    auth: Auth,
    headers: Vec<(u8, Vec<u8>)>,
    body: Body,
}

const HEADERS: &[&str] = &[
    "content-type",
    "accept",
    "if-match",
    "if-none-match",
    "x-request-id",
    "x-amzn-requestid",
    "host",
    "x-forwarded-proto",
    "content-length",
    "transfer-encoding",
    "authorization",
    "cookie",
];

fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(
            |&b| if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") },
        )
        .collect()
}

fn segment(world: &World, segment: &Segment) -> String {
    match segment {
        Segment::Integration => world.integration.clone(),
        Segment::User => world.user.clone(),
        Segment::Group => world.group.clone(),
        Segment::Link => world.link.clone(),
        Segment::OtherUser => world.other_user.0.clone(),
        Segment::Word(i) => WORDS[*i as usize % WORDS.len()].to_string(),
        Segment::Text(bytes) => encode(bytes),
        Segment::Raw(text) => text.clone(),
    }
}

fn build(world: &World, input: &Input) -> Option<http::Request<Bytes>> {
    let mut path = match input.prefix {
        Prefix::Route(i) => ROUTES[i as usize % ROUTES.len()]
            .replace("{i}", &world.integration)
            .replace("{u}", &world.user)
            .replace("{g}", &world.group)
            .replace("{l}", &world.link),
        Prefix::Scim if input.real_integration => format!("/scim/v2/{}", world.integration),
        Prefix::Scim => "/scim/v2".to_string(),
        Prefix::Admin => "/admin/v1".to_string(),
        Prefix::Enroll => "/enroll".to_string(),
        Prefix::None => String::new(),
    };
    for s in input.segments.iter().take(8) {
        path.push('/');
        path.push_str(&segment(world, s));
    }
    if input.trailing_slash || path.is_empty() {
        path.push('/');
    }
    if !input.query.is_empty() {
        let pairs: Vec<String> = input.query.iter().take(6).map(|(k, v)| format!("{}={}", segment(world, k), segment(world, v))).collect();
        path.push('?');
        path.push_str(&pairs.join("&"));
    }
    let method = match &input.method {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Patch => http::Method::PATCH,
        Method::Delete => http::Method::DELETE,
        Method::Head => http::Method::HEAD,
        Method::Options => http::Method::OPTIONS,
        Method::Other(name) => http::Method::from_bytes(name.as_bytes()).ok()?,
    };
    // What would take the world's credentials or records away from every later input (and
    // make findings depend on the order of inputs): rotating or deleting the integration,
    // deleting the seeded user or group.
    let lowered = path.to_ascii_lowercase();
    let names_world = [&world.integration, &world.user, &world.group].iter().any(|id| lowered.contains(id.as_str()));
    if names_world && (method == http::Method::DELETE || lowered.contains("/token")) {
        return None;
    }
    let mut builder = http::Request::builder().method(method).uri(path.as_str());
    let authorization: Option<Vec<u8>> = match &input.auth {
        Auth::Right if path.starts_with("/scim") => Some(format!("Bearer {}", world.token).into_bytes()),
        Auth::Right => Some(format!("Bearer {}", world.admin_key).into_bytes()),
        Auth::Token => Some(format!("Bearer {}", world.token).into_bytes()),
        Auth::AdminKey => Some(format!("Bearer {}", world.admin_key).into_bytes()),
        Auth::None => None,
        Auth::Flipped(admin, at, by) => {
            let mut secret = if *admin { world.admin_key.clone() } else { world.token.clone() }.into_bytes();
            let at = *at as usize % secret.len();
            secret[at] = secret[at].wrapping_add(by.max(&1).to_owned());
            Some([b"Bearer ".as_slice(), &secret].concat())
        }
        Auth::Scheme(scheme, admin) => Some(format!("{scheme} {}", if *admin { &world.admin_key } else { &world.token }).into_bytes()),
        Auth::Raw(bytes) => Some(bytes.clone()),
    };
    if let Some(value) = authorization {
        builder = builder.header(http::header::AUTHORIZATION, http::HeaderValue::from_bytes(&value).ok()?);
    }
    for (name, value) in input.headers.iter().take(6) {
        let name = HEADERS[*name as usize % HEADERS.len()];
        builder = builder.header(name, http::HeaderValue::from_bytes(value).ok()?);
    }
    let body = match &input.body {
        Body::Empty => Bytes::new(),
        Body::Bytes(bytes) => Bytes::from(bytes.clone()),
        Body::Json(seed) => Bytes::from(serde_json::to_vec(&seed.0).ok()?),
        Body::Patch(ops) => {
            let operations: Vec<Value> = ops
                .iter()
                .take(8)
                .map(|(op, path, value)| {
                    let mut operation = json!({"op": OPS[*op as usize % OPS.len()], "value": value.0});
                    if let Some(path) = path {
                        operation["path"] = json!(PATHS[*path as usize % PATHS.len()]);
                    }
                    operation
                })
                .collect();
            Bytes::from(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}).to_string())
        }
        Body::Resource(name, seed) => {
            let mut resource = match &seed.0 {
                Value::Object(object) => object.clone(),
                _ => serde_json::Map::new(),
            };
            let name = format!("fuzz{name}@x.test");
            resource.insert("userName".into(), json!(name));
            resource.insert("displayName".into(), json!(name));
            resource.insert("name".into(), json!(name));
            Bytes::from(Value::Object(resource).to_string())
        }
        Body::Big(key, length) => {
            let mut object = serde_json::Map::new();
            object.insert("name".into(), json!("big"));
            object.insert("userName".into(), json!("big@x.test"));
            object.insert(KEYS[*key as usize % KEYS.len()].to_string(), json!("x".repeat(*length as usize * 16)));
            Bytes::from(Value::Object(object).to_string())
        }
        Body::Deep(array, depth) => {
            let depth = *depth as usize * 4;
            Bytes::from(if *array { "[".repeat(depth) } else { "{\"a\":".repeat(depth) })
        }
    };
    builder.body(body).ok()
}

fuzz_target!(|input: Input| {
    let world = world();
    let Some(request) = build(world, &input) else { return };
    let method = request.method().clone();
    let uri = request.uri().clone();
    // An id the request itself names may be echoed ("no User with id ..").
    let named = uri.to_string().contains(&world.other_user.0) || String::from_utf8_lossy(request.body()).contains(&world.other_user.0);
    let response = world.runtime.block_on(world.router.handle(request));
    let status = response.status();
    if std::env::var_os("ROUTER_FUZZ_TRACE").is_some() {
        // Which routes the corpus reaches: `ROUTER_FUZZ_TRACE=1 cargo fuzz run router -- -runs=0`.
        eprintln!("TRACE {status} {method} {}", uri.path());
    }
    assert!(!status.is_server_error(), "{method} {uri} answered {status}: {:?}", String::from_utf8_lossy(response.body()));
    let text = String::from_utf8_lossy(response.body());
    assert!(
        (named || !text.contains(&world.other_user.0)) && !text.contains(&world.other_user.1),
        "{method} {uri}: another tenant's data: {text}"
    );
    let content_type = response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if content_type.starts_with("text/html") {
        // The enrollment page (or its refusal page) for a browser.
        assert!(uri.path().starts_with("/enroll/"), "{method} {uri}: HTML outside /enroll");
        return;
    }
    assert_eq!(content_type, "application/scim+json", "{method} {uri} answered {status}");
    if status.is_success() {
        return;
    }
    let body: Value = match serde_json::from_slice(response.body()) {
        Ok(body) => body,
        Err(e) => panic!("{method} {uri} answered {status} with a body that is not JSON ({e})"),
    };
    assert_eq!(body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{method} {uri}: {body}");
    assert_eq!(body["status"], status.as_str(), "{method} {uri}: {body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.trim().is_empty()), "{method} {uri}: {body}");
    if status == http::StatusCode::METHOD_NOT_ALLOWED {
        assert!(response.headers().contains_key(http::header::ALLOW), "{method} {uri}: 405 without Allow");
    }
});
