//! The query strings of the admin API's lists (`/users`, `/log`): paging, filters, and
//! a 400 naming any parameter the list does not know, so that a typo (`?username=`,
//! `?status=active`) is never answered with an unfiltered list.

use http::request::Parts;
use provisioning::Source;
use provisioning::log::{LogFilter, LogOperation, LogOutcome};
use provisioning::mfa::{UserFilter, UserStatus};
use scim::ScimError;

use crate::request::{param, query_params};
use crate::response::Failure;

/// Page size of the user and log listings when `limit` is absent, and the most allowed.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 200;

/// Where a page starts and how long it is.
pub(crate) struct Paging {
    pub cursor: Option<String>,
    pub limit: u32,
}

const USER_PARAMS: [&str; 5] = ["limit", "cursor", "userName", "source", "status"];
const LOG_PARAMS: [&str; 6] = ["limit", "cursor", "resourceId", "integration", "operation", "outcome"];
const STATUSES: [(&str, UserStatus); 4] = [
    ("UNENROLLED", UserStatus::Unenrolled),
    ("ACTIVE", UserStatus::Active),
    ("DEVICES_DISABLED", UserStatus::DevicesDisabled),
    ("PROVISIONING_DISABLED", UserStatus::ProvisioningDisabled),
];

/// `GET /users?userName=ali&source=manual|{integration id}&status=ACTIVE&limit=&cursor=`.
pub(crate) fn user_query(parts: &Parts) -> Result<(UserFilter, Paging), Failure> {
    let params = known(parts, &USER_PARAMS)?;
    let source = given(&params, "source").map(|source| match source {
        "manual" => Source::Manual,
        integration => Source::Integration(integration.to_string()),
    });
    let status = given(&params, "status")
        .map(|text| {
            STATUSES.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)).map(|(_, status)| *status).ok_or_else(|| {
                let names = STATUSES.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
                Failure::from(ScimError::invalid_value(format!("status {text:?} is not a user status; the statuses are {names}")))
            })
        })
        .transpose()?;
    let filter = UserFilter { user_name_prefix: given(&params, "userName").map(str::to_string), source, status };
    Ok((filter, paging(&params)?))
}

/// `GET /log?resourceId=&integration={id}|admin&operation=claim&outcome=failure&limit=&cursor=`.
pub(crate) fn log_query(parts: &Parts) -> Result<(LogFilter, Paging), Failure> {
    let params = known(parts, &LOG_PARAMS)?;
    let operation = given(&params, "operation")
        .map(|text| {
            LogOperation::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(text)).ok_or_else(|| {
                let names = LogOperation::ALL.map(LogOperation::as_str).join(", ");
                Failure::from(ScimError::invalid_value(format!("operation {text:?} is not a log operation; the operations are {names}")))
            })
        })
        .transpose()?;
    let outcome = given(&params, "outcome")
        .map(|text| match text.to_ascii_lowercase().as_str() {
            "success" => Ok(LogOutcome::Success),
            "failure" => Ok(LogOutcome::Failure),
            _ => Err(Failure::from(ScimError::invalid_value(format!("outcome {text:?} must be \"success\" or \"failure\"")))),
        })
        .transpose()?;
    let filter = LogFilter {
        resource_id: given(&params, "resourceId").map(str::to_string),
        actor: given(&params, "integration").map(str::to_string),
        operation,
        outcome,
    };
    Ok((filter, paging(&params)?))
}

/// The query's parameters, or 400 naming those that are not in `allowed` (names compare
/// case-insensitively, as `param` reads them).
fn known(parts: &Parts, allowed: &[&str]) -> Result<Vec<(String, String)>, Failure> {
    let params = query_params(parts)?;
    let unknown: Vec<String> = params
        .iter()
        .filter(|(name, _)| !allowed.iter().any(|known| known.eq_ignore_ascii_case(name)))
        .map(|(name, _)| format!("{name:?}"))
        .collect();
    if !unknown.is_empty() {
        return Err(ScimError::invalid_value(format!(
            "unknown query parameter {}: this list takes {}",
            unknown.join(", "),
            allowed.join(", ")
        ))
        .into());
    }
    Ok(params)
}

/// A parameter with a value (an empty one filters nothing, as if absent).
fn given<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    param(params, name).map(str::trim).filter(|value| !value.is_empty())
}

fn paging(params: &[(String, String)]) -> Result<Paging, Failure> {
    let limit = match param(params, "limit") {
        None => DEFAULT_LIMIT,
        // Out of range is refused, not bent: `limit=0` answering one entry hid the mistake.
        Some(text) => text
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| ScimError::invalid_value(format!("limit {text:?} must be a whole number from 1 to {MAX_LIMIT}")))?,
    };
    Ok(Paging { cursor: given(params, "cursor").map(str::to_string), limit })
}
