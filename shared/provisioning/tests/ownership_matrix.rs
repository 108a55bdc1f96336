//! Every combination of the two switches x record source x operation (docs/ARCHITECTURE.md,
//! "Ownership and the integration switches"), through the generic service.

mod common;

use common::*;
use item_store::ItemStore;
use provisioning::resources::Record;
use provisioning::{Caller, GROUPS, Provisioning, Settings, Source, TypeDescriptor, USERS};
use serde_json::{Value, json};

/// The stored record, whatever its type (None once deleted).
async fn stored(service: &Provisioning<Store>, tenant: &str, id: &str) -> Option<Record> {
    let item = service.store().get(&provisioning::storage::keys::resource(tenant, id)).await.unwrap()?;
    Some(Record::from_item(&item).unwrap())
}

/// A create body for the type, with its unique attribute spelled `name`.
fn body(descriptor: &TypeDescriptor, name: &str) -> Value {
    if descriptor.is_user { entra_user(name) } else { group_body(name) }
}

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
fn expected(is_user: bool, include_manual: bool, read_all: bool, owner: Owner, op: Op) -> (u16, bool) {
    use Op::*;
    use Owner::*;
    match (owner, op) {
        (Own, CreateCollision) => (409, false),
        // A group's displayName is unique per owner: another source's group of that name is
        // no collision (a new group), unless it is a manual one this integration may claim.
        (Manual, CreateCollision) if !is_user && !include_manual => (201, false),
        (Other, CreateCollision) if !is_user => (201, false),
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
async fn every_switch_source_and_operation_for_users_and_groups() {
    let service = service().await;
    let mut checked = 0;
    for descriptor in [&USERS, &GROUPS] {
        for include_manual in [false, true] {
            for read_all in [false, true] {
                for owner in [Owner::Manual, Owner::Own, Owner::Other] {
                    for op in [Op::Read, Op::CreateCollision, Op::Replace, Op::Patch, Op::NoOpPatch, Op::Delete] {
                        check(&service, descriptor, include_manual, read_all, owner, op).await;
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 4 * 3 * 6);
}

async fn check(service: &Provisioning<Store>, descriptor: &TypeDescriptor, include_manual: bool, read_all: bool, owner: Owner, op: Op) {
    let case = format!("{} include_manual={include_manual} read_all={read_all} {owner:?} {op:?}", descriptor.name());
    let tenant = tenant(service, None).await;
    let settings = Settings { include_manual_users: include_manual, read_all_users: read_all, ..Settings::default() };
    let (caller, _) = integration(service, &tenant, settings).await;
    let other = scim_integration(service, &tenant).await;
    let creator: &Caller = match owner {
        Owner::Manual => &tenant.admin,
        Owner::Own => &caller,
        Owner::Other => &other,
    };
    let unique = descriptor.unique;
    let record = service.create(creator, descriptor, &body(descriptor, "dana@contoso.com")).await.unwrap();
    let id = id_of(&record.resource);
    let before = stored(service, &tenant.id, &id).await.unwrap();

    let match_query = filter(&format!("{unique} eq \"dana@contoso.com\""));
    let (status, returned_id) = match op {
        Op::Read => {
            let listed = service.list(&caller, descriptor, &match_query).await.unwrap();
            let all = service.list(&caller, descriptor, &query(&[])).await.unwrap();
            let result = service.get(&caller, descriptor, &id, &all_attributes()).await;
            let status = result.as_ref().map(|_| 200).unwrap_or_else(|e| e.to_scim().status);
            assert_eq!(listed.resources.len(), usize::from(status == 200), "{case}: filter visibility");
            assert_eq!(all.resources.len(), usize::from(status == 200), "{case}: list visibility");
            (status, result.ok().map(|r| id_of(&r)))
        }
        Op::CreateCollision => match service.create(&caller, descriptor, &body(descriptor, "DANA@contoso.com")).await {
            Ok(written) => {
                assert_eq!(written.resource[unique], "DANA@contoso.com", "{case}: request's attributes");
                (201, Some(id_of(&written.resource)))
            }
            Err(e) => {
                let e = e.to_scim();
                assert_eq!(e.scim_type, Some(scim::ScimType::Uniqueness), "{case}");
                assert!(e.detail.contains(unique), "{case}: {}", e.detail);
                (e.status, None)
            }
        },
        Op::Replace => {
            let mut replacement = body(descriptor, "dana@contoso.com");
            replacement["externalId"] = json!("replaced");
            outcome(service.replace(&caller, descriptor, &id, &replacement, None).await)
        }
        Op::Patch => {
            outcome(service.patch(&caller, descriptor, &id, &patch(json!([{"op":"replace","path":"externalId","value":"X"}])), None).await)
        }
        Op::NoOpPatch => {
            let same = record.resource["externalId"].clone();
            outcome(service.patch(&caller, descriptor, &id, &patch(json!([{"op":"replace","path":"externalId","value":same}])), None).await)
        }
        Op::Delete => match service.delete(&caller, descriptor, &id, None).await {
            Ok(()) => (204, None),
            Err(e) => (e.to_scim().status, None),
        },
    };
    let (want_status, want_claim) = expected(descriptor.is_user, include_manual, read_all, owner, op);
    assert_eq!(status, want_status, "{case}");
    let created_apart = op == Op::CreateCollision && status == 201 && !want_claim;
    if let Some(returned) = returned_id {
        if created_apart {
            assert_ne!(returned, id, "{case}: a group of its own");
        } else {
            assert_eq!(returned, id, "{case}: the existing id is answered");
        }
    }
    let after = stored(service, &tenant.id, &id).await;
    if op == Op::Delete && status == 204 {
        assert!(after.is_none(), "{case}: deleted");
        return;
    }
    let after = after.unwrap_or_else(|| panic!("{case}: still there"));
    let claimed = after.source == caller.source() && before.source != caller.source();
    assert_eq!(claimed, want_claim, "{case}: claim");
    if want_claim {
        assert!(matches!(after.source, Source::Integration(_)));
    }
    let wrote = (status == 200 && op != Op::Read && op != Op::NoOpPatch) || (status == 201 && !created_apart);
    if wrote {
        assert_eq!(after.version, before.version + 1, "{case}: one new version");
    } else {
        assert_eq!(after, before, "{case}: nothing written");
    }
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
    let tenant = tenant(&service, Some(100)).await;
    let settings = Settings { include_manual_users: true, ..Settings::default() };
    let (entra, _) = integration(&service, &tenant, settings).await;
    let manual = service.create(&tenant.admin, &USERS, &json!({"userName": "erin", "displayName": "Erin M"})).await.unwrap();
    let id = id_of(&manual.resource);
    service
        .add_device(
            &tenant.admin,
            &id,
            provisioning::mfa::NewDevice {
                device_name: "Pixel".into(),
                device_type: provisioning::mfa::DeviceType::Push,
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

    // A claimed group keeps its members, adds the request's, and answers them all.
    let kept = id_of(&service.create(&tenant.admin, &USERS, &json!({"userName": "kept"})).await.unwrap().resource);
    let added = id_of(&service.create(&entra, &USERS, &json!({"userName": "added"})).await.unwrap().resource);
    let group = service.create(&tenant.admin, &GROUPS, &json!({"displayName": "Sales", "members": [{"value": kept}]})).await.unwrap();
    let body = json!({"displayName": "sales", "members": [{"value": added, "display": "Added"}]});
    let claimed_group = service.create(&entra, &GROUPS, &body).await.unwrap();
    assert!(claimed_group.claimed);
    assert_eq!(id_of(&claimed_group.resource), id_of(&group.resource));
    let mut expected = vec![json!({"value": kept}), json!({"value": added, "display": "Added"})];
    expected.sort_by_key(|member| member["value"].as_str().map(str::to_string));
    assert_eq!(claimed_group.members, Some(expected));
    // Now it is the integration's own: a second create collides.
    assert_eq!(service.create(&entra, &GROUPS, &group_body("Sales")).await.unwrap_err().to_scim().status, 409);
}
