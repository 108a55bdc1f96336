//! What every write checks of a prepared resource, and takes from it, before it builds
//! the transaction.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::resources::attributes::{unique_value, work_email};
use crate::resources::types::TypeDescriptor;
use crate::storage::keys::MAX_KEY_VALUE_BYTES;

/// Attributes stored apart (a group's `members`) taken out of a prepared resource.
pub(crate) fn take_apart(descriptor: &TypeDescriptor, resource: &mut Value) -> Vec<Value> {
    let mut taken = Vec::new();
    if let Value::Object(fields) = resource {
        for name in descriptor.resource_type.stored_apart {
            if let Some(Value::Array(values)) = fields.remove(*name) {
                taken.extend(values);
            }
        }
    }
    taken
}

/// Values that become part of keys must fit in one.
pub(crate) fn check_key_values(descriptor: &TypeDescriptor, resource: &Value) -> Result<()> {
    let values = [
        (descriptor.unique, unique_value(descriptor, resource)),
        ("externalId", resource.get("externalId").and_then(Value::as_str)),
        ("emails[type eq \"work\"].value", work_email(resource)),
    ];
    for (name, value) in values {
        if let Some(value) = value
            && value.len() > MAX_KEY_VALUE_BYTES
        {
            return Err(Error::invalid_value(format!("{name} is {} bytes long; at most {MAX_KEY_VALUE_BYTES} are accepted", value.len())));
        }
    }
    Ok(())
}

pub(crate) fn required_unique<'a>(descriptor: &TypeDescriptor, resource: &'a Value) -> Result<&'a str> {
    unique_value(descriptor, resource).ok_or_else(|| {
        Error::invalid_value(format!("{} is required: give the {} a {}", descriptor.unique, descriptor.name(), descriptor.unique))
    })
}

/// Names of the attributes a create or replace sets, for the log.
pub(crate) fn attribute_names(resource: &Value, apart: &[Value], descriptor: &TypeDescriptor) -> Vec<String> {
    let mut names: Vec<String> = resource.as_object().map(|o| o.keys().filter(|k| *k != "schemas").cloned().collect()).unwrap_or_default();
    if !apart.is_empty() {
        names.extend(descriptor.resource_type.stored_apart.iter().map(|n| n.to_string()));
    }
    names
}
