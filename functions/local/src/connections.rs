//! What keeps one client from holding the local server: how long a connection may take to
//! send a request, and how many connections are served at once.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The limits on connections (command-line flags of `scim-local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request head must be complete within this of the connection's start or of its
    /// previous answer. hyper runs one timer for both, so this is also the idle timeout of
    /// a keep-alive connection.
    pub head_timeout: Duration,
    /// A request body must be complete within this of its head.
    pub body_timeout: Duration,
    /// Connections served at once; one more is answered 503 with `Retry-After` and closed.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    /// Entra sends a request at once and keeps its connection busy; a client that waits
    /// longer than this between requests simply reconnects. 512 connections stay well
    /// inside the usual 1,024 file descriptors.
    fn default() -> Self {
        ConnectionLimits { head_timeout: Duration::from_secs(10), body_timeout: Duration::from_secs(30), max_connections: 512 }
    }
}

/// How long a refused connection may take to receive its 503 and close.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// The most of a refused connection's request head read before the answer.
const REFUSAL_HEAD_BYTES: usize = 16 * 1024;

/// Answers a connection over the cap with `503 Service Unavailable` and closes it. The
/// request head is read first (clients discard an answer that comes before their request)
/// but not parsed; after the answer, what the client still sends is read and dropped
/// until it closes (or the refusal's time is up), so that the answer is not lost to a
/// reset.
pub(crate) async fn refuse(mut stream: TcpStream, max_connections: usize) {
    let body = scim::ScimError::new(
        503,
        None,
        format!("the server is serving its maximum of {max_connections} connections; retry in a second (Retry-After)"),
    )
    .to_json()
    .to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/scim+json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let refusal = async {
        let mut head = Vec::new();
        let mut chunk = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < REFUSAL_HEAD_BYTES {
            match stream.read(&mut chunk).await? {
                0 => return Ok(()),
                n => head.extend_from_slice(&chunk[..n]),
            }
        }
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        while stream.read(&mut chunk).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    if let Ok(Err(error)) = tokio::time::timeout(REFUSAL_TIMEOUT, refusal).await {
        tracing::debug!(%error, "refused connection ended with an error");
    }
}
