//! RFC 7643 section 4.1 (User) and section 3.1 (common attributes).

use super::{Attribute as A, Mutability::*, Returned, Schema, Uniqueness};

/// `id`, `externalId` and `meta`: part of every resource. `/Schemas` lists
/// `externalId` in each resource type's core schema (`crate::discovery`); `id` and
/// `meta` are the service's and listed nowhere. `externalId` is compared case-exact
/// (filters, the externalId index), readWrite, returned by default, and not unique:
/// two resources may carry one client's identifier (RFC 7643 section 3.1).
pub static COMMON_ATTRIBUTES: [A; 3] = [
    A::string("id")
        .describe("Unique identifier for the SCIM resource as defined by the service provider.")
        .case_exact()
        .mutability(ReadOnly)
        .returned(Returned::Always)
        .uniqueness(Uniqueness::Server),
    A::string("externalId").describe("Identifier for the resource as defined by the provisioning client.").case_exact(),
    A::complex("meta", &META_SUB_ATTRIBUTES).describe("Resource metadata maintained by the service provider.").mutability(ReadOnly),
];

static META_SUB_ATTRIBUTES: [A; 5] = [
    A::string("resourceType").describe("The name of the resource type of the resource.").case_exact().mutability(ReadOnly),
    A::date_time("created").describe("The time the resource was added to the service provider.").mutability(ReadOnly),
    A::date_time("lastModified").describe("The time the resource was last modified.").mutability(ReadOnly),
    A::reference("location", &["uri"]).describe("The URI of the resource being returned.").case_exact().mutability(ReadOnly),
    A::string("version").describe("The version (ETag) of the resource being returned.").case_exact().mutability(ReadOnly),
];

const USER_SCHEMA_ID: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

pub static USER: Schema = Schema { id: USER_SCHEMA_ID, name: "User", description: "User Account", attributes: &USER_ATTRIBUTES };

static USER_ATTRIBUTES: [A; 21] = [
    A::string("userName")
        .describe("Unique identifier for the User, typically used by the user to directly authenticate to the service provider.")
        .required()
        .uniqueness(Uniqueness::Server),
    A::complex("name", &NAME_SUB_ATTRIBUTES).describe("The components of the user's real name."),
    A::string("displayName").describe("The name of the User, suitable for display to end-users."),
    A::string("nickName").describe("The casual way to address the user in real life."),
    A::reference("profileUrl", &["external"]).describe("A fully qualified URL pointing to a page representing the User's online profile."),
    A::string("title").describe("The user's title, such as \"Vice President\"."),
    A::string("userType").describe("Used to identify the relationship between the organization and the user."),
    A::string("preferredLanguage").describe("Indicates the User's preferred written or spoken language."),
    A::string("locale").describe("Used to indicate the User's default location for purposes of localizing items."),
    A::string("timezone").describe("The User's time zone in the 'Olson' time zone database format."),
    A::boolean("active").describe("A Boolean value indicating the User's administrative status."),
    A::string("password")
        .describe("The User's cleartext password. Accepted and discarded: this service never stores passwords.")
        .mutability(WriteOnly)
        .returned(Returned::Never)
        .unadvertised(),
    A::complex("emails", &EMAIL_SUB_ATTRIBUTES).multi_valued().describe("Email addresses for the user."),
    A::complex("phoneNumbers", &PHONE_SUB_ATTRIBUTES).multi_valued().describe("Phone numbers for the User."),
    A::complex("ims", &IM_SUB_ATTRIBUTES).multi_valued().describe("Instant messaging addresses for the User."),
    A::complex("photos", &PHOTO_SUB_ATTRIBUTES).multi_valued().describe("URLs of photos of the User."),
    A::complex("addresses", &ADDRESS_SUB_ATTRIBUTES).multi_valued().describe("A physical mailing address for this User."),
    // Returned when asked for: it costs an index query, which Entra's lookups and GETs
    // never need.
    A::complex("groups", &GROUP_MEMBERSHIP_SUB_ATTRIBUTES)
        .multi_valued()
        .mutability(ReadOnly)
        .returned(Returned::Request)
        .describe("A list of groups to which the user belongs, either through direct membership or through nested groups."),
    A::complex("entitlements", &PLAIN_MULTI_VALUE_SUB_ATTRIBUTES).multi_valued().describe("A list of entitlements for the User."),
    A::complex("roles", &PLAIN_MULTI_VALUE_SUB_ATTRIBUTES).multi_valued().describe("A list of roles for the User."),
    A::complex("x509Certificates", &CERTIFICATE_SUB_ATTRIBUTES).multi_valued().describe("A list of certificates issued to the User."),
];

static NAME_SUB_ATTRIBUTES: [A; 6] = [
    A::string("formatted")
        .describe("The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
    A::string("familyName").describe("The family name of the User, or last name in most Western languages."),
    A::string("givenName").describe("The given name of the User, or first name in most Western languages."),
    A::string("middleName").describe("The middle name(s) of the User."),
    A::string("honorificPrefix").describe("The honorific prefix(es) of the User, or title in most Western languages."),
    A::string("honorificSuffix").describe("The honorific suffix(es) of the User, or suffix in most Western languages."),
];

static EMAIL_SUB_ATTRIBUTES: [A; 4] = [
    A::string("value").describe("Email addresses for the user."),
    A::string("display").describe("A human-readable name, primarily used for display purposes.").unadvertised(),
    A::string("type").describe("A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
    A::boolean("primary").describe("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
];

static PHONE_SUB_ATTRIBUTES: [A; 4] = [
    A::string("value").describe("Phone number of the User."),
    A::string("display").describe("A human-readable name, primarily used for display purposes."),
    A::string("type")
        .describe("A label indicating the attribute's function.")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    A::boolean("primary").describe("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
];

static IM_SUB_ATTRIBUTES: [A; 4] = [
    A::string("value").describe("Instant messaging address for the User."),
    A::string("display").describe("A human-readable name, primarily used for display purposes."),
    A::string("type")
        .describe("A label indicating the attribute's function.")
        .canonical(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
    A::boolean("primary").describe("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
];

static PHOTO_SUB_ATTRIBUTES: [A; 4] = [
    A::reference("value", &["external"]).describe("URL of a photo of the User."),
    A::string("display").describe("A human-readable name, primarily used for display purposes."),
    A::string("type").describe("A label indicating the attribute's function.").canonical(&["photo", "thumbnail"]),
    A::boolean("primary").describe("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
];

static ADDRESS_SUB_ATTRIBUTES: [A; 8] = [
    A::string("formatted").describe("The full mailing address, formatted for display or use with a mailing label."),
    A::string("streetAddress").describe("The full street address component."),
    A::string("locality").describe("The city or locality component."),
    A::string("region").describe("The state or region component."),
    A::string("postalCode").describe("The zip code or postal code component."),
    A::string("country").describe("The country name component."),
    A::string("type").describe("A label indicating the attribute's function.").canonical(&["work", "home", "other"]),
    A::boolean("primary").describe("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
];

static GROUP_MEMBERSHIP_SUB_ATTRIBUTES: [A; 4] = [
    A::string("value").describe("The identifier of the User's group.").mutability(ReadOnly),
    A::reference("$ref", &["User", "Group"])
        .describe("The URI of the corresponding 'Group' resource to which the user belongs.")
        .mutability(ReadOnly),
    A::string("display").describe("A human-readable name, primarily used for display purposes.").mutability(ReadOnly),
    A::string("type")
        .describe("A label indicating the attribute's function, e.g., 'direct' or 'indirect'.")
        .canonical(&["direct", "indirect"])
        .mutability(ReadOnly),
];

static PLAIN_MULTI_VALUE_SUB_ATTRIBUTES: [A; 4] = [
    A::string("value").describe("The value of the item."),
    A::string("display").describe("A human-readable name, primarily used for display purposes."),
    A::string("type").describe("A label indicating the attribute's function."),
    A::boolean("primary").describe("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
];

static CERTIFICATE_SUB_ATTRIBUTES: [A; 4] = [
    A::binary("value").describe("The value of an X.509 certificate."),
    A::string("display").describe("A human-readable name, primarily used for display purposes."),
    A::string("type").describe("A label indicating the attribute's function."),
    A::boolean("primary").describe("A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
];
