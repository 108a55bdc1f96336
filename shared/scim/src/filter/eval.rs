//! Filter evaluation against resources and multi-valued attribute elements, and
//! validation against a resource type's schemas.
//!
//! Unknown attributes are not errors: they match nothing (Entra quarantines a
//! provisioning job on an error, and a filter on an attribute this service does not
//! keep has, correctly, no match).

use super::{CompValue, CompareOp, Filter};
use crate::error::{Result, ScimError};
use crate::names;
use crate::path::AttrPath;
use crate::schema::{Attribute, AttributeType, ResourceType};
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `schemas` is in every resource but in no schema's attribute list. Its values are
/// URNs, which compare case-insensitively.
static SCHEMAS: Attribute = Attribute::string("schemas").multi_valued();

impl Filter {
    /// Whether `resource`, a resource of `resource_type`, matches this filter.
    pub fn matches(&self, resource_type: &ResourceType, resource: &Value) -> bool {
        self.evaluate(Scope::Resource(resource_type, resource))
    }

    /// Whether one element of the multi-valued (or complex) attribute `parent`
    /// matches this value filter, the inside of `parent[...]`, whose paths name
    /// sub-attributes of `parent`. For an attribute of simple values the path `value`
    /// names the element itself.
    pub fn matches_element(&self, parent: &Attribute, element: &Value) -> bool {
        self.evaluate(Scope::Element(parent, element))
    }

    /// Rejects what RFC 7644 section 3.4.2.2 rules out: ordering (`gt`, `ge`, `lt`,
    /// `le`) on boolean and binary attributes, substring operators on booleans, and
    /// `[...]` on an attribute that is neither multi-valued nor complex.
    pub fn validate(&self, resource_type: &ResourceType) -> Result<()> {
        self.check(Scope::Resource(resource_type, &Value::Null))
    }

    fn evaluate(&self, scope: Scope<'_>) -> bool {
        match self {
            Filter::And(operands) => operands.iter().all(|operand| operand.evaluate(scope)),
            Filter::Or(operands) => operands.iter().any(|operand| operand.evaluate(scope)),
            Filter::Not(inner) => !inner.evaluate(scope),
            Filter::Present(path) => scope.target(path).is_some_and(|target| target.present()),
            Filter::Compare { path, op, value } => scope.target(path).is_some_and(|target| target.compare(*op, value)),
            Filter::ValuePath { path, filter } => match (scope, scope.target(path)) {
                (Scope::Resource(..), Some(Target { attribute, value: Some(value), sub: None })) => {
                    elements(value).iter().any(|element| filter.evaluate(Scope::Element(attribute, element)))
                }
                _ => false,
            },
        }
    }

    fn check(&self, scope: Scope<'_>) -> Result<()> {
        match self {
            Filter::And(operands) | Filter::Or(operands) => operands.iter().try_for_each(|operand| operand.check(scope)),
            Filter::Not(inner) => inner.check(scope),
            Filter::Present(_) => Ok(()),
            Filter::Compare { path, op, .. } => match scope.target(path).and_then(|target| target.compared()) {
                Some((attribute, _)) => check_operator(attribute, *op, path),
                None => Ok(()),
            },
            Filter::ValuePath { path, filter } => match (scope, scope.target(path)) {
                (Scope::Resource(..), Some(target)) => {
                    let attribute = target.attribute;
                    if target.sub.is_some() || !(attribute.multi_valued || attribute.kind == AttributeType::Complex) {
                        return Err(ScimError::invalid_filter(format!(
                            "\"{path}\" is neither multi-valued nor complex, so it cannot be filtered with \"[...]\""
                        )));
                    }
                    filter.check(Scope::Element(attribute, &Value::Null))
                }
                _ => Ok(()),
            },
        }
    }
}

fn check_operator(attribute: &Attribute, op: CompareOp, path: &AttrPath) -> Result<()> {
    let ordering = matches!(op, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le);
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let refused = match attribute.kind {
        AttributeType::Boolean => ordering || substring,
        AttributeType::Binary => ordering,
        _ => false,
    };
    if refused {
        return Err(ScimError::invalid_filter(format!(
            "\"{}\" cannot be used with \"{path}\", a {} attribute",
            op.as_str(),
            attribute.kind.as_str()
        )));
    }
    Ok(())
}

/// What paths are relative to: a whole resource, or one element of a multi-valued
/// attribute inside `[...]`.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource(&'a ResourceType, &'a Value),
    Element(&'a Attribute, &'a Value),
}

/// What a path names: an attribute's definition, its value if assigned, and the
/// sub-attribute to take from each of its elements when the path names one.
struct Target<'a> {
    attribute: &'a Attribute,
    value: Option<&'a Value>,
    sub: Option<&'a Attribute>,
}

impl<'a> Scope<'a> {
    /// `None` for a path that names no attribute.
    fn target(self, path: &AttrPath) -> Option<Target<'a>> {
        match self {
            Scope::Resource(resource_type, resource) => {
                if path.urn.is_none() && path.sub.is_none() && path.name.eq_ignore_ascii_case("schemas") {
                    return Some(Target { attribute: &SCHEMAS, value: resource.get("schemas"), sub: None });
                }
                let at = resource_type.find_attribute(path.urn.as_deref(), &path.name)?;
                let sub = match &path.sub {
                    Some(name) => Some(at.attribute.sub_attribute(name)?),
                    None => None,
                };
                Some(Target { attribute: at.attribute, value: at.get(resource), sub })
            }
            Scope::Element(parent, element) => {
                if path.urn.is_some() || path.sub.is_some() {
                    return None;
                }
                if parent.sub_attributes.is_empty() {
                    return path.name.eq_ignore_ascii_case("value").then_some(Target {
                        attribute: parent,
                        value: Some(element),
                        sub: None,
                    });
                }
                let attribute = parent.sub_attribute(&path.name)?;
                Some(Target { attribute, value: element.get(attribute.name), sub: None })
            }
        }
    }
}

impl<'a> Target<'a> {
    /// Assigned, and not null, `""`, `[]` or `{}`.
    fn present(&self) -> bool {
        match self.sub {
            Some(sub) => any_leaf(self.value, Some(sub.name), is_present),
            None => self.value.is_some_and(is_present),
        }
    }

    /// The attribute whose type governs comparisons, and the key to take from each
    /// element. A complex attribute compares its `value` sub-attribute, so that
    /// `manager eq "id"` and `emails co "@x"` work; without one it has none.
    fn compared(&self) -> Option<(&'a Attribute, Option<&'static str>)> {
        match self.sub {
            Some(sub) => Some((sub, Some(sub.name))),
            None if self.attribute.kind == AttributeType::Complex => {
                let value = self.attribute.sub_attribute("value")?;
                Some((value, Some(value.name)))
            }
            None => Some((self.attribute, None)),
        }
    }

    fn compare(&self, op: CompareOp, literal: &CompValue) -> bool {
        match (op, literal) {
            // `eq null` asks whether the attribute is unassigned.
            (CompareOp::Eq, CompValue::Null) => !self.present(),
            (CompareOp::Ne, CompValue::Null) => self.present(),
            (_, CompValue::Null) => false,
            (CompareOp::Ne, _) => !self.compare(CompareOp::Eq, literal),
            _ => match self.compared() {
                Some((attribute, key)) => compare_leaves(attribute, op, literal, self.value, key),
                None => false,
            },
        }
    }
}

fn elements(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    }
}

/// Whether `test` holds for some leaf of `value`: each element of a multi-valued
/// attribute (or the single value), with `key` taken from it when given.
fn any_leaf(value: Option<&Value>, key: Option<&str>, test: impl Fn(&Value) -> bool) -> bool {
    let Some(value) = value else {
        return false;
    };
    elements(value).iter().any(|element| {
        let leaf = match key {
            Some(key) => match element.get(key) {
                Some(leaf) => leaf,
                None => return false,
            },
            None => element,
        };
        elements(leaf).iter().any(&test)
    })
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(is_assigned),
        Value::Object(members) => members.values().any(is_assigned),
        other => is_assigned(other),
    }
}

/// One level only, so that no JSON value, however deep, recurses far.
fn is_assigned(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_leaves(attribute: &Attribute, op: CompareOp, literal: &CompValue, value: Option<&Value>, key: Option<&str>) -> bool {
    match attribute.kind {
        AttributeType::Boolean => {
            let Some(wanted) = literal_bool(literal) else {
                return false;
            };
            op == CompareOp::Eq && any_leaf(value, key, |leaf| leaf.as_bool() == Some(wanted))
        }
        AttributeType::Integer | AttributeType::Decimal => {
            let Some(wanted) = literal_number(literal) else {
                return false;
            };
            any_leaf(value, key, |leaf| {
                leaf.as_number().and_then(|number| compare_numbers(number, &wanted)).is_some_and(|ordering| accepts(op, ordering))
            })
        }
        AttributeType::DateTime => {
            let mut buffer = NumberText::default();
            let Some(wanted) = literal_text(literal, &mut buffer) else {
                return false;
            };
            let instant = OffsetDateTime::parse(wanted, &Rfc3339).ok();
            any_leaf(value, key, |leaf| {
                leaf.as_str().is_some_and(|actual| compare_date_time(op, actual, wanted, instant, attribute.case_exact))
            })
        }
        AttributeType::String | AttributeType::Reference | AttributeType::Binary | AttributeType::Complex => {
            let mut buffer = NumberText::default();
            let Some(wanted) = literal_text(literal, &mut buffer) else {
                return false;
            };
            let wanted = if attribute.is_unique_name() { name_literal(op, wanted) } else { Cow::Borrowed(wanted) };
            any_leaf(value, key, |leaf| leaf.as_str().is_some_and(|actual| compare_text(op, actual, &wanted, attribute.case_exact)))
        }
    }
}

/// A literal compared with a unique name, in the form names are stored in (see
/// `crate::names`): NFC always, and trimmed when compared with the whole name, so that
/// `userName eq " Alice "` finds `Alice`. A substring may begin or end with a space.
fn name_literal(op: CompareOp, wanted: &str) -> Cow<'_, str> {
    match op {
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => names::nfc(wanted),
        _ => names::comparable(wanted),
    }
}

/// Entra sends booleans as strings (`active eq "true"`).
fn literal_bool(literal: &CompValue) -> Option<bool> {
    match literal {
        CompValue::Bool(value) => Some(*value),
        CompValue::Str(text) if text.eq_ignore_ascii_case("true") => Some(true),
        CompValue::Str(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn literal_number(literal: &CompValue) -> Option<Number> {
    match literal {
        CompValue::Number(number) => Some(number.clone()),
        CompValue::Str(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A literal as text, for string-typed attributes: a number compares by its JSON text.
fn literal_text<'b>(literal: &'b CompValue, buffer: &'b mut NumberText) -> Option<&'b str> {
    match literal {
        CompValue::Str(text) => Some(text),
        CompValue::Bool(true) => Some("true"),
        CompValue::Bool(false) => Some("false"),
        CompValue::Number(number) => {
            fmt::write(buffer, format_args!("{number}")).ok()?;
            buffer.as_str()
        }
        CompValue::Null => None,
    }
}

/// Room for any printed `serde_json::Number` (at most 24 bytes, e.g.
/// `-2.2250738585072014e-308`), so that a number literal compared with a string
/// attribute costs no allocation.
#[derive(Default)]
struct NumberText {
    bytes: [u8; 32],
    len: usize,
}

impl NumberText {
    fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes.get(..self.len)?).ok()
    }
}

impl fmt::Write for NumberText {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn compare_numbers(actual: &Number, wanted: &Number) -> Option<Ordering> {
    // Integers compare exactly; anything else as f64.
    let integer = |number: &Number| number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from));
    match (integer(actual), integer(wanted)) {
        (Some(actual), Some(wanted)) => Some(actual.cmp(&wanted)),
        _ => actual.as_f64()?.partial_cmp(&wanted.as_f64()?),
    }
}

fn accepts(op: CompareOp, ordering: Ordering) -> bool {
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Instants when both sides are RFC 3339 (`2011-05-13T04:42:34Z` equals
/// `2011-05-13T06:42:34+02:00`), text otherwise.
fn compare_date_time(op: CompareOp, actual: &str, wanted: &str, wanted_instant: Option<OffsetDateTime>, case_exact: bool) -> bool {
    if !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        && let (Some(wanted), Ok(actual)) = (wanted_instant, OffsetDateTime::parse(actual, &Rfc3339))
    {
        return accepts(op, actual.cmp(&wanted));
    }
    compare_text(op, actual, wanted, case_exact)
}

fn compare_text(op: CompareOp, actual: &str, wanted: &str, case_exact: bool) -> bool {
    if case_exact {
        return match op {
            CompareOp::Eq => actual == wanted,
            CompareOp::Co => actual.contains(wanted),
            CompareOp::Sw => actual.starts_with(wanted),
            CompareOp::Ew => actual.ends_with(wanted),
            _ => accepts(op, actual.cmp(wanted)),
        };
    }
    if actual.is_ascii() && wanted.is_ascii() {
        let (actual, wanted) = (actual.as_bytes(), wanted.as_bytes());
        return match op {
            CompareOp::Eq => actual.eq_ignore_ascii_case(wanted),
            CompareOp::Co => wanted.is_empty() || actual.windows(wanted.len()).any(|window| window.eq_ignore_ascii_case(wanted)),
            CompareOp::Sw => actual.get(..wanted.len()).is_some_and(|head| head.eq_ignore_ascii_case(wanted)),
            CompareOp::Ew => actual
                .len()
                .checked_sub(wanted.len())
                .and_then(|start| actual.get(start..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(wanted)),
            _ => accepts(op, actual.iter().map(u8::to_ascii_lowercase).cmp(wanted.iter().map(u8::to_ascii_lowercase))),
        };
    }
    match op {
        CompareOp::Eq => lowered(actual).eq(lowered(wanted)),
        CompareOp::Sw => {
            let mut rest = lowered(actual);
            lowered(wanted).all(|c| rest.next() == Some(c))
        }
        CompareOp::Ew => {
            let mut rest = lowered_backwards(actual);
            lowered_backwards(wanted).all(|c| rest.next() == Some(c))
        }
        // Substrings of non-ASCII text are the one case that lowercases into new strings.
        CompareOp::Co => lowered(actual).collect::<String>().contains(&lowered(wanted).collect::<String>()),
        _ => accepts(op, lowered(actual).cmp(lowered(wanted))),
    }
}

fn lowered(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase)
}

fn lowered_backwards(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().rev().flat_map(|c| c.to_lowercase().rev())
}
