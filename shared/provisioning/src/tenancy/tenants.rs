//! Tenants: created with an admin key (shown once) and an optional seat limit.

use item_store::{Attributes, Condition, Item, ItemStore, Query, SortKey, TransactOp};
use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::resources::counts::new_tenant_counts;
use crate::service::{MAX_MEMBERS_IN_RESPONSE, Provisioning};
use crate::storage::attrs::str_attr;
use crate::storage::ids::new_id;
use crate::storage::keys;
use crate::storage::paging;
use crate::tenancy::ownership::Caller;
use crate::tenancy::seats::counter_item;
use crate::tenancy::secrets;

/// A created tenant and its first admin key (the only time the key is visible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub tenant: String,
    pub admin_key: String,
    pub admin_key_id: String,
}

/// A new admin key: its id (to list and revoke it) and the key itself, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminKey {
    pub id: String,
    pub key: String,
}

/// An admin key's public id: the start of its hash (it identifies the key to admins;
/// 64 bits of a hash say nothing useful about a 256-bit secret).
fn key_id(hash: &str) -> String {
    hash.chars().take(16).collect()
}

/// The secret item and the tenant's reference to it, for one admin key.
fn admin_key_ops(tenant: &str, hash: &str, created: &str) -> [TransactOp; 2] {
    [
        TransactOp::Put {
            item: Item::new(keys::secret(hash), object(json!({"kind": "admin", "tenant": tenant, "hash": hash}))),
            condition: Condition::Absent,
        },
        TransactOp::Put {
            item: Item::new(keys::admin_key(tenant, &key_id(hash)), object(json!({"hash": hash, "created": created}))),
            condition: Condition::Absent,
        },
    ]
}

const MANAGE: &str = "manage admin keys";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created: String,
}

fn object(value: Value) -> Attributes {
    match value {
        Value::Object(map) => map,
        _ => Attributes::new(),
    }
}

impl<S: ItemStore> Provisioning<S> {
    /// Creates a tenant, its admin key, the bases of its resource counts (so its counts are
    /// complete from the start) and (with a limit) its seat counter, in one transaction.
    pub async fn create_tenant(&self, name: &str, seat_limit: Option<u64>) -> Result<NewTenant> {
        let tenant = new_id();
        let key = secrets::generate("adm_")?;
        let now = rfc3339(self.clock.now());
        let mut ops = vec![TransactOp::Put {
            item: Item::new(keys::tenant(&tenant), object(json!({"name": name, "created": now}))),
            condition: Condition::Absent,
        }];
        if seat_limit.is_some() {
            ops.push(TransactOp::Put { item: counter_item(&tenant, 0, seat_limit, 1), condition: Condition::Absent });
        }
        ops.extend(admin_key_ops(&tenant, &key.hash, &now));
        ops.extend(new_tenant_counts(&tenant));
        self.store.transact(ops).await?;
        Ok(NewTenant { admin_key_id: key_id(&key.hash), tenant, admin_key: key.plaintext })
    }

    /// Another admin key for the caller's tenant, shown once.
    pub async fn create_admin_key(&self, caller: &Caller) -> Result<NewAdminKey> {
        caller.require_admin(MANAGE)?;
        let key = secrets::generate("adm_")?;
        self.store.transact(admin_key_ops(&caller.tenant, &key.hash, &rfc3339(self.clock.now())).to_vec()).await?;
        Ok(NewAdminKey { id: key_id(&key.hash), key: key.plaintext })
    }

    /// The ids of the tenant's admin keys.
    pub async fn list_admin_keys(&self, caller: &Caller) -> Result<Vec<String>> {
        caller.require_admin(MANAGE)?;
        let query = Query::partition(keys::tenant_config(&caller.tenant)).sort(SortKey::Prefix(keys::ADMIN_KEY_PREFIX.into()));
        let items = paging::collect(&self.store, query, MAX_MEMBERS_IN_RESPONSE, "admin keys").await?;
        Ok(items.iter().filter_map(|item| item.key.sk.strip_prefix(keys::ADMIN_KEY_PREFIX).map(str::to_string)).collect())
    }

    /// Revokes an admin key of the caller's tenant (this process at once, other warm
    /// functions within the token cache's minute).
    pub async fn revoke_admin_key(&self, caller: &Caller, id: &str) -> Result<()> {
        caller.require_admin(MANAGE)?;
        if id.is_empty() || id.len() > keys::MAX_KEY_VALUE_BYTES {
            return Err(Error::not_found(format!("no admin key {id}")));
        }
        let reference = keys::admin_key(&caller.tenant, id);
        let item = self.store.get(&reference).await?.ok_or_else(|| Error::not_found(format!("no admin key {id}")))?;
        let hash = str_attr(&item.attrs, "hash")?.to_string();
        let ops = vec![
            TransactOp::Delete { key: reference, condition: Condition::Present },
            TransactOp::Delete { key: keys::secret(&hash), condition: Condition::None },
        ];
        self.store.transact(ops).await?;
        self.grants.revoke(&hash);
        Ok(())
    }

    pub async fn tenant(&self, tenant: &str) -> Result<Tenant> {
        let item = self.store.get(&keys::tenant(tenant)).await?.ok_or_else(|| Error::not_found(format!("no tenant {tenant}")))?;
        Ok(Tenant {
            id: tenant.to_string(),
            name: str_attr(&item.attrs, "name")?.to_string(),
            created: str_attr(&item.attrs, "created")?.to_string(),
        })
    }
}
