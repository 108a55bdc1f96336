//! Values read from a resource's JSON that the service keys, indexes or acts on.

use serde_json::Value;

use crate::resources::types::TypeDescriptor;

/// The value of the type's unique attribute (`userName`, `displayName`).
pub fn unique_value<'a>(descriptor: &TypeDescriptor, resource: &'a Value) -> Option<&'a str> {
    resource.get(descriptor.unique).and_then(Value::as_str)
}

/// The email indexed for lookups: the one typed `work` (Entra's matching email is
/// `emails[type eq "work"].value`; types are unique within a resource, so there is at
/// most one).
pub fn work_email(resource: &Value) -> Option<&str> {
    resource
        .get("emails")?
        .as_array()?
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")))?
        .get("value")?
        .as_str()
        .filter(|v| !v.is_empty())
}

/// Whether a resource is active (`active` absent counts as active).
pub fn is_active(resource: &Value) -> bool {
    resource.get("active").and_then(Value::as_bool) != Some(false)
}
