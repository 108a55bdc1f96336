use scim::projection::AttributeSelection;
use scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "u1",
        "externalId": "e1",
        "userName": "alice@example.com",
        "password": "hunter2",
        "name": {"givenName": "Alice", "familyName": "Liddell"},
        "emails": [
            {"value": "alice@example.com", "type": "work", "primary": true},
            {"value": "a@home.example", "type": "home"}
        ],
        "active": true,
        "meta": {"resourceType": "User", "version": "W/\"1\""},
        ENTERPRISE: {"employeeNumber": "7", "manager": {"value": "u0"}}
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Admins",
        "members": [{"value": "u1", "type": "User"}],
        "meta": {"resourceType": "Group"}
    })
}

fn select(attributes: Option<&str>, excluded: Option<&str>) -> AttributeSelection {
    AttributeSelection::parse(attributes, excluded).unwrap()
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn default_returns_everything_but_password() {
    let projected = select(None, None).project(&USER_RESOURCE, &user());
    let mut expected = user();
    expected.as_object_mut().unwrap().remove("password");
    assert_eq!(projected, expected);
}

#[test]
fn password_is_never_returned_even_when_asked_for() {
    for selection in [select(Some("password"), None), select(Some("userName,PASSWORD"), None), select(None, Some("userName"))] {
        let projected = selection.project(&USER_RESOURCE, &user());
        assert!(projected.get("password").is_none());
        assert!(!selection.wants(&USER_RESOURCE, "password"));
    }
}

#[test]
fn attributes_id_leaves_id_and_schemas() {
    let projected = select(Some("id"), None).project(&USER_RESOURCE, &user());
    assert_eq!(keys(&projected), ["id", "schemas"]);
}

#[test]
fn attributes_user_name_keeps_user_name_and_id() {
    let projected = select(Some("userName"), None).project(&USER_RESOURCE, &user());
    assert_eq!(keys(&projected), ["id", "schemas", "userName"]);
    assert_eq!(projected["userName"], "alice@example.com");
}

#[test]
fn names_are_case_insensitive_and_whitespace_tolerant() {
    let projected = select(Some(" USERNAME ,  displayname,active "), None).project(&USER_RESOURCE, &user());
    assert_eq!(keys(&projected), ["active", "id", "schemas", "userName"]);
}

#[test]
fn unknown_and_malformed_names_are_ignored() {
    let projected = select(Some("userName,nosuch,emails[type eq \"work\"],1bad,,"), None).project(&USER_RESOURCE, &user());
    assert_eq!(keys(&projected), ["id", "schemas", "userName"]);
    let projected = select(None, Some("nosuch,%%")).project(&USER_RESOURCE, &user());
    assert_eq!(projected["userName"], "alice@example.com");
    assert!(projected.get("meta").is_some());
}

#[test]
fn excluded_attributes_members_removes_members_and_wants_says_so() {
    let selection = select(None, Some("members"));
    let projected = selection.project(&GROUP_RESOURCE, &group());
    assert_eq!(keys(&projected), ["displayName", "id", "meta", "schemas"]);
    assert!(!selection.wants(&GROUP_RESOURCE, "members"));
    assert!(selection.wants(&GROUP_RESOURCE, "displayName"));
    assert!(select(None, None).wants(&GROUP_RESOURCE, "members"));
    assert!(!select(Some("displayName"), None).wants(&GROUP_RESOURCE, "members"));
    assert!(select(Some("members.value"), None).wants(&GROUP_RESOURCE, "Members"));
}

#[test]
fn id_cannot_be_excluded() {
    let selection = select(None, Some("id,userName"));
    let projected = selection.project(&USER_RESOURCE, &user());
    assert_eq!(projected["id"], "u1");
    assert!(projected.get("userName").is_none());
    assert!(selection.wants(&USER_RESOURCE, "id"));
}

#[test]
fn sub_attribute_selection_applies_to_every_value() {
    let projected = select(Some("emails.value"), None).project(&USER_RESOURCE, &user());
    assert_eq!(projected["emails"], json!([{"value": "alice@example.com"}, {"value": "a@home.example"}]));
    assert!(projected.get("name").is_none());
}

#[test]
fn sub_attribute_exclusion() {
    let projected = select(None, Some("name.givenName,emails.type")).project(&USER_RESOURCE, &user());
    assert_eq!(projected["name"], json!({"familyName": "Liddell"}));
    assert_eq!(projected["emails"], json!([{"value": "alice@example.com", "primary": true}, {"value": "a@home.example"}]));
}

#[test]
fn complex_values_left_empty_are_dropped() {
    let projected = select(Some("name.middleName"), None).project(&USER_RESOURCE, &user());
    assert!(projected.get("name").is_none());
    let projected = select(Some("emails.primary"), None).project(&USER_RESOURCE, &user());
    assert_eq!(projected["emails"], json!([{"primary": true}]));
}

#[test]
fn extension_attributes_by_urn() {
    let projected = select(Some(&format!("{ENTERPRISE}:manager")), None).project(&USER_RESOURCE, &user());
    assert_eq!(projected[ENTERPRISE], json!({"manager": {"value": "u0"}}));
    assert!(projected.get("userName").is_none());

    let projected = select(Some(&format!("{ENTERPRISE}:manager.value,userName")), None).project(&USER_RESOURCE, &user());
    assert_eq!(projected[ENTERPRISE], json!({"manager": {"value": "u0"}}));
    assert_eq!(projected["userName"], "alice@example.com");
}

#[test]
fn bare_extension_urn_selects_the_whole_extension() {
    let whole = select(Some(&ENTERPRISE.to_uppercase()), None);
    let projected = whole.project(&USER_RESOURCE, &user());
    assert_eq!(projected[ENTERPRISE], user()[ENTERPRISE]);
    assert!(whole.wants(&USER_RESOURCE, ENTERPRISE));

    let without = select(None, Some(ENTERPRISE));
    assert!(without.project(&USER_RESOURCE, &user()).get(ENTERPRISE).is_none());
    assert!(!without.wants(&USER_RESOURCE, ENTERPRISE));
}

#[test]
fn extension_emptied_by_exclusion_is_dropped() {
    let excluded = format!("{ENTERPRISE}:employeeNumber,{ENTERPRISE}:manager");
    let projected = select(None, Some(&excluded)).project(&USER_RESOURCE, &user());
    assert!(projected.get(ENTERPRISE).is_none());
    assert_eq!(projected["schemas"], user()["schemas"]);
}

#[test]
fn core_urn_qualified_names() {
    let projected = select(Some("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName"), None).project(&USER_RESOURCE, &user());
    assert_eq!(projected["name"], json!({"familyName": "Liddell"}));
}

#[test]
fn meta_is_returned_by_default_only() {
    assert!(select(Some("userName"), None).project(&USER_RESOURCE, &user()).get("meta").is_none());
    assert!(select(Some("meta"), None).project(&USER_RESOURCE, &user()).get("meta").is_some());
    assert!(select(None, Some("meta")).project(&USER_RESOURCE, &user()).get("meta").is_none());
}

#[test]
fn attributes_wins_over_excluded_attributes() {
    let projected = select(Some("userName"), Some("userName")).project(&USER_RESOURCE, &user());
    assert_eq!(keys(&projected), ["id", "schemas", "userName"]);
}

#[test]
fn empty_lists_count_as_absent() {
    let projected = select(Some(" "), Some("")).project(&USER_RESOURCE, &user());
    assert_eq!(projected["userName"], "alice@example.com");
    assert!(projected.get("meta").is_some());
}

#[test]
fn undefined_attributes_are_not_leaked() {
    let mut resource = user();
    resource["internalSecret"] = json!("x");
    resource["name"]["internal"] = json!("y");
    resource[ENTERPRISE]["internal"] = json!("z");
    resource["urn:example:unknown"] = json!({"a": 1});
    let projected = select(None, None).project(&USER_RESOURCE, &resource);
    assert!(projected.get("internalSecret").is_none());
    assert!(projected["name"].get("internal").is_none());
    assert!(projected[ENTERPRISE].get("internal").is_none());
    assert!(projected.get("urn:example:unknown").is_none());
}

#[test]
fn never_panics_on_odd_shapes() {
    let odd = json!({"id": "x", "name": "not an object", "emails": [1, null, {"value": "v"}], ENTERPRISE: 5});
    let projected = select(Some("name.givenName,emails.value"), None).project(&USER_RESOURCE, &odd);
    assert_eq!(projected["emails"], json!([1, null, {"value": "v"}]));
    assert_eq!(select(None, None).project(&USER_RESOURCE, &json!([1])), json!([1]));
    assert!(!select(None, None).wants(&USER_RESOURCE, "not a path!"));
}
