//! A client cannot hold the local server (the real binary, over real TCP): connections
//! that never finish their request head or body are closed by the server, and past the
//! connection cap a new connection is answered 503 with `Retry-After` instead of waiting
//! or failing `accept`.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Http, Server};

/// How long a test waits for the server to close a connection before calling it held. A
/// bound for a hung test, far above the timeouts the servers below are started with.
const HELD: Duration = Duration::from_secs(60);

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.origin.trim_start_matches("http://")).expect("connect")
}

/// Reads until the server closes the connection (end of stream or reset); returns what it
/// sent before closing.
fn read_until_closed(mut stream: TcpStream) -> String {
    stream.set_read_timeout(Some(HELD)).expect("read timeout");
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the connection is still open after {HELD:?}: {e}"),
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_heads_are_closed_while_requests_keep_answering() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), None, &["--head-timeout", "3s"]);
    let slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut stream = connect(&server);
            stream.write_all(b"GET /scim/v2/x/Users HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: appl").expect("half a head");
            stream
        })
        .collect();

    // Meanwhile the server answers everyone else.
    let http = Http::new();
    let url = format!("{}/ServiceProviderConfig", server.scim());
    let mut latencies: Vec<Duration> = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        http.get(&url, &server.credentials.scim_token).await.expect(200);
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!("with 200 half-sent heads held open: 100 requests, p50 {:?}, max {:?}", latencies[50], latencies[99]);

    // And closes every one of the 200 (hyper closes without an answer).
    for stream in slow {
        read_until_closed(stream);
    }
    http.get(&url, &server.credentials.scim_token).await.expect(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stops_arriving_is_answered_408_and_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), None, &["--body-timeout", "2s"]);
    let mut stream = connect(&server);
    let path = format!("/scim/v2/{}/Users", server.credentials.integration_id);
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{\"userName\":",
        server.credentials.scim_token
    );
    stream.write_all(head.as_bytes()).expect("head and part of the body");
    let answer = read_until_closed(stream);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("application/scim+json"), "{answer}");
    assert!(answer.contains("\"status\":\"408\"") && answer.contains("did not arrive within 2s"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_connection_cap_a_connection_is_refused_politely() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), None, &["--max-connections", "3"]);
    // Three idle connections take every place (accepted in order, before the next one).
    let mut idle: Vec<TcpStream> = (0..3).map(|_| connect(&server)).collect();

    let http = Http::new();
    let url = format!("{}/ServiceProviderConfig", server.scim());
    let refused = http.get(&url, &server.credentials.scim_token).await;
    refused.expect_error(503, None);
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(refused.body["detail"].as_str().is_some_and(|d| d.contains("maximum of 3 connections")), "{:?}", refused.body);

    // One leaves: its place is served again (once the server has seen it close).
    drop(idle.pop());
    let deadline = Instant::now() + HELD;
    loop {
        let reply = http.get(&url, &server.credentials.scim_token).await;
        if reply.status == 200 {
            break;
        }
        reply.expect_error(503, None);
        assert!(Instant::now() < deadline, "the freed place was never served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
