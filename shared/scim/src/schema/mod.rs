//! Schemas as data (RFC 7643 section 7). The same definitions drive validation,
//! filtering, PATCH, projection and the `/Schemas` and `/ResourceTypes` documents.

mod enterprise;
mod group;
mod resource_type;
mod user;

pub use enterprise::ENTERPRISE_USER;
pub use group::GROUP;
pub use resource_type::{AttributeRef, GROUP_RESOURCE, Resolved, ResourceType, SchemaExtension, USER_RESOURCE};
pub use user::{COMMON_ATTRIBUTES, USER};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttributeType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Boolean => "boolean",
            AttributeType::Decimal => "decimal",
            AttributeType::Integer => "integer",
            AttributeType::DateTime => "dateTime",
            AttributeType::Binary => "binary",
            AttributeType::Reference => "reference",
            AttributeType::Complex => "complex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with every RFC 7643 characteristic.
///
/// Built with `const fn`s so that the schemas are plain static data.
#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: AttributeType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attribute],
    /// False for attributes we accept but never show in `/Schemas`
    /// (`password`, `emails.display`): Entra's validator rejects schemas that list them.
    pub advertised: bool,
}

impl Attribute {
    pub const fn new(name: &'static str, kind: AttributeType) -> Self {
        Attribute {
            name,
            kind,
            multi_valued: false,
            description: "",
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
            advertised: true,
        }
    }

    pub const fn string(name: &'static str) -> Self {
        Self::new(name, AttributeType::String)
    }

    pub const fn boolean(name: &'static str) -> Self {
        Self::new(name, AttributeType::Boolean)
    }

    pub const fn date_time(name: &'static str) -> Self {
        Self::new(name, AttributeType::DateTime)
    }

    pub const fn binary(name: &'static str) -> Self {
        Self::new(name, AttributeType::Binary)
    }

    pub const fn reference(name: &'static str, reference_types: &'static [&'static str]) -> Self {
        let mut attribute = Self::new(name, AttributeType::Reference);
        attribute.reference_types = reference_types;
        attribute
    }

    pub const fn complex(name: &'static str, sub_attributes: &'static [Attribute]) -> Self {
        let mut attribute = Self::new(name, AttributeType::Complex);
        attribute.sub_attributes = sub_attributes;
        attribute
    }

    pub const fn describe(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    pub const fn multi_valued(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    pub const fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }

    pub const fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }

    pub const fn uniqueness(mut self, uniqueness: Uniqueness) -> Self {
        self.uniqueness = uniqueness;
        self
    }

    pub const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }

    pub const fn unadvertised(mut self) -> Self {
        self.advertised = false;
        self
    }

    pub fn sub_attribute(&self, name: &str) -> Option<&'static Attribute> {
        find_attribute(self.sub_attributes, name)
    }

    pub fn is_read_only(&self) -> bool {
        self.mutability == Mutability::ReadOnly
    }

    /// Multi-valued attributes whose elements carry a canonical `type` and may carry
    /// `primary` (emails, phoneNumbers, ims, photos, addresses). A type may repeat in
    /// them (two `work` emails); what the `type` changes is how an `add` of one value
    /// of an existing type is read (`crate::patch`). `members`, `groups`, `roles` and
    /// `entitlements` have no canonical types or no `primary`.
    pub fn has_canonical_types(&self) -> bool {
        self.multi_valued
            && self.sub_attribute("primary").is_some()
            && self.sub_attribute("type").is_some_and(|t| !t.canonical_values.is_empty())
    }

    /// Whether values of this attribute are names the service keeps unique: a single
    /// string clients set whose `uniqueness` is not `none` (`userName`, a group's
    /// `displayName`). Uniqueness means nothing unless two spellings of one name are one
    /// value, so these values are normalised ([`crate::names`]) wherever a client sets
    /// them and wherever a filter compares them.
    pub fn is_unique_name(&self) -> bool {
        self.kind == AttributeType::String && self.uniqueness != Uniqueness::None && !self.is_read_only() && !self.multi_valued
    }
}

pub(crate) fn find_attribute(attributes: &'static [Attribute], name: &str) -> Option<&'static Attribute> {
    attributes.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A schema (RFC 7643 section 2): its URN and attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        find_attribute(self.attributes, name)
    }
}

/// Every schema the service knows, for `/Schemas`.
pub const ALL_SCHEMAS: [&Schema; 3] = [&USER, &ENTERPRISE_USER, &GROUP];

/// Every resource type the service serves, for `/ResourceTypes` and routing.
pub const ALL_RESOURCE_TYPES: [&ResourceType; 2] = [&USER_RESOURCE, &GROUP_RESOURCE];
