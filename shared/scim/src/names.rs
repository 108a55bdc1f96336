//! Unique names (`userName`, a group's `displayName`): what a client sends becomes one
//! canonical spelling, so that two spellings of one name cannot be two resources.
//!
//! A name is refused when it holds a character nobody can see or type on purpose:
//! control characters (C0 and C1, so CR, LF, TAB and NUL too), the line and paragraph
//! separators, and the Unicode format characters (general category Cf: zero-width
//! spaces and joiners, direction marks and overrides, the byte order mark, tags...).
//! Otherwise it is trimmed of surrounding white space and put in Unicode Normalization
//! Form C, so that `"é"` typed as one character or as `e` plus a combining accent is one
//! name. Case is left as sent: names compare case-insensitively, and the storage layer
//! folds case in its keys.
//!
//! Which attributes are names is data: [`crate::schema::Attribute::is_unique_name`].

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::error::{Result, ScimError};

/// The Unicode format characters (general category Cf, Unicode 15.1), as inclusive
/// ranges. Small enough to list; none of them is visible in a name.
const FORMAT_CHARACTERS: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` may not appear in a name: a control character, a line or paragraph
/// separator, or a format character.
pub fn is_refused(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || FORMAT_CHARACTERS.iter().any(|(first, last)| (*first..=*last).contains(&c))
}

/// The canonical spelling of the name `text` given for the attribute `label`: refused
/// characters are a 400 `invalidValue` naming the first one, and a name that is empty
/// once trimmed is `None` (unassigned, which the required check then reports).
pub fn normalise(text: &str, label: &str) -> Result<Option<String>> {
    if let Some((position, refused)) = text.chars().enumerate().find(|(_, c)| is_refused(*c)) {
        return Err(ScimError::invalid_value(format!(
            "{label} contains U+{:04X} at character {}, a control or invisible formatting character: \
             remove it and send the name as it is displayed",
            u32::from(refused),
            position + 1
        )));
    }
    let canonical = comparable(text);
    Ok((!canonical.is_empty()).then(|| canonical.into_owned()))
}

/// A filter's or lookup's literal for a name, in the form names are stored in (trimmed,
/// NFC), so that `userName eq " Alice "` finds `Alice`. Borrowed when already so (always
/// for ASCII), so comparing costs no allocation.
pub fn comparable(text: &str) -> Cow<'_, str> {
    nfc(text.trim())
}

/// `text` in Unicode Normalization Form C; borrowed when it already is.
pub fn nfc(text: &str) -> Cow<'_, str> {
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => Cow::Borrowed(text),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(text.nfc().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Attribute, GROUP, USER};

    #[test]
    fn surrounding_spaces_go_and_text_becomes_nfc() {
        for sent in [" alice@x.com", "alice@x.com ", "\u{3000}alice@x.com\u{a0}", "alice@x.com"] {
            assert_eq!(normalise(sent, "userName").unwrap().as_deref(), Some("alice@x.com"), "{sent:?}");
        }
        // "é" as e + combining acute becomes the one precomposed character.
        assert_eq!(normalise("Jose\u{301}", "userName").unwrap().as_deref(), Some("Jos\u{e9}"));
        assert_eq!(normalise("Alice", "userName").unwrap().as_deref(), Some("Alice"), "case is kept");
        // Inner spaces are part of the name.
        assert_eq!(normalise(" Sales  Team ", "displayName").unwrap().as_deref(), Some("Sales  Team"));
    }

    #[test]
    fn a_name_of_spaces_is_unassigned() {
        assert_eq!(normalise("   ", "userName").unwrap(), None);
        assert_eq!(normalise("\u{2003}", "userName").unwrap(), None);
    }

    #[test]
    fn invisible_and_control_characters_are_refused_by_code_point() {
        let cases = [
            ("alice@x.com\u{200b}", "U+200B at character 12"),
            ("\u{feff}alice", "U+FEFF at character 1"),
            ("al\rice", "U+000D"),
            ("al\nice", "U+000A"),
            ("al\tice", "U+0009"),
            ("al\0ice", "U+0000"),
            ("alice\n", "U+000A"),
            ("al\u{85}ice", "U+0085"),
            ("al\u{7f}ice", "U+007F"),
            ("al\u{2028}ice", "U+2028"),
            ("\u{202e}ecila", "U+202E"),
            ("al\u{2060}ice", "U+2060"),
            ("al\u{2064}ice", "U+2064"),
            ("al\u{ad}ice", "U+00AD"),
            ("al\u{e0041}ice", "U+E0041"),
        ];
        for (sent, expected) in cases {
            let error = normalise(sent, "userName").unwrap_err();
            assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue), "{sent:?}");
            assert!(error.detail.starts_with("userName contains "), "{}", error.detail);
            assert!(error.detail.contains(expected), "{sent:?}: {}", error.detail);
            assert!(error.detail.contains("remove it"), "{}", error.detail);
        }
    }

    #[test]
    fn every_listed_format_range_is_refused_and_its_neighbours_are_not() {
        for (first, last) in FORMAT_CHARACTERS {
            assert!(is_refused(first) && is_refused(last), "{first:?}..{last:?}");
        }
        for allowed in ['a', ' ', '\u{a0}', '\u{e9}', '\u{301}', '\u{2027}', '\u{2065}', '\u{fe0f}', '\u{4e2d}', '\u{1f600}'] {
            assert!(!is_refused(allowed), "{allowed:?}");
        }
    }

    #[test]
    fn comparable_borrows_what_is_already_canonical() {
        assert!(matches!(comparable("alice@x.com"), Cow::Borrowed("alice@x.com")));
        assert!(matches!(comparable(" alice "), Cow::Borrowed("alice")));
        assert_eq!(comparable(" Jose\u{301} "), "Jos\u{e9}");
    }

    #[test]
    fn the_unique_names_are_user_name_and_group_display_name() {
        let names = |attributes: &[Attribute]| attributes.iter().filter(|a| a.is_unique_name()).map(|a| a.name).collect::<Vec<_>>();
        assert_eq!(names(USER.attributes), ["userName"]);
        assert_eq!(names(GROUP.attributes), ["displayName"]);
        assert_eq!(names(&crate::schema::COMMON_ATTRIBUTES), Vec::<&str>::new(), "id is the service's, not a client's name");
    }
}
