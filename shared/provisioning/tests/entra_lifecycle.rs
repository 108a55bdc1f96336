//! Entra's whole user lifecycle, as docs/ENTRA.md §2 describes it.

mod common;

use common::*;
use provisioning::{USERS, UserStatus};
use serde_json::json;

#[tokio::test]
async fn entra_user_lifecycle_from_match_query_to_delete() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;

    // Test Connection / match query on a user that does not exist: 200, empty.
    let empty = service.list(&entra, &USERS, &filter("userName eq \"alice@contoso.com\"")).await.unwrap();
    assert_eq!(empty.total_results, Some(0));
    assert!(empty.resources.is_empty());
    assert_eq!(
        empty.to_json(),
        json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0})
    );

    let created = service.create(&entra, &USERS, &entra_user("alice@contoso.com")).await.unwrap();
    assert!(created.created && !created.claimed);
    let id = id_of(&created.resource);
    assert_eq!(created.resource["meta"]["resourceType"], "User");
    assert_eq!(created.resource["meta"]["version"], "W/\"1\"");
    assert!(created.resource["meta"]["created"].is_string());
    assert_eq!(service.user_summary(&tenant.admin, &id).await.unwrap().status, UserStatus::Unenrolled);

    // The match query, in another case, finds it.
    let found = service.list(&entra, &USERS, &filter("userName eq \"ALICE@contoso.com\"")).await.unwrap();
    assert_eq!(found.total_results, Some(1));
    assert_eq!(id_of(&found.resources[0]), id);

    // Soft delete in Entra: PATCH active=false (string boolean, capitalised op).
    let disabled =
        service.patch(&entra, &USERS, &id, &patch(json!([{"op":"Replace","path":"active","value":"False"}])), None).await.unwrap();
    assert_eq!(disabled.resource["active"], false);
    assert_eq!(disabled.version, 2);
    assert_eq!(service.user_summary(&tenant.admin, &id).await.unwrap().status, UserStatus::ProvisioningDisabled);

    // Still found, with active false, by GET and by filter.
    let got = service.get(&entra, &USERS, &id, &all_attributes()).await.unwrap();
    assert_eq!(got["active"], false);
    let still = service.list(&entra, &USERS, &filter("userName eq \"alice@contoso.com\"")).await.unwrap();
    assert_eq!(still.resources[0]["active"], false);

    // Re-assigned: active=true (the flagged dialect).
    let enabled = service.patch(&entra, &USERS, &id, &patch(json!([{"op":"replace","path":"active","value":true}])), None).await.unwrap();
    assert_eq!(enabled.resource["active"], true);
    assert_eq!(service.user_summary(&tenant.admin, &id).await.unwrap().status, UserStatus::Unenrolled);

    // Hard delete: 204, then 404 on GET and on DELETE again, and the match query is empty.
    service.delete(&entra, &USERS, &id, None).await.unwrap();
    assert_eq!(service.get(&entra, &USERS, &id, &all_attributes()).await.unwrap_err().to_scim().status, 404);
    assert_eq!(service.delete(&entra, &USERS, &id, None).await.unwrap_err().to_scim().status, 404);
    let gone = service.list(&entra, &USERS, &filter("userName eq \"alice@contoso.com\"")).await.unwrap();
    assert_eq!(gone.total_results, Some(0));
    // The name is free again.
    service.create(&entra, &USERS, &entra_user("alice@contoso.com")).await.unwrap();
}

#[tokio::test]
async fn entra_queries_by_external_id_email_and_id_and_path_less_patch() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let id = id_of(&service.create(&entra, &USERS, &entra_user("bob")).await.unwrap().resource);
    service.create(&entra, &USERS, &entra_user("carol")).await.unwrap();

    for text in [
        "externalId eq \"ext-bob\"",
        "externalId eq ext-bob",
        "emails[type eq \"work\"].value eq \"BOB@contoso.com\"",
        "emails.value eq \"bob@contoso.com\"",
        &format!("id eq \"{id}\" and userName eq \"bob\""),
        "userName sw \"b\"",
    ] {
        let found = service.list(&entra, &USERS, &filter(text)).await.unwrap();
        assert_eq!(found.total_results, Some(1), "{text}");
        assert_eq!(id_of(&found.resources[0]), id, "{text}");
    }
    let with_attributes = service.list(&entra, &USERS, &query(&[("filter", "userName eq \"bob\""), ("attributes", "id")])).await.unwrap();
    assert_eq!(with_attributes.resources[0]["id"], id.as_str());
    assert!(with_attributes.resources[0].get("userName").is_none(), "attributes=id projects the rest away");

    let body = patch(json!([{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","userName":"robert"}}]));
    let patched = service.patch(&entra, &USERS, &id, &body, None).await.unwrap();
    assert_eq!(patched.resource["name"]["givenName"], "Kkom");
    assert_eq!(patched.resource["userName"], "robert");
    // The rename moved the uniqueness claim: the old name is free, the new one taken.
    assert_eq!(service.list(&entra, &USERS, &filter("userName eq \"bob\"")).await.unwrap().total_results, Some(0));
    service.create(&entra, &USERS, &entra_user("bob")).await.unwrap();
    let clash = service.create(&entra, &USERS, &entra_user("Robert")).await.unwrap_err().to_scim();
    assert_eq!((clash.status, clash.scim_type), (409, Some(scim::ScimType::Uniqueness)));
}
