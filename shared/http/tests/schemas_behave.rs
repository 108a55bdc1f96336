//! The schema documents describe the service as it behaves (issue 13): every attribute
//! `/Schemas` advertises is tried with real requests against its `returned`,
//! `mutability` and `uniqueness`, and group answers carry the members a write knows.

use std::sync::Arc;

use bytes::Bytes;
use embedded_store::EmbeddedStore;
use http::{HeaderMap, Request};
use provisioning::{Caller, IntegrationKind, Provisioning, Settings};
use scim_http::Router;
use serde_json::{Map, Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Api {
    _dir: tempfile::TempDir,
    router: Router<EmbeddedStore>,
    base: String,
    token: String,
}

struct Answer {
    status: u16,
    body: Value,
    headers: HeaderMap,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().expect("temp dir");
        let service = Arc::new(Provisioning::new(EmbeddedStore::open(dir.path().join("items.redb")).expect("store")));
        let tenant = service.create_tenant("T", None).await.expect("tenant");
        let created = service
            .create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", Settings::default())
            .await
            .expect("integration");
        Api { _dir: dir, router: Router::new(service), base: format!("/scim/v2/{}", created.integration.id), token: created.token }
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("host", "api.example.com")
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/scim+json")
            .body(Bytes::from(body.map(Value::to_string).unwrap_or_default()))
            .expect("request");
        let response = self.router.handle(request).await;
        let body = if response.body().is_empty() { Value::Null } else { serde_json::from_slice(response.body()).expect("JSON") };
        Answer { status: response.status().as_u16(), headers: response.headers().clone(), body }
    }

    async fn read(&self, path: &str) -> Value {
        let answer = self.send("GET", path, None).await;
        assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
        answer.body
    }

    async fn created(&self, endpoint: &str, body: &Value) -> Value {
        let answer = self.send("POST", endpoint, Some(body)).await;
        assert_eq!(answer.status, 201, "POST {endpoint} {body}: {}", answer.body);
        answer.body
    }
}

fn id_of(resource: &Value) -> String {
    resource["id"].as_str().expect("id").to_string()
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

/// One attribute of a schema document, with where it sits in a resource.
struct Advertised {
    schema: String,
    /// The resource's core schema (the endpoint's).
    core: &'static str,
    endpoint: &'static str,
    definition: Value,
}

impl Advertised {
    fn name(&self) -> &str {
        self.definition["name"].as_str().expect("name")
    }

    fn characteristic(&self, key: &str) -> &str {
        self.definition[key].as_str().unwrap_or_else(|| panic!("{} has no {key}", self.name()))
    }

    fn in_extension(&self) -> bool {
        self.schema != self.core
    }

    /// The path naming it in `attributes` and PATCH.
    fn path(&self) -> String {
        if self.in_extension() { format!("{}:{}", self.schema, self.name()) } else { self.name().to_string() }
    }

    fn get<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let holder = if self.in_extension() { resource.get(&self.schema)? } else { resource };
        holder.get(self.name()).filter(|value| !value.is_null())
    }

    /// A body with the endpoint's required attributes (named after `token`) and this
    /// attribute set to `value`.
    fn body(&self, token: &str, value: Option<Value>) -> Value {
        let mut body = Map::new();
        let mut schemas = vec![json!(self.core)];
        let required = if self.core == USER_SCHEMA { "userName" } else { "displayName" };
        body.insert(required.into(), json!(format!("{token}-required")));
        if let Some(value) = value {
            if self.in_extension() {
                schemas.push(json!(self.schema));
                body.insert(self.schema.clone(), json!({self.name(): value}));
            } else {
                body.insert(self.name().to_string(), value);
            }
        }
        body.insert("schemas".into(), Value::Array(schemas));
        Value::Object(body)
    }
}

/// Every attribute `/Schemas` advertises for Users (core and extension) and Groups.
async fn advertised(api: &Api) -> Vec<Advertised> {
    let answer = api.send("GET", "/Schemas", None).await;
    assert_eq!(answer.status, 200);
    let mut found = Vec::new();
    for schema in answer.body["Resources"].as_array().expect("Resources") {
        let id = schema["id"].as_str().expect("id").to_string();
        let (core, endpoint) = match id.as_str() {
            USER_SCHEMA | ENTERPRISE_SCHEMA => (USER_SCHEMA, "/Users"),
            GROUP_SCHEMA => (GROUP_SCHEMA, "/Groups"),
            other => panic!("unexpected schema {other}"),
        };
        for definition in schema["attributes"].as_array().expect("attributes") {
            found.push(Advertised { schema: id.clone(), core, endpoint, definition: definition.clone() });
        }
    }
    found
}

/// A value of the attribute's type, distinctive for `token` (which any string of it
/// contains), for sub-attributes the client may set. Member and manager values name
/// `user`, an existing user.
fn sample(definition: &Value, token: &str, user: &str) -> Value {
    let name = definition["name"].as_str().unwrap_or_default();
    let one = match definition["type"].as_str().unwrap_or_default() {
        "boolean" => json!(token.ends_with('1')),
        "dateTime" => json!("2026-01-02T03:04:05Z"),
        "binary" => json!("dG9rZW4="),
        "reference" => json!(format!("https://example.com/{token}")),
        "complex" => {
            let mut value = Map::new();
            for sub in definition["subAttributes"].as_array().into_iter().flatten() {
                let sub_name = sub["name"].as_str().unwrap_or_default();
                if sub["mutability"] == "readOnly" || sub_name == "primary" || sub_name == "$ref" {
                    continue;
                }
                let sub_value = match (name, sub_name, sub["canonicalValues"].as_array().and_then(|v| v.first())) {
                    ("members" | "manager", "value", _) => json!(user),
                    ("members", "type", _) => json!("User"),
                    (_, "value", _) if name == "emails" => json!(format!("{token}@example.com")),
                    (_, _, Some(canonical)) => canonical.clone(),
                    _ => sample(sub, token, user),
                };
                value.insert(sub_name.to_string(), sub_value);
            }
            Value::Object(value)
        }
        _ => match definition["canonicalValues"].as_array().and_then(|v| v.first()) {
            Some(canonical) => canonical.clone(),
            None if name == "preferredLanguage" || name == "locale" => json!("en-US"),
            None if name == "timezone" => json!("Europe/Berlin"),
            None => json!(token),
        },
    };
    if definition["multiValued"] == true { json!([one]) } else { one }
}

/// Whether `stored` carries what `sent` set (strings case-insensitively: canonical values
/// and names may come back in their stored spelling).
fn carries(stored: Option<&Value>, sent: &Value) -> bool {
    let Some(stored) = stored else { return false };
    match sent {
        Value::Bool(_) => stored == sent,
        _ => {
            let stored = stored.to_string().to_lowercase();
            sent_strings(sent).iter().all(|text| stored.contains(&text.to_lowercase()))
        }
    }
}

fn sent_strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(values) => values.iter().flat_map(sent_strings).collect(),
        Value::Object(fields) => fields.values().flat_map(sent_strings).collect(),
        _ => Vec::new(),
    }
}

/// Another attribute of the same resource, to ask for instead.
fn other_attribute(attribute: &Advertised) -> &'static str {
    let required = if attribute.core == USER_SCHEMA { "userName" } else { "displayName" };
    if attribute.path() == required { "externalId" } else { required }
}

#[tokio::test]
async fn every_advertised_attribute_behaves_as_its_schema_says() {
    let api = Api::new().await;
    // Member and manager values name these users: the PATCH names another one, since a
    // membership's sub-attributes are immutable.
    let member = id_of(&api.created("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "member"})).await);
    let next_member = id_of(&api.created("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "next member"})).await);
    let attributes = advertised(&api).await;
    assert!(attributes.len() >= 20, "User, enterprise and Group attributes: {}", attributes.len());
    let mut tried = Vec::new();
    for (n, attribute) in attributes.iter().enumerate() {
        let name = attribute.path();
        let (returned, mutability, uniqueness) =
            (attribute.characteristic("returned"), attribute.characteristic("mutability"), attribute.characteristic("uniqueness"));
        let token = format!("t{n}x1");
        let value = sample(&attribute.definition, &token, &member);
        let writable = mutability != "readOnly";
        let body = attribute.body(&format!("a{n}"), Some(value.clone()));
        let created = api.created(attribute.endpoint, &body).await;
        let location = format!("{}/{}", attribute.endpoint, id_of(&created));
        let by_default = api.read(&location).await;
        let asked = api.read(&format!("{location}?attributes={name}")).await;
        let other = api.read(&format!("{location}?attributes={}", other_attribute(attribute))).await;

        // uniqueness: a second resource with the same value (before a PATCH frees it).
        if writable && mutability != "writeOnly" {
            let again = api.send("POST", attribute.endpoint, Some(&attribute.body(&format!("b{n}"), Some(value.clone())))).await;
            match uniqueness {
                "none" => assert_eq!(again.status, 201, "{name} is not unique: {}", again.body),
                "server" | "global" => {
                    assert_eq!((again.status, again.body["scimType"].as_str()), (409, Some("uniqueness")), "{name} is unique")
                }
                other => panic!("{name}: unknown uniqueness {other}"),
            }
        }
        // mutability: what a create and a PATCH do with the value.
        match mutability {
            "readWrite" | "immutable" | "writeOnly" => {}
            "readOnly" => assert!(!carries(attribute.get(&asked), &value), "{name} is readOnly: a sent value is ignored: {asked}"),
            other => panic!("{name}: unknown mutability {other}"),
        }
        let shown = returned != "never";
        if writable && shown {
            assert!(carries(attribute.get(&asked), &value), "{name}: the created value is stored: sent {value}, read {asked}");
        }
        if mutability == "readWrite" {
            let changed = sample(&attribute.definition, &format!("t{n}y0"), &next_member);
            let replace = patch(json!([{"op": "replace", "path": name, "value": changed}]));
            let answer = api.send("PATCH", &location, Some(&replace)).await;
            assert!(matches!(answer.status, 200 | 204), "PATCH {name}: {} {}", answer.status, answer.body);
            if shown {
                let after = api.read(&format!("{location}?attributes={name}")).await;
                assert!(carries(attribute.get(&after), &changed), "{name}: a PATCH changes it: sent {changed}, read {after}");
            }
        }

        // returned: which reads carry it (readOnly ones are given state below).
        match returned {
            "never" => {
                for resource in [&created, &by_default, &asked] {
                    assert!(attribute.get(resource).is_none(), "{name} is never returned: {resource}");
                }
            }
            "default" if writable => {
                assert!(attribute.get(&created).is_some(), "{name} is returned by default, in the create's answer too");
                assert!(attribute.get(&by_default).is_some(), "{name} is returned by default: {by_default}");
                assert!(attribute.get(&other).is_none(), "{name} is not returned when other attributes are asked for");
            }
            "request" if writable => {
                assert!(attribute.get(&by_default).is_none(), "{name} is returned on request only: {by_default}");
                assert!(attribute.get(&asked).is_some(), "{name} is returned when asked for: {asked}");
            }
            "request" | "default" | "always" => {}
            other => panic!("{name}: unknown returned {other}"),
        }
        if returned == "always" {
            assert!(attribute.get(&other).is_some(), "{name} is always returned");
        }

        tried.push(format!("{name} ({mutability}, {returned}, {uniqueness})"));
    }
    eprintln!("tried: {}", tried.join(", "));
}

/// `groups` is readOnly and returned on request: a user in a group shows it only when
/// `attributes` names it, with the group's `$ref`.
#[tokio::test]
async fn a_users_groups_are_returned_on_request() {
    let api = Api::new().await;
    let user = id_of(&api.created("/Users", &json!({"schemas": [USER_SCHEMA], "userName": "ann"})).await);
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": user}]});
    let group = id_of(&api.created("/Groups", &body).await);
    let plain = api.send("GET", &format!("/Users/{user}"), None).await.body;
    assert!(plain.get("groups").is_none(), "not by default: {plain}");
    let asked = api.send("GET", &format!("/Users/{user}?attributes=groups"), None).await.body;
    assert_eq!(
        asked["groups"],
        json!([{"value": group, "$ref": format!("http://api.example.com{}/Groups/{group}", api.base), "type": "direct"}])
    );
    let listed = api.send("GET", "/Users?filter=userName%20eq%20%22ann%22&attributes=groups", None).await.body;
    assert_eq!(listed["Resources"][0]["groups"][0]["value"], json!(group));
}

/// POST and PUT answer the members they wrote (with `display`, `type` and `$ref`); a
/// PATCH answers 204 unless the client asked for attributes it can answer without the
/// membership.
#[tokio::test]
async fn group_answers_carry_the_members_written() {
    let api = Api::new().await;
    let mut users = Vec::new();
    for name in ["ann", "bob", "cy"] {
        users.push(id_of(&api.created("/Users", &json!({"schemas": [USER_SCHEMA], "userName": name})).await));
    }
    let reference = |id: &str| format!("http://api.example.com{}/Users/{id}", api.base);
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales",
                      "members": [{"value": users[0], "display": "Ann", "type": "User"}, {"value": users[1]}]});
    let created = api.created("/Groups", &body).await;
    let group = id_of(&created);
    let mut expected =
        vec![json!({"value": users[0], "display": "Ann", "type": "User", "$ref": reference(&users[0])}), json!({"value": users[1]})];
    expected.sort_by_key(|m| m["value"].as_str().map(str::to_string));
    assert_eq!(created["members"], Value::Array(expected.clone()), "the create answers its members");
    let read = api.send("GET", &format!("/Groups/{group}"), None).await.body;
    assert_eq!(read["members"], Value::Array(expected), "a GET shows the same, display and type kept");

    let replaced = json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": users[2], "display": "Cy"}]});
    let answer = api.send("PUT", &format!("/Groups/{group}"), Some(&replaced)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["members"], json!([{"value": users[2], "display": "Cy"}]), "the replace answers its members");

    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]));
    let answer = api.send("PATCH", &format!("/Groups/{group}"), Some(&add)).await;
    assert_eq!((answer.status, &answer.body), (204, &Value::Null), "a member PATCH answers no content");
    assert!(answer.headers.get("etag").is_some(), "with the new version");
    let rename = patch(json!([{"op": "replace", "path": "displayName", "value": "Sales EMEA"}]));
    let answer = api.send("PATCH", &format!("/Groups/{group}?excludedAttributes=members"), Some(&rename)).await;
    assert_eq!((answer.status, answer.body["displayName"].as_str()), (200, Some("Sales EMEA")));
    assert!(answer.body.get("members").is_none());
    let answer = api.send("PATCH", &format!("/Groups/{group}?attributes=displayName"), Some(&rename)).await;
    assert_eq!((answer.status, answer.body["displayName"].as_str()), (200, Some("Sales EMEA")));
    let answer = api.send("PATCH", &format!("/Groups/{group}?attributes=members"), Some(&add)).await;
    assert_eq!(answer.status, 204, "members cannot be answered without reading them all");
    let members = api.send("GET", &format!("/Groups/{group}"), None).await.body["members"].as_array().map(Vec::len);
    assert_eq!(members, Some(2));
}
