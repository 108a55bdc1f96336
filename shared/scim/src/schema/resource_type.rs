//! Resource types (RFC 7643 section 6): a core schema, its extensions, and where each
//! attribute lives in a resource's JSON.

use super::{Attribute, COMMON_ATTRIBUTES, ENTERPRISE_USER, GROUP, Schema, USER, find_attribute};
use crate::path::AttrPath;

#[derive(Debug)]
pub struct SchemaExtension {
    pub schema: &'static Schema,
    pub required: bool,
}

#[derive(Debug)]
pub struct ResourceType {
    pub name: &'static str,
    pub endpoint: &'static str,
    pub description: &'static str,
    pub schema: &'static Schema,
    pub extensions: &'static [SchemaExtension],
    /// Multi-valued attributes that are not kept inside the resource but as one store
    /// item per value (a group's `members`: groups reach 100,000+ members, far past
    /// one item's size). PATCH reports changes to them instead of applying them.
    pub stored_apart: &'static [&'static str],
}

pub static USER_RESOURCE: ResourceType = ResourceType {
    name: "User",
    endpoint: "/Users",
    description: "User Account",
    schema: &USER,
    extensions: &[SchemaExtension { schema: &ENTERPRISE_USER, required: false }],
    stored_apart: &[],
};

pub static GROUP_RESOURCE: ResourceType =
    ResourceType { name: "Group", endpoint: "/Groups", description: "Group", schema: &GROUP, extensions: &[], stored_apart: &["members"] };

/// Where an attribute lives: at the top level of the resource (common and core
/// attributes) or inside the object keyed by an extension's URN.
#[derive(Debug, Clone, Copy)]
pub struct AttributeRef {
    pub extension: Option<&'static Schema>,
    pub attribute: &'static Attribute,
}

/// A path resolved against a resource type.
#[derive(Debug, Clone, Copy)]
pub enum Resolved {
    /// A whole extension object, e.g. `urn:...:enterprise:2.0:User` as a PATCH path.
    Extension(&'static Schema),
    Attribute {
        at: AttributeRef,
        sub: Option<&'static Attribute>,
    },
}

impl ResourceType {
    pub fn extension(&self, urn: &str) -> Option<&'static Schema> {
        self.extensions.iter().map(|e| e.schema).find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The schema URNs a resource of this type may list in `schemas`.
    pub fn schema_ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.schema.id).chain(self.extensions.iter().map(|e| e.schema.id))
    }

    /// Finds an attribute by name, case-insensitively. An unqualified name is looked
    /// up in the common attributes, then the core schema, then (leniently) the
    /// extensions; a URN-qualified one only in the schema it names.
    pub fn find_attribute(&self, urn: Option<&str>, name: &str) -> Option<AttributeRef> {
        let in_core = || {
            find_attribute(&COMMON_ATTRIBUTES, name)
                .or_else(|| self.schema.attribute(name))
                .map(|attribute| AttributeRef { extension: None, attribute })
        };
        match urn {
            Some(urn) if urn.eq_ignore_ascii_case(self.schema.id) => in_core(),
            Some(urn) => {
                let extension = self.extension(urn)?;
                extension.attribute(name).map(|attribute| AttributeRef { extension: Some(extension), attribute })
            }
            None => in_core().or_else(|| {
                self.extensions
                    .iter()
                    .find_map(|e| e.schema.attribute(name).map(|attribute| AttributeRef { extension: Some(e.schema), attribute }))
            }),
        }
    }

    pub fn resolve(&self, path: &AttrPath) -> Option<Resolved> {
        if let Some(urn) = &path.urn {
            let whole = format!("{urn}:{}", path.name);
            if path.sub.is_none()
                && let Some(extension) = self.extension(&whole)
            {
                return Some(Resolved::Extension(extension));
            }
        }
        let at = self.find_attribute(path.urn.as_deref(), &path.name)?;
        let sub = match &path.sub {
            Some(sub) => Some(at.attribute.sub_attribute(sub)?),
            None => None,
        };
        Some(Resolved::Attribute { at, sub })
    }

    pub fn is_stored_apart(&self, attribute: &Attribute) -> bool {
        self.stored_apart.iter().any(|name| name.eq_ignore_ascii_case(attribute.name))
    }

    /// Every attribute with where it lives: common, core, then extensions.
    pub fn all_attributes(&self) -> impl Iterator<Item = AttributeRef> + '_ {
        let core =
            COMMON_ATTRIBUTES.iter().chain(self.schema.attributes.iter()).map(|attribute| AttributeRef { extension: None, attribute });
        let extensions = self
            .extensions
            .iter()
            .flat_map(|e| e.schema.attributes.iter().map(move |attribute| AttributeRef { extension: Some(e.schema), attribute }));
        core.chain(extensions)
    }
}

impl AttributeRef {
    /// The JSON object that holds this attribute in a resource, if present.
    pub fn container<'a>(&self, resource: &'a serde_json::Value) -> Option<&'a serde_json::Map<String, serde_json::Value>> {
        match self.extension {
            None => resource.as_object(),
            Some(extension) => resource.get(extension.id)?.as_object(),
        }
    }

    /// The attribute's value in a resource, if assigned.
    pub fn get<'a>(&self, resource: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.container(resource)?.get(self.attribute.name)
    }

    /// The canonical dotted name: `userName`, `name`, or
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`.
    pub fn qualified_name(&self) -> String {
        match self.extension {
            None => self.attribute.name.to_string(),
            Some(extension) => format!("{}:{}", extension.id, self.attribute.name),
        }
    }
}
