//! A lean HTTP/1.1 client: one connection per worker (no pool, no locks), `TCP_NODELAY`,
//! reconnects when the server closes (HTTP/1.0 servers close after every answer). Plain
//! `http://` only: the load generator measures servers on loopback.

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where the requests go: a SCIM base URL (`http://host:port/scim/v2/xyz`, optionally with
/// a query such as `?aadOptscim062020` that is appended to every request) and its token.
#[derive(Debug, Clone)]
pub struct Target {
    authority: String,
    host: HeaderValue,
    base_path: String,
    extra_query: Option<String>,
    authorization: Option<HeaderValue>,
}

impl Target {
    /// `url` must be `http://host:port/path`; `token` may be empty (no Authorization header).
    pub fn new(url: &str, token: &str) -> Result<Target, String> {
        let uri: Uri = url.trim().parse().map_err(|e| format!("--url {url:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => return Err(format!("--url: only http:// is supported (loopback benchmarking), not {other}://")),
            None => return Err(format!("--url {url:?} needs http://host:port/...")),
        }
        let authority = uri.authority().ok_or_else(|| format!("--url {url:?} has no host"))?;
        let authority = if authority.port().is_some() { authority.to_string() } else { format!("{}:80", authority.host()) };
        let host =
            HeaderValue::from_str(uri.authority().map(|a| a.as_str()).unwrap_or_default()).map_err(|e| format!("--url host: {e}"))?;
        let base_path = uri.path().trim_end_matches('/').to_string();
        let extra_query = uri.query().filter(|q| !q.is_empty()).map(str::to_string);
        let authorization = if token.is_empty() {
            None
        } else {
            Some(
                HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| "--token holds characters not allowed in a header".to_string())?,
            )
        };
        Ok(Target { authority, host, base_path, extra_query, authorization })
    }

    /// The request target for `path` (starting with `/`, relative to the base URL) and an
    /// optional query (already encoded).
    pub fn target(&self, path: &str, query: Option<&str>) -> String {
        let mut target = format!("{}{}", self.base_path, path);
        let queries: Vec<&str> = query.into_iter().chain(self.extra_query.as_deref()).collect();
        if !queries.is_empty() {
            target.push('?');
            target.push_str(&queries.join("&"));
        }
        target
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// One answer: status and whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// One keep-alive connection, opened on first use and reopened after the server closed it.
pub struct Connection {
    target: Target,
    sender: Option<SendRequest<Full<Bytes>>>,
    timeout: Duration,
}

impl Connection {
    pub fn new(target: Target, timeout: Duration) -> Connection {
        Connection { target, sender: None, timeout }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(&self.target.authority).await.map_err(|e| format!("connect: {}", e.kind()))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends one request (`path` relative to the base URL) and reads the whole answer, within
    /// the timeout. An error is a short reason (`timeout`, `connect: ConnectionRefused`, ...).
    pub async fn send(&mut self, method: Method, path: &str, query: Option<&str>, body: Option<Bytes>) -> Result<Answer, String> {
        let target = self.target.target(path, query);
        match tokio::time::timeout(self.timeout, self.exchange(method, &target, body)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection may still carry the late answer: never reuse it.
                self.sender = None;
                Err("timeout".to_string())
            }
        }
    }

    async fn exchange(&mut self, method: Method, target: &str, body: Option<Bytes>) -> Result<Answer, String> {
        let mut builder = Request::builder().method(method).uri(target).header(HOST, self.target.host.clone());
        if let Some(authorization) = &self.target.authorization {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, HeaderValue::from_static("application/scim+json"));
        }
        let request = builder.body(Full::new(body.unwrap_or_default())).map_err(|e| format!("request: {e}"))?;
        let reusable = match self.sender.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match reusable {
            Some(sender) => sender,
            None => {
                let mut sender = self.connect().await?;
                sender.ready().await.map_err(|e| format!("connection: {e}"))?;
                sender
            }
        };
        let response = sender.send_request(request).await.map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let keep_alive = match response.headers().get(CONNECTION).and_then(|v| v.to_str().ok()) {
            Some(value) if value.eq_ignore_ascii_case("close") => false,
            Some(value) if value.eq_ignore_ascii_case("keep-alive") => true,
            _ => response.version() != Version::HTTP_10,
        };
        let body = response.into_body().collect().await.map_err(|e| format!("body: {e}"))?.to_bytes();
        if keep_alive {
            self.sender = Some(sender);
        }
        Ok(Answer { status, body })
    }
}

/// Percent-encodes a query value the way Entra sends it (form encoding: space as `+`).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_keep_the_base_path_and_the_tenant_url_query() {
        let target = Target::new("http://127.0.0.1:8080/scim/v2/abc/?aadOptscim062020", "t").expect("target");
        assert_eq!(target.authority(), "127.0.0.1:8080");
        assert_eq!(target.target("/Users", Some("filter=x")), "/scim/v2/abc/Users?filter=x&aadOptscim062020");
        assert_eq!(target.target("/Users/1", None), "/scim/v2/abc/Users/1?aadOptscim062020");
        assert!(Target::new("https://example.com/scim", "t").is_err());
        assert!(Target::new("example.com/scim", "t").is_err());
    }

    #[test]
    fn form_encoding_matches_entra() {
        assert_eq!(form_encode(r#"userName eq "a@b.com""#), "userName+eq+%22a%40b.com%22");
    }
}
