//! What differs between resource types, as data: the generic service in `resources`
//! serves every type through one of these descriptors.

use scim::ResourceType;
use scim::schema::{GROUP_RESOURCE, USER_RESOURCE};

#[derive(Debug)]
pub struct TypeDescriptor {
    pub resource_type: &'static ResourceType,
    /// The attribute unique per tenant, case-insensitively (and the gsi1 sort key).
    pub unique: &'static str,
    /// Whether records carry MFA state (status, devices) and count against seats.
    pub is_user: bool,
    /// Whether the work email is indexed for `emails[type eq "work"].value eq` lookups.
    pub email_index: bool,
}

impl TypeDescriptor {
    pub fn name(&self) -> &'static str {
        self.resource_type.name
    }

    /// `Users`, `Groups`: how answers name several of them.
    pub fn plural(&self) -> &'static str {
        self.resource_type.endpoint.trim_start_matches('/')
    }
}

pub static USERS: TypeDescriptor = TypeDescriptor { resource_type: &USER_RESOURCE, unique: "userName", is_user: true, email_index: true };

pub static GROUPS: TypeDescriptor =
    TypeDescriptor { resource_type: &GROUP_RESOURCE, unique: "displayName", is_user: false, email_index: false };

#[cfg(test)]
mod tests {
    use super::*;

    /// The unique attribute is the one the SCIM core normalises as a name (trimmed, NFC,
    /// no invisible characters), so that its keys and lookups see the stored spelling.
    #[test]
    fn the_unique_attribute_is_the_schemas_unique_name() {
        for descriptor in [&USERS, &GROUPS] {
            let at = descriptor.resource_type.find_attribute(None, descriptor.unique).expect("the unique attribute exists");
            assert!(at.extension.is_none() && at.attribute.is_unique_name(), "{}", descriptor.unique);
        }
    }
}
