//! Tenants: created with an admin key (shown once) and an optional seat limit.

use item_store::{Attributes, Condition, Item, ItemStore, TransactOp};
use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::keys;
use crate::secrets::{self, new_id};
use crate::service::{Provisioning, str_attr};

/// A created tenant and its first admin key (the only time the key is visible).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTenant {
    pub tenant: String,
    pub admin_key: String,
}

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
    /// Creates a tenant, its admin key and its seat counter (with the optional limit), in
    /// one transaction.
    pub async fn create_tenant(&self, name: &str, seat_limit: Option<u64>) -> Result<NewTenant> {
        let tenant = new_id();
        let key = secrets::generate("adm_")?;
        let now = rfc3339(self.clock.now());
        let ops = vec![
            TransactOp::Put {
                item: Item::new(keys::tenant(&tenant), object(json!({"name": name, "created": now}))),
                condition: Condition::Absent,
            },
            TransactOp::Put {
                item: Item::new(keys::secret(&key.hash), object(json!({"kind": "admin", "tenant": tenant, "hash": key.hash}))),
                condition: Condition::Absent,
            },
            TransactOp::Put { item: crate::seats::counter_item(&tenant, 0, seat_limit, 1), condition: Condition::Absent },
        ];
        self.store.transact(ops).await?;
        Ok(NewTenant { tenant, admin_key: key.plaintext })
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
