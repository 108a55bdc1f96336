use scim::etag::{Precondition, check_if_match, check_if_none_match, etag};
use scim::{ScimError, ScimType};

#[test]
fn etag_is_weak_and_quoted() {
    assert_eq!(etag(3), "W/\"3\"");
}

#[test]
fn absent_if_match_passes() {
    assert_eq!(check_if_match(None, 3), Ok(()));
}

#[test]
fn star_matches_any_version() {
    assert_eq!(check_if_match(Some("*"), 3), Ok(()));
    assert_eq!(check_if_match(Some(" * "), 0), Ok(()));
}

#[test]
fn weak_and_strong_forms_match() {
    assert_eq!(check_if_match(Some("W/\"3\""), 3), Ok(()));
    assert_eq!(check_if_match(Some("\"3\""), 3), Ok(()));
}

#[test]
fn lists_match_when_any_member_matches() {
    assert_eq!(check_if_match(Some("\"1\", W/\"3\",\"7\""), 3), Ok(()));
    assert_eq!(check_if_match(Some("\"abc\", \"3\""), 3), Ok(()));
    assert_eq!(Precondition::parse("\"a,b\", W/\"2\"").unwrap(), Precondition::Versions(vec![2]));
}

#[test]
fn mismatch_is_412_naming_the_current_version() {
    let error = check_if_match(Some("W/\"2\""), 3).unwrap_err();
    assert_eq!(error.status, 412);
    assert!(error.detail.contains("W/\"3\""), "{}", error.detail);
    assert_eq!(check_if_match(Some("\"x\""), 3).unwrap_err().status, 412);
    assert_eq!(check_if_match(Some("\"1\", \"2\""), 3).unwrap_err().status, 412);
}

#[test]
fn unparsable_headers_are_400_invalid_value() {
    for bad in ["", " ", "3", "W/3", "\"3", "\"3\"\"4\"", "w/\"3\"", "\"a b\"", ",", "**"] {
        let error: ScimError = check_if_match(Some(bad), 3).unwrap_err();
        assert_eq!((error.status, error.scim_type), (400, Some(ScimType::InvalidValue)), "{bad:?}");
        assert!(check_if_none_match(Some(bad), 3).is_err(), "{bad:?}");
    }
}

#[test]
fn if_none_match_says_when_304_applies() {
    assert_eq!(check_if_none_match(None, 3), Ok(false));
    assert_eq!(check_if_none_match(Some("W/\"3\""), 3), Ok(true));
    assert_eq!(check_if_none_match(Some("\"3\""), 3), Ok(true));
    assert_eq!(check_if_none_match(Some("\"2\""), 3), Ok(false));
    assert_eq!(check_if_none_match(Some("*"), 3), Ok(true));
}

#[test]
fn huge_versions_round_trip() {
    assert_eq!(check_if_match(Some(&etag(u64::MAX)), u64::MAX), Ok(()));
    assert_eq!(check_if_match(Some("\"18446744073709551616\""), 0).unwrap_err().status, 412);
}

proptest::proptest! {
    #[test]
    fn arbitrary_headers_never_panic(header in ".{0,40}", version: u64) {
        let _ = check_if_match(Some(&header), version);
        let _ = check_if_none_match(Some(&header), version);
    }
}
