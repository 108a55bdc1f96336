//! The EAA integration of a tenant: at most one (docs/EAA.md §5), its credentials reference, the associated directories and, per directory, the
//! selected groups; "sync now" requests and the last sync's outcome.
//!
//! One item holds it all (`T#{t}` / `EAA`, see `keys`): it is created in the transaction
//! that creates the EAA integration with `Condition::Absent`, which is what enforces "one
//! per tenant" (no read-then-write). Associations change by conditional puts on its
//! version. It also sits in gsi1 under [`keys::EAA_INTEGRATIONS`], so the scheduled
//! function finds every tenant to sync with one index query.
//!
//! Credentials: the domain stores only an opaque reference (a Secrets Manager ARN or SSM
//! parameter name on AWS, a key of a local map in the local server); the function resolves
//! it when it builds the EAA client. No read API returns the reference or the secret:
//! [`EaaConfig`] only says whether one is set.

use item_store::{Attributes, Condition, GSI1, Item, ItemStore, Query, StoreError, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::rfc3339;
use crate::eaa::port::{EaaConnector, EaaDirectory, EaaDirectoryInfo, EaaError, EaaGroup, EaaPage};
use crate::error::{Error, Result};
use crate::service::Provisioning;
use crate::storage::keys::{self, GSI1_PK, GSI1_SK};
use crate::storage::paging;
use crate::tenancy::ownership::{Actor, Caller};

/// The longest credentials reference accepted (SSM parameter names stop at 1011 characters
/// per level; a reference is one name under the tenant's path).
pub const MAX_CREDENTIALS_REF_BYTES: usize = 1011;

/// Pages of EAA listings read when looking a directory or group up by id (250 each).
const MAX_LOOKUP_PAGES: usize = 40;

/// A selected group of an associated directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectedGroup {
    pub id: String,
    pub name: String,
}

/// An associated directory and its selected groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssociatedDirectory {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub groups: Vec<SelectedGroup>,
}

/// The stored form (with the credentials reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    integration: String,
    version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credentials_ref: Option<String>,
    #[serde(default)]
    directories: Vec<AssociatedDirectory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sync_requested_at: Option<String>,
}

/// The EAA integration as the admin API shows it (never the credentials reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EaaConfig {
    pub integration: String,
    pub has_credentials: bool,
    pub directories: Vec<AssociatedDirectory>,
    /// When an admin last asked for a sync now (RFC 3339).
    pub sync_requested_at: Option<String>,
}

/// A directory's group with whether it is selected (the admin's group picker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChoice {
    pub group: EaaGroup,
    pub selected: bool,
}

/// What the sync function needs to sync one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTarget {
    pub tenant: String,
    pub integration: String,
    /// Resolve with the function's credentials source; `None` until an admin sets it.
    pub credentials_ref: Option<String>,
}

fn require_admin(caller: &Caller) -> Result<()> {
    match caller.actor {
        Actor::Admin => Ok(()),
        Actor::Integration { .. } => Err(Error::Forbidden("only a tenant administrator may configure EAA provisioning".into())),
    }
}

/// The first item of a paged EAA listing that `wanted` accepts, reading at most
/// [`MAX_LOOKUP_PAGES`] pages.
async fn find_in_pages<T, Fut>(mut page_at: impl FnMut(u64) -> Fut, wanted: impl Fn(&T) -> bool) -> Result<Option<T>>
where
    Fut: std::future::Future<Output = std::result::Result<EaaPage<T>, EaaError>>,
{
    let mut offset = Some(0);
    for _ in 0..MAX_LOOKUP_PAGES {
        let Some(at) = offset else { break };
        let page = page_at(at).await.map_err(eaa_error)?;
        if let Some(found) = page.items.into_iter().find(|item| wanted(item)) {
            return Ok(Some(found));
        }
        offset = page.next;
    }
    Ok(None)
}

fn eaa_error(error: EaaError) -> Error {
    match error {
        EaaError::RateLimited { retry_after } => {
            Error::Retryable { throttled: true, retry_after, detail: "EAA is rate limiting this account; retry after the delay".into() }
        }
        EaaError::Unavailable(detail) => {
            // Hosts, paths and network errors are for the log.
            tracing::warn!(eaa_detail = %detail, "EAA is unavailable");
            Error::Retryable {
                throttled: false,
                retry_after: std::time::Duration::from_secs(5),
                detail: "EAA cannot be reached right now (network error, timeout or an EAA server error); retry after the delay".into(),
            }
        }
        EaaError::NoCredentials(detail) => Error::Scim(scim::ScimError::new(409, None, format!("{detail}: {STORE_CREDENTIALS_FIRST}"))),
        other => Error::Scim(scim::ScimError::new(502, None, other.to_string())),
    }
}

/// A credentials reference's shape: bounded, and a name inside the tenant's own namespace
/// (`{tenant}/{reference}`) with no way out of it. Checked before anything is looked up
/// under it (also by routes that cannot look it up: 400 comes before 501).
pub fn check_credentials_ref(credentials_ref: &str) -> Result<()> {
    // An SSM parameter name is far shorter; unbounded, it would outgrow the store's item.
    if credentials_ref.len() > MAX_CREDENTIALS_REF_BYTES {
        return Err(Error::invalid_value(format!(
            "the credentials reference is {} bytes long; give the parameter's name (at most {MAX_CREDENTIALS_REF_BYTES} bytes)",
            credentials_ref.len()
        )));
    }
    // A name inside the tenant's own namespace (`{tenant}/{reference}`): no way out of it.
    let inside = credentials_ref.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
    let allowed = credentials_ref.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if !inside || !allowed {
        return Err(Error::invalid_value(
            "credentialsRef must be a relative name of letters, digits, '-', '_', '.' and '/' (no empty, '.' or '..' parts)",
        ));
    }
    Ok(())
}

/// What an admin does about a reference that names nothing.
const STORE_CREDENTIALS_FIRST: &str =
    "store the EAA API credentials under that name first (README, \"EAA provisioning\"), then PUT /admin/v1/eaa {\"credentialsRef\": ..}";

fn stored_item(tenant: &str, stored: &Stored) -> Item {
    let mut attrs: Attributes = serde_json::to_value(stored).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
    attrs.insert(GSI1_PK.into(), keys::EAA_INTEGRATIONS.into());
    attrs.insert(GSI1_SK.into(), tenant.into());
    Item::new(keys::eaa_config(tenant), attrs)
}

fn parse(item: &Item) -> Result<Stored> {
    serde_json::from_value(Value::Object(item.attrs.clone())).map_err(|e| Error::Internal(format!("stored EAA configuration: {e}")))
}

fn view(stored: Stored) -> EaaConfig {
    EaaConfig {
        integration: stored.integration,
        has_credentials: stored.credentials_ref.is_some(),
        directories: stored.directories,
        sync_requested_at: stored.sync_requested_at,
    }
}

/// The operation that reserves the tenant's one EAA integration, for the transaction
/// creating it; it fails (condition) when the tenant has one.
pub(crate) fn reservation_op(tenant: &str, integration: &str) -> TransactOp {
    let stored = Stored {
        integration: integration.to_string(),
        version: 1,
        credentials_ref: None,
        directories: Vec::new(),
        sync_requested_at: None,
    };
    TransactOp::Put { item: stored_item(tenant, &stored), condition: Condition::Absent }
}

impl<S: ItemStore> Provisioning<S> {
    async fn eaa_stored(&self, tenant: &str) -> Result<Stored> {
        let item = self
            .store
            .get(&keys::eaa_config(tenant))
            .await?
            .ok_or_else(|| Error::not_found("this tenant has no EAA integration: create one first"))?;
        parse(&item)
    }

    /// Applies `change` to the stored configuration, conditional on the version read.
    async fn eaa_change(&self, tenant: &str, change: impl FnOnce(&mut Stored) -> Result<()>) -> Result<EaaConfig> {
        let mut stored = self.eaa_stored(tenant).await?;
        let expected = stored.version;
        change(&mut stored)?;
        stored.version += 1;
        match self.store.put(stored_item(tenant, &stored), Condition::VersionEquals(expected)).await {
            Ok(()) => Ok(view(stored)),
            Err(StoreError::ConditionFailed) => {
                Err(Error::Scim(scim::ScimError::new(409, None, "the EAA configuration was changed concurrently; read it again and retry")))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The tenant's EAA integration (404 when there is none).
    pub async fn eaa_config(&self, caller: &Caller) -> Result<EaaConfig> {
        require_admin(caller)?;
        Ok(view(self.eaa_stored(&caller.tenant).await?))
    }

    /// Sets (or replaces) the reference to the EAA API credentials, once `connector` finds
    /// credentials under it: a reference naming nothing is 409 and a document that is not
    /// EAA credentials 400, now rather than at the first sync. EAA itself is not called.
    pub async fn set_eaa_credentials(&self, caller: &Caller, credentials_ref: &str, connector: &dyn EaaConnector) -> Result<EaaConfig> {
        require_admin(caller)?;
        check_credentials_ref(credentials_ref)?;
        match connector.connect(&caller.tenant, credentials_ref).await {
            Ok(_) => {}
            Err(EaaError::Invalid(detail)) => return Err(Error::invalid_value(format!("credentialsRef {credentials_ref:?}: {detail}"))),
            Err(other) => return Err(eaa_error(other)),
        }
        self.eaa_change(&caller.tenant, |stored| {
            stored.credentials_ref = Some(credentials_ref.to_string());
            Ok(())
        })
        .await
    }

    /// The tenant's EAA directory, opened with the credentials its integration names
    /// (409 until `PUT /admin/v1/eaa` has set them).
    pub async fn eaa_directory_for(&self, caller: &Caller, connector: &dyn EaaConnector) -> Result<Box<dyn EaaDirectory>> {
        require_admin(caller)?;
        let stored = self.eaa_stored(&caller.tenant).await?;
        let reference = stored.credentials_ref.ok_or_else(|| {
            Error::Scim(scim::ScimError::new(
                409,
                None,
                "the EAA integration has no credentials yet: PUT /admin/v1/eaa {\"credentialsRef\": ..} first",
            ))
        })?;
        connector.connect(&caller.tenant, &reference).await.map_err(eaa_error)
    }

    /// The EAA tenant's directories (one page of up to 250; `next` for more).
    pub async fn available_eaa_directories(
        &self,
        caller: &Caller,
        eaa: &dyn EaaDirectory,
        offset: u64,
    ) -> Result<(Vec<EaaDirectoryInfo>, Option<u64>)> {
        require_admin(caller)?;
        let page = eaa.directories(offset).await.map_err(eaa_error)?;
        Ok((page.items, page.next))
    }

    /// Associates a directory (looked up in EAA for its name). Idempotent.
    pub async fn associate_eaa_directory(&self, caller: &Caller, eaa: &dyn EaaDirectory, directory: &str) -> Result<EaaConfig> {
        require_admin(caller)?;
        let found = find_in_pages(|at| eaa.directories(at), |d: &EaaDirectoryInfo| d.uuid_url == directory).await?;
        let info = found.ok_or_else(|| Error::not_found(format!("EAA has no directory {directory}")))?;
        self.eaa_change(&caller.tenant, |stored| {
            match stored.directories.iter_mut().find(|d| d.id == info.uuid_url) {
                Some(existing) => existing.name = info.name,
                None => stored.directories.push(AssociatedDirectory { id: info.uuid_url, name: info.name, groups: Vec::new() }),
            }
            Ok(())
        })
        .await
    }

    /// Dissociates a directory: its users are removed by the next sync.
    pub async fn dissociate_eaa_directory(&self, caller: &Caller, directory: &str) -> Result<EaaConfig> {
        require_admin(caller)?;
        self.eaa_change(&caller.tenant, |stored| {
            let before = stored.directories.len();
            stored.directories.retain(|d| d.id != directory);
            if stored.directories.len() == before {
                return Err(Error::not_found(format!("directory {directory} is not associated")));
            }
            Ok(())
        })
        .await
    }

    /// A directory's groups (one EAA page) with whether each is selected.
    pub async fn eaa_directory_groups(
        &self,
        caller: &Caller,
        eaa: &dyn EaaDirectory,
        directory: &str,
        offset: u64,
    ) -> Result<(Vec<GroupChoice>, Option<u64>)> {
        require_admin(caller)?;
        let stored = self.eaa_stored(&caller.tenant).await?;
        let associated = stored
            .directories
            .iter()
            .find(|d| d.id == directory)
            .ok_or_else(|| Error::not_found(format!("directory {directory} is not associated")))?;
        let page = eaa.groups(directory, offset).await.map_err(eaa_error)?;
        let choices = page
            .items
            .into_iter()
            .map(|group| GroupChoice { selected: associated.groups.iter().any(|g| g.id == group.uuid_url), group })
            .collect();
        Ok((choices, page.next))
    }

    /// Selects a group of an associated directory (looked up in EAA for its name).
    pub async fn associate_eaa_group(&self, caller: &Caller, eaa: &dyn EaaDirectory, directory: &str, group: &str) -> Result<EaaConfig> {
        require_admin(caller)?;
        let stored = self.eaa_stored(&caller.tenant).await?;
        if !stored.directories.iter().any(|d| d.id == directory) {
            return Err(Error::not_found(format!("directory {directory} is not associated")));
        }
        let found = find_in_pages(|at| eaa.groups(directory, at), |g: &EaaGroup| g.uuid_url == group).await?;
        let info = found.ok_or_else(|| Error::not_found(format!("directory {directory} has no group {group}")))?;
        self.eaa_change(&caller.tenant, |stored| {
            let dir = stored
                .directories
                .iter_mut()
                .find(|d| d.id == directory)
                .ok_or_else(|| Error::not_found(format!("directory {directory} is not associated")))?;
            match dir.groups.iter_mut().find(|g| g.id == info.uuid_url) {
                Some(existing) => existing.name = info.name,
                None => dir.groups.push(SelectedGroup { id: info.uuid_url, name: info.name }),
            }
            Ok(())
        })
        .await
    }

    /// Deselects a group: the next sync removes its users who are in no other selected
    /// group, with their devices.
    pub async fn dissociate_eaa_group(&self, caller: &Caller, directory: &str, group: &str) -> Result<EaaConfig> {
        require_admin(caller)?;
        self.eaa_change(&caller.tenant, |stored| {
            let dir = stored
                .directories
                .iter_mut()
                .find(|d| d.id == directory)
                .ok_or_else(|| Error::not_found(format!("directory {directory} is not associated")))?;
            let before = dir.groups.len();
            dir.groups.retain(|g| g.id != group);
            if dir.groups.len() == before {
                return Err(Error::not_found(format!("group {group} is not selected")));
            }
            Ok(())
        })
        .await
    }

    /// Records an admin's "sync now". The admin API then starts the sync function
    /// (asynchronous Lambda invoke); the time shows that the request was taken.
    pub async fn request_eaa_sync(&self, caller: &Caller) -> Result<EaaConfig> {
        require_admin(caller)?;
        let now = rfc3339(self.clock.now());
        self.eaa_change(&caller.tenant, |stored| {
            stored.sync_requested_at = Some(now);
            Ok(())
        })
        .await
    }

    /// Every tenant with an EAA integration (for the scheduled function), one index query
    /// per page.
    pub async fn eaa_sync_targets(&self) -> Result<Vec<SyncTarget>> {
        let items = paging::collect(&self.store, Query::index(GSI1, keys::EAA_INTEGRATIONS), usize::MAX, "EAA integrations").await?;
        items
            .iter()
            .map(|item| {
                let stored = parse(item)?;
                let tenant = item.key.pk.strip_prefix("T#").unwrap_or(&item.key.pk).to_string();
                Ok(SyncTarget { tenant, integration: stored.integration, credentials_ref: stored.credentials_ref })
            })
            .collect()
    }

    /// The selected groups as (directory, group) for the engine, with the integration id.
    pub(crate) async fn eaa_selection(&self, tenant: &str) -> Result<(String, Vec<(String, SelectedGroup)>)> {
        let stored = self.eaa_stored(tenant).await?;
        let selected =
            stored.directories.into_iter().flat_map(|d| d.groups.into_iter().map(move |g| (d.id.clone(), g))).collect::<Vec<_>>();
        Ok((stored.integration, selected))
    }
}
