//! Request rules shared by every implementation, so that a request DynamoDB would reject
//! is rejected by the embedded store too (and before a round trip by the DynamoDB adapter).

use std::collections::HashSet;

use serde_json::Value;

use crate::{INDEXES, Index, Item, Key, PK_ATTR, Query, SK_ATTR, StoreError, TransactOp};

/// The largest item accepted, measured by [`item_size`]. DynamoDB's limit is 400 KB of its
/// own encoding; this is a little lower so that an item accepted by the embedded store is
/// accepted by DynamoDB too.
pub const MAX_ITEM_BYTES: usize = 400_000;

/// The most operations in one transaction (DynamoDB's limit).
pub const MAX_TRANSACT_OPS: usize = 100;

/// DynamoDB's limits on key lengths, in bytes.
const MAX_PK_BYTES: usize = 2048;
const MAX_SK_BYTES: usize = 1024;

/// The size of an item as counted against [`MAX_ITEM_BYTES`]: key and attribute names plus
/// the JSON encoding of the values (an approximation of DynamoDB's count that errs high).
pub fn item_size(item: &Item) -> usize {
    let values: usize = item.attrs.iter().map(|(name, value)| name.len() + json_len(value)).sum();
    PK_ATTR.len() + item.key.pk.len() + SK_ATTR.len() + item.key.sk.len() + values
}

fn json_len(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s.len(),
        Value::Array(a) => 3 + a.iter().map(|v| 1 + json_len(v)).sum::<usize>(),
        Value::Object(o) => 3 + o.iter().map(|(k, v)| 1 + k.len() + json_len(v)).sum::<usize>(),
    }
}

/// A key is valid when both parts are non-empty and within DynamoDB's length limits.
pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid(format!("empty key part in {key}: DynamoDB keys must be non-empty strings")));
    }
    if key.pk.len() > MAX_PK_BYTES || key.sk.len() > MAX_SK_BYTES {
        return Err(StoreError::Invalid(format!(
            "key too long ({} / {} bytes; limits {MAX_PK_BYTES} / {MAX_SK_BYTES})",
            key.pk.len(),
            key.sk.len()
        )));
    }
    Ok(())
}

/// An item is valid when its key is, its attributes do not shadow the key, its index key
/// attributes (when present) are non-empty strings, and it is not too large.
pub fn validate_item(item: &Item) -> Result<(), StoreError> {
    validate_key(&item.key)?;
    for reserved in [PK_ATTR, SK_ATTR] {
        if item.attrs.contains_key(reserved) {
            return Err(StoreError::Invalid(format!(
                "item {}: attribute {reserved:?} is the key and must not be among the attributes",
                item.key
            )));
        }
    }
    for index in INDEXES {
        for attr in [index.pk_attr, index.sk_attr] {
            match item.attrs.get(attr) {
                None => {}
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(other) => {
                    return Err(StoreError::Invalid(format!(
                        "item {}: index key attribute {attr:?} must be a non-empty string, got {other}",
                        item.key
                    )));
                }
            }
        }
    }
    let size = item_size(item);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::Invalid(format!("item {} is {size} bytes; the limit is {MAX_ITEM_BYTES}", item.key)));
    }
    Ok(())
}

/// The item's key in `index`, when it has both key attributes (sparse index).
/// Call on validated items: non-string attributes are treated as absent.
pub fn index_key<'a>(item: &'a Item, index: &Index) -> Option<(&'a str, &'a str)> {
    Some((item.str_attr(index.pk_attr)?, item.str_attr(index.sk_attr)?))
}

/// A transaction is valid when it has 1 to [`MAX_TRANSACT_OPS`] operations on distinct,
/// valid keys, its items are valid, every `Check` has a condition, and every `Increment`
/// names distinct attributes that are neither key nor index attributes.
pub fn validate_transaction(ops: &[TransactOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACT_OPS {
        return Err(StoreError::Invalid(format!("a transaction has 1 to {MAX_TRANSACT_OPS} operations, got {}", ops.len())));
    }
    let mut keys = HashSet::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        match op {
            TransactOp::Put { item, .. } => validate_item(item)?,
            TransactOp::Delete { key, .. } => validate_key(key)?,
            TransactOp::Check { key, condition } => {
                validate_key(key)?;
                if *condition == crate::Condition::None {
                    return Err(StoreError::Invalid(format!("transaction operation {i}: a Check needs a condition")));
                }
            }
            TransactOp::Increment { key, by, .. } => {
                validate_key(key)?;
                validate_increment(i, by)?;
            }
        }
        if !keys.insert(op.key()) {
            return Err(StoreError::Invalid(format!("transaction operation {i}: key {} appears twice", op.key())));
        }
    }
    Ok(())
}

fn validate_increment(i: usize, by: &[(String, i64)]) -> Result<(), StoreError> {
    if by.is_empty() {
        return Err(StoreError::Invalid(format!("transaction operation {i}: an Increment needs at least one attribute")));
    }
    let reserved =
        |name: &str| name == PK_ATTR || name == SK_ATTR || INDEXES.iter().any(|index| name == index.pk_attr || name == index.sk_attr);
    let mut names = HashSet::with_capacity(by.len());
    for (name, _) in by {
        if name.is_empty() || reserved(name) || !names.insert(name.as_str()) {
            return Err(StoreError::Invalid(format!(
                "transaction operation {i}: cannot increment {name:?} (empty, a key or index attribute, or twice)"
            )));
        }
    }
    Ok(())
}

/// A query is valid when its index is declared, its partition key non-empty and its
/// limit (if any) at least 1.
pub fn validate_query(query: &Query) -> Result<(), StoreError> {
    if let Some(index) = &query.index
        && !INDEXES.contains(index)
    {
        return Err(StoreError::Invalid(format!("unknown index {:?}", index.name)));
    }
    if query.pk.is_empty() {
        return Err(StoreError::Invalid("query partition key must be non-empty".into()));
    }
    if query.limit == Some(0) {
        return Err(StoreError::Invalid("query limit must be at least 1".into()));
    }
    Ok(())
}
