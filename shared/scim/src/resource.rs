//! Create and replace validation (RFC 7643 section 2, RFC 7644 sections 3.3 and
//! 3.5.1): a client's body becomes a canonical resource, or a SCIM error that says
//! what to fix.

use crate::coerce::coerce;
use crate::error::{Result, ScimError};
use crate::path::AttrPath;
use crate::schema::{AttributeRef, Mutability, Resolved, ResourceType, Returned, Schema};
use crate::schemas_member::check_resource;
use serde_json::{Map, Value};

/// The canonical resource for a create (POST): canonical attribute names, typed
/// values, unique names in their one spelling (`crate::names`), read-only attributes
/// (`id`, `meta`, `groups`) and unknown attributes or schema URNs dropped, `null`s left
/// unassigned, `schemas` recomputed. A body whose `schemas` names another resource
/// type is refused (`crate::schemas_member`). The caller adds `id` and `meta`.
pub fn prepare_create(resource_type: &ResourceType, body: &Value) -> Result<Value> {
    let Value::Object(fields) = body else {
        return Err(ScimError::invalid_syntax(format!("the request body must be a JSON object describing a {}", resource_type.name)));
    };
    check_resource(resource_type, fields)?;
    let mut resource = Map::new();
    for (key, value) in fields {
        // Recomputed from what the resource holds (`set_schemas`).
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        // Keys may be plain names, URN-qualified names, or a whole extension object.
        let Some(resolved) = AttrPath::parse(key).and_then(|path| resource_type.resolve(&path)) else { continue };
        match resolved {
            Resolved::Extension(extension) => {
                let Value::Object(extension_fields) = value else {
                    if value.is_null() {
                        continue;
                    }
                    return Err(ScimError::invalid_value(format!("{} must be an object", extension.id)));
                };
                for (name, value) in extension_fields {
                    if let Some(attribute) = extension.attribute(name) {
                        assign(&mut resource, AttributeRef { extension: Some(extension), attribute }, value)?;
                    }
                }
            }
            Resolved::Attribute { at, sub: None } => assign(&mut resource, at, value)?,
            Resolved::Attribute { at, sub: Some(sub) } => {
                // A dotted key such as "name.givenName" at the top level.
                let nested = Value::Object(Map::from_iter([(sub.name.to_string(), value.clone())]));
                merge_assign(&mut resource, at, &nested)?;
            }
        }
    }
    let mut resource = Value::Object(resource);
    set_schemas(resource_type, &mut resource);
    check_invariants(resource_type, &resource)?;
    Ok(resource)
}

/// The canonical resource for a replace (PUT) of `existing`: validated as a create,
/// then immutable attributes that already have a value must keep it; `id` and
/// `meta` stay the existing ones.
pub fn prepare_replace(resource_type: &ResourceType, existing: &Value, body: &Value) -> Result<Value> {
    let mut replacement = prepare_create(resource_type, body)?;
    for at in resource_type.all_attributes() {
        if at.attribute.mutability != Mutability::Immutable {
            continue;
        }
        if let Some(current) = at.get(existing)
            && at.get(&replacement) != Some(current)
        {
            return Err(ScimError::mutability(format!(
                "{} is immutable and already set; it cannot be changed or removed",
                at.qualified_name()
            )));
        }
    }
    if let (Some(target), Some(source)) = (replacement.as_object_mut(), existing.as_object()) {
        for kept in ["id", "meta"] {
            if let Some(value) = source.get(kept) {
                target.insert(kept.to_string(), value.clone());
            }
        }
    }
    Ok(replacement)
}

/// Sets one attribute from a client value, ignoring what clients may not set.
fn assign(resource: &mut Map<String, Value>, at: AttributeRef, value: &Value) -> Result<()> {
    if !accepts_input(at) {
        return Ok(());
    }
    let coerced = coerce(at.attribute, value, &at.qualified_name())?;
    let container = container_mut(resource, at.extension);
    match coerced {
        Some(coerced) => {
            container.insert(at.attribute.name.to_string(), coerced);
        }
        None => {
            container.remove(at.attribute.name);
        }
    }
    prune_extension(resource, at.extension);
    Ok(())
}

/// Like [`assign`], but merges a complex value into what is already there.
fn merge_assign(resource: &mut Map<String, Value>, at: AttributeRef, value: &Value) -> Result<()> {
    if !accepts_input(at) {
        return Ok(());
    }
    let Some(Value::Object(new_fields)) = coerce(at.attribute, value, &at.qualified_name())? else { return Ok(()) };
    let container = container_mut(resource, at.extension);
    match container.get_mut(at.attribute.name) {
        Some(Value::Object(fields)) => fields.extend(new_fields),
        _ => {
            container.insert(at.attribute.name.to_string(), Value::Object(new_fields));
        }
    }
    Ok(())
}

/// Read-only attributes are the service's to set, and `returned: never` ones
/// (`password`) are accepted and discarded: this service has no use for a password
/// and could never return it.
pub(crate) fn accepts_input(at: AttributeRef) -> bool {
    !at.attribute.is_read_only() && at.attribute.returned != Returned::Never
}

/// The object that holds attributes of `extension` (or the resource itself for core
/// attributes), created on demand.
pub(crate) fn container_mut<'a>(resource: &'a mut Map<String, Value>, extension: Option<&Schema>) -> &'a mut Map<String, Value> {
    let Some(extension) = extension else { return resource };
    let slot = resource.entry(extension.id.to_string()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(fields) => fields,
        _ => unreachable!("the slot was made an object above"),
    }
}

/// Drops an extension object that holds nothing, so a resource never lists an
/// extension it does not use.
pub(crate) fn prune_extension(resource: &mut Map<String, Value>, extension: Option<&Schema>) {
    if let Some(extension) = extension
        && resource.get(extension.id).and_then(Value::as_object).is_some_and(Map::is_empty)
    {
        resource.remove(extension.id);
    }
}

/// `schemas` lists the core schema and every extension the resource uses.
pub fn set_schemas(resource_type: &ResourceType, resource: &mut Value) {
    let Some(fields) = resource.as_object_mut() else { return };
    let schemas: Vec<Value> = resource_type
        .schema_ids()
        .filter(|id| *id == resource_type.schema.id || fields.contains_key(*id))
        .map(|id| Value::String(id.to_string()))
        .collect();
    fields.insert("schemas".to_string(), Value::Array(schemas));
}

/// Rules a stored resource always satisfies: required attributes present, at most one
/// `primary` per multi-valued attribute (RFC 7643 2.4), and every value of an attribute
/// stored apart (a group's members) identifies its target. A `type` may repeat (two
/// `work` emails): RFC 7643 limits only `primary` to one value.
pub fn check_invariants(resource_type: &ResourceType, resource: &Value) -> Result<()> {
    for at in resource_type.all_attributes() {
        let attribute = at.attribute;
        let value = at.get(resource);
        if attribute.required && value.is_none() && !attribute.is_read_only() {
            return Err(ScimError::invalid_value(format!(
                "{} is required: give the {} a {}",
                at.qualified_name(),
                resource_type.name,
                attribute.name
            )));
        }
        let Some(Value::Array(elements)) = value else { continue };
        let primaries = elements.iter().filter(|e| e.get("primary") == Some(&Value::Bool(true))).count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "{} has {primaries} values marked primary; at most one may be",
                at.qualified_name()
            )));
        }
        if resource_type.is_stored_apart(attribute)
            && let Some(index) = elements.iter().position(|e| e.get("value").and_then(Value::as_str).is_none())
        {
            return Err(ScimError::invalid_value(format!("{}[{index}] has no \"value\": give the id of the member", at.qualified_name())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{GROUP_RESOURCE, USER_RESOURCE};
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    #[test]
    fn entra_create_body_becomes_canonical() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, "urn:bogus"],
            "externalId": "0a21f0f2", "UserName": "Test_User_ab6490ee", "active": "True",
            "displayName": "Test User", "emails": [{"primary": "True", "type": "work", "value": "t@x.com"}],
            "meta": {"resourceType": "User"}, "id": "client-chosen", "groups": [{"value": "g"}],
            "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
            "roles": [], "addresses": null, "manager": null, "password": "hunter2", "favouriteColour": "blue"
        });
        let resource = prepare_create(&USER_RESOURCE, &body).unwrap();
        assert_eq!(
            resource,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "externalId": "0a21f0f2", "userName": "Test_User_ab6490ee", "active": true,
                "displayName": "Test User", "emails": [{"primary": true, "type": "work", "value": "t@x.com"}],
                "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"}
            })
        );
    }

    #[test]
    fn extension_attributes_in_every_spelling() {
        let body = json!({
            "userName": "a",
            ENTERPRISE: {"employeeNumber": 701984, "manager": "m1"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"
        });
        let resource = prepare_create(&USER_RESOURCE, &body).unwrap();
        assert_eq!(resource[ENTERPRISE], json!({"employeeNumber": "701984", "manager": {"value": "m1"}, "department": "Sales"}));
        assert_eq!(resource["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]));
    }

    #[test]
    fn missing_required_and_broken_rules_are_invalid_values() {
        let cases = [
            (json!({"displayName": "x"}), "userName is required"),
            (json!({"userName": ""}), "userName is required"),
            (
                json!({"userName": "a", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": "true"}]}),
                "2 values marked primary",
            ),
            (json!({"userName": "a", "active": "nope"}), "active must be a boolean"),
        ];
        for (body, expected) in cases {
            let error = prepare_create(&USER_RESOURCE, &body).unwrap_err();
            assert_eq!(error.status, 400);
            assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue), "{body}");
            assert!(error.detail.contains(expected), "{body}: {}", error.detail);
        }
        let error = prepare_create(&USER_RESOURCE, &json!(["not", "an", "object"])).unwrap_err();
        assert_eq!(error.scim_type, Some(crate::ScimType::InvalidSyntax));
    }

    #[test]
    fn groups_keep_members_and_need_their_ids() {
        let group = prepare_create(&GROUP_RESOURCE, &json!({"displayName": "Sales", "members": [{"value": "u1", "$ref": null}]})).unwrap();
        assert_eq!(group["members"], json!([{"value": "u1"}]));
        let error = prepare_create(&GROUP_RESOURCE, &json!({"displayName": "Sales", "members": [{"type": "User"}]})).unwrap_err();
        assert!(error.detail.contains("members[0] has no \"value\""), "{}", error.detail);
    }

    /// A resource type with an immutable attribute: neither User nor Group has one at
    /// the top level, so the rule is proven on a schema made for the test.
    static DEVICE_SCHEMA: Schema = Schema {
        id: "urn:example:Device",
        name: "Device",
        description: "",
        attributes: &[
            crate::schema::Attribute::string("serial").mutability(Mutability::Immutable),
            crate::schema::Attribute::string("label").required(),
        ],
    };
    static DEVICE: ResourceType =
        ResourceType { name: "Device", endpoint: "/Devices", description: "", schema: &DEVICE_SCHEMA, extensions: &[], stored_apart: &[] };

    #[test]
    fn immutable_attributes_keep_their_value_once_set() {
        let existing = json!({"id": "1", "label": "a", "serial": "S1"});
        let error = prepare_replace(&DEVICE, &existing, &json!({"label": "a", "serial": "S2"})).unwrap_err();
        assert_eq!(error.scim_type, Some(crate::ScimType::Mutability));
        assert!(error.detail.contains("serial is immutable"), "{}", error.detail);
        assert!(prepare_replace(&DEVICE, &existing, &json!({"label": "a"})).is_err(), "removing it is changing it");
        assert_eq!(prepare_replace(&DEVICE, &existing, &json!({"label": "b", "serial": "S1"})).unwrap()["label"], "b");
        let unset = json!({"id": "1", "label": "a"});
        assert_eq!(prepare_replace(&DEVICE, &unset, &json!({"label": "a", "serial": "S9"})).unwrap()["serial"], "S9");

        let patch = |ops| crate::patch::PatchRequest::from_json(&json!({"Operations": ops})).unwrap();
        let mut resource = existing.clone();
        let error = crate::patch::apply_patch(&DEVICE, &mut resource, &patch(json!([{"op": "replace", "path": "serial", "value": "S2"}])));
        assert_eq!(error.unwrap_err().scim_type, Some(crate::ScimType::Mutability));
        assert_eq!(resource, existing);
        let mut resource = unset.clone();
        crate::patch::apply_patch(&DEVICE, &mut resource, &patch(json!([{"op": "add", "path": "serial", "value": "S9"}]))).unwrap();
        assert_eq!(resource["serial"], "S9");
    }

    #[test]
    fn unique_names_are_stored_trimmed_and_nfc() {
        for sent in [" alice@x.com", "alice@x.com ", "\u{3000}alice@x.com", "alice@x.com"] {
            assert_eq!(prepare_create(&USER_RESOURCE, &json!({"userName": sent})).unwrap()["userName"], "alice@x.com", "{sent:?}");
        }
        let group = prepare_create(&GROUP_RESOURCE, &json!({"displayName": " Caf\u{65}\u{301} "})).unwrap();
        assert_eq!(group["displayName"], "Caf\u{e9}");
        let replaced = prepare_replace(&USER_RESOURCE, &json!({"id": "1", "userName": "a"}), &json!({"UserName": "  Bob  "})).unwrap();
        assert_eq!(replaced["userName"], "Bob");
        // Other strings keep what the client sent: only the unique names are normalised.
        let user = prepare_create(&USER_RESOURCE, &json!({"userName": "a", "displayName": " Alice ", "nickName": "e\u{301}"})).unwrap();
        assert_eq!((&user["displayName"], &user["nickName"]), (&json!(" Alice "), &json!("e\u{301}")));
        // Blank once trimmed is no name at all.
        let error = prepare_create(&USER_RESOURCE, &json!({"userName": "   "})).unwrap_err();
        assert!(error.detail.contains("userName is required"), "{}", error.detail);
    }

    #[test]
    fn invisible_and_control_characters_in_unique_names_are_refused() {
        for sent in ["alice@x.com\u{200b}", "alice\r\n", "al\tice", "al\u{0}ice", "\u{feff}alice"] {
            let error = prepare_create(&USER_RESOURCE, &json!({"userName": sent})).unwrap_err();
            assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue), "{sent:?}");
            assert!(error.detail.starts_with("userName contains U+"), "{sent:?}: {}", error.detail);
        }
        let error = prepare_create(&GROUP_RESOURCE, &json!({"displayName": "Sales\u{200b}"})).unwrap_err();
        assert!(error.detail.starts_with("displayName contains U+200B at character 6"), "{}", error.detail);
        let error = prepare_replace(&USER_RESOURCE, &json!({"id": "1", "userName": "a"}), &json!({"userName": "a\u{2028}"})).unwrap_err();
        assert!(error.detail.contains("U+2028"), "{}", error.detail);
    }

    #[test]
    fn a_body_must_not_say_it_is_another_resource_type() {
        let user_body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a", "displayName": "A"});
        let error = prepare_create(&GROUP_RESOURCE, &user_body).unwrap_err();
        assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue));
        assert!(error.detail.contains("must list \"urn:ietf:params:scim:schemas:core:2.0:Group\""), "{}", error.detail);
        let error = prepare_create(&USER_RESOURCE, &json!({"schemas": ["urn:evil"], "userName": "a"})).unwrap_err();
        assert!(error.detail.contains("must list \"urn:ietf:params:scim:schemas:core:2.0:User\""), "{}", error.detail);
        let existing = json!({"id": "g", "displayName": "A"});
        assert!(prepare_replace(&GROUP_RESOURCE, &existing, &user_body).is_err(), "a replace is checked the same way");
        // Without schemas, the endpoint says what the body is.
        assert_eq!(prepare_create(&GROUP_RESOURCE, &json!({"displayName": "A"})).unwrap()["displayName"], "A");
    }

    #[test]
    fn replace_keeps_id_and_meta() {
        let existing = json!({"id": "1", "userName": "a", "meta": {"version": "W/\"1\""}});
        let replaced = prepare_replace(&USER_RESOURCE, &existing, &json!({"id": "2", "userName": "b"})).unwrap();
        assert_eq!(replaced["id"], "1");
        assert_eq!(replaced["userName"], "b");
        assert_eq!(replaced["meta"]["version"], "W/\"1\"");
    }
}
