//! The isolation matrix (issue 7): two tenants, each with two SCIM integrations, an EAA
//! integration and an admin key, and data (users of each integration, a group, a manual
//! user). Every route of the router (`scim_routes.rs`, `admin.rs`) is called with every
//! credential that is not the right one for it; each answer must be 401, 403 or 404 (or,
//! for a listing in the caller's own scope, a 200 that holds none of it), and no body may
//! hold an id, userName, email, name or secret of the other side that the request did not
//! itself contain. One test walks the whole matrix and reports every failing cell at once.
//!
//! What "right" means (README "SCIM", `provisioning::ownership`): a SCIM URL
//! `/scim/v2/{integration}` accepts that integration's token only (another integration's,
//! another tenant's, an admin key, an EAA integration's token: the same 401 as an unknown
//! one); through its own URL an integration without *read all users* sees and writes only
//! what it owns (another integration's records are 404, or 403 for a write). The admin API
//! accepts the tenant's admin key only, and an admin sees only its own tenant. A second
//! pass turns on *read all users* and *include manually provisioned users* for each
//! tenant's second integration: it then reads its tenant's records but still may not write
//! another integration's (403), and still sees nothing of the other tenant.

use std::sync::Arc;

use bytes::Bytes;
use embedded_store::EmbeddedStore;
use http::Request;
use provisioning::{BoxFuture, EaaConnector, EaaDirectory, EaaError, Provisioning, SyncTrigger};
use scim_http::{EaaAccess, Router};
use serde_json::{Value, json};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One tenant's credentials and data.
struct Tenant {
    name: &'static str,
    tenant: String,
    admin_key: String,
    /// Two SCIM integrations: (id, token).
    scim: [(String, String); 2],
    eaa: (String, String),
    /// Per SCIM integration: a user (id, userName, email) and a group (id, displayName).
    users: [(String, String, String); 2],
    groups: [(String, String); 2],
    manual_user: (String, String),
}

impl Tenant {
    /// Everything of this tenant that another caller must never be shown.
    fn secrets(&self) -> Vec<String> {
        let mut all = vec![self.tenant.clone(), self.admin_key.clone(), self.eaa.0.clone(), self.eaa.1.clone()];
        for (id, token) in &self.scim {
            all.extend([id.clone(), token.clone()]);
        }
        for (id, user_name, email) in &self.users {
            all.extend([id.clone(), user_name.clone(), email.clone()]);
        }
        for (id, name) in &self.groups {
            all.extend([id.clone(), name.clone()]);
        }
        all.extend([self.manual_user.0.clone(), self.manual_user.1.clone()]);
        all
    }

    /// What integration `i` owns and integration `1 - i` must not see.
    fn owned_by(&self, i: usize) -> Vec<String> {
        let (user, user_name, email) = &self.users[i];
        let (group, group_name) = &self.groups[i];
        vec![user.clone(), user_name.clone(), email.clone(), group.clone(), group_name.clone()]
    }
}

async fn send(router: &Router<EmbeddedStore>, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let mut request = Request::builder().method(method).uri(path).header("host", "api.example.com");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = router.handle(request.body(Bytes::from(body.to_string())).unwrap()).await;
    (response.status().as_u16(), String::from_utf8_lossy(response.body()).into_owned())
}

async fn expect_json(router: &Router<EmbeddedStore>, method: &str, path: &str, token: &str, body: Value, status: u16) -> Value {
    let (got, text) = send(router, method, path, Some(token), &body.to_string()).await;
    assert_eq!(got, status, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn tenant(service: &Arc<Provisioning<EmbeddedStore>>, router: &Router<EmbeddedStore>, name: &'static str) -> Tenant {
    let created = service.create_tenant(name, None).await.unwrap();
    let key = created.admin_key.clone();
    let mut scim = Vec::new();
    for i in 0..2 {
        let body = json!({"name": format!("{name} SCIM {i}")});
        let integration = expect_json(router, "POST", "/admin/v1/integrations", &key, body, 201).await;
        scim.push((integration["id"].as_str().unwrap().to_string(), integration["token"].as_str().unwrap().to_string()));
    }
    let eaa = expect_json(router, "POST", "/admin/v1/integrations", &key, json!({"name": "EAA", "kind": "EAA"}), 201).await;
    let eaa = (eaa["id"].as_str().unwrap().to_string(), eaa["token"].as_str().unwrap().to_string());
    let mut users = Vec::new();
    let mut groups = Vec::new();
    for (i, (integration, token)) in scim.iter().enumerate() {
        let user_name = format!("{name}-user{i}@{name}.test");
        let email = format!("{name}.mail{i}@{name}-mail.test");
        let body = json!({"userName": user_name, "name": {"givenName": format!("{name}Given{i}")},
            "emails": [{"type": "work", "value": email, "primary": true}]});
        let user = expect_json(router, "POST", &format!("/scim/v2/{integration}/Users"), token, body, 201).await;
        let user_id = user["id"].as_str().unwrap().to_string();
        let group_name = format!("{name} Team {i}");
        let body = json!({"displayName": group_name, "members": [{"value": user_id}]});
        let group = expect_json(router, "POST", &format!("/scim/v2/{integration}/Groups"), token, body, 201).await;
        users.push((user_id, user_name, email));
        groups.push((group["id"].as_str().unwrap().to_string(), group_name));
    }
    let manual_name = format!("{name}-manual@{name}.test");
    let manual = expect_json(router, "POST", "/admin/v1/users", &key, json!({"userName": manual_name}), 201).await;
    Tenant {
        name,
        tenant: created.tenant,
        admin_key: key,
        scim: [scim[0].clone(), scim[1].clone()],
        eaa,
        users: [users[0].clone(), users[1].clone()],
        groups: [groups[0].clone(), groups[1].clone()],
        manual_user: (manual["id"].as_str().unwrap().to_string(), manual_name),
    }
}

/// One request of the matrix and what it may answer.
struct Cell {
    label: String,
    method: &'static str,
    path: String,
    credential: String,
    token: Option<String>,
    body: String,
    /// The statuses allowed; the victim's data must be absent whatever the status.
    allowed: &'static [u16],
    /// What must not appear in the answer (less what the request itself holds).
    forbidden: Vec<String>,
}

const REFUSED: &[u16] = &[401];
const HIDDEN: &[u16] = &[401, 403, 404];
/// A listing or search in the caller's own scope: answered, without the other's data.
const OWN_LISTING: &[u16] = &[200];
/// A write to the caller's own record naming another's (a member): refused or done
/// without showing the other's data.
const OWN_WRITE: &[u16] = &[200, 400, 403, 404];

fn patch_member(id: &str) -> String {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}).to_string()
}

fn patch_name() -> String {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}).to_string()
}

/// Every SCIM route under `base`, with the victim's ids where a route takes one.
fn scim_routes(base: &str, user: &str, group: &str, user_name: &str, group_name: &str) -> Vec<(&'static str, String, String)> {
    let search = |filter: String| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter}).to_string();
    let replace_user = json!({"userName": user_name}).to_string();
    let replace_group = json!({"displayName": group_name}).to_string();
    vec![
        ("GET", format!("{base}/Users"), String::new()),
        ("GET", format!("{base}/Users?filter=userName+eq+%22{}%22", user_name), String::new()),
        ("GET", format!("{base}/Users?filter=id+eq+%22{user}%22"), String::new()),
        ("POST", format!("{base}/Users"), json!({"userName": "intruder@x.test"}).to_string()),
        ("GET", format!("{base}/Users/{user}"), String::new()),
        ("PUT", format!("{base}/Users/{user}"), replace_user),
        ("PATCH", format!("{base}/Users/{user}"), patch_name()),
        ("DELETE", format!("{base}/Users/{user}"), String::new()),
        ("POST", format!("{base}/Users/.search"), search(format!("userName eq \"{user_name}\""))),
        ("GET", format!("{base}/Groups"), String::new()),
        ("GET", format!("{base}/Groups?filter=displayName+eq+%22{}%22", group_name.replace(' ', "+")), String::new()),
        ("POST", format!("{base}/Groups"), json!({"displayName": "intruders"}).to_string()),
        ("GET", format!("{base}/Groups/{group}"), String::new()),
        ("PUT", format!("{base}/Groups/{group}"), replace_group),
        ("PATCH", format!("{base}/Groups/{group}"), patch_member(user)),
        ("DELETE", format!("{base}/Groups/{group}"), String::new()),
        ("POST", format!("{base}/Groups/.search"), search(format!("members.value eq \"{user}\""))),
        ("POST", format!("{base}/.search"), search("id pr".into())),
        ("GET", format!("{base}/ServiceProviderConfig"), String::new()),
        ("GET", format!("{base}/ResourceTypes"), String::new()),
        ("GET", format!("{base}/ResourceTypes/User"), String::new()),
        ("GET", format!("{base}/Schemas"), String::new()),
        ("GET", format!("{base}/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"), String::new()),
    ]
}

/// Every admin route, with the victim's ids where a route takes one.
fn admin_routes(victim: &Tenant) -> Vec<(&'static str, String, String)> {
    let (user, ..) = &victim.users[0];
    let (integration, _) = &victim.scim[0];
    vec![
        ("GET", "/admin/v1/integrations".into(), String::new()),
        ("POST", "/admin/v1/integrations".into(), json!({"name": "intruder"}).to_string()),
        ("GET", format!("/admin/v1/integrations/{integration}"), String::new()),
        ("PATCH", format!("/admin/v1/integrations/{integration}"), json!({"settings": {"readAllUsers": true}}).to_string()),
        ("POST", format!("/admin/v1/integrations/{integration}/token"), String::new()),
        ("DELETE", format!("/admin/v1/integrations/{integration}?users=delete"), String::new()),
        ("DELETE", format!("/admin/v1/integrations/{integration}"), String::new()),
        ("POST", format!("/admin/v1/integrations/{integration}/move-users"), json!({"source": {"type": "manual"}}).to_string()),
        ("PATCH", format!("/admin/v1/users/{user}"), json!({"source": {"type": "manual"}}).to_string()),
        ("GET", "/admin/v1/tenant".into(), String::new()),
        ("GET", format!("/admin/v1/integrations/{}", victim.eaa.0), String::new()),
        ("GET", "/admin/v1/users".into(), String::new()),
        ("POST", "/admin/v1/users".into(), json!({"userName": "intruder@x.test"}).to_string()),
        ("GET", format!("/admin/v1/users/{user}"), String::new()),
        ("GET", format!("/admin/v1/users/{}", victim.manual_user.0), String::new()),
        ("GET", format!("/admin/v1/users/{user}/devices"), String::new()),
        ("DELETE", format!("/admin/v1/users/{}", victim.manual_user.0), String::new()),
        ("POST", "/admin/v1/email-enrollments".into(), json!({"userIds": [user, victim.manual_user.0]}).to_string()),
        ("GET", "/admin/v1/log".into(), String::new()),
        ("GET", "/admin/v1/eaa".into(), String::new()),
        ("PUT", "/admin/v1/eaa".into(), json!({"credentialsRef": "intruder"}).to_string()),
        ("GET", "/admin/v1/eaa/directories".into(), String::new()),
        ("POST", "/admin/v1/eaa/directories/d1".into(), String::new()),
        ("GET", "/admin/v1/eaa/directories/d1/groups".into(), String::new()),
        ("POST", "/admin/v1/eaa/directories/d1/groups/g1".into(), String::new()),
        ("DELETE", "/admin/v1/eaa/directories/d1".into(), String::new()),
        ("DELETE", "/admin/v1/eaa/directories/d1/groups/g1".into(), String::new()),
        ("GET", "/admin/v1/eaa/sync".into(), String::new()),
        ("POST", "/admin/v1/eaa/sync".into(), String::new()),
    ]
}

/// Admin routes a tenant's own admin may call (answered within its own tenant) even when
/// the request names nothing of the other tenant.
fn own_scope_admin(method: &str, path: &str) -> bool {
    !path.contains("/integrations/") && !path.contains("/users/") || (method == "POST" && path == "/admin/v1/integrations")
}

fn cells(victim: &Tenant, other: &Tenant) -> Vec<Cell> {
    let mut cells = Vec::new();
    let victim_secrets = victim.secrets();
    // Credentials that are never right for the victim's SCIM URL (integration 0's).
    let mut wrong_scim: Vec<(String, Option<String>)> = vec![
        (format!("{} SCIM 1 token (same tenant, other integration)", victim.name), Some(victim.scim[1].1.clone())),
        (format!("{} EAA token", victim.name), Some(victim.eaa.1.clone())),
        (format!("{} admin key", victim.name), Some(victim.admin_key.clone())),
        ("no token".into(), None),
        ("unknown token".into(), Some("scim_0000".into())),
    ];
    for i in 0..2 {
        wrong_scim.push((format!("{} SCIM {i} token", other.name), Some(other.scim[i].1.clone())));
    }
    wrong_scim.push((format!("{} admin key", other.name), Some(other.admin_key.clone())));
    let (user, user_name, _) = &victim.users[0];
    let (group, group_name) = &victim.groups[0];
    let victim_base = format!("/scim/v2/{}", victim.scim[0].0);
    for (credential, token) in &wrong_scim {
        for (method, path, body) in scim_routes(&victim_base, user, group, user_name, group_name) {
            cells.push(Cell {
                label: format!("{method} {path}"),
                method,
                path,
                credential: credential.clone(),
                token: token.clone(),
                body,
                allowed: REFUSED,
                forbidden: victim_secrets.clone(),
            });
        }
    }
    // The right token at its own URL, naming what another integration owns: the same
    // tenant's other integration (no read-all) and the other tenant's integrations.
    let mut own_urls: Vec<(String, String, String, Vec<String>)> = vec![(
        format!("{} SCIM 1 at its own URL", victim.name),
        format!("/scim/v2/{}", victim.scim[1].0),
        victim.scim[1].1.clone(),
        victim.owned_by(0),
    )];
    for i in 0..2 {
        own_urls.push((
            format!("{} SCIM {i} at its own URL", other.name),
            format!("/scim/v2/{}", other.scim[i].0),
            other.scim[i].1.clone(),
            victim_secrets.clone(),
        ));
    }
    for (credential, base, token, forbidden) in own_urls {
        for (method, path, body) in scim_routes(&base, user, group, user_name, group_name) {
            let rest = path.strip_prefix(&base).unwrap_or(&path);
            let allowed = if rest.contains(user.as_str()) && rest.starts_with("/Users/") || rest.starts_with(&format!("/Groups/{group}")) {
                HIDDEN
            } else if method == "POST" && !rest.contains(".search") {
                // Creating one's own resource is allowed (409 when an earlier cell of the
                // same tenant made it); it must show nothing of the other.
                &[201, 409]
            } else {
                OWN_LISTING
            };
            cells.push(Cell {
                label: format!("{method} {path}"),
                method,
                path,
                credential: credential.clone(),
                token: Some(token.clone()),
                body,
                allowed,
                forbidden: forbidden.clone(),
            });
        }
        // The caller's own group, with the other's user added as a member.
        let (own_group, _) = if base.ends_with(&victim.scim[1].0) {
            victim.groups[1].clone()
        } else {
            let i = if base.ends_with(&other.scim[0].0) { 0 } else { 1 };
            other.groups[i].clone()
        };
        cells.push(Cell {
            label: format!("PATCH own group adding {user} as a member"),
            method: "PATCH",
            path: format!("{base}/Groups/{own_group}"),
            credential: credential.clone(),
            token: Some(token.clone()),
            body: patch_member(user),
            allowed: OWN_WRITE,
            forbidden: forbidden.clone(),
        });
    }
    // Admin routes: every credential but the victim's admin key is refused; the other
    // tenant's admin key sees its own tenant only.
    let mut wrong_admin: Vec<(String, Option<String>)> = vec![("no token".into(), None), ("unknown token".into(), Some("adm_0000".into()))];
    for i in 0..2 {
        wrong_admin.push((format!("{} SCIM {i} token", victim.name), Some(victim.scim[i].1.clone())));
        wrong_admin.push((format!("{} SCIM {i} token", other.name), Some(other.scim[i].1.clone())));
    }
    wrong_admin.push((format!("{} EAA token", victim.name), Some(victim.eaa.1.clone())));
    for (credential, token) in &wrong_admin {
        for (method, path, body) in admin_routes(victim) {
            cells.push(Cell {
                label: format!("{method} {path}"),
                method,
                path,
                credential: credential.clone(),
                token: token.clone(),
                body,
                allowed: REFUSED,
                forbidden: victim_secrets.clone(),
            });
        }
    }
    // The other admin's own log lists its tenant's failed attempts on the ids sent in the
    // cells above (its own input, not the victim's data): those are allowed there.
    let sent: String = cells
        .iter()
        .map(|cell| format!("{} {}", cell.path, cell.body))
        .chain(admin_routes(victim).into_iter().map(|(_, path, body)| path + &body))
        .collect();
    let unsent: Vec<String> = victim_secrets.iter().filter(|secret| !sent.contains(secret.as_str())).cloned().collect();
    for (method, path, body) in admin_routes(victim) {
        let forbidden = if path == "/admin/v1/log" { unsent.clone() } else { victim_secrets.clone() };
        let allowed: &'static [u16] = if own_scope_admin(method, &path) {
            match (method, path.as_str()) {
                ("POST", "/admin/v1/integrations" | "/admin/v1/users") => &[201, 409],
                ("POST", "/admin/v1/eaa/sync") => &[202],
                // EAA itself is unreachable in this test: its own integration's state
                // decides between "no credentials yet", "not associated" and "EAA down".
                ("GET" | "POST", p) if p.starts_with("/admin/v1/eaa/directories") => &[404, 409, 503],
                // A reference is checked against the credentials store when set, and this
                // test's store of credentials is unreachable too.
                ("PUT", "/admin/v1/eaa") => &[503],
                ("DELETE", _) => &[404],
                _ => OWN_LISTING,
            }
        } else {
            HIDDEN
        };
        cells.push(Cell {
            label: format!("{method} {path}"),
            method,
            path,
            credential: format!("{} admin key", other.name),
            token: Some(other.admin_key.clone()),
            body,
            allowed,
            forbidden,
        });
    }
    cells
}

/// Cells once the second integrations read all users (see the test).
fn switched_cells(victim: &Tenant, other: &Tenant) -> Vec<Cell> {
    let (user, user_name, _) = &victim.users[0];
    let (group, group_name) = &victim.groups[0];
    let mut cells = Vec::new();
    // The victim's own second integration: reads allowed, writes to integration 0's
    // records refused (403), whatever the switches.
    let base = format!("/scim/v2/{}", victim.scim[1].0);
    for (method, path, body) in scim_routes(&base, user, group, user_name, group_name) {
        let rest = path.strip_prefix(&base).unwrap_or(&path).to_string();
        let names_record = rest.starts_with(&format!("/Users/{user}")) || rest.starts_with(&format!("/Groups/{group}"));
        if !names_record || method == "GET" {
            continue;
        }
        cells.push(Cell {
            label: format!("{method} {path}"),
            method,
            path,
            credential: format!("{} SCIM 1 (read all, include manual) at its own URL", victim.name),
            token: Some(victim.scim[1].1.clone()),
            body,
            allowed: &[403],
            forbidden: vec![victim.scim[0].1.clone(), victim.admin_key.clone()],
        });
    }
    let taken = json!({"userName": user_name}).to_string();
    cells.push(Cell {
        label: format!("POST {base}/Users claiming {user_name}"),
        method: "POST",
        path: format!("{base}/Users"),
        credential: format!("{} SCIM 1 (read all, include manual) at its own URL", victim.name),
        token: Some(victim.scim[1].1.clone()),
        body: taken,
        allowed: &[409],
        forbidden: vec![],
    });
    // The other tenant's second integration, reading all of its own tenant: nothing of
    // the victim's.
    let base = format!("/scim/v2/{}", other.scim[1].0);
    for (method, path, body) in scim_routes(&base, user, group, user_name, group_name) {
        let rest = path.strip_prefix(&base).unwrap_or(&path).to_string();
        let allowed: &'static [u16] = if rest.starts_with(&format!("/Users/{user}")) || rest.starts_with(&format!("/Groups/{group}")) {
            HIDDEN
        } else if method == "POST" && !rest.contains(".search") {
            continue;
        } else {
            OWN_LISTING
        };
        cells.push(Cell {
            label: format!("{method} {path}"),
            method,
            path,
            credential: format!("{} SCIM 1 (read all) at its own URL", other.name),
            token: Some(other.scim[1].1.clone()),
            body,
            allowed,
            forbidden: victim.secrets(),
        });
    }
    cells
}

/// Sends every cell; records each failing one in `failures`; returns how many ran.
async fn run(router: &Router<EmbeddedStore>, victim: &str, cells: Vec<Cell>, failures: &mut Vec<String>) -> usize {
    let count = cells.len();
    for cell in cells {
        let (status, body) = send(router, cell.method, &cell.path, cell.token.as_deref(), &cell.body).await;
        let mut problems = Vec::new();
        if !cell.allowed.contains(&status) {
            problems.push(format!("status {status}, expected one of {:?}", cell.allowed));
        }
        for secret in &cell.forbidden {
            if body.contains(secret.as_str()) && !cell.path.contains(secret.as_str()) && !cell.body.contains(secret.as_str()) {
                problems.push(format!("the answer holds {secret:?}"));
            }
        }
        if status >= 400 && !body.contains("urn:ietf:params:scim:api:messages:2.0:Error") {
            problems.push("not a SCIM error body".into());
        }
        if !problems.is_empty() {
            let short: String = body.chars().take(300).collect();
            failures.push(format!("[{victim}] {} as {}: {} — {short}", cell.label, cell.credential, problems.join("; ")));
        }
    }
    count
}

#[tokio::test]
async fn no_credential_reaches_another_tenant_or_integration() {
    let dir = tempfile::tempdir().unwrap();
    let service = Arc::new(Provisioning::new(EmbeddedStore::open(dir.path().join("items.redb")).unwrap()));
    let router = Router::new(Arc::clone(&service)).with_eaa(EaaAccess { connector: Arc::new(Unreachable), trigger: Arc::new(Unreachable) });
    let a = tenant(&service, &router, "alpha").await;
    let b = tenant(&service, &router, "bravo").await;

    let mut failures = Vec::new();
    let mut count = 0;
    for (victim, other) in [(&a, &b), (&b, &a)] {
        count += run(&router, victim.name, cells(victim, other), &mut failures).await;
    }
    // The same with *read all users* and *include manually provisioned users* on for each
    // tenant's second integration: it now reads its tenant's records, still writes none
    // that another integration owns, and still sees nothing of the other tenant.
    for t in [&a, &b] {
        let path = format!("/admin/v1/integrations/{}", t.scim[1].0);
        let body = json!({"settings": {"readAllUsers": true, "includeManualUsers": true}});
        expect_json(&router, "PATCH", &path, &t.admin_key, body, 200).await;
    }
    for (victim, other) in [(&a, &b), (&b, &a)] {
        count += run(&router, victim.name, switched_cells(victim, other), &mut failures).await;
    }
    assert!(count > 900, "the matrix has {count} cells");
    assert!(failures.is_empty(), "{} of {count} cells failed:\n{}", failures.len(), failures.join("\n"));

    // Nothing was changed by the matrix: every record is still there, as its owner sees it.
    for t in [&a, &b] {
        for i in 0..2 {
            let base = format!("/scim/v2/{}", t.scim[i].0);
            let (status, text) = send(&router, "GET", &format!("{base}/Users/{}", t.users[i].0), Some(&t.scim[i].1), "").await;
            assert_eq!(status, 200, "{text}");
            assert!(text.contains(&t.users[i].1));
            let (status, text) = send(&router, "GET", &format!("{base}/Groups/{}", t.groups[i].0), Some(&t.scim[i].1), "").await;
            assert_eq!(status, 200, "{text}");
            assert!(text.contains(&t.groups[i].1), "{text}");
        }
        let (status, _) = send(&router, "GET", &format!("/admin/v1/users/{}", t.manual_user.0), Some(&t.admin_key), "").await;
        assert_eq!(status, 200);
    }
}

/// EAA that never answers, and a sync start that always succeeds: the matrix is about who
/// may reach which tenant's configuration, not about EAA.
struct Unreachable;

impl EaaConnector for Unreachable {
    fn connect<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Box<dyn EaaDirectory>, EaaError>> {
        Box::pin(async { Err(EaaError::Unavailable("EAA is not reachable from this test".into())) })
    }
}

impl SyncTrigger for Unreachable {
    fn trigger<'a>(&'a self, _: &'a str, _: &'a str, _: u32) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Ok(()) })
    }
}
