//! The provisioning log: one entry per write (and per failed write), newest first, kept
//! for [`RETENTION`] through the store's TTL attribute `expiresAt`. Each entry names the
//! record (id and userName or displayName) and the actor (integration id and name), and is
//! indexed by record (gsi2) and by actor (gsi3), so that the log filtered by either is an
//! index query; operation and outcome filter the entries read (see [`LogFilter`]).

use item_store::{Cursor, GSI2, GSI3, Item, ItemStore, Query};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::resources::types::{TypeDescriptor, USERS};
use crate::service::Provisioning;
use crate::storage::cursor::{decode_cursor, encode_cursor};
use crate::storage::ids::new_id;
use crate::storage::keys::{self, GSI2_PK, GSI2_SK, GSI3_PK, GSI3_SK};
use crate::storage::paging::filtered_page;
use crate::tenancy::ownership::Caller;

/// How long entries are kept (DynamoDB deletes them after `expiresAt`).
pub const RETENTION: time::Duration = time::Duration::days(30);

/// A fixed fingerprint for log cursors (they are not SCIM list cursors).
const LOG_CURSOR_FINGERPRINT: u64 = 0x6c6f_6763_7572_736f;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LogOperation {
    Create,
    /// A create that took over a manually provisioned record.
    Claim,
    Replace,
    Patch,
    Delete,
    /// The mailer sent an enrollment email or gave up on it; an admin asked to resend one.
    EnrollmentEmail,
    /// A device was registered through an enrollment link.
    Enroll,
    /// The tenant's seat usage reached a share of its limit (80%, 100%).
    Seats,
    /// A record's source changed: released when its integration was deleted, or moved by
    /// an admin.
    Move,
}

impl LogOperation {
    pub const ALL: [LogOperation; 9] = [
        LogOperation::Create,
        LogOperation::Claim,
        LogOperation::Replace,
        LogOperation::Patch,
        LogOperation::Delete,
        LogOperation::EnrollmentEmail,
        LogOperation::Enroll,
        LogOperation::Seats,
        LogOperation::Move,
    ];

    /// The name in entries and in the `operation` filter (`enrollmentEmail`..).
    pub fn as_str(self) -> &'static str {
        match self {
            LogOperation::Create => "create",
            LogOperation::Claim => "claim",
            LogOperation::Replace => "replace",
            LogOperation::Patch => "patch",
            LogOperation::Delete => "delete",
            LogOperation::EnrollmentEmail => "enrollmentEmail",
            LogOperation::Enroll => "enroll",
            LogOperation::Seats => "seats",
            LogOperation::Move => "move",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LogOutcome {
    Success,
    Failure,
}

/// Which entries [`Provisioning::list_log`] answers; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// Entries about this user or group.
    pub resource_id: Option<String>,
    /// Entries of this integration (its id), or `admin` for the administrators'.
    pub actor: Option<String>,
    pub operation: Option<LogOperation>,
    pub outcome: Option<LogOutcome>,
}

impl LogFilter {
    fn keeps(&self, entry: &LogEntry) -> bool {
        self.resource_id.as_ref().is_none_or(|id| entry.resource_id.as_ref() == Some(id))
            && self.actor.as_ref().is_none_or(|actor| &entry.actor == actor)
            && self.operation.is_none_or(|operation| entry.operation == operation)
            && self.outcome.is_none_or(|outcome| entry.outcome == outcome)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// The integration id, or `admin`.
    pub actor: String,
    /// The integration's name when the entry was written (absent for `admin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_name: Option<String>,
    pub operation: LogOperation,
    /// For a claim: the request that made it (`create`, `replace` or `patch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<LogOperation>,
    pub resource_type: String,
    /// Absent for a create that failed before an id existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The user's userName (users) or the group's displayName (groups), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub outcome: LogOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub changed_attributes: Vec<String>,
    /// Unix seconds.
    pub time: i64,
    /// Unix seconds after which the store drops the entry.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Pass back to [`Provisioning::list_log`] for the next (older) page.
    pub next: Option<String>,
}

impl<S: ItemStore> Provisioning<S> {
    /// The item for one entry, to put in the transaction of the write it describes.
    pub(crate) fn log_item(
        &self,
        caller: &Caller,
        operation: LogOperation,
        resource_type: &str,
        resource_id: Option<&str>,
        outcome: Result<&[String], &Error>,
    ) -> Item {
        let now = self.clock.now();
        let (outcome, detail, changed_attributes) = match outcome {
            Ok(changed) => (LogOutcome::Success, None, changed.to_vec()),
            Err(error) => (LogOutcome::Failure, Some(error.detail()), Vec::new()),
        };
        let entry = LogEntry {
            actor: caller.actor_name().to_string(),
            integration_name: caller.integration_name.clone(),
            operation,
            request: None,
            resource_type: resource_type.to_string(),
            resource_id: resource_id.map(str::to_string),
            user_name: None,
            display_name: None,
            outcome,
            detail,
            changed_attributes,
            time: now.unix_timestamp(),
            expires_at: (now + RETENTION).unix_timestamp(),
        };
        entry_item(&caller.tenant, &entry, now)
    }

    /// Records an entry made by the system rather than a caller (mailer, enrollment
    /// link) about the user `(id, userName)`. Best effort: the outcome it describes has
    /// already happened and is in the outbox item; a lost log entry must not make a sent
    /// email look unsent.
    pub(crate) async fn log_system(
        &self,
        tenant: &str,
        actor: &str,
        operation: LogOperation,
        (user_id, user_name): (&str, &str),
        outcome: LogOutcome,
        detail: String,
    ) {
        let now = self.clock.now();
        let entry = LogEntry {
            actor: actor.to_string(),
            integration_name: None,
            operation,
            request: None,
            resource_type: USERS.name().to_string(),
            resource_id: Some(user_id.to_string()),
            user_name: Some(user_name.to_string()).filter(|name| !name.is_empty()),
            display_name: None,
            outcome,
            detail: Some(detail),
            changed_attributes: Vec::new(),
            time: now.unix_timestamp(),
            expires_at: (now + RETENTION).unix_timestamp(),
        };
        let _ = self.store.put(entry_item(tenant, &entry, now), item_store::Condition::Absent).await;
    }

    /// Passes a write's result through, logging it first when it failed; the entry names
    /// the record by `name` (its userName or displayName) when the write knew it.
    pub(crate) async fn logged_named<T>(
        &self,
        caller: &Caller,
        operation: LogOperation,
        descriptor: &TypeDescriptor,
        name: Option<&str>,
        result: Result<T>,
    ) -> Result<T> {
        if let Err(error) = &result
            && !error.is_retryable()
        {
            let mut item = self.log_item(caller, operation, descriptor.name(), None, Err(error));
            name_log(&mut item, descriptor, name);
            let _ = self.store.put(item, item_store::Condition::Absent).await;
        }
        result
    }

    /// Passes a write's result through, logging it first when it failed.
    pub(crate) async fn logged<T>(
        &self,
        caller: &Caller,
        operation: LogOperation,
        resource_type: &str,
        resource_id: Option<&str>,
        result: Result<T>,
    ) -> Result<T> {
        if let Err(error) = &result {
            self.log_failure(caller, operation, resource_type, resource_id, error).await;
        }
        result
    }

    /// Records a failed write. Best effort: the write's own error is what the client
    /// needs, so a failure to log is not reported over it (and a store outage would
    /// fail this put too).
    pub(crate) async fn log_failure(
        &self,
        caller: &Caller,
        operation: LogOperation,
        resource_type: &str,
        resource_id: Option<&str>,
        error: &Error,
    ) {
        if error.is_retryable() {
            return;
        }
        let item = self.log_item(caller, operation, resource_type, resource_id, Err(error));
        let _ = self.store.put(item, item_store::Condition::Absent).await;
    }

    /// The tenant's log, newest first (admin), at most `limit` entries per page that pass
    /// `filter`. A record or actor filter reads that record's or actor's index partition;
    /// operation and outcome filter the entries read, within a bounded number of reads
    /// (`storage::paging::filtered_page`): a page may hold fewer than `limit` entries, even
    /// none, and still have a `next` cursor.
    pub async fn list_log(&self, caller: &Caller, filter: &LogFilter, after: Option<&str>, limit: u32) -> Result<LogPage> {
        caller.require_admin("read the provisioning log")?;
        let tenant = &caller.tenant;
        let query = match (&filter.resource_id, &filter.actor) {
            (Some(id), _) => Query::index(GSI2, keys::log_of_resource(tenant, id)),
            (None, Some(actor)) => Query::index(GSI3, keys::log_of_actor(tenant, actor)),
            (None, None) => Query::partition(keys::log_partition(tenant)),
        };
        let partition = query.pk.clone();
        let cursor = after.map(|token| decode_cursor(token, LOG_CURSOR_FINGERPRINT, &partition)).transpose()?;
        let query = query.descending().after(cursor);
        let mut entries = Vec::new();
        let (_, next) = filtered_page(&self.store, &query, limit, |item| {
            let entry: LogEntry = serde_json::from_value(serde_json::Value::Object(item.attrs.clone()))
                .map_err(|e| Error::Internal(format!("stored log entry {}: {e}", item.key)))?;
            let keep = filter.keeps(&entry);
            if keep {
                entries.push(entry);
            }
            Ok(keep)
        })
        .await?;
        let next = next.map(|Cursor(bytes)| encode_cursor(LOG_CURSOR_FINGERPRINT, &partition, &bytes));
        Ok(LogPage { entries, next })
    }
}

/// The stored entry, in the log partition and in the indexes by record and by actor.
fn entry_item(tenant: &str, entry: &LogEntry, now: time::OffsetDateTime) -> Item {
    let mut attrs = serde_json::to_value(entry).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
    let sort = keys::log_sort(now.unix_timestamp_nanos(), &new_id());
    if let Some(id) = &entry.resource_id {
        attrs.insert(GSI2_PK.into(), keys::log_of_resource(tenant, id).into());
        attrs.insert(GSI2_SK.into(), sort.clone().into());
    }
    attrs.insert(GSI3_PK.into(), keys::log_of_actor(tenant, &entry.actor).into());
    attrs.insert(GSI3_SK.into(), sort.clone().into());
    Item::new(item_store::Key::new(keys::log_partition(tenant), sort), attrs)
}

/// Names the record of a log entry: `userName` for a user, `displayName` for a group.
pub(crate) fn name_log(log: &mut Item, descriptor: &TypeDescriptor, name: Option<&str>) {
    if let Some(name) = name {
        let attribute = if descriptor.is_user { "userName" } else { "displayName" };
        log.attrs.insert(attribute.into(), name.into());
    }
}

/// Marks a log entry as a claim made by `request` (a create, PUT or PATCH that took over a
/// manually provisioned record).
pub(crate) fn mark_claim(log: &mut Item, request: LogOperation) {
    log.attrs.insert("operation".into(), LogOperation::Claim.as_str().into());
    log.attrs.insert("request".into(), request.as_str().into());
}
