use scim::cursor::{MAX_POSITION_LEN, MAX_TOKEN_LEN, decode, encode};
use scim::{ScimError, ScimType};

fn assert_invalid_cursor(result: Result<Vec<u8>, ScimError>, detail_mentions: &str) {
    let error = result.unwrap_err();
    assert_eq!((error.status, error.scim_type), (400, Some(ScimType::InvalidCursor)));
    assert!(error.detail.contains(detail_mentions), "{}", error.detail);
}

#[test]
fn round_trips_positions() {
    for position in [&b""[..], b"x", b"{\"pk\":\"TENANT#1\",\"sk\":\"USER#42\"}", &[0u8, 255, 10, 13]] {
        let token = encode(42, position);
        assert_eq!(decode(&token, 42).unwrap(), position);
    }
}

#[test]
fn tokens_use_only_url_unreserved_characters() {
    let token = encode(u64::MAX, &(0..=255).collect::<Vec<u8>>());
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
}

#[test]
fn a_cursor_from_another_query_is_refused() {
    assert_invalid_cursor(decode(&encode(1, b"pos"), 2), "different query");
}

#[test]
fn tampering_is_detected() {
    let token = encode(7, b"position-bytes");
    for index in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(decode(&tampered, 7).is_err(), "{tampered}");
    }
    let mut bytes = token.into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    assert_invalid_cursor(decode(&String::from_utf8(bytes).unwrap(), 7), "corrupted");
}

#[test]
fn garbage_is_refused() {
    assert_invalid_cursor(decode("not a cursor!", 1), "base64url");
    assert_invalid_cursor(decode("", 1), "empty");
    assert_invalid_cursor(decode("AAAA", 1), "truncated");
    assert_invalid_cursor(decode("ü", 1), "base64url");
}

#[test]
fn other_format_versions_are_refused() {
    let mut token_bytes = vec![9u8];
    token_bytes.extend_from_slice(&[0; 16]);
    use base64::Engine;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes);
    assert_invalid_cursor(decode(&token, 0), "version 9");
}

#[test]
fn oversize_tokens_are_refused_before_decoding() {
    assert_invalid_cursor(decode(&"A".repeat(MAX_TOKEN_LEN + 1), 1), "longer than");
}

#[test]
fn the_largest_allowed_position_fits() {
    let position = vec![7u8; MAX_POSITION_LEN];
    let token = encode(3, &position);
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert_eq!(decode(&token, 3).unwrap(), position);
    assert!(decode(&encode(3, &vec![7u8; MAX_POSITION_LEN + 3]), 3).is_err());
}

#[test]
fn padded_tokens_are_accepted() {
    let token = encode(5, b"ab");
    let padded = format!("{token}{}", "=".repeat((4 - token.len() % 4) % 4));
    assert_eq!(decode(&padded, 5).unwrap(), b"ab");
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_text_never_panics(token in ".{0,64}", fingerprint: u64) {
        let _ = decode(&token, fingerprint);
    }

    #[test]
    fn any_position_round_trips(position in proptest::collection::vec(proptest::num::u8::ANY, 0..256), fingerprint: u64) {
        proptest::prop_assert_eq!(decode(&encode(fingerprint, &position), fingerprint).unwrap(), position);
    }
}
