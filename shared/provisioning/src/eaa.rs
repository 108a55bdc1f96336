//! The EAA directory port: what the sync engine reads from an EAA tenant, as a trait, so
//! that the engine is tested without HTTP. `aws_adapters::eaa::EaaClient` implements it
//! over the crux v1 API (EAA.md); tests use the stand-in server or an in-memory fake.
//!
//! Pages are explicit (an offset in, the next offset out) rather than "all pages": the
//! engine checkpoints between pages, so a sync can stop before the Lambda limit and go on
//! in the next invocation from the offset it reached.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// An EAA directory (`GET /mgmt-pop/directories`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EaaDirectoryInfo {
    pub uuid_url: String,
    pub name: String,
    #[serde(default)]
    pub status: i64,
    #[serde(default)]
    pub user_count: u64,
    #[serde(default)]
    pub group_count: u64,
}

/// A group of a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EaaGroup {
    pub uuid_url: String,
    pub name: String,
    #[serde(default)]
    pub status: i64,
    #[serde(default)]
    pub user_count: u64,
}

/// A user as EAA describes it inside a group membership object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EaaUser {
    pub user_uuid_url: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone_num: String,
    #[serde(default)]
    pub upn: String,
    /// 1 is enabled; anything else is treated as disabled (EAA.md: unverified meaning).
    #[serde(default)]
    pub status: i64,
}

/// One item of `GET .../groups/{id}/users`: the membership, with the user inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EaaGroupUser {
    pub user: EaaUser,
}

/// One page, and the offset of the next one (`None` on the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EaaPage<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
}

/// Why EAA could not answer. The client has already retried what is worth retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EaaError {
    /// EAA asks to wait (429 past the client's own retries), or the wait needed exceeds
    /// what the caller allowed.
    RateLimited { retry_after: Duration },
    /// Network errors, timeouts or 5xx after the bounded retries.
    Unavailable(String),
    /// 401/403: the credentials are wrong or lack the permission.
    Unauthorized(String),
    /// Any other answer (404 for a directory or group that no longer exists, bad JSON..).
    Invalid(String),
}

impl std::fmt::Display for EaaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EaaError::RateLimited { retry_after } => write!(f, "EAA rate limit: retry after {}s", retry_after.as_secs()),
            EaaError::Unavailable(detail) => write!(f, "EAA unavailable: {detail}"),
            EaaError::Unauthorized(detail) => write!(f, "EAA refused the credentials: {detail}"),
            EaaError::Invalid(detail) => write!(f, "EAA answered unexpectedly: {detail}"),
        }
    }
}

impl std::error::Error for EaaError {}

/// The read side of an EAA tenant, one page per call.
pub trait EaaDirectory: Send + Sync {
    fn directories(&self, offset: u64) -> impl Future<Output = Result<EaaPage<EaaDirectoryInfo>, EaaError>> + Send;

    fn groups(&self, directory: &str, offset: u64) -> impl Future<Output = Result<EaaPage<EaaGroup>, EaaError>> + Send;

    fn group_users(
        &self,
        directory: &str,
        group: &str,
        offset: u64,
    ) -> impl Future<Output = Result<EaaPage<EaaGroupUser>, EaaError>> + Send;
}
