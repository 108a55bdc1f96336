//! Starts the real `scim-local` binary on a free port in a temporary data folder and talks
//! to it over real HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eaa_client::standin::StandinConfig;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub use scim_local::Credentials;

pub struct Server {
    child: Child,
    pub credentials: Credentials,
    pub origin: String,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts the binary and waits until it listens.
    pub fn start(data_dir: &Path) -> Server {
        Self::start_logging(data_dir, None)
    }

    /// As [`Server::start`], with every log level (`RUST_LOG=trace`) written to `log`.
    pub fn start_logging(data_dir: &Path, log: Option<&Path>) -> Server {
        Self::start_with(data_dir, log, &[])
    }

    /// As [`Server::start_logging`], with more command-line arguments.
    pub fn start_with(data_dir: &Path, log: Option<&Path>, args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scim-local"));
        command.args(["--port", "0", "--data-dir"]).arg(data_dir).args(args).stdout(Stdio::piped());
        match log {
            Some(log) => command.env("RUST_LOG", "trace").stderr(std::fs::File::create(log).expect("log file")),
            None => command.stderr(Stdio::null()),
        };
        let mut child = command.spawn().expect("scim-local starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let origin = loop {
            let line = lines.next().expect("scim-local printed its address").expect("stdout line");
            if let Some(rest) = line.strip_prefix("listening on ") {
                break rest.split(';').next().expect("origin").to_string();
            }
        };
        let credentials: Credentials =
            serde_json::from_slice(&std::fs::read(data_dir.join("credentials.json")).expect("credentials.json")).expect("credentials JSON");
        Server { child, credentials, origin, data_dir: data_dir.to_path_buf() }
    }

    /// Sends `signal` (INT or TERM) and waits for the exit.
    pub fn stop(mut self, signal: &str) -> ExitStatus {
        let status = Command::new("kill").args([format!("-{signal}"), self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "scim-local did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn scim(&self) -> &str {
        &self.credentials.scim_base_url
    }

    pub fn admin(&self) -> &str {
        &self.credentials.admin_base_url
    }

    /// Writes the credentials of the EAA stand-in at `addr` where the server reads the
    /// reference `name` (under `data_dir`, the server's); returns the file's path.
    pub fn write_eaa_credentials(&self, data_dir: &Path, name: &str, addr: SocketAddr, config: &StandinConfig) -> PathBuf {
        let file = data_dir.join("eaa-credentials").join(&self.credentials.tenant_id).join(format!("{name}.json"));
        std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
        let document = serde_json::json!({"host": format!("http://{addr}"), "clientToken": config.credentials.client_token,
            "clientSecret": config.credentials.client_secret, "accessToken": config.credentials.access_token, "contractId": config.contract_id});
        std::fs::write(&file, document.to_string()).expect("credentials file");
        file
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every response must be SCIM JSON (Entra's validator aborts otherwise).
    pub fn assert_scim_json(&self) -> &Self {
        assert_eq!(self.header("content-type"), Some("application/scim+json"), "{self:?}");
        self
    }

    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{:#}", self.body);
        self.assert_scim_json();
        &self.body
    }

    /// A SCIM error with this status (as a string) and optional scimType.
    pub fn expect_error(&self, status: u16, scim_type: Option<&str>) {
        let body = self.expect(status);
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert_eq!(body["status"], status.to_string());
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        if let Some(scim_type) = scim_type {
            assert_eq!(body["scimType"], scim_type, "{body:#}");
        }
    }
}

pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new() -> Http {
        Http { client: Client::builder(TokioExecutor::new()).build_http() }
    }

    pub async fn raw(&self, method: &str, url: &str, token: Option<&str>, headers: &[(&str, &str)], body: Bytes) -> Reply {
        self.try_raw(method, url, token, headers, body).await.expect("a response")
    }

    /// As [`Http::raw`], `None` when the server did not answer (it was killed).
    pub async fn try_raw(&self, method: &str, url: &str, token: Option<&str>, headers: &[(&str, &str)], body: Bytes) -> Option<Reply> {
        let mut request = http::Request::builder().method(method).uri(url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.client.request(request.body(Full::new(body)).expect("request")).await.ok()?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON body") };
        Some(Reply { status, headers, body })
    }

    pub async fn send(&self, method: &str, url: &str, token: &str, body: Option<Value>) -> Reply {
        let (headers, bytes): (&[(&str, &str)], Bytes) = match body {
            Some(body) => (&[("content-type", "application/scim+json")], Bytes::from(body.to_string())),
            None => (&[], Bytes::new()),
        };
        self.raw(method, url, Some(token), headers, bytes).await
    }

    pub async fn get(&self, url: &str, token: &str) -> Reply {
        self.send("GET", url, token, None).await
    }
}
