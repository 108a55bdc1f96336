//! Properties of the PATCH engine over random operation lists: a PATCH that fails
//! leaves the resource byte-identical, and one that reports no change changed nothing.

use proptest::prelude::*;
use scim::patch::{PatchRequest, apply_patch};
use scim::schema::USER_RESOURCE;
use serde_json::{Value, json};

fn paths() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::weighted(
        0.9,
        prop::sample::select(vec![
            "active",
            "nickName",
            "userName",
            "name",
            "name.givenName",
            "emails",
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\"]",
            "emails[value co \"@\"].primary",
            "phoneNumbers[type eq \"mobile\"].value",
            "manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "id",
            "groups",
            "bogus",
            "emails[type eq",
            "name.nope",
        ]),
    )
}

fn values() -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(
        0.9,
        prop::sample::select(vec![
            json!("x"),
            json!(""),
            json!(null),
            json!(true),
            json!("False"),
            json!("maybe"),
            json!(5),
            json!({"value": "m1"}),
            json!({"givenName": "G", "familyName": "F"}),
            json!([{"type": "work", "value": "a@b.c"}]),
            json!([{"primary": true, "value": "1"}, {"primary": "true", "value": "2"}]),
            json!({"nickName": "n", "name.familyName": "f", "id": "other"}),
            json!({"employeeNumber": "7"}),
        ]),
    )
}

fn operations() -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec!["add", "Replace", "remove", "REMOVE", "merge"]);
    prop::collection::vec((op, paths(), values()), 0..6).prop_map(|operations| {
        let operations: Vec<Value> = operations
            .into_iter()
            .map(|(op, path, value)| {
                let mut operation = json!({"op": op});
                if let Some(path) = path {
                    operation["path"] = json!(path);
                }
                if let Some(value) = value {
                    operation["value"] = value;
                }
                operation
            })
            .collect();
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
    })
}

fn sample_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "u-1", "userName": "alice@contoso.com", "active": true, "nickName": "Al",
        "name": {"givenName": "Alice", "familyName": "Jones"},
        "emails": [{"type": "work", "value": "alice@contoso.com", "primary": true}, {"type": "home", "value": "a@home.example"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "m0"}, "department": "D"},
        "meta": {"resourceType": "User", "version": "W/\"3\""}
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn failures_leave_the_resource_byte_identical(body in operations()) {
        let before = sample_user();
        let before_bytes = serde_json::to_vec(&before).unwrap();
        let mut resource = before.clone();
        let outcome = PatchRequest::from_json(&body).and_then(|request| apply_patch(&USER_RESOURCE, &mut resource, &request));
        match outcome {
            Err(error) => {
                prop_assert_eq!(serde_json::to_vec(&resource).unwrap(), before_bytes);
                prop_assert!(error.status == 400, "{}", error);
                prop_assert!(!error.detail.is_empty());
            }
            Ok(outcome) => {
                prop_assert_eq!(outcome.changed, resource != before);
                prop_assert_eq!(outcome.changed_attributes.is_empty(), !outcome.changed);
                // Whatever succeeded is still a valid user.
                prop_assert!(resource["userName"].is_string());
                prop_assert_eq!(&resource["id"], &before["id"]);
                prop_assert_eq!(&resource["meta"], &before["meta"]);
            }
        }
    }
}
