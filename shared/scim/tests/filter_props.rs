use proptest::prelude::*;
use scim::AttrPath;
use scim::filter::{self, CompValue, CompareOp, Filter};
use scim::schema::USER_RESOURCE;
use serde_json::json;

const OPERATORS: [CompareOp; 9] =
    [CompareOp::Eq, CompareOp::Ne, CompareOp::Co, CompareOp::Sw, CompareOp::Ew, CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le];

/// Attribute names, including ones spelled like the filter's keywords.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z][a-zA-Z0-9_-]{0,10}",
        1 => prop::sample::select(vec!["and", "OR", "not", "Not", "pr", "eq", "GE", "true", "null", "$ref", "userName", "emails"])
            .prop_map(str::to_string),
    ]
}

fn urn() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec![
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "URN:example:x-1.2:Thing",
    ]))
    .prop_map(|urn| urn.map(str::to_string))
}

fn top_path() -> BoxedStrategy<AttrPath> {
    (urn(), name(), prop::option::of(name())).prop_map(|(urn, name, sub)| AttrPath { urn, name, sub }).boxed()
}

fn value_path_path() -> impl Strategy<Value = AttrPath> {
    (urn(), name()).prop_map(|(urn, name)| AttrPath { urn, name, sub: None })
}

fn sub_path() -> BoxedStrategy<AttrPath> {
    name().prop_map(AttrPath::new).boxed()
}

fn literal() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |n| serde_json::Number::from_f64(n).map(CompValue::Number)),
        any::<String>().prop_map(CompValue::Str),
        r#"[a-z"\\\t\n\u{0}-\u{1f}é€😀 ()\[\]]{0,12}"#.prop_map(CompValue::Str),
    ]
}

fn leaf(path: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        3 => (path.clone(), prop::sample::select(OPERATORS.to_vec()), literal())
            .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        1 => path.prop_map(Filter::Present),
    ]
}

/// And/Or/Not over `leaves`, built canonical: an And never holds an And, nor an Or
/// an Or, and both have at least two operands.
fn logic(leaves: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaves
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 2..4).prop_map(|operands| flatten(operands, true)),
                prop::collection::vec(inner.clone(), 2..4).prop_map(|operands| flatten(operands, false)),
                inner.prop_map(|operand| Filter::Not(Box::new(operand))),
            ]
        })
        .boxed()
}

fn flatten(operands: Vec<Filter>, and: bool) -> Filter {
    let mut flat = Vec::new();
    for operand in operands {
        match (operand, and) {
            (Filter::And(inner), true) | (Filter::Or(inner), false) => flat.extend(inner),
            (other, _) => flat.push(other),
        }
    }
    if and { Filter::And(flat) } else { Filter::Or(flat) }
}

fn filter() -> impl Strategy<Value = Filter> {
    let value_path = (value_path_path(), logic(leaf(sub_path()).boxed()))
        .prop_map(|(path, filter)| Filter::ValuePath { path, filter: Box::new(filter) });
    let leaves = prop_oneof![3 => leaf(top_path()), 1 => value_path].boxed();
    logic(leaves)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn printed_filters_parse_back(filter in filter()) {
        let text = filter.to_string();
        prop_assert_eq!(filter::parse(&text), Ok(filter), "{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = filter::parse(&text);
    }

    #[test]
    fn filter_like_text_never_panics(text in r#"[a-z. :\[\]()"\\0-9é-]{0,60}|((emails|not|and|or|eq|pr|\(|\)|\[|\]|"x"|\.value|type|1|true| ){0,30})"#) {
        if let Ok(filter) = filter::parse(&text) {
            prop_assert_eq!(filter::parse(&filter.to_string()), Ok(filter.clone()));
            let user = json!({"userName": "a", "emails": [{"type": "work", "value": "a@b"}]});
            let _ = filter.matches(&USER_RESOURCE, &user);
            let _ = filter.validate(&USER_RESOURCE);
        }
    }
}
