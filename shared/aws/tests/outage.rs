//! DynamoDB going away mid-run, through the router on `DynamoDbStore`. The test starts its
//! OWN moto process (`SCIM_TEST_MOTO_SERVER`, exported by `./scripts/test`; it fails, not
//! skips, without it), so it can kill, freeze and restart it without disturbing the other
//! tests.
//!
//! Moto keeps its state in memory: a restarted server is empty. Its recorder
//! (`MOTO_ENABLE_RECORDING`, a request log in a file) is its persistence: after the restart
//! the test replays the log (`POST /moto-api/recorder/replay-recording`), which rebuilds
//! the table and its items by re-running every request the first process received. So
//! the test can check what matters after an outage: data written before it is still there,
//! requests made while the store is down fail cleanly (503 + `Retry-After`, nothing
//! written), and the same requests succeed afterwards.
//!
//! The guard on each request during the outage is generous (a hang is forever, the retry
//! policy takes about a second): it is there to turn a hang into a failure, not to
//! measure anything.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use aws_adapters::DynamoDbStore;
use bytes::Bytes;
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim_http::Router;
use serde_json::{Value, json};

/// Far beyond what the retry policy and the attempt timeout allow; only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(120);

struct Moto {
    child: Child,
    port: u16,
    frozen: bool,
}

impl Moto {
    fn binary() -> String {
        std::env::var("SCIM_TEST_MOTO_SERVER").unwrap_or_else(|_| {
            panic!(
                "SCIM_TEST_MOTO_SERVER is not set: run the tests with ./scripts/test, which installs moto and exports \
                 the path of its moto_server (this test starts, kills and restarts its own)"
            )
        })
    }

    /// Starts moto on `port` recording every request into `recording`.
    fn start(port: u16, recording: &Path) -> Moto {
        let child = Command::new(Self::binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ENABLE_RECORDING", "True")
            .env("MOTO_RECORDER_FILEPATH", recording)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto { child, port, frozen: false };
        moto.wait_ready();
        moto
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until moto answers HTTP (bounded: a server that never comes up fails the test).
    fn wait_ready(&self) {
        for _ in 0..300 {
            if self.call("GET", "/moto-api/").is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto did not start on port {}", self.port);
    }

    /// One plain HTTP/1.1 request to moto's own API; the status, or `None` when it does not answer.
    fn call(&self, method: &str, path: &str) -> Option<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
        let request =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.port);
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        response.split_whitespace().nth(1)?.parse().ok()
    }

    fn signal(&mut self, signal: &str) {
        let status = Command::new("kill").args([format!("-{signal}"), self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill -{signal}");
        self.frozen = signal == "STOP";
    }

    fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if self.frozen {
            // A stopped process still dies of SIGKILL; resume it anyway for a clean exit.
            self.signal("CONT");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

struct Api {
    router: Router<DynamoDbStore>,
    base: String,
    token: String,
}

impl Api {
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Option<u64>, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("host", "api.example.com")
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/scim+json")
            .body(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default())
            .expect("request");
        let response = tokio::time::timeout(HANG_GUARD, self.router.handle(request))
            .await
            .unwrap_or_else(|_| panic!("{method} {path} hung (the store has no attempt timeout?)"));
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let body = if response.body().is_empty() { Value::Null } else { serde_json::from_slice(response.body()).expect("JSON") };
        (response.status().as_u16(), retry_after, body)
    }

    /// The answer while the store is down: 503 with a `Retry-After`, a SCIM error body.
    async fn expect_unavailable(&self, method: &str, path: &str, body: Option<Value>) {
        let (status, retry_after, body) = self.send(method, path, body).await;
        assert_eq!(status, 503, "{method} {path} while DynamoDB is down: {body}");
        assert!(retry_after.is_some_and(|s| s >= 1), "{method} {path}: Retry-After {retry_after:?}");
        assert_eq!(body["status"], "503");
    }
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true})
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamodb_killed_frozen_and_restarted_mid_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recording = dir.path().join("moto-recording.jsonl");
    let port = free_port();
    let mut moto = Moto::start(port, &recording);
    let client = common::client_at(&moto.endpoint());
    let table = common::create_table(&client).await;
    // The Lambda functions' store (`DynamoDbStore::from_config`) has this attempt timeout.
    let store = DynamoDbStore::new(&client, table).with_attempt_timeout(aws_adapters::ATTEMPT_TIMEOUT);
    let service = Arc::new(Provisioning::new(store));
    let tenant = service.create_tenant("T", Some(100)).await.expect("tenant");
    let created = service
        .create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", Settings::default())
        .await
        .expect("integration");
    let api = Api { router: Router::new(service), base: format!("/scim/v2/{}", created.integration.id), token: created.token };

    let (status, _, before) = api.send("POST", "/Users", Some(user("before"))).await;
    assert_eq!(status, 201, "{before}");
    let before = before["id"].as_str().expect("id").to_string();

    // Frozen: connections are accepted (by the kernel) and never answered.
    moto.signal("STOP");
    api.expect_unavailable("GET", &format!("/Users/{before}"), None).await;
    moto.signal("CONT");
    assert_eq!(api.send("GET", &format!("/Users/{before}"), None).await.0, 200, "after the freeze");

    // Killed: connections are refused.
    moto.kill();
    api.expect_unavailable("GET", &format!("/Users/{before}"), None).await;
    api.expect_unavailable("POST", "/Users", Some(user("during"))).await;
    api.expect_unavailable(
        "PATCH",
        &format!("/Users/{before}"),
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]})),
    )
    .await;
    api.expect_unavailable("GET", "/Users?filter=userName+eq+%22before%22", None).await;

    // Restarted on the same port, its state rebuilt from the recording.
    let moto = Moto::start(port, &recording);
    assert_eq!(moto.call("POST", "/moto-api/recorder/replay-recording"), Some(200), "replaying the recording");
    let (status, _, got) = api.send("GET", &format!("/Users/{before}"), None).await;
    assert_eq!(status, 200, "written before the outage: {got}");
    assert_eq!((got["userName"].as_str(), got["active"].as_bool()), (Some("before"), Some(true)), "the failed PATCH wrote nothing");
    let (status, _, during) = api.send("POST", "/Users", Some(user("during"))).await;
    assert_eq!(status, 201, "the create refused during the outage, sent again: {during}");
    let (status, _, list) = api.send("GET", "/Users", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["totalResults"], 2, "{list}");
    drop(moto);
}
