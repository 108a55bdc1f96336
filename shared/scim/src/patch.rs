//! PATCH (RFC 7644 section 3.5.2) in every dialect Entra ID speaks: capitalised ops,
//! string booleans, path-less values whose keys are dotted or URN-qualified paths,
//! filtered paths that create the element they do not find, member removal by value
//! array, and `manager` in all its shapes.
//!
//! All or nothing: operations run on a copy that replaces the resource only when
//! every operation succeeded and the result is valid.

use crate::coerce::{coerce, coerce_single, describe};
use crate::error::{Result, ScimError};
use crate::filter::{self, CompValue, CompareOp, Filter};
use crate::path::{AttrPath, is_attr_name};
use crate::resource::{accepts_input, check_invariants, container_mut, prune_extension, set_schemas};
use crate::schema::{Attribute, AttributeRef, Mutability, Resolved, ResourceType, Returned, Schema};
use crate::schemas_member::check_message;
use serde_json::{Map, Value};

pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOp,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Replace,
    Remove,
}

impl PatchOp {
    fn as_str(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Replace => "replace",
            PatchOp::Remove => "remove",
        }
    }
}

/// `attrPath [ "[" valFilter "]" ] [ "." subAttr ]`. The sub-attribute always lives in
/// `sub`, never inside `attribute`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attribute: AttrPath,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

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

impl PatchRequest {
    /// Reads a PATCH body. Lenient where Entra varies (op case, a missing `schemas`,
    /// an empty `path`), strict where a guess could lose data: `schemas`, when present,
    /// must list the PatchOp URN.
    pub fn from_json(body: &Value) -> Result<PatchRequest> {
        let Value::Object(fields) = body else {
            return Err(ScimError::invalid_syntax("a PATCH body must be a JSON object with \"schemas\" and \"Operations\""));
        };
        let operations = fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("Operations"))
            .map(|(_, value)| value)
            .ok_or_else(|| ScimError::invalid_syntax("a PATCH body needs an \"Operations\" array"))?;
        let Value::Array(operations) = operations else {
            return Err(ScimError::invalid_syntax("\"Operations\" must be an array of operations"));
        };
        let operations = operations
            .iter()
            .enumerate()
            .map(|(index, operation)| PatchOperation::from_json(operation).map_err(|e| in_operation(e, index)))
            .collect::<Result<_>>()?;
        check_message(fields, PATCH_OP_SCHEMA, "a PATCH body")?;
        // RFC 7644 asks for one or more operations, but Microsoft's SCIM validator sends
        // an empty `Operations` array and fails a server that refuses it: it is a no-op
        // (docs/ENTRA.md §5).
        Ok(PatchRequest { operations })
    }
}

impl PatchOperation {
    fn from_json(operation: &Value) -> Result<PatchOperation> {
        let Value::Object(fields) = operation else {
            return Err(ScimError::invalid_syntax("each operation must be an object with \"op\", \"path\" and \"value\""));
        };
        let field = |name: &str| fields.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value);
        let op = match field("op").and_then(Value::as_str).map(str::trim) {
            Some(op) if op.eq_ignore_ascii_case("add") => PatchOp::Add,
            Some(op) if op.eq_ignore_ascii_case("replace") => PatchOp::Replace,
            Some(op) if op.eq_ignore_ascii_case("remove") => PatchOp::Remove,
            Some(op) => {
                return Err(ScimError::invalid_syntax(format!(
                    "\"op\" must be \"add\", \"replace\" or \"remove\", got {}",
                    describe(&Value::String(op.to_string()))
                )));
            }
            None => return Err(ScimError::invalid_syntax("\"op\" is missing: use \"add\", \"replace\" or \"remove\"")),
        };
        let path = match field("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) if path.trim().is_empty() => None,
            Some(Value::String(path)) => Some(PatchPath::parse(path.trim())?),
            Some(other) => return Err(ScimError::invalid_path(format!("\"path\" must be a string, got {}", describe(other)))),
        };
        Ok(PatchOperation { op, path, value: field("value").cloned() })
    }
}

impl PatchPath {
    pub fn parse(text: &str) -> Result<PatchPath> {
        let bad_path =
            |why: &str| ScimError::invalid_path(format!("path {} is not valid: {why}", describe(&Value::String(text.to_string()))));
        let Some(open) = text.find('[') else {
            let mut attribute = AttrPath::parse(text).ok_or_else(|| bad_path("expected an attribute name such as \"name.givenName\""))?;
            let sub = attribute.sub.take();
            return Ok(PatchPath { attribute, filter: None, sub });
        };
        let attribute = AttrPath::parse(&text[..open])
            .filter(|a| a.sub.is_none())
            .ok_or_else(|| bad_path("expected an attribute name before \"[\""))?;
        let close = closing_bracket(text, open).ok_or_else(|| bad_path("the \"[\" has no closing \"]\""))?;
        let filter = filter::parse(&text[open + 1..close]).map_err(|e| bad_path(&e.detail))?;
        let sub = match &text[close + 1..] {
            "" => None,
            rest => match rest.strip_prefix('.') {
                Some(sub) if is_attr_name(sub) => Some(sub.to_string()),
                _ => return Err(bad_path("after \"]\" only \".subAttribute\" may follow")),
            },
        };
        Ok(PatchPath { attribute, filter: Some(filter), sub })
    }
}

/// The `]` that closes the `[` at `open`, skipping brackets inside quoted strings.
fn closing_bracket(text: &str, open: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    for (offset, c) in text[open + 1..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            ']' if !in_string => return Some(open + 1 + offset),
            _ => {}
        }
    }
    None
}

fn in_operation(error: ScimError, index: usize) -> ScimError {
    ScimError { detail: format!("Operations[{index}]: {}", error.detail), ..error }
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

fn apply_operation(
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
fn apply_pathless(
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

fn apply_to_extension(
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

/// What a path designates once resolved.
#[derive(Clone, Copy)]
struct Target<'a> {
    at: AttributeRef,
    filter: Option<&'a Filter>,
    sub: Option<&'static Attribute>,
}

fn path_label(at: AttributeRef, sub: Option<&Attribute>) -> String {
    match sub {
        Some(sub) => format!("{}.{}", at.qualified_name(), sub.name),
        None => at.qualified_name(),
    }
}

fn apply_to_attribute(
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

fn change_single_valued(
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

fn without_sub(current: Value, sub: &str) -> Option<Value> {
    let Value::Object(mut object) = current else { return None };
    object.remove(sub);
    (!object.is_empty()).then_some(Value::Object(object))
}

fn change_multi_valued(
    op: PatchOp,
    target: Target<'_>,
    mut elements: Vec<Value>,
    value: Option<&Value>,
    label: &str,
) -> Result<Vec<Value>> {
    let attribute = target.at.attribute;
    let mut touched: Vec<usize> = Vec::new();
    match (op, target.filter, target.sub) {
        (PatchOp::Remove, None, None) => match value.map(|v| coerce(attribute, v, label)).transpose()?.flatten() {
            // Entra's `{"op":"Remove","path":"members","value":[{"value":"u1"}]}`:
            // only the listed values go.
            Some(Value::Array(listed)) => elements.retain(|e| !listed.iter().any(|l| same_value(attribute, e, l))),
            _ if value.is_some_and(|v| !v.is_null()) => {}
            _ => elements.clear(),
        },
        (PatchOp::Remove, filter, sub) => {
            for element in elements.iter_mut().filter(|e| filter.is_none_or(|f| f.matches_element(attribute, e))) {
                match sub {
                    Some(sub) => {
                        if let Value::Object(fields) = element {
                            fields.remove(sub.name);
                        }
                    }
                    None => *element = Value::Null,
                }
            }
        }
        (_, None, None) => {
            let new = match value {
                Some(value) => coerce(attribute, value, label)?,
                None => None,
            };
            let new = match new {
                Some(Value::Array(new)) => new,
                _ => Vec::new(),
            };
            if op == PatchOp::Replace {
                touched = (0..new.len()).collect();
                elements = new;
            } else {
                let types_given: Vec<Option<String>> = new.iter().map(|e| element_type(e).map(str::to_lowercase)).collect();
                for element in new {
                    // A value whose type this add gives once may update the one value of
                    // that type; several of one type are all added (`add_element`).
                    let once = element_type(&element)
                        .is_some_and(|kind| types_given.iter().flatten().filter(|t| **t == kind.to_lowercase()).count() == 1);
                    touched.push(add_element(attribute, &mut elements, element, once));
                }
            }
        }
        (_, filter, sub) => {
            let matched: Vec<usize> =
                (0..elements.len()).filter(|&i| filter.is_none_or(|f| f.matches_element(attribute, &elements[i]))).collect();
            let new_part = match (sub, value) {
                (Some(sub), Some(value)) => coerce_single(sub, value, label)?.map(|v| Map::from_iter([(sub.name.to_string(), v)])),
                (None, Some(value)) => match coerce_single(attribute, value, label)? {
                    Some(Value::Object(object)) => Some(object),
                    Some(other) => Some(Map::from_iter([("value".to_string(), other)])),
                    None => None,
                },
                (_, None) => None,
            };
            if matched.is_empty() {
                let Some(new_part) = new_part else { return Ok(without_vacant(elements)) };
                let seed = match filter {
                    Some(filter) => element_from_filter(attribute, filter).ok_or_else(|| {
                        ScimError::no_target(format!(
                            "no value of {} matches [{filter}], and the filter does not describe a value to create",
                            target.at.qualified_name()
                        ))
                    })?,
                    // `emails.value` on a user without emails: the first email.
                    None => Map::new(),
                };
                let mut element = seed;
                element.extend(new_part);
                elements.push(Value::Object(element));
                touched.push(elements.len() - 1);
            } else {
                let several = matched.len() > 1;
                for index in matched {
                    if let Value::Object(fields) = &mut elements[index] {
                        match (&new_part, sub) {
                            (Some(new_part), _) => fields.extend(new_part.clone()),
                            (None, Some(sub)) => {
                                fields.remove(sub.name);
                            }
                            (None, None) => fields.clear(),
                        }
                    }
                    touched.push(index);
                }
                if several {
                    collapse_same(&mut elements, &touched);
                    let primaries = touched.iter().filter(|&&i| elements[i].get("primary") == Some(&Value::Bool(true))).count();
                    if primaries > 1 {
                        return Err(ScimError::invalid_value(format!(
                            "{label}: the filter matches {primaries} values and would make each primary; at most one may be, so narrow the filter to one value (for example add `and value eq \"...\"`)"
                        )));
                    }
                }
            }
        }
    }
    keep_one_primary(&mut elements, &touched);
    Ok(without_vacant(elements))
}

/// Adds one element to a multi-valued attribute: an identical one is not added twice.
/// Where values carry a canonical `type` (emails, phoneNumbers, ...), a value of a type
/// exactly one existing value has, given once in this add (`type_given_once`), updates
/// that value instead of making a second one: a client that re-sends "the work email"
/// changes it. Otherwise the value is added, so a type may repeat (RFC 7643 limits only
/// `primary` to one value). Returns the element's index.
fn add_element(attribute: &Attribute, elements: &mut Vec<Value>, element: Value, type_given_once: bool) -> usize {
    if let Some(index) = elements.iter().position(|e| *e == element) {
        return index;
    }
    if type_given_once && attribute.has_canonical_types() {
        let kind = element_type(&element);
        let same_type: Vec<usize> = (0..elements.len())
            .filter(|&i| element_type(&elements[i]).zip(kind).is_some_and(|(t, kind)| t.eq_ignore_ascii_case(kind)))
            .collect();
        if let ([index], Value::Object(new)) = (same_type.as_slice(), &element)
            && let Value::Object(existing) = &mut elements[*index]
        {
            existing.extend(new.clone());
            return *index;
        }
    }
    elements.push(element);
    elements.len() - 1
}

fn element_type(element: &Value) -> Option<&str> {
    element.get("type").and_then(Value::as_str)
}

/// After a filtered add or replace set several values (`emails[type eq "work"].value`
/// on a user with two work emails sets both, RFC 7644 3.5.2.3), values that became the
/// same apart from `primary` are one value: the first is kept, primary if any of them
/// was, and the others become vacant (dropped by [`without_vacant`]).
fn collapse_same(elements: &mut [Value], touched: &[usize]) {
    let without_primary = |e: &Value| {
        let mut e = e.clone();
        if let Value::Object(fields) = &mut e {
            fields.remove("primary");
        }
        e
    };
    for (n, &later) in touched.iter().enumerate() {
        let Some(&earlier) = touched[..n]
            .iter()
            .find(|&&i| elements[i] != Value::Null && without_primary(&elements[i]) == without_primary(&elements[later]))
        else {
            continue;
        };
        if elements[later].get("primary") == Some(&Value::Bool(true))
            && let Value::Object(fields) = &mut elements[earlier]
        {
            fields.insert("primary".to_string(), Value::Bool(true));
        }
        elements[later] = Value::Null;
    }
}

/// When an operation makes a value primary, the values it did not touch stop being
/// primary (RFC 7643 2.4). Two primaries within one operation's values are the
/// client's error, left for the invariant check to report.
fn keep_one_primary(elements: &mut [Value], touched: &[usize]) {
    let is_primary = |e: &Value| e.get("primary") == Some(&Value::Bool(true));
    if !touched.iter().any(|&i| elements.get(i).is_some_and(is_primary)) {
        return;
    }
    for (index, element) in elements.iter_mut().enumerate() {
        if !touched.contains(&index)
            && is_primary(element)
            && let Value::Object(fields) = element
        {
            fields.remove("primary");
        }
    }
}

/// Drops removed elements and elements left with nothing but a `type` or `primary`
/// (an email whose address was removed is no email).
fn without_vacant(elements: Vec<Value>) -> Vec<Value> {
    elements
        .into_iter()
        .filter(|element| match element {
            Value::Null => false,
            Value::Object(fields) => fields.keys().any(|k| k != "type" && k != "primary"),
            _ => true,
        })
        .collect()
}

/// Whether two values of a multi-valued attribute designate the same thing: by their
/// `value` sub-attribute when the attribute has one, otherwise by equality.
fn same_value(attribute: &Attribute, a: &Value, b: &Value) -> bool {
    let Some(value_attribute) = attribute.sub_attribute("value") else { return a == b };
    match (a.get("value").and_then(Value::as_str), b.get("value").and_then(Value::as_str)) {
        (Some(x), Some(y)) if value_attribute.case_exact => x == y,
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y) || x.to_lowercase() == y.to_lowercase(),
        _ => a == b,
    }
}

/// The element a filter of `eq` terms describes (`type eq "work"` gives
/// `{"type": "work"}`), for an add or replace whose filter matched nothing.
fn element_from_filter(attribute: &Attribute, filter: &Filter) -> Option<Map<String, Value>> {
    let terms = match filter {
        Filter::And(terms) => terms.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut element = Map::new();
    for term in terms {
        let Filter::Compare { path, op: CompareOp::Eq, value } = term else { return None };
        if path.urn.is_some() || path.sub.is_some() {
            return None;
        }
        let sub = attribute.sub_attribute(&path.name)?;
        let literal = match value {
            CompValue::Str(text) => Value::String(text.clone()),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Number(n) => Value::Number(n.clone()),
            CompValue::Null => return None,
        };
        element.insert(sub.name.to_string(), coerce_single(sub, &literal, sub.name).ok()??);
    }
    Some(element)
}

fn change_apart(op: PatchOp, target: Target<'_>, value: Option<&Value>, apart: &mut Vec<ApartChange>) -> Result<()> {
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
