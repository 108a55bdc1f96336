//! EAA provisioning on the real local server: the stand-in EAA server, a credentials file
//! in the data folder, the admin API choosing a directory and a group, "sync now", and the
//! in-process schedule picking up a change in EAA.

mod common;

use std::time::{Duration, Instant};

use common::{Http, Server};
use eaa_client::standin::{self, Fixture, FixtureDirectory, FixtureGroup, StandinConfig};
use serde_json::{Value, json};

fn eaa_user(id: &str, name: &str) -> Value {
    json!({"user_uuid_url": id, "username": name, "first_name": name, "last_name": "Doe", "email": format!("{name}@corp.example"),
           "upn": format!("{name}@corp.example"), "status": 1})
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
                    users: vec![eaa_user("u-ann", "ann"), eaa_user("u-bob", "bob")],
                },
                FixtureGroup { uuid_url: "grp-eng".into(), name: "Engineering".into(), users: vec![eaa_user("u-cat", "cat")] },
            ],
        }],
    }
}

async fn user_names(http: &Http, server: &Server) -> Vec<String> {
    let listed = http.get(&format!("{}/users?limit=200", server.admin()), &server.credentials.admin_key).await;
    let mut names: Vec<String> =
        listed.expect(200)["users"].as_array().expect("users").iter().filter_map(|u| u["userName"].as_str().map(str::to_string)).collect();
    names.sort();
    names
}

/// Fails if an answer names the server's data directory or any absolute file path.
fn assert_no_server_path(body: &Value, data_dir: &std::path::Path) {
    let text = body.to_string();
    assert!(!text.contains(&*data_dir.to_string_lossy()), "the answer holds the data directory: {text}");
    assert!(!text.contains("eaa-credentials") && !text.contains(".json"), "the answer holds a file name: {text}");
}

/// Polls `check` every 100 ms for at most 60 s.
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_server_syncs_eaa_on_request_and_on_its_schedule() {
    let config = StandinConfig::for_tests();
    let (addr, eaa) = standin::spawn(fixture(), config.clone()).await.expect("stand-in");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with(dir.path(), None, &["--eaa-sync-interval", "2s"]);
    let http = Http::new();
    let key = server.credentials.admin_key.clone();
    let admin = server.admin().to_string();

    // The credentials document, where the server says it reads it.
    let file = server.write_eaa_credentials(dir.path(), "demo", addr, &config);

    let created = http.send("POST", &format!("{admin}/integrations"), &key, Some(json!({"name": "EAA", "kind": "EAA"}))).await;
    let integration = created.expect(201)["id"].as_str().expect("id").to_string();
    // A reference is checked when it is set: naming nothing is 409, a document that is not
    // EAA credentials 400, each saying what to fix without where the server looked.
    let missing = http.send("PUT", &format!("{admin}/eaa"), &key, Some(json!({"credentialsRef": "missing"}))).await;
    missing.expect_error(409, None);
    assert_no_server_path(&missing.body, dir.path());
    assert!(missing.body["detail"].as_str().expect("detail").contains("nothing is stored under the credentials reference \"missing\""));
    std::fs::write(file.with_file_name("broken.json"), "{\"host\": 1").expect("broken file");
    let broken = http.send("PUT", &format!("{admin}/eaa"), &key, Some(json!({"credentialsRef": "broken"}))).await;
    broken.expect_error(400, Some("invalidValue"));
    assert_no_server_path(&broken.body, dir.path());
    assert_eq!(http.get(&format!("{admin}/eaa"), &key).await.expect(200)["hasCredentials"], false, "a refused reference is not kept");
    http.send("PUT", &format!("{admin}/eaa"), &key, Some(json!({"credentialsRef": "demo"}))).await.expect(200);

    let directories = http.get(&format!("{admin}/eaa/directories"), &key).await;
    assert_eq!(directories.expect(200)["directories"][0]["name"], "Corp AD");
    http.send("POST", &format!("{admin}/eaa/directories/dir-corp"), &key, None).await.expect(200);
    let groups = http.get(&format!("{admin}/eaa/directories/dir-corp/groups"), &key).await;
    assert_eq!(groups.expect(200)["groups"].as_array().expect("groups").len(), 2);
    http.send("POST", &format!("{admin}/eaa/directories/dir-corp/groups/grp-sales"), &key, None).await.expect(200);

    // Sync now: Sales' users arrive, Engineering's do not.
    http.send("POST", &format!("{admin}/eaa/sync"), &key, None).await.expect(202);
    eventually("the requested sync", || async { user_names(&http, &server).await == ["ann@corp.example", "bob@corp.example"] }).await;
    // The users are written before the run's summary (its group memberships come after).
    let sync_status = format!("{admin}/eaa/sync");
    eventually("the sync's summary", || async { !http.get(&sync_status, &key).await.body["last"].is_null() }).await;
    let status = http.get(&sync_status, &key).await;
    let last = &status.expect(200)["last"];
    assert_eq!(last["outcome"], "SUCCEEDED", "{last}");
    assert_eq!(last["counts"]["created"], 2);

    // The sync brought a group called Sales, which Entra cannot see: Entra's own Sales is
    // no collision (group names are unique per owner), a second one of Entra's is. A
    // userName stays unique in the tenant whoever owns it.
    let entra = (server.scim().to_string(), server.credentials.scim_token.clone());
    let sales = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales"});
    let created = http.send("POST", &format!("{}/Groups", entra.0), &entra.1, Some(sales.clone())).await;
    assert_eq!(created.expect(201)["displayName"], "Sales");
    http.send("POST", &format!("{}/Groups", entra.0), &entra.1, Some(sales)).await.expect_error(409, Some("uniqueness"));
    let ann = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann@corp.example"});
    http.send("POST", &format!("{}/Users", entra.0), &entra.1, Some(ann)).await.expect_error(409, Some("uniqueness"));

    // A change in EAA reaches the directory through the schedule alone.
    eaa.update(|f| f.directories[0].groups[0].users.push(eaa_user("u-dan", "dan")));
    eventually("the scheduled sync", || async { user_names(&http, &server).await.len() == 3 }).await;
    assert_eq!(user_names(&http, &server).await, ["ann@corp.example", "bob@corp.example", "dan@corp.example"]);
    // Owned by the EAA integration (its source), like the users of the first sync.
    let listed = http.get(&format!("{admin}/users?limit=200"), &key).await;
    let users = listed.expect(200)["users"].as_array().expect("users").clone();
    assert!(users.iter().all(|u| u["source"] == json!({"type": "integration", "integrationId": integration})), "{users:?}");

    // The document removed after it was set: the admin's EAA calls say the reference names
    // nothing any more (409), still without the file's path.
    std::fs::remove_file(&file).expect("remove credentials");
    let gone = http.get(&format!("{admin}/eaa/directories"), &key).await;
    gone.expect_error(409, None);
    assert_no_server_path(&gone.body, dir.path());

    let exit = server.stop("TERM");
    assert!(exit.success(), "{exit:?}");
}

/// While EAA rate limits the account, the admin API's EAA routes answer 429 with
/// `Retry-After` at once instead of holding the request until the limit's window ends
/// (it was 58-60 s, past API Gateway's 30 s).
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_eaa_is_answered_with_429_not_waited_out() {
    // EAA's own window: a minute, which a background sync waits out and a request must not.
    let config = StandinConfig { requests_per_window: 1, window: Duration::from_secs(60), ..StandinConfig::for_tests() };
    let (addr, _eaa) = standin::spawn(fixture(), config.clone()).await.expect("stand-in");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path());
    let http = Http::new();
    let (key, admin) = (server.credentials.admin_key.clone(), server.admin().to_string());
    server.write_eaa_credentials(dir.path(), "demo", addr, &config);
    http.send("POST", &format!("{admin}/integrations"), &key, Some(json!({"name": "EAA", "kind": "EAA"}))).await.expect(201);
    http.send("PUT", &format!("{admin}/eaa"), &key, Some(json!({"credentialsRef": "demo"}))).await.expect(200);

    http.get(&format!("{admin}/eaa/directories"), &key).await.expect(200);
    // The one request of the window is used: the next is limited for about a minute.
    let limited = http.get(&format!("{admin}/eaa/directories"), &key).await;
    limited.expect_error(429, None);
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(retry_after > 0, "{retry_after}");
}
