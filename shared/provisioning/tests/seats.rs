//! Seats as the admin sees them: used against the limit, counts by source and status, the
//! log at 80% and 100%, a refusal that says who raises the limit; a suspended user holds
//! a seat, a deleted one frees it.

mod common;

use common::*;
use provisioning::log::LogOperation;
use provisioning::{Source, USERS, UserStatus};
use serde_json::json;

#[tokio::test]
async fn seats_are_shown_logged_at_80_and_100_percent_and_refused_with_who_raises_the_limit() {
    let service = service().await;
    let tenant = tenant(&service, Some(5)).await;
    let entra = scim_integration(&service, &tenant).await;
    let entra_id = entra.actor_name().to_string();
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(id_of(&service.create(&entra, &USERS, &entra_user(&format!("u{n}"))).await.expect("create").resource));
    }
    let seat_entries = |entries: Vec<provisioning::log::LogEntry>| {
        entries.into_iter().filter(|e| e.operation == LogOperation::Seats).filter_map(|e| e.detail).collect::<Vec<_>>()
    };
    let log = seat_entries(service.list_log(&tenant.admin, &Default::default(), None, 100).await.expect("log").entries);
    assert_eq!(log, ["seat usage reached 80% of the limit: 4 of 5 seats used"]);

    // A suspended user holds its seat.
    let suspend = patch(json!([{"op": "replace", "path": "active", "value": "False"}]));
    service.patch(&entra, &USERS, &ids[0], &suspend, None).await.expect("suspend");
    service.create(&tenant.admin, &USERS, &json!({"userName": "manual"})).await.expect("the fifth seat");
    let refused = service.create(&entra, &USERS, &entra_user("sixth")).await.expect_err("no seat left").to_scim();
    assert_eq!(refused.status, 409);
    assert!(refused.detail.contains("operator") && refused.detail.contains("--seat-limit"), "{}", refused.detail);
    assert!(!refused.detail.contains("tenant administrator"), "the admin cannot raise it: {}", refused.detail);
    let log = seat_entries(service.list_log(&tenant.admin, &Default::default(), None, 100).await.expect("log").entries);
    assert_eq!(log.first().map(String::as_str), Some("seat usage reached 100% of the limit: 5 of 5 seats used"), "{log:?}");

    let overview = service.tenant_overview(&tenant.admin).await.expect("overview");
    assert_eq!((overview.name.as_str(), overview.seats_used, overview.seat_limit), ("Contoso", 5, Some(5)));
    assert_eq!(overview.by_source.get(&Source::Integration(entra_id.clone())), Some(&4));
    assert_eq!(overview.by_source.get(&Source::Manual), Some(&1));
    assert_eq!(overview.by_status.get(&UserStatus::ProvisioningDisabled), Some(&1));
    assert_eq!(overview.by_status.get(&UserStatus::Unenrolled), Some(&4));
    assert!(overview.counts_complete);

    // A deleted user frees its seat.
    service.delete(&entra, &USERS, &ids[0], None).await.expect("delete");
    assert_eq!(service.tenant_overview(&tenant.admin).await.expect("overview").seats_used, 4);
    service.create(&entra, &USERS, &entra_user("sixth")).await.expect("a freed seat");

    // Without a limit, `used` is the user count.
    let unlimited = common::tenant(&service, None).await;
    service.create(&unlimited.admin, &USERS, &json!({"userName": "one"})).await.expect("create");
    let overview = service.tenant_overview(&unlimited.admin).await.expect("overview");
    assert_eq!((overview.seats_used, overview.seat_limit), (1, None));
}
