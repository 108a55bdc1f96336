//! The query cursor of the DynamoDB store: `LastEvaluatedKey` as a JSON object of its
//! (string) key attributes. DynamoDB keys in this table are all strings, so nothing is
//! lost; the cursor is checked against the query before it is handed back to DynamoDB.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use item_store::{Cursor, PK_ATTR, Query, SK_ATTR, StoreError};

/// Encodes a `LastEvaluatedKey`.
pub(crate) fn encode(key: &HashMap<String, AttributeValue>) -> Result<Vec<u8>, StoreError> {
    let strings = key
        .iter()
        .map(|(name, value)| match value {
            AttributeValue::S(s) => Ok((name.as_str(), s.as_str())),
            other => Err(StoreError::Unavailable(format!(
                "DynamoDB returned a non-string key attribute {name:?}: {other:?}"
            ))),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    serde_json::to_vec(&strings)
        .map_err(|e| StoreError::Unavailable(format!("encoding a cursor: {e}")))
}

/// Decodes a cursor into an `ExclusiveStartKey` for `query`: it must hold exactly the key
/// attributes of the table (and of the index, for index queries), with the query's
/// partition key.
pub(crate) fn decode(
    cursor: &Cursor,
    query: &Query,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let invalid =
        |why: &str| StoreError::Invalid(format!("cursor does not belong to this query: {why}"));
    let strings: BTreeMap<String, String> =
        serde_json::from_slice(&cursor.0).map_err(|_| invalid("not a DynamoDB store cursor"))?;
    let mut expected = vec![PK_ATTR, SK_ATTR];
    let partition_attr = match &query.index {
        Some(index) => {
            expected.extend([index.pk_attr, index.sk_attr]);
            index.pk_attr
        }
        None => PK_ATTR,
    };
    if strings.len() != expected.len() || !expected.iter().all(|a| strings.contains_key(*a)) {
        return Err(invalid("wrong key attributes"));
    }
    if strings.get(partition_attr) != Some(&query.pk) {
        return Err(invalid("another partition"));
    }
    Ok(strings
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use item_store::GSI1;

    #[test]
    fn round_trips_and_rejects_foreign_cursors() {
        let key: HashMap<String, AttributeValue> =
            [("pk", "p"), ("sk", "s"), ("gsi1pk", "ip"), ("gsi1sk", "is")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
                .collect();
        let cursor = Cursor(encode(&key).expect("encode"));
        assert_eq!(decode(&cursor, &Query::index(GSI1, "ip")), Ok(key));
        for query in [
            Query::index(GSI1, "other"),
            Query::partition("ip"),
            Query::index(item_store::GSI2, "ip"),
        ] {
            assert!(
                matches!(decode(&cursor, &query), Err(StoreError::Invalid(_))),
                "{query:?}"
            );
        }
        assert!(decode(&Cursor(b"junk".to_vec()), &Query::partition("p")).is_err());
        let number = HashMap::from([("pk".to_string(), AttributeValue::N("1".into()))]);
        assert!(encode(&number).is_err());
    }
}
