//! Hostile input where the transport matters (issue 7), over real TCP against the real
//! `scim-local` binary: oversized bodies, bytes that are not UTF-8 in the request line,
//! header injection, URIs and ids past the transport's limits. The router-level cases are
//! in `shared/http/tests/hostile.rs`.
//!
//! Requests are written byte for byte on a `TcpStream` (an HTTP client would refuse to
//! send most of them). Read timeouts below only keep a broken server from hanging the
//! test; nothing here measures time.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Server;
use serde_json::Value;

/// Keeps a wedged server from hanging the test run (not a performance threshold).
const HANG_GUARD: Duration = Duration::from_secs(60);

struct RawReply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// A SCIM error body with this status.
    #[track_caller]
    fn expect_scim_error(&self, what: &str, status: u16) -> Value {
        assert_eq!(self.status, status, "{what}: {:?}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some(b"application/scim+json".as_slice()), "{what}");
        let body = self.json();
        assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{what}: {body}");
        assert_eq!(body["status"], status.to_string(), "{what}: {body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{what}: {body}");
        body
    }
}

fn host_port(server: &Server) -> String {
    server.origin.trim_start_matches("http://").to_string()
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(host_port(server)).expect("connect");
    stream.set_read_timeout(Some(HANG_GUARD)).expect("timeout");
    stream.set_write_timeout(Some(HANG_GUARD)).expect("timeout");
    stream
}

/// Reads one response (head, then `Content-Length` bytes of body, or up to EOF).
fn read_reply(stream: &mut TcpStream) -> RawReply {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).expect("the server answers");
        assert!(n > 0, "the server closed the connection without an answer: {:?}", String::from_utf8_lossy(&buffer));
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line {status_line:?}"));
    let raw_head = &buffer[..head_end];
    let headers: Vec<(String, Vec<u8>)> = raw_head
        .split(|&b| b == b'\n')
        .skip(1)
        .filter_map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let colon = line.iter().position(|&b| b == b':')?;
            Some((String::from_utf8_lossy(&line[..colon]).trim().to_string(), line[colon + 1..].trim_ascii().to_vec()))
        })
        .collect();
    let mut body = buffer[head_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok());
    match length {
        Some(length) => {
            while body.len() < length {
                let n = stream.read(&mut chunk).expect("body");
                assert!(n > 0, "body cut short");
                body.extend_from_slice(&chunk[..n]);
            }
            body.truncate(length);
        }
        None => {
            let _ = stream.read_to_end(&mut body);
        }
    }
    RawReply { status, headers, body }
}

fn exchange(server: &Server, request: &[u8]) -> RawReply {
    let mut stream = connect(server);
    stream.write_all(request).expect("send");
    read_reply(&mut stream)
}

fn request(method: &str, target: &[u8], host: &str, headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for header in headers {
        out.extend_from_slice(header);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn users_path(server: &Server) -> String {
    format!("/scim/v2/{}/Users", server.credentials.integration_id)
}

fn auth(server: &Server) -> Vec<u8> {
    format!("Authorization: Bearer {}", server.credentials.scim_token).into_bytes()
}

/// The server still answers a plain request on a new connection.
#[track_caller]
fn still_serving(server: &Server) {
    let host = host_port(server);
    let reply = exchange(server, &request("GET", users_path(server).as_bytes(), &host, &[&auth(server), b"Connection: close"], b""));
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));
}

#[test]
fn a_10_mb_body_is_413_before_it_is_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let host = host_port(&server);
    let ten_mb = 10 * 1024 * 1024;
    let path = users_path(&server);
    for extra in [&b"Content-Type: application/scim+json"[..], b"Expect: 100-continue"] {
        let mut stream = connect(&server);
        // The head only: the answer must come without the body being sent at all, so the
        // server cannot have read it (into memory or anywhere).
        let head = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {ten_mb}\r\n");
        stream.write_all(head.as_bytes()).expect("head");
        stream.write_all(&auth(&server)).expect("auth");
        stream.write_all(b"\r\n").expect("crlf");
        stream.write_all(extra).expect("header");
        stream.write_all(b"\r\n\r\n").expect("end of head");
        let reply = read_reply(&mut stream);
        let body = reply.expect_scim_error("10 MB declared", 413);
        assert!(body["detail"].as_str().unwrap_or_default().contains("1048576"), "{body}");
        assert_eq!(reply.header("connection"), Some(b"close".as_slice()));
        assert!(reply.header("x-request-id").is_some(), "every answer carries a request id");
        // No `100 Continue` was sent first: the 413 is the first answer.
        // Sending the body now finds the connection closed (or is discarded); either way the
        // server is not wedged and serves the next client.
        let megabyte = vec![b'x'; 1 << 20];
        for _ in 0..10 {
            if stream.write_all(&megabyte).is_err() {
                break;
            }
        }
        still_serving(&server);
    }
    // Unauthenticated and on an unknown path: still 413 first (the size is checked before
    // anything else), and the server keeps serving.
    let reply = exchange(&server, format!("PUT /nowhere HTTP/1.1\r\nHost: {host}\r\nContent-Length: {ten_mb}\r\n\r\n").as_bytes());
    reply.expect_scim_error("10 MB to an unknown path", 413);
    // A chunked body (no declared length) is cut at the limit: the server stops reading at
    // 1 MiB + 1 and answers 413. It is written from another thread while this one reads, as
    // a client streaming a body would.
    let mut stream = connect(&server);
    let head = format!("POST {path} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n");
    stream.write_all(head.as_bytes()).expect("head");
    stream.write_all(&auth(&server)).expect("auth");
    stream.write_all(b"\r\n\r\n").expect("end of head");
    let mut writer = stream.try_clone().expect("clone");
    let sender = std::thread::spawn(move || {
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..(ten_mb / chunk.len()) {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if writer.write_all(&framed).is_err() {
                return false;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
        true
    });
    let reply = read_reply(&mut stream);
    reply.expect_scim_error("10 MB chunked", 413);
    drop(stream);
    let _ = sender.join();
    still_serving(&server);
}

#[test]
fn bytes_that_are_not_utf8_and_uris_past_the_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let host = host_port(&server);
    let users = users_path(&server);
    let auth = auth(&server);
    // Percent-encoded bytes that are not UTF-8: the router's SCIM errors.
    let reply = exchange(&server, &request("GET", format!("{users}/%FF%FE").as_bytes(), &host, &[&auth], b""));
    reply.expect_scim_error("%FF in the path", 404);
    let reply = exchange(&server, &request("GET", format!("{users}?filter=userName+eq+%22%FF%22").as_bytes(), &host, &[&auth], b""));
    let body = reply.expect_scim_error("%FF in the query", 400);
    assert_eq!(body["scimType"], "invalidSyntax");
    let reply = exchange(&server, &request("POST", users.as_bytes(), &host, &[&auth], b"{\"userName\":\"\xff\"}"));
    let body = reply.expect_scim_error("\\xff in the body", 400);
    assert_eq!(body["scimType"], "invalidSyntax");
    // Raw bytes that are not ASCII in the request line, and a URI longer than 64 KB: hyper
    // refuses them before the router sees a request (400 / 414 with an empty body; see the
    // report: hyper has no hook for the body of its own parse errors). Never a 5xx, and the
    // server keeps serving.
    let long = format!("{users}/{}", "a".repeat(100_000));
    for (what, target) in [("raw \\xff in the path", [users.as_bytes(), b"/\xff\xfe"].concat()), ("100 KB id", long.into_bytes())] {
        let mut stream = connect(&server);
        stream.write_all(&request("GET", &target, &host, &[&auth, b"Connection: close"], b"")).expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!((400..500).contains(&status) || answer.is_empty(), "{what}: {text}");
        still_serving(&server);
    }
    // A 60 KB id fits in a URI: the router's 404, with the id not echoed whole.
    let reply = exchange(&server, &request("GET", format!("{users}/{}", "a".repeat(60_000)).as_bytes(), &host, &[&auth], b""));
    reply.expect_scim_error("60 KB id", 404);
    assert!(reply.body.len() < 2_000, "{} bytes", reply.body.len());
}

#[test]
fn header_injection_never_reaches_a_response_header() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let host = host_port(&server);
    let users = users_path(&server);
    let auth = auth(&server);
    let user = br#"{"userName":"inject@x.test"}"#;
    // A CR/LF inside a value ends the header on the wire: what follows is a header of its
    // own (never echoed), and the first part is checked like any request id.
    let reply = exchange(
        &server,
        &request(
            "POST",
            users.as_bytes(),
            &host,
            &[&auth, b"X-Request-Id: abc\r\nSet-Cookie: injected=1", b"Content-Type: application/json"],
            user,
        ),
    );
    assert_eq!(reply.status, 201, "{:?}", String::from_utf8_lossy(&reply.body));
    assert!(reply.header("set-cookie").is_none());
    assert_eq!(reply.header("x-request-id"), Some(b"abc".as_slice()));
    let location = String::from_utf8(reply.header("location").expect("Location").to_vec()).expect("ASCII");
    assert!(location.starts_with(&server.origin), "{location}");
    // Bare LF, bare CR, obs-fold and NUL inside a value: refused by hyper (400) or read
    // as separate headers; never echoed, never a 5xx.
    for header in [
        &b"X-Request-Id: a\nSet-Cookie: injected=2"[..],
        b"X-Request-Id: a\rSet-Cookie: injected=3",
        b"X-Request-Id: a\r\n Set-Cookie: injected=4",
        b"X-Request-Id: a\x00b",
        b"If-Match: \"1\"\r\nSet-Cookie: injected=5",
    ] {
        let mut stream = connect(&server);
        let close = b"Connection: close".as_slice();
        stream.write_all(&request("DELETE", format!("{users}/nobody").as_bytes(), &host, &[&auth, header, close], b"")).expect("send");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!((400..500).contains(&status), "{header:?}: {text}");
        let head = text.split("\r\n\r\n").next().unwrap_or_default().to_ascii_lowercase();
        assert!(!head.contains("set-cookie") && !head.contains("injected"), "{header:?}: {text}");
        // Every header line of the answer is one line: no raw CR or LF inside values.
        for line in head.split("\r\n") {
            assert!(!line.contains('\r') && !line.contains('\n'), "{line:?}");
        }
    }
    // A Host that is not a host and port is not echoed into Location (nor the body).
    let reply = exchange(&server, &request("POST", users.as_bytes(), "evil.test/x?", &[&auth], br#"{"userName":"inject2@x.test"}"#));
    assert!(reply.status == 201 || reply.status == 400, "{:?}", String::from_utf8_lossy(&reply.body));
    if reply.status == 201 {
        let location = String::from_utf8(reply.header("location").expect("Location").to_vec()).expect("ASCII");
        assert!(!location.contains("evil.test"), "{location}");
        assert!(!String::from_utf8_lossy(&reply.body).contains("evil.test"));
    }
    still_serving(&server);
}

/// An enrollment link's token is a credential: the log shows `/enroll/{token}` however the
/// path spells `enroll` (the router decodes segments before routing, so `/%65nroll/..` is
/// the same endpoint).
#[test]
fn enrollment_tokens_stay_out_of_the_log_however_the_path_is_spelled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("server.log");
    let server = Server::start_logging(&dir.path().join("data"), Some(&log));
    let host = host_port(&server);
    let marker = "linktokenmarker0123456789";
    for path in [format!("/enroll/{marker}"), format!("/%65nroll/{marker}"), format!("//%65%6E%72%6F%6C%6C/{marker}")] {
        let reply = exchange(&server, &request("GET", path.as_bytes(), &host, &[b"Connection: close"], b""));
        reply.expect_scim_error(&path, 400);
    }
    assert!(server.stop("TERM").success());
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("/enroll/{token}"), "the log has the request lines");
    assert!(!text.contains(marker), "a link token reached the log");
}
