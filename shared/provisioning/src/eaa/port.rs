//! The EAA directory port: what the sync engine reads from an EAA tenant, as a trait, so
//! that the engine is tested without HTTP. `eaa_client::EaaClient` implements it over the
//! crux v1 API (docs/EAA.md §1); tests use the stand-in server or an in-memory fake.
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
    /// 1 is enabled; anything else is treated as disabled (docs/EAA.md §1: the other values are not documented).
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
    /// Nothing is stored under the credentials reference (no file, no SSM parameter):
    /// the admin named something that does not exist, EAA was never asked.
    NoCredentials(String),
    /// Any other answer (404 for a directory or group that no longer exists, bad JSON..).
    Invalid(String),
}

impl std::fmt::Display for EaaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EaaError::RateLimited { retry_after } => write!(f, "EAA rate limit: retry after {}s", retry_after.as_secs()),
            EaaError::Unavailable(detail) => write!(f, "EAA unavailable: {detail}"),
            EaaError::Unauthorized(detail) => write!(f, "EAA refused the credentials: {detail}"),
            EaaError::NoCredentials(detail) => write!(f, "{detail}"),
            EaaError::Invalid(detail) => write!(f, "EAA answered unexpectedly: {detail}"),
        }
    }
}

impl std::error::Error for EaaError {}

/// A boxed future: the EAA ports are chosen at run time (`dyn`), and one allocation per
/// call is nothing next to the HTTP request behind it.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The read side of an EAA tenant, one page per call.
pub trait EaaDirectory: Send + Sync {
    fn directories(&self, offset: u64) -> BoxFuture<'_, Result<EaaPage<EaaDirectoryInfo>, EaaError>>;

    fn groups<'a>(&'a self, directory: &'a str, offset: u64) -> BoxFuture<'a, Result<EaaPage<EaaGroup>, EaaError>>;

    fn group_users<'a>(&'a self, directory: &'a str, group: &'a str, offset: u64)
    -> BoxFuture<'a, Result<EaaPage<EaaGroupUser>, EaaError>>;
}

/// A borrowed or boxed directory is a directory (wrappers take either).
impl<P> EaaDirectory for P
where
    P: std::ops::Deref + Send + Sync,
    P::Target: EaaDirectory,
{
    fn directories(&self, offset: u64) -> BoxFuture<'_, Result<EaaPage<EaaDirectoryInfo>, EaaError>> {
        (**self).directories(offset)
    }

    fn groups<'a>(&'a self, directory: &'a str, offset: u64) -> BoxFuture<'a, Result<EaaPage<EaaGroup>, EaaError>> {
        (**self).groups(directory, offset)
    }

    fn group_users<'a>(
        &'a self,
        directory: &'a str,
        group: &'a str,
        offset: u64,
    ) -> BoxFuture<'a, Result<EaaPage<EaaGroupUser>, EaaError>> {
        (**self).group_users(directory, group, offset)
    }
}

/// Opens a tenant's EAA directory with the credentials its integration names. The
/// reference is resolved inside the tenant's own namespace (`{tenant}/{reference}`), so an
/// admin cannot point their integration at another tenant's credentials.
pub trait EaaConnector: Send + Sync {
    fn connect<'a>(&'a self, tenant: &'a str, credentials_ref: &'a str) -> BoxFuture<'a, Result<Box<dyn EaaDirectory>, EaaError>>;
}

/// Starts a sync of one tenant outside the caller's request or invocation: an
/// asynchronous Lambda invoke of the sync function in AWS, a wake-up of the in-process
/// scheduler locally. Used for an admin's "sync now" and for a sync that ran out of time
/// and goes on in a fresh invocation (`continuation`: how many invocations of its chain
/// came before, 0 for a "sync now"; it bounds the chain).
pub trait SyncTrigger: Send + Sync {
    fn trigger<'a>(&'a self, tenant: &'a str, integration: &'a str, continuation: u32) -> BoxFuture<'a, Result<(), String>>;
}
