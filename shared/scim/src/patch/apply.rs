//! Applying a PATCH to a resource: each operation on a copy, to the path it names or
//! path-less, single-valued attributes and extensions.

use crate::coerce::{coerce, coerce_single, describe};
use crate::error::{Result, ScimError};
use crate::path::AttrPath;
use crate::resource::{accepts_input, check_invariants, container_mut, prune_extension, set_schemas};
use crate::schema::{Attribute, AttributeRef, Mutability, Resolved, ResourceType, Returned, Schema};
use serde_json::{Map, Value};

use super::apart::{ApartChange, change_apart};
use super::multi_valued::change_multi_valued;
use super::request::{PatchOp, PatchOperation, PatchRequest, in_operation};
use super::target::Target;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchOutcome {
    /// Whether the resource itself changed. A PATCH that changes nothing must not
    /// bump the version or claim the resource.
    pub changed: bool,
    /// Qualified names of the attributes whose values changed (including attributes
    /// stored apart that have changes to carry out), for the provisioning log.
    pub changed_attributes: Vec<String>,
    /// Changes to attributes stored apart, in request order.
    pub apart: Vec<ApartChange>,
}

/// Applies `request` to `resource`, all or nothing.
pub fn apply_patch(resource_type: &ResourceType, resource: &mut Value, request: &PatchRequest) -> Result<PatchOutcome> {
    let mut working = resource.clone();
    let mut apart = Vec::new();
    let Value::Object(fields) = &mut working else {
        return Err(ScimError::new(500, None, "the stored resource is not a JSON object"));
    };
    for (index, operation) in request.operations.iter().enumerate() {
        apply_operation(resource_type, fields, operation, &mut apart).map_err(|e| in_operation(e, index))?;
    }
    set_schemas(resource_type, &mut working);
    check_invariants(resource_type, &working)?;

    let mut changed_attributes: Vec<String> =
        resource_type.all_attributes().filter(|at| at.get(resource) != at.get(&working)).map(|at| at.qualified_name()).collect();
    for change in &apart {
        if !changed_attributes.iter().any(|name| name == change.attribute) {
            changed_attributes.push(change.attribute.to_string());
        }
    }
    let changed = working != *resource;
    if changed {
        *resource = working;
    }
    Ok(PatchOutcome { changed, changed_attributes, apart })
}

pub(super) fn apply_operation(
    resource_type: &ResourceType,
    fields: &mut Map<String, Value>,
    operation: &PatchOperation,
    apart: &mut Vec<ApartChange>,
) -> Result<()> {
    let op = operation.op;
    let Some(path) = &operation.path else {
        if op == PatchOp::Remove {
            return Err(ScimError::no_target("a remove operation needs a \"path\" naming what to remove"));
        }
        let Some(Value::Object(values)) = &operation.value else {
            return Err(ScimError::invalid_value(format!(
                "an {} without a \"path\" needs a \"value\" object whose keys are attribute paths",
                op.as_str()
            )));
        };
        return apply_pathless(resource_type, fields, op, values, apart);
    };
    let resolved = resource_type
        .resolve(&path.attribute)
        .ok_or_else(|| ScimError::invalid_path(format!("{} is not an attribute of a {}", path.attribute, resource_type.name)))?;
    let at = match resolved {
        Resolved::Extension(extension) => {
            if path.filter.is_some() || path.sub.is_some() {
                return Err(ScimError::invalid_path(format!("{} is a schema, not a multi-valued attribute", extension.id)));
            }
            return apply_to_extension(resource_type, fields, op, extension, operation.value.as_ref(), apart);
        }
        Resolved::Attribute { at, .. } => at,
    };
    let sub = match &path.sub {
        Some(name) => Some(
            at.attribute
                .sub_attribute(name)
                .ok_or_else(|| ScimError::invalid_path(format!("{} has no sub-attribute \"{name}\"", at.qualified_name())))?,
        ),
        None => None,
    };
    if at.attribute.is_read_only() || sub.is_some_and(Attribute::is_read_only) {
        return Err(ScimError::mutability(format!("{} is readOnly: the service sets it", path_label(at, sub))));
    }
    if at.attribute.returned == Returned::Never {
        return Ok(());
    }
    let target = Target { at, filter: path.filter.as_ref(), sub };
    apply_to_attribute(resource_type, fields, op, target, operation.value.as_ref(), apart)
}

/// A path-less add or replace: each key of the value is itself a path.
pub(super) fn apply_pathless(
    resource_type: &ResourceType,
    fields: &mut Map<String, Value>,
    op: PatchOp,
    values: &Map<String, Value>,
    apart: &mut Vec<ApartChange>,
) -> Result<()> {
    for (key, value) in values {
        // As on create, unknown keys are ignored, and so are read-only ones: clients
        // echo `id` or `meta` back in path-less replaces.
        let Some(resolved) = AttrPath::parse(key).and_then(|path| resource_type.resolve(&path)) else { continue };
        match resolved {
            Resolved::Extension(extension) => apply_to_extension(resource_type, fields, op, extension, Some(value), apart)?,
            Resolved::Attribute { at, sub } => {
                if accepts_input(at) && !sub.is_some_and(Attribute::is_read_only) {
                    apply_to_attribute(resource_type, fields, op, Target { at, filter: None, sub }, Some(value), apart)?;
                }
            }
        }
    }
    Ok(())
}

pub(super) fn apply_to_extension(
    resource_type: &ResourceType,
    fields: &mut Map<String, Value>,
    op: PatchOp,
    extension: &'static Schema,
    value: Option<&Value>,
    apart: &mut Vec<ApartChange>,
) -> Result<()> {
    match (op, value) {
        (PatchOp::Remove, _) | (_, Some(Value::Null)) => {
            fields.remove(extension.id);
            Ok(())
        }
        (_, Some(Value::Object(values))) => {
            for (key, value) in values {
                let Some(path) = AttrPath::parse(key) else { continue };
                let Some(attribute) = extension.attribute(&path.name) else { continue };
                let at = AttributeRef { extension: Some(extension), attribute };
                let sub = match &path.sub {
                    Some(name) => match attribute.sub_attribute(name) {
                        Some(sub) => Some(sub),
                        None => continue,
                    },
                    None => None,
                };
                if accepts_input(at) && !sub.is_some_and(Attribute::is_read_only) {
                    apply_to_attribute(resource_type, fields, op, Target { at, filter: None, sub }, Some(value), apart)?;
                }
            }
            Ok(())
        }
        (_, other) => Err(ScimError::invalid_value(format!(
            "{} of {} needs an object of its attributes as \"value\", got {}",
            op.as_str(),
            extension.id,
            other.map_or_else(|| "nothing".to_string(), describe)
        ))),
    }
}

pub(super) fn path_label(at: AttributeRef, sub: Option<&Attribute>) -> String {
    match sub {
        Some(sub) => format!("{}.{}", at.qualified_name(), sub.name),
        None => at.qualified_name(),
    }
}

pub(super) fn apply_to_attribute(
    resource_type: &ResourceType,
    fields: &mut Map<String, Value>,
    op: PatchOp,
    target: Target<'_>,
    value: Option<&Value>,
    apart: &mut Vec<ApartChange>,
) -> Result<()> {
    let at = target.at;
    if resource_type.is_stored_apart(at.attribute) {
        return change_apart(op, target, value, apart);
    }
    let label = path_label(at, target.sub);
    let value = match (op, value) {
        (PatchOp::Remove, value) => value,
        (_, Some(value)) => Some(value),
        (_, None) => return Err(ScimError::invalid_value(format!("{} of {label} needs a \"value\"", op.as_str()))),
    };
    let container = container_mut(fields, at.extension);
    let current = container.remove(at.attribute.name);
    let immutable_before = if at.attribute.mutability == Mutability::Immutable { current.clone() } else { None };
    let updated = if at.attribute.multi_valued {
        let elements = match current {
            Some(Value::Array(elements)) => elements,
            _ => Vec::new(),
        };
        let elements = change_multi_valued(op, target, elements, value, &label)?;
        (!elements.is_empty()).then_some(Value::Array(elements))
    } else {
        if target.filter.is_some() {
            return Err(ScimError::invalid_path(format!(
                "{label} is single-valued: a [filter] only selects values of a multi-valued attribute"
            )));
        }
        change_single_valued(op, target, current, value, &label)?
    };
    if let Some(updated) = updated {
        container.insert(at.attribute.name.to_string(), updated);
    }
    if immutable_before.is_some_and(|before| Some(&before) != container.get(at.attribute.name)) {
        return Err(ScimError::mutability(format!("{label} is immutable and already set; it cannot be changed")));
    }
    prune_extension(fields, at.extension);
    Ok(())
}

pub(super) fn change_single_valued(
    op: PatchOp,
    target: Target<'_>,
    current: Option<Value>,
    value: Option<&Value>,
    label: &str,
) -> Result<Option<Value>> {
    let attribute = target.at.attribute;
    match (op, target.sub, value) {
        (PatchOp::Remove, None, _) => Ok(None),
        (PatchOp::Remove, Some(sub), _) => Ok(current.and_then(|c| without_sub(c, sub.name))),
        (_, None, Some(value)) => match (coerce(attribute, value, label)?, current) {
            (Some(Value::Object(new)), Some(Value::Object(mut existing))) => {
                // Sub-attributes not given are left as they are (RFC 7644 3.5.2.3),
                // unless the value identifying the target changed: a new manager's id
                // must not keep the previous manager's `$ref`.
                if new.contains_key("value") && new.get("value") != existing.get("value") {
                    return Ok(Some(Value::Object(new)));
                }
                existing.extend(new);
                Ok(Some(Value::Object(existing)))
            }
            (new, _) => Ok(new),
        },
        (_, Some(sub), Some(value)) => {
            let mut object = match current {
                Some(Value::Object(object)) => object,
                _ => Map::new(),
            };
            match coerce_single(sub, value, label)? {
                Some(value) => {
                    object.insert(sub.name.to_string(), value);
                }
                None => {
                    object.remove(sub.name);
                }
            }
            Ok((!object.is_empty()).then_some(Value::Object(object)))
        }
        (_, _, None) => Ok(current),
    }
}

pub(super) fn without_sub(current: Value, sub: &str) -> Option<Value> {
    let Value::Object(mut object) = current else { return None };
    object.remove(sub);
    (!object.is_empty()).then_some(Value::Object(object))
}
