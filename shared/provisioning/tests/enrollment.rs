//! Enrollment emails: queued in the create's transaction, exactly once, visible when
//! impossible.

mod common;

use common::*;
use provisioning::enrollment::EnrollmentEmail;
use provisioning::{Settings, USERS};
use serde_json::json;

#[tokio::test]
async fn new_users_with_an_address_get_one_email_and_others_are_marked() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let (mailing, _) = integration(&service, &tenant, Settings { send_enrollment_emails: true, ..Settings::default() }).await;
    let silent = scim_integration(&service, &tenant).await;
    let store = service.store();

    store.take();
    let id = id_of(&service.create(&mailing, &USERS, &entra_user("rae")).await.unwrap().resource);
    let counts = store.take();
    assert_eq!(counts.transact, 1, "the outbox item rides in the create's transaction: {counts:?}");
    // Entra's retried POST is a 409 and queues nothing more.
    assert_eq!(service.create(&mailing, &USERS, &entra_user("rae")).await.unwrap_err().to_scim().status, 409);
    let no_address = id_of(&service.create(&mailing, &USERS, &json!({"userName": "sam"})).await.unwrap().resource);
    service.create(&silent, &USERS, &entra_user("tia")).await.unwrap();

    let pending = service.pending_emails(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].user_id.as_str(), pending[0].email.as_str()), (id.as_str(), "rae@contoso.com"));
    assert_eq!(service.user_summary(&tenant.admin, &id).await.unwrap().enrollment_email, Some(EnrollmentEmail::Queued));
    assert_eq!(service.user_summary(&tenant.admin, &no_address).await.unwrap().enrollment_email, Some(EnrollmentEmail::NoEmailAddress));

    assert!(service.mark_email_sent(&pending[0]).await.unwrap());
    assert!(!service.mark_email_sent(&pending[0]).await.unwrap(), "a second mark must not send again");
    assert!(service.pending_emails(10).await.unwrap().is_empty());

    // A claimed manual user is not new: no email.
    let claiming = Settings { send_enrollment_emails: true, include_manual_users: true, ..Settings::default() };
    let (claimer, _) = integration(&service, &tenant, claiming).await;
    service.create(&tenant.admin, &USERS, &json!({"userName": "uma", "emails": [{"value": "uma@x.com"}]})).await.unwrap();
    assert!(service.create(&claimer, &USERS, &entra_user("uma")).await.unwrap().claimed);
    assert!(service.pending_emails(10).await.unwrap().is_empty());
}
