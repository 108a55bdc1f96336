//! Which attributes a response carries (RFC 7644 sections 3.4.2.5 and 3.9): the
//! `attributes` / `excludedAttributes` parameters combined with each attribute's
//! `returned` characteristic.
//!
//! Attributes and sub-attributes that no schema of the resource type defines are
//! dropped: the projection is the last gate before a resource leaves the service.

use serde_json::{Map, Value};

use crate::error::Result;
use crate::path::AttrPath;
use crate::schema::{Attribute, AttributeRef, Resolved, ResourceType, Returned};

/// The parsed `attributes` or `excludedAttributes` request, not yet tied to a
/// resource type (names resolve when the selection is applied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeSelection {
    mode: Mode,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Default,
    Only(Vec<AttrPath>),
    Except(Vec<AttrPath>),
}

/// Which sub-attributes of a kept complex attribute to keep.
enum Subs<'a> {
    /// Those returned by default.
    Default,
    /// Those named (plus those returned always).
    Only(Vec<&'a str>),
    /// Those returned by default except the ones named (unless returned always).
    Except(Vec<&'a str>),
}

impl AttributeSelection {
    /// Builds a selection from the comma-separated parameter values. Names are
    /// matched case-insensitively; names that are not attribute paths, or that the
    /// resource type does not define, are ignored, as lenient clients expect. RFC
    /// 7644 has clients send one list or the other; when both come, `attributes`
    /// wins. An empty list counts as absent.
    ///
    /// Returns a `Result` so that a stricter policy can be adopted without changing
    /// callers; today it never fails.
    pub fn parse(attributes: Option<&str>, excluded_attributes: Option<&str>) -> Result<Self> {
        let attributes = attributes.map(parse_list).filter(|paths| !paths.is_empty());
        let excluded = excluded_attributes.map(parse_list).filter(|paths| !paths.is_empty());
        let mode = match (attributes, excluded) {
            (Some(paths), _) => Mode::Only(paths),
            (None, Some(paths)) => Mode::Except(paths),
            (None, None) => Mode::Default,
        };
        Ok(AttributeSelection { mode })
    }

    /// Whether a response will carry `attribute` (a name or path such as `members`
    /// or `urn:...:enterprise:2.0:User:manager`), so that the store can skip loading
    /// what would be projected away. Unknown names are not wanted.
    pub fn wants(&self, resource_type: &ResourceType, attribute: &str) -> bool {
        let Some(path) = AttrPath::parse(attribute.trim()) else { return false };
        match resource_type.resolve(&path) {
            Some(Resolved::Attribute { at, .. }) => self.sub_selection(resource_type, at).is_some(),
            Some(Resolved::Extension(schema)) => schema
                .attributes
                .iter()
                .any(|attribute| self.sub_selection(resource_type, AttributeRef { extension: Some(schema), attribute }).is_some()),
            None => false,
        }
    }

    /// The resource as the response should show it. `schemas` is always kept; an
    /// extension object left empty is removed.
    pub fn project(&self, resource_type: &ResourceType, resource: &Value) -> Value {
        let Some(object) = resource.as_object() else { return resource.clone() };
        let mut projected = Map::new();
        for (key, value) in object {
            if key == "schemas" {
                projected.insert(key.clone(), value.clone());
            } else if let Some(extension) = resource_type.extension(key) {
                let Some(inner) = value.as_object() else { continue };
                let mut kept = Map::new();
                for (name, value) in inner {
                    let Some(attribute) = extension.attribute(name) else { continue };
                    let at = AttributeRef { extension: Some(extension), attribute };
                    if let Some(value) = self.project_attribute(resource_type, at, value) {
                        kept.insert(name.clone(), value);
                    }
                }
                if !kept.is_empty() {
                    projected.insert(key.clone(), Value::Object(kept));
                }
            } else if let Some(at) = resource_type.find_attribute(Some(resource_type.schema.id), key)
                && let Some(value) = self.project_attribute(resource_type, at, value)
            {
                projected.insert(key.clone(), value);
            }
        }
        Value::Object(projected)
    }

    fn project_attribute(&self, resource_type: &ResourceType, at: AttributeRef, value: &Value) -> Option<Value> {
        let subs = self.sub_selection(resource_type, at)?;
        if at.attribute.sub_attributes.is_empty() {
            return Some(value.clone());
        }
        match value {
            Value::Array(elements) => {
                let kept: Vec<Value> = elements.iter().filter_map(|element| project_complex(at.attribute, &subs, element)).collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            other => project_complex(at.attribute, &subs, other),
        }
    }

    /// `None` when the attribute is not returned at all.
    fn sub_selection(&self, resource_type: &ResourceType, at: AttributeRef) -> Option<Subs<'_>> {
        match at.attribute.returned {
            Returned::Never => return None,
            Returned::Always => return Some(Subs::Default),
            Returned::Default | Returned::Request => {}
        }
        let named = |paths: &[AttrPath]| -> (bool, Vec<&str>) {
            let mut whole = false;
            let mut subs = Vec::new();
            for path in paths {
                match resource_type.resolve(path) {
                    Some(Resolved::Extension(schema)) if at.extension.is_some_and(|e| std::ptr::eq(e, schema)) => whole = true,
                    Some(Resolved::Attribute { at: named, sub }) if same_attribute(named, at) => match sub {
                        None => whole = true,
                        Some(sub) => subs.push(sub.name),
                    },
                    _ => {}
                }
            }
            (whole, subs)
        };
        match &self.mode {
            Mode::Default => (at.attribute.returned == Returned::Default).then_some(Subs::Default),
            Mode::Only(paths) => match named(paths) {
                (true, _) => Some(Subs::Default),
                (false, subs) if !subs.is_empty() => Some(Subs::Only(subs)),
                _ => None,
            },
            Mode::Except(paths) => match (at.attribute.returned, named(paths)) {
                (Returned::Request, _) | (_, (true, _)) => None,
                (_, (false, subs)) if subs.is_empty() => Some(Subs::Default),
                (_, (false, subs)) => Some(Subs::Except(subs)),
            },
        }
    }
}

fn parse_list(list: &str) -> Vec<AttrPath> {
    list.split(',').filter_map(|name| AttrPath::parse(name.trim())).collect()
}

fn same_attribute(a: AttributeRef, b: AttributeRef) -> bool {
    std::ptr::eq(a.attribute, b.attribute)
        && match (a.extension, b.extension) {
            (None, None) => true,
            (Some(x), Some(y)) => std::ptr::eq(x, y),
            _ => false,
        }
}

/// One complex value with its sub-attributes selected; `None` when nothing is left.
fn project_complex(attribute: &Attribute, subs: &Subs<'_>, value: &Value) -> Option<Value> {
    let Some(object) = value.as_object() else { return Some(value.clone()) };
    let kept: Map<String, Value> = object
        .iter()
        .filter(|(name, _)| attribute.sub_attribute(name).is_some_and(|sub| keeps(subs, sub)))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    (!kept.is_empty()).then_some(Value::Object(kept))
}

fn keeps(subs: &Subs<'_>, sub: &Attribute) -> bool {
    match sub.returned {
        Returned::Never => false,
        Returned::Always => true,
        Returned::Request => matches!(subs, Subs::Only(names) if names.contains(&sub.name)),
        Returned::Default => match subs {
            Subs::Default => true,
            Subs::Only(names) => names.contains(&sub.name),
            Subs::Except(names) => !names.contains(&sub.name),
        },
    }
}
