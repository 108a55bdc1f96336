//! Store positions inside opaque cursor tokens (SCIM list cursors, the admin API's user
//! and log pages), bound to the partition they walk: a cursor from another tenant's (or
//! another query's) partition is refused before it reaches the store.

use item_store::Cursor;
use scim::ScimError;

use crate::error::{Error, Result};

/// The token for a store position in `partition`; `fingerprint` ties it to its query.
pub fn encode_cursor(fingerprint: u64, partition: &str, position: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(4 + partition.len() + position.len());
    bytes.extend_from_slice(&(partition.len() as u32).to_be_bytes());
    bytes.extend_from_slice(partition.as_bytes());
    bytes.extend_from_slice(position);
    scim::cursor::encode(fingerprint, &bytes)
}

pub fn decode_cursor(token: &str, fingerprint: u64, partition: &str) -> Result<Cursor> {
    let bytes = scim::cursor::decode(token, fingerprint)?;
    unbind(&bytes, partition)
}

/// The store cursor inside already-decoded position bytes, if bound to `partition`.
pub fn unbind(bytes: &[u8], partition: &str) -> Result<Cursor> {
    let invalid = || Error::Scim(ScimError::invalid_cursor("the cursor does not belong to this list; restart without a cursor"));
    let (length, rest) = bytes.split_first_chunk::<4>().ok_or_else(invalid)?;
    let length = u32::from_be_bytes(*length) as usize;
    match rest.split_at_checked(length) {
        Some((bound, position)) if bound == partition.as_bytes() => Ok(Cursor(position.to_vec())),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_bound_to_their_partition() {
        let token = encode_cursor(7, "T#a#User", b"pos");
        assert_eq!(decode_cursor(&token, 7, "T#a#User").unwrap(), Cursor(b"pos".to_vec()));
        assert!(decode_cursor(&token, 7, "T#b#User").is_err());
        assert!(decode_cursor(&token, 8, "T#a#User").is_err());
    }
}
