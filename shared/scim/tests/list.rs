use scim::list::{CursorRequest, ListQuery, ListResponse, SortOrder, page, sort};
use scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use scim::{AttrPath, ScimType};
use serde_json::{Value, json};

const MAX: usize = 100;

fn query(params: &[(&str, &str)]) -> scim::Result<ListQuery> {
    ListQuery::from_params(params.iter().copied(), MAX)
}

fn invalid_value(result: scim::Result<ListQuery>, detail_mentions: &str) {
    let error = result.unwrap_err();
    assert_eq!((error.status, error.scim_type), (400, Some(ScimType::InvalidValue)), "{error}");
    assert!(error.detail.contains(detail_mentions), "{}", error.detail);
}

#[test]
fn defaults() {
    let q = query(&[]).unwrap();
    assert_eq!((q.start_index, q.count, q.sort_order), (1, MAX, SortOrder::Ascending));
    assert!(q.filter.is_none() && q.sort_by.is_none() && q.cursor.is_none());
}

#[test]
fn start_index_and_count_are_read() {
    let q = query(&[("startIndex", "1"), ("count", "5")]).unwrap();
    assert_eq!((q.start_index, q.count), (1, 5));
    let q = query(&[("STARTINDEX", " 21 "), ("Count", "+10")]).unwrap();
    assert_eq!((q.start_index, q.count), (21, 10));
}

#[test]
fn out_of_range_numbers_are_clamped() {
    let q = query(&[("startIndex", "-5"), ("count", "-1")]).unwrap();
    assert_eq!((q.start_index, q.count), (1, 0));
    let q = query(&[("startIndex", "0"), ("count", "100000")]).unwrap();
    assert_eq!((q.start_index, q.count), (1, MAX));
    let q = query(&[("startIndex", "99999999999999999999999"), ("count", "99999999999999999999999")]).unwrap();
    assert_eq!((q.start_index, q.count), (usize::try_from(i64::MAX).unwrap(), MAX));
    let q = query(&[("count", "-99999999999999999999999")]).unwrap();
    assert_eq!(q.count, 0);
}

#[test]
fn non_numeric_numbers_are_invalid_value() {
    invalid_value(query(&[("count", "ten")]), "count");
    invalid_value(query(&[("startIndex", "1.5")]), "startIndex");
    invalid_value(query(&[("startIndex", "")]), "startIndex");
}

#[test]
fn unknown_parameters_are_ignored() {
    let q = query(&[("aadOptscim062020", ""), ("count", "3"), ("whatever", "x")]).unwrap();
    assert_eq!(q.count, 3);
}

#[test]
fn sort_parameters() {
    let q = query(&[("sortBy", "name.familyName"), ("sortOrder", "DESCENDING")]).unwrap();
    assert_eq!(q.sort_by, Some(AttrPath::with_sub("name", "familyName")));
    assert_eq!(q.sort_order, SortOrder::Descending);
    assert_eq!(query(&[("sortorder", "Ascending")]).unwrap().sort_order, SortOrder::Ascending);
    invalid_value(query(&[("sortOrder", "up")]), "sortOrder");
    invalid_value(query(&[("sortBy", "emails[type eq \"work\"]")]), "sortBy");
}

#[test]
fn empty_filter_is_no_filter() {
    assert!(query(&[("filter", "  ")]).unwrap().filter.is_none());
}

#[test]
fn attribute_selection_is_read() {
    let q = query(&[("excludedAttributes", "members")]).unwrap();
    assert!(!q.selection.wants(&GROUP_RESOURCE, "members"));
    let q = query(&[("ATTRIBUTES", "userName")]).unwrap();
    assert!(!q.selection.wants(&USER_RESOURCE, "name"));
}

#[test]
fn cursor_requests() {
    let first = query(&[("cursor", ""), ("count", "10")]).unwrap();
    assert_eq!(first.cursor, Some(CursorRequest::First));
    let token = scim::cursor::encode(first.fingerprint(), b"next");
    let next = query(&[("cursor", &token), ("count", "10")]).unwrap();
    assert_eq!(next.cursor, Some(CursorRequest::Resume(b"next".to_vec())));
}

#[test]
fn cursor_and_start_index_together_are_invalid_value() {
    invalid_value(query(&[("cursor", ""), ("startIndex", "1")]), "startIndex and cursor");
}

#[test]
fn a_cursor_of_another_query_or_garbage_is_invalid_cursor() {
    let sorted = query(&[("sortBy", "userName")]).unwrap();
    let token = scim::cursor::encode(sorted.fingerprint(), b"p");
    for params in [
        vec![("cursor", token.as_str())],
        vec![("cursor", token.as_str()), ("sortBy", "userName"), ("sortOrder", "descending")],
        vec![("cursor", "garbage")],
    ] {
        let error = query(&params).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidCursor), "{params:?}");
    }
    let same = query(&[("cursor", &token), ("sortBy", "USERNAME"), ("count", "3"), ("attributes", "id")]).unwrap();
    assert_eq!(same.cursor, Some(CursorRequest::Resume(b"p".to_vec())));
}

#[test]
fn fingerprints_tell_queries_apart() {
    let plain = query(&[]).unwrap().fingerprint();
    let sorted = query(&[("sortBy", "userName")]).unwrap().fingerprint();
    let descending = query(&[("sortBy", "userName"), ("sortOrder", "descending")]).unwrap().fingerprint();
    assert!(plain != sorted && sorted != descending && plain != descending);
    assert_eq!(plain, query(&[("count", "1"), ("excludedAttributes", "members")]).unwrap().fingerprint());
}

#[test]
fn a_search_body_with_schemas_lists_search_request() {
    for schemas in [json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]), json!("urn:evil")] {
        let error = ListQuery::from_search_body(&json!({"schemas": schemas, "filter": "userName eq \"a\""}), MAX).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{schemas}");
        assert!(error.detail.contains("must list \"urn:ietf:params:scim:api:messages:2.0:SearchRequest\""), "{}", error.detail);
    }
    assert!(ListQuery::from_search_body(&json!({"filter": "userName eq \"a\""}), MAX).is_ok(), "schemas may be left out");
}

#[test]
fn search_body() {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["userName", "name.givenName"],
        "sortBy": "userName",
        "sortOrder": "descending",
        "startIndex": 2,
        "count": "7",
        "filter": null
    });
    let q = ListQuery::from_search_body(&body, MAX).unwrap();
    assert_eq!((q.start_index, q.count, q.sort_order), (2, 7, SortOrder::Descending));
    assert_eq!(q.sort_by, Some(AttrPath::new("userName")));
    assert!(q.selection.wants(&USER_RESOURCE, "name"));
    assert!(!q.selection.wants(&USER_RESOURCE, "emails"));
    assert!(q.filter.is_none());

    let q = ListQuery::from_search_body(&json!({"excludedAttributes": ["members"], "count": -4, "cursor": ""}), MAX).unwrap();
    assert!(!q.selection.wants(&GROUP_RESOURCE, "members"));
    assert_eq!((q.count, q.cursor), (0, Some(CursorRequest::First)));
}

#[test]
fn search_body_type_errors() {
    for body in [
        json!({"attributes": [1]}),
        json!({"excludedAttributes": 5}),
        json!({"count": true}),
        json!({"startIndex": 1.5}),
        json!({"sortBy": ["a"]}),
        json!({"filter": {}}),
    ] {
        let error = ListQuery::from_search_body(&body, MAX).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{body}");
    }
    assert_eq!(ListQuery::from_search_body(&json!([]), MAX).unwrap_err().scim_type, Some(ScimType::InvalidSyntax));
    assert!(ListQuery::from_search_body(&json!({"attributes": "userName, id", "unknown": {}}), MAX).is_ok());
}

fn ids(resources: &[Value]) -> Vec<&str> {
    resources.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

fn users() -> Vec<Value> {
    vec![
        json!({"id": "1", "userName": "b", "name": {"familyName": "smith"}}),
        json!({"id": "2", "userName": "a"}),
        json!({"id": "3", "userName": "C", "name": {"familyName": "Adams"}}),
        json!({"id": "4", "userName": "d", "name": {"familyName": "Smith"}}),
    ]
}

#[test]
fn sort_by_family_name_descending_puts_unassigned_first() {
    let mut resources = users();
    sort(&USER_RESOURCE, &mut resources, &AttrPath::with_sub("name", "familyName"), SortOrder::Descending);
    assert_eq!(ids(&resources), ["2", "1", "4", "3"]);
}

#[test]
fn sort_ascending_is_case_insensitive_stable_and_puts_unassigned_last() {
    let mut resources = users();
    sort(&USER_RESOURCE, &mut resources, &AttrPath::parse("NAME.FAMILYNAME").unwrap(), SortOrder::Ascending);
    assert_eq!(ids(&resources), ["3", "1", "4", "2"]);
    let mut resources = users();
    sort(&USER_RESOURCE, &mut resources, &AttrPath::new("userName"), SortOrder::Ascending);
    assert_eq!(ids(&resources), ["2", "1", "3", "4"]);
}

#[test]
fn sort_case_exact_strings_by_code_point() {
    let mut resources = vec![json!({"id": "b"}), json!({"id": "B"}), json!({"id": "a"})];
    sort(&USER_RESOURCE, &mut resources, &AttrPath::new("id"), SortOrder::Ascending);
    assert_eq!(ids(&resources), ["B", "a", "b"]);
}

#[test]
fn sort_multi_valued_by_primary_else_first() {
    let mut resources = vec![
        json!({"id": "1", "emails": [{"value": "a@x"}, {"value": "z@x", "primary": true}]}),
        json!({"id": "2", "emails": [{"value": "m@x"}, {"value": "b@x"}]}),
        json!({"id": "3", "emails": []}),
    ];
    sort(&USER_RESOURCE, &mut resources, &AttrPath::new("emails"), SortOrder::Ascending);
    assert_eq!(ids(&resources), ["2", "1", "3"]);
    sort(&USER_RESOURCE, &mut resources, &AttrPath::with_sub("emails", "value"), SortOrder::Descending);
    assert_eq!(ids(&resources), ["3", "1", "2"]);
}

#[test]
fn sort_booleans_date_times_and_extensions() {
    let mut resources = vec![json!({"id": "1", "active": true}), json!({"id": "2", "active": false}), json!({"id": "3"})];
    sort(&USER_RESOURCE, &mut resources, &AttrPath::new("active"), SortOrder::Ascending);
    assert_eq!(ids(&resources), ["2", "1", "3"]);

    let mut resources = vec![
        json!({"id": "1", "meta": {"lastModified": "2024-01-01T10:00:00+02:00"}}),
        json!({"id": "2", "meta": {"lastModified": "2024-01-01T09:00:00Z"}}),
    ];
    sort(&USER_RESOURCE, &mut resources, &AttrPath::with_sub("meta", "lastModified"), SortOrder::Ascending);
    assert_eq!(ids(&resources), ["1", "2"]);

    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut resources =
        vec![json!({"id": "1", enterprise: {"employeeNumber": "9"}}), json!({"id": "2", enterprise: {"employeeNumber": "10"}})];
    sort(&USER_RESOURCE, &mut resources, &AttrPath::parse(&format!("{enterprise}:employeeNumber")).unwrap(), SortOrder::Ascending);
    assert_eq!(ids(&resources), ["2", "1"]);
}

#[test]
fn sort_by_unknown_attribute_keeps_order() {
    let mut resources = users();
    sort(&USER_RESOURCE, &mut resources, &AttrPath::new("nosuch"), SortOrder::Descending);
    assert_eq!(ids(&resources), ["1", "2", "3", "4"]);
}

#[test]
fn paging_in_memory() {
    let response = page(users(), 2, 2);
    assert_eq!(ids(&response.resources), ["2", "3"]);
    assert_eq!((response.total_results, response.start_index, response.items_per_page), (Some(4), Some(2), 2));

    let response = page(users(), 1, 0);
    assert!(response.resources.is_empty());
    assert_eq!((response.total_results, response.items_per_page), (Some(4), 0));

    let response = page(users(), 10, 5);
    assert!(response.resources.is_empty());
    assert_eq!(response.total_results, Some(4));

    assert_eq!(page(users(), 0, 1).start_index, Some(1));
    assert_eq!(ids(&page(users(), usize::MAX, usize::MAX).resources), Vec::<&str>::new());
}

#[test]
fn get_users_start_index_1_count_5_echoes_start_index() {
    let q = query(&[("startIndex", "1"), ("count", "5")]).unwrap();
    let body = page(users(), q.start_index, q.count).to_json();
    assert_eq!(body["startIndex"], 1);
    assert_eq!(body["itemsPerPage"], 4);
    assert_eq!(body["totalResults"], 4);
}

#[test]
fn empty_list_response_exact_json() {
    let body = page(Vec::new(), 1, MAX).to_json();
    assert_eq!(
        body,
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": 0,
            "Resources": [],
            "startIndex": 1,
            "itemsPerPage": 0
        })
    );
}

#[test]
fn cursor_page_json() {
    let response = ListResponse {
        total_results: None,
        resources: vec![json!({"id": "1"})],
        start_index: None,
        items_per_page: 1,
        next_cursor: Some("next".into()),
        previous_cursor: Some("prev".into()),
    };
    assert_eq!(
        response.to_json(),
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "Resources": [{"id": "1"}],
            "itemsPerPage": 1,
            "nextCursor": "next",
            "previousCursor": "prev"
        })
    );
    assert_eq!(response.clone().into_json(), response.to_json());
}

proptest::proptest! {
    #[test]
    fn arbitrary_parameters_never_panic(name in "[a-zA-Z]{0,20}", value in ".{0,40}") {
        let _ = ListQuery::from_params([(name.as_str(), value.as_str())], MAX);
    }
}
