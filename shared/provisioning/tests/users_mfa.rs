//! MFA state through SCIM and the admin API: status, devices, manual users, deletion.

mod common;

use common::*;
use provisioning::mfa::{DeviceType, NewDevice};
use provisioning::{Source, USERS, UserStatus};
use serde_json::json;

fn phone() -> NewDevice {
    NewDevice { device_name: "iPhone".into(), device_type: DeviceType::Push, platform: "iOS".into() }
}

#[tokio::test]
async fn active_false_suspends_keeping_devices_and_active_true_restores() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let entra = scim_integration(&service, &tenant).await;
    let id = id_of(&service.create(&entra, &USERS, &entra_user("nia")).await.unwrap().resource);
    let device = service.add_device(&tenant.admin, &id, phone()).await.unwrap();
    assert_eq!(service.user_summary(&tenant.admin, &id).await.unwrap().status, UserStatus::Active);

    // PUT with active=false suspends too.
    let mut body = entra_user("nia");
    body["active"] = json!(false);
    service.replace(&entra, &USERS, &id, &body, None).await.unwrap();
    let suspended = service.user_summary(&tenant.admin, &id).await.unwrap();
    assert_eq!((suspended.status, suspended.device_count), (UserStatus::ProvisioningDisabled, 1));
    assert_eq!(service.list_devices(&tenant.admin, &id).await.unwrap(), vec![device.clone()]);

    service.patch(&entra, &USERS, &id, &patch(json!([{"op":"replace","path":"active","value":"True"}])), None).await.unwrap();
    assert_eq!(service.user_summary(&tenant.admin, &id).await.unwrap().status, UserStatus::Active);

    service.remove_device(&tenant.admin, &id, &device.device_id).await.unwrap();
    let summary = service.user_summary(&tenant.admin, &id).await.unwrap();
    assert_eq!((summary.status, summary.device_count), (UserStatus::Unenrolled, 0));
    assert!(service.remove_device(&tenant.admin, &id, &device.device_id).await.is_err());

    // Created disabled: PROVISIONING_DISABLED from the start.
    let mut disabled = entra_user("otto");
    disabled["active"] = json!("False");
    let otto = id_of(&service.create(&entra, &USERS, &disabled).await.unwrap().resource);
    assert_eq!(service.user_summary(&tenant.admin, &otto).await.unwrap().status, UserStatus::ProvisioningDisabled);
    // Integrations do not manage devices.
    assert!(service.add_device(&entra, &otto, phone()).await.is_err());
}

#[tokio::test]
async fn delete_removes_devices_and_manual_users_use_the_same_service() {
    let service = service().await;
    let tenant = tenant(&service, Some(100)).await;
    let manual = service
        .create(&tenant.admin, &USERS, &json!({"userName": "pat", "emails": [{"type": "work", "value": "pat@x.com"}]}))
        .await
        .unwrap();
    let id = id_of(&manual.resource);
    for _ in 0..3 {
        service.add_device(&tenant.admin, &id, phone()).await.unwrap();
    }
    let summary = service.user_summary(&tenant.admin, &id).await.unwrap();
    assert_eq!((summary.source, summary.device_count, summary.user_name.as_str()), (Source::Manual, 3, "pat"));
    let (listed, next) = service.list_user_summaries(&tenant.admin, &Default::default(), None, 10).await.unwrap();
    assert_eq!((listed.len(), next), (1, None));

    service.delete(&tenant.admin, &USERS, &id, None).await.unwrap();
    assert!(service.user_summary(&tenant.admin, &id).await.is_err());
    // The devices went with the user: a user re-created under the same name has none,
    // and nothing remains in the deleted user's partition.
    let page = {
        use item_store::{ItemStore, Query};
        service.store().query(&Query::partition(provisioning::storage::keys::resource_partition(&tenant.id, &id))).await.unwrap()
    };
    assert!(page.items.is_empty(), "{:?}", page.items);
    assert_eq!(service.seats(&tenant.id).await.unwrap().used, 0);
}
