//! The lifecycle of integrations, users, emails and seats over real HTTP against the real
//! `scim-local` binary, as an identity admin and Entra walk it: deleting an integration
//! releases (or removes) its users and groups, and another integration can then claim
//! them; admins move users between sources; seats are visible and the refusal says who
//! raises the limit; enrollment emails go only to people who can enroll; and an EAA
//! integration deleted and created again (against the stand-in EAA) adopts its
//! predecessor's users, restores the re-enabled ones and removes the deselected ones.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Http, Server};
use eaa_client::standin::{self, Fixture, FixtureDirectory, FixtureGroup, StandinConfig};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(name: &str, active: Value, email: bool) -> Value {
    let mut body = json!({"schemas": [USER_SCHEMA], "userName": name, "active": active});
    if email {
        body["emails"] = json!([{"primary": true, "type": "work", "value": name}]);
    }
    body
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
}

fn id(body: &Value) -> String {
    body["id"].as_str().expect("id").to_string()
}

/// Polls `check` every 100 ms for at most 60 s.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The recipients of the `.eml` files the local mailer wrote so far.
fn recipients(outbox: &Path) -> Vec<String> {
    let mut to: Vec<String> = std::fs::read_dir(outbox)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|eml| eml.lines().find_map(|l| l.strip_prefix("To: ").map(|to| to.trim().to_string())))
                .collect()
        })
        .unwrap_or_default();
    to.sort();
    to
}

async fn integration(http: &Http, server: &Server, body: Value) -> (String, String) {
    let created = http.send("POST", &format!("{}/integrations", server.admin()), &server.credentials.admin_key, Some(body)).await;
    let created = created.expect(201);
    (id(created), created["token"].as_str().expect("token").to_string())
}

async fn log_entries(http: &Http, server: &Server) -> Vec<Value> {
    let log = http.get(&format!("{}/log?limit=200", server.admin()), &server.credentials.admin_key).await;
    log.expect(200)["entries"].as_array().expect("entries").clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_integrations_users_are_released_claimed_and_moved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let http = Http::new();
    let (key, admin, origin) = (server.credentials.admin_key.clone(), server.admin().to_string(), server.origin.clone());
    let (entra, entra_token) = (server.credentials.integration_id.clone(), server.credentials.scim_token.clone());

    let alice = id(http
        .send("POST", &format!("{}/Users", server.scim()), &entra_token, Some(user("alice@contoso.test", json!(true), true)))
        .await
        .expect(201));
    let sales = json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": [{"value": alice}]});
    let sales = id(http.send("POST", &format!("{}/Groups", server.scim()), &entra_token, Some(sales.clone())).await.expect(201));
    let (okta, okta_token) = integration(&http, &server, json!({"name": "Okta", "settings": {"includeManualUsers": true}})).await;
    let okta_users = format!("{origin}/scim/v2/{okta}/Users");
    let taken = http.send("POST", &okta_users, &okta_token, Some(user("alice@contoso.test", json!(true), true))).await;
    taken.expect_error(409, Some("uniqueness"));

    // Deleted: the answer counts what was released; the users are manual, devices kept.
    let deleted = http.send("DELETE", &format!("{admin}/integrations/{entra}"), &key, None).await;
    let job = deleted.expect(200).clone();
    assert_eq!((job["done"].as_bool(), job["moved"].as_u64(), job["removed"].as_u64()), (Some(true), Some(2), Some(0)), "{job:#}");
    assert_eq!(job["to"], json!({"type": "manual"}));
    http.get(&format!("{admin}/jobs/{}", id(&job)), &key).await.expect(200);
    let summary = http.get(&format!("{admin}/users/{alice}"), &key).await;
    assert_eq!(summary.expect(200)["source"], json!({"type": "manual"}));

    // Another integration with "include manually provisioned users" claims them.
    let claimed = http.send("POST", &okta_users, &okta_token, Some(user("alice@contoso.test", json!(true), true))).await;
    assert_eq!(id(claimed.expect(201)), alice);
    let group = json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales", "members": []});
    let claimed = http.send("POST", &format!("{origin}/scim/v2/{okta}/Groups"), &okta_token, Some(group)).await;
    assert_eq!(id(claimed.expect(201)), sales);
    let summary = http.get(&format!("{admin}/users/{alice}"), &key).await;
    assert_eq!(summary.expect(200)["source"], json!({"type": "integration", "integrationId": okta}));

    // The admin moves one user, refuses anything but the source, and moves all of them.
    let to_manual = json!({"source": {"type": "manual"}});
    let moved = http.send("PATCH", &format!("{admin}/users/{alice}"), &key, Some(to_manual.clone())).await;
    assert_eq!(moved.expect(200)["source"], json!({"type": "manual"}));
    let to_okta = json!({"source": {"type": "integration", "integrationId": okta}});
    http.send("PATCH", &format!("{admin}/users/{alice}"), &key, Some(to_okta)).await.expect(200);
    let refused =
        http.send("PATCH", &format!("{admin}/users/{alice}"), &key, Some(json!({"userName": "x", "source": {"type": "manual"}}))).await;
    refused.expect_error(400, Some("invalidValue"));
    assert!(refused.body["detail"].as_str().is_some_and(|d| d.contains("\"userName\"")), "{:#}", refused.body);
    let nowhere = json!({"source": {"type": "integration", "integrationId": "no-such-integration"}});
    http.send("PATCH", &format!("{admin}/users/{alice}"), &key, Some(nowhere)).await.expect_error(404, None);
    let all = http.send("POST", &format!("{admin}/integrations/{okta}/move-users"), &key, Some(to_manual)).await;
    assert_eq!((all.expect(200)["moved"].as_u64(), all.body["done"].as_bool()), (Some(1), Some(true)));
    let moves: Vec<Value> = log_entries(&http, &server).await.into_iter().filter(|e| e["operation"] == "move").collect();
    assert_eq!(moves.len(), 5, "two released, three moved: {moves:#?}");

    // ?users=delete removes them with their devices.
    let (doomed, doomed_token) = integration(&http, &server, json!({"name": "Doomed"})).await;
    let bob = http
        .send("POST", &format!("{origin}/scim/v2/{doomed}/Users"), &doomed_token, Some(user("bob@contoso.test", json!(true), false)))
        .await;
    let bob = id(bob.expect(201));
    http.send("DELETE", &format!("{admin}/integrations/{doomed}?users=nothing"), &key, None).await.expect_error(400, None);
    let removed = http.send("DELETE", &format!("{admin}/integrations/{doomed}?users=delete"), &key, None).await;
    assert_eq!(removed.expect(200)["removed"], 1);
    http.get(&format!("{admin}/users/{bob}"), &key).await.expect_error(404, None);
    http.get(&format!("{origin}/scim/v2/{doomed}/Users"), &doomed_token).await.expect_error(401, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn seats_are_visible_set_by_the_operator_and_refused_with_who_raises_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), None, &["--seat-limit", "2"]);
    let http = Http::new();
    let (key, admin, token) = (server.credentials.admin_key.clone(), server.admin().to_string(), server.credentials.scim_token.clone());
    let tenant = http.get(&format!("{admin}/tenant"), &key).await;
    assert_eq!(tenant.expect(200)["seats"], json!({"used": 0, "limit": 2}));
    assert_eq!(tenant.body["id"], server.credentials.tenant_id.as_str());

    let users = format!("{}/Users", server.scim());
    http.send("POST", &users, &token, Some(user("ann@contoso.test", json!(true), false))).await.expect(201);
    // A suspended user holds a seat.
    let ben = id(http.send("POST", &users, &token, Some(user("ben@contoso.test", json!("False"), false))).await.expect(201));
    let refused = http.send("POST", &users, &token, Some(user("cid@contoso.test", json!(true), false))).await;
    refused.expect_error(409, None);
    let detail = refused.body["detail"].as_str().expect("detail");
    assert!(detail.contains("operator") && !detail.contains("tenant administrator"), "{detail}");
    let tenant = http.get(&format!("{admin}/tenant"), &key).await;
    let tenant = tenant.expect(200);
    assert_eq!(tenant["seats"], json!({"used": 2, "limit": 2}));
    assert_eq!(tenant["users"]["byStatus"], json!({"UNENROLLED": 1, "PROVISIONING_DISABLED": 1}));
    let integration = server.credentials.integration_id.as_str();
    assert_eq!(tenant["users"]["bySource"], json!([{"type": "integration", "integrationId": integration, "count": 2}]));
    let seats: Vec<String> = log_entries(&http, &server)
        .await
        .iter()
        .filter(|e| e["operation"] == "seats")
        .filter_map(|e| e["detail"].as_str().map(str::to_string))
        .collect();
    assert_eq!(seats, ["seat usage reached 100% of the limit: 2 of 2 seats used"], "one create took it from 50% past 80% to 100%");
    // No admin route sets the limit: the operator does.
    http.send("PUT", &format!("{admin}/tenant"), &key, Some(json!({"seats": {"limit": 9}}))).await.expect_error(405, None);

    // A deleted user frees the seat; the operator raises the limit (a restart with the option).
    http.send("DELETE", &format!("{users}/{ben}"), &token, None).await;
    assert_eq!(http.get(&format!("{admin}/tenant"), &key).await.expect(200)["seats"]["used"], 1);
    assert!(server.stop("TERM").success());
    let server = Server::start_with(dir.path(), None, &["--seat-limit", "5"]);
    assert_eq!(http.get(&format!("{}/tenant", server.admin()), &key).await.expect(200)["seats"], json!({"used": 1, "limit": 5}));
}

#[tokio::test(flavor = "multi_thread")]
async fn enrollment_emails_go_to_active_users_with_an_address_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let http = Http::new();
    let token = server.credentials.scim_token.clone();
    let users = format!("{}/Users", server.scim());
    let outbox = dir.path().join("outbox");

    // Entra's string boolean: created suspended, then one created active. The mailer sends
    // in queue order, so once the second arrived the first would have too.
    let ivy = id(http.send("POST", &users, &token, Some(user("ivy@contoso.test", json!("False"), true))).await.expect(201));
    let ned = id(http.send("POST", &users, &token, Some(user("ned@contoso.test", json!(true), false))).await.expect(201));
    http.send("POST", &users, &token, Some(user("joe@contoso.test", json!(true), true))).await.expect(201);
    eventually("joe's email", || async { recipients(&outbox).contains(&"joe@contoso.test".to_string()) }).await;
    assert_eq!(recipients(&outbox), ["joe@contoso.test"], "the suspended user got none");
    let ivy_log: Vec<Value> = log_entries(&http, &server).await.into_iter().filter(|e| e["resourceId"] == ivy.as_str()).collect();
    assert!(ivy_log.iter().any(|e| e["detail"].as_str().is_some_and(|d| d.contains("suspended"))), "{ivy_log:#?}");

    // Restored: mailed. The address arrives: mailed.
    let restore = patch(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    http.send("PATCH", &format!("{users}/{ivy}"), &token, Some(restore)).await.expect(200);
    let address = patch(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ned@contoso.test"}]));
    http.send("PATCH", &format!("{users}/{ned}"), &token, Some(address)).await.expect(200);
    let expected = ["ivy@contoso.test", "joe@contoso.test", "ned@contoso.test"];
    eventually("ivy's and ned's emails", || async { recipients(&outbox) == expected }).await;

    // Once: suspended and restored again, no second email (a later one would follow this
    // new user's, which arrives alone).
    let suspend = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    http.send("PATCH", &format!("{users}/{ivy}"), &token, Some(suspend)).await.expect(200);
    let restore = patch(json!([{"op": "Replace", "path": "active", "value": "True"}]));
    http.send("PATCH", &format!("{users}/{ivy}"), &token, Some(restore)).await.expect(200);
    http.send("POST", &users, &token, Some(user("kim@contoso.test", json!(true), true))).await.expect(201);
    eventually("kim's email", || async { recipients(&outbox).contains(&"kim@contoso.test".to_string()) }).await;
    assert_eq!(recipients(&outbox).iter().filter(|to| *to == "ivy@contoso.test").count(), 1);
}

fn eaa_user(id: &str, name: &str, status: u8) -> Value {
    json!({"user_uuid_url": id, "username": name, "first_name": name, "last_name": "Doe", "email": format!("{name}@corp.example"),
           "upn": format!("{name}@corp.example"), "status": status})
}

fn fixture() -> Fixture {
    Fixture {
        directories: vec![FixtureDirectory {
            uuid_url: "dir-corp".into(),
            name: "Corp AD".into(),
            groups: vec![
                FixtureGroup {
                    uuid_url: "grp-sales".into(),
                    name: "Sales".into(),
                    users: vec![eaa_user("u-ann", "ann", 1), eaa_user("u-bob", "bob", 1)],
                },
                FixtureGroup { uuid_url: "grp-eng".into(), name: "Engineering".into(), users: vec![eaa_user("u-cat", "cat", 1)] },
            ],
        }],
    }
}

/// userName → (status, source) of every user, as the admin API lists them.
async fn directory(http: &Http, server: &Server) -> Vec<(String, String, Value)> {
    let listed = http.get(&format!("{}/users?limit=200", server.admin()), &server.credentials.admin_key).await;
    let users = listed.expect(200)["users"].as_array().expect("users").clone();
    users
        .iter()
        .map(|u| {
            (
                u["userName"].as_str().unwrap_or_default().to_string(),
                u["status"].as_str().unwrap_or_default().to_string(),
                u["source"].clone(),
            )
        })
        .collect()
}

/// Creates the EAA integration with the stand-in's credentials and selects `groups`.
async fn eaa_integration(http: &Http, server: &Server, groups: &[&str]) -> String {
    let (admin, key) = (server.admin().to_string(), server.credentials.admin_key.clone());
    let (eaa, _) = integration(http, server, json!({"name": "EAA", "kind": "EAA"})).await;
    http.send("PUT", &format!("{admin}/eaa"), &key, Some(json!({"credentialsRef": "demo"}))).await.expect(200);
    http.send("POST", &format!("{admin}/eaa/directories/dir-corp"), &key, None).await.expect(200);
    for group in groups {
        http.send("POST", &format!("{admin}/eaa/directories/dir-corp/groups/{group}"), &key, None).await.expect(200);
    }
    eaa
}

/// Syncs now and waits for a new summary; returns it.
async fn sync(http: &Http, server: &Server) -> Value {
    let (admin, key) = (server.admin().to_string(), server.credentials.admin_key.clone());
    let before = http.get(&format!("{admin}/eaa/sync"), &key).await.expect(200)["last"]["run"].clone();
    http.send("POST", &format!("{admin}/eaa/sync"), &key, None).await.expect(202);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = http.get(&format!("{admin}/eaa/sync"), &key).await.expect(200)["last"].clone();
        if !last.is_null() && last["run"] != before {
            return last;
        }
        assert!(Instant::now() < deadline, "timed out waiting for the sync");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eaa_integration_deleted_and_created_again_adopts_restores_and_removes() {
    let config = StandinConfig::for_tests();
    let (addr, eaa) = standin::spawn(fixture(), config.clone()).await.expect("stand-in");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let http = Http::new();
    let (key, admin) = (server.credentials.admin_key.clone(), server.admin().to_string());
    server.write_eaa_credentials(dir.path(), "demo", addr, &config);

    let first = eaa_integration(&http, &server, &["grp-sales", "grp-eng"]).await;
    assert_eq!(sync(&http, &server).await["counts"]["created"], 3);
    // Bob is disabled in EAA: suspended.
    eaa.update(|f| f.directories[0].groups[0].users[1]["status"] = json!(0));
    assert_eq!(sync(&http, &server).await["counts"]["suspended"], 1);

    // Deleted: its users are released to manual.
    let deleted = http.send("DELETE", &format!("{admin}/integrations/{first}"), &key, None).await;
    assert_eq!(deleted.expect(200)["moved"], 5, "three users and two groups: {:#}", deleted.body);
    assert!(directory(&http, &server).await.iter().all(|(_, _, source)| *source == json!({"type": "manual"})));

    // Created again, without "include manually provisioned users"; bob is re-enabled in EAA.
    let second = eaa_integration(&http, &server, &["grp-sales", "grp-eng"]).await;
    eaa.update(|f| f.directories[0].groups[0].users[1]["status"] = json!(1));
    let last = sync(&http, &server).await;
    assert_eq!((last["outcome"].as_str(), last["errors"].as_array().map(Vec::len)), (Some("SUCCEEDED"), Some(0)), "{last:#}");
    let users = directory(&http, &server).await;
    let ours = json!({"type": "integration", "integrationId": second});
    assert_eq!(users.len(), 3, "{users:?}");
    assert!(users.iter().all(|(_, _, source)| *source == ours), "adopted: {users:?}");
    assert!(users.iter().all(|(_, status, _)| status == "UNENROLLED"), "bob restored: {users:?}");
    let adopted =
        log_entries(&http, &server).await.into_iter().filter(|e| e["operation"] == "claim" && e["actor"] == second.as_str()).count();
    assert_eq!(adopted, 5, "each adoption is logged as a claim");

    // Deselecting Engineering removes cat, and the sync says so.
    http.send("DELETE", &format!("{admin}/eaa/directories/dir-corp/groups/grp-eng"), &key, None).await.expect(200);
    let last = sync(&http, &server).await;
    assert_eq!((last["outcome"].as_str(), last["counts"]["removed"].as_u64()), (Some("SUCCEEDED"), Some(1)), "{last:#}");
    let names: Vec<String> = directory(&http, &server).await.into_iter().map(|(name, ..)| name).collect();
    assert_eq!(names, ["ann@corp.example", "bob@corp.example"]);
}
