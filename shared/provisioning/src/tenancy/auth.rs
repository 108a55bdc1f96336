//! Authentication: a presented bearer token (an integration's API token or a tenant
//! admin key) becomes a [`Caller`], or 401.
//!
//! A token's grant is cached for [`AUTH_CACHE_TTL`] (a warm function checks the store at
//! most once a minute per token, see `grant_cache`), and the token's last use is recorded
//! at most once per [`LAST_USED_RESOLUTION`], on a cache refresh: never a write per request.

use std::time::Duration;

use item_store::{Condition, ItemStore};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::service::Provisioning;
use crate::storage::attrs::str_attr;
use crate::storage::keys;
use crate::tenancy::grant_cache::CachedGrant;
use crate::tenancy::integrations::IntegrationKind;
use crate::tenancy::ownership::Caller;
use crate::tenancy::secrets;

/// How long a verified token is trusted without asking the store again.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(60);
/// The granularity of an integration's last-used time.
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);
/// Refreshes overtaken by revocations before authentication gives up (retryable): only
/// an admin rotating tokens in a loop gets there.
const MAX_OVERTAKEN_REFRESHES: usize = 4;

impl<S: ItemStore> Provisioning<S> {
    /// The caller a bearer token (integration token or admin key) stands for, or 401.
    /// Cached for [`AUTH_CACHE_TTL`]; on a refresh the last-used time is written if it
    /// is older than [`LAST_USED_RESOLUTION`].
    ///
    /// A refresh that a revocation in this process overtook (the token rotated, its
    /// integration deleted or reconfigured while the store was read) is read again rather
    /// than answered or cached from what it read before: a revoked token stops here at
    /// once. Another process (a warm Lambda instance) trusts its cache for at most
    /// [`AUTH_CACHE_TTL`] after it read the store.
    pub async fn authenticate(&self, bearer: &str) -> Result<Caller> {
        let hash = secrets::hash(bearer.trim());
        let now = self.clock.now();
        if let Some(grant) = self.grants.get(&hash)
            && now - grant.checked_at < AUTH_CACHE_TTL
        {
            return Ok(grant.caller.clone());
        }
        for _ in 0..MAX_OVERTAKEN_REFRESHES {
            let read_at = self.grants.generation();
            let caller = self.grant_in_store(&hash, now).await?;
            if self.grants.insert_if_current(hash.clone(), CachedGrant { caller: caller.clone(), checked_at: now }, read_at) {
                return Ok(caller);
            }
        }
        Err(Error::Retryable {
            throttled: false,
            retry_after: Duration::from_secs(1),
            detail: "the integration's tokens are being changed; retry after the delay".into(),
        })
    }

    /// What the token grants according to the store (one or two gets, at most once a
    /// minute a last-used write).
    async fn grant_in_store(&self, hash: &str, now: OffsetDateTime) -> Result<Caller> {
        let item = self.store.get(&keys::secret(hash)).await?.ok_or(Error::Unauthorized)?;
        if !secrets::hashes_match(str_attr(&item.attrs, "hash")?, hash) {
            return Err(Error::Unauthorized);
        }
        let tenant = str_attr(&item.attrs, "tenant")?.to_string();
        let caller = match str_attr(&item.attrs, "kind")? {
            "admin" => Caller::admin(tenant),
            _ => {
                let id = str_attr(&item.attrs, "integration")?;
                let admin = Caller::admin(tenant.clone());
                let (integration, _) = self.integration_item(&admin, id).await.map_err(|_| Error::Unauthorized)?;
                // An EAA integration is driven by the scheduled sync, never by a client:
                // its token opens no SCIM endpoint.
                if integration.kind != IntegrationKind::Scim {
                    return Err(Error::Unauthorized);
                }
                Caller::integration(tenant, id, integration.settings).named(integration.name)
            }
        };
        let last_used = item.attrs.get("lastUsed").and_then(Value::as_i64);
        let resolution = LAST_USED_RESOLUTION.as_secs() as i64;
        if last_used.is_none_or(|at| now.unix_timestamp() - at >= resolution) {
            let mut touched = item.clone();
            touched.attrs.insert("lastUsed".into(), now.unix_timestamp().into());
            // Present: a token deleted by a concurrent rotation must not come back. A
            // failure here must not fail the request: the time is advisory.
            let _ = self.store.put(touched, Condition::Present).await;
        }
        Ok(caller)
    }
}
