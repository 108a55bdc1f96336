//! The admin's filtered log and user list on `DynamoDbStore` against the DynamoDB test
//! server (moto, started by `./scripts/test`), as `functions/local/tests/admin_lists.rs`
//! shows them over HTTP on the embedded store: the log by record (gsi2) and by actor
//! (gsi3) with operation and outcome filters, a claim by PATCH logged as a claim with the
//! names, and users by userName prefix and source, paged.

mod common;

use aws_adapters::DynamoDbStore;
use provisioning::log::{LogFilter, LogOperation, LogOutcome};
use provisioning::mfa::UserFilter;
use provisioning::{Caller, IntegrationKind, Provisioning, Settings, Source, USERS};
use serde_json::{Value, json};

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})
}

#[tokio::test]
async fn the_log_filters_by_record_actor_operation_and_outcome_and_users_by_prefix_and_source() {
    let client = common::client();
    let table = common::create_table(&client).await;
    let service = Provisioning::new(DynamoDbStore::new(&client, table));
    let tenant = service.create_tenant("Contoso", None).await.expect("tenant").tenant;
    let admin = Caller::admin(&tenant);
    let settings = Settings { include_manual_users: true, ..Settings::default() };
    let created = service.create_integration(&admin, IntegrationKind::Scim, "Entra ID", settings).await.expect("integration");
    let entra = service.authenticate(&created.token).await.expect("token");
    let entra_id = created.integration.id.clone();

    let alice = service.create(&admin, &USERS, &user("alice@contoso.com")).await.expect("alice").resource["id"].clone();
    let alice = alice.as_str().expect("id").to_string();
    service.create(&admin, &USERS, &user("alina@contoso.com")).await.expect("alina");
    service.create(&admin, &USERS, &user("bob@contoso.com")).await.expect("bob");
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "displayName", "value": "Alice"}]});
    let claimed = service.patch(&entra, &USERS, &alice, &patch, None).await.expect("claim by PATCH");
    assert!(claimed.claimed);
    service.create(&entra, &USERS, &user("carol@contoso.com")).await.expect("carol");
    service.create(&entra, &USERS, &user("carol@contoso.com")).await.expect_err("carol again");

    let log = |filter: LogFilter| {
        let service = &service;
        let admin = &admin;
        async move { service.list_log(admin, &filter, None, 50).await.expect("log").entries }
    };
    let by_alice = log(LogFilter { resource_id: Some(alice.clone()), ..LogFilter::default() }).await;
    let ops: Vec<(LogOperation, &str)> = by_alice.iter().map(|e| (e.operation, e.actor.as_str())).collect();
    assert_eq!(ops, [(LogOperation::Claim, entra_id.as_str()), (LogOperation::Create, "admin")]);
    assert_eq!(by_alice[0].request, Some(LogOperation::Patch));
    assert_eq!(by_alice[0].integration_name.as_deref(), Some("Entra ID"));
    assert!(by_alice.iter().all(|e| e.user_name.as_deref() == Some("alice@contoso.com")), "{by_alice:?}");
    let entra_claims = log(LogFilter { actor: Some(entra_id.clone()), operation: Some(LogOperation::Claim), ..LogFilter::default() }).await;
    assert_eq!(entra_claims.len(), 1, "{entra_claims:?}");
    let failed = log(LogFilter { actor: Some(entra_id.clone()), outcome: Some(LogOutcome::Failure), ..LogFilter::default() }).await;
    assert_eq!(failed.iter().map(|e| e.user_name.as_deref()).collect::<Vec<_>>(), [Some("carol@contoso.com")]);
    let admin_creates = log(LogFilter { actor: Some("admin".into()), operation: Some(LogOperation::Create), ..LogFilter::default() }).await;
    assert_eq!(admin_creates.len(), 3);

    // Users: prefix, source, paged one at a time.
    let filter = UserFilter { user_name_prefix: Some("AL".into()), ..UserFilter::default() };
    let (first, next) = service.list_user_summaries(&admin, &filter, None, 1).await.expect("page 1");
    let (second, _) = service.list_user_summaries(&admin, &filter, next.as_deref(), 1).await.expect("page 2");
    let names: Vec<String> = first.into_iter().chain(second).map(|u| u.user_name).collect();
    assert_eq!(names, ["alice@contoso.com", "alina@contoso.com"]);
    let manual = UserFilter { source: Some(Source::Manual), ..UserFilter::default() };
    let (users, _) = service.list_user_summaries(&admin, &manual, None, 50).await.expect("manual users");
    assert_eq!(users.into_iter().map(|u| u.user_name).collect::<Vec<_>>(), ["alina@contoso.com", "bob@contoso.com"]);
}
