//! Every combination of the two switches x record source x operation (DESIGN.md,
//! "Per-integration settings"), through the generic service.

mod common;

use common::*;
use provisioning::{Caller, GROUPS, Settings, Source, USERS};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Manual,
    Own,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    CreateCollision,
    Replace,
    Patch,
    NoOpPatch,
    Delete,
}

/// What the caller should get: a status, and whether the record ends up claimed.
fn expected(include_manual: bool, read_all: bool, owner: Owner, op: Op) -> (u16, bool) {
    use Op::*;
    use Owner::*;
    match (owner, op) {
        (Own, CreateCollision) => (409, false),
        (Own, Delete) => (204, false),
        (Own, _) => (200, false),
        (Manual, CreateCollision) => {
            if include_manual {
                (201, true)
            } else {
                (409, false)
            }
        }
        (Manual, Read) | (Other, Read) => {
            if read_all {
                (200, false)
            } else {
                (404, false)
            }
        }
        (Manual, Replace | Patch) => {
            if include_manual {
                (200, true)
            } else {
                (403, false)
            }
        }
        (Manual, NoOpPatch) => {
            if include_manual || read_all {
                (200, false)
            } else {
                (403, false)
            }
        }
        (Manual, Delete) => {
            if include_manual {
                (204, false)
            } else {
                (403, false)
            }
        }
        (Other, CreateCollision) => (409, false),
        (Other, NoOpPatch) => {
            if read_all {
                (200, false)
            } else {
                (404, false)
            }
        }
        (Other, Replace | Patch | Delete) => {
            if read_all {
                (403, false)
            } else {
                (404, false)
            }
        }
    }
}

#[tokio::test]
async fn every_switch_source_and_operation() {
    let service = service().await;
    let mut checked = 0;
    for include_manual in [false, true] {
        for read_all in [false, true] {
            for owner in [Owner::Manual, Owner::Own, Owner::Other] {
                for op in [Op::Read, Op::CreateCollision, Op::Replace, Op::Patch, Op::NoOpPatch, Op::Delete] {
                    let case = format!("include_manual={include_manual} read_all={read_all} {owner:?} {op:?}");
                    let tenant = tenant(&service, None).await;
                    let settings = Settings { include_manual_users: include_manual, read_all_users: read_all, ..Settings::default() };
                    let (caller, _) = integration(&service, &tenant, settings).await;
                    let other = scim_integration(&service, &tenant).await;
                    let creator: &Caller = match owner {
                        Owner::Manual => &tenant.admin,
                        Owner::Own => &caller,
                        Owner::Other => &other,
                    };
                    let record = service.create(creator, &USERS, &entra_user("dana@contoso.com")).await.unwrap();
                    let id = id_of(&record.resource);
                    let before = service.user_summary(&tenant.admin, &id).await.unwrap();

                    let renamed = json!({"userName": "dana@contoso.com", "displayName": "Dana Replaced"});
                    let (status, returned_id) = match op {
                        Op::Read => {
                            let listed = service.list(&caller, &USERS, &filter("userName eq \"dana@contoso.com\"")).await.unwrap();
                            let all = service.list(&caller, &USERS, &query(&[])).await.unwrap();
                            let result = service.get(&caller, &USERS, &id, &all_attributes()).await;
                            let status = result.as_ref().map(|_| 200).unwrap_or_else(|e| e.to_scim().status);
                            assert_eq!(listed.resources.len(), usize::from(status == 200), "{case}: filter visibility");
                            assert_eq!(all.resources.len(), usize::from(status == 200), "{case}: list visibility");
                            (status, result.ok().map(|r| id_of(&r)))
                        }
                        Op::CreateCollision => match service.create(&caller, &USERS, &entra_user("DANA@contoso.com")).await {
                            Ok(written) => {
                                assert_eq!(written.resource["userName"], "DANA@contoso.com", "{case}: request's attributes");
                                (201, Some(id_of(&written.resource)))
                            }
                            Err(e) => {
                                let e = e.to_scim();
                                assert_eq!(e.scim_type, Some(scim::ScimType::Uniqueness), "{case}");
                                (e.status, None)
                            }
                        },
                        Op::Replace => outcome(service.replace(&caller, &USERS, &id, &renamed, None).await),
                        Op::Patch => outcome(
                            service
                                .patch(&caller, &USERS, &id, &patch(json!([{"op":"replace","path":"displayName","value":"X"}])), None)
                                .await,
                        ),
                        Op::NoOpPatch => outcome(
                            service
                                .patch(
                                    &caller,
                                    &USERS,
                                    &id,
                                    &patch(json!([{"op":"replace","path":"displayName","value":"Test User"}])),
                                    None,
                                )
                                .await,
                        ),
                        Op::Delete => match service.delete(&caller, &USERS, &id, None).await {
                            Ok(()) => (204, None),
                            Err(e) => (e.to_scim().status, None),
                        },
                    };
                    let (want_status, want_claim) = expected(include_manual, read_all, owner, op);
                    assert_eq!(status, want_status, "{case}");
                    if let Some(returned) = returned_id {
                        assert_eq!(returned, id, "{case}: the existing id is answered");
                    }
                    if op == Op::Delete && status == 204 {
                        assert!(service.user_summary(&tenant.admin, &id).await.is_err(), "{case}: deleted");
                    } else {
                        let after = service.user_summary(&tenant.admin, &id).await.unwrap();
                        let claimed = after.source == caller.source() && before.source != caller.source();
                        assert_eq!(claimed, want_claim, "{case}: claim");
                        let wrote = status == 200 && op != Op::Read && op != Op::NoOpPatch || status == 201;
                        let version = |s: &provisioning::users::UserSummary| s.last_modified.clone();
                        if !wrote {
                            assert_eq!(version(&after), version(&before), "{case}: nothing written");
                            assert_eq!(after.source, before.source, "{case}: source unchanged");
                        }
                        if want_claim {
                            assert!(matches!(after.source, Source::Integration(_)));
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 3 * 6);
}

fn outcome(result: provisioning::Result<provisioning::Written>) -> (u16, Option<String>) {
    match result {
        Ok(written) => (200, Some(id_of(&written.resource))),
        Err(e) => {
            let e = e.to_scim();
            if e.status == 403 {
                assert!(!e.detail.is_empty());
            }
            (e.status, None)
        }
    }
}

#[tokio::test]
async fn claims_keep_devices_and_enrollment_and_groups_claim_by_display_name() {
    let service = service().await;
    let tenant = tenant(&service, None).await;
    let settings = Settings { include_manual_users: true, ..Settings::default() };
    let (entra, _) = integration(&service, &tenant, settings).await;
    let manual = service.create(&tenant.admin, &USERS, &json!({"userName": "erin", "displayName": "Erin M"})).await.unwrap();
    let id = id_of(&manual.resource);
    service
        .add_device(
            &tenant.admin,
            &id,
            provisioning::users::NewDevice {
                device_name: "Pixel".into(),
                device_type: provisioning::users::DeviceType::Push,
                platform: "Android".into(),
            },
        )
        .await
        .unwrap();
    let claimed = service.create(&entra, &USERS, &entra_user("Erin")).await.unwrap();
    assert!(claimed.created && claimed.claimed);
    assert_eq!(id_of(&claimed.resource), id);
    assert_eq!(claimed.resource["displayName"], "Test User", "attributes come from the request");
    let summary = service.user_summary(&tenant.admin, &id).await.unwrap();
    assert_eq!(summary.source, entra.source());
    assert_eq!((summary.device_count, summary.status), (1, provisioning::UserStatus::Active));
    assert_eq!(service.list_devices(&tenant.admin, &id).await.unwrap().len(), 1);
    // Claims take no seat.
    assert_eq!(service.seats(&tenant.id).await.unwrap().used, 1);

    let group = service.create(&tenant.admin, &GROUPS, &json!({"displayName": "Sales"})).await.unwrap();
    let claimed_group = service.create(&entra, &GROUPS, &group_body("sales")).await.unwrap();
    assert!(claimed_group.claimed);
    assert_eq!(id_of(&claimed_group.resource), id_of(&group.resource));
    // Now it is the integration's own: a second create collides.
    assert_eq!(service.create(&entra, &GROUPS, &group_body("Sales")).await.unwrap_err().to_scim().status, 409);
}
