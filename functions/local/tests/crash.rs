//! A large member PATCH is all or nothing after `kill -9` at any moment: after the
//! restart the group has none or all of the members, its version moved by exactly one
//! only when they are all there, and the provisioning log has the PATCH only then.
//! Readers during the PATCH see the group before or after it, never between.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Http, Server};
use serde_json::{Value, json};

const MEMBERS: usize = 1000;

async fn member_count(http: &Http, server: &Server, group: &str) -> (usize, String) {
    let got = http.get(&format!("{}/Groups/{group}", server.scim()), &server.credentials.scim_token).await;
    let body = got.expect(200).clone();
    (body["members"].as_array().map_or(0, Vec::len), got.header("etag").expect("ETag").to_string())
}

async fn logged_patches(http: &Http, server: &Server, group: &str) -> usize {
    let log = http.get(&format!("{}/log?limit=200", server.admin()), &server.credentials.admin_key).await;
    let entries = log.expect(200)["entries"].as_array().cloned().unwrap_or_default();
    entries.iter().filter(|e| e["operation"] == "patch" && e["resourceId"] == group && e["outcome"] == "success").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_member_patch_killed_at_any_moment_is_all_or_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let http = Arc::new(Http::new());
    let mut server = Server::start(dir.path());
    let mut ids = Vec::new();
    for n in 0..MEMBERS {
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("m{n}")});
        let created = http.send("POST", &format!("{}/Users", server.scim()), &server.credentials.scim_token, Some(body)).await;
        ids.push(created.expect(201)["id"].as_str().expect("id").to_string());
    }
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let (mut complete, mut none, mut finished_after_restart) = (0, 0, 0);
    for trial in 0..12u64 {
        let groups = format!("{}/Groups", server.scim());
        let group = http.send("POST", &groups, &server.credentials.scim_token, Some(json!({"displayName": format!("Big {trial}")}))).await;
        let group = group.expect(201)["id"].as_str().expect("id").to_string();
        let (_, before) = member_count(&http, &server, &group).await;
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "add", "path": "members", "value": members}]});
        let patching = tokio::spawn({
            let (http, url, token) = (Arc::clone(&http), format!("{groups}/{group}"), server.credentials.scim_token.clone());
            let headers = [("content-type", "application/scim+json")];
            async move { http.try_raw("PATCH", &url, Some(&token), &headers, bytes::Bytes::from(body.to_string())).await }
        });
        // Readers while it runs: before or after, never between.
        let stop = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn({
            let (http, url, token, stop) =
                (Arc::clone(&http), format!("{groups}/{group}"), server.credentials.scim_token.clone(), Arc::clone(&stop));
            async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match http.try_raw("GET", &url, Some(&token), &[], bytes::Bytes::new()).await {
                        Some(got) if got.status == 200 => seen.push(got.body["members"].as_array().map_or(0, Vec::len)),
                        Some(_) => {}
                        None => break,
                    }
                }
                seen
            }
        });
        tokio::time::sleep(Duration::from_millis(10 + 25 * trial)).await;
        server.stop("KILL");
        stop.store(true, Ordering::SeqCst);
        let answered = patching.await.expect("task").is_some();
        let seen = reader.await.expect("reader");
        assert!(seen.iter().all(|n| *n == 0 || *n == MEMBERS), "trial {trial}: a reader saw {seen:?}");

        server = Server::start(dir.path());
        let (count, after) = member_count(&http, &server, &group).await;
        let patches = logged_patches(&http, &server, &group).await;
        match count {
            0 => {
                assert_eq!(after, before, "trial {trial}: nothing applied, the version kept");
                assert_eq!(patches, 0, "trial {trial}: no log entry for a PATCH not applied");
                none += 1;
            }
            MEMBERS => {
                let version = |etag: &str| etag.trim_start_matches("W/\"").trim_end_matches('"').parse::<u64>().expect("version");
                assert_eq!(version(&after), version(&before) + 1, "trial {trial}: one version for the PATCH");
                assert_eq!(patches, 1, "trial {trial}: one log entry for the PATCH");
                complete += 1;
                if !answered {
                    finished_after_restart += 1;
                }
            }
            other => panic!("trial {trial}: {other} of {MEMBERS} members after the crash"),
        }
    }
    eprintln!(
        "measured: {complete} PATCHes complete ({finished_after_restart} of them unanswered, finished after the restart), {none} not applied, none between"
    );
}
