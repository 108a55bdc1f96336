//! Provisioning integrations (SCIM or EAA) and their API tokens: created, listed,
//! reconfigured, rotated and deleted by the tenant's administrator. A token is stored
//! only as its hash (see `secrets`); `auth` turns a presented token into a caller.

use item_store::{Attributes, Condition, Item, ItemStore, Query, SortKey, TransactOp};
use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::eaa::config::reservation_op;
use crate::error::{Error, Result};
use crate::service::Provisioning;
use crate::storage::attrs::{str_attr, u64_attr};
use crate::storage::ids::new_id;
use crate::storage::keys;
use crate::storage::paging;
use crate::storage::transaction::Transaction;
use crate::tenancy::ownership::{Caller, Settings, Source};
use crate::tenancy::secrets;
use crate::tenancy::source_moves::{MoveTarget, SourceMove};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationKind {
    Scim,
    Eaa,
}

impl IntegrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Scim => "SCIM",
            IntegrationKind::Eaa => "EAA",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "SCIM" => Ok(IntegrationKind::Scim),
            "EAA" => Ok(IntegrationKind::Eaa),
            other => Err(Error::Internal(format!("stored integration kind {other:?} is unknown"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    pub id: String,
    pub tenant: String,
    pub kind: IntegrationKind,
    pub name: String,
    pub settings: Settings,
    pub created: String,
    pub version: u64,
    /// Unix seconds of the last authenticated request (to `auth::LAST_USED_RESOLUTION`).
    pub last_used: Option<i64>,
}

/// A created integration or rotated token: the token is shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithToken {
    pub integration: Integration,
    pub token: String,
}

fn settings_json(settings: Settings) -> Value {
    serde_json::to_value(settings).unwrap_or(Value::Null)
}

fn integration_attrs(integration: &Integration, token_hash: &str) -> Attributes {
    let value = json!({
        "kind": integration.kind.as_str(), "name": integration.name, "settings": settings_json(integration.settings),
        "created": integration.created, "version": integration.version, "tokenHash": token_hash,
    });
    match value {
        Value::Object(map) => map,
        _ => Attributes::new(),
    }
}

pub(crate) fn token_item(tenant: &str, integration: &str, hash: &str) -> Item {
    let attrs = json!({"kind": "integration", "tenant": tenant, "integration": integration, "hash": hash});
    Item::new(keys::secret(hash), attrs.as_object().cloned().unwrap_or_default())
}

pub(crate) fn parse_integration(tenant: &str, item: &Item) -> Result<(Integration, String)> {
    let id = item.key.sk.strip_prefix(keys::INTEGRATION_PREFIX).unwrap_or(&item.key.sk).to_string();
    let settings = item
        .attrs
        .get("settings")
        .cloned()
        .map(serde_json::from_value::<Settings>)
        .transpose()
        .map_err(|e| Error::Internal(format!("stored settings of integration {id}: {e}")))?
        .unwrap_or_default();
    let integration = Integration {
        id,
        tenant: tenant.to_string(),
        kind: IntegrationKind::parse(str_attr(&item.attrs, "kind")?)?,
        name: str_attr(&item.attrs, "name")?.to_string(),
        settings,
        created: str_attr(&item.attrs, "created")?.to_string(),
        version: u64_attr(&item.attrs, "version"),
        last_used: None,
    };
    Ok((integration, str_attr(&item.attrs, "tokenHash")?.to_string()))
}

/// The longest integration name accepted.
pub const MAX_NAME_CHARS: usize = 200;

const MANAGE: &str = "manage integrations";

/// The uniqueness item of an integration name (case-insensitive per tenant, like a
/// group's displayName).
fn name_key(tenant: &str, name: &str) -> item_store::Key {
    keys::uniqueness(tenant, "Integration", name)
}

fn name_claim(tenant: &str, id: &str, name: &str) -> TransactOp {
    let mut attrs = Attributes::new();
    attrs.insert("id".into(), id.into());
    TransactOp::Put { item: Item::new(name_key(tenant, name), attrs), condition: Condition::Absent }
}

fn name_taken(name: &str) -> Error {
    Error::conflict(format!(
        "an integration named \"{name}\" already exists in this tenant (names are unique, case-insensitively): choose another name"
    ))
}

/// A name as stored: trimmed, not empty, not too long.
fn checked_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid_value("name is required: give the integration a non-empty \"name\""));
    }
    // Shown in lists and logs; unbounded, it would outgrow the store's item (a 500).
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid_value(format!("the integration name is longer than {MAX_NAME_CHARS} characters: shorten it")));
    }
    Ok(name)
}

impl<S: ItemStore> Provisioning<S> {
    /// Creates an integration and its token (one transaction). The token is returned once.
    pub async fn create_integration(&self, caller: &Caller, kind: IntegrationKind, name: &str, settings: Settings) -> Result<WithToken> {
        caller.require_admin(MANAGE)?;
        let name = checked_name(name)?;
        let token = secrets::generate("scim_")?;
        let integration = Integration {
            id: new_id(),
            tenant: caller.tenant.clone(),
            kind,
            name: name.to_string(),
            settings,
            created: rfc3339(self.clock.now()),
            version: 1,
            last_used: None,
        };
        let mut transaction = Transaction::new();
        transaction.push(TransactOp::Put {
            item: Item::new(keys::integration(&caller.tenant, &integration.id), integration_attrs(&integration, &token.hash)),
            condition: Condition::Absent,
        });
        let name_op = transaction.push(name_claim(&caller.tenant, &integration.id, name));
        transaction.push(TransactOp::Put { item: token_item(&caller.tenant, &integration.id, &token.hash), condition: Condition::Absent });
        // At most one EAA integration per tenant: its configuration item is created here,
        // conditional on absence (see `eaa::config`).
        let reservation = (kind == IntegrationKind::Eaa).then(|| transaction.push(reservation_op(&caller.tenant, &integration.id)));
        match transaction.run(&self.store).await {
            Err(failed) if reservation.is_some_and(|op| failed.at(op)) => {
                return Err(Error::conflict("this tenant already has an EAA integration (one per tenant)"));
            }
            Err(failed) if failed.at(name_op) => return Err(name_taken(name)),
            other => other?,
        }
        Ok(WithToken { integration, token: token.plaintext })
    }

    pub(crate) async fn integration_item(&self, caller: &Caller, id: &str) -> Result<(Integration, String)> {
        let missing = || Error::not_found(format!("no integration {id} in this tenant"));
        // An id no key can hold is no integration (the store would refuse the key: a 500).
        if id.is_empty() || id.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(missing());
        }
        let item = self.store.get(&keys::integration(&caller.tenant, id)).await?.ok_or_else(missing)?;
        parse_integration(&caller.tenant, &item)
    }

    /// One integration with its last-used time (one more read: the token item holds it).
    pub async fn integration(&self, caller: &Caller, id: &str) -> Result<Integration> {
        caller.require_admin(MANAGE)?;
        let (integration, hash) = self.integration_item(caller, id).await?;
        self.with_last_used(integration, &hash).await
    }

    /// The tenant's integrations, each as [`Provisioning::integration`] answers it (a
    /// tenant has few: one page, and one read of each token for its last use).
    pub async fn list_integrations(&self, caller: &Caller) -> Result<Vec<Integration>> {
        caller.require_admin(MANAGE)?;
        let query = Query::partition(keys::tenant_config(&caller.tenant)).sort(SortKey::Prefix(keys::INTEGRATION_PREFIX.into()));
        let items = paging::collect(&self.store, query, usize::MAX, "integrations").await?;
        let mut integrations = Vec::with_capacity(items.len());
        for item in &items {
            let (integration, hash) = parse_integration(&caller.tenant, item)?;
            integrations.push(self.with_last_used(integration, &hash).await?);
        }
        Ok(integrations)
    }

    /// The ids of the tenant's integrations (one query: a tenant has few). A record whose
    /// source names none of them is manual (see `ownership::live_source`).
    pub(crate) async fn live_integrations(&self, caller: &Caller) -> Result<std::collections::HashSet<String>> {
        let query = Query::partition(keys::tenant_config(&caller.tenant)).sort(SortKey::Prefix(keys::INTEGRATION_PREFIX.into()));
        let items = paging::collect(&self.store, query, usize::MAX, "integrations").await?;
        Ok(items.iter().filter_map(|item| item.key.sk.strip_prefix(keys::INTEGRATION_PREFIX).map(str::to_string)).collect())
    }

    async fn with_last_used(&self, mut integration: Integration, token_hash: &str) -> Result<Integration> {
        if let Some(token) = self.store.get(&keys::secret(token_hash)).await? {
            integration.last_used = token.attrs.get("lastUsed").and_then(Value::as_i64);
        }
        Ok(integration)
    }

    /// Changes the switches, conditional on the version read.
    pub async fn update_settings(&self, caller: &Caller, id: &str, settings: Settings) -> Result<Integration> {
        self.update_integration(caller, id, None, Some(settings)).await
    }

    /// Renames an integration (the name stays unique in the tenant, case-insensitively)
    /// and/or changes its switches, in one write conditional on the version read.
    pub async fn update_integration(
        &self,
        caller: &Caller,
        id: &str,
        name: Option<&str>,
        settings: Option<Settings>,
    ) -> Result<Integration> {
        caller.require_admin(MANAGE)?;
        let (mut integration, hash) = self.integration_item(caller, id).await?;
        let expected = integration.version;
        let old_name = integration.name.clone();
        if let Some(name) = name {
            integration.name = checked_name(name)?.to_string();
        }
        if let Some(settings) = settings {
            integration.settings = settings;
        }
        integration.version += 1;
        let mut transaction = Transaction::new();
        let item = Item::new(keys::integration(&caller.tenant, id), integration_attrs(&integration, &hash));
        let version_op = transaction.push(TransactOp::Put { item, condition: Condition::VersionEquals(expected) });
        let mut name_op = None;
        if keys::fold(&old_name) != keys::fold(&integration.name) {
            transaction.push(TransactOp::Delete { key: name_key(&caller.tenant, &old_name), condition: Condition::None });
            name_op = Some(transaction.push(name_claim(&caller.tenant, id, &integration.name)));
        }
        match transaction.run(&self.store).await {
            Err(failed) if name_op.is_some_and(|op| failed.at(op)) => return Err(name_taken(&integration.name)),
            Err(failed) if failed.at(version_op) => {
                return Err(Error::conflict("the integration was changed concurrently; read it again and retry"));
            }
            other => other?,
        }
        self.grants.revoke_all();
        Ok(integration)
    }

    /// Replaces the token: the new one works at once, the old one stops (this process at
    /// once, other warm functions within `auth::AUTH_CACHE_TTL`).
    pub async fn rotate_token(&self, caller: &Caller, id: &str) -> Result<WithToken> {
        caller.require_admin(MANAGE)?;
        let (mut integration, old_hash) = self.integration_item(caller, id).await?;
        let token = secrets::generate("scim_")?;
        let expected = integration.version;
        integration.version += 1;
        let ops = vec![
            TransactOp::Put {
                item: Item::new(keys::integration(&caller.tenant, id), integration_attrs(&integration, &token.hash)),
                condition: Condition::VersionEquals(expected),
            },
            TransactOp::Delete { key: keys::secret(&old_hash), condition: Condition::None },
            TransactOp::Put { item: token_item(&caller.tenant, id, &token.hash), condition: Condition::Absent },
        ];
        self.store.transact(ops).await?;
        self.grants.revoke(&old_hash);
        Ok(WithToken { integration, token: token.plaintext })
    }

    /// Deletes an integration and its token, and starts the job that releases its users
    /// and groups to manual (`MoveTarget::Manual`) or removes them with their devices
    /// (`MoveTarget::Delete`), in one transaction: from then on the integration is gone
    /// for SCIM, and its records are manual for every rule even before the job reaches
    /// them. The answer is the job after its first steps (up to `examine` listing items:
    /// a small tenant's deletion is done by then; `tenancy::source_moves`).
    pub async fn delete_integration(&self, caller: &Caller, id: &str, users: MoveTarget, examine: usize) -> Result<SourceMove> {
        caller.require_admin(MANAGE)?;
        if let MoveTarget::Integration { .. } = users {
            return Err(Error::invalid_value("a deleted integration's users are released to manual or removed"));
        }
        let (integration, hash) = self.integration_item(caller, id).await?;
        let eaa = integration.kind == IntegrationKind::Eaa;
        let (job, job_op) = self.new_source_move(&caller.tenant, id, users, true, eaa);
        let mut ops = vec![
            TransactOp::Delete { key: keys::integration(&caller.tenant, id), condition: Condition::VersionEquals(integration.version) },
            TransactOp::Delete { key: keys::secret(&hash), condition: Condition::None },
            TransactOp::Delete { key: name_key(&caller.tenant, &integration.name), condition: Condition::None },
            job_op,
        ];
        if eaa {
            // The configuration and an unfinished run belong to this integration; the sync
            // states stay for a successor to adopt (or go with removed users, see the job).
            ops.push(TransactOp::Delete { key: keys::eaa_config(&caller.tenant), condition: Condition::None });
            ops.push(TransactOp::Delete { key: keys::eaa_sync(&caller.tenant, "RUN"), condition: Condition::None });
        }
        match self.store.transact(ops).await {
            Err(item_store::StoreError::TransactionCanceled { .. }) => {
                return Err(Error::conflict("the integration was changed concurrently; read it again and retry"));
            }
            other => other?,
        }
        self.grants.revoke(&hash);
        match self.run_source_move(&caller.tenant, &job.id, examine).await {
            Ok(job) => Ok(job),
            // The deletion stands; the job goes on in the background.
            Err(error) => {
                tracing::warn!(job = %job.id, error = %error.detail(), "the deletion's first steps failed; the background goes on");
                Ok(job)
            }
        }
    }

    /// The source a record's stored source stands for: an integration that no longer
    /// exists is manual (its deletion is releasing it, or it was deleted before deletions
    /// released records). One read, only for another integration's record.
    pub(crate) async fn live_source(&self, tenant: &str, source: &Source) -> Result<Source> {
        match source {
            Source::Integration(id) if self.store.get(&keys::integration(tenant, id)).await?.is_none() => Ok(Source::Manual),
            other => Ok(other.clone()),
        }
    }
}
