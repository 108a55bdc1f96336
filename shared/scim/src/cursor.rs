//! RFC 9865 cursor tokens. The storage layer's own continuation (for example a
//! serialized last-evaluated key) travels inside an opaque, URL-safe token that also
//! carries the fingerprint of the query it continues, so that a cursor replayed
//! against a different filter or sort order is refused instead of silently
//! returning the wrong page.
//!
//! The checksum catches corrupted or hand-edited tokens; it is not a signature.
//! The position bytes come back from the client, so the storage layer must still
//! treat them as untrusted (check that a decoded key belongs to the caller's tenant).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Result, ScimError};

/// Longest token accepted, in characters: refuses hostile input before decoding it.
pub const MAX_TOKEN_LEN: usize = 2048;

/// Longest position whose token stays within [`MAX_TOKEN_LEN`]. [`encode`] does not
/// refuse longer ones, but [`decode`] would, so the store must keep below this.
pub const MAX_POSITION_LEN: usize = MAX_TOKEN_LEN / 4 * 3 - HEADER_LEN - CHECK_LEN;

/// How long the store keeps a cursor valid, as advertised in `/ServiceProviderConfig`.
pub const CURSOR_TIMEOUT_SECS: u64 = 3600;

const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 8;
const CHECK_LEN: usize = 8;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// 64-bit FNV-1a over several byte strings. Each part is followed by its length so
/// that moving bytes from one part to the next changes the hash.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash = FNV_OFFSET;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    for part in parts {
        feed(part);
        feed(&(part.len() as u64).to_be_bytes());
    }
    hash
}

/// Wraps a store position into a cursor token for the query with this fingerprint
/// (see [`crate::list::ListQuery::fingerprint`]).
pub fn encode(query_fingerprint: u64, position: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(HEADER_LEN + position.len() + CHECK_LEN);
    bytes.push(FORMAT_VERSION);
    bytes.extend_from_slice(&query_fingerprint.to_be_bytes());
    bytes.extend_from_slice(position);
    let check = fnv1a(&[&bytes]);
    bytes.extend_from_slice(&check.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The store position inside a token issued by [`encode`] for the same query.
pub fn decode(token: &str, query_fingerprint: u64) -> Result<Vec<u8>> {
    if token.is_empty() {
        return Err(ScimError::invalid_cursor("the cursor is empty; omit it or send it empty only to request the first page"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(ScimError::invalid_cursor(format!("the cursor is longer than {MAX_TOKEN_LEN} characters")));
    }
    // Some clients re-pad base64 values; padding carries no information.
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| ScimError::invalid_cursor("the cursor is not a cursor issued by this service (not base64url)"))?;
    if bytes.len() < HEADER_LEN + CHECK_LEN {
        return Err(ScimError::invalid_cursor("the cursor is truncated"));
    }
    if bytes[0] != FORMAT_VERSION {
        return Err(ScimError::invalid_cursor(format!(
            "cursor format version {} is not supported; restart the query without a cursor",
            bytes[0]
        )));
    }
    let (body, check) = bytes.split_at(bytes.len() - CHECK_LEN);
    if check != fnv1a(&[body]).to_be_bytes() {
        return Err(ScimError::invalid_cursor("the cursor is corrupted; send nextCursor or previousCursor exactly as received"));
    }
    let (header, position) = body.split_at(HEADER_LEN);
    if header[1..] != query_fingerprint.to_be_bytes() {
        return Err(ScimError::invalid_cursor(
            "the cursor belongs to a different query; filter, sortBy and sortOrder must stay the same across pages",
        ));
    }
    Ok(position.to_vec())
}
