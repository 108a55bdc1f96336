//! Every request shape of docs/ENTRA.md, over real HTTP, against the real `scim-local` binary.

mod common;

use bytes::Bytes;
use common::{Http, Server};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    (dir, server)
}

/// Entra's exact create body (docs/ENTRA.md §4).
fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({"schemas":[USER_SCHEMA, ENTERPRISE],
     "externalId": external_id,"userName": user_name,"active":true,
     "displayName":"Test User","emails":[{"primary":true,"type":"work","value": format!("{user_name}@testuser.com")}],
     "meta":{"resourceType":"User"},"name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
     "roles":[],"addresses":null,"manager":null})
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

fn encode(value: &str) -> String {
    // Form encoding as Entra sends it: spaces as `+`, quotes as %22.
    value.replace('%', "%25").replace(' ', "+").replace('"', "%22").replace('[', "%5B").replace(']', "%5D")
}

#[tokio::test(flavor = "multi_thread")]
async fn test_connection_and_authentication() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("server.log");
    let server = Server::start_logging(&dir.path().join("data"), Some(&log));
    let http = Http::new();
    let token = &server.credentials.scim_token;
    for url in [
        format!("{}/Users?filter=userName+eq+%22cf4d8a3e-1f0e-4c3a-9b1e-5d2f3c4b5a69%22", server.scim()),
        format!("{}/Users?aadOptscim062020&filter=userName+eq+%22cf4d%22", server.scim()),
    ] {
        let reply = http.get(&url, token).await;
        let body = reply.expect(200);
        assert_eq!(
            body,
            &json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0})
        );
    }
    let url = format!("{}/Users?filter=userName+eq+%22x%22", server.scim());
    let unknown = http.get(&url, "scim_not-a-token").await;
    unknown.expect_error(401, None);
    let missing = http.raw("GET", &url, None, &[], Bytes::new()).await;
    missing.expect_error(401, None);
    // The admin key is not a SCIM token.
    let admin = http.get(&url, &server.credentials.admin_key).await;
    admin.expect_error(401, None);
    assert_eq!(admin.body, unknown.body);
    // No User-Agent needed, and a trailing slash on the base URL is tolerated.
    http.get(&format!("{}/Users/?aadOptscim062020", server.scim()), token).await.expect(200);
    http.get(&format!("{}/integrations", server.admin()), &server.credentials.admin_key).await.expect(200);

    // Even at trace level, no token, key or Authorization header reaches the log.
    let credentials = server.credentials.clone();
    assert!(server.stop("INT").success());
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(text.contains("answered"), "the log has request lines");
    for secret in [credentials.scim_token.as_str(), &credentials.admin_key, "scim_not-a-token"] {
        assert!(!text.contains(secret), "a secret reached the log");
    }
    assert!(!text.to_ascii_lowercase().contains("authorization"), "the Authorization header reached the log");
}

#[tokio::test(flavor = "multi_thread")]
async fn user_lifecycle_as_entra_drives_it() {
    let (_dir, server) = start();
    let http = Http::new();
    let token = &server.credentials.scim_token;
    let users = format!("{}/Users", server.scim());

    let created = http.send("POST", &users, token, Some(entra_user("Test_User_ab6490ee", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"))).await;
    let user = created.expect(201).clone();
    let id = user["id"].as_str().expect("id").to_string();
    let location = format!("{users}/{id}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(user["meta"]["location"], location);
    assert_eq!(user["meta"]["resourceType"], "User");
    assert_eq!(created.header("etag"), user["meta"]["version"].as_str());
    assert_eq!(user["userName"], "Test_User_ab6490ee");
    assert_eq!(user["name"]["givenName"], "givenName");
    assert_eq!(user["active"], true);

    // Duplicates (case-insensitively) are 409 uniqueness; bad bodies 400 with scimType.
    http.send("POST", &users, token, Some(entra_user("test_user_AB6490EE", "other"))).await.expect_error(409, Some("uniqueness"));
    let mut nameless = entra_user("x", "y");
    nameless.as_object_mut().expect("object").remove("userName");
    http.send("POST", &users, token, Some(nameless)).await.expect_error(400, Some("invalidValue"));
    let broken =
        http.raw("POST", &users, Some(token), &[("content-type", "application/json")], Bytes::from_static(b"{\"userName\":")).await;
    broken.expect_error(400, Some("invalidSyntax"));
    http.raw("POST", &users, Some(token), &[], Bytes::new()).await.expect_error(400, Some("invalidSyntax"));
    // String booleans and unknown attributes or schemas are tolerated.
    let mut lenient = entra_user("lenient@contoso.com", "lenient");
    lenient["active"] = json!("True");
    lenient["emails"][0]["primary"] = json!("True");
    lenient["schemas"] = json!([USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:unknown:2.0:User"]);
    lenient["favouriteColour"] = json!("blue");
    let body = http.send("POST", &users, token, Some(lenient)).await.expect(201).clone();
    assert_eq!(body["active"], true);
    assert!(body.get("favouriteColour").is_none());
    let lenient_location = format!("{users}/{}", body["id"].as_str().expect("id"));
    assert_eq!(http.send("DELETE", &lenient_location, token, None).await.status, 204);

    // The matching queries Entra sends.
    for filter in [
        "userName eq \"test_user_ab6490EE\"".to_string(),
        "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"".to_string(),
        "emails[type eq \"work\"].value eq \"Test_User_ab6490ee@testuser.com\"".to_string(),
        format!("id eq \"{id}\""),
    ] {
        let reply = http.get(&format!("{users}?filter={}", encode(&filter)), token).await;
        let body = reply.expect(200);
        assert_eq!(body["totalResults"], 1, "{filter}");
        assert_eq!(body["Resources"][0]["id"], id.as_str());
        assert_eq!(body["Resources"][0]["meta"]["location"], location);
    }
    let unquoted = http.get(&format!("{users}?filter={}", encode("externalId eq 0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")), token).await;
    assert_eq!(unquoted.expect(200)["totalResults"], 1);
    let other_case = http.get(&format!("{users}?filter={}", encode("USERNAME eq \"TEST_USER_AB6490EE\"")), token).await;
    assert_eq!(other_case.expect(200)["totalResults"], 1);
    let only_id = http.get(&format!("{users}?filter={}&attributes=id", encode(&format!("id eq \"{id}\""))), token).await;
    assert_eq!(only_id.expect(200)["Resources"][0], json!({"id": id, "schemas": [USER_SCHEMA]}));
    let paged = http.get(&format!("{users}?startIndex=1&count=5"), token).await;
    assert_eq!(paged.expect(200)["startIndex"], 1);

    // PATCH, default dialect: capitalised ops, string booleans, filtered and URN paths.
    let default_dialect = patch(json!([
        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@contoso.com"},
        {"op":"Replace","path":"name.familyName","value":"Smith"},
        {"op":"Add","path":"nickName","value":"Babs"},
        {"op":"Replace","path":format!("{ENTERPRISE}:employeeNumber"),"value":"701984"},
        {"op":"Replace","path":format!("{ENTERPRISE}:manager"),"value":"mgr-1"},
        {"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+1 555"}
    ]));
    let patched = http.send("PATCH", &location, token, Some(default_dialect)).await;
    let body = patched.expect(200);
    assert_eq!(body["emails"][0]["value"], "new@contoso.com");
    assert_eq!(body["emails"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["name"]["familyName"], "Smith");
    assert_eq!(body["nickName"], "Babs");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(body[ENTERPRISE]["manager"]["value"], "mgr-1");
    assert_eq!(body["phoneNumbers"][0]["type"], "mobile");
    assert_eq!(patched.header("etag"), body["meta"]["version"].as_str());

    // The aadOptscim062020 dialect: path-less value objects with dotted and URN keys.
    let flagged = patch(json!([
        {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
            format!("{ENTERPRISE}:employeeNumber"):"Aklq"}},
        {"op":"replace","value":{"externalId":"ext-2"}},
        {"op":"replace","value":{"userName":"renamed@contoso.com"}}
    ]));
    let body = http.send("PATCH", &format!("{location}?aadOptscim062020"), token, Some(flagged)).await.expect(200).clone();
    assert_eq!(body["displayName"], "Bjfe");
    assert_eq!(body["name"]["givenName"], "Kkom");
    assert!(body.get("name.givenName").is_none());
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(body["userName"], "renamed@contoso.com");
    let old =
        http.send("PATCH", &location, token, Some(patch(json!([{"op":"Replace","path":"userName","value":"bob@contoso.com"}])))).await;
    assert_eq!(old.expect(200)["userName"], "bob@contoso.com");

    // Every manager shape Entra sends is stored and returned as an object.
    for (value, expected) in [
        (json!("mgr-2"), json!({"value": "mgr-2"})),
        (json!([{"value": "mgr-3", "$ref": null}]), json!({"value": "mgr-3"})),
        (json!({"value": "mgr-4"}), json!({"value": "mgr-4"})),
    ] {
        let op = patch(json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": value}]));
        assert_eq!(http.send("PATCH", &location, token, Some(op)).await.expect(200)[ENTERPRISE]["manager"], expected);
    }
    let pathless = patch(json!([{"op": "replace", "value": {format!("{ENTERPRISE}:manager"): "mgr-5"}}]));
    assert_eq!(http.send("PATCH", &location, token, Some(pathless)).await.expect(200)[ENTERPRISE]["manager"], json!({"value": "mgr-5"}));
    let cleared = patch(json!([{"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": ""}]));
    let body = http.send("PATCH", &location, token, Some(cleared)).await.expect(200).clone();
    assert!(body.get(ENTERPRISE).and_then(|e| e.get("manager")).is_none(), "{body:#}");

    // Disable (string boolean) then the user is still found, with active false.
    http.send("PATCH", &location, token, Some(patch(json!([{"op":"Replace","path":"active","value":"False"}])))).await.expect(200);
    let found = http.get(&format!("{users}?filter={}", encode("userName eq \"bob@contoso.com\"")), token).await;
    assert_eq!(found.expect(200)["Resources"][0]["active"], false);
    assert_eq!(http.get(&location, token).await.expect(200)["active"], false);
    let enabled = http.send("PATCH", &location, token, Some(patch(json!([{"op":"replace","path":"active","value":true}])))).await;
    assert_eq!(enabled.expect(200)["active"], true);
    // An empty Operations array is a no-op.
    http.send("PATCH", &location, token, Some(patch(json!([])))).await.expect(200);

    // If-Match: a stale version is 412; the current one works.
    let current = http.get(&location, token).await;
    let etag = current.header("etag").expect("etag").to_string();
    let stale = http
        .raw(
            "PATCH",
            &location,
            Some(token),
            &[("if-match", "W/\"1\"")],
            Bytes::from(patch(json!([{"op":"add","path":"title","value":"t"}])).to_string()),
        )
        .await;
    stale.expect_error(412, None);
    let fresh = http
        .raw(
            "PATCH",
            &location,
            Some(token),
            &[("if-match", &etag)],
            Bytes::from(patch(json!([{"op":"add","path":"title","value":"t"}])).to_string()),
        )
        .await;
    fresh.expect(200);

    // PUT replaces; attributes/excludedAttributes apply to write responses too.
    let mut replacement = entra_user("bob@contoso.com", "ext-3");
    replacement["displayName"] = json!("Bob");
    let put = http.send("PUT", &format!("{location}?excludedAttributes=emails"), token, Some(replacement)).await;
    let body = put.expect(200);
    assert_eq!(body["displayName"], "Bob");
    assert!(body.get("emails").is_none());

    // DELETE: 204, then 404 with a SCIM body, for GET and DELETE alike.
    let deleted = http.send("DELETE", &location, token, None).await;
    assert_eq!(deleted.status, 204);
    deleted.assert_scim_json();
    http.get(&location, token).await.expect_error(404, None);
    http.send("DELETE", &location, token, None).await.expect_error(404, None);
    let none = http.get(&format!("{users}?filter={}", encode("userName eq \"bob@contoso.com\"")), token).await;
    assert_eq!(none.expect(200)["totalResults"], 0);
}

/// Issue 12 item 5 over the wire: names are one spelling however they are sent, and a
/// body that is not what its endpoint takes is 400 with what to fix.
#[tokio::test(flavor = "multi_thread")]
async fn names_are_normalised_and_bodies_checked() {
    let (_dir, server) = start();
    let http = Http::new();
    let token = &server.credentials.scim_token;
    let users = format!("{}/Users", server.scim());
    let groups = format!("{}/Groups", server.scim());

    let created = http.send("POST", &users, token, Some(entra_user(" alice@x.com", "alice"))).await.expect(201).clone();
    assert_eq!(created["userName"], "alice@x.com");
    for spelling in ["alice@x.com ", "ALICE@x.com", "\u{3000}alice@x.com"] {
        http.send("POST", &users, token, Some(entra_user(spelling, "other"))).await.expect_error(409, Some("uniqueness"));
    }
    for refused in ["alice@x.com\u{200b}", "alice\r\n@x.com", "al\tice@x.com", "alice\0@x.com"] {
        let reply = http.send("POST", &users, token, Some(entra_user(refused, "refused"))).await;
        reply.expect_error(400, Some("invalidValue"));
        assert!(reply.body["detail"].as_str().is_some_and(|d| d.starts_with("userName contains U+")), "{:#}", reply.body);
    }
    // Entra's match query with a spelling of the name finds the user.
    let found = http.get(&format!("{users}?filter={}", encode("userName eq \" Alice@X.com \"")), token).await;
    assert_eq!(found.expect(200)["Resources"][0]["id"], created["id"]);
    // Entra's path-less rename stores the new name normalised.
    let location = format!("{users}/{}", created["id"].as_str().expect("id"));
    let rename = patch(json!([{"op": "Replace", "value": {"userName": " Jose\u{301}@x.com "}}]));
    assert_eq!(http.send("PATCH", &location, token, Some(rename)).await.expect(200)["userName"], "Jos\u{e9}@x.com");

    // A User body at /Groups, a schema nobody knows, a PATCH that is no PatchOp.
    let at_groups = http.send("POST", &groups, token, Some(entra_user("bob@x.com", "bob"))).await;
    at_groups.expect_error(400, Some("invalidValue"));
    assert!(at_groups.body["detail"].as_str().is_some_and(|d| d.contains("urn:ietf:params:scim:schemas:core:2.0:Group")));
    let evil = http.send("POST", &users, token, Some(json!({"schemas": ["urn:evil"], "userName": "evil@x.com"}))).await;
    evil.expect_error(400, Some("invalidValue"));
    let not_patch = json!({"schemas": [USER_SCHEMA], "Operations": [{"op": "add", "path": "nickName", "value": "x"}]});
    http.send("PATCH", &location, token, Some(not_patch)).await.expect_error(400, Some("invalidValue"));
    assert_eq!(http.get(&groups, token).await.expect(200)["totalResults"], 0);

    // A key twice in one object, as sent or in another case.
    for body in [r#"{"userName":"c@x.com","userName":"d@x.com"}"#, r#"{"userName":"c@x.com","USERNAME":"d@x.com"}"#] {
        let reply = http.raw("POST", &users, Some(token), &[("content-type", "application/scim+json")], Bytes::from(body)).await;
        reply.expect_error(400, Some("invalidSyntax"));
        assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains("\"userName\"")), "{:#}", reply.body);
    }
    assert_eq!(http.get(&users, token).await.expect(200)["totalResults"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_and_memberships() {
    let (_dir, server) = start();
    let http = Http::new();
    let token = &server.credentials.scim_token;
    let users = format!("{}/Users", server.scim());
    let groups = format!("{}/Groups", server.scim());
    let mut ids = Vec::new();
    for name in ["u1", "u2", "u3"] {
        ids.push(http.send("POST", &users, token, Some(entra_user(name, name))).await.expect(201)["id"].as_str().expect("id").to_string());
    }
    let group_body =
        json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Sales","externalId":"g-1","members":[]});
    let created = http.send("POST", &groups, token, Some(group_body.clone())).await;
    let group = created.expect(201).clone();
    let gid = group["id"].as_str().expect("group id").to_string();
    let location = format!("{groups}/{gid}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    http.send("POST", &groups, token, Some(json!({"displayName":"sales"}))).await.expect_error(409, Some("uniqueness"));

    // Several members in one add, with Entra's `$ref: null`.
    let add = patch(json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":ids[0]},{"value":ids[1]},{"value":ids[2]}]}]));
    // A group PATCH answers 204: the members after it are known only by reading them all.
    http.send("PATCH", &location, token, Some(add)).await.expect(204);
    let members = |body: &Value| -> Vec<String> {
        let mut found: Vec<String> = body["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|v| v["value"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        found.sort();
        found
    };
    let mut all = ids.clone();
    all.sort();
    assert_eq!(members(http.get(&location, token).await.expect(200)), all);

    // Remove only the listed members; then by filter path.
    http.send("PATCH", &location, token, Some(patch(json!([{"op":"Remove","path":"members","value":[{"value":ids[0]}]}]))))
        .await
        .expect(204);
    let mut left = vec![ids[1].clone(), ids[2].clone()];
    left.sort();
    assert_eq!(members(http.get(&location, token).await.expect(200)), left);
    let by_filter = patch(json!([{"op":"remove","path":format!("members[value eq \"{}\"]", ids[1])}]));
    http.send("PATCH", &location, token, Some(by_filter)).await.expect(204);
    assert_eq!(members(http.get(&location, token).await.expect(200)), vec![ids[2].clone()]);

    // excludedAttributes=members on GET and on the matching query.
    let lean = http.get(&format!("{location}?excludedAttributes=members"), token).await;
    let body = lean.expect(200);
    assert!(body.get("members").is_none());
    assert_eq!(body["displayName"], "Sales");
    let query = http.get(&format!("{groups}?excludedAttributes=members&filter={}", encode("displayName eq \"Sales\"")), token).await;
    let body = query.expect(200);
    assert_eq!(body["totalResults"], 1);
    assert!(body["Resources"][0].get("members").is_none());

    // Rename, PUT, search endpoints, delete.
    // Asked for without members, a group PATCH answers the group.
    let rename = patch(json!([{"op":"Replace","path":"displayName","value":"Sales EU"}]));
    let renamed = http.send("PATCH", &format!("{location}?excludedAttributes=members"), token, Some(rename)).await;
    assert_eq!(renamed.expect(200)["displayName"], "Sales EU");
    let put = http.send("PUT", &location, token, Some(json!({"displayName":"Sales EU","members":[{"value": ids[0]}]}))).await;
    assert_eq!(members(put.expect(200)), vec![ids[0].clone()], "a PUT answers the members it wrote");
    assert_eq!(members(http.get(&location, token).await.expect(200)), vec![ids[0].clone()]);
    let search = http.send("POST", &format!("{groups}/.search"), token, Some(json!({"filter":"displayName eq \"sales eu\""}))).await;
    assert_eq!(search.expect(200)["totalResults"], 1);
    let root = http.send("POST", &format!("{}/.search", server.scim()), token, Some(json!({"filter":"externalId eq \"u1\""}))).await;
    let body = root.expect(200);
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["meta"]["location"], format!("{users}/{}", ids[0]));
    let deleted = http.send("DELETE", &location, token, None).await;
    assert_eq!(deleted.status, 204);
    http.get(&location, token).await.expect_error(404, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_unknown_paths_and_limits() {
    let (_dir, server) = start();
    let http = Http::new();
    let token = &server.credentials.scim_token;
    let base = server.scim();

    let config = http.get(&format!("{base}/ServiceProviderConfig"), token).await;
    assert_eq!(config.expect(200)["patch"]["supported"], true);
    let types = http.get(&format!("{base}/ResourceTypes"), token).await;
    assert_eq!(types.expect(200)["totalResults"], 2);
    assert_eq!(http.get(&format!("{base}/ResourceTypes/User"), token).await.expect(200)["endpoint"], "/Users");
    let schemas = http.get(&format!("{base}/Schemas"), token).await;
    let text = schemas.expect(200).to_string();
    assert!(!text.contains("\"password\""), "password is advertised");
    let user_schema = http.get(&format!("{base}/Schemas/{USER_SCHEMA}"), token).await;
    let emails = user_schema.expect(200)["attributes"].as_array().expect("attributes").iter().find(|a| a["name"] == "emails").cloned();
    let subs = emails.expect("emails")["subAttributes"].clone();
    assert!(subs.as_array().expect("subs").iter().all(|s| s["name"] != "display"));
    http.get(&format!("{base}/Schemas/urn:nope"), token).await.expect_error(404, None);
    // externalId, which every Entra mapping maps, is advertised in both core schemas.
    for id in [USER_SCHEMA, "urn:ietf:params:scim:schemas:core:2.0:Group"] {
        let schema = http.get(&format!("{base}/Schemas/{id}"), token).await.expect(200).clone();
        let external_id = schema["attributes"].as_array().expect("attributes").iter().find(|a| a["name"] == "externalId").cloned();
        let external_id = external_id.unwrap_or_else(|| panic!("{id} lists no externalId"));
        assert_eq!((&external_id["caseExact"], &external_id["mutability"]), (&json!(true), &json!("readWrite")), "{id}");
        assert_eq!((&external_id["returned"], &external_id["uniqueness"]), (&json!("default"), &json!("none")), "{id}");
    }

    for path in ["ServiceProviderConfig", "ResourceTypes", "Schemas"] {
        let reply = http.send("POST", &format!("{base}/{path}"), token, Some(json!({}))).await;
        reply.expect_error(405, None);
        assert_eq!(reply.header("allow"), Some("GET"));
    }
    let wrong = http.send("DELETE", &format!("{base}/Users"), token, None).await;
    wrong.expect_error(405, None);
    assert_eq!(wrong.header("allow"), Some("GET, POST"));

    http.get(&format!("{base}/Nope"), token).await.expect_error(404, None);
    http.get(&format!("{base}/Users/x/y"), token).await.expect_error(404, None);
    http.get(&format!("{}/nowhere", server.origin), token).await.expect_error(404, None);

    // The server answers 413 before reading the body and closes the connection, so a
    // client still writing the 2 MiB may meet the close before it reads the answer
    // (`hostile.rs::a_10_mb_body_is_413_before_it_is_sent` checks that answer byte for byte,
    // sending the head alone).
    let huge = Bytes::from(vec![b' '; 2 << 20]);
    let mut answered = None;
    for _ in 0..10 {
        let headers = [("content-type", "application/scim+json")];
        if let Some(reply) = http.try_raw("POST", &format!("{base}/Users"), Some(token), &headers, huge.clone()).await {
            answered = Some(reply);
            break;
        }
    }
    answered.expect("an answer to the oversized body").expect_error(413, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_api_and_integration_isolation() {
    let (_dir, server) = start();
    let http = Http::new();
    let key = &server.credentials.admin_key;
    let admin = server.admin();

    // A second integration: its token works only at its own base URL.
    let created =
        http.send("POST", &format!("{admin}/integrations"), key, Some(json!({"name":"Second","settings":{"readAllUsers":true}}))).await;
    let second = created.expect(201).clone();
    let second_token = second["token"].as_str().expect("token").to_string();
    let second_base = second["scimBaseUrl"].as_str().expect("scimBaseUrl").to_string();
    assert_eq!(second["kind"], "SCIM");
    assert_eq!(second["settings"], json!({"sendEnrollmentEmails":false,"includeManualUsers":false,"readAllUsers":true}));
    assert!(created.header("location").is_some_and(|l| l.ends_with(second["id"].as_str().unwrap_or("-"))));
    http.get(&format!("{second_base}/Users"), &second_token).await.expect(200);
    let cross = http.get(&format!("{}/Users", server.scim()), &second_token).await;
    cross.expect_error(401, None);
    let unknown = http.get(&format!("{}/Users", server.scim()), "nonsense").await;
    assert_eq!(cross.body, unknown.body);
    // A SCIM token is not an admin key.
    http.get(&format!("{admin}/integrations"), &second_token).await.expect_error(401, None);

    let listed = http.get(&format!("{admin}/integrations"), key).await;
    assert_eq!(listed.expect(200)["integrations"].as_array().map(Vec::len), Some(2));
    let id = second["id"].as_str().expect("id");
    let one = http.get(&format!("{admin}/integrations/{id}"), key).await;
    assert!(one.expect(200).get("token").is_none());
    let patched =
        http.send("PATCH", &format!("{admin}/integrations/{id}"), key, Some(json!({"settings":{"includeManualUsers":true}}))).await;
    assert_eq!(patched.expect(200)["settings"], json!({"sendEnrollmentEmails":false,"includeManualUsers":true,"readAllUsers":true}));
    http.send("PATCH", &format!("{admin}/integrations/{id}"), key, Some(json!({"settings":{"bogus":true}})))
        .await
        .expect_error(400, Some("invalidValue"));
    http.send("POST", &format!("{admin}/integrations"), key, Some(json!({"kind":"SCIM"}))).await.expect_error(400, Some("invalidValue"));

    // Rotation: the old token stops, the new one works.
    let rotated = http.send("POST", &format!("{admin}/integrations/{id}/token"), key, None).await;
    let new_token = rotated.expect(200)["token"].as_str().expect("new token").to_string();
    http.get(&format!("{second_base}/Users"), &second_token).await.expect_error(401, None);
    http.get(&format!("{second_base}/Users"), &new_token).await.expect(200);

    // Manual users, devices, and the log.
    let manual = http
        .send(
            "POST",
            &format!("{admin}/users"),
            key,
            Some(json!({"userName":"manual@contoso.com","emails":[{"type":"work","value":"manual@contoso.com"}]})),
        )
        .await;
    let user = manual.expect(201).clone();
    let uid = user["id"].as_str().expect("user id");
    assert_eq!(user["source"], json!({"type":"manual"}));
    assert_eq!(user["status"], "UNENROLLED");
    assert_eq!(user["deviceCount"], 0);
    let users = http.get(&format!("{admin}/users?limit=10"), key).await;
    assert_eq!(users.expect(200)["users"][0]["userName"], "manual@contoso.com");
    assert_eq!(http.get(&format!("{admin}/users/{uid}"), key).await.expect(200)["id"], uid);
    assert_eq!(http.get(&format!("{admin}/users/{uid}/devices"), key).await.expect(200), &json!({"devices": []}));
    // An Entra create claims the manual user now that the switch is on.
    let claimed = http.send("POST", &format!("{second_base}/Users"), &new_token, Some(entra_user("manual@contoso.com", "e-1"))).await;
    assert_eq!(claimed.expect(201)["id"], uid);
    let after = http.get(&format!("{admin}/users/{uid}"), key).await;
    assert_eq!(after.expect(200)["source"], json!({"type":"integration","integrationId": id}));

    let log = http.get(&format!("{admin}/log?limit=1"), key).await;
    let page = log.expect(200).clone();
    assert_eq!(page["entries"][0]["operation"], "claim");
    let cursor = page["nextCursor"].as_str().expect("next page");
    let older = http.get(&format!("{admin}/log?limit=1&cursor={cursor}"), key).await;
    assert_eq!(older.expect(200)["entries"][0]["operation"], "create");

    let deleted = http.send("DELETE", &format!("{admin}/users/{uid}"), key, None).await;
    assert_eq!(deleted.status, 204);
    http.get(&format!("{admin}/users/{uid}"), key).await.expect_error(404, None);

    let removed = http.send("DELETE", &format!("{admin}/integrations/{id}"), key, None).await;
    assert_eq!(removed.expect(200)["done"], true);
    http.get(&format!("{second_base}/Users"), &new_token).await.expect_error(401, None);
    http.get(&format!("{admin}/integrations/{id}"), key).await.expect_error(404, None);
    http.get(&format!("{admin}/nothing"), key).await.expect_error(404, None);
    let wrong = http.send("PUT", &format!("{admin}/integrations"), key, Some(json!({}))).await;
    wrong.expect_error(405, None);
    http.get(&format!("{admin}/integrations"), "adm_wrong").await.expect_error(401, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_keeps_credentials_and_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let http = Http::new();
    let first = Server::start(dir.path());
    let credentials = first.credentials.clone();
    let users = format!("{}/Users", first.scim());
    let created = http.send("POST", &users, &credentials.scim_token, Some(entra_user("kept@contoso.com", "k"))).await;
    let id = created.expect(201)["id"].as_str().expect("id").to_string();
    assert!(first.stop("INT").success());

    let second = Server::start(dir.path());
    assert_eq!(second.credentials.scim_token, credentials.scim_token);
    assert_eq!(second.credentials.admin_key, credentials.admin_key);
    assert_eq!(second.credentials.integration_id, credentials.integration_id);
    let found = http.get(&format!("{}/Users/{id}", second.scim()), &credentials.scim_token).await;
    assert_eq!(found.expect(200)["userName"], "kept@contoso.com");
    assert!(second.stop("TERM").success());
}

/// Two values of one `type` (issue 13, item 1): RFC 7643 limits `primary` to one value,
/// not `type`. Created, read, found by either address, and patched in both dialects.
#[tokio::test(flavor = "multi_thread")]
async fn two_work_emails_are_accepted_found_and_patched() {
    let (_dir, server) = start();
    let http = Http::new();
    let token = &server.credentials.scim_token;
    let emails = json!([{"type":"work","value":"anna33@gmail.com","primary":true},{"type":"work","value":"anna33@example.com"}]);
    let mut body = entra_user("anna33", "ext-anna33");
    body["emails"] = emails.clone();
    let created = http.send("POST", &format!("{}/Users", server.scim()), token, Some(body)).await;
    let created = created.expect(201).clone();
    assert_eq!(created["emails"], emails);
    let location = format!("{}/Users/{}", server.scim(), created["id"].as_str().expect("id"));
    assert_eq!(http.get(&location, token).await.expect(200)["emails"], emails);

    let find = |filter: String| {
        let url = format!("{}/Users?filter={}", server.scim(), encode(&filter));
        let http = &http;
        async move { http.get(&url, token).await.expect(200).clone() }
    };
    for filter in [
        "emails[type eq \"work\"].value eq \"anna33@gmail.com\"".to_string(),
        "emails[type eq \"work\"].value eq \"anna33@example.com\"".to_string(),
        "emails.value eq \"anna33@gmail.com\"".to_string(),
        "emails.value eq \"anna33@example.com\"".to_string(),
    ] {
        let found = find(filter.clone()).await;
        assert_eq!(found["totalResults"], 1, "{filter}");
        assert_eq!(found["Resources"][0]["id"], created["id"], "{filter}");
    }

    // Default dialect: a filtered replace sets every work email; they become one value.
    let replace = patch(json!([{"op":"Replace","path":"emails[type eq \"work\"].value","value":"anna@contoso.com"}]));
    let patched = http.send("PATCH", &location, token, Some(replace)).await.expect(200).clone();
    assert_eq!(patched["emails"], json!([{"type":"work","value":"anna@contoso.com","primary":true}]));
    // aadOptscim062020: a path-less replace brings two work emails back, a filtered
    // remove takes every match.
    let both = patch(json!([{"op":"replace","value":{"emails": emails}}]));
    let patched = http.send("PATCH", &format!("{location}?aadOptscim062020"), token, Some(both)).await.expect(200).clone();
    assert_eq!(patched["emails"], emails);
    let found = find("emails.value eq \"anna33@example.com\"".to_string()).await;
    assert_eq!(found["totalResults"], 1);
    let remove = patch(json!([{"op":"remove","path":"emails[type eq \"work\"]"}]));
    let patched = http.send("PATCH", &format!("{location}?aadOptscim062020"), token, Some(remove)).await.expect(200).clone();
    assert!(patched.get("emails").is_none(), "{patched}");
    // Two primaries are still refused, with a detail that says so.
    let two_primaries = json!([{"type":"work","value":"a@x.com","primary":true},{"type":"home","value":"b@x.com","primary":true}]);
    let reply = http.send("PATCH", &location, token, Some(patch(json!([{"op":"Replace","path":"emails","value":two_primaries}])))).await;
    reply.expect_error(400, Some("invalidValue"));
}
