//! The admin's log and user list on the real local server: entries name the record and the
//! integration, a claim is logged as a claim whichever request made it, and both lists
//! filter by query parameters and page (issue 14, items 6).

mod common;

use common::{Http, Server};
use serde_json::{Value, json};

struct Admin {
    http: Http,
    base: String,
    key: String,
}

impl Admin {
    async fn get(&self, path: &str) -> Value {
        self.http.get(&format!("{}{path}", self.base), &self.key).await.expect(200).clone()
    }

    async fn refused(&self, path: &str) -> String {
        let reply = self.http.get(&format!("{}{path}", self.base), &self.key).await;
        reply.expect_error(400, Some("invalidValue"));
        reply.body["detail"].as_str().expect("detail").to_string()
    }

    async fn manual_user(&self, user_name: &str) -> String {
        let created = self.http.send("POST", &format!("{}/users", self.base), &self.key, Some(json!({"userName": user_name}))).await;
        created.expect(201)["id"].as_str().expect("id").to_string()
    }

    /// Every item of a list under `field`, following `nextCursor` with `limit=1`.
    async fn all_pages(&self, path: &str, field: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let with_cursor = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
            let page = self.get(&format!("{path}&limit=1{with_cursor}")).await;
            let found = page[field].as_array().expect("items");
            assert!(found.len() <= 1, "a page holds at most limit items: {page}");
            items.extend(found.iter().cloned());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return items,
            }
        }
        panic!("more than 100 pages for {path}");
    }
}

fn names(users: &[Value]) -> Vec<&str> {
    users.iter().map(|u| u["userName"].as_str().expect("userName")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_log_and_the_user_list_filter_page_and_name_what_they_show() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let admin = Admin { http: Http::new(), base: server.admin().to_string(), key: server.credentials.admin_key.clone() };
    let entra = admin
        .http
        .send(
            "POST",
            &format!("{}/integrations", admin.base),
            &admin.key,
            Some(json!({"name": "Entra ID", "settings": {"includeManualUsers": true}})),
        )
        .await;
    let entra = entra.expect(201).clone();
    let (entra_id, token, scim) = (
        entra["id"].as_str().expect("id").to_string(),
        entra["token"].as_str().expect("token").to_string(),
        entra["scimBaseUrl"].as_str().expect("scimBaseUrl").to_string(),
    );

    admin.manual_user("alex@contoso.com").await;
    let alice = admin.manual_user("alice@contoso.com").await;
    let alina = admin.manual_user("Alina@contoso.com").await;
    admin.manual_user("bob@contoso.com").await;

    // Entra claims three manual users, by a PATCH, a PUT and a create.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "displayName", "value": "Alice"}]});
    admin.http.send("PATCH", &format!("{scim}/Users/{alice}"), &token, Some(patch)).await.expect(200);
    let put = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Alina@contoso.com", "displayName": "Alina"});
    admin.http.send("PUT", &format!("{scim}/Users/{alina}"), &token, Some(put)).await.expect(200);
    let post = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@contoso.com"});
    admin.http.send("POST", &format!("{scim}/Users"), &token, Some(post.clone())).await.expect(201);
    // Entra's own user, suspended; and a create that fails (its own user exists: 409).
    let carol = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "carol@contoso.com", "active": false});
    admin.http.send("POST", &format!("{scim}/Users"), &token, Some(carol.clone())).await.expect(201);
    admin.http.send("POST", &format!("{scim}/Users"), &token, Some(carol)).await.expect_error(409, Some("uniqueness"));

    // The user list: userName prefix (case-insensitive), source, status, and paging.
    let ali = admin.get("/users?userName=ALI").await;
    assert_eq!(names(ali["users"].as_array().expect("users")), ["alice@contoso.com", "Alina@contoso.com"]);
    let manual_al = admin.get("/users?userName=al&source=manual").await;
    assert_eq!(names(manual_al["users"].as_array().expect("users")), ["alex@contoso.com"]);
    let suspended = admin.get(&format!("/users?source={entra_id}&status=PROVISIONING_DISABLED")).await;
    assert_eq!(names(suspended["users"].as_array().expect("users")), ["carol@contoso.com"]);
    let unenrolled_of_entra = admin.all_pages(&format!("/users?source={entra_id}&status=UNENROLLED"), "users").await;
    assert_eq!(names(&unenrolled_of_entra), ["alice@contoso.com", "Alina@contoso.com", "bob@contoso.com"]);
    let a_pages = admin.all_pages("/users?userName=a", "users").await;
    assert_eq!(names(&a_pages), ["alex@contoso.com", "alice@contoso.com", "Alina@contoso.com"]);
    assert!(admin.get("/users?userName=zed").await["users"].as_array().expect("users").is_empty());

    // The log: claims are claims, with the request that made them, the integration's name
    // and the userName.
    let claims = admin.get(&format!("/log?integration={entra_id}&operation=claim")).await;
    let claims = claims["entries"].as_array().expect("entries").clone();
    let mut seen: Vec<(&str, &str)> =
        claims.iter().map(|e| (e["userName"].as_str().unwrap_or("?"), e["request"].as_str().unwrap_or("?"))).collect();
    seen.sort();
    assert_eq!(seen, [("Alina@contoso.com", "replace"), ("alice@contoso.com", "patch"), ("bob@contoso.com", "create")]);
    assert!(claims.iter().all(|e| e["integrationName"] == "Entra ID" && e["actor"] == entra_id.as_str()), "{claims:?}");

    // By record: alice's history, newest first (the claim, then the admin's create).
    let history = admin.get(&format!("/log?resourceId={alice}")).await;
    let history: Vec<(&str, &str)> = history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["operation"].as_str().unwrap_or("?"), e["actor"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(history, [("claim", entra_id.as_str()), ("create", "admin")]);
    // By outcome: the failed create, named by the userName it asked for.
    let failures = admin.get("/log?outcome=failure").await;
    let failures = failures["entries"].as_array().expect("entries");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!((failures[0]["userName"].as_str(), failures[0]["operation"].as_str()), (Some("carol@contoso.com"), Some("create")));
    // By actor and operation, paged one at a time: the four manual creates.
    let manual = admin.all_pages("/log?integration=admin&operation=create", "entries").await;
    let mut created: Vec<&str> = manual.iter().map(|e| e["userName"].as_str().unwrap_or("?")).collect();
    created.sort();
    assert_eq!(created, ["Alina@contoso.com", "alex@contoso.com", "alice@contoso.com", "bob@contoso.com"]);
    assert!(manual.iter().all(|e| e["integrationName"].is_null()), "{manual:?}");
    // Every entry of the integration, across pages, names it.
    let entra_entries = admin.all_pages(&format!("/log?integration={entra_id}"), "entries").await;
    assert_eq!(entra_entries.len(), 5, "3 claims, a create and a failed create: {entra_entries:?}");

    // Unknown parameters and values are 400 naming them, never an unfiltered list.
    assert!(admin.refused("/users?usrName=ali").await.contains("\"usrName\""));
    assert!(admin.refused("/users?status=enabled").await.contains("PROVISIONING_DISABLED"));
    assert!(admin.refused("/log?user=x").await.contains("\"user\""));
    assert!(admin.refused("/log?operation=update").await.contains("claim"));
    assert!(admin.refused("/log?outcome=ok").await.contains("failure"));
    assert!(admin.refused("/users?limit=0").await.contains("1 to 200"));
    // A cursor from one prefix's list does not continue another's.
    let first = admin.get("/users?userName=a&limit=1").await;
    let cursor = first["nextCursor"].as_str().expect("a next page");
    let reply = admin.http.get(&format!("{}/users?userName=b&cursor={cursor}", admin.base), &admin.key).await;
    reply.expect_error(400, Some("invalidCursor"));

    let exit = server.stop("TERM");
    assert!(exit.success(), "{exit:?}");
}
