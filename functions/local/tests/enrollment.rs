//! The enrollment flow over real HTTP against the real `scim-local` binary: provision a
//! user over SCIM, find the email the local mailer wrote into `<data dir>/outbox`, follow
//! its link, enroll a device, and see the user `ACTIVE`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{Http, Server};
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// The `.eml` files in the outbox folder, waiting (bounded) until there are `count`.
fn wait_for_emails(outbox: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut emails: Vec<String> = std::fs::read_dir(outbox)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .filter_map(|p| std::fs::read_to_string(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        if emails.len() >= count {
            emails.sort();
            return emails;
        }
        assert!(Instant::now() < deadline, "no enrollment email appeared in {}", outbox.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The enrollment link in an `.eml` file's text part (bodies are base64).
fn link(eml: &str) -> String {
    let text = eml
        .split("\r\n\r\n")
        .filter_map(|block| {
            let encoded: String = block.split("\r\n--").next()?.split_whitespace().collect();
            String::from_utf8(STANDARD.decode(encoded).ok()?).ok()
        })
        .find(|text| text.contains("/enroll/"))
        .expect("a body part with the link");
    let start = text.find("http://").expect("the link");
    text[start..].split(|c: char| c.is_whitespace() || c == '"' || c == '<').next().expect("link").to_string()
}

fn user(user_name: &str, email: Option<&str>) -> Value {
    let mut user = json!({"schemas": [USER_SCHEMA], "userName": user_name, "active": true, "displayName": "Alice Example"});
    if let Some(email) = email {
        user["emails"] = json!([{"primary": true, "type": "work", "value": email}]);
    }
    user
}

#[tokio::test(flavor = "multi_thread")]
async fn provisioned_user_enrolls_a_device_through_the_emailed_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let log_file = dir.path().join("server.log");
    let server = Server::start_logging(&data, Some(&log_file));
    let http = Http::new();
    let token = &server.credentials.scim_token;
    let admin_key = &server.credentials.admin_key;

    let created =
        http.send("POST", &format!("{}/Users", server.scim()), token, Some(user("alice@contoso.test", Some("alice@contoso.test")))).await;
    let user_id = created.expect(201)["id"].as_str().expect("id").to_string();

    let outbox = data.join("outbox");
    let emails = wait_for_emails(&outbox, 1);
    assert!(emails[0].contains("To: alice@contoso.test\r\n"), "{}", emails[0]);
    let url = link(&emails[0]);
    assert!(url.starts_with(&format!("{}/enroll/", server.origin)), "{url}");
    // The email's link enrolls a device, the store holds token hashes: owner-only, like
    // credentials.json.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
        for entry in std::fs::read_dir(&outbox).expect("outbox") {
            let path = entry.expect("entry").path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        assert_eq!(mode(&outbox), 0o700);
        assert_eq!(mode(&data.join("items.redb")), 0o600);
        assert_eq!(mode(&data.join("credentials.json")), 0o600);
    }

    // No Authorization header: the link is the credential.
    let info = http.raw("GET", &url, None, &[], Bytes::new()).await;
    let info = info.expect(200);
    assert_eq!((info["userId"].as_str(), info["userName"].as_str()), (Some(user_id.as_str()), Some("alice@contoso.test")));
    assert_eq!(info["displayName"], "Alice Example");

    let device = Bytes::from(json!({"deviceName": "Alice's phone", "deviceType": "PUSH", "platform": "iOS"}).to_string());
    let enrolled = http.raw("POST", &url, None, &[("content-type", "application/json")], device.clone()).await;
    assert_eq!(enrolled.expect(201)["deviceName"], "Alice's phone");

    let summary = http.get(&format!("{}/users/{user_id}", server.admin()), admin_key).await;
    let summary = summary.expect(200);
    assert_eq!((summary["status"].as_str(), summary["deviceCount"].as_u64()), (Some("ACTIVE"), Some(1)));

    // The link works once.
    let again = http.raw("POST", &url, None, &[], device).await;
    again.expect_error(410, None);
    assert_eq!(again.body["code"], "usedLink");
    http.raw("GET", &url, None, &[], Bytes::new()).await.expect_error(410, None);

    // A user without an address gets no email, and the log says why.
    let created = http.send("POST", &format!("{}/Users", server.scim()), token, Some(user("bob@contoso.test", None))).await;
    let bob = created.expect(201)["id"].as_str().expect("id").to_string();
    let log = http.get(&format!("{}/log", server.admin()), admin_key).await;
    let entries = log.expect(200)["entries"].as_array().expect("entries").clone();
    let entry = entries.iter().find(|e| e["resourceId"] == bob.as_str()).expect("a log entry for bob");
    assert_eq!(entry["detail"], "no enrollment email: user has no email address");
    // Give the mailer a few passes: still only Alice's email.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(wait_for_emails(&outbox, 1).len(), 1);

    assert!(server.stop("TERM").success());
    // Even at trace level, the link's token never reaches the log.
    let token = url.rsplit('/').next().expect("token");
    let text = std::fs::read_to_string(&log_file).expect("log");
    assert!(text.contains("/enroll/{token}"), "the log has the enroll requests");
    assert!(!text.contains(token), "the enrollment token reached the log");
}
