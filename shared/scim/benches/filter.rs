use criterion::{Criterion, criterion_group, criterion_main};
use scim::filter;
use scim::schema::USER_RESOURCE;
use serde_json::json;
use std::hint::black_box;

fn user() -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Alice@Contoso.com",
        "name": {"familyName": "Jensen", "givenName": "Alice"},
        "title": "Engineer",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "alice@contoso.com", "type": "work", "primary": true},
            {"value": "alice@example.org", "type": "home"}
        ],
        "meta": {"resourceType": "User", "lastModified": "2024-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}
    })
}

fn benches(c: &mut Criterion) {
    let user = user();
    let text = r#"userName eq "alice@contoso.com""#;
    c.bench_function("parse userName eq", |b| b.iter(|| filter::parse(black_box(text))));
    c.bench_function("parse+evaluate userName eq against a user", |b| {
        b.iter(|| filter::parse(black_box(text)).is_ok_and(|f| f.matches(&USER_RESOURCE, black_box(&user))))
    });
    let four = filter::parse(r#"userType eq "Employee" and (title sw "manager" or emails.value ew "@CONTOSO.COM") and active eq true"#)
        .expect("valid filter");
    c.bench_function("evaluate a 4-term and/or filter", |b| b.iter(|| four.matches(&USER_RESOURCE, black_box(&user))));
}

criterion_group!(filter_benches, benches);
criterion_main!(filter_benches);
