//! What the resource operations answer: the written resource, and the errors they share.

use scim::projection::AttributeSelection;
use scim::{ScimError, ScimType};
use serde_json::Value;

use crate::error::Error;
use crate::resources::types::TypeDescriptor;

/// The result of a write.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// The resource as stored, with `id` and `meta`, without a group's members.
    pub resource: Value,
    /// A group's members after the write, when the write knows them without reading
    /// them back (a create or a replace: the request's); `None` after a PATCH or a claim
    /// of a large group, and for users.
    pub members: Option<Vec<Value>>,
    pub version: u64,
    /// 201 rather than 200.
    pub created: bool,
    /// The write took over a manually provisioned record.
    pub claimed: bool,
}

impl Written {
    /// The written resource as the client asked for it (`attributes`,
    /// `excludedAttributes`): projected exactly as a read is.
    pub fn projected(&self, descriptor: &TypeDescriptor, selection: &AttributeSelection) -> Value {
        match (&self.members, &self.resource) {
            (Some(members), Value::Object(fields)) if !members.is_empty() => {
                let mut resource = fields.clone();
                resource.insert("members".into(), Value::Array(members.clone()));
                projected(descriptor, selection, &Value::Object(resource))
            }
            _ => projected(descriptor, selection, &self.resource),
        }
    }

    /// Whether the answer the client asked for would need a group's members that the
    /// write does not know (then the HTTP layer answers 204, RFC 7644 §3.5.2, rather
    /// than read the whole membership or leave it out).
    pub fn lacks_members(&self, descriptor: &TypeDescriptor, selection: &AttributeSelection) -> bool {
        self.members.is_none()
            && descriptor.resource_type.stored_apart.contains(&"members")
            && selection.wants(descriptor.resource_type, "members")
    }
}

/// A resource as the client asked for it: the one projection of every answer (GET, lists
/// and writes).
pub(crate) fn projected(descriptor: &TypeDescriptor, selection: &AttributeSelection, resource: &Value) -> Value {
    selection.project(descriptor.resource_type, resource)
}

pub(crate) fn taken(descriptor: &TypeDescriptor, value: &str, reason: &str) -> Error {
    Error::conflict(format!("{} \"{value}\" is already taken (case-insensitively): {reason}", descriptor.unique))
}

pub(crate) fn not_found(descriptor: &TypeDescriptor, id: &str) -> Error {
    Error::not_found(format!("no {} with id \"{id}\"", descriptor.name()))
}

/// A write lost the race for the resource's version: 412 when the client named the
/// version it expected (`If-Match`), else 409 `invalidVers` (which a retry resolves).
pub(crate) fn version_conflict(if_match: Option<&str>, descriptor: &TypeDescriptor, id: &str) -> Error {
    match if_match {
        Some(header) => Error::Scim(ScimError::precondition_failed(format!(
            "If-Match {header} no longer matches: the {} {id} was changed concurrently; read it again",
            descriptor.name()
        ))),
        None => Error::Scim(ScimError::new(
            409,
            Some(ScimType::InvalidVers),
            format!("the {} {id} was changed concurrently; read it again and retry", descriptor.name()),
        )),
    }
}
