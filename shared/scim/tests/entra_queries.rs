//! Every query of docs/ENTRA.md §3, from the decoded query parameters to the
//! ListResponse body, over a small directory held in memory.

use scim::list::ListQuery;
use scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use scim::{ResourceType, ScimType};
use serde_json::{Value, json};

const MAX_RESULTS: usize = 100;
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn users() -> Vec<Value> {
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "54D3", "userName": "alice@contoso.com",
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", "active": true,
            "emails": [{"type": "work", "value": "a@b.com", "primary": true}],
            ENTERPRISE: {"manager": {"value": "2819"}}, "meta": {"resourceType": "User"}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "2819", "userName": "jyoung@contoso.com",
            "externalId": "jyoung", "active": false, "emails": [{"type": "home", "value": "a@b.com"}], "meta": {"resourceType": "User"}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "7777", "userName": "carol@contoso.com", "active": true}),
    ]
}

fn groups() -> Vec<Value> {
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Sales", "members": [{"value": "54D3"}]}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g2", "displayName": "Marketing"}),
    ]
}

fn query(resource_type: &ResourceType, resources: Vec<Value>, params: &[(&str, &str)]) -> Value {
    let query = ListQuery::from_params(params.iter().copied(), MAX_RESULTS).unwrap_or_else(|e| panic!("{params:?}: {e}"));
    query.answer(resource_type, resources).into_json()
}

fn ids(body: &Value) -> Vec<&str> {
    body["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect()
}

#[test]
fn test_connection_gets_an_empty_list_not_a_404() {
    let body =
        query(&USER_RESOURCE, users(), &[("filter", "userName eq \"cf4d8e0a-57c4-4f5b-9bd7-1cb2d4d07c11\""), ("aadOptscim062020", "")]);
    assert_eq!(
        body,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": [], "startIndex": 1, "itemsPerPage": 0})
    );
}

#[test]
fn entra_queries_find_what_they_should() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (&[("filter", "userName eq \"alice@contoso.com\"")], &["54D3"]),
        (&[("filter", "userName eq \"ALICE@Contoso.com\"")], &["54D3"]),
        (&[("FILTER", "USERNAME EQ \"alice@contoso.com\"")], &["54D3"]),
        (&[("filter", "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"")], &["54D3"]),
        (&[("filter", "externalId eq jyoung")], &["2819"]),
        (&[("filter", "emails[type eq \"work\"].value eq \"a@b.com\"")], &["54D3"]),
        (&[("filter", "id eq \"54D3\" and manager eq \"2819\""), ("attributes", "id")], &["54D3"]),
        (&[("filter", "id eq \"2819\" and manager eq \"2819\"")], &[]),
        (&[("filter", "active eq false")], &["2819"]),
        (&[("startIndex", "1"), ("count", "5")], &["54D3", "2819", "7777"]),
        (&[("startIndex", "2"), ("count", "1")], &["2819"]),
        (&[("sortBy", "userName"), ("sortOrder", "descending")], &["2819", "7777", "54D3"]),
    ];
    for (params, expected) in cases {
        let body = query(&USER_RESOURCE, users(), params);
        assert_eq!(ids(&body), *expected, "{params:?}");
        assert_eq!(body["totalResults"], if params.iter().any(|(k, _)| *k == "startIndex") { 3 } else { expected.len() }, "{params:?}");
    }
}

/// Names are stored trimmed and NFC (`scim::names`); a query by name is compared in that
/// form too, whatever spaces or composition the client's literal has.
#[test]
fn a_name_query_finds_the_stored_spelling() {
    let mut directory = users();
    directory.push(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "jose", "userName": "jos\u{e9}@contoso.com"}));
    for (filter, expected) in [
        ("userName eq \" alice@contoso.com \"", &["54D3"][..]),
        ("userName eq \"ALICE@contoso.com\u{3000}\"", &["54D3"]),
        ("userName ne \" alice@contoso.com\" and userName sw \"jos\"", &["jose"]),
        ("userName eq \"JOSE\u{301}@contoso.com\"", &["jose"]),
        ("userName sw \"Jose\u{301}\"", &["jose"]),
        // A substring keeps its spaces: no stored name holds " alice".
        ("userName co \" alice\"", &[]),
    ] {
        assert_eq!(ids(&query(&USER_RESOURCE, directory.clone(), &[("filter", filter)])), expected, "{filter}");
    }
    assert_eq!(ids(&query(&GROUP_RESOURCE, groups(), &[("filter", "displayName eq \"  sales \"")])), ["g1"]);
    // Only the unique names: a user's displayName is compared as sent.
    let display = vec![json!({"id": "d", "userName": "d", "displayName": "Dee"})];
    assert!(ids(&query(&USER_RESOURCE, display, &[("filter", "displayName eq \" Dee\"")])).is_empty());
}

#[test]
fn disabled_users_are_still_found() {
    let body = query(&USER_RESOURCE, users(), &[("filter", "userName eq \"jyoung@contoso.com\"")]);
    assert_eq!(body["Resources"][0]["active"], false);
}

#[test]
fn attributes_id_returns_only_the_id() {
    let body = query(&USER_RESOURCE, users(), &[("filter", "id eq \"54D3\" and manager eq \"2819\""), ("attributes", "id")]);
    assert_eq!(body["Resources"][0], json!({"id": "54D3", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}));
}

#[test]
fn pagination_echoes_start_index() {
    let body = query(&USER_RESOURCE, users(), &[("startIndex", "2"), ("count", "5")]);
    assert_eq!(body["startIndex"], 2);
    assert_eq!(body["itemsPerPage"], 2);
    assert_eq!(body["totalResults"], 3);
    let body = query(&USER_RESOURCE, users(), &[("count", "0")]);
    assert_eq!((body["totalResults"].clone(), body["itemsPerPage"].clone()), (json!(3), json!(0)));
}

#[test]
fn groups_by_display_name_without_members() {
    let body = query(&GROUP_RESOURCE, groups(), &[("excludedAttributes", "members"), ("filter", "displayName eq \"sales\"")]);
    assert_eq!(
        body["Resources"],
        json!([{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Sales"}])
    );
}

#[test]
fn a_bad_filter_is_invalid_filter_with_its_position() {
    let error = ListQuery::from_params([("filter", "userName equals \"x\"")], MAX_RESULTS).unwrap_err();
    assert_eq!((error.status, error.scim_type), (400, Some(ScimType::InvalidFilter)));
    assert!(error.detail.contains("position 10"), "{}", error.detail);
}

#[test]
fn index_planning_sees_the_equality_terms() {
    let query = ListQuery::from_params([("filter", "id eq \"54D3\" and manager eq \"2819\"")], MAX_RESULTS).unwrap();
    let terms: Vec<(String, &str)> =
        query.filter.as_ref().unwrap().required_equalities().into_iter().map(|(path, value)| (path.to_string(), value)).collect();
    assert_eq!(terms, vec![("id".to_string(), "54D3"), ("manager".to_string(), "2819")]);
}
