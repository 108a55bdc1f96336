//! What the admin API's `GET /tenant` shows: the tenant's name, its seats (used against
//! the limit the operator set) and its users counted by source and by status.

use std::collections::BTreeMap;

use item_store::{GSI1, ItemStore, Query};

use crate::error::Result;
use crate::mfa::state::UserStatus;
use crate::resources::record::Record;
use crate::resources::types::USERS;
use crate::service::Provisioning;
use crate::storage::keys;
use crate::storage::paging;
use crate::tenancy::ownership::{Caller, Source};

/// The tenant as its administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantOverview {
    pub id: String,
    pub name: String,
    pub created: String,
    /// Users holding a seat (suspended ones included): the seat counter with a limit, the
    /// maintained user count without one.
    pub seats_used: u64,
    pub seat_limit: Option<u64>,
    /// Users by source (an integration that no longer exists counts as manual).
    pub by_source: BTreeMap<Source, u64>,
    pub by_status: BTreeMap<UserStatus, u64>,
    /// Whether the counts by source and status cover every user: they come from a walk
    /// of at most `Limits::max_examined` users, so that the request stays bounded.
    pub counts_complete: bool,
}

impl<S: ItemStore> Provisioning<S> {
    pub async fn tenant_overview(&self, caller: &Caller) -> Result<TenantOverview> {
        caller.require_admin("see the tenant's seats")?;
        let tenant = self.tenant(&caller.tenant).await?;
        let seats = self.seats(&caller.tenant).await?;
        let seats_used = match seats.limit {
            Some(_) => seats.used,
            None => self.resource_count_to_the_end(&caller.tenant, &USERS).await?,
        };
        let live = self.live_integrations(caller).await?;
        let mut by_source = BTreeMap::new();
        let mut by_status = BTreeMap::new();
        let query = Query::index(GSI1, keys::listing(&caller.tenant, USERS.name()));
        let complete = paging::examine(&self.store, &self.walks, &query, self.limits.max_examined, |item| {
            let record = Record::from_item(item)?;
            let source = match record.source {
                Source::Integration(id) if !live.contains(&id) => Source::Manual,
                source => source,
            };
            *by_source.entry(source).or_insert(0) += 1;
            *by_status.entry(record.mfa.unwrap_or_default().status).or_insert(0) += 1;
            Ok(())
        })
        .await?;
        Ok(TenantOverview {
            id: tenant.id,
            name: tenant.name,
            created: tenant.created,
            seats_used,
            seat_limit: seats.limit,
            by_source,
            by_status,
            counts_complete: complete,
        })
    }
}
