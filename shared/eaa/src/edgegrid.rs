//! Akamai EdgeGrid request signing (EG1-HMAC-SHA256), as docs/EAA.md §3 describes it, checked
//! against the official test vectors. Used by the client to sign and by the stand-in
//! server to verify.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Only the first 128 KiB of a POST body are hashed (EdgeGrid's max body).
const MAX_BODY: usize = 131_072;

/// The client's credentials for one EAA API client.
#[derive(Clone, PartialEq, Eq)]
pub struct EdgeGridCredentials {
    pub client_token: String,
    pub client_secret: String,
    pub access_token: String,
}

impl std::fmt::Debug for EdgeGridCredentials {
    /// Never prints the secret (nor the tokens): logs must not carry credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EdgeGridCredentials { .. }")
    }
}

/// What is signed of a request.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub scheme: &'a str,
    pub host: &'a str,
    /// Path and, if any, `?` and the query.
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// base64(HMAC-SHA256(client_secret, timestamp)).
pub fn signing_key(client_secret: &str, timestamp: &str) -> String {
    hmac_base64(client_secret.as_bytes(), timestamp.as_bytes())
}

/// base64(SHA-256(body[..128 KiB])) for a POST with a body, else empty.
pub fn content_hash(method: &str, body: &[u8]) -> String {
    if method.eq_ignore_ascii_case("POST") && !body.is_empty() {
        STANDARD.encode(Sha256::digest(&body[..body.len().min(MAX_BODY)]))
    } else {
        String::new()
    }
}

/// The `Authorization` header value without the signature (ends with `;`).
pub fn auth_header(credentials: &EdgeGridCredentials, timestamp: &str, nonce: &str) -> String {
    format!(
        "EG1-HMAC-SHA256 client_token={};access_token={};timestamp={timestamp};nonce={nonce};",
        credentials.client_token, credentials.access_token
    )
}

/// The signature of a request whose auth header (without signature) is `auth`.
pub fn signature(client_secret: &str, timestamp: &str, request: &SignedRequest<'_>, auth: &str) -> String {
    let data = [
        request.method.to_ascii_uppercase().as_str(),
        request.scheme,
        request.host,
        request.path_and_query,
        "",
        &content_hash(request.method, request.body),
        auth,
    ]
    .join("\t");
    hmac_base64(signing_key(client_secret, timestamp).as_bytes(), data.as_bytes())
}

/// The full `Authorization` header.
pub fn authorization(credentials: &EdgeGridCredentials, timestamp: &str, nonce: &str, request: &SignedRequest<'_>) -> String {
    let auth = auth_header(credentials, timestamp, nonce);
    let signature = signature(&credentials.client_secret, timestamp, request, &auth);
    format!("{auth}signature={signature}")
}

/// EdgeGrid's timestamp: UTC `yyyyMMddTHH:mm:ss+0000`.
pub fn timestamp(now: time::OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!("{:04}{:02}{:02}T{:02}:{:02}:{:02}+0000", now.year(), u8::from(now.month()), now.day(), now.hour(), now.minute(), now.second())
}

/// The fields of a received `Authorization` header (for the stand-in server's check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    pub client_token: String,
    pub access_token: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
    /// The header up to and including the `;` before `signature=`.
    pub signed_part: String,
}

pub fn parse_authorization(header: &str) -> Option<ParsedAuthorization> {
    let rest = header.strip_prefix("EG1-HMAC-SHA256 ")?;
    let at = header.find("signature=")?;
    let mut fields = std::collections::HashMap::new();
    for part in rest.split(';') {
        if let Some((name, value)) = part.split_once('=') {
            fields.insert(name.trim(), value);
        }
    }
    Some(ParsedAuthorization {
        client_token: fields.get("client_token")?.to_string(),
        access_token: fields.get("access_token")?.to_string(),
        timestamp: fields.get("timestamp")?.to_string(),
        nonce: fields.get("nonce")?.to_string(),
        signature: header[at + "signature=".len()..].to_string(),
        signed_part: header[..at].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "akaa-baseurl-xxxxxxxxxxx-xxxxxxxxxxxxx.luna.akamaiapis.net";
    const TIMESTAMP: &str = "20140321T19:34:21+0000";
    const NONCE: &str = "nonce-xx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

    fn credentials() -> EdgeGridCredentials {
        EdgeGridCredentials {
            client_token: "akab-client-token-xxx-xxxxxxxxxxxxxxxx".into(),
            client_secret: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx=".into(),
            access_token: "akab-access-token-xxx-xxxxxxxxxxxxxxxx".into(),
        }
    }

    fn sign(method: &str, path: &str, body: &[u8]) -> String {
        let request = SignedRequest { method, scheme: "https", host: HOST, path_and_query: path, body };
        let header = authorization(&credentials(), TIMESTAMP, NONCE, &request);
        let parsed = parse_authorization(&header).expect("parses");
        assert_eq!((parsed.timestamp.as_str(), parsed.nonce.as_str()), (TIMESTAMP, NONCE));
        parsed.signature
    }

    #[test]
    fn official_vectors() {
        assert_eq!(signing_key(&credentials().client_secret, TIMESTAMP), "znsRMDBRqTXGJ7Ojip3/h2FGPu3LuoMYWgv9PKEnE/o=");
        assert_eq!(sign("GET", "/", b""), "tL+y4hxyHxgWVD30X3pWnGKHcPzmrIF+LThiAOhMxYU=");
        assert_eq!(sign("GET", "/testapi/v1/t1?p1=1&p2=2", b""), "hKDH1UlnQySSHjvIcZpDMbQHihTQ0XyVAKZaApabdeA=");
        let body = b"datadatadatadatadatadatadatadata";
        assert_eq!(content_hash("POST", body), "fDimoYqXOLntG3If/Z0K2aS9I19Pkv9P5OMCoL8lY0w=");
        assert_eq!(sign("POST", "/testapi/v1/t3", body), "hXm4iCxtpN22m4cbZb4lVLW5rhX8Ca82vCFqXzSTPe4=");
    }

    #[test]
    fn header_shape_and_timestamp() {
        let auth = auth_header(&credentials(), TIMESTAMP, NONCE);
        assert!(auth.starts_with("EG1-HMAC-SHA256 client_token=akab-client-token") && auth.ends_with(';'));
        let at = time::macros::datetime!(2014-03-21 19:34:21 UTC);
        assert_eq!(timestamp(at), TIMESTAMP);
        assert!(format!("{:?}", credentials()).find("xxxx").is_none());
    }
}
