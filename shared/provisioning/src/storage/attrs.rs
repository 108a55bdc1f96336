//! Reading attributes of stored items.

use item_store::Attributes;
use serde_json::Value;

use crate::error::{Error, Result};

/// Reads a string attribute of a stored item, or reports the item as malformed.
pub(crate) fn str_attr<'a>(attrs: &'a Attributes, name: &str) -> Result<&'a str> {
    attrs.get(name).and_then(Value::as_str).ok_or_else(|| Error::Internal(format!("stored item lacks string attribute {name:?}")))
}

/// A counter or version attribute; absent counts as 0.
pub(crate) fn u64_attr(attrs: &Attributes, name: &str) -> u64 {
    attrs.get(name).and_then(Value::as_u64).unwrap_or(0)
}
