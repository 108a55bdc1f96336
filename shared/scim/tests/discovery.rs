use scim::discovery::{resource_type_document, resource_types_document, schema_document, schemas_document, service_provider_config};
use serde_json::{Value, json};

const BASE: &str = "https://scim.example.com/tenants/t1/scim/v2/";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Every attribute definition, at any depth, of every schema.
fn all_attributes(document: &Value) -> Vec<&Value> {
    fn walk<'a>(attributes: &'a Value, out: &mut Vec<&'a Value>) {
        for attribute in attributes.as_array().into_iter().flatten() {
            out.push(attribute);
            walk(&attribute["subAttributes"], out);
        }
    }
    let mut out = Vec::new();
    for schema in document["Resources"].as_array().unwrap() {
        walk(&schema["attributes"], &mut out);
    }
    out
}

fn attribute<'a>(schema: &'a Value, name: &str) -> &'a Value {
    schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).unwrap()
}

#[test]
fn schemas_is_a_list_of_the_three_schemas() {
    let document = schemas_document(BASE);
    assert_eq!(document["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    assert_eq!(document["totalResults"], 3);
    let ids: Vec<&str> = document["Resources"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, "urn:ietf:params:scim:schemas:core:2.0:Group"]);
}

#[test]
fn schemas_hide_password_and_email_display_but_show_manager() {
    let document = schemas_document(BASE);
    let user = &document["Resources"][0];
    assert!(user["attributes"].as_array().unwrap().iter().all(|a| a["name"] != "password"));
    let emails = attribute(user, "emails");
    assert!(emails["subAttributes"].as_array().unwrap().iter().all(|a| a["name"] != "display"));
    assert!(emails["subAttributes"].as_array().unwrap().iter().any(|a| a["name"] == "value"));
    let phones = attribute(user, "phoneNumbers");
    assert!(phones["subAttributes"].as_array().unwrap().iter().any(|a| a["name"] == "display"));
    assert!(!document.to_string().contains("\"password\""));

    let enterprise = &document["Resources"][1];
    let manager = attribute(enterprise, "manager");
    assert_eq!(manager["type"], "complex");
    let subs: Vec<&str> = manager["subAttributes"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(subs, ["value", "$ref", "displayName"]);
}

#[test]
fn only_the_service_set_common_attributes_are_not_listed() {
    let document = schemas_document(BASE);
    for schema in document["Resources"].as_array().unwrap() {
        for name in ["id", "meta"] {
            assert!(schema["attributes"].as_array().unwrap().iter().all(|a| a["name"] != name), "{name}");
        }
    }
}

/// Microsoft's validator checks that every mapped attribute appears in `/Schemas`, and
/// every Entra mapping maps externalId: it is listed in the User and the Group schema,
/// with the characteristics the service applies (compared case-exact in filters and in
/// its index, set by the client, returned by default, not unique), and not in the
/// Enterprise extension, which is no resource type's core schema.
#[test]
fn external_id_is_listed_in_the_user_and_group_schemas() {
    let expected = json!({
        "name": "externalId",
        "type": "string",
        "multiValued": false,
        "description": "Identifier for the resource as defined by the provisioning client.",
        "required": false,
        "caseExact": true,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none"
    });
    for id in ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group"] {
        let by_id = schema_document(BASE, id).unwrap();
        assert_eq!(attribute(&by_id, "externalId"), &expected, "{id}");
        let listed = schemas_document(BASE);
        let schema = listed["Resources"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap();
        assert_eq!(attribute(schema, "externalId"), &expected, "{id} in /Schemas");
    }
    let enterprise = schema_document(BASE, ENTERPRISE).unwrap();
    assert!(enterprise["attributes"].as_array().unwrap().iter().all(|a| a["name"] != "externalId"));

    // What the document says is what the service does: case-exact in filters, and
    // settable by a client on create.
    let user = scim::resource::prepare_create(&scim::schema::USER_RESOURCE, &json!({"userName": "a", "externalId": "Ext-1"})).unwrap();
    assert_eq!(user["externalId"], "Ext-1");
    let matches = |text: &str| scim::filter::parse(text).unwrap().matches(&scim::schema::USER_RESOURCE, &user);
    assert!(matches("externalId eq \"Ext-1\""));
    assert!(!matches("externalId eq \"ext-1\""), "caseExact: true");
}

#[test]
fn attribute_representation() {
    let user = schema_document(BASE, "urn:ietf:params:scim:schemas:core:2.0:User").unwrap();
    assert_eq!(
        attribute(&user, "userName"),
        &json!({
            "name": "userName",
            "type": "string",
            "multiValued": false,
            "description": "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.",
            "required": true,
            "caseExact": false,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "server"
        })
    );
    let profile = attribute(&user, "profileUrl");
    assert_eq!(profile["referenceTypes"], json!(["external"]));
    let emails = attribute(&user, "emails");
    assert_eq!(emails["multiValued"], true);
    let email_type = emails["subAttributes"].as_array().unwrap().iter().find(|a| a["name"] == "type").unwrap();
    assert_eq!(email_type["canonicalValues"], json!(["work", "home", "other"]));

    let document = schemas_document(BASE);
    for attribute in all_attributes(&document) {
        assert_eq!(attribute.get("subAttributes").is_some(), attribute["type"] == "complex", "{attribute}");
        assert_eq!(attribute.get("referenceTypes").is_some(), attribute["type"] == "reference", "{attribute}");
        if let Some(values) = attribute.get("canonicalValues") {
            assert!(!values.as_array().unwrap().is_empty());
        }
        for key in ["multiValued", "description", "required", "caseExact", "mutability", "returned", "uniqueness"] {
            assert!(attribute.get(key).is_some(), "{key} missing in {attribute}");
        }
    }
}

#[test]
fn schema_meta_and_lookup() {
    let group = schema_document(BASE, "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:GROUP").unwrap();
    assert_eq!(group["id"], "urn:ietf:params:scim:schemas:core:2.0:Group");
    assert_eq!(group["name"], "Group");
    assert_eq!(
        group["meta"],
        json!({"resourceType": "Schema", "location": "https://scim.example.com/tenants/t1/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group"})
    );
    assert!(schema_document(BASE, "urn:nosuch").is_none());
}

#[test]
fn resource_types() {
    let document = resource_types_document(BASE);
    assert_eq!(document["totalResults"], 2);
    assert_eq!(
        document["Resources"][0],
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": "urn:ietf:params:scim:schemas:core:2.0:User",
            "schemaExtensions": [{"schema": ENTERPRISE, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": "https://scim.example.com/tenants/t1/scim/v2/ResourceTypes/User"}
        })
    );
    let group = resource_type_document(BASE, "group").unwrap();
    assert_eq!(group["endpoint"], "/Groups");
    assert!(group.get("schemaExtensions").is_none());
    assert!(resource_type_document(BASE, "Device").is_none());
}

#[test]
fn service_provider_config_advertises_capabilities() {
    let config = service_provider_config("https://scim.example.com", 250);
    assert_eq!(config["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]));
    assert_eq!(config["patch"], json!({"supported": true}));
    assert_eq!(config["bulk"], json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0}));
    assert_eq!(config["filter"], json!({"supported": true, "maxResults": 250}));
    assert_eq!(config["changePassword"], json!({"supported": false}));
    assert_eq!(config["sort"], json!({"supported": true}));
    assert_eq!(config["etag"], json!({"supported": true}));
    let schemes = config["authenticationSchemes"].as_array().unwrap();
    assert_eq!(schemes.len(), 1);
    assert_eq!(schemes[0]["type"], "oauthbearertoken");
    assert_eq!(schemes[0]["primary"], true);
    assert!(schemes[0]["name"].is_string() && schemes[0]["description"].is_string());
    assert_eq!(
        config["pagination"],
        json!({"cursor": true, "index": true, "defaultPaginationMethod": "index", "defaultPageSize": 250, "maxPageSize": 250, "cursorTimeout": 3600})
    );
    assert_eq!(config["meta"]["location"], "https://scim.example.com/ServiceProviderConfig");
}
