//! The discovery documents (RFC 7644 section 4, RFC 7643 sections 5 to 7), generated
//! from the schema data so that they cannot drift from what the service enforces.
//!
//! Attributes marked unadvertised (`password`, `emails.display`) are left out. Of the
//! common attributes (RFC 7643 section 3.1), the ones a client sets (`externalId`) are
//! listed in the core schema of every resource type: Microsoft's SCIM validator checks
//! that every attribute of the tenant's mapping appears in `/Schemas`, and every Entra
//! mapping maps `externalId`. `id` and `meta`, which only the service sets, stay out.

use serde_json::{Map, Value, json};

use crate::cursor::CURSOR_TIMEOUT_SECS;
use crate::list::ListResponse;
use crate::schema::{ALL_RESOURCE_TYPES, ALL_SCHEMAS, Attribute, AttributeType, COMMON_ATTRIBUTES, ResourceType, Schema};

pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// `GET /Schemas`: every schema, as a `ListResponse`.
pub fn schemas_document(base_url: &str) -> Value {
    list(ALL_SCHEMAS.iter().map(|schema| schema_json(base_url, schema)).collect())
}

/// `GET /Schemas/{id}`, the id matched case-insensitively.
pub fn schema_document(base_url: &str, id: &str) -> Option<Value> {
    ALL_SCHEMAS.iter().find(|schema| schema.id.eq_ignore_ascii_case(id)).map(|schema| schema_json(base_url, schema))
}

/// `GET /ResourceTypes`: every resource type, as a `ListResponse`.
pub fn resource_types_document(base_url: &str) -> Value {
    list(ALL_RESOURCE_TYPES.iter().map(|resource_type| resource_type_json(base_url, resource_type)).collect())
}

/// `GET /ResourceTypes/{name}`, the name matched case-insensitively.
pub fn resource_type_document(base_url: &str, name: &str) -> Option<Value> {
    ALL_RESOURCE_TYPES
        .iter()
        .find(|resource_type| resource_type.name.eq_ignore_ascii_case(name))
        .map(|resource_type| resource_type_json(base_url, resource_type))
}

/// `GET /ServiceProviderConfig`, with the RFC 9865 `pagination` capabilities.
/// `max_results` must be the same limit given to [`crate::list::ListQuery`].
pub fn service_provider_config(base_url: &str, max_results: usize) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": max_results },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": max_results,
            "maxPageSize": max_results,
            "cursorTimeout": CURSOR_TIMEOUT_SECS,
        },
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", trim(base_url)),
        },
    })
}

fn list(resources: Vec<Value>) -> Value {
    let count = resources.len();
    ListResponse {
        total_results: Some(count),
        resources,
        start_index: Some(1),
        items_per_page: count,
        next_cursor: None,
        previous_cursor: None,
    }
    .into_json()
}

/// Locations are built as `{base}/Schemas/...`; a trailing slash would double up.
fn trim(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

fn schema_json(base_url: &str, schema: &Schema) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": schema_attributes_json(schema),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", trim(base_url), schema.id),
        },
    })
}

/// A schema's attributes; a resource type's core schema lists first the common
/// attributes clients set, with the characteristics the service applies to them.
fn schema_attributes_json(schema: &Schema) -> Vec<Value> {
    let is_core = ALL_RESOURCE_TYPES.iter().any(|resource_type| resource_type.schema.id == schema.id);
    let common = COMMON_ATTRIBUTES.iter().filter(|attribute| is_core && attribute.advertised && !attribute.is_read_only());
    common.map(attribute_json).chain(attributes_json(schema.attributes)).collect()
}

fn attributes_json(attributes: &[Attribute]) -> Vec<Value> {
    attributes.iter().filter(|attribute| attribute.advertised).map(attribute_json).collect()
}

fn attribute_json(attribute: &Attribute) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), attribute.name.into());
    object.insert("type".into(), attribute.kind.as_str().into());
    object.insert("multiValued".into(), attribute.multi_valued.into());
    object.insert("description".into(), attribute.description.into());
    object.insert("required".into(), attribute.required.into());
    object.insert("caseExact".into(), attribute.case_exact.into());
    object.insert("mutability".into(), attribute.mutability.as_str().into());
    object.insert("returned".into(), attribute.returned.as_str().into());
    object.insert("uniqueness".into(), attribute.uniqueness.as_str().into());
    if !attribute.canonical_values.is_empty() {
        object.insert("canonicalValues".into(), attribute.canonical_values.into());
    }
    if attribute.kind == AttributeType::Reference {
        object.insert("referenceTypes".into(), attribute.reference_types.into());
    }
    if attribute.kind == AttributeType::Complex {
        object.insert("subAttributes".into(), attributes_json(attribute.sub_attributes).into());
    }
    Value::Object(object)
}

fn resource_type_json(base_url: &str, resource_type: &ResourceType) -> Value {
    let mut object = Map::new();
    object.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
    object.insert("id".into(), resource_type.name.into());
    object.insert("name".into(), resource_type.name.into());
    object.insert("endpoint".into(), resource_type.endpoint.into());
    object.insert("description".into(), resource_type.description.into());
    object.insert("schema".into(), resource_type.schema.id.into());
    // RFC 7643's own Group example omits an empty list; some validators reject one.
    if !resource_type.extensions.is_empty() {
        let extensions: Vec<Value> = resource_type
            .extensions
            .iter()
            .map(|extension| json!({ "schema": extension.schema.id, "required": extension.required }))
            .collect();
        object.insert("schemaExtensions".into(), extensions.into());
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", trim(base_url), resource_type.name),
        }),
    );
    Value::Object(object)
}
