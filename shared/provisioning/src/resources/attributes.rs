//! Values read from a resource's JSON that the service keys, indexes or acts on.

use serde_json::Value;

use crate::resources::types::TypeDescriptor;

/// The value of the type's unique attribute (`userName`, `displayName`).
pub fn unique_value<'a>(descriptor: &TypeDescriptor, resource: &'a Value) -> Option<&'a str> {
    resource.get(descriptor.unique).and_then(Value::as_str)
}

/// The email indexed for lookups (gsi3, one key per item): Entra's matching email is
/// `emails[type eq "work"].value`. A user may have several work emails (RFC 7643 does
/// not make `type` unique); the one indexed is chosen deterministically: the work email
/// marked primary, else the first work email. A lookup by another work email of such a
/// user is not answered by the index (docs/ENTRA.md §4); `emails.value eq` walks and
/// finds it.
pub fn work_email(resource: &Value) -> Option<&str> {
    fn value(e: &Value) -> Option<&str> {
        e.get("value").and_then(Value::as_str).filter(|v| !v.is_empty())
    }
    let work: Vec<&Value> = resource
        .get("emails")?
        .as_array()?
        .iter()
        .filter(|e| e.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("work")))
        .filter(|e| value(e).is_some())
        .collect();
    work.iter().find(|e| e.get("primary") == Some(&Value::Bool(true))).or(work.first()).and_then(|e| value(e))
}

/// Whether a resource is active (`active` absent counts as active).
pub fn is_active(resource: &Value) -> bool {
    resource.get("active").and_then(Value::as_bool) != Some(false)
}
