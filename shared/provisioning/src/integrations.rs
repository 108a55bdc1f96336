//! Provisioning integrations (SCIM or EAA), their API tokens, and authentication.
//!
//! Authentication caches a token's grant for [`AUTH_CACHE_TTL`] (a warm function checks
//! the store at most once a minute per token), and records the token's last use at most
//! once per [`LAST_USED_RESOLUTION`], on a cache refresh: never a write per request.

use std::time::Duration;

use item_store::{Attributes, Condition, Item, ItemStore, Query, SortKey, TransactOp};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::keys;
use crate::ownership::{Caller, Settings};
use crate::secrets::{self, new_id};
use crate::service::{Provisioning, str_attr, u64_attr};

/// How long a verified token is trusted without asking the store again.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(60);
/// The granularity of an integration's last-used time.
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);

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
    /// Unix seconds of the last authenticated request (to [`LAST_USED_RESOLUTION`]).
    pub last_used: Option<i64>,
}

/// A created integration or rotated token: the token is shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithToken {
    pub integration: Integration,
    pub token: String,
}

#[derive(Debug, Clone)]
pub(crate) struct CachedGrant {
    caller: Caller,
    checked_at: OffsetDateTime,
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

fn token_item(tenant: &str, integration: &str, hash: &str) -> Item {
    let attrs = json!({"kind": "integration", "tenant": tenant, "integration": integration, "hash": hash});
    Item::new(keys::secret(hash), attrs.as_object().cloned().unwrap_or_default())
}

fn parse_integration(tenant: &str, item: &Item) -> Result<(Integration, String)> {
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

fn require_admin(caller: &Caller) -> Result<()> {
    match caller.actor {
        crate::ownership::Actor::Admin => Ok(()),
        _ => Err(Error::Forbidden("only a tenant administrator may manage integrations".into())),
    }
}

impl<S: ItemStore> Provisioning<S> {
    /// Creates an integration and its token (one transaction). The token is returned once.
    pub async fn create_integration(&self, caller: &Caller, kind: IntegrationKind, name: &str, settings: Settings) -> Result<WithToken> {
        require_admin(caller)?;
        // Shown in lists and logs; unbounded, it would outgrow the store's item (a 500).
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::invalid_value(format!("the integration name is longer than {MAX_NAME_CHARS} characters: shorten it")));
        }
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
        let mut ops = vec![
            TransactOp::Put {
                item: Item::new(keys::integration(&caller.tenant, &integration.id), integration_attrs(&integration, &token.hash)),
                condition: Condition::Absent,
            },
            TransactOp::Put { item: token_item(&caller.tenant, &integration.id, &token.hash), condition: Condition::Absent },
        ];
        // At most one EAA integration per tenant: its configuration item is created here,
        // conditional on absence (see `eaa_config`).
        if kind == IntegrationKind::Eaa {
            ops.push(crate::eaa_config::reservation_op(&caller.tenant, &integration.id));
        }
        match self.store.transact(ops).await {
            Err(error) if kind == IntegrationKind::Eaa && crate::members::failed_at(&error, 2) => {
                return Err(Error::conflict("this tenant already has an EAA integration (one per tenant)"));
            }
            other => other?,
        }
        Ok(WithToken { integration, token: token.plaintext })
    }

    async fn integration_item(&self, caller: &Caller, id: &str) -> Result<(Integration, String)> {
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
        require_admin(caller)?;
        let (mut integration, hash) = self.integration_item(caller, id).await?;
        if let Some(token) = self.store.get(&keys::secret(&hash)).await? {
            integration.last_used = token.attrs.get("lastUsed").and_then(Value::as_i64);
        }
        Ok(integration)
    }

    /// The tenant's integrations (a tenant has few: one page).
    pub async fn list_integrations(&self, caller: &Caller) -> Result<Vec<Integration>> {
        require_admin(caller)?;
        let query = Query::partition(keys::tenant_config(&caller.tenant)).sort(SortKey::Prefix(keys::INTEGRATION_PREFIX.into()));
        let mut found = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.store.query(&query.clone().after(cursor)).await?;
            for item in &page.items {
                found.push(parse_integration(&caller.tenant, item)?.0);
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(found),
            }
        }
    }

    /// Changes the switches, conditional on the version read.
    pub async fn update_settings(&self, caller: &Caller, id: &str, settings: Settings) -> Result<Integration> {
        require_admin(caller)?;
        let (mut integration, hash) = self.integration_item(caller, id).await?;
        let expected = integration.version;
        integration.settings = settings;
        integration.version += 1;
        let item = Item::new(keys::integration(&caller.tenant, id), integration_attrs(&integration, &hash));
        self.store.put(item, Condition::VersionEquals(expected)).await?;
        self.cache().clear();
        Ok(integration)
    }

    /// Replaces the token: the new one works at once, the old one stops (this process at
    /// once, other warm functions within [`AUTH_CACHE_TTL`]).
    pub async fn rotate_token(&self, caller: &Caller, id: &str) -> Result<WithToken> {
        require_admin(caller)?;
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
        self.cache().remove(&old_hash);
        Ok(WithToken { integration, token: token.plaintext })
    }

    /// Deletes an integration and its token. Its records keep their source (they stay
    /// unwritable by other integrations until an admin reassigns them; see the report).
    pub async fn delete_integration(&self, caller: &Caller, id: &str) -> Result<()> {
        require_admin(caller)?;
        let (integration, hash) = self.integration_item(caller, id).await?;
        let mut ops = vec![
            TransactOp::Delete { key: keys::integration(&caller.tenant, id), condition: Condition::VersionEquals(integration.version) },
            TransactOp::Delete { key: keys::secret(&hash), condition: Condition::None },
        ];
        if integration.kind == IntegrationKind::Eaa {
            ops.push(TransactOp::Delete { key: keys::eaa_config(&caller.tenant), condition: Condition::None });
        }
        self.store.transact(ops).await?;
        self.cache().remove(&hash);
        Ok(())
    }

    /// The caller a bearer token (integration token or admin key) stands for, or 401.
    /// Cached for [`AUTH_CACHE_TTL`]; on a refresh the last-used time is written if it
    /// is older than [`LAST_USED_RESOLUTION`].
    pub async fn authenticate(&self, bearer: &str) -> Result<Caller> {
        let hash = secrets::hash(bearer.trim());
        let now = self.clock.now();
        if let Some(grant) = self.cache().get(&hash)
            && now - grant.checked_at < AUTH_CACHE_TTL
        {
            return Ok(grant.caller.clone());
        }
        let item = self.store.get(&keys::secret(&hash)).await?.ok_or(Error::Unauthorized)?;
        if !secrets::hashes_match(str_attr(&item.attrs, "hash")?, &hash) {
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
                Caller::integration(tenant, id, integration.settings)
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
        self.cache().insert(hash, CachedGrant { caller: caller.clone(), checked_at: now });
        Ok(caller)
    }
}
