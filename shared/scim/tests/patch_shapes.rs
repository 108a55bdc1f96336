//! Every PATCH shape of docs/ENTRA.md §5 and RFC 7644 section 3.5.2, table-driven:
//! the resource before, the PATCH body, and the resource after (or the error).

use scim::patch::{ApartChange, PatchRequest, ValuesChange, apply_apart_changes, apply_patch};
use scim::schema::{GROUP_RESOURCE, USER_RESOURCE};
use scim::{ResourceType, ScimType};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn patch(operations: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations})
}

/// Applies a PATCH body the way the domain will, carrying out member changes inline.
fn run(resource_type: &ResourceType, resource: &Value, body: &Value) -> Result<(Value, bool), scim::ScimError> {
    let request = PatchRequest::from_json(body)?;
    let mut patched = resource.clone();
    let outcome = apply_patch(resource_type, &mut patched, &request)?;
    let members_changed = apply_apart_changes(resource_type, &mut patched, &outcome.apart);
    Ok((patched, outcome.changed || members_changed))
}

fn user(extra: Value) -> Value {
    let mut base = json!({"schemas": [USER], "id": "u-1", "userName": "alice@contoso.com", "active": true});
    merge(&mut base, extra);
    base
}

fn group(extra: Value) -> Value {
    let mut base = json!({"schemas": [GROUP], "id": "g-1", "displayName": "Sales"});
    merge(&mut base, extra);
    base
}

fn merge(base: &mut Value, extra: Value) {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
}

fn with_enterprise(mut resource: Value, extension: Value) -> Value {
    resource[ENTERPRISE] = extension;
    resource["schemas"] = json!([USER, ENTERPRISE]);
    resource
}

struct Case {
    name: &'static str,
    resource_type: &'static ResourceType,
    before: Value,
    operations: Value,
    after: Value,
}

fn user_case(name: &'static str, before: Value, operations: Value, after: Value) -> Case {
    Case { name, resource_type: &USER_RESOURCE, before, operations, after }
}

fn group_case(name: &'static str, before: Value, operations: Value, after: Value) -> Case {
    Case { name, resource_type: &GROUP_RESOURCE, before, operations, after }
}

fn check(cases: Vec<Case>) {
    for case in cases {
        let (after, changed) =
            run(case.resource_type, &case.before, &patch(case.operations)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(after, case.after, "{}", case.name);
        assert_eq!(changed, case.before != case.after, "{}: changed flag", case.name);
    }
}

#[test]
fn entra_default_dialect() {
    check(vec![
        user_case(
            "string boolean with a capitalised op",
            user(json!({})),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            user(json!({"active": false})),
        ),
        user_case(
            "filtered path updates the work email",
            user(json!({"emails": [{"type": "work", "value": "old@contoso.com", "primary": true}, {"type": "home", "value": "h@x.com"}]})),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}]),
            user(json!({"emails": [{"type": "work", "value": "new@contoso.com", "primary": true}, {"type": "home", "value": "h@x.com"}]})),
        ),
        user_case(
            "filtered path creates the missing work email",
            user(json!({})),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}]),
            user(json!({"emails": [{"type": "work", "value": "new@contoso.com"}]})),
        ),
        user_case(
            "filtered add matching an existing email does not duplicate it",
            user(json!({"emails": [{"type": "work", "value": "a@contoso.com"}]})),
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@contoso.com"}]),
            user(json!({"emails": [{"type": "work", "value": "a@contoso.com"}]})),
        ),
        user_case(
            "sub-attribute of a missing complex attribute",
            user(json!({})),
            json!([{"op": "Replace", "path": "name.familyName", "value": "Smith"}]),
            user(json!({"name": {"familyName": "Smith"}})),
        ),
        user_case(
            "sub-attribute next to others",
            user(json!({"name": {"givenName": "Alice", "familyName": "Jones"}})),
            json!([{"op": "Replace", "path": "name.familyName", "value": "Smith"}]),
            user(json!({"name": {"givenName": "Alice", "familyName": "Smith"}})),
        ),
        user_case(
            "rename",
            user(json!({})),
            json!([{"op": "Replace", "path": "userName", "value": "bob@contoso.com"}]),
            user(json!({"userName": "bob@contoso.com"})),
        ),
        user_case(
            "add a simple attribute",
            user(json!({})),
            json!([{"op": "Add", "path": "nickName", "value": "Babs"}]),
            user(json!({"nickName": "Babs"})),
        ),
        user_case(
            "URN-qualified extension attribute",
            user(json!({})),
            json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701984"}]),
            with_enterprise(user(json!({})), json!({"employeeNumber": "701984"})),
        ),
        user_case(
            "clearing with an empty string and with null",
            user(json!({"displayName": "A", "nickName": "B"})),
            json!([{"op": "Replace", "path": "displayName", "value": ""}, {"op": "Replace", "path": "nickName", "value": null}]),
            user(json!({})),
        ),
        user_case(
            "clearing the last sub-attribute removes the complex attribute",
            user(json!({"name": {"familyName": "Jones"}})),
            json!([{"op": "Replace", "path": "name.familyName", "value": ""}]),
            user(json!({})),
        ),
        user_case(
            "clearing the work email address removes the email",
            user(json!({"emails": [{"type": "work", "value": "a@contoso.com"}]})),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": ""}]),
            user(json!({})),
        ),
        user_case(
            "phone number of a mapped type",
            user(json!({"phoneNumbers": [{"type": "work", "value": "1"}]})),
            json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}]),
            user(json!({"phoneNumbers": [{"type": "work", "value": "1"}, {"type": "mobile", "value": "+1 555"}]})),
        ),
        user_case(
            "name.formatted (the MFA product's mapping)",
            user(json!({})),
            json!([{"op": "Add", "path": "name.formatted", "value": "Alice Jones"}]),
            user(json!({"name": {"formatted": "Alice Jones"}})),
        ),
    ]);
}

#[test]
fn entra_flagged_dialect() {
    check(vec![
        user_case(
            "real boolean",
            user(json!({})),
            json!([{"op": "replace", "path": "active", "value": false}]),
            user(json!({"active": false})),
        ),
        user_case(
            "path-less value with dotted and URN keys",
            with_enterprise(user(json!({"name": {"givenName": "Old", "middleName": "M"}})), json!({"department": "D"})),
            json!([{"op": "replace", "value": {
                "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"}}]),
            with_enterprise(
                user(json!({"displayName": "Bjfe", "name": {"givenName": "Kkom", "middleName": "M", "familyName": "Unua"}})),
                json!({"department": "D", "employeeNumber": "Aklq"}),
            ),
        ),
        user_case(
            "path-less rename",
            user(json!({})),
            json!([{"op": "replace", "value": {"userName": "renamed@contoso.com"}}]),
            user(json!({"userName": "renamed@contoso.com"})),
        ),
        user_case(
            "path-less externalId",
            user(json!({"externalId": "a"})),
            json!([{"op": "replace", "value": {"externalId": "b"}}]),
            user(json!({"externalId": "b"})),
        ),
        user_case(
            "path-less value echoing read-only id and meta is accepted",
            user(json!({})),
            json!([{"op": "replace", "value": {"id": "u-1", "meta": {"resourceType": "User"}, "active": false}}]),
            user(json!({"active": false})),
        ),
        user_case("empty Operations is a no-op", user(json!({"nickName": "x"})), json!([]), user(json!({"nickName": "x"}))),
        user_case(
            "a replace with the current value changes nothing",
            user(json!({"nickName": "x"})),
            json!([{"op": "replace", "path": "nickName", "value": "x"}, {"op": "Replace", "path": "active", "value": "True"}]),
            user(json!({"nickName": "x"})),
        ),
    ]);
}

#[test]
fn manager_in_all_its_shapes() {
    let managed = |id: &str| with_enterprise(user(json!({})), json!({"manager": {"value": id}}));
    check(vec![
        user_case("object", user(json!({})), json!([{"op": "Add", "path": "manager", "value": {"value": "m1"}}]), managed("m1")),
        user_case("bare string", user(json!({})), json!([{"op": "Replace", "path": "manager", "value": "m1"}]), managed("m1")),
        user_case(
            "array with $ref",
            user(json!({})),
            json!([{"op": "Replace", "path": "manager", "value": [{"value": "m1", "$ref": "../Users/m1"}]}]),
            with_enterprise(user(json!({})), json!({"manager": {"value": "m1", "$ref": "../Users/m1"}})),
        ),
        user_case(
            "URN path, new manager drops the old $ref",
            with_enterprise(user(json!({})), json!({"manager": {"value": "m0", "$ref": "../Users/m0"}})),
            json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m1"}]),
            managed("m1"),
        ),
        user_case(
            "path-less with the enterprise URN key",
            user(json!({})),
            json!([{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "m1"}}]),
            managed("m1"),
        ),
        user_case(
            "path-less extension object",
            user(json!({})),
            json!([{"op": "add", "value": {ENTERPRISE: {"manager": {"value": "m1"}}}}]),
            managed("m1"),
        ),
        user_case("empty string removes", managed("m0"), json!([{"op": "Replace", "path": "manager", "value": ""}]), user(json!({}))),
        user_case("remove", managed("m0"), json!([{"op": "Remove", "path": "manager"}]), user(json!({}))),
        user_case(
            "manager.value path",
            user(json!({})),
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m1"}]),
            managed("m1"),
        ),
    ]);
}

#[test]
fn group_members() {
    let members = |ids: &[&str]| group(json!({"members": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>()}));
    check(vec![
        group_case(
            "add with a null $ref",
            group(json!({})),
            json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]),
            members(&["f648f8d5ea4e4cd38e9c"]),
        ),
        group_case(
            "several members in one add, one already there",
            members(&["a"]),
            json!([{"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]}]),
            members(&["a", "b", "c"]),
        ),
        group_case(
            "remove only the listed members",
            members(&["u1090", "u1091", "u1092"]),
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}]),
            members(&["u1090", "u1092"]),
        ),
        group_case(
            "remove by value filter",
            members(&["7f4bc1a3-285e-48ae-8202-5accb43efb0e", "b"]),
            json!([{"op": "remove", "path": "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}]),
            members(&["b"]),
        ),
        group_case("remove all", members(&["a", "b"]), json!([{"op": "Remove", "path": "members"}]), group(json!({}))),
        group_case(
            "several operations on members, in order",
            members(&["a"]),
            json!([
                {"op": "Add", "path": "members", "value": [{"value": "b"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "a"}]},
                {"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "c"}]}
            ]),
            members(&["b", "a", "c"]),
        ),
        group_case(
            "replace members",
            members(&["a", "b"]),
            json!([{"op": "replace", "path": "members", "value": [{"value": "c"}]}]),
            members(&["c"]),
        ),
        group_case(
            "rename the group",
            group(json!({"externalId": "e"})),
            json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]),
            group(json!({"displayName": "Sales EMEA", "externalId": "e"})),
        ),
    ]);
}

#[test]
fn member_changes_are_reported_for_the_store_not_applied() {
    let request = PatchRequest::from_json(&patch(json!([
        {"op": "Add", "path": "members", "value": [{"value": "u1", "$ref": null, "display": "Ursula"}]},
        {"op": "remove", "path": "members[value eq \"u2\"]"},
        {"op": "remove", "path": "members[type eq \"Group\"]"}
    ])))
    .unwrap();
    let mut resource = group(json!({}));
    let outcome = apply_patch(&GROUP_RESOURCE, &mut resource, &request).unwrap();
    assert!(!outcome.changed, "the group item itself did not change");
    assert_eq!(resource, group(json!({})));
    assert_eq!(outcome.changed_attributes, vec!["members".to_string()]);
    assert_eq!(outcome.apart.len(), 3);
    assert_eq!(
        outcome.apart[0],
        ApartChange { attribute: "members", change: ValuesChange::Add(vec![json!({"value": "u1", "display": "Ursula"})]) }
    );
    assert_eq!(outcome.apart[1], ApartChange { attribute: "members", change: ValuesChange::Remove(vec![json!({"value": "u2"})]) });
    assert!(matches!(&outcome.apart[2].change, ValuesChange::RemoveMatching(filter) if filter.to_string() == "type eq \"Group\""));
}

#[test]
fn rfc7644_examples() {
    check(vec![
        user_case(
            "3.5.2.1 path-less add (lower-case nickname)",
            user(json!({})),
            json!([{"op": "add", "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"}}]),
            user(json!({"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickName": "Babs"})),
        ),
        user_case(
            "3.5.2.2 remove matching emails",
            user(json!({"emails": [{"type": "work", "value": "a@example.com"}, {"type": "home", "value": "b@example.com"}]})),
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
            user(json!({"emails": [{"type": "home", "value": "b@example.com"}]})),
        ),
        user_case(
            "3.5.2.2 remove a sub-attribute of matched values",
            user(json!({"emails": [{"type": "work", "value": "a@example.com", "display": "A"}]})),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].display"}]),
            user(json!({"emails": [{"type": "work", "value": "a@example.com"}]})),
        ),
        user_case(
            "3.5.2.3 replace all emails, new primary",
            user(json!({"emails": [{"type": "home", "value": "x@y"}]})),
            json!([{"op": "replace", "value": {"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}], "nickName": "Babs"}}]),
            user(json!({"emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}], "nickName": "Babs"})),
        ),
        user_case(
            "3.5.2.3 replace a matched address",
            user(json!({"addresses": [{"type": "work", "streetAddress": "1 Old St", "locality": "Old"}]})),
            json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": {
                "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "postalCode": "91608", "primary": true}}]),
            user(
                json!({"addresses": [{"type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood", "postalCode": "91608", "primary": true}]}),
            ),
        ),
        user_case(
            "3.5.2.3 replace a sub-attribute of a matched address",
            user(json!({"addresses": [{"type": "work", "streetAddress": "1 Old St"}]})),
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
            user(json!({"addresses": [{"type": "work", "streetAddress": "1010 Broadway Ave"}]})),
        ),
        user_case(
            "adding a primary email makes the others non-primary",
            user(json!({"emails": [{"type": "home", "value": "h@x", "primary": true}]})),
            json!([{"op": "add", "path": "emails", "value": [{"type": "work", "value": "w@x", "primary": true}]}]),
            user(json!({"emails": [{"type": "home", "value": "h@x"}, {"type": "work", "value": "w@x", "primary": true}]})),
        ),
        user_case(
            "adding an email of an existing type updates it",
            user(json!({"emails": [{"type": "work", "value": "old@x"}]})),
            json!([{"op": "add", "path": "emails", "value": {"type": "work", "value": "new@x"}}]),
            user(json!({"emails": [{"type": "work", "value": "new@x"}]})),
        ),
        group_case(
            "3.5.2.2 remove all members then add new ones",
            group(json!({"members": [{"value": "a"}]})),
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"display": "Babs Jensen", "$ref": "https://example.com/v2/Users/2819c223", "value": "2819c223"}]}
            ]),
            group(json!({"members": [{"$ref": "https://example.com/v2/Users/2819c223", "display": "Babs Jensen", "value": "2819c223"}]})),
        ),
    ]);
}

fn expect_error(resource_type: &ResourceType, before: Value, operations: Value, scim_type: ScimType, detail: &str) {
    let error = run(resource_type, &before, &patch(operations.clone())).expect_err(&operations.to_string());
    assert_eq!(error.status, 400, "{operations}");
    assert_eq!(error.scim_type, Some(scim_type), "{operations}: {}", error.detail);
    assert!(error.detail.contains(detail), "{operations}: {}", error.detail);
}

#[test]
fn invalid_operations_name_the_problem() {
    let u = || user(json!({"emails": [{"type": "work", "value": "a@x"}]}));
    expect_error(&USER_RESOURCE, u(), json!([{"op": "replace", "path": "id", "value": "x"}]), ScimType::Mutability, "id is readOnly");
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
        ScimType::Mutability,
        "groups is readOnly",
    );
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "replace", "path": "favouriteColour", "value": "x"}]),
        ScimType::InvalidPath,
        "favouriteColour is not an attribute of a User",
    );
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "replace", "path": "name.nope", "value": "x"}]),
        ScimType::InvalidPath,
        "has no sub-attribute \"nope\"",
    );
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
        ScimType::InvalidPath,
        "no closing",
    );
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}]),
        ScimType::InvalidPath,
        "no closing",
    );
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "x"}]),
        ScimType::InvalidPath,
        "single-valued",
    );
    expect_error(&USER_RESOURCE, u(), json!([{"op": "remove"}]), ScimType::NoTarget, "needs a \"path\"");
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "replace", "path": "emails[value co \"zzz\"].type", "value": "home"}]),
        ScimType::NoTarget,
        "no value of emails matches",
    );
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "Replace", "path": "active", "value": "maybe"}]),
        ScimType::InvalidValue,
        "active must be a boolean",
    );
    expect_error(&USER_RESOURCE, u(), json!([{"op": "remove", "path": "userName"}]), ScimType::InvalidValue, "userName is required");
    expect_error(&USER_RESOURCE, u(), json!([{"op": "replace"}]), ScimType::InvalidValue, "needs a \"value\" object");
    expect_error(&USER_RESOURCE, u(), json!([{"op": "replace", "path": "nickName"}]), ScimType::InvalidValue, "needs a \"value\"");
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "merge", "path": "nickName", "value": "x"}]),
        ScimType::InvalidSyntax,
        "\"op\" must be",
    );
    expect_error(
        &USER_RESOURCE,
        u(),
        json!([{"op": "add", "path": "emails", "value": [{"type": "home", "value": "1", "primary": true}, {"type": "other", "value": "2", "primary": true}]}]),
        ScimType::InvalidValue,
        "marked primary",
    );
    expect_error(
        &GROUP_RESOURCE,
        group(json!({})),
        json!([{"op": "add", "path": "members", "value": [{"display": "x"}]}]),
        ScimType::InvalidValue,
        "has no \"value\"",
    );
    expect_error(
        &GROUP_RESOURCE,
        group(json!({})),
        json!([{"op": "add", "path": "members[value eq \"a\"]", "value": {"value": "a"}}]),
        ScimType::InvalidPath,
        "selects values to remove",
    );
    expect_error(
        &GROUP_RESOURCE,
        group(json!({})),
        json!([{"op": "replace", "path": "displayName", "value": ""}]),
        ScimType::InvalidValue,
        "displayName is required",
    );
}

#[test]
fn error_details_say_which_operation_failed() {
    let error = run(
        &USER_RESOURCE,
        &user(json!({})),
        &patch(json!([
            {"op": "replace", "path": "nickName", "value": "ok"},
            {"op": "replace", "path": "id", "value": "x"}
        ])),
    )
    .unwrap_err();
    assert!(error.detail.starts_with("Operations[1]: "), "{}", error.detail);
}

#[test]
fn a_failed_patch_leaves_the_resource_untouched() {
    let before = user(json!({"nickName": "keep", "emails": [{"type": "work", "value": "a@x"}]}));
    let request = PatchRequest::from_json(&patch(json!([
        {"op": "replace", "path": "nickName", "value": "changed"},
        {"op": "remove", "path": "emails"},
        {"op": "replace", "path": "active", "value": "not a boolean"}
    ])))
    .unwrap();
    let mut resource = before.clone();
    assert!(apply_patch(&USER_RESOURCE, &mut resource, &request).is_err());
    assert_eq!(serde_json::to_string(&resource).unwrap(), serde_json::to_string(&before).unwrap());
}

/// Every PATCH form that can set a unique name stores it trimmed and NFC, and refuses
/// invisible characters in it (docs/ENTRA.md §5 lists the forms Entra uses).
#[test]
fn unique_names_are_normalised_by_every_patch_form() {
    let renamed = || user(json!({"userName": "bob@contoso.com"}));
    let sent = " bob@contoso.com\u{a0}";
    check(vec![
        user_case("path", user(json!({})), json!([{"op": "Replace", "path": "userName", "value": sent}]), renamed()),
        user_case("add", user(json!({})), json!([{"op": "add", "path": "USERNAME", "value": sent}]), renamed()),
        user_case("URN path", user(json!({})), json!([{"op": "replace", "path": format!("{USER}:userName"), "value": sent}]), renamed()),
        user_case("path-less", user(json!({})), json!([{"op": "Replace", "value": {"userName": sent}}]), renamed()),
        user_case("path-less URN key", user(json!({})), json!([{"op": "replace", "value": {format!("{USER}:userName"): sent}}]), renamed()),
        user_case(
            "a spelling of the current name changes nothing",
            user(json!({})),
            json!([{"op": "replace", "path": "userName", "value": "  alice@contoso.com "}]),
            user(json!({})),
        ),
        group_case(
            "group displayName, decomposed accent",
            group(json!({})),
            json!([{"op": "replace", "value": {"displayName": "Caf\u{65}\u{301} "}}]),
            group(json!({"displayName": "Caf\u{e9}"})),
        ),
    ]);
    for operations in [
        json!([{"op": "replace", "path": "userName", "value": "bob@contoso.com\u{200b}"}]),
        json!([{"op": "Replace", "value": {"userName": "bob\ncontoso"}}]),
    ] {
        let error = run(&USER_RESOURCE, &user(json!({})), &patch(operations.clone())).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{operations}");
        assert!(error.detail.starts_with("Operations[0]: userName contains U+"), "{}", error.detail);
    }
    let error = run(&USER_RESOURCE, &user(json!({})), &patch(json!([{"op": "replace", "path": "userName", "value": " "}]))).unwrap_err();
    assert!(error.detail.contains("userName is required"), "{}", error.detail);
}

#[test]
fn a_patch_body_with_schemas_lists_patch_op() {
    for schemas in [json!(["urn:ietf:params:scim:schemas:core:2.0:User"]), json!(["urn:evil"]), json!([])] {
        let body = json!({"schemas": schemas, "Operations": [{"op": "add", "path": "nickName", "value": "x"}]});
        let error = PatchRequest::from_json(&body).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{body}");
        assert!(error.detail.contains("must list \"urn:ietf:params:scim:api:messages:2.0:PatchOp\""), "{}", error.detail);
    }
    let mixed = json!({"schemas": ["urn:x", "URN:IETF:PARAMS:SCIM:API:MESSAGES:2.0:PATCHOP"], "Operations": []});
    assert!(PatchRequest::from_json(&mixed).is_ok());
}

#[test]
fn malformed_bodies_are_invalid_syntax() {
    for body in [
        json!([]),
        json!({"schemas": []}),
        json!({"Operations": {}}),
        json!({"Operations": ["add"]}),
        json!({"Operations": [{"path": "x"}]}),
    ] {
        let error = PatchRequest::from_json(&body).unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidSyntax), "{body}");
    }
    // Lenient where Entra varies: key case and a missing schemas.
    let request = PatchRequest::from_json(&json!({"operations": [{"OP": "ADD", "Path": "nickName", "Value": "x"}]})).unwrap();
    assert_eq!(request.operations.len(), 1);
}
