//! Multi-valued attributes under PATCH: filtered paths that change every match,
//! elements made from a filter, one primary, equal values merged.

use crate::coerce::{coerce, coerce_single};
use crate::error::{Result, ScimError};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::schema::Attribute;
use serde_json::{Map, Value};

use super::request::PatchOp;
use super::target::Target;

pub(super) fn change_multi_valued(
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
pub(super) fn add_element(attribute: &Attribute, elements: &mut Vec<Value>, element: Value, type_given_once: bool) -> usize {
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

pub(super) fn element_type(element: &Value) -> Option<&str> {
    element.get("type").and_then(Value::as_str)
}

/// After a filtered add or replace set several values (`emails[type eq "work"].value`
/// on a user with two work emails sets both, RFC 7644 3.5.2.3), values that became the
/// same apart from `primary` are one value: the first is kept, primary if any of them
/// was, and the others become vacant (dropped by [`without_vacant`]).
pub(super) fn collapse_same(elements: &mut [Value], touched: &[usize]) {
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
pub(super) fn keep_one_primary(elements: &mut [Value], touched: &[usize]) {
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
pub(super) fn without_vacant(elements: Vec<Value>) -> Vec<Value> {
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
pub(super) fn same_value(attribute: &Attribute, a: &Value, b: &Value) -> bool {
    let Some(value_attribute) = attribute.sub_attribute("value") else { return a == b };
    match (a.get("value").and_then(Value::as_str), b.get("value").and_then(Value::as_str)) {
        (Some(x), Some(y)) if value_attribute.case_exact => x == y,
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y) || x.to_lowercase() == y.to_lowercase(),
        _ => a == b,
    }
}

/// The element a filter of `eq` terms describes (`type eq "work"` gives
/// `{"type": "work"}`), for an add or replace whose filter matched nothing.
pub(super) fn element_from_filter(attribute: &Attribute, filter: &Filter) -> Option<Map<String, Value>> {
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
