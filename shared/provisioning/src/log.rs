//! The provisioning log: one entry per write (and per failed write), newest first, kept
//! for [`RETENTION`] through the store's TTL attribute `expiresAt`.

use item_store::{Cursor, Item, ItemStore, Query};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::service::Provisioning;
use crate::storage::cursor::{decode_cursor, encode_cursor};
use crate::storage::ids::new_id;
use crate::storage::keys;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LogOutcome {
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// The integration id, or `admin`.
    pub actor: String,
    pub operation: LogOperation,
    pub resource_type: String,
    /// Absent for a create that failed before an id existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
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
            operation,
            resource_type: resource_type.to_string(),
            resource_id: resource_id.map(str::to_string),
            outcome,
            detail,
            changed_attributes,
            time: now.unix_timestamp(),
            expires_at: (now + RETENTION).unix_timestamp(),
        };
        let attrs = serde_json::to_value(&entry).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        let key = item_store::Key::new(keys::log_partition(&caller.tenant), keys::log_sort(now.unix_timestamp_nanos(), &new_id()));
        Item::new(key, attrs)
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

    /// The tenant's log, newest first (admin), `limit` entries per page.
    pub async fn list_log(&self, caller: &Caller, after: Option<&str>, limit: u32) -> Result<LogPage> {
        caller.require_admin("read the provisioning log")?;
        let partition = keys::log_partition(&caller.tenant);
        let cursor = after.map(|token| decode_cursor(token, LOG_CURSOR_FINGERPRINT, &partition)).transpose()?;
        let query = Query::partition(partition.clone()).descending().limit(limit.max(1)).after(cursor);
        let page = self.store.query(&query).await?;
        let entries = page
            .items
            .iter()
            .map(|item| {
                serde_json::from_value(serde_json::Value::Object(item.attrs.clone()))
                    .map_err(|e| Error::Internal(format!("stored log entry {}: {e}", item.key)))
            })
            .collect::<Result<Vec<LogEntry>>>()?;
        let next = page.cursor.map(|Cursor(bytes)| encode_cursor(LOG_CURSOR_FINGERPRINT, &partition, &bytes));
        Ok(LogPage { entries, next })
    }
}
