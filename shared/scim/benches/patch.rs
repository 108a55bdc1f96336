//! PATCH engine costs: Entra's path-less replace (its flagged dialect) and its
//! default-dialect filtered email replace, on a typical user.

use criterion::{Criterion, criterion_group, criterion_main};
use scim::patch::{PatchRequest, apply_patch};
use scim::resource::prepare_create;
use scim::schema::USER_RESOURCE;
use serde_json::{Value, json};
use std::hint::black_box;

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "5f1c", "userName": "Test_User_ab6490ee", "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "active": true, "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

fn benches(c: &mut Criterion) {
    let pathless = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}]});
    let filtered = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
        {"op": "Replace", "path": "active", "value": "False"}]});
    let create = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "externalId": "0a21f0f2",
        "userName": "Test_User_ab6490ee", "active": true, "displayName": "Test User",
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [], "addresses": null, "manager": null});

    c.bench_function("patch: parse + apply Entra path-less replace", |b| {
        let resource = user();
        b.iter(|| {
            let request = PatchRequest::from_json(black_box(&pathless)).unwrap();
            let mut resource = resource.clone();
            apply_patch(&USER_RESOURCE, &mut resource, &request).unwrap()
        })
    });
    c.bench_function("patch: parse + apply filtered email replace + active", |b| {
        let resource = user();
        b.iter(|| {
            let request = PatchRequest::from_json(black_box(&filtered)).unwrap();
            let mut resource = resource.clone();
            apply_patch(&USER_RESOURCE, &mut resource, &request).unwrap()
        })
    });
    c.bench_function("create: validate Entra's create body", |b| b.iter(|| prepare_create(&USER_RESOURCE, black_box(&create)).unwrap()));
}

criterion_group!(patch, benches);
criterion_main!(patch);
