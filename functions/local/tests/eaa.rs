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
    let file = dir.path().join("eaa-credentials").join(&server.credentials.tenant_id).join("demo.json");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
    let document = json!({"host": format!("http://{addr}"), "clientToken": config.credentials.client_token,
        "clientSecret": config.credentials.client_secret, "accessToken": config.credentials.access_token, "contractId": config.contract_id});
    std::fs::write(&file, document.to_string()).expect("credentials file");

    let created = http.send("POST", &format!("{admin}/integrations"), &key, Some(json!({"name": "EAA", "kind": "EAA"}))).await;
    let integration = created.expect(201)["id"].as_str().expect("id").to_string();
    // A reference with no file: EAA cannot be reached, and the answer says why.
    http.send("PUT", &format!("{admin}/eaa"), &key, Some(json!({"credentialsRef": "missing"}))).await.expect(200);
    let refused = http.get(&format!("{admin}/eaa/directories"), &key).await;
    refused.expect_error(502, None);
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
    // The run records its summary after it has applied the users: wait for that too.
    eventually("the sync's summary", || async { !http.get(&format!("{admin}/eaa/sync"), &key).await.body["last"].is_null() }).await;
    let status = http.get(&format!("{admin}/eaa/sync"), &key).await;
    let last = &status.expect(200)["last"];
    assert_eq!(last["outcome"], "SUCCEEDED", "{last}");
    assert_eq!(last["counts"]["created"], 2);

    // A change in EAA reaches the directory through the schedule alone.
    eaa.update(|f| f.directories[0].groups[0].users.push(eaa_user("u-dan", "dan")));
    eventually("the scheduled sync", || async { user_names(&http, &server).await.len() == 3 }).await;
    assert_eq!(user_names(&http, &server).await, ["ann@corp.example", "bob@corp.example", "dan@corp.example"]);
    // Owned by the EAA integration (its source), like the users of the first sync.
    let listed = http.get(&format!("{admin}/users?limit=200"), &key).await;
    let users = listed.expect(200)["users"].as_array().expect("users").clone();
    assert!(users.iter().all(|u| u["source"] == json!({"type": "integration", "integrationId": integration})), "{users:?}");

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
    let file = dir.path().join("eaa-credentials").join(&server.credentials.tenant_id).join("demo.json");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("dir");
    let document = json!({"host": format!("http://{addr}"), "clientToken": config.credentials.client_token,
        "clientSecret": config.credentials.client_secret, "accessToken": config.credentials.access_token, "contractId": config.contract_id});
    std::fs::write(&file, document.to_string()).expect("credentials file");
    http.send("POST", &format!("{admin}/integrations"), &key, Some(json!({"name": "EAA", "kind": "EAA"}))).await.expect(201);
    http.send("PUT", &format!("{admin}/eaa"), &key, Some(json!({"credentialsRef": "demo"}))).await.expect(200);

    http.get(&format!("{admin}/eaa/directories"), &key).await.expect(200);
    // The one request of the window is used: the next is limited for about a minute.
    let limited = http.get(&format!("{admin}/eaa/directories"), &key).await;
    limited.expect_error(429, None);
    let retry_after: u64 = limited.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(retry_after > 0, "{retry_after}");
}
