//! The `schemas` member of a request body: what the body says it is (RFC 7643 section 3,
//! RFC 7644 sections 3.4.3 and 3.5.2). A body that says it is something else than the
//! endpoint takes (a User sent to /Groups, a PATCH that is not a PatchOp) is refused
//! rather than read as what it does not claim to be.
//!
//! A body without `schemas` (or with `schemas: null`) is accepted: RFC 7643 makes the
//! member required, but the endpoint already says what the body must be, and clients and
//! this service's own callers (the admin API, the EAA sync, every test that posts
//! `{"userName": ..}`) send bodies without it. Refusing them would break them and
//! protect nothing.

use serde_json::{Map, Value};

use crate::coerce::describe;
use crate::error::{Result, ScimError};
use crate::schema::{ALL_RESOURCE_TYPES, ResourceType};

/// The URNs a body lists in `schemas`, or `None` when it has no `schemas`. A lone string
/// counts as a list of one; elements that are not strings list nothing.
fn declared(fields: &Map<String, Value>) -> Option<Vec<&str>> {
    let value = fields.iter().find(|(key, _)| key.eq_ignore_ascii_case("schemas")).map(|(_, value)| value)?;
    Some(match value {
        Value::Null => return None,
        Value::String(urn) => vec![urn.as_str()],
        Value::Array(urns) => urns.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    })
}

/// URNs compare case-insensitively (RFC 7643 section 2.1 makes schema URIs, like
/// attribute names, case-insensitive).
fn lists(declared: &[&str], urn: &str) -> bool {
    declared.iter().any(|listed| listed.trim().eq_ignore_ascii_case(urn))
}

/// What a body lists, for a detail, bounded however long the client's list is.
fn listing(declared: &[&str]) -> String {
    if declared.is_empty() {
        return "nothing".into();
    }
    describe(&Value::String(declared.join(", ")))
}

/// A message body (a PatchOp, a SearchRequest) whose `schemas` is present must list the
/// message's URN. `message` names the body in the detail ("a PATCH body").
pub(crate) fn check_message(fields: &Map<String, Value>, urn: &str, message: &str) -> Result<()> {
    match declared(fields) {
        Some(declared) if !lists(&declared, urn) => {
            Err(ScimError::invalid_value(format!("{message}'s schemas must list \"{urn}\"; it lists {}", listing(&declared))))
        }
        _ => Ok(()),
    }
}

/// A resource body whose `schemas` is present must list the core schema of the
/// endpoint's resource type, and no other resource type's core schema. Other URNs (a
/// misspelt extension, Entra's extras) are not checked: unknown schemas are dropped
/// like unknown attributes.
pub(crate) fn check_resource(resource_type: &ResourceType, fields: &Map<String, Value>) -> Result<()> {
    let Some(declared) = declared(fields) else { return Ok(()) };
    let expected = resource_type.schema.id;
    let needed = || format!("a body sent to {} must list \"{expected}\", the schema of a {}", resource_type.endpoint, resource_type.name);
    if let Some(other) = ALL_RESOURCE_TYPES.iter().find(|other| other.schema.id != expected && lists(&declared, other.schema.id)) {
        return Err(ScimError::invalid_value(format!(
            "schemas lists \"{}\", the schema of a {}: send a {} to {}; {}",
            other.schema.id,
            other.name,
            other.name,
            other.endpoint,
            needed()
        )));
    }
    if !lists(&declared, expected) {
        return Err(ScimError::invalid_value(format!("schemas lists {}, but {} (or leave schemas out)", listing(&declared), needed())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{GROUP_RESOURCE, USER_RESOURCE};
    use serde_json::json;

    const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

    fn fields(body: Value) -> Map<String, Value> {
        body.as_object().cloned().unwrap()
    }

    #[test]
    fn a_resource_body_lists_its_own_core_schema_or_none() {
        for accepted in [
            json!({}),
            json!({"schemas": null}),
            json!({"schemas": [USER]}),
            json!({"Schemas": USER}),
            json!({"schemas": ["URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER", "urn:bogus"]}),
            json!({"schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}),
        ] {
            assert_eq!(check_resource(&USER_RESOURCE, &fields(accepted.clone())), Ok(()), "{accepted}");
        }
        for (refused, mentions) in [
            (
                json!({"schemas": ["urn:evil"]}),
                "schemas lists \"urn:evil\", but a body sent to /Users must list \"urn:ietf:params:scim:schemas:core:2.0:User\"",
            ),
            (json!({"schemas": []}), "schemas lists nothing"),
            (json!({"schemas": [1, true]}), "schemas lists nothing"),
            (json!({"schemas": {"a": USER}}), "schemas lists nothing"),
            (json!({"schemas": [USER, GROUP]}), "the schema of a Group: send a Group to /Groups"),
        ] {
            let error = check_resource(&USER_RESOURCE, &fields(refused.clone())).unwrap_err();
            assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue), "{refused}");
            assert!(error.detail.contains(mentions), "{refused}: {}", error.detail);
        }
        let error = check_resource(&GROUP_RESOURCE, &fields(json!({"schemas": [USER], "userName": "a"}))).unwrap_err();
        assert!(error.detail.contains(&format!("a body sent to /Groups must list \"{GROUP}\"")), "{}", error.detail);
    }

    #[test]
    fn a_message_body_lists_its_message_schema_or_none() {
        for accepted in [json!({}), json!({"schemas": [PATCH_OP]}), json!({"schemas": ["urn:x", PATCH_OP.to_uppercase()]})] {
            assert_eq!(check_message(&fields(accepted.clone()), PATCH_OP, "a PATCH body"), Ok(()), "{accepted}");
        }
        let error = check_message(&fields(json!({"schemas": [USER]})), PATCH_OP, "a PATCH body").unwrap_err();
        assert_eq!(error.detail, format!("a PATCH body's schemas must list \"{PATCH_OP}\"; it lists \"{USER}\""));
    }

    #[test]
    fn a_long_schemas_list_is_cut_in_the_detail() {
        let long = vec![Value::String("urn:x".repeat(10_000)); 50];
        let error = check_resource(&USER_RESOURCE, &fields(json!({"schemas": long}))).unwrap_err();
        assert!(error.detail.len() < 300, "{}", error.detail.len());
    }
}
