//! The router in process: store faults become 429/503 with `Retry-After`, request ids
//! are propagated, and base URLs follow the gateway's stage.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use embedded_store::EmbeddedStore;
use item_store::{FailingStore, Fault};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim_http::{Ingress, Router};
use serde_json::Value;

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

#[tokio::test]
async fn oversized_bodies_are_413_even_without_a_front_end_limit() {
    let s = setup().await;
    let body = " ".repeat(scim_http::MAX_BODY_BYTES + 1);
    let response = s.router.handle(request("POST", &format!("/scim/v2/{}/Users", s.integration), &s.token, &body)).await;
    assert_eq!(response.status(), 413);
    assert_eq!(json(&response)["status"], "413");
}
