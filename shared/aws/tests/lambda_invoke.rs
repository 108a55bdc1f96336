//! "Sync now" and continuations as Lambda's asynchronous invoke. No Lambda service runs
//! here (moto's needs Docker to run a function), so a loopback HTTP listener stands in
//! for the Lambda endpoint and the test checks the request the SDK sends: the Invoke
//! operation on the named function, `X-Amz-Invocation-Type: Event`, and the manual event.

use aws_adapters::lambda_invoke::LambdaSyncTrigger;
use provisioning::SyncTrigger;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Accepts one request, answers `status`, and returns (request line, lowercase headers, body).
async fn answer_one(listener: &TcpListener, status: &str, body: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let (mut socket, _) = listener.accept().await.expect("accept");
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before the headers ended");
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string())).collect();
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = socket.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed before the body ended");
        buffer.extend_from_slice(&chunk[..n]);
    }
    let response =
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    socket.write_all(response.as_bytes()).await.expect("write");
    (request_line, headers, buffer[head_end..head_end + length].to_vec())
}

fn trigger(endpoint: &str) -> LambdaSyncTrigger {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_lambda::config::Credentials::new("test", "test", None, None, "static"))
        .build();
    LambdaSyncTrigger::new(aws_sdk_lambda::Client::from_conf(config), "scim-dev-eaa-sync")
}

#[tokio::test]
async fn sync_now_is_an_asynchronous_invoke_with_the_manual_event() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let trigger = trigger(&endpoint);
    let (sent, (request_line, headers, body)) =
        tokio::join!(trigger.trigger("tenant-1", "eaa-1", 3), answer_one(&listener, "202 Accepted", ""));
    assert_eq!(sent, Ok(()));
    assert!(request_line.starts_with("POST /2015-03-31/functions/scim-dev-eaa-sync/invocations "), "{request_line}");
    assert!(headers.iter().any(|(n, v)| n == "x-amz-invocation-type" && v == "Event"), "{headers:?}");
    assert!(headers.iter().any(|(n, v)| n == "authorization" && v.starts_with("AWS4-HMAC-SHA256")), "signed: {headers:?}");
    let event: Value = serde_json::from_slice(&body).expect("JSON event");
    assert_eq!(event, json!({"tenant": "tenant-1", "integration": "eaa-1", "continuation": 3}));
}

#[tokio::test]
async fn a_refused_invoke_is_reported_not_hidden() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let trigger = trigger(&endpoint);
    let refusal = r#"{"Type":"User","message":"User is not authorized to perform: lambda:InvokeFunction"}"#;
    let (sent, _) = tokio::join!(trigger.trigger("tenant-1", "eaa-1", 0), answer_one(&listener, "403 Forbidden", refusal));
    let error = sent.expect_err("a 403 is an error");
    assert!(error.contains("scim-dev-eaa-sync") && error.contains("not authorized"), "{error}");
}
