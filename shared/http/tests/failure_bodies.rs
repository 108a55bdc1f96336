//! A 5xx body says what to do (retry after `Retry-After`) and quotes the request id; the
//! store's, SDK's or OS's detail goes to the log, under the request's span (issue 13,
//! item 5).

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use embedded_store::EmbeddedStore;
use item_store::{FailingStore, Fault};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim_http::Router;
use serde_json::{Value, json};

/// What a store adapter reports when the network or the disk fails: the SDK's dispatch
/// failure with the endpoint, the OS error, a server file path.
const INTERNAL: &str = "dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111) \
                        at 127.0.0.1:1 writing /var/lib/scim/items.redb: No space left on device (os error 28)";

/// The log, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

type Store = Arc<FailingStore<EmbeddedStore>>;

async fn fixture(dir: &std::path::Path) -> (Store, Router<Store>, String, String) {
    let store = Arc::new(FailingStore::new(EmbeddedStore::open(dir.join("items.redb")).expect("store")));
    let service = Arc::new(Provisioning::new(Arc::clone(&store)));
    let tenant = service.create_tenant("T", None).await.expect("tenant");
    let created = service
        .create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", Settings::default())
        .await
        .expect("integration");
    (store, Router::new(service), format!("/scim/v2/{}", created.integration.id), created.token)
}

fn request(method: &str, path: &str, token: &str, request_id: &str, body: Option<Value>) -> http::Request<Bytes> {
    let builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "api.example.com")
        .header("authorization", format!("Bearer {token}"))
        .header("x-request-id", request_id)
        .header("content-type", "application/scim+json");
    builder.body(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default()).expect("request")
}

#[tokio::test]
async fn a_503_says_retry_with_the_request_id_and_logs_the_internal_detail() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().expect("temp dir");
    let (store, router, base, token) = fixture(dir.path()).await;
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "anna@contoso.com"});
    // A read (the match query) and a write (the create), each failing at its first store call
    // after authentication has been cached.
    assert_eq!(router.handle(request("GET", &format!("{base}/Users"), &token, "warm-up", None)).await.status(), 200);
    for (method, path, body, request_id) in [
        ("GET", format!("{base}/Users?filter=userName+eq+%22anna%40contoso.com%22"), None, "req-503-read"),
        ("POST", format!("{base}/Users"), Some(user.clone()), "req-503-write"),
    ] {
        store.fail_next(1, Fault::UnavailableBecause(INTERNAL));
        let response = router.handle(request(method, &path, &token, request_id, body)).await;
        assert_eq!(response.status(), 503, "{method} {path}");
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(response.headers()["x-request-id"], request_id);
        let body: Value = serde_json::from_slice(response.body()).expect("JSON body");
        assert_eq!(body["status"], "503", "status is a string (RFC 7644 3.12)");
        let detail = body["detail"].as_str().expect("detail");
        let text = body.to_string().to_ascii_lowercase();
        for internal in ["dispatch failure", "os error", "tcp", "127.0.0.1", "/var/lib", "connection refused", "no space left"] {
            assert!(!text.contains(internal), "{internal:?} in the body: {body}");
        }
        assert!(detail.contains("unavailable") && detail.contains("retry after"), "{detail}");
        assert!(detail.contains("Retry-After: 1 s") && detail.contains(request_id), "{detail}");

        // The detail is in the log, on a line of this request's span.
        let log = log.text();
        let line = log.lines().find(|line| line.contains("127.0.0.1:1") && line.contains(request_id));
        assert!(line.is_some_and(|l| l.contains("os error 28")), "no log line with the detail under {request_id}:\n{log}");
    }
    // And the store recovers: the same create succeeds.
    let response = router.handle(request("POST", &format!("{base}/Users"), &token, "req-201", Some(user))).await;
    assert_eq!(response.status(), 201);
}
