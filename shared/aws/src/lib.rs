//! AWS adapters. [`DynamoDbStore`]: the item store port on one DynamoDB table.
//! [`SesMailer`] (module [`ses`]): the enrollment mailer port on Amazon SES.
//! [`ssm::link_key`]: the enrollment link key from an SSM SecureString, and each tenant's EAA
//! credentials. [`lambda_invoke::LambdaSyncTrigger`]: "sync now" as an asynchronous invoke.
//!
//! The mapping is one port call = one DynamoDB request (plus retries):
//! get → `GetItem` (consistent), put/delete → `PutItem`/`DeleteItem` with a
//! `ConditionExpression`, transact → `TransactWriteItems` (`Check` → `ConditionCheck`,
//! `CancellationReasons` → per-operation reasons), query → `Query` (consistent on the
//! table; GSIs cannot be read consistently), with `LastEvaluatedKey` carried in the opaque
//! cursor.
//!
//! Retries are done here, not by the SDK (its retries are switched off): one policy covers
//! throttling error codes, 5xx, network failures and `TransactionConflict` inside
//! cancellation reasons (which the SDK does not retry), and when the attempts run out the
//! caller gets [`StoreError::Throttled`] / [`StoreError::Unavailable`] — never a silently
//! dropped write. Transactions carry a `ClientRequestToken`, so a retry after an
//! ambiguous failure (timeout) is idempotent. A retried single put/delete after an
//! ambiguous failure can, as with any DynamoDB client, report `ConditionFailed` for a
//! write that did land: callers re-read on `ConditionFailed` before reporting a conflict.

mod cursor;
pub mod lambda_invoke;
mod retry;
pub mod ses;
pub mod ssm;

use std::collections::HashMap;
use std::time::Duration;

pub use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use item_store::{
    Attributes, CancelReason, Condition, Cursor, Item, ItemStore, Key, PK_ATTR, Page, Query, SK_ATTR, SortKey, StoreError, TransactOp,
    validate_item, validate_key, validate_query, validate_transaction,
};

use retry::Failure;
pub use retry::RetryPolicy;
pub use ses::SesMailer;

/// The AWS configuration of the environment (the Lambda runtime's role and region):
/// loaded once per cold start and handed to every client the function builds.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

type Av = HashMap<String, AttributeValue>;

/// The item store on one DynamoDB table (see the crate docs for the mapping).
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    retry: RetryPolicy,
}

/// The longest one DynamoDB request attempt may take in the Lambda functions
/// ([`DynamoDbStore::from_config`]) before it counts as failed and [`RetryPolicy`] takes
/// over. Without it, an endpoint that accepts connections and never answers holds a
/// request until the function times out (no SCIM error, no `Retry-After`). DynamoDB
/// answers in milliseconds; 1.5 s times the default 5 attempts, plus backoff, stays under
/// the API functions' 10 s timeout, so the client gets 503 with `Retry-After` instead.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);

impl DynamoDbStore {
    /// A store on `table` through `client`. The client's own retries are switched off:
    /// this store retries by [`RetryPolicy`] (see the crate docs for why). Its timeouts are
    /// the client's (none by default: the tests' DynamoDB-compatible server can take
    /// seconds for a large transaction); see [`DynamoDbStore::with_attempt_timeout`].
    pub fn new(client: &Client, table: impl Into<String>) -> Self {
        let config = client.config().to_builder().retry_config(RetryConfig::disabled()).build();
        Self { client: Client::from_conf(config), table: table.into(), retry: RetryPolicy::default() }
    }

    /// Replaces the attempt timeout (see [`ATTEMPT_TIMEOUT`]).
    pub fn with_attempt_timeout(self, attempt_timeout: Duration) -> Self {
        let timeouts = TimeoutConfig::builder().operation_attempt_timeout(attempt_timeout);
        let timeouts = match self.client.config().timeout_config() {
            Some(current) => timeouts.take_unset_from(current.to_builder()).build(),
            None => timeouts.build(),
        };
        let config = self.client.config().to_builder().timeout_config(timeouts).build();
        Self { client: Client::from_conf(config), ..self }
    }

    /// A store on `table` with the credentials and region of `config` (the Lambda
    /// runtime's role, see [`load_sdk_config`]); attempts time out after [`ATTEMPT_TIMEOUT`].
    pub fn from_config(config: &SdkConfig, table: impl Into<String>) -> Self {
        Self::new(&Client::new(config), table).with_attempt_timeout(ATTEMPT_TIMEOUT)
    }

    /// Replaces the retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// A condition as a DynamoDB condition expression with its names and values.
#[derive(Default)]
struct Expression {
    text: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Av>,
}

fn expression(condition: Condition) -> Expression {
    let pk_name = || Some(HashMap::from([("#pk".to_string(), PK_ATTR.to_string())]));
    match condition {
        Condition::None => Expression::default(),
        Condition::Absent => Expression { text: Some("attribute_not_exists(#pk)".into()), names: pk_name(), values: None },
        Condition::Present => Expression { text: Some("attribute_exists(#pk)".into()), names: pk_name(), values: None },
        Condition::VersionEquals(version) => Expression {
            text: Some("#version = :version".into()),
            names: Some(HashMap::from([("#version".to_string(), item_store::VERSION_ATTR.to_string())])),
            values: Some(HashMap::from([(":version".to_string(), AttributeValue::N(version.to_string()))])),
        },
        Condition::AttributeIn { name, values } => {
            let placeholders: Vec<String> = (0..values.len()).map(|i| format!(":in{i}")).collect();
            Expression {
                text: Some(format!("attribute_exists(#pk) AND #in IN ({})", placeholders.join(", "))),
                names: Some(HashMap::from([("#pk".to_string(), PK_ATTR.to_string()), ("#in".to_string(), name)])),
                values: Some(placeholders.into_iter().zip(values).map(|(p, v)| (p, AttributeValue::S(v))).collect()),
            }
        }
    }
}

/// `SET #i0 = if_not_exists(#i0, :zero) + :i0, ...` for an `Increment`, with the
/// condition's names and values merged in (theirs are `#pk`, `#version`, `:version`).
fn increment_expression(
    by: &[(String, i64)],
    names: Option<HashMap<String, String>>,
    values: Option<Av>,
) -> (String, HashMap<String, String>, Av) {
    let mut names = names.unwrap_or_default();
    let mut values = values.unwrap_or_default();
    values.insert(":zero".into(), AttributeValue::N("0".into()));
    let mut sets = Vec::with_capacity(by.len());
    for (i, (attribute, delta)) in by.iter().enumerate() {
        names.insert(format!("#i{i}"), attribute.clone());
        values.insert(format!(":i{i}"), AttributeValue::N(delta.to_string()));
        sets.push(format!("#i{i} = if_not_exists(#i{i}, :zero) + :i{i}"));
    }
    (format!("SET {}", sets.join(", ")), names, values)
}

fn key_av(key: &Key) -> Av {
    HashMap::from([(PK_ATTR.to_string(), AttributeValue::S(key.pk.clone())), (SK_ATTR.to_string(), AttributeValue::S(key.sk.clone()))])
}

fn item_av(item: &Item) -> Result<Av, StoreError> {
    let mut av: Av = serde_dynamo::to_item(&item.attrs).map_err(|e| StoreError::Invalid(format!("item {}: {e}", item.key)))?;
    av.extend(key_av(&item.key));
    Ok(av)
}

fn item_from_av(mut av: Av) -> Result<Item, StoreError> {
    let mut key_part = |name: &str| match av.remove(name) {
        Some(AttributeValue::S(s)) => Ok(s),
        other => Err(StoreError::Unavailable(format!("DynamoDB item without a string {name:?} key: {other:?}"))),
    };
    let key = Key::new(key_part(PK_ATTR)?, key_part(SK_ATTR)?);
    let attrs: Attributes =
        serde_dynamo::from_item(av).map_err(|e| StoreError::Unavailable(format!("DynamoDB item {key} is not JSON-shaped: {e}")))?;
    Ok(Item { key, attrs })
}

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("building a DynamoDB request: {e}"))
}

/// A key condition expression for a query on the partition attribute `pk_attr` and sort
/// attribute `sk_attr`.
fn key_condition(query: &Query, pk_attr: &str, sk_attr: &str) -> Expression {
    let mut values = HashMap::from([(":pk".to_string(), AttributeValue::S(query.pk.clone()))]);
    let mut value = |name: &str, v: &str| {
        values.insert(name.to_string(), AttributeValue::S(v.to_string()));
    };
    let sort = match &query.sort {
        SortKey::All => None,
        SortKey::Equals(s) => {
            value(":a", s);
            Some("#sk = :a")
        }
        SortKey::Prefix(p) => {
            value(":a", p);
            Some("begins_with(#sk, :a)")
        }
        SortKey::Between(a, b) => {
            value(":a", a);
            value(":b", b);
            Some("#sk BETWEEN :a AND :b")
        }
        SortKey::Less(s) => {
            value(":a", s);
            Some("#sk < :a")
        }
        SortKey::LessOrEqual(s) => {
            value(":a", s);
            Some("#sk <= :a")
        }
        SortKey::Greater(s) => {
            value(":a", s);
            Some("#sk > :a")
        }
        SortKey::GreaterOrEqual(s) => {
            value(":a", s);
            Some("#sk >= :a")
        }
    };
    let mut names = HashMap::from([("#pk".to_string(), pk_attr.to_string())]);
    let text = match sort {
        Some(sort) => {
            names.insert("#sk".to_string(), sk_attr.to_string());
            format!("#pk = :pk AND {sort}")
        }
        None => "#pk = :pk".to_string(),
    };
    Expression { text: Some(text), names: Some(names), values: Some(values) }
}

/// DynamoDB rejects `BETWEEN a AND b` with a > b; the port answers "no items".
fn is_empty_between(sort: &SortKey) -> bool {
    matches!(sort, SortKey::Between(a, b) if a > b)
}

/// A random token that makes retries of one transaction idempotent (DynamoDB remembers
/// it for 10 minutes).
fn request_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// Maps a transaction's cancellation reasons: condition failures are the answer; only
/// contention or throttling is worth a retry; anything else is a request DynamoDB refuses.
fn cancellation(ops: usize, error: &aws_sdk_dynamodb::types::error::TransactionCanceledException) -> Failure {
    let codes: Vec<Option<&str>> = error.cancellation_reasons().iter().map(|r| r.code().filter(|c| *c != "None")).collect();
    if codes.len() != ops {
        return Failure::Final(StoreError::Unavailable(format!(
            "DynamoDB canceled a transaction of {ops} operations with {} reasons: {error}",
            codes.len()
        )));
    }
    if codes.contains(&Some("ConditionalCheckFailed")) {
        let reasons = codes.iter().map(|c| (*c == Some("ConditionalCheckFailed")).then_some(CancelReason::ConditionFailed)).collect();
        return Failure::Final(StoreError::TransactionCanceled { reasons });
    }
    let retryable = ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"];
    if codes.iter().flatten().all(|c| retryable.contains(c)) {
        return Failure::Retry { throttled: true, detail: format!("transaction canceled: {codes:?}") };
    }
    Failure::Final(StoreError::Invalid(format!("DynamoDB refused the transaction: {codes:?} ({error})")))
}

impl ItemStore for DynamoDbStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        validate_key(key)?;
        let request = self.client.get_item().table_name(&self.table).set_key(Some(key_av(key))).consistent_read(true);
        let output = self.retry.run("GetItem", || async { request.clone().send().await.map_err(retry::classify) }).await?;
        output.item.map(item_from_av).transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        validate_item(&item)?;
        let expr = expression(condition);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_av(&item)?))
            .set_condition_expression(expr.text)
            .set_expression_attribute_names(expr.names)
            .set_expression_attribute_values(expr.values);
        self.retry.run("PutItem", || async { request.clone().send().await.map_err(retry::classify) }).await?;
        Ok(())
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        validate_key(key)?;
        let expr = expression(condition);
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_av(key)))
            .set_condition_expression(expr.text)
            .set_expression_attribute_names(expr.names)
            .set_expression_attribute_values(expr.values);
        self.retry.run("DeleteItem", || async { request.clone().send().await.map_err(retry::classify) }).await?;
        Ok(())
    }

    async fn transact(&self, ops: Vec<TransactOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let count = ops.len();
        let mut items = Vec::with_capacity(count);
        for op in &ops {
            let expr = expression(op.condition().clone());
            let item = match op {
                TransactOp::Put { item, .. } => TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item_av(item)?))
                        .set_condition_expression(expr.text)
                        .set_expression_attribute_names(expr.names)
                        .set_expression_attribute_values(expr.values)
                        .build()
                        .map_err(build_error)?,
                ),
                TransactOp::Delete { key, .. } => TransactWriteItem::builder().delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .set_condition_expression(expr.text)
                        .set_expression_attribute_names(expr.names)
                        .set_expression_attribute_values(expr.values)
                        .build()
                        .map_err(build_error)?,
                ),
                TransactOp::Increment { key, by, .. } => {
                    let (update, names, values) = increment_expression(by, expr.names, expr.values);
                    TransactWriteItem::builder().update(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(key_av(key)))
                            .update_expression(update)
                            .set_condition_expression(expr.text)
                            .set_expression_attribute_names(Some(names))
                            .set_expression_attribute_values(Some(values))
                            .build()
                            .map_err(build_error)?,
                    )
                }
                TransactOp::Check { key, .. } => TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .set_condition_expression(expr.text)
                        .set_expression_attribute_names(expr.names)
                        .set_expression_attribute_values(expr.values)
                        .build()
                        .map_err(build_error)?,
                ),
            };
            items.push(item.build());
        }
        let request = self.client.transact_write_items().set_transact_items(Some(items)).client_request_token(request_token());
        self.retry
            .run("TransactWriteItems", || async {
                request.clone().send().await.map_err(|e| match &e {
                    SdkError::ServiceError(service) => match service.err() {
                        TransactWriteItemsError::TransactionCanceledException(canceled) => cancellation(count, canceled),
                        _ => retry::classify(e),
                    },
                    _ => retry::classify(e),
                })
            })
            .await
            .map(|_| ())
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        validate_query(query)?;
        if is_empty_between(&query.sort) {
            return Ok(Page::default());
        }
        let (pk_attr, sk_attr) = match &query.index {
            Some(index) => (index.pk_attr, index.sk_attr),
            None => (PK_ATTR, SK_ATTR),
        };
        let start = query.cursor.as_ref().map(|c| cursor::decode(c, query)).transpose()?;
        let expr = key_condition(query, pk_attr, sk_attr);
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(query.index.map(|i| i.name.to_string()))
            .consistent_read(query.index.is_none())
            .set_key_condition_expression(expr.text)
            .set_expression_attribute_names(expr.names)
            .set_expression_attribute_values(expr.values)
            .scan_index_forward(!query.descending)
            .set_limit(query.limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
            .set_exclusive_start_key(start);
        let output = self.retry.run("Query", || async { request.clone().send().await.map_err(retry::classify) }).await?;
        let cursor = output.last_evaluated_key.as_ref().map(cursor::encode).transpose()?.map(Cursor);
        let items = output.items.unwrap_or_default().into_iter().map(item_from_av).collect::<Result<_, _>>()?;
        Ok(Page { items, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn service_error(code: &str, status: u16) -> SdkError<PutItemError, HttpResponse> {
        let error = PutItemError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let status = StatusCode::try_from(status).expect("status");
        SdkError::service_error(error, HttpResponse::new(status, SdkBody::empty()))
    }

    fn retried(failure: &Failure) -> Option<bool> {
        match failure {
            Failure::Retry { throttled, .. } => Some(*throttled),
            Failure::Final(_) => None,
        }
    }

    #[test]
    fn throttling_and_server_errors_are_retried_others_are_answers() {
        for code in
            ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "TransactionConflictException"]
        {
            assert_eq!(retried(&retry::classify(service_error(code, 400))), Some(true), "{code}");
        }
        assert_eq!(retried(&retry::classify(service_error("InternalServerError", 500))), Some(false));
        assert_eq!(retried(&retry::classify(service_error("ServiceUnavailable", 503))), Some(false));
        let answer = |code, status| match retry::classify(service_error(code, status)) {
            Failure::Final(e) => e,
            Failure::Retry { detail, .. } => panic!("{code} retried: {detail}"),
        };
        assert_eq!(answer("ConditionalCheckFailedException", 400), StoreError::ConditionFailed);
        assert!(matches!(answer("ValidationException", 400), StoreError::Invalid(_)));
        assert!(matches!(answer("AccessDeniedException", 400), StoreError::Unavailable(_)));
    }

    fn canceled(codes: &[&str]) -> TransactionCanceledException {
        let mut builder = TransactionCanceledException::builder().message("canceled");
        for code in codes {
            builder = builder.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        builder.build()
    }

    #[test]
    fn cancellation_reasons_point_at_failed_conditions_and_conflicts_are_retried() {
        let failure = cancellation(3, &canceled(&["None", "ConditionalCheckFailed", "TransactionConflict"]));
        let Failure::Final(StoreError::TransactionCanceled { reasons }) = failure else {
            panic!("a failed condition is the answer");
        };
        assert_eq!(reasons, vec![None, Some(CancelReason::ConditionFailed), None]);
        let conflict = cancellation(2, &canceled(&["None", "TransactionConflict"]));
        assert_eq!(retried(&conflict), Some(true));
        let refused = cancellation(1, &canceled(&["ValidationError"]));
        assert!(matches!(refused, Failure::Final(StoreError::Invalid(_))));
        let mismatched = cancellation(2, &canceled(&["ConditionalCheckFailed"]));
        assert!(matches!(mismatched, Failure::Final(StoreError::Unavailable(_))));
    }

    #[test]
    fn the_attempt_timeout_is_set_and_other_timeouts_kept() {
        use aws_sdk_dynamodb::config::{BehaviorVersion, Region};
        let attempt = |store: &DynamoDbStore| store.client.config().timeout_config().and_then(|t| t.operation_attempt_timeout());
        let own = TimeoutConfig::builder().connect_timeout(Duration::from_secs(1)).build();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .timeout_config(own);
        let store = DynamoDbStore::new(&Client::from_conf(config.build()), "t");
        assert_eq!(attempt(&store), None);
        let store = store.with_attempt_timeout(ATTEMPT_TIMEOUT);
        assert_eq!(attempt(&store), Some(ATTEMPT_TIMEOUT));
        assert_eq!(store.client.config().timeout_config().and_then(|t| t.connect_timeout()), Some(Duration::from_secs(1)));
    }

    #[test]
    fn conditions_map_to_expressions() {
        assert!(expression(Condition::None).text.is_none());
        assert_eq!(expression(Condition::Absent).text.as_deref(), Some("attribute_not_exists(#pk)"));
        let version = expression(Condition::VersionEquals(7));
        assert_eq!(version.text.as_deref(), Some("#version = :version"));
        assert_eq!(version.values.and_then(|v| v.get(":version").cloned()), Some(AttributeValue::N("7".into())));
    }
}
