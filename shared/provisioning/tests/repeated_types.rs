//! A user with two work emails (RFC 7643 does not make `type` unique) through the
//! domain: stored as sent and found by either address, also by Entra's
//! `emails[type eq "work"].value eq` lookup through the work-email index (the item
//! indexes the primary, an alias item each other work email), and the aliases follow
//! every change and the delete.

mod common;

use common::*;
use item_store::{ItemStore, Query, SortKey};
use provisioning::USERS;
use provisioning::storage::keys;
use serde_json::json;

/// The work email alias items in the user's partition.
async fn aliases(service: &provisioning::Provisioning<Store>, tenant: &str, id: &str) -> usize {
    let query = Query::partition(keys::resource_partition(tenant, id)).sort(SortKey::Prefix("E#".into()));
    service.store().query(&query).await.expect("query").items.len()
}

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
    // Either address, by Entra's lookup and by the filter it parses to (the index: the
    // item's own key and the alias), and by `emails.value` (the listing).
    for address in ["ANNA33@gmail.com", "anna33@example.com"] {
        finds(format!("emails[type eq \"work\"].value eq \"{address}\"")).await;
        finds(format!("emails[type eq \"work\" and value eq \"{address}\"]")).await;
        finds(format!("emails.value eq \"{address}\"")).await;
        finds(format!("emails co \"{address}\"")).await;
    }
    assert_eq!(aliases(&service, &tenant.id, &id).await, 1);

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
    for lookup in ["emails.value eq \"anna33@gmail.com\"", "emails[type eq \"work\"].value eq \"anna33@example.com\""] {
        assert_eq!(service.list(&entra, &USERS, &filter(lookup)).await.unwrap().total_results, Some(0), "{lookup}");
    }
    assert_eq!(aliases(&service, &tenant.id, &id).await, 0, "the alias went with the address");

    // Three work emails: the two others are aliases; a delete removes them with the user.
    let three = json!([{"op": "replace", "path": "emails", "value": [
        {"type": "work", "value": "a@contoso.com"}, {"type": "work", "value": "b@contoso.com"}, {"type": "work", "value": "c@contoso.com"}]}]);
    service.patch(&entra, &USERS, &id, &patch(three), None).await.unwrap();
    assert_eq!(aliases(&service, &tenant.id, &id).await, 2);
    finds("emails[type eq \"work\"].value eq \"c@contoso.com\"".into()).await;
    service.delete(&entra, &USERS, &id, None).await.unwrap();
    assert_eq!(aliases(&service, &tenant.id, &id).await, 0, "deleted with the user");
    let found = service.list(&entra, &USERS, &filter("emails[type eq \"work\"].value eq \"b@contoso.com\"")).await.unwrap();
    assert_eq!(found.total_results, Some(0));
}
