//! A user with two work emails (RFC 7643 does not make `type` unique) through the
//! domain: stored as sent, found by either address, and the work-email index (gsi3,
//! one key per item) holds the primary work email, so Entra's
//! `emails[type eq "work"].value eq` lookup by it is one index read.

mod common;

use common::*;
use provisioning::USERS;
use serde_json::json;

#[tokio::test]
async fn a_user_with_two_work_emails_is_stored_found_and_patched() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let mut body = entra_user("anna");
    body["emails"] =
        json!([{"type": "work", "value": "anna33@gmail.com", "primary": true}, {"type": "work", "value": "anna33@example.com"}]);
    let created = service.create(&entra, &USERS, &body).await.unwrap();
    let id = id_of(&created.resource);
    assert_eq!(created.resource["emails"], body["emails"]);

    let finds = |text: String| {
        let service = service.clone();
        let entra = entra.clone();
        let id = id.clone();
        async move {
            let found = service.list(&entra, &USERS, &filter(&text)).await.unwrap();
            assert_eq!(found.total_results, Some(1), "{text}");
            assert_eq!(id_of(&found.resources[0]), id, "{text}");
        }
    };
    // The indexed (primary) work email, by Entra's lookup and by the filter it parses to.
    finds("emails[type eq \"work\"].value eq \"ANNA33@gmail.com\"".into()).await;
    finds("emails[type eq \"work\" and value eq \"anna33@gmail.com\"]".into()).await;
    // Either address by `emails.value` (evaluated on the listing, not the index).
    for address in ["anna33@gmail.com", "anna33@example.com"] {
        finds(format!("emails.value eq \"{address}\"")).await;
        finds(format!("emails co \"{address}\"")).await;
    }

    // Making the other work email primary moves the index to it.
    let path = "emails[type eq \"work\" and value eq \"anna33@example.com\"].primary";
    service.patch(&entra, &USERS, &id, &patch(json!([{"op": "replace", "path": path, "value": true}])), None).await.unwrap();
    finds("emails[type eq \"work\"].value eq \"anna33@example.com\"".into()).await;

    // Entra's replace of the work email sets both; they become one value.
    let replaced = service
        .patch(
            &entra,
            &USERS,
            &id,
            &patch(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}])),
            None,
        )
        .await
        .unwrap();
    assert_eq!(replaced.resource["emails"], json!([{"type": "work", "value": "new@contoso.com", "primary": true}]));
    finds("emails[type eq \"work\"].value eq \"new@contoso.com\"".into()).await;
    let gone = service.list(&entra, &USERS, &filter("emails.value eq \"anna33@gmail.com\"")).await.unwrap();
    assert_eq!(gone.total_results, Some(0));
}
