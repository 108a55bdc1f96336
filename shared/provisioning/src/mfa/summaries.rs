//! Users as the admin API lists them: source, MFA status and device count beside the
//! SCIM resource.

use item_store::{GSI1, ItemStore, Query, SortKey};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::mfa::state::{EnrollmentEmail, UserStatus};
use crate::resources::record::Record;
use crate::resources::types::USERS;
use crate::service::Provisioning;
use crate::storage::cursor::{decode_cursor, encode_cursor};
use crate::storage::keys;
use crate::storage::paging::filtered_page;
use crate::tenancy::ownership::{Caller, Source};

const SUMMARY_CURSOR_FINGERPRINT: u64 = 0x7573_6572_7375_6d6d;

/// What only an administrator may do here, for the 403 detail.
pub(crate) const MANAGE: &str = "manage users and their devices";

/// A user as the admin API lists it (the MFA product's user model).
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub id: String,
    pub user_name: String,
    pub source: Source,
    pub status: UserStatus,
    pub device_count: u64,
    /// Whether an enrollment email was queued at creation (or the user had no address).
    pub enrollment_email: Option<EnrollmentEmail>,
    pub created: String,
    pub last_modified: String,
    /// The SCIM resource (names, emails..).
    pub resource: Value,
}

/// Which users [`Provisioning::list_user_summaries`] answers; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// userName starts with this, case-insensitively.
    pub user_name_prefix: Option<String>,
    pub source: Option<Source>,
    pub status: Option<UserStatus>,
}

impl UserFilter {
    fn keeps(&self, user: &UserSummary) -> bool {
        self.source.as_ref().is_none_or(|source| &user.source == source) && self.status.is_none_or(|status| user.status == status)
    }
}

fn summary(record: Record) -> UserSummary {
    let mfa = record.mfa.unwrap_or_default();
    UserSummary {
        user_name: record.resource.get("userName").and_then(Value::as_str).unwrap_or_default().to_string(),
        id: record.id,
        source: record.source,
        status: mfa.status,
        device_count: mfa.device_count,
        enrollment_email: mfa.enrollment_email,
        created: record.created,
        last_modified: record.last_modified,
        resource: record.resource,
    }
}

impl<S: ItemStore> Provisioning<S> {
    pub(crate) async fn user_record(&self, caller: &Caller, id: &str) -> Result<Record> {
        if id.is_empty() || id.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(Error::not_found(format!("no user with id \"{id}\"")));
        }
        let item = self
            .store
            .get(&keys::resource(&caller.tenant, id))
            .await?
            .ok_or_else(|| Error::not_found(format!("no user with id \"{id}\"")))?;
        let record = Record::from_item(&item)?;
        if record.type_name != USERS.name() {
            return Err(Error::not_found(format!("no user with id \"{id}\"")));
        }
        Ok(record)
    }

    pub async fn user_summary(&self, caller: &Caller, id: &str) -> Result<UserSummary> {
        caller.require_admin(MANAGE)?;
        let mut record = self.user_record(caller, id).await?;
        record.source = self.live_source(&caller.tenant, &record.source).await?;
        Ok(summary(record))
    }

    /// The tenant's users in userName order that pass `filter`, at most `limit` per page,
    /// with a cursor for the next. A userName prefix is a range of the userName index; source
    /// and status filter the users read, within a bounded number of reads
    /// (`storage::paging::filtered_page`): a page may hold fewer than `limit` users, even
    /// none, and still have a cursor.
    pub async fn list_user_summaries(
        &self,
        caller: &Caller,
        filter: &UserFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<UserSummary>, Option<String>)> {
        caller.require_admin(MANAGE)?;
        let partition = keys::listing(&caller.tenant, USERS.name());
        let prefix = filter.user_name_prefix.as_deref().map(keys::listing_sort).filter(|p| !p.is_empty());
        // The cursor is bound to the prefix too: a position in one range means nothing in another.
        let bound = format!("{partition}\u{0}{}", prefix.as_deref().unwrap_or_default());
        let cursor = after.map(|token| decode_cursor(token, SUMMARY_CURSOR_FINGERPRINT, &bound)).transpose()?;
        let mut query = Query::index(GSI1, partition).after(cursor);
        if let Some(prefix) = prefix {
            query = query.sort(SortKey::Prefix(prefix));
        }
        // A source naming a deleted integration is shown (and filtered) as what it is: manual.
        let live = self.live_integrations(caller).await?;
        let mut users = Vec::new();
        let (_, next) = filtered_page(&self.store, &query, limit, |item| {
            let mut record = Record::from_item(item)?;
            if matches!(&record.source, Source::Integration(id) if !live.contains(id)) {
                record.source = Source::Manual;
            }
            let user = summary(record);
            let keep = filter.keeps(&user);
            if keep {
                users.push(user);
            }
            Ok(keep)
        })
        .await?;
        let next = next.map(|c| encode_cursor(SUMMARY_CURSOR_FINGERPRINT, &bound, &c.0));
        Ok((users, next))
    }
}
