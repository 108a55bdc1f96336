//! RFC 7643 section 4.3: the Enterprise User extension.

use super::{Attribute as A, Mutability::ReadOnly, Schema};

pub static ENTERPRISE_USER: Schema = Schema {
    id: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_ATTRIBUTES,
};

static ENTERPRISE_ATTRIBUTES: [A; 6] = [
    A::string("employeeNumber").describe(
        "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
    ),
    A::string("costCenter").describe("Identifies the name of a cost center."),
    A::string("organization").describe("Identifies the name of an organization."),
    A::string("division").describe("Identifies the name of a division."),
    A::string("department").describe("Identifies the name of a department."),
    A::complex("manager", &MANAGER_SUB_ATTRIBUTES).describe("The User's manager."),
];

static MANAGER_SUB_ATTRIBUTES: [A; 3] = [
    A::string("value").describe("The id of the SCIM resource representing the User's manager.").case_exact(),
    A::reference("$ref", &["User"]).describe("The URI of the SCIM resource representing the User's manager."),
    A::string("displayName").describe("The displayName of the User's manager.").mutability(ReadOnly),
];
