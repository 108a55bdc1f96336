//! Attribute paths (RFC 7644 section 3.10): `[URN ":"] attrName ["." subAttr]`.
//! Used by filters, PATCH paths, `attributes`/`excludedAttributes` and `sortBy`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, without the final `:`.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn new(name: impl Into<String>) -> Self {
        AttrPath { urn: None, name: name.into(), sub: None }
    }

    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        AttrPath { urn: None, name: name.into(), sub: Some(sub.into()) }
    }

    /// Parses a complete attribute path, or `None` when it is not one. A URN prefix
    /// runs to the last `:` (schema URNs contain dots, as in `2.0`, and attribute
    /// names contain no colon).
    pub fn parse(text: &str) -> Option<AttrPath> {
        let (urn, rest) = match text.get(..4) {
            Some(prefix) if prefix.eq_ignore_ascii_case("urn:") => {
                let colon = text.rfind(':')?;
                (Some(text[..colon].to_string()), &text[colon + 1..])
            }
            _ => (None, text),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        if !is_attr_name(name) || !sub.is_none_or(is_attr_name) {
            return None;
        }
        Some(AttrPath { urn, name: name.to_string(), sub: sub.map(str::to_string) })
    }
}

/// `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA`, plus `$ref`.
pub fn is_attr_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_sub_and_urn_paths() {
        assert_eq!(AttrPath::parse("userName"), Some(AttrPath::new("userName")));
        assert_eq!(AttrPath::parse("name.givenName"), Some(AttrPath::with_sub("name", "givenName")));
        let manager = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
        assert_eq!(manager.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(manager.name, "manager");
        assert_eq!(manager.sub.as_deref(), Some("value"));
        assert_eq!(AttrPath::parse("members.$ref"), Some(AttrPath::with_sub("members", "$ref")));
    }

    #[test]
    fn rejects_what_is_not_a_path() {
        for bad in ["", "1abc", "a.b.c", "emails[type eq \"work\"]", "a b", "urn:", "name."] {
            assert_eq!(AttrPath::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn prints_what_it_parsed() {
        for text in ["userName", "name.familyName", "urn:ietf:params:scim:schemas:core:2.0:User:emails.value"] {
            assert_eq!(AttrPath::parse(text).unwrap().to_string(), text);
        }
    }
}
