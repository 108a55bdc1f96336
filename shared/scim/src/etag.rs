//! `meta.version` as an entity tag, and the `If-Match` / `If-None-Match`
//! preconditions (RFC 7644 section 3.14, RFC 9110 section 13.1).
//!
//! Versions are weak tags (`W/"3"`): the JSON we render for a version may vary in
//! key order or projection, so byte equality is never promised. Both preconditions
//! therefore use weak comparison, accepting `"3"` and `W/"3"` alike.

use crate::error::{Result, ScimError};

/// The `ETag` header and `meta.version` value for a resource version.
pub fn etag(version: u64) -> String {
    format!("W/\"{version}\"")
}

/// A parsed `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current version.
    Any,
    /// The versions listed. Well-formed tags that are not one of our versions (not a
    /// decimal number) are dropped: they can never match.
    Versions(Vec<u64>),
}

impl Precondition {
    /// Parses `*` or a comma-separated list of entity tags, each `"opaque"` or
    /// `W/"opaque"`. Anything else is a 400 `invalidValue`.
    pub fn parse(header: &str) -> Result<Precondition> {
        let header = header.trim();
        if header == "*" {
            return Ok(Precondition::Any);
        }
        let mut versions = Vec::new();
        let mut rest = header;
        let mut tags = 0usize;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let quoted = rest.strip_prefix("W/").unwrap_or(rest);
            let opaque_and_rest =
                quoted.strip_prefix('"').ok_or_else(|| invalid(header, "an entity tag must be quoted, as in \"3\" or W/\"3\""))?;
            let end = opaque_and_rest.find('"').ok_or_else(|| invalid(header, "an entity tag is missing its closing quote"))?;
            let opaque = &opaque_and_rest[..end];
            if !opaque.bytes().all(is_etag_char) {
                return Err(invalid(header, "an entity tag contains a character that is not allowed"));
            }
            rest = &opaque_and_rest[end + 1..];
            if !(rest.is_empty() || rest.starts_with([' ', '\t', ','])) {
                return Err(invalid(header, "entity tags must be separated by commas"));
            }
            tags += 1;
            if let Ok(version) = opaque.parse::<u64>() {
                versions.push(version);
            }
        }
        if tags == 0 {
            return Err(invalid(header, "the header lists no entity tag"));
        }
        Ok(Precondition::Versions(versions))
    }

    pub fn matches(&self, version: u64) -> bool {
        match self {
            Precondition::Any => true,
            Precondition::Versions(versions) => versions.contains(&version),
        }
    }
}

/// `etagc = %x21 / %x23-7E / obs-text` (RFC 9110 section 8.8.3).
fn is_etag_char(byte: u8) -> bool {
    byte == 0x21 || (0x23..=0x7E).contains(&byte) || byte >= 0x80
}

fn invalid(header: &str, why: &str) -> ScimError {
    ScimError::invalid_value(format!("invalid entity tag list {header:?}: {why}"))
}

/// Succeeds when there is no `If-Match` header or it matches `current_version`;
/// otherwise 412, naming the current version so the client can re-read and retry.
pub fn check_if_match(header: Option<&str>, current_version: u64) -> Result<()> {
    let Some(header) = header else { return Ok(()) };
    if Precondition::parse(header)?.matches(current_version) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed(format!("If-Match {header} does not match the current version {}", etag(current_version))))
    }
}

/// Whether a GET should answer 304 Not Modified: the `If-None-Match` header lists the
/// current version, or is `*` (the resource exists, since it has a version).
pub fn check_if_none_match(header: Option<&str>, current_version: u64) -> Result<bool> {
    match header {
        None => Ok(false),
        Some(header) => Ok(Precondition::parse(header)?.matches(current_version)),
    }
}
