//! The one retry policy of the DynamoDB adapter: jittered exponential backoff over a
//! bounded number of attempts, then a retryable [`StoreError`] for the caller.

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use item_store::StoreError;

/// How often and how patiently to retry throttled or failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Backoff cap before the first retry; doubles with each retry.
    pub base_delay: Duration,
    /// The most any one backoff can be.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 25 ms doubling, capped at 1 s: at most about 0.4 s of waiting on
    /// average, which a Lambda invocation can afford before the HTTP layer answers 503.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(1),
        }
    }
}

/// How one attempt failed.
pub(crate) enum Failure {
    /// Worth retrying. `throttled`: the store said it is overloaded (nothing written).
    Retry { throttled: bool, detail: String },
    /// The answer.
    Final(StoreError),
}

/// Error codes DynamoDB uses for "too many requests"; the request was not carried out.
const THROTTLING: [&str; 5] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// Classifies an SDK error (for any operation).
pub(crate) fn classify<E>(error: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = DisplayErrorContext(&error).to_string();
    match &error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            match service.err().code() {
                Some("ConditionalCheckFailedException") => {
                    Failure::Final(StoreError::ConditionFailed)
                }
                Some(code) if THROTTLING.contains(&code) => Failure::Retry {
                    throttled: true,
                    detail,
                },
                Some("ValidationException" | "SerializationException") => {
                    Failure::Final(StoreError::Invalid(format!("DynamoDB: {detail}")))
                }
                _ if status >= 500 => Failure::Retry {
                    throttled: false,
                    detail,
                },
                // Access denied, missing table, bad credentials: a deployment problem, not
                // the request's; the service is unavailable until it is fixed.
                _ => Failure::Final(StoreError::Unavailable(format!("DynamoDB: {detail}"))),
            }
        }
        // Network failures and timeouts: may or may not have reached DynamoDB.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Retry {
                throttled: false,
                detail,
            }
        }
        _ => Failure::Final(StoreError::Unavailable(format!("DynamoDB: {detail}"))),
    }
}

impl RetryPolicy {
    /// The backoff cap before retry number `retry` (1-based): `base * 2^(retry-1)`, capped.
    fn cap(&self, retry: u32) -> Duration {
        let factor = 1u32 << retry.saturating_sub(1).min(16);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts run out. Backoff
    /// is "full jitter" (uniform in 0..=cap) so that throttled clients spread out.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        operation: &str,
        mut attempt: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut made = 0;
        loop {
            made += 1;
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Failure::Final(error)) => return Err(error),
                Err(Failure::Retry { throttled, detail }) => {
                    let cap = self.cap(made);
                    if made >= self.max_attempts.max(1) {
                        return Err(if throttled {
                            StoreError::Throttled { retry_after: cap }
                        } else {
                            StoreError::Unavailable(format!(
                                "{operation} failed {made} times; last: {detail}"
                            ))
                        });
                    }
                    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
                    tokio::time::sleep(Duration::from_nanos(fastrand::u64(0..=nanos))).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(3),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let caps: Vec<u128> = (1..=8).map(|r| policy.cap(r).as_millis()).collect();
        assert_eq!(caps, [25, 50, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.cap(u32::MAX), policy.max_delay);
    }

    #[tokio::test]
    async fn retries_until_success() {
        let calls = Cell::new(0);
        let result = fast()
            .run("Op", || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(Failure::Retry {
                            throttled: true,
                            detail: "slow down".into(),
                        })
                    } else {
                        Ok(n)
                    }
                }
            })
            .await;
        assert_eq!(result, Ok(3));
    }

    #[tokio::test]
    async fn exhausted_throttling_surfaces_as_throttled_and_failures_as_unavailable() {
        let calls = Cell::new(0);
        let throttled: Result<(), _> = fast()
            .run("Op", || {
                calls.set(calls.get() + 1);
                async {
                    Err(Failure::Retry {
                        throttled: true,
                        detail: "x".into(),
                    })
                }
            })
            .await;
        assert_eq!(calls.get(), 4);
        assert_eq!(
            throttled,
            Err(StoreError::Throttled {
                retry_after: Duration::from_millis(3)
            })
        );
        let unavailable: Result<(), _> = fast()
            .run("Op", || async {
                Err(Failure::Retry {
                    throttled: false,
                    detail: "500".into(),
                })
            })
            .await;
        assert!(
            matches!(unavailable, Err(StoreError::Unavailable(m)) if m.contains("Op failed 4 times"))
        );
    }

    #[tokio::test]
    async fn final_errors_are_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), _> = fast()
            .run("Op", || {
                calls.set(calls.get() + 1);
                async { Err(Failure::Final(StoreError::ConditionFailed)) }
            })
            .await;
        assert_eq!((result, calls.get()), (Err(StoreError::ConditionFailed), 1));
    }
}
