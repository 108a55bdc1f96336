//! PATCH application on arbitrary operations: never panics; a failure leaves the
//! resource byte-identical; a success leaves a resource that still satisfies every
//! invariant and keeps its id.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use scim::patch::{apply_patch, PatchRequest};
use scim::resource::check_invariants;
use scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{json, Map, Value};

const PATHS: &[&str] = &[
    "active", "userName", "nickName", "name", "name.givenName", "emails", "emails.value",
    "emails[type eq \"work\"].value", "emails[type eq \"work\"]", "emails[value co \"@\" or primary eq true]",
    "phoneNumbers[type eq \"mobile\"].value", "addresses[type eq \"work\"].streetAddress", "manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "members", "members[value eq \"u1\"]",
    "members[type eq \"Group\"]", "displayName", "id", "meta.version", "groups", "roles", "x509Certificates.value",
];

const KEYS: &[&str] = &["value", "type", "primary", "display", "givenName", "familyName", "userName", "name.familyName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "emails", "members", "$ref", "id"];

fn arbitrary_json(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<Value> {
    let choice = if depth == 0 { u.int_in_range(0..=4)? } else { u.int_in_range(0..=6)? };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => Value::String(u.choose(&["True", "false", "", "work", "u1", "a@b.c", "2026-01-01T00:00:00Z"])?.to_string()),
        4 => Value::String(u.arbitrary()?),
        5 => {
            let len = u.int_in_range(0..=3)?;
            Value::Array((0..len).map(|_| arbitrary_json(u, depth - 1)).collect::<arbitrary::Result<_>>()?)
        }
        _ => {
            let len = u.int_in_range(0..=3)?;
            let mut object = Map::new();
            for _ in 0..len {
                let key = if u.arbitrary()? { u.choose(KEYS)?.to_string() } else { u.arbitrary()? };
                object.insert(key, arbitrary_json(u, depth - 1)?);
            }
            Value::Object(object)
        }
    })
}

fn arbitrary_patch(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    let count = u.int_in_range(0..=4)?;
    let mut operations = Vec::new();
    for _ in 0..count {
        let mut operation = Map::new();
        operation.insert("op".into(), json!(u.choose(&["add", "Replace", "remove", "REMOVE", "bogus"])?));
        match u.int_in_range(0..=2)? {
            0 => {}
            1 => {
                operation.insert("path".into(), json!(u.choose(PATHS)?));
            }
            _ => {
                operation.insert("path".into(), json!(String::arbitrary(u)?));
            }
        }
        if u.arbitrary()? {
            operation.insert("value".into(), arbitrary_json(u, 3)?);
        }
        operations.push(Value::Object(operation));
    }
    Ok(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(body) = arbitrary_patch(&mut u) else { return };
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u-1", "userName": "a",
        "emails": [{"type": "work", "value": "a@x", "primary": true}], "name": {"givenName": "A"}});
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g-1", "displayName": "G",
        "members": [{"value": "u1"}]});
    for (resource_type, before) in [(&USER_RESOURCE, user), (&GROUP_RESOURCE, group)] {
        let Ok(request) = PatchRequest::from_json(&body) else { continue };
        let mut resource = before.clone();
        match apply_patch(resource_type, &mut resource, &request) {
            Err(_) => assert_eq!(serde_json::to_vec(&resource).unwrap(), serde_json::to_vec(&before).unwrap()),
            Ok(outcome) => {
                assert_eq!(outcome.changed, resource != before);
                assert_eq!(resource["id"], before["id"]);
                assert!(check_invariants(resource_type, &resource).is_ok(), "{resource}");
            }
        }
    }
});
