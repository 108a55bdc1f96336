//! Several values of one `type` in a multi-valued attribute (two `work` emails): accepted
//! on create, replace and PATCH; only `primary` is limited to one value (RFC 7643 2.4).
//! Filtered paths that match several values change every match (RFC 7644 3.5.2).

use scim::filter;
use scim::patch::{PatchRequest, apply_patch};
use scim::resource::{prepare_create, prepare_replace};
use scim::schema::USER_RESOURCE;
use scim::{ScimError, ScimType};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

fn two_work_emails() -> Value {
    json!([{"type": "work", "value": "anna33@gmail.com", "primary": true}, {"type": "work", "value": "anna33@example.com"}])
}

fn user(extra: Value) -> Value {
    let mut base = json!({"schemas": [USER], "id": "u-1", "userName": "anna", "active": true});
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

fn patched(before: &Value, operations: Value) -> Result<Value, ScimError> {
    let request =
        PatchRequest::from_json(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}))?;
    let mut resource = before.clone();
    apply_patch(&USER_RESOURCE, &mut resource, &request)?;
    Ok(resource)
}

#[test]
fn create_and_replace_accept_several_values_of_one_type() {
    let created = prepare_create(&USER_RESOURCE, &json!({"userName": "anna", "emails": two_work_emails()})).unwrap();
    assert_eq!(created["emails"], two_work_emails());
    // Every typed multi-valued attribute, in another case of the type too.
    let body = json!({"userName": "anna",
        "phoneNumbers": [{"type": "mobile", "value": "1"}, {"type": "Mobile", "value": "2"}],
        "addresses": [{"type": "work", "locality": "A"}, {"type": "work", "locality": "B"}],
        "ims": [{"type": "skype", "value": "a"}, {"type": "skype", "value": "b"}],
        "photos": [{"type": "photo", "value": "https://x/1"}, {"type": "photo", "value": "https://x/2"}],
        "roles": [{"type": "r", "value": "a"}, {"type": "r", "value": "b"}],
        "entitlements": [{"type": "e", "value": "a"}, {"type": "e", "value": "b"}],
        "x509Certificates": [{"type": "c", "value": "YQ=="}, {"type": "c", "value": "Yg=="}]});
    let created = prepare_create(&USER_RESOURCE, &body).unwrap();
    for name in ["phoneNumbers", "addresses", "ims", "photos", "roles", "entitlements", "x509Certificates"] {
        assert_eq!(created[name].as_array().map(Vec::len), Some(2), "{name}: {created}");
    }
    let existing = user(json!({"emails": [{"type": "work", "value": "old@x"}]}));
    let replaced = prepare_replace(&USER_RESOURCE, &existing, &json!({"userName": "anna", "emails": two_work_emails()})).unwrap();
    assert_eq!(replaced["emails"], two_work_emails());
}

#[test]
fn primary_stays_limited_to_one_value() {
    let body = json!({"userName": "anna", "emails": [
        {"type": "work", "value": "a@x", "primary": true}, {"type": "work", "value": "b@x", "primary": "True"}]});
    let error = prepare_create(&USER_RESOURCE, &body).unwrap_err();
    assert_eq!((error.status, error.scim_type), (400, Some(ScimType::InvalidValue)));
    assert!(error.detail.contains("2 values marked primary"), "{}", error.detail);
    // A filter matching both work emails cannot make both primary.
    let before = user(json!({"emails": two_work_emails()}));
    let error = patched(&before, json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true}])).unwrap_err();
    assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
    assert!(error.detail.contains("matches 2 values") && error.detail.contains("narrow the filter"), "{}", error.detail);
    // Narrowed to one, the other stops being primary.
    let after = patched(
        &before,
        json!([{"op": "replace", "path": "emails[type eq \"work\" and value eq \"anna33@example.com\"].primary", "value": true}]),
    )
    .unwrap();
    assert_eq!(
        after["emails"],
        json!([{"type": "work", "value": "anna33@gmail.com"}, {"type": "work", "value": "anna33@example.com", "primary": true}])
    );
}

#[test]
fn patch_adds_and_replaces_several_values_of_one_type() {
    // Path-less replace (Entra's aadOptscim062020 dialect) and a replace of the attribute.
    let before = user(json!({"emails": [{"type": "work", "value": "old@x"}]}));
    let after = patched(&before, json!([{"op": "replace", "value": {"emails": two_work_emails()}}])).unwrap();
    assert_eq!(after["emails"], two_work_emails());
    let after = patched(&before, json!([{"op": "Replace", "path": "emails", "value": two_work_emails()}])).unwrap();
    assert_eq!(after["emails"], two_work_emails());
    // An add carrying two values of one type adds both.
    let before = user(json!({}));
    let after = patched(&before, json!([{"op": "add", "path": "emails", "value": two_work_emails()}])).unwrap();
    assert_eq!(after["emails"], two_work_emails());
    // An add of one value of a type two values have adds it (which of them would it update?).
    let before = user(json!({"emails": two_work_emails()}));
    let after = patched(&before, json!([{"op": "add", "path": "emails", "value": [{"type": "work", "value": "third@x"}]}])).unwrap();
    assert_eq!(after["emails"].as_array().map(Vec::len), Some(3), "{after}");
}

#[test]
fn filtered_paths_change_every_match() {
    let before = user(json!({"emails": [
        {"type": "work", "value": "anna33@gmail.com", "primary": true}, {"type": "home", "value": "h@x"}, {"type": "work", "value": "anna33@example.com"}]}));
    // Entra's replace and add of the work email set every work email; the values that
    // became the same are one value, primary kept.
    for op in ["Replace", "Add", "replace", "add"] {
        let after = patched(&before, json!([{"op": op, "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}])).unwrap();
        assert_eq!(
            after["emails"],
            json!([{"type": "work", "value": "new@contoso.com", "primary": true}, {"type": "home", "value": "h@x"}]),
            "{op}"
        );
    }
    // A sub-attribute other than the value: every match gets it, none is dropped.
    let after = patched(&before, json!([{"op": "replace", "path": "emails[type eq \"work\"].display", "value": "Anna"}])).unwrap();
    let displays: Vec<&Value> = after["emails"].as_array().unwrap().iter().filter_map(|e| e.get("display")).collect();
    assert_eq!(displays, [&json!("Anna"), &json!("Anna")]);
    // Remove on a filtered path removes every match, and only the matches.
    let after = patched(&before, json!([{"op": "Remove", "path": "emails[type eq \"work\"]"}])).unwrap();
    assert_eq!(after["emails"], json!([{"type": "home", "value": "h@x"}]));
    let after = patched(&before, json!([{"op": "remove", "path": "emails[type eq \"work\"].value"}])).unwrap();
    assert_eq!(after["emails"], json!([{"type": "home", "value": "h@x"}]));
    // Narrowed to one value, only that one changes.
    let after = patched(
        &before,
        json!([{"op": "replace", "path": "emails[type eq \"work\" and value eq \"anna33@example.com\"].value", "value": "b@x"}]),
    )
    .unwrap();
    assert_eq!(after["emails"][0]["value"], "anna33@gmail.com");
    assert_eq!(after["emails"][2]["value"], "b@x");
}

#[test]
fn filters_find_the_user_by_either_value_of_the_type() {
    let resource = prepare_create(&USER_RESOURCE, &json!({"userName": "anna", "emails": two_work_emails()})).unwrap();
    for address in ["anna33@gmail.com", "anna33@example.com", "ANNA33@EXAMPLE.COM"] {
        for text in [
            format!("emails[type eq \"work\" and value eq \"{address}\"]"),
            format!("emails[type eq \"work\"].value eq \"{address}\""),
            format!("emails.value eq \"{address}\""),
            format!("emails eq \"{address}\""),
        ] {
            let filter = filter::parse(&text).unwrap();
            assert!(filter.matches(&USER_RESOURCE, &resource), "{text}");
        }
    }
    let filter = filter::parse("emails[type eq \"work\" and value eq \"other@example.com\"]").unwrap();
    assert!(!filter.matches(&USER_RESOURCE, &resource));
}
