//! The router in process: store faults become 429/503 with `Retry-After`, request ids
//! are propagated, and base URLs follow the gateway's stage.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use eaa_client::standin::{self, Fixture, FixtureDirectory, FixtureGroup, StandinConfig};
use eaa_client::{ClientConfig, ClientConnector, EaaCredentials, StaticCredentials};
use embedded_store::EmbeddedStore;
use item_store::{FailingStore, Fault};
use provisioning::{BoxFuture, Caller, IntegrationKind, Provisioning, Settings, SyncTrigger};
use scim_http::{EaaAccess, Ingress, Router};
use serde_json::{Value, json};

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<FailingStore<EmbeddedStore>>,
    router: Router<Arc<FailingStore<EmbeddedStore>>>,
    integration: String,
    token: String,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FailingStore::new(EmbeddedStore::open(dir.path().join("items.redb")).unwrap()));
    let service = Arc::new(Provisioning::new(Arc::clone(&store)));
    let tenant = service.create_tenant("T", None).await.unwrap();
    let created =
        service.create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", Settings::default()).await.unwrap();
    Setup { _dir: dir, store, router: Router::new(service), integration: created.integration.id, token: created.token }
}

fn request(method: &str, path: &str, token: &str, body: &str) -> http::Request<Bytes> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "api.example.com")
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::from(body.to_string()))
        .unwrap()
}

fn json(response: &http::Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

#[tokio::test]
async fn store_throttling_is_429_and_unavailability_503_with_retry_after() {
    let s = setup().await;
    let path = format!("/scim/v2/{}/Users", s.integration);
    // Authenticate once so the grant is cached and the fault hits the list itself.
    assert_eq!(s.router.handle(request("GET", &path, &s.token, "")).await.status(), 200);

    s.store.fail_next(1, Fault::Throttled { retry_after: Duration::from_millis(1500) });
    let response = s.router.handle(request("GET", &path, &s.token, "")).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    assert_eq!(json(&response)["status"], "429");

    s.store.fail_next(1, Fault::Unavailable);
    let response = s.router.handle(request("POST", &path, &s.token, r#"{"userName":"a"}"#)).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
}

#[tokio::test]
async fn request_ids_and_stage_prefixed_urls() {
    let s = setup().await;
    let mut req = request("POST", &format!("/scim/v2/{}/Users", s.integration), &s.token, r#"{"userName":"a"}"#);
    req.extensions_mut().insert(Ingress {
        scheme: Some("https"),
        domain: None,
        stage_prefix: "/dev".into(),
        request_id: Some("req-123".into()),
    });
    let response = s.router.handle(req).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "req-123");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("https://api.example.com/dev/scim/v2/{}/Users/", s.integration)), "{location}");
    assert_eq!(json(&response)["meta"]["location"], location);

    let mut req = request("GET", "/nowhere", &s.token, "");
    req.headers_mut().insert("x-amzn-requestid", "gw-1".parse().unwrap());
    let response = s.router.handle(req).await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "gw-1");
}

/// RFC 7644 endpoints the service does not offer answer 501 saying what to send instead,
/// not 404 as if the URL were mistyped.
#[tokio::test]
async fn me_and_bulk_are_501_saying_what_to_send_instead() {
    let s = setup().await;
    for (method, path, words) in
        [("GET", "/Me", "read the user by its id"), ("PATCH", "/me", "not to a user"), ("POST", "/Bulk", "its own request")]
    {
        let response = s.router.handle(request(method, &format!("/scim/v2/{}{path}", s.integration), &s.token, "{}")).await;
        assert_eq!(response.status(), 501, "{method} {path}");
        let detail = json(&response)["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains(words), "{method} {path}: {detail}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_413_even_without_a_front_end_limit() {
    let s = setup().await;
    let body = " ".repeat(scim_http::MAX_BODY_BYTES + 1);
    let response = s.router.handle(request("POST", &format!("/scim/v2/{}/Users", s.integration), &s.token, &body)).await;
    assert_eq!(response.status(), 413);
    assert_eq!(json(&response)["status"], "413");
}

#[tokio::test]
async fn enrollment_links_describe_enroll_once_and_refuse_clearly() {
    use provisioning::enrollment::EnrollmentConfig;
    use provisioning::enrollment::{LinkClaims, LinkKey};

    let dir = tempfile::tempdir().unwrap();
    let service = Arc::new(Provisioning::new(EmbeddedStore::open(dir.path().join("items.redb")).unwrap()));
    let tenant = service.create_tenant("T", None).await.unwrap();
    let admin = Caller::admin(&tenant.tenant);
    let settings = Settings { send_enrollment_emails: true, ..Settings::default() };
    let created = service.create_integration(&admin, IntegrationKind::Scim, "Entra", settings).await.unwrap();
    let key = LinkKey::new(vec![7u8; 32]).unwrap();
    let config = EnrollmentConfig::new(key.clone(), "https://m.test/enroll", "Acme MFA");
    let without = Router::new(Arc::clone(&service));
    let router = without.clone().with_enrollment(config);

    let users = format!("/scim/v2/{}/Users", created.integration.id);
    let body = r#"{"userName":"alice@x.test","displayName":"Alice","emails":[{"type":"work","value":"alice@x.test"}]}"#;
    let user = json(&router.handle(request("POST", &users, &created.token, body)).await);
    let user_id = user["id"].as_str().unwrap().to_string();
    let outbox = service.outbox_email(&tenant.tenant, &user_id).await.unwrap().unwrap();
    let claims = LinkClaims {
        tenant: tenant.tenant.clone(),
        user_id: user_id.clone(),
        nonce: outbox.email.nonce,
        expires_at: time::OffsetDateTime::now_utc().unix_timestamp() + 3600,
    };
    let path = format!("/enroll/{}", key.sign(&claims));
    let anonymous = |method: &str, path: &str, body: &str| {
        http::Request::builder().method(method).uri(path).body(Bytes::from(body.to_string())).unwrap()
    };

    // Without a configuration the path is not served (and the token is not echoed).
    let response = without.handle(anonymous("GET", &path, "")).await;
    assert_eq!(response.status(), 404);
    assert!(!String::from_utf8_lossy(response.body()).contains(&path[8..]));

    let info = router.handle(anonymous("GET", &path, "")).await;
    assert_eq!(info.status(), 200);
    assert_eq!((json(&info)["userId"].as_str(), json(&info)["productName"].as_str()), (Some(user_id.as_str()), Some("Acme MFA")));

    // A browser gets the enrollment page, with the user's values escaped and no referrer
    // (the URL holds the token); a refused link is a page with the message.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = router.handle(http::Request::builder().uri(&path).header("accept", browser).body(Bytes::new()).unwrap()).await;
    assert_eq!((page.status().as_u16(), page.headers()["content-type"].to_str().unwrap()), (200, "text/html; charset=utf-8"));
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(String::from_utf8_lossy(page.body()).contains("Hello Alice"));
    let bad = router.handle(http::Request::builder().uri(format!("{path}x")).header("accept", browser).body(Bytes::new()).unwrap()).await;
    assert_eq!((bad.status().as_u16(), bad.headers()["content-type"].to_str().unwrap()), (400, "text/html; charset=utf-8"));

    // A bad body is refused before the link is spent.
    for bad in ["", "{", r#"{"deviceName":"","deviceType":"PUSH"}"#, r#"{"deviceName":"P","deviceType":"FAX"}"#] {
        assert_eq!(router.handle(anonymous("POST", &path, bad)).await.status(), 400, "{bad}");
    }
    let device = r#"{"deviceName":"Phone","deviceType":"PUSH","platform":"iOS"}"#;
    let enrolled = router.handle(anonymous("POST", &path, device)).await;
    assert_eq!(enrolled.status(), 201);
    assert_eq!(json(&enrolled)["deviceName"], "Phone");

    let again = router.handle(anonymous("POST", &path, device)).await;
    assert_eq!(again.status(), 410);
    assert_eq!(json(&again)["code"], "usedLink");
    assert_eq!(json(&again)["status"], "410");
    let tampered = router.handle(anonymous("GET", &format!("{path}x"), "")).await;
    assert_eq!((tampered.status().as_u16(), json(&tampered)["code"].as_str()), (400, Some("invalidLink")));
    assert_eq!(router.handle(anonymous("DELETE", &path, "")).await.status(), 405);

    // The admin's resend: a new link for the user, a reason for an unknown id.
    let resend = format!(r#"{{"userIds":["{user_id}","nobody"]}}"#);
    let response = router.handle(request("POST", "/admin/v1/email-enrollments", &tenant.admin_key, &resend)).await;
    assert_eq!(response.status(), 200);
    let result = json(&response);
    assert_eq!(result["successfullySent"], serde_json::json!([user_id]));
    assert_eq!(result["failedToSend"][0]["userId"], "nobody");
    let refused = router.handle(request("POST", "/admin/v1/email-enrollments", &created.token, &resend)).await;
    assert_eq!(refused.status(), 401);
    let malformed = router.handle(request("POST", "/admin/v1/email-enrollments", &tenant.admin_key, r#"{"userIds":"x"}"#)).await;
    assert_eq!(malformed.status(), 400);
}

/// The EAA admin routes that need no call to EAA: the configuration, the credentials
/// reference (never shown back), removing a directory, and sync requests and status.
/// The admin API's EAA routes over the stand-in EAA server: credentials reference,
/// directory and group selection through EAA, "sync now" through the trigger.
#[tokio::test]
async fn eaa_configuration_selection_and_sync_routes() {
    let dir = tempfile::tempdir().unwrap();
    let service = Arc::new(Provisioning::new(EmbeddedStore::open(dir.path().join("items.redb")).unwrap()));
    let tenant = service.create_tenant("T", None).await.unwrap();
    let (addr, _standin) = standin::spawn(fixture(), StandinConfig::for_tests()).await.unwrap();
    let config = StandinConfig::for_tests();
    let credentials = EaaCredentials { host: addr.to_string(), edgegrid: config.credentials, contract_id: config.contract_id };
    // Stored under this tenant's namespace only: another tenant naming "corp" finds nothing.
    let references = StaticCredentials([(format!("{}/corp", tenant.tenant), credentials)].into_iter().collect());
    let connector =
        Arc::new(ClientConnector { credentials: references, config: ClientConfig { scheme: "http", ..ClientConfig::default() } });
    let trigger = Arc::new(Triggers::default());
    let router = Router::new(Arc::clone(&service)).with_eaa(EaaAccess { connector, trigger: trigger.clone() });
    let key = tenant.admin_key.as_str();
    let send = |method: &str, path: &str, body: &str| router.handle(request(method, path, key, body));

    // No EAA integration yet: 404.
    assert_eq!(send("GET", "/admin/v1/eaa", "").await.status(), 404);
    assert_eq!(send("GET", "/admin/v1/eaa/directories", "").await.status(), 404);
    let created = send("POST", "/admin/v1/integrations", r#"{"name":"EAA","kind":"EAA"}"#).await;
    assert_eq!(created.status(), 201);
    let integration = json(&created)["id"].as_str().unwrap().to_string();

    let config = json(&send("GET", "/admin/v1/eaa", "").await);
    assert_eq!(config["integrationId"], integration.as_str());
    assert_eq!(config["hasCredentials"], false);
    // EAA cannot be called before the credentials are named: 409 saying what to do.
    let early = send("GET", "/admin/v1/eaa/directories", "").await;
    assert_eq!(early.status(), 409);
    assert!(json(&early)["detail"].as_str().unwrap().contains("PUT /admin/v1/eaa"));
    assert_eq!(send("PUT", "/admin/v1/eaa", r#"{}"#).await.status(), 400);
    for bad in ["../other-tenant/corp", "/abs", "a/../b"] {
        let refused = send("PUT", "/admin/v1/eaa", &serde_json::json!({"credentialsRef": bad}).to_string()).await;
        assert_eq!(refused.status(), 400, "{bad}");
    }
    // Checked when set: nothing stored under it (here, or only under another tenant) is 409.
    let nothing = send("PUT", "/admin/v1/eaa", r#"{"credentialsRef":"prod"}"#).await;
    assert_eq!(nothing.status(), 409);
    assert!(json(&nothing)["detail"].as_str().unwrap().contains("nothing is stored under the credentials reference \"prod\""));
    assert_eq!(json(&send("GET", "/admin/v1/eaa", "").await)["hasCredentials"], false);
    let set = send("PUT", "/admin/v1/eaa", r#"{"credentialsRef":"corp"}"#).await;
    assert_eq!(set.status(), 200);
    assert_eq!(json(&set)["hasCredentials"], true);
    assert!(!String::from_utf8_lossy(set.body()).contains("corp"));

    // EAA's directories, and choosing one.
    let listed = json(&send("GET", "/admin/v1/eaa/directories", "").await);
    assert_eq!(listed["directories"][0]["id"], "d1");
    assert_eq!(listed["directories"][0]["name"], "Corp AD");
    assert_eq!(listed["directories"][0]["associated"], false);
    assert_eq!(listed["nextOffset"], Value::Null);
    assert_eq!(send("GET", "/admin/v1/eaa/directories?offset=x", "").await.status(), 400);
    assert_eq!(send("POST", "/admin/v1/eaa/directories/nope", "").await.status(), 404);
    assert_eq!(send("GET", "/admin/v1/eaa/directories/d1/groups", "").await.status(), 404, "not associated yet");
    let associated = send("POST", "/admin/v1/eaa/directories/d1", "").await;
    assert_eq!(associated.status(), 200);
    assert_eq!(json(&associated)["directories"][0]["name"], "Corp AD");
    assert_eq!(json(&send("GET", "/admin/v1/eaa/directories", "").await)["directories"][0]["associated"], true);

    // Its groups, and selecting one.
    let groups = json(&send("GET", "/admin/v1/eaa/directories/d1/groups", "").await);
    assert_eq!(groups["groups"].as_array().unwrap().len(), 2);
    assert!(groups["groups"].as_array().unwrap().iter().all(|g| g["selected"] == false));
    assert_eq!(send("POST", "/admin/v1/eaa/directories/d1/groups/nope", "").await.status(), 404);
    assert_eq!(send("POST", "/admin/v1/eaa/directories/d1/groups/sales", "").await.status(), 200);
    let groups = json(&send("GET", "/admin/v1/eaa/directories/d1/groups", "").await);
    let sales = groups["groups"].as_array().unwrap().iter().find(|g| g["id"] == "sales").unwrap().clone();
    assert_eq!((sales["name"].as_str(), sales["selected"].as_bool(), sales["userCount"].as_u64()), (Some("Sales"), Some(true), Some(1)));
    assert_eq!(send("DELETE", "/admin/v1/eaa/directories/d1/groups/sales", "").await.status(), 200);
    assert_eq!(send("DELETE", "/admin/v1/eaa/directories/d1/groups/sales", "").await.status(), 404);
    assert_eq!(send("PATCH", "/admin/v1/eaa/directories/d1", "").await.status(), 405);

    // Sync now: recorded, and the sync started for this tenant's integration.
    let status = json(&send("GET", "/admin/v1/eaa/sync", "").await);
    assert_eq!(status, serde_json::json!({"last": null, "inProgress": null}));
    let requested = send("POST", "/admin/v1/eaa/sync", "").await;
    assert_eq!(requested.status(), 202);
    assert!(json(&requested)["syncRequestedAt"].is_string());
    assert_eq!(trigger.take(), [(tenant.tenant.clone(), integration.clone(), 0)]);
    // A sync that cannot be started is a 503 to retry, not a silent 202.
    trigger.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    let refused = send("POST", "/admin/v1/eaa/sync", "").await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));

    // An integration token is not an admin key.
    let scim =
        service.create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", Settings::default()).await.unwrap();
    let as_integration = router.handle(request("GET", "/admin/v1/eaa/directories", &scim.token, "")).await;
    assert_eq!(as_integration.status(), 401);

    // A deployment without EAA access answers 501 on the routes that need it.
    let without = Router::new(Arc::clone(&service));
    assert_eq!(without.handle(request("GET", "/admin/v1/eaa/directories", key, "")).await.status(), 501);
    assert_eq!(without.handle(request("POST", "/admin/v1/eaa/sync", key, "")).await.status(), 501);
    assert_eq!(without.handle(request("GET", "/admin/v1/eaa", key, "")).await.status(), 200);
}

fn fixture() -> Fixture {
    let user =
        serde_json::json!({"user_uuid_url": "u1", "username": "ann", "email": "ann@corp.example", "upn": "ann@corp.example", "status": 1});
    Fixture {
        directories: vec![FixtureDirectory {
            uuid_url: "d1".into(),
            name: "Corp AD".into(),
            groups: vec![
                FixtureGroup { uuid_url: "sales".into(), name: "Sales".into(), users: vec![user] },
                FixtureGroup { uuid_url: "idle".into(), name: "Idle".into(), users: vec![] },
            ],
        }],
    }
}

/// The syncs the router started ("sync now"), or a refusal when `refuse` is set.
#[derive(Default)]
struct Triggers {
    started: std::sync::Mutex<Vec<(String, String, u32)>>,
    refuse: std::sync::atomic::AtomicBool,
}

impl Triggers {
    fn take(&self) -> Vec<(String, String, u32)> {
        std::mem::take(&mut *self.started.lock().unwrap())
    }
}

impl SyncTrigger for Triggers {
    fn trigger<'a>(&'a self, tenant: &'a str, integration: &'a str, continuation: u32) -> BoxFuture<'a, Result<(), String>> {
        let refused = self.refuse.load(std::sync::atomic::Ordering::SeqCst);
        if !refused {
            self.started.lock().unwrap().push((tenant.to_string(), integration.to_string(), continuation));
        }
        Box::pin(async move { if refused { Err("not allowed".to_string()) } else { Ok(()) } })
    }
}

/// A 401 names the credential that was wrong: the admin API wants an admin key, a SCIM
/// endpoint the integration's token.
#[tokio::test]
async fn a_refused_credential_is_named() {
    let s = setup().await;
    for token in ["adm_wrong", s.token.as_str()] {
        let response = s.router.handle(request("GET", "/admin/v1/integrations", token, "")).await;
        assert_eq!(response.status(), 401);
        let detail = json(&response)["detail"].as_str().unwrap_or_default().to_string();
        assert!(detail.contains("admin key") && !detail.contains("Secret Token"), "{detail}");
    }
    let path = format!("/scim/v2/{}/Users", s.integration);
    let response = s.router.handle(request("GET", &path, "scim_wrong", "")).await;
    assert_eq!(response.status(), 401);
    assert!(json(&response)["detail"].as_str().is_some_and(|d| d.contains("Secret Token of the integration")));
}

/// The integration list and an integration's own GET agree on every field, `lastUsed`
/// included (the list showed `null` for an integration used a minute ago).
#[tokio::test]
async fn the_integration_list_and_get_agree() {
    let s = setup().await;
    let path = format!("/scim/v2/{}/Users", s.integration);
    assert_eq!(s.router.handle(request("GET", &path, &s.token, "")).await.status(), 200);
    let tenant = s.router.service().authenticate(&s.token).await.expect("token").tenant;
    let admin = s.router.service().create_admin_key(&provisioning::Caller::admin(&tenant)).await.expect("admin key").key;
    let listed = json(&s.router.handle(request("GET", "/admin/v1/integrations", &admin, "")).await);
    let single = json(&s.router.handle(request("GET", &format!("/admin/v1/integrations/{}", s.integration), &admin, "")).await);
    assert!(single["lastUsed"].is_string(), "{single}");
    assert_eq!(listed["integrations"][0], single);
}

/// Integration names are unique in a tenant (case-insensitively, 409) and renamable;
/// a PATCH with a field that cannot change is refused by name, never ignored.
#[tokio::test]
async fn integration_names_are_unique_and_renamable_and_unknown_fields_refused() {
    let s = setup().await;
    let tenant = s.router.service().authenticate(&s.token).await.expect("token").tenant;
    let admin = s.router.service().create_admin_key(&provisioning::Caller::admin(&tenant)).await.expect("admin key").key;
    let create = |name: &str| request("POST", "/admin/v1/integrations", &admin, &format!("{{\"name\":\"{name}\"}}"));
    let duplicate = s.router.handle(create(" entra ")).await;
    assert_eq!(duplicate.status(), 409, "{}", json(&duplicate));
    assert!(json(&duplicate)["detail"].as_str().is_some_and(|d| d.contains("already exists")));
    let other = json(&s.router.handle(create("Okta")).await);
    let other_id = other["id"].as_str().expect("id").to_string();
    let path = format!("/admin/v1/integrations/{}", s.integration);
    // Renamed: the old name is free again, the new one taken.
    let renamed = s.router.handle(request("PATCH", &path, &admin, r#"{"name":"Entra ID"}"#)).await;
    assert_eq!((renamed.status().as_u16(), json(&renamed)["name"].clone()), (200, json!("Entra ID")));
    assert_eq!(s.router.handle(create("Entra")).await.status(), 201);
    let clash = s.router.handle(request("PATCH", &format!("/admin/v1/integrations/{other_id}"), &admin, r#"{"name":"ENTRA ID"}"#)).await;
    assert_eq!(clash.status(), 409);
    for body in [r#"{"kind":"EAA"}"#, r#"{"nmae":"typo"}"#, r#"{"id":"x","settings":{}}"#] {
        let refused = s.router.handle(request("PATCH", &path, &admin, body)).await;
        assert_eq!(refused.status(), 400, "{body}");
        assert!(json(&refused)["detail"].as_str().is_some_and(|d| d.contains("cannot change")), "{body}");
    }
    let unchanged = json(&s.router.handle(request("GET", &path, &admin, "")).await);
    assert_eq!(unchanged["name"], "Entra ID");
}
