//! The domain error: what went wrong, in terms the HTTP layer can answer with a SCIM
//! error (or 429/503 with `Retry-After` for a store that is throttling or unavailable).

use std::time::Duration;

use item_store::StoreError;
use scim::{ScimError, ScimType};

/// Every failure of a domain operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A protocol error decided by the SCIM core or by a domain rule (400/404/409/412..).
    Scim(ScimError),
    /// The caller may not do this (403), with the reason in the detail.
    Forbidden(String),
    /// The credential is unknown or revoked (401).
    Unauthorized,
    /// The store is throttling or unreachable: nothing was lost, the client should retry
    /// after `retry_after` (429 when `throttled`, else 503).
    Retryable { throttled: bool, retry_after: Duration, detail: String },
    /// A stored item does not have the shape this code writes, or the store refused a
    /// request this code should never make (500): a bug, never request data.
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How long a client should wait after the store was unavailable (it gives no hint).
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(1);

impl Error {
    pub fn not_found(detail: impl Into<String>) -> Self {
        Error::Scim(ScimError::not_found(detail))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Error::Scim(ScimError::uniqueness(detail))
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Error::Scim(ScimError::invalid_value(detail))
    }

    pub fn too_many(detail: impl Into<String>) -> Self {
        Error::Scim(ScimError::bad_request(ScimType::TooMany, detail))
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Retryable { .. })
    }

    /// The SCIM error to answer with. Retryable errors map to 429/503 (the HTTP layer adds
    /// `Retry-After` from [`Error::Retryable::retry_after`]).
    pub fn to_scim(&self) -> ScimError {
        match self {
            Error::Scim(error) => error.clone(),
            Error::Forbidden(detail) => ScimError::new(403, None, detail.clone()),
            Error::Unauthorized => ScimError::new(401, None, "the bearer token is not valid: check the Secret Token of the integration"),
            Error::Retryable { throttled, detail, .. } => ScimError::new(if *throttled { 429 } else { 503 }, None, detail.clone()),
            Error::Internal(detail) => ScimError::new(500, None, detail.clone()),
        }
    }

    /// A short text for the provisioning log.
    pub fn detail(&self) -> String {
        self.to_scim().detail
    }
}

impl From<ScimError> for Error {
    fn from(error: ScimError) -> Self {
        Error::Scim(error)
    }
}

impl From<Error> for ScimError {
    fn from(error: Error) -> Self {
        error.to_scim()
    }
}

impl From<StoreError> for Error {
    /// Condition failures are handled where they are expected (they mean 409 or 412 there);
    /// one that reaches this conversion was unexpected and is reported as retryable
    /// conflict, since a retry re-reads the current state.
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Throttled { retry_after } => {
                Error::Retryable { throttled: true, retry_after, detail: "the directory store is busy; retry after the delay".into() }
            }
            StoreError::Unavailable(detail) => {
                // The adapter's detail (an SDK's dispatch failure, an OS error, an endpoint)
                // is the operator's, for the log; the client learns what to do.
                tracing::warn!(store_detail = %detail, "the directory store is unavailable");
                Error::Retryable {
                    throttled: false,
                    retry_after: UNAVAILABLE_RETRY_AFTER,
                    detail: "the service is unavailable: its directory store cannot be reached right now; retry after the delay".into(),
                }
            }
            StoreError::ConditionFailed | StoreError::TransactionCanceled { .. } => {
                Error::Scim(ScimError::new(409, None, "the resource was changed concurrently; read it again and retry"))
            }
            StoreError::Invalid(detail) => Error::Internal(format!("store refused a request: {detail}")),
        }
    }
}
