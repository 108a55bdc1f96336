//! Typing client values against attribute definitions: the one place where Entra's
//! leniencies (string booleans, bare-string or one-element-array managers, `""` for
//! "clear it") become canonical values, and where unique names get their one spelling
//! (`crate::names`), whichever way a create, replace or PATCH sets them.

use crate::error::{Result, ScimError};
use crate::names;
use crate::schema::{Attribute, AttributeType, Returned};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The canonical value of `attribute` for a client's `value`, or `None` when the value
/// means "unassigned" (`null`, `""`, `[]`, `{}` or only unassigned parts).
/// `label` names the attribute in error details.
pub fn coerce(attribute: &Attribute, value: &Value, label: &str) -> Result<Option<Value>> {
    if attribute.multi_valued { coerce_multi(attribute, value, label) } else { coerce_single(attribute, value, label) }
}

/// One element of a multi-valued attribute (or the value of a single-valued one).
pub fn coerce_single(attribute: &Attribute, value: &Value, label: &str) -> Result<Option<Value>> {
    match attribute.kind {
        AttributeType::Complex => coerce_complex(attribute, value, label),
        _ => coerce_simple(attribute, value, label),
    }
}

fn coerce_multi(attribute: &Attribute, value: &Value, label: &str) -> Result<Option<Value>> {
    let elements = match value {
        Value::Null => return Ok(None),
        Value::Array(elements) => elements.as_slice(),
        // A single value where a list belongs: take it as a one-element list.
        single => std::slice::from_ref(single),
    };
    let mut coerced = Vec::with_capacity(elements.len());
    for (index, element) in elements.iter().enumerate() {
        if let Some(element) = coerce_single(attribute, element, &format!("{label}[{index}]"))? {
            coerced.push(element);
        }
    }
    Ok((!coerced.is_empty()).then_some(Value::Array(coerced)))
}

fn coerce_complex(attribute: &Attribute, value: &Value, label: &str) -> Result<Option<Value>> {
    match value {
        Value::Null => Ok(None),
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, field) in fields {
                // Unknown sub-attributes are ignored like unknown attributes; read-only
                // ones are the service's to set.
                let Some(sub) = attribute.sub_attribute(key) else { continue };
                if sub.is_read_only() || sub.returned == Returned::Never {
                    continue;
                }
                if let Some(field) = coerce_simple(sub, field, &format!("{label}.{}", sub.name))? {
                    out.insert(sub.name.to_string(), field);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        // Entra sends `manager` as a bare id, as `[{"value": id}]`, or `""` to clear it.
        Value::String(_) | Value::Number(_) if attribute.sub_attribute("value").is_some() => {
            let wrapped = Value::Object(Map::from_iter([("value".to_string(), value.clone())]));
            coerce_complex(attribute, &wrapped, label)
        }
        Value::Array(elements) if elements.len() <= 1 => match elements.first() {
            Some(element) => coerce_complex(attribute, element, label),
            None => Ok(None),
        },
        other => Err(ScimError::invalid_value(format!(
            "{label} must be an object with the sub-attributes {}, got {}",
            sub_attribute_names(attribute),
            describe(other)
        ))),
    }
}

fn coerce_simple(attribute: &Attribute, value: &Value, label: &str) -> Result<Option<Value>> {
    if value.is_null() || value.as_str().is_some_and(str::is_empty) {
        return Ok(None);
    }
    let coerced = match attribute.kind {
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => match value {
            Value::String(_) => Some(value.clone()),
            // A number or boolean where text belongs (e.g. an employeeNumber mapped from
            // a numeric source attribute) keeps its text.
            Value::Number(n) => Some(Value::String(n.to_string())),
            Value::Bool(b) => Some(Value::String(b.to_string())),
            _ => None,
        },
        AttributeType::Boolean => match value {
            Value::Bool(_) => Some(value.clone()),
            Value::String(text) => parse_bool(text).map(Value::Bool),
            _ => None,
        },
        AttributeType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Some(value.clone()),
            Value::String(text) => text.trim().parse::<i64>().ok().map(Value::from),
            _ => None,
        },
        AttributeType::Decimal => match value {
            Value::Number(_) => Some(value.clone()),
            Value::String(text) => text.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number),
            _ => None,
        },
        AttributeType::DateTime => match value {
            Value::String(text) if OffsetDateTime::parse(text, &Rfc3339).is_ok() => Some(value.clone()),
            _ => None,
        },
        AttributeType::Complex => None,
    };
    match coerced {
        Some(Value::String(text)) if attribute.is_unique_name() => Ok(names::normalise(&text, label)?.map(Value::String)),
        Some(coerced) => Ok(Some(coerced)),
        None => Err(ScimError::invalid_value(format!("{label} must be {}, got {}", expected(attribute.kind), describe(value)))),
    }
}

/// Entra sends `"True"`/`"False"`; accept any case and surrounding blanks.
pub fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn expected(kind: AttributeType) -> &'static str {
    match kind {
        AttributeType::String => "a string",
        AttributeType::Reference => "a URI string",
        AttributeType::Binary => "a base64 string",
        AttributeType::Boolean => "a boolean (true or false)",
        AttributeType::Integer => "an integer",
        AttributeType::Decimal => "a number",
        AttributeType::DateTime => "an RFC 3339 date-time such as \"2026-11-23T10:00:00Z\"",
        AttributeType::Complex => "an object",
    }
}

fn sub_attribute_names(attribute: &Attribute) -> String {
    attribute.sub_attributes.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
}

/// A short description of a client value for error details, bounded in length so a
/// hostile value cannot blow up the response.
pub fn describe(value: &Value) -> String {
    let text = match value {
        Value::Object(_) => return "an object".into(),
        Value::Array(_) => return "an array".into(),
        Value::Bool(b) => return format!("the boolean {b}"),
        Value::Number(n) => return format!("the number {n}"),
        Value::Null => return "null".into(),
        Value::String(text) => text,
    };
    let shown: String = text.chars().take(64).collect();
    let ellipsis = if shown.len() < text.len() { "…" } else { "" };
    format!("{:?}", format!("{shown}{ellipsis}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ENTERPRISE_USER, USER};
    use serde_json::json;

    fn user_attribute(name: &str) -> &'static Attribute {
        USER.attribute(name).or_else(|| ENTERPRISE_USER.attribute(name)).unwrap()
    }

    #[test]
    fn string_booleans_become_booleans() {
        let active = user_attribute("active");
        assert_eq!(coerce(active, &json!("False"), "active").unwrap(), Some(json!(false)));
        assert_eq!(coerce(active, &json!(" TRUE "), "active").unwrap(), Some(json!(true)));
        let error = coerce(active, &json!("yes"), "active").unwrap_err();
        assert!(error.detail.contains("active must be a boolean"), "{}", error.detail);
    }

    #[test]
    fn manager_in_every_shape_becomes_an_object() {
        let manager = user_attribute("manager");
        for shape in [json!("m1"), json!({"value": "m1"}), json!([{"value": "m1", "$ref": null}]), json!({"VALUE": "m1"})] {
            assert_eq!(coerce(manager, &shape, "manager").unwrap(), Some(json!({"value": "m1"})), "{shape}");
        }
        for empty in [json!(""), json!(null), json!([]), json!({"value": ""})] {
            assert_eq!(coerce(manager, &empty, "manager").unwrap(), None, "{empty}");
        }
    }

    #[test]
    fn multi_valued_elements_are_typed_and_empties_dropped() {
        let emails = user_attribute("emails");
        let coerced = coerce(emails, &json!([{"value": "a@b.c", "primary": "True", "bogus": 1}, null, {}]), "emails").unwrap();
        assert_eq!(coerced, Some(json!([{"value": "a@b.c", "primary": true}])));
        let error = coerce(emails, &json!([{"primary": "maybe"}]), "emails").unwrap_err();
        assert_eq!(error.detail, "emails[0].primary must be a boolean (true or false), got \"maybe\"");
    }

    #[test]
    fn long_values_are_cut_in_details() {
        let described = describe(&json!("x".repeat(10_000)));
        assert!(described.len() < 80, "{described}");
    }
}
