//! RFC 7643 section 4.2: Group.

use super::{Attribute as A, Mutability::*, Schema, Uniqueness};

pub static GROUP: Schema =
    Schema { id: "urn:ietf:params:scim:schemas:core:2.0:Group", name: "Group", description: "Group", attributes: &GROUP_ATTRIBUTES };

static GROUP_ATTRIBUTES: [A; 2] = [
    // RFC 7643 leaves displayName non-unique; this service keeps it unique per tenant
    // (Entra matches groups by it), so it says so.
    A::string("displayName").describe("A human-readable name for the Group.").required().uniqueness(Uniqueness::Server),
    A::complex("members", &MEMBER_SUB_ATTRIBUTES).multi_valued().describe("A list of members of the Group."),
];

static MEMBER_SUB_ATTRIBUTES: [A; 4] = [
    A::string("value").describe("Identifier of the member of this Group.").case_exact().mutability(Immutable),
    A::reference("$ref", &["User", "Group"])
        .describe("The URI corresponding to a SCIM resource that is a member of this Group.")
        .mutability(Immutable),
    A::string("type")
        .describe("A label indicating the type of resource, e.g., 'User' or 'Group'.")
        .canonical(&["User", "Group"])
        .mutability(Immutable),
    // Stored as the client sent it (RFC 7643 §2.4: immutable), not looked up.
    A::string("display").describe("A human-readable name for the member.").mutability(Immutable),
];
