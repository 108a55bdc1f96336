use scim::filter::{self, CompValue, CompareOp, Filter, MAX_DEPTH, MAX_TERMS};
use scim::schema::{Attribute, GROUP_RESOURCE, USER_RESOURCE};
use scim::{AttrPath, ScimType};
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn alice() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "id": "54D3",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "alice@contoso.com",
        "name": {"familyName": "O'Malley", "givenName": "Alice"},
        "title": "Engineer",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "alice@example.com", "type": "work", "primary": true},
            {"value": "alice@home.org", "type": "home"}
        ],
        "ims": [{"value": "alice@jabber.org", "type": "xmpp"}],
        "meta": {"resourceType": "User", "lastModified": "2012-01-01T00:00:00Z"},
        ENTERPRISE: {"employeeNumber": "1", "manager": {"value": "2819"}}
    })
}

fn bob() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "77",
        "externalId": "jyoung",
        "userName": "john",
        "name": {"familyName": "Smith"},
        "userType": "Intern",
        "active": false,
        "emails": [{"value": "john@example.org", "type": "home"}, {"value": "a@b.com", "type": "home"}],
        // The same instant as 2011-05-13T04:42:34Z.
        "meta": {"lastModified": "2011-05-13T06:42:34+02:00"}
    })
}

fn carol() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "c1",
        "userName": "Çarol",
        "title": "",
        "userType": "Contractor",
        "emails": [{"value": "a@b.com", "type": "work"}],
        "ims": [{"value": "carol@foo.com", "type": "xmpp"}],
        "meta": {"lastModified": "2010-01-01T00:00:00Z"}
    })
}

fn parsed(text: &str) -> Filter {
    filter::parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"))
}

/// Checks a filter against alice, bob and carol.
fn check_users(cases: &[(&str, [bool; 3])]) {
    let users = [alice(), bob(), carol()];
    for (text, expected) in cases {
        let filter = parsed(text);
        filter.validate(&USER_RESOURCE).unwrap_or_else(|e| panic!("{text:?} does not validate: {e}"));
        let actual = users.each_ref().map(|user| filter.matches(&USER_RESOURCE, user));
        assert_eq!(&actual, expected, "{text} (alice, bob, carol)");
    }
}

#[test]
fn rfc_7644_examples_parse_and_evaluate() {
    check_users(&[
        (r#"userName Eq "john""#, [false, true, false]),
        (r#"name.familyName co "O'Malley""#, [true, false, false]),
        (r#"userName sw "J""#, [false, true, false]),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, [false, true, false]),
        ("title pr", [true, false, false]),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, [true, false, false]),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, [true, true, false]),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, [false, false, true]),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, [false, true, true]),
        (r#"title pr and userType eq "Employee""#, [true, false, false]),
        (r#"title pr or userType eq "Intern""#, [true, true, false]),
        (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, [true, false, false]),
        (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, [true, false, false]),
        (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, [false, false, true]),
        (r#"userType eq "Employee" and (emails.type eq "work")"#, [true, false, false]),
        (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, [true, false, false]),
        (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, [true, false, true]),
    ]);
}

#[test]
fn entra_queries_parse_and_evaluate() {
    check_users(&[
        (r#"userName eq "alice@contoso.com""#, [true, false, false]),
        (r#"USERNAME eq "ALICE@contoso.com""#, [true, false, false]),
        (r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#, [true, false, false]),
        ("externalId eq jyoung", [false, true, false]),
        // externalId is caseExact.
        ("externalId eq JYOUNG", [false, false, false]),
        // bob's a@b.com is a home address: the type and the value must hold for one element.
        (r#"emails[type eq "work"].value eq "a@b.com""#, [false, false, true]),
        (r#"id eq "54D3" and manager eq "2819""#, [true, false, false]),
        (r#"id eq "77" and manager eq "2819""#, [false, false, false]),
    ]);

    let sales = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Sales", "members": [{"value": "54D3"}]});
    let marketing = json!({"id": "g2", "displayName": "Marketing", "members": []});
    for (text, expected) in [
        (r#"displayName eq "Sales""#, [true, false]),
        (r#"displayname EQ "sALES""#, [true, false]),
        (r#"members eq "54D3""#, [true, false]),
        (r#"members[value eq "54D3"]"#, [true, false]),
        ("members pr", [true, false]),
    ] {
        let filter = parsed(text);
        assert_eq!([filter.matches(&GROUP_RESOURCE, &sales), filter.matches(&GROUP_RESOURCE, &marketing)], expected, "{text}");
    }
}

#[test]
fn comparison_semantics() {
    check_users(&[
        // Booleans, also as the strings Entra sends.
        ("active eq true", [true, false, false]),
        (r#"active eq "False""#, [false, true, false]),
        ("active ne true", [false, true, true]),
        ("emails.primary eq true", [true, false, false]),
        // null: unassigned, and "" counts as unassigned.
        ("nickName eq null", [true, true, true]),
        ("title eq null", [false, true, true]),
        ("title ne null", [true, false, false]),
        // ne is not eq, over all of a multi-valued attribute's elements.
        (r#"emails.type ne "home""#, [false, false, true]),
        // Case-insensitive string comparison, ASCII and not.
        (r#"userName eq "çAROL""#, [false, false, true]),
        (r#"userName sw "ÇA""#, [false, false, true]),
        (r#"userName ew "ROL""#, [false, false, true]),
        (r#"userName co "ARO""#, [false, false, true]),
        (r#"userName ew "CONTOSO.COM""#, [true, false, false]),
        (r#"userName gt "bob""#, [false, true, true]),
        (r#"userName le "alice@contoso.com""#, [true, false, false]),
        // caseExact attributes.
        (r#"id eq "54d3""#, [false, false, false]),
        (r#"manager eq "2819""#, [true, false, false]),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "2819""#, [true, false, false]),
        // A number literal against a string attribute compares as text.
        ("employeeNumber eq 1", [true, false, false]),
        // Instants, not text.
        (r#"meta.lastModified eq "2011-05-13T04:42:34Z""#, [false, true, false]),
        (r#"meta.lastModified sw "2011""#, [false, true, false]),
        // schemas: URNs compare case-insensitively.
        (r#"schemas eq "URN:IETF:params:scim:schemas:core:2.0:User""#, [true, true, true]),
        // A complex attribute without a value sub-attribute compares as nothing.
        (r#"name eq "Smith""#, [false, false, false]),
        ("name pr", [true, true, false]),
        // Unknown attributes match nothing, whatever the operator.
        (r#"shoeSize eq "9""#, [false, false, false]),
        (r#"shoeSize ne "9""#, [false, false, false]),
        ("shoeSize pr", [false, false, false]),
        ("emails.shoeSize pr", [false, false, false]),
        (r#"not (shoeSize eq "9")"#, [true, true, true]),
        // Value paths on a single-valued complex attribute and with not inside.
        (r#"name[familyName eq "smith"]"#, [false, true, false]),
        (r#"emails[not (type eq "work")]"#, [true, true, false]),
    ]);
}

#[test]
fn matches_element_evaluates_one_element() {
    let emails = USER_RESOURCE.find_attribute(None, "emails").expect("emails").attribute;
    let work = json!({"type": "work", "value": "a@example.com", "primary": true});
    let home = json!({"type": "home", "value": "b@example.com"});
    for (text, expected) in [
        (r#"type eq "work""#, [true, false]),
        (r#"TYPE eq "WORK" and value ew "@EXAMPLE.COM""#, [true, false]),
        ("primary pr", [true, false]),
        (r#"value co "b@""#, [false, true]),
        (r#"not (type eq "work")"#, [false, true]),
    ] {
        let filter = parsed(text);
        assert_eq!([filter.matches_element(emails, &work), filter.matches_element(emails, &home)], expected, "{text}");
    }

    let members = GROUP_RESOURCE.find_attribute(None, "members").expect("members").attribute;
    let member = json!({"value": "Ab1", "type": "User"});
    assert!(parsed(r#"value eq "Ab1""#).matches_element(members, &member));
    // members.value is caseExact.
    assert!(!parsed(r#"value eq "ab1""#).matches_element(members, &member));

    static TAGS: Attribute = Attribute::string("tags").multi_valued();
    assert!(parsed(r#"value eq "RED""#).matches_element(&TAGS, &json!("red")));
    assert!(!parsed(r#"value eq "blue""#).matches_element(&TAGS, &json!("red")));
    assert!(!parsed(r#"type eq "red""#).matches_element(&TAGS, &json!("red")));
}

fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
    Filter::Compare { path, op, value }
}

fn eq(name: &str, text: &str) -> Filter {
    compare(AttrPath::parse(name).expect("path"), CompareOp::Eq, CompValue::Str(text.into()))
}

fn present(name: &str) -> Filter {
    Filter::Present(AttrPath::parse(name).expect("path"))
}

#[test]
fn parses_to_canonical_trees() {
    let number = |text: &str| CompValue::Number(text.parse().expect("number"));
    let cases: Vec<(&str, Filter)> = vec![
        (r#"userName eq "a\"b\\c\u00e9""#, eq("userName", "a\"b\\cé")),
        ("externalId eq jyoung", eq("externalId", "jyoung")),
        ("x eq TRUE", compare(AttrPath::new("x"), CompareOp::Eq, CompValue::Bool(true))),
        ("x ne False", compare(AttrPath::new("x"), CompareOp::Ne, CompValue::Bool(false))),
        ("x eq NULL", compare(AttrPath::new("x"), CompareOp::Eq, CompValue::Null)),
        ("x gt -12", compare(AttrPath::new("x"), CompareOp::Gt, number("-12"))),
        ("x LE 1.5e3", compare(AttrPath::new("x"), CompareOp::Le, number("1500.0"))),
        ("x eq 01", eq("x", "01")),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1\"",
            eq("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "1"),
        ),
        ("a pr AND (b pr and c pr) and d pr", Filter::And(vec![present("a"), present("b"), present("c"), present("d")])),
        ("a pr or b pr and c pr", Filter::Or(vec![present("a"), Filter::And(vec![present("b"), present("c")])])),
        ("(a pr Or b pr) or ((c pr))", Filter::Or(vec![present("a"), present("b"), present("c")])),
        ("not (a pr) and b pr", Filter::And(vec![Filter::Not(Box::new(present("a"))), present("b")])),
        ("NOT a pr", Filter::Not(Box::new(present("a")))),
        // Attributes may be named like keywords.
        (r#"not eq "x" and and pr"#, Filter::And(vec![eq("not", "x"), present("and")])),
        (
            r#"emails[type eq "work"].value eq "a@b.com""#,
            Filter::ValuePath {
                path: AttrPath::new("emails"),
                filter: Box::new(Filter::And(vec![eq("type", "work"), eq("value", "a@b.com")])),
            },
        ),
        (
            r#"emails[type eq "work" and primary pr].value pr"#,
            Filter::ValuePath {
                path: AttrPath::new("emails"),
                filter: Box::new(Filter::And(vec![eq("type", "work"), present("primary"), present("value")])),
            },
        ),
        (
            r#"emails[type eq "work" or type eq "home"].value eq "x""#,
            Filter::ValuePath {
                path: AttrPath::new("emails"),
                filter: Box::new(Filter::And(vec![Filter::Or(vec![eq("type", "work"), eq("type", "home")]), eq("value", "x")])),
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parsed(text), expected, "{text}");
    }
}

#[test]
fn prints_canonical_text_that_parses_back() {
    for (text, printed) in [
        (r#"userName Eq "john""#, r#"userName eq "john""#),
        ("externalId eq jyoung", r#"externalId eq "jyoung""#),
        (r#"a eq "x\ty\"""#, r#"a eq "x\ty\"""#),
        ("a eq true or b ne NULL", "a eq true or b ne null"),
        ("x gt 1E2", "x gt 100.0"),
        ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
        ("a pr and b pr or c pr", "a pr and b pr or c pr"),
        ("not a pr", "not (a pr)"),
        ("not (a pr and b pr)", "not (a pr and b pr)"),
        (r#"emails[type eq "work"].value eq "a@b.com""#, r#"emails[type eq "work" and value eq "a@b.com"]"#),
        (r#"emails[type eq "w" or type eq "h"].value pr"#, r#"emails[(type eq "w" or type eq "h") and value pr]"#),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr",
        ),
    ] {
        let filter = parsed(text);
        assert_eq!(filter.to_string(), printed, "{text}");
        assert_eq!(parsed(printed), filter, "{printed}");
    }
}

#[test]
fn required_equalities_lists_top_level_equalities() {
    let single = parsed(r#"userName eq "x""#);
    assert_eq!(single.required_equalities(), vec![(&AttrPath::new("userName"), "x")]);

    let both = parsed(r#"id eq "a" and manager eq "b""#);
    assert_eq!(both.required_equalities(), vec![(&AttrPath::new("id"), "a"), (&AttrPath::new("manager"), "b")]);

    assert!(parsed(r#"userName eq "x" or userName eq "y""#).required_equalities().is_empty());
}

#[test]
fn syntax_errors_name_the_position_and_the_problem() {
    for (text, detail) in [
        (
            r#"userName equals "x""#,
            r#"invalid filter at position 10: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or "pr" after "userName", found "equals""#,
        ),
        (
            "userName eq",
            r#"invalid filter at position 12: expected a value (a "string", a number, true, false or null) after "eq", found the end of the filter"#,
        ),
        (
            r#"(userName eq "x""#,
            r#"invalid filter at position 17: expected "and", "or" or ")" to close the "(" at position 1, found the end of the filter"#,
        ),
        (r#"userName eq "x"#, r#"invalid filter at position 13: unterminated string "x"#),
        (
            r#"emails[type eq "work""#,
            r#"invalid filter at position 22: expected "and", "or" or "]" to close the "[" at position 7, found the end of the filter"#,
        ),
        (r#"userName eq "x" garbage"#, r#"invalid filter at position 17: expected "and", "or" or the end of the filter, found "garbage""#),
        ("", "invalid filter at position 1: empty filter"),
        ("   ", "invalid filter at position 1: empty filter"),
        (
            "not userName",
            r#"invalid filter at position 13: expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le) or "pr" after "userName", found the end of the filter"#,
        ),
        (r#"userName eq "x")"#, r#"invalid filter at position 16: expected "and", "or" or the end of the filter, found ")""#),
        (
            r#"userName eq "x" and"#,
            r#"invalid filter at position 20: expected an attribute path, "not" or "(", found the end of the filter"#,
        ),
        (r#"1abc eq "x""#, r#"invalid filter at position 1: expected an attribute path, "not" or "(", found "1abc""#),
        (r#"é eq "x""#, r#"invalid filter at position 1: expected an attribute path, "not" or "(", found "é""#),
        (r#"a eq "\q""#, r#"invalid filter at position 6: invalid string "\q""#),
        (r#"emails[type[value pr]]"#, "invalid filter at position 12: value paths cannot be nested"),
        (r#"emails[emails.type pr]"#, r#"invalid filter at position 8: expected a sub-attribute name inside "[...]", found "emails.type""#),
        (r#"emails[type pr].1x pr"#, r#"invalid filter at position 16: expected a sub-attribute name after "].", found ".1x""#),
        (
            r#"userName eq ("#,
            r#"invalid filter at position 13: expected a value (a "string", a number, true, false or null) after "eq", found "(""#,
        ),
    ] {
        let error = filter::parse(text).expect_err(text);
        assert_eq!(error.scim_type, Some(ScimType::InvalidFilter), "{text}");
        assert_eq!(error.status, 400, "{text}");
        assert_eq!(error.detail, detail, "{text}");
    }
}

fn assert_too_complex(text: &str) {
    let error = filter::parse(text).expect_err("too complex");
    assert_eq!(error.scim_type, Some(ScimType::InvalidFilter));
    assert!(error.detail.starts_with("filter too complex: "), "{}", error.detail);
}

#[test]
fn limits_depth_and_terms() {
    let terms = |count: usize| vec!["a pr"; count].join(" or ");
    assert!(filter::parse(&terms(MAX_TERMS)).is_ok());
    assert_too_complex(&terms(MAX_TERMS + 1));
    assert_too_complex(&terms(5000));

    let nested = |depth: usize| format!("{}a pr{}", "(".repeat(depth), ")".repeat(depth));
    assert!(filter::parse(&nested(MAX_DEPTH)).is_ok());
    assert_too_complex(&nested(MAX_DEPTH + 1));
    assert_too_complex(&nested(10_000));
    assert_too_complex(&"(".repeat(100_000));
    assert_too_complex(&"not ".repeat(10_000));
    assert_too_complex(&format!("{}a pr", "not (".repeat(MAX_DEPTH + 1)));

    // `e[a or b].v pr` prints as `e[(a or b) and v pr]`: the added level counts.
    let inside = |depth: usize| format!("e[a pr or {}b pr{}].v pr", "not (".repeat(depth), ")".repeat(depth));
    let printable = parsed(&inside(MAX_DEPTH - 2));
    assert_eq!(parsed(&printable.to_string()), printable);
    assert_too_complex(&inside(MAX_DEPTH - 1));
    let without_suffix = format!("e[a pr or {}b pr{}]", "not (".repeat(MAX_DEPTH - 1), ")".repeat(MAX_DEPTH - 1));
    assert!(filter::parse(&without_suffix).is_ok());
}

#[test]
fn validate_refuses_what_rfc_7644_rules_out() {
    for text in [
        "active gt true",
        "active le false",
        r#"active co "t""#,
        "emails.primary ge true",
        "emails[primary lt true]",
        r#"x509Certificates.value gt "AA==""#,
        r#"userName[value eq "x"]"#,
    ] {
        let error = parsed(text).validate(&USER_RESOURCE).expect_err(text);
        assert_eq!(error.scim_type, Some(ScimType::InvalidFilter), "{text}");
    }
    for text in [
        r#"userName gt "a""#,
        "active eq true",
        r#"x509Certificates.value eq "AA==""#,
        r#"emails[type eq "work"]"#,
        r#"name[givenName sw "A"]"#,
        "shoeSize gt true",
        "shoeSize[x pr]",
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    ] {
        assert_eq!(parsed(text).validate(&USER_RESOURCE), Ok(()), "{text}");
    }
}
