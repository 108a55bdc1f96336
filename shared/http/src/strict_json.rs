//! Request bodies as JSON, refusing an object that holds a key twice.
//!
//! serde_json keeps the last of two equal keys, so `{"userName":"a","userName":"b"}`
//! would be read as `b` while a proxy, a log or the client itself may read `a`. SCIM
//! attribute names are case-insensitive and this service treats `userName` and
//! `USERNAME` as one attribute, so keys that differ only in ASCII case are the same key
//! here too. The check runs while the body is parsed, in the one pass that builds the
//! `Value`: one set of folded keys per object, nothing for arrays and scalars.
//!
//! Depth stays bounded: serde_json's deserializer refuses nesting deeper than 128 levels
//! whatever visitor it drives, so this one recurses no deeper than `Value`'s own.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes` as one JSON value. A repeated key is a data error (serde_json's
/// `Category::Data`) whose message names the key; anything else is serde_json's own.
pub(crate) fn parse(bytes: &[u8]) -> serde_json::Result<Value> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = UniqueKeys.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Builds a `Value` like serde_json's own, refusing repeated keys in any object.
#[derive(Clone, Copy)]
struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // As serde_json's `Value` does: JSON has no NaN or infinity, so this is never
        // `Null` for a parsed number.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut elements: A) -> Result<Value, A::Error> {
        let mut array = Vec::with_capacity(elements.size_hint().unwrap_or(0));
        while let Some(element) = elements.next_element_seed(UniqueKeys)? {
            array.push(element);
        }
        Ok(Value::Array(array))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        let mut folded_keys = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            if !folded_keys.insert(key.to_ascii_lowercase()) {
                return Err(de::Error::custom(repeated(&object, &key)));
            }
            let value = entries.next_value_seed(UniqueKeys)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// What to tell a client whose object holds `key` a second time (as it is, or in another
/// case), with the keys quoted within bounds.
fn repeated(object: &Map<String, Value>, key: &str) -> String {
    let quoted = |text: &str| scim::coerce::describe(&Value::String(text.to_string()));
    match object.keys().find(|earlier| earlier.eq_ignore_ascii_case(key)) {
        Some(earlier) if earlier != key => format!(
            "the body holds the keys {} and {} in one object; attribute names are case-insensitive, so they name the same \
             attribute: send it once",
            quoted(earlier),
            quoted(key)
        ),
        _ => format!("the body holds the key {} twice in one object: send each key once", quoted(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::error::Category;

    #[test]
    fn bodies_parse_as_serde_json_parses_them() {
        let texts = [
            r#"{"a":[1,-2,3.5,true,null,"x\u00e9"],"b":{"c":{}},"d":[],"e":18446744073709551615,"f":-9223372036854775808}"#,
            "{\"a\":1}",
            " [1,2] ",
            "\"x\"",
            "12",
            "null",
        ];
        for text in texts {
            assert_eq!(parse(text.as_bytes()).unwrap(), serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        for broken in ["{\"a\":1} x", "{\"a\":", "[1,]", "{'a':1}", "1e400"] {
            let error = parse(broken.as_bytes()).unwrap_err();
            assert_ne!(error.classify(), Category::Data, "{broken}: {error}");
            assert_eq!(error.to_string(), serde_json::from_str::<Value>(broken).unwrap_err().to_string(), "{broken}");
        }
    }

    #[test]
    fn a_key_twice_is_refused_at_any_depth() {
        for (text, key) in [
            (r#"{"userName":"a","userName":"b"}"#, "\"userName\""),
            (r#"{"Operations":[{"op":"add","op":"remove"}]}"#, "\"op\""),
            (r#"[[{"x":{"y":1,"y":2}}]]"#, "\"y\""),
        ] {
            let error = parse(text.as_bytes()).unwrap_err();
            assert_eq!(error.classify(), Category::Data, "{text}");
            assert!(error.to_string().contains(&format!("the key {key} twice")), "{error}");
        }
        // Equal keys in different objects are no repetition.
        assert!(parse(br#"{"a":{"v":1},"b":{"v":2},"c":[{"v":3},{"v":4}]}"#).is_ok());
    }

    #[test]
    fn keys_differing_only_in_case_are_the_same_attribute() {
        let error = parse(br#"{"userName":"a","USERNAME":"b"}"#).unwrap_err();
        assert_eq!(error.classify(), Category::Data);
        assert!(error.to_string().contains("\"userName\" and \"USERNAME\""), "{error}");
        // Only ASCII letters fold: these are two keys.
        assert!(parse("{\"\u{e9}\":1,\"\u{c9}\":2}".as_bytes()).is_ok());
    }

    #[test]
    fn nesting_is_bounded_like_serde_json() {
        let nested = |depth: usize| format!("{}1{}", "[{\"a\":".repeat(depth), "}]".repeat(depth));
        assert!(parse(nested(60).as_bytes()).is_ok(), "120 levels");
        let error = parse(nested(10_000).as_bytes()).unwrap_err();
        assert!(error.to_string().contains("recursion limit"), "{error}");
    }

    #[test]
    fn a_long_repeated_key_is_cut_in_the_message() {
        let key = "k".repeat(100_000);
        let error = parse(format!("{{\"{key}\":1,\"{key}\":2}}").as_bytes()).unwrap_err();
        assert!(error.to_string().len() < 300, "{}", error.to_string().len());
    }
}
