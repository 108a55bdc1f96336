//! Changes to attributes stored apart from the resource (a group's `members`): what a
//! PATCH asks of them, for the storage layer, and carrying them out on a small resource.

use crate::coerce::coerce;
use crate::error::{Result, ScimError};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::schema::ResourceType;
use serde_json::{Map, Value};

use super::multi_valued::same_value;
use super::request::PatchOp;
use super::target::Target;

/// A change to an attribute stored apart from its resource (a group's `members`),
/// for the storage layer to carry out item by item.
#[derive(Debug, Clone, PartialEq)]
pub struct ApartChange {
    pub attribute: &'static str,
    pub change: ValuesChange,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValuesChange {
    /// Add these values (each with a `value`); ones already present stay as they are.
    Add(Vec<Value>),
    /// Remove the values with these `value`s; absent ones are ignored.
    Remove(Vec<Value>),
    /// Remove the values that match this value filter.
    RemoveMatching(Filter),
    RemoveAll,
}

pub(super) fn change_apart(op: PatchOp, target: Target<'_>, value: Option<&Value>, apart: &mut Vec<ApartChange>) -> Result<()> {
    let attribute = target.at.attribute;
    let name = attribute.name;
    if target.sub.is_some() {
        return Err(ScimError::invalid_path(format!(
            "{name} values are added and removed whole; a path into a value's sub-attributes is not supported"
        )));
    }
    let listed = |value: &Value| -> Result<Vec<Value>> {
        // Checked before coercion, which would silently drop a value without an id.
        let given = match value {
            Value::Array(values) => values.as_slice(),
            single => std::slice::from_ref(single),
        };
        let has_id = |v: &Value| match v {
            Value::Object(fields) => {
                fields.iter().any(|(k, v)| k.eq_ignore_ascii_case("value") && v.as_str().is_some_and(|s| !s.is_empty()))
            }
            other => other.as_str().is_some_and(|s| !s.is_empty()),
        };
        if let Some(index) = given.iter().position(|v| !v.is_null() && !has_id(v)) {
            return Err(ScimError::invalid_value(format!("{name}[{index}] has no \"value\": give the id of the member")));
        }
        match coerce(attribute, value, name)? {
            Some(Value::Array(values)) => Ok(values),
            _ => Ok(Vec::new()),
        }
    };
    let mut push = |change| apart.push(ApartChange { attribute: name, change });
    match (op, target.filter) {
        (PatchOp::Add, None) => {
            let values = listed(value.unwrap_or(&Value::Null))?;
            if !values.is_empty() {
                push(ValuesChange::Add(values));
            }
        }
        (PatchOp::Replace, None) => {
            let values = listed(value.unwrap_or(&Value::Null))?;
            push(ValuesChange::RemoveAll);
            if !values.is_empty() {
                push(ValuesChange::Add(values));
            }
        }
        (PatchOp::Remove, None) => match value {
            None | Some(Value::Null) => push(ValuesChange::RemoveAll),
            Some(value) => {
                let values = listed(value)?;
                if !values.is_empty() {
                    push(ValuesChange::Remove(values));
                }
            }
        },
        (PatchOp::Remove, Some(filter)) => match filter {
            // `members[value eq "id"]`, Entra's form: a removal by key.
            Filter::Compare { path, op: CompareOp::Eq, value: CompValue::Str(id) }
                if path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("value") =>
            {
                push(ValuesChange::Remove(vec![Value::Object(Map::from_iter([("value".to_string(), Value::String(id.clone()))]))]))
            }
            other => push(ValuesChange::RemoveMatching(other.clone())),
        },
        (_, Some(_)) => {
            return Err(ScimError::invalid_path(format!(
                "a filter on {name} selects values to remove; to add or replace, give the values without a filter"
            )));
        }
    }
    Ok(())
}

/// Carries out changes to attributes stored apart on the resource itself, for
/// resources small enough to hold them (and for tests of the engine).
pub fn apply_apart_changes(resource_type: &ResourceType, resource: &mut Value, changes: &[ApartChange]) -> bool {
    let Value::Object(fields) = resource else { return false };
    let mut changed = false;
    for ApartChange { attribute: name, change } in changes {
        let Some(at) = resource_type.find_attribute(None, name) else { continue };
        let attribute = at.attribute;
        let mut elements = match fields.remove(attribute.name) {
            Some(Value::Array(elements)) => elements,
            _ => Vec::new(),
        };
        let before = elements.len();
        match change {
            ValuesChange::Add(values) => {
                for value in values {
                    if !elements.iter().any(|e| same_value(attribute, e, value)) {
                        elements.push(value.clone());
                    }
                }
            }
            ValuesChange::Remove(values) => elements.retain(|e| !values.iter().any(|v| same_value(attribute, e, v))),
            ValuesChange::RemoveMatching(filter) => elements.retain(|e| !filter.matches_element(attribute, e)),
            ValuesChange::RemoveAll => elements.clear(),
        }
        changed |= elements.len() != before;
        if !elements.is_empty() {
            fields.insert(attribute.name.to_string(), Value::Array(elements));
        }
    }
    changed
}
