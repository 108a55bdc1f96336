#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::filter;
use scim::schema::USER_RESOURCE;
use serde_json::json;
use std::sync::LazyLock;

static USER: LazyLock<serde_json::Value> = LazyLock::new(|| {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "54D3",
        "externalId": "jyoung",
        "userName": "Çarol@contoso.com",
        "name": {"familyName": "O'Malley", "givenName": "Carol"},
        "title": "",
        "active": true,
        "emails": [{"value": "a@b.com", "type": "work", "primary": true}, {"value": "c@d.org", "type": "home"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "1", "manager": {"value": "2819"}}
    })
});

fn check(text: &str) {
    let Ok(parsed) = filter::parse(text) else {
        return;
    };
    let printed = parsed.to_string();
    assert_eq!(filter::parse(&printed).as_ref(), Ok(&parsed), "{text:?} printed as {printed:?}");
    let _ = parsed.validate(&USER_RESOURCE);
    let _ = parsed.matches(&USER_RESOURCE, &USER);
}

fuzz_target!(|data: &[u8]| {
    match std::str::from_utf8(data) {
        Ok(text) => check(text),
        Err(_) => check(&String::from_utf8_lossy(data)),
    }
});
