//! Cold starts: the time from spawning a binary to its first answered request.
//!
//! * [`local`]: `scim-local` on a free port; ready = the first `200` to an authenticated
//!   `GET /Users?filter=...` (the credentials come from the data folder's `credentials.json`).
//!   The first start (empty data folder: creates the tenant) is reported apart from the
//!   restarts on the populated folder.
//! * [`lambda`]: a Lambda function binary with `AWS_LAMBDA_RUNTIME_API` pointed at a loopback
//!   Runtime API emulator that hands it one event and records when `/response` (or an
//!   error) is posted. The same listener stands in for DynamoDB (`AWS_ENDPOINT_URL_DYNAMODB`)
//!   and answers every call with an empty result (`{}`: no such item), so a request that
//!   authenticates is answered with a 401 after one store round trip.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::client::{Connection, Target, form_encode};

/// How long one start may take before it counts as failed.
const START_DEADLINE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Starts {
    /// Milliseconds, one per start, in order.
    pub ms: Vec<f64>,
}

impl Starts {
    pub fn median(&self) -> f64 {
        let mut sorted = self.ms.clone();
        sorted.sort_by(f64::total_cmp);
        match sorted.len() {
            0 => 0.0,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        }
    }

    pub fn max(&self) -> f64 {
        self.ms.iter().copied().fold(0.0, f64::max)
    }

    pub fn min(&self) -> f64 {
        self.ms.iter().copied().reduce(f64::min).unwrap_or(0.0)
    }
}

/// `scim-local` cold starts: the first one on an empty data folder, then `runs` restarts.
pub struct LocalColdStart {
    pub first_ms: f64,
    pub restarts: Starts,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Stops a child with SIGTERM (so that the embedded store closes cleanly), SIGKILL after 15 s.
fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).stderr(Stdio::null()).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn read_credentials(data_dir: &Path) -> Option<(String, String)> {
    let body: Value = serde_json::from_slice(&std::fs::read(data_dir.join("credentials.json")).ok()?).ok()?;
    Some((body.get("integration_id")?.as_str()?.to_string(), body.get("scim_token")?.as_str()?.to_string()))
}

/// One start of `scim-local` in `data_dir`: milliseconds until the first 200.
async fn local_start(binary: &Path, data_dir: &Path) -> Result<f64, String> {
    let port = free_port().map_err(|e| format!("free port: {e}"))?;
    let started = Instant::now();
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--data-dir"])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let query = format!("filter={}", form_encode("userName eq \"coldstart@loadgen.example\""));
    let result = loop {
        if started.elapsed() > START_DEADLINE {
            break Err(format!("no answer within {START_DEADLINE:?}"));
        }
        if let Some((integration, token)) = read_credentials(data_dir) {
            let target = Target::new(&format!("http://127.0.0.1:{port}/scim/v2/{integration}"), &token)?;
            let mut connection = Connection::new(target, Duration::from_secs(5));
            if let Ok(answer) = connection.send(Method::GET, "/Users", Some(&query), None).await
                && answer.status == 200
            {
                break Ok(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    };
    stop(child);
    result
}

/// Cold starts of `scim-local` in a new data folder under the system's temporary folder
/// (removed afterwards).
pub async fn local(binary: &Path, runs: usize) -> Result<LocalColdStart, String> {
    let data_dir = std::env::temp_dir().join(format!("scim-loadgen-coldstart-{}-{:08x}", std::process::id(), fastrand::u32(..)));
    let outcome = async {
        let first_ms = local_start(binary, &data_dir).await?;
        let mut restarts = Vec::with_capacity(runs);
        for _ in 0..runs {
            restarts.push(local_start(binary, &data_dir).await?);
        }
        Ok(LocalColdStart { first_ms, restarts: Starts { ms: restarts } })
    }
    .await;
    let _ = std::fs::remove_dir_all(&data_dir);
    outcome
}

/// What the emulator saw of one invocation.
#[derive(Debug, Clone)]
pub enum Invocation {
    /// The function posted its response: the body (for an API Gateway event, its `statusCode`).
    Response(Bytes),
    /// The function posted an invocation or init error.
    Error(Bytes),
}

#[derive(Debug, Clone)]
pub struct LambdaStart {
    pub ms: f64,
    pub outcome: Invocation,
}

impl LambdaStart {
    /// `response 200`, `response 401`, `error: ...`.
    pub fn describe(&self) -> String {
        match &self.outcome {
            Invocation::Response(body) => {
                let status = serde_json::from_slice::<Value>(body).ok().and_then(|v| v.get("statusCode").and_then(Value::as_u64));
                match status {
                    Some(status) => format!("response, statusCode {status}"),
                    None => "response".to_string(),
                }
            }
            Invocation::Error(body) => format!("error: {}", String::from_utf8_lossy(body).chars().take(200).collect::<String>()),
        }
    }
}

const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

struct Emulator {
    event: Bytes,
    served: Mutex<bool>,
    done: mpsc::UnboundedSender<(Instant, Invocation)>,
}

fn reply(status: StatusCode, body: impl Into<Bytes>, content_type: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, value);
    }
    response
}

async fn emulate(emulator: Arc<Emulator>, request: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if method == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        let first = match emulator.served.lock() {
            Ok(mut served) => !std::mem::replace(&mut *served, true),
            Err(_) => false,
        };
        if !first {
            // One event per start: the next poll waits until the process is stopped.
            std::future::pending::<()>().await;
        }
        let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() + 900_000).unwrap_or(0);
        let mut response = reply(StatusCode::OK, emulator.event.clone(), "application/json");
        let headers = response.headers_mut();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", REQUEST_ID.to_string()),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:scim-loadgen".to_string()),
            ("lambda-runtime-trace-id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1".to_string()),
        ] {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        return response;
    }
    if method == Method::POST && path.starts_with("/2018-06-01/runtime/") {
        let outcome = if path.ends_with("/response") { Invocation::Response(body) } else { Invocation::Error(body) };
        let _ = emulator.done.send((Instant::now(), outcome));
        return reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#, "application/json");
    }
    // Anything else is a DynamoDB call (AWS_ENDPOINT_URL_DYNAMODB): an empty result.
    reply(StatusCode::OK, "{}", "application/x-amz-json-1.0")
}

async fn lambda_start(binary: &Path, event: &Bytes, env: &[(String, String)]) -> Result<LambdaStart, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("emulator: {e}"))?;
    let address = listener.local_addr().map_err(|e| format!("emulator: {e}"))?;
    let (done, mut finished) = mpsc::unbounded_channel();
    let emulator = Arc::new(Emulator { event: event.clone(), served: Mutex::new(false), done });
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let emulator = Arc::clone(&emulator);
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let emulator = Arc::clone(&emulator);
                    async move { Ok::<_, Infallible>(emulate(emulator, request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "scim-loadgen-coldstart")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/scim-loadgen-coldstart")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDLOADGEN")
        .env("AWS_SECRET_ACCESS_KEY", "loadgen")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_DYNAMODB", format!("http://{address}"))
        .env("TABLE_NAME", "scim-loadgen-coldstart");
    for (name, value) in env {
        command.env(name, value);
    }
    let started = Instant::now();
    let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            server.abort();
            return Err(format!("{}: {e}", binary.display()));
        }
    };
    let outcome = tokio::time::timeout(START_DEADLINE, finished.recv()).await;
    let _ = Command::new("kill").args(["-KILL", &child.id().to_string()]).stderr(Stdio::null()).status();
    let mut child = child;
    let _ = child.wait();
    server.abort();
    match outcome {
        Ok(Some((at, outcome))) => Ok(LambdaStart { ms: at.duration_since(started).as_secs_f64() * 1000.0, outcome }),
        Ok(None) => Err("the emulator stopped".to_string()),
        Err(_) => Err(format!("no response within {START_DEADLINE:?}")),
    }
}

/// `runs` cold starts of a Lambda function binary handed `event` (a file's bytes).
pub async fn lambda(binary: &Path, event: Bytes, runs: usize, env: &[(String, String)]) -> Result<Vec<LambdaStart>, String> {
    let mut starts = Vec::with_capacity(runs);
    for _ in 0..runs {
        starts.push(lambda_start(binary, &event, env).await?);
    }
    Ok(starts)
}

/// The event file's bytes.
pub fn read_event(path: &PathBuf) -> Result<Bytes, String> {
    std::fs::read(path).map(Bytes::from).map_err(|e| format!("{}: {e}", path.display()))
}
