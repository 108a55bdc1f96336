//! Store faults at every step of every write, through the router: each store call of a
//! create, replace, PATCH, member PATCH and delete fails in turn (throttled, then
//! unavailable). The answer must be 429/503 with `Retry-After`; the store afterwards
//! must hold the complete old state (a full dump of every item, compared with the one
//! taken before); the store's cross-item invariants must hold (no orphan uniqueness
//! item, no membership without its group or member, no outbox item without its user, the
//! seat counter equal to the users); and the same request must succeed once the store
//! recovers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use embedded_store::EmbeddedStore;
use item_store::{Attributes, Condition, FailingStore, Fault, Item, ItemStore, Key, Page, Query, StoreError, TransactOp};
use provisioning::resources::Record;
use provisioning::storage::keys;
use provisioning::{Caller, GROUPS, IntegrationKind, Provisioning, Settings, USERS};
use scim_http::Router;
use serde_json::{Value, json};

/// Remembers every key ever written through it, so that a test can dump the whole store
/// (the port has no scan, on purpose).
struct Recorder<S> {
    inner: S,
    keys: Mutex<BTreeSet<Key>>,
}

impl<S: ItemStore> Recorder<S> {
    fn note(&self, keys: impl IntoIterator<Item = Key>) {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(keys);
    }

    async fn dump(&self) -> BTreeMap<Key, Attributes> {
        let keys: Vec<Key> = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect();
        let mut out = BTreeMap::new();
        for key in keys {
            if let Some(item) = self.inner.get(&key).await.expect("dump read") {
                out.insert(key, item.attrs);
            }
        }
        out
    }
}

impl<S: ItemStore> ItemStore for Recorder<S> {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        self.note([item.key.clone()]);
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        self.inner.delete(key, condition).await
    }
    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        self.note(ops.iter().map(|op| op.key().clone()));
        self.inner.transact(ops).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
}

type Store = Arc<FailingStore<Recorder<EmbeddedStore>>>;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    router: Router<Store>,
    tenant: String,
    base: String,
    token: String,
    users: Vec<String>,
    group: String,
}

fn request(method: &str, path: &str, token: &str, body: Option<&Value>) -> http::Request<Bytes> {
    let mut builder = http::Request::builder().method(method).uri(path).header("host", "api.example.com");
    builder = builder.header("authorization", format!("Bearer {token}"));
    let body = match body {
        Some(body) => {
            builder = builder.header("content-type", "application/scim+json");
            Bytes::from(body.to_string())
        }
        None => Bytes::new(),
    };
    builder.body(body).expect("request")
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true,
           "externalId": format!("ext-{name}"), "emails": [{"primary": true, "type": "work", "value": format!("{name}@contoso.com")}]})
}

impl Fixture {
    /// A tenant with a seat limit (so the counter exists), an integration that sends
    /// enrollment emails (so creates write outbox items), four users and a group of two.
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let inner = Recorder { inner: EmbeddedStore::open(dir.path().join("items.redb")).expect("store"), keys: Mutex::default() };
        let store = Arc::new(FailingStore::new(inner));
        let service = Arc::new(Provisioning::new(Arc::clone(&store)));
        let tenant = service.create_tenant("T", Some(100)).await.expect("tenant");
        let settings = Settings { send_enrollment_emails: true, ..Default::default() };
        let created = service
            .create_integration(&Caller::admin(&tenant.tenant), IntegrationKind::Scim, "Entra", settings)
            .await
            .expect("integration");
        let mut fixture = Fixture {
            _dir: dir,
            store,
            router: Router::new(service),
            tenant: tenant.tenant,
            base: format!("/scim/v2/{}", created.integration.id),
            token: created.token,
            users: Vec::new(),
            group: String::new(),
        };
        for n in 0..4 {
            let (status, body) = fixture.send("POST", "/Users", Some(&user(&format!("u{n}")))).await;
            assert_eq!(status, 201, "{body}");
            fixture.users.push(body["id"].as_str().expect("id").to_string());
        }
        let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
                           "members": [{"value": fixture.users[0]}, {"value": fixture.users[1]}]});
        let (status, body) = fixture.send("POST", "/Groups", Some(&group)).await;
        assert_eq!(status, 201, "{body}");
        fixture.group = body["id"].as_str().expect("id").to_string();
        fixture
    }

    async fn send_full(&self, method: &str, path: &str, body: Option<&Value>) -> http::Response<Bytes> {
        self.router.handle(request(method, &format!("{}{path}", self.base), &self.token, body)).await
    }

    async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let response = self.send_full(method, path, body).await;
        let body = if response.body().is_empty() { Value::Null } else { serde_json::from_slice(response.body()).expect("JSON") };
        (response.status().as_u16(), body)
    }

    async fn dump(&self) -> BTreeMap<Key, Attributes> {
        self.store.inner().dump().await
    }

    /// The cross-item invariants of the table, over a full dump.
    fn check_invariants(&self, dump: &BTreeMap<Key, Attributes>) {
        let t = &self.tenant;
        let resource_prefix = format!("T#{t}#R#");
        let mut resources = BTreeMap::new();
        for (key, attrs) in dump {
            if key.pk.starts_with(&resource_prefix) && key.sk == "R" {
                let record = Record::from_item(&Item::new(key.clone(), attrs.clone())).expect("stored record");
                resources.insert(record.id.clone(), record);
            }
        }
        let descriptor = |record: &Record| if record.type_name == USERS.name() { &USERS } else { &GROUPS };
        // Every resource holds its uniqueness item (a group's within its owner), and every
        // uniqueness item a resource.
        for record in resources.values() {
            let key = record.name_claim(t, descriptor(record)).expect("unique value");
            let holder = dump.get(&key).unwrap_or_else(|| panic!("{} {} has no uniqueness item {key}", record.type_name, record.id));
            assert_eq!(holder.get("id").and_then(Value::as_str), Some(record.id.as_str()), "{key}");
        }
        // (An integration's name claim, `U#Integration#`, is not a resource's.)
        let resource_claims =
            [format!("T#{t}#U#{}#", USERS.name()), format!("T#{t}#U#{}#", GROUPS.name()), format!("T#{t}#UO#{}#", GROUPS.name())];
        for (key, attrs) in dump.iter().filter(|(key, _)| resource_claims.iter().any(|prefix| key.pk.starts_with(prefix))) {
            let id = attrs.get("id").and_then(Value::as_str).unwrap_or_default();
            let record = resources.get(id).unwrap_or_else(|| panic!("orphan uniqueness item {key}"));
            assert_eq!(record.name_claim(t, descriptor(record)).as_ref(), Some(key), "stale uniqueness item");
        }
        // Memberships: under an existing group, naming an existing resource.
        for key in dump.keys().filter(|key| key.pk.starts_with(&resource_prefix) && key.sk.starts_with(keys::membership_prefix())) {
            let group = key.pk.trim_start_matches(&resource_prefix);
            assert!(resources.get(group).is_some_and(|r| r.type_name == GROUPS.name()), "membership {key} without its group");
            let member = key.sk.trim_start_matches(keys::membership_prefix());
            assert!(resources.contains_key(member), "membership {key} naming a deleted member");
        }
        // Outbox items belong to existing users.
        let outbox = keys::outbox(t, "").pk;
        for key in dump.keys().filter(|key| key.pk == outbox) {
            assert!(resources.get(&key.sk).is_some_and(|r| r.type_name == USERS.name()), "outbox item {key} without its user");
        }
        // The seat counter counts the users.
        let users = resources.values().filter(|r| r.type_name == USERS.name()).count() as u64;
        let used = dump.get(&keys::seats(t)).and_then(|c| c.get("used")).and_then(Value::as_u64);
        assert_eq!(used, Some(users), "seat counter drift");
    }
}

/// A write to fail at every step: the request, and its expected success status.
struct Scenario {
    name: &'static str,
    method: &'static str,
    path: fn(&Fixture) -> String,
    body: fn(&Fixture) -> Option<Value>,
    status: u16,
}

fn member(id: &str) -> Value {
    json!({"value": id})
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario { name: "create user", method: "POST", path: |_| "/Users".into(), body: |_| Some(user("new")), status: 201 },
        Scenario {
            name: "create group with members",
            method: "POST",
            path: |_| "/Groups".into(),
            body: |f| Some(json!({"displayName": "G2", "members": [member(&f.users[2]), member(&f.users[3])]})),
            status: 201,
        },
        Scenario {
            name: "replace user (rename)",
            method: "PUT",
            path: |f| format!("/Users/{}", f.users[2]),
            body: |_| Some(user("renamed")),
            status: 200,
        },
        Scenario {
            name: "patch user (rename, suspend)",
            method: "PATCH",
            path: |f| format!("/Users/{}", f.users[2]),
            body: |_| {
                Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "replace", "path": "userName", "value": "patched"}, {"op": "replace", "path": "active", "value": false}]}))
            },
            status: 200,
        },
        Scenario {
            name: "member patch (add two, remove one)",
            method: "PATCH",
            path: |f| format!("/Groups/{}", f.group),
            body: |f| {
                Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
                {"op": "add", "path": "members", "value": [member(&f.users[2]), member(&f.users[3])]},
                {"op": "remove", "path": format!("members[value eq \"{}\"]", f.users[0])}]}))
            },
            status: 204,
        },
        Scenario {
            name: "replace group (members replaced)",
            method: "PUT",
            path: |f| format!("/Groups/{}", f.group),
            body: |f| Some(json!({"displayName": "G", "members": [member(&f.users[1]), member(&f.users[3])]})),
            status: 200,
        },
        Scenario {
            name: "delete user in a group",
            method: "DELETE",
            path: |f| format!("/Users/{}", f.users[1]),
            body: |_| None,
            status: 204,
        },
        Scenario { name: "delete group", method: "DELETE", path: |f| format!("/Groups/{}", f.group), body: |_| None, status: 204 },
    ]
}

#[tokio::test]
async fn a_fault_at_any_step_of_a_write_leaves_the_old_state_and_the_retry_succeeds() {
    let mut report = Vec::new();
    for scenario in scenarios() {
        let mut steps = 0;
        for step in 0u32.. {
            let fixture = Fixture::new().await;
            let (path, body) = ((scenario.path)(&fixture), (scenario.body)(&fixture));
            let before = fixture.dump().await;
            fixture.check_invariants(&before);
            let (fault, status) = if step % 2 == 0 {
                (Fault::Throttled { retry_after: Duration::from_millis(1500) }, 429)
            } else {
                (Fault::Unavailable, 503)
            };
            fixture.store.fail_after(step, 1, fault);
            let response = fixture.send_full(scenario.method, &path, body.as_ref()).await;
            if fixture.store.armed() {
                // The request made fewer than `step + 1` store calls: every step was failed.
                fixture.store.disarm();
                assert_eq!(response.status().as_u16(), scenario.status, "{}: without a fault", scenario.name);
                fixture.check_invariants(&fixture.dump().await);
                steps = step;
                break;
            }
            let what = format!("{}: fault at store call {step}", scenario.name);
            assert_eq!(response.status().as_u16(), status, "{what}: {:?}", response.body());
            let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
            assert!(retry_after.is_some_and(|s| s >= 1), "{what}: Retry-After {retry_after:?}");
            assert_eq!(response.headers()["content-type"], "application/scim+json", "{what}");
            let after = fixture.dump().await;
            fixture.check_invariants(&after);
            if after != before {
                let changed: Vec<_> = before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
                panic!("{what}: the store changed although the request failed: {changed:?}");
            }
            // Recovery: the same request now succeeds.
            let (recovered, body) = fixture.send(scenario.method, &path, body.as_ref()).await;
            assert_eq!(recovered, scenario.status, "{what}: the retry: {body}");
            fixture.check_invariants(&fixture.dump().await);
        }
        assert!(steps >= 1, "{}: a write makes store calls", scenario.name);
        report.push(format!("{}: {steps} store calls, each failed in turn", scenario.name));
    }
    eprintln!("{}", report.join("\n"));
}

/// The final state of a member PATCH after faults and retries is exactly the requested
/// one (nothing lost, nothing extra).
#[tokio::test]
async fn member_patch_retried_after_faults_ends_with_exactly_the_requested_members() {
    let fixture = Fixture::new().await;
    let path = format!("/Groups/{}", fixture.group);
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "add", "path": "members", "value": [member(&fixture.users[2]), member(&fixture.users[3])]},
        {"op": "remove", "path": "members", "value": [member(&fixture.users[0])]}]});
    for step in 0..2 {
        fixture.store.fail_after(step, 1, Fault::Unavailable);
        assert_eq!(fixture.send("PATCH", &path, Some(&body)).await.0, 503);
    }
    assert_eq!(fixture.send("PATCH", &path, Some(&body)).await.0, 204, "a member PATCH answers no content");
    let (status, group) = fixture.send("GET", &path, None).await;
    assert_eq!(status, 200);
    let mut got: Vec<&str> = group["members"].as_array().expect("members").iter().filter_map(|m| m["value"].as_str()).collect();
    got.sort_unstable();
    let mut expected = vec![fixture.users[1].as_str(), fixture.users[2].as_str(), fixture.users[3].as_str()];
    expected.sort_unstable();
    assert_eq!(got, expected);
}
