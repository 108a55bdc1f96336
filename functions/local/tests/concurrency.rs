//! Concurrency over real HTTP against the real `scim-local` binary: uniqueness under 50
//! identical creates, no lost member under 20 concurrent member PATCHes, `If-Match`
//! letting exactly one of 20 concurrent PATCHes through, and a token rotated or deleted
//! under load refused at once. Counts, no timing.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Http, Reply, Server};
use serde_json::{Value, json};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true,
           "externalId": format!("ext-{name}"), "emails": [{"primary": true, "type": "work", "value": format!("{name}@contoso.com")}]})
}

fn patch(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

struct Setup {
    _dir: tempfile::TempDir,
    server: Server,
    http: Arc<Http>,
}

impl Setup {
    fn start() -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = Server::start(dir.path());
        Setup { _dir: dir, server, http: Arc::new(Http::new()) }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.scim())
    }

    fn token(&self) -> String {
        self.server.credentials.scim_token.clone()
    }

    /// Sends all requests at once (one task each) and returns the replies in order.
    async fn concurrently(&self, requests: Vec<(&'static str, String, Option<Value>, Option<String>)>) -> Vec<Reply> {
        let tasks: Vec<_> = requests
            .into_iter()
            .map(|(method, url, body, if_match)| {
                let (http, token) = (Arc::clone(&self.http), self.token());
                tokio::spawn(async move {
                    match if_match {
                        None => http.send(method, &url, &token, body).await,
                        Some(etag) => {
                            let bytes = bytes::Bytes::from(body.map(|b| b.to_string()).unwrap_or_default());
                            let headers = [("content-type", "application/scim+json"), ("if-match", etag.as_str())];
                            http.raw(method, &url, Some(&token), &headers, bytes).await
                        }
                    }
                })
            })
            .collect();
        let mut replies = Vec::new();
        for task in tasks {
            replies.push(task.await.expect("task"));
        }
        replies
    }

    async fn create_user(&self, name: &str) -> String {
        let reply = self.http.send("POST", &self.url("/Users"), &self.token(), Some(user(name))).await;
        reply.expect(201)["id"].as_str().expect("id").to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_identical_creates_make_one_user_and_forty_nine_conflicts() {
    let s = Setup::start();
    let requests = (0..50).map(|_| ("POST", s.url("/Users"), Some(user("dup@contoso.com")), None)).collect();
    let replies = s.concurrently(requests).await;
    let mut created = Vec::new();
    for reply in &replies {
        match reply.status {
            201 => created.push(reply.body["id"].as_str().expect("id").to_string()),
            _ => reply.expect_error(409, Some("uniqueness")),
        }
    }
    assert_eq!(created.len(), 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let listed = s.http.get(&s.url("/Users"), &s.token()).await;
    let body = listed.expect(200);
    assert_eq!(body["totalResults"], 1, "{body:#}");
    assert_eq!(body["Resources"][0]["id"], created[0].as_str());
    let filtered = s.http.get(&s.url("/Users?filter=userName+eq+%22DUP%40contoso.com%22"), &s.token()).await;
    assert_eq!(filtered.expect(200)["totalResults"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_member_patches_lose_no_member() {
    let s = Setup::start();
    // 10 initial members; each of 20 PATCHes adds 2 new ones, and every fourth also
    // removes one of the initial members.
    let mut initial = Vec::new();
    for n in 0..10 {
        initial.push(s.create_user(&format!("initial{n}")).await);
    }
    let mut added = Vec::new();
    for n in 0..40 {
        added.push(s.create_user(&format!("added{n}")).await);
    }
    let members: Vec<Value> = initial.iter().map(|id| json!({"value": id})).collect();
    let group = s.http.send("POST", &s.url("/Groups"), &s.token(), Some(json!({"displayName": "Race", "members": members}))).await;
    let group = group.expect(201)["id"].as_str().expect("id").to_string();
    let path = s.url(&format!("/Groups/{group}"));

    let mut expected: BTreeSet<String> = initial.iter().cloned().collect();
    let mut requests = Vec::new();
    for n in 0..20 {
        let adds = [&added[2 * n], &added[2 * n + 1]];
        let mut operations = vec![json!({"op": "add", "path": "members", "value": adds.map(|id| json!({"value": id}))})];
        expected.extend(adds.iter().map(|id| id.to_string()));
        if n % 4 == 0 {
            let removed = &initial[n / 4];
            operations.push(json!({"op": "remove", "path": format!("members[value eq \"{removed}\"]")}));
            expected.remove(removed);
        }
        requests.push(("PATCH", path.clone(), Some(patch(Value::Array(operations))), None));
    }
    for reply in s.concurrently(requests).await {
        assert!(reply.status == 200 || reply.status == 204, "{reply:?}");
    }
    let got = s.http.get(&path, &s.token()).await;
    let body = got.expect(200);
    let members: BTreeSet<String> =
        body["members"].as_array().expect("members").iter().filter_map(|m| m["value"].as_str()).map(str::to_string).collect();
    assert_eq!(members.len(), 10 - 5 + 40);
    assert_eq!(members, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_patches_with_the_same_if_match_let_exactly_one_through() {
    let s = Setup::start();
    let id = s.create_user("etag").await;
    let path = s.url(&format!("/Users/{id}"));
    let etag = s.http.get(&path, &s.token()).await.header("etag").expect("ETag").to_string();
    let requests = (0..20)
        .map(|n| {
            let body = patch(json!([{"op": "replace", "path": "nickName", "value": format!("n{n}")}]));
            ("PATCH", path.clone(), Some(body), Some(etag.clone()))
        })
        .collect();
    let replies = s.concurrently(requests).await;
    let mut winners = Vec::new();
    for reply in &replies {
        match reply.status {
            200 => winners.push(reply.body["nickName"].as_str().expect("nickName").to_string()),
            _ => reply.expect_error(412, None),
        }
    }
    assert_eq!(winners.len(), 1, "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let now = s.http.get(&path, &s.token()).await;
    assert_eq!(now.body["nickName"].as_str(), Some(winners[0].as_str()));
    assert_ne!(now.header("etag"), Some(etag.as_str()));
}

/// GETs `url` with `token` from 8 tasks until `done` is set.
fn hammer(s: &Setup, url: &str, token: &str, done: &Arc<AtomicBool>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..8)
        .map(|_| {
            let (http, url, token, done) = (Arc::clone(&s.http), url.to_string(), token.to_string(), Arc::clone(done));
            tokio::spawn(async move {
                while !done.load(Ordering::SeqCst) {
                    http.get(&url, &token).await;
                }
            })
        })
        .collect()
}

/// A refresh of a token's cached grant that a rotation or deletion overtook must not put
/// the revoked token back in the cache (it then worked for up to a minute more).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_rotated_or_deleted_under_load_stops_working_at_once() {
    let s = Setup::start();
    let admin = s.server.credentials.admin_key.clone();
    let integrations = format!("{}/integrations", s.server.admin());
    let origin = s.server.scim().split("/scim/v2/").next().expect("origin").to_string();
    let mut token = s.token();
    let id = s.server.credentials.integration_id.clone();
    for round in 0..12 {
        let done = Arc::new(AtomicBool::new(false));
        let tasks = hammer(&s, &s.url("/Users?count=1"), &token, &done);
        let rotated = s.http.send("POST", &format!("{integrations}/{id}/token"), &admin, None).await;
        let new_token = rotated.expect(200)["token"].as_str().expect("token").to_string();
        done.store(true, Ordering::SeqCst);
        for task in tasks {
            task.await.expect("task");
        }
        let old = s.http.get(&s.url("/Users?count=1"), &token).await;
        assert_eq!(old.status, 401, "round {round}: the rotated token still works: {old:?}");
        s.http.get(&s.url("/Users?count=1"), &new_token).await.expect(200);
        token = new_token;
    }
    for round in 0..12 {
        let created = s.http.send("POST", &integrations, &admin, Some(json!({"kind": "SCIM", "name": format!("Doomed {round}")}))).await;
        let created = created.expect(201).clone();
        let (doomed, doomed_token) = (created["id"].as_str().expect("id"), created["token"].as_str().expect("token"));
        let users = format!("{origin}/scim/v2/{doomed}/Users");
        let done = Arc::new(AtomicBool::new(false));
        let tasks = hammer(&s, &format!("{users}?count=1"), doomed_token, &done);
        s.http.send("DELETE", &format!("{integrations}/{doomed}"), &admin, None).await;
        done.store(true, Ordering::SeqCst);
        for task in tasks {
            task.await.expect("task");
        }
        let after = s.http.send("POST", &users, doomed_token, Some(user(&format!("ghost{round}")))).await;
        assert_eq!(after.status, 401, "round {round}: a deleted integration's token still works: {after:?}");
    }
}

/// A group deleted while a 1,000-member add runs, and a user deleted while adds name it,
/// leave no user listing a deleted group and no group listing a deleted user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deletes_racing_member_adds_leave_no_membership_behind() {
    let s = Setup::start();
    let mut ids = Vec::new();
    for n in 0..1000 {
        ids.push(s.create_user(&format!("member{n}")).await);
    }
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    for trial in 0..3 {
        let group = s.http.send("POST", &s.url("/Groups"), &s.token(), Some(json!({"displayName": format!("Doomed {trial}")}))).await;
        let group = group.expect(201)["id"].as_str().expect("id").to_string();
        let path = s.url(&format!("/Groups/{group}"));
        let body = patch(json!([{"op": "add", "path": "members", "value": members}]));
        let adding = tokio::spawn({
            let (http, path, token) = (Arc::clone(&s.http), path.clone(), s.token());
            async move { http.send("PATCH", &path, &token, Some(body)).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20 * trial)).await;
        let deleted = s.http.send("DELETE", &path, &s.token(), None).await;
        assert_eq!(deleted.status, 204, "trial {trial}: {deleted:?}");
        let added = adding.await.expect("task");
        assert!([200, 204, 404].contains(&added.status), "trial {trial}: {added:?}");
        for id in ids.iter().step_by(37) {
            let user = s.http.get(&s.url(&format!("/Users/{id}?attributes=groups")), &s.token()).await;
            let groups = user.expect(200)["groups"].as_array().cloned().unwrap_or_default();
            assert!(groups.iter().all(|g| g["value"] != group.as_str()), "trial {trial}: {id} still lists the deleted group");
        }
    }
    // A user deleted while 20 groups add it.
    let doomed = s.create_user("doomed").await;
    let mut groups = Vec::new();
    for n in 0..20 {
        let group = s.http.send("POST", &s.url("/Groups"), &s.token(), Some(json!({"displayName": format!("G{n}")}))).await;
        groups.push(group.expect(201)["id"].as_str().expect("id").to_string());
    }
    let requests = groups
        .iter()
        .map(|group| {
            let body = patch(json!([{"op": "add", "path": "members", "value": [{"value": ids[0]}, {"value": doomed}]}]));
            ("PATCH", s.url(&format!("/Groups/{group}")), Some(body), None)
        })
        .chain(std::iter::once(("DELETE", s.url(&format!("/Users/{doomed}")), None, None)))
        .collect();
    for reply in s.concurrently(requests).await {
        assert!([200, 204, 400].contains(&reply.status), "{reply:?}");
    }
    for group in &groups {
        let got = s.http.get(&s.url(&format!("/Groups/{group}")), &s.token()).await;
        let members = got.expect(200)["members"].as_array().cloned().unwrap_or_default();
        assert!(members.iter().all(|m| m["value"] != doomed.as_str()), "{group} still lists the deleted user");
    }
}
