//! A stored user or group: the canonical SCIM resource (without `id` and `meta`) plus
//! what the service keeps about it, and its item form with the index keys.

use item_store::{Attributes, Item, Key};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::mfa::state::MfaState;
use crate::resources::attributes::{unique_value, work_email, work_email_aliases};
use crate::resources::types::TypeDescriptor;
use crate::storage::attrs::{str_attr, u64_attr};
use crate::storage::keys::{self, GSI1_PK, GSI1_SK, GSI2_PK, GSI2_SK, GSI3_PK, GSI3_SK};
use crate::tenancy::ownership::Source;

/// The attribute of a user's or group's item counting the memberships that name it.
pub(crate) const MEMBER_OF: &str = "memberOf";

/// The attribute marking a group with member changes still to apply.
const PENDING_MEMBERS: &str = "pendingMembers";

/// The attribute of a work email alias item naming its user.
pub(crate) const ALIAS_OF: &str = "of";

/// The attribute marking a group whose displayName claim is its owner's
/// (`keys::group_name`); a group without it holds the tenant-wide claim of before.
const OWNER_SCOPED_NAME: &str = "ownerScopedName";

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub type_name: String,
    pub version: u64,
    /// The canonical SCIM resource without `id`, `meta` and attributes stored apart.
    pub resource: Value,
    pub created: String,
    pub last_modified: String,
    pub source: Source,
    /// Users only.
    pub mfa: Option<MfaState>,
    /// How many memberships name this user or group (kept with them, see `members`);
    /// `None` for a record stored before the count existed.
    pub member_of: Option<u64>,
    /// A group whose member changes are recorded but not all applied yet (see
    /// `member_intents`): whoever reads or writes it next applies them first.
    pub pending_members: bool,
    /// A group whose displayName claim is scoped to its owner (`keys::group_name`); false
    /// for users and for groups stored before names were unique per owner, which hold
    /// the tenant-wide `keys::uniqueness` claim until they are renamed, change owner or
    /// meet a same-named group of another owner (`resources::group_names`).
    pub owner_scoped_name: bool,
}

impl Record {
    /// The value of the unique attribute (userName, displayName), if set.
    pub fn unique_value(&self, descriptor: &TypeDescriptor) -> Option<&str> {
        unique_value(descriptor, &self.resource)
    }

    /// The claim item this record holds for its unique value, if it has one.
    pub fn name_claim(&self, tenant: &str, descriptor: &TypeDescriptor) -> Option<Key> {
        let value = self.unique_value(descriptor)?;
        Some(if self.owner_scoped_name {
            keys::group_name(tenant, self.source.as_stored(), value)
        } else {
            keys::uniqueness(tenant, descriptor.name(), value)
        })
    }

    /// The SCIM representation: the resource with `id` and `meta` (location is added by
    /// the HTTP layer from the endpoint and id).
    pub fn to_scim(&self) -> Value {
        let mut resource = match &self.resource {
            Value::Object(fields) => fields.clone(),
            _ => Map::new(),
        };
        resource.insert("id".into(), Value::String(self.id.clone()));
        resource.insert(
            "meta".into(),
            json!({
                "resourceType": self.type_name, "created": self.created, "lastModified": self.last_modified,
                "version": scim::etag::etag(self.version),
            }),
        );
        Value::Object(resource)
    }

    /// The item, with its index keys.
    pub fn to_item(&self, tenant: &str, descriptor: &TypeDescriptor) -> Item {
        let mut attrs = Attributes::new();
        attrs.insert("type".into(), self.type_name.clone().into());
        attrs.insert("version".into(), self.version.into());
        attrs.insert("resource".into(), self.resource.clone());
        attrs.insert("created".into(), self.created.clone().into());
        attrs.insert("lastModified".into(), self.last_modified.clone().into());
        attrs.insert("source".into(), self.source.as_stored().into());
        if let Some(mfa) = &self.mfa {
            attrs.insert("mfa".into(), serde_json::to_value(mfa).unwrap_or(Value::Null));
        }
        if let Some(count) = self.member_of {
            attrs.insert(MEMBER_OF.into(), count.into());
        }
        if self.pending_members {
            attrs.insert(PENDING_MEMBERS.into(), true.into());
        }
        if self.owner_scoped_name {
            attrs.insert(OWNER_SCOPED_NAME.into(), true.into());
        }
        let type_name = descriptor.name();
        attrs.insert(GSI1_PK.into(), keys::listing(tenant, type_name).into());
        let sort = self.unique_value(descriptor).map(keys::listing_sort).unwrap_or_else(|| self.id.clone());
        attrs.insert(GSI1_SK.into(), sort.into());
        if let Some(external_id) = self.resource.get("externalId").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            attrs.insert(GSI2_PK.into(), keys::external_id(tenant, type_name, external_id).into());
            attrs.insert(GSI2_SK.into(), self.id.clone().into());
        }
        if descriptor.email_index
            && let Some(email) = work_email(&self.resource)
        {
            attrs.insert(GSI3_PK.into(), keys::email(tenant, type_name, email).into());
            attrs.insert(GSI3_SK.into(), self.id.clone().into());
        }
        Item::new(keys::resource(tenant, &self.id), attrs)
    }

    /// The alias items of the user's other work emails, each in the email index under
    /// its address, naming the user (`of`).
    pub fn work_email_alias_items(&self, tenant: &str, descriptor: &TypeDescriptor) -> Vec<Item> {
        if !descriptor.email_index {
            return Vec::new();
        }
        work_email_aliases(&self.resource)
            .into_iter()
            .map(|email| {
                let mut attrs = Attributes::new();
                attrs.insert(GSI3_PK.into(), keys::email(tenant, descriptor.name(), email).into());
                attrs.insert(GSI3_SK.into(), self.id.clone().into());
                attrs.insert(ALIAS_OF.into(), self.id.clone().into());
                Item::new(keys::work_email_alias(tenant, &self.id, email), attrs)
            })
            .collect()
    }

    /// [`Record::to_item`], refusing a resource too large for one item (400, not a store
    /// error: the request is what must change).
    pub fn checked_item(&self, tenant: &str, descriptor: &TypeDescriptor) -> Result<Item> {
        let item = self.to_item(tenant, descriptor);
        let size = item_store::item_size(&item);
        if size > item_store::MAX_ITEM_BYTES {
            return Err(Error::invalid_value(format!(
                "the {} is too large to store ({size} bytes; at most {}): send fewer or shorter attribute values",
                descriptor.name(),
                item_store::MAX_ITEM_BYTES
            )));
        }
        Ok(item)
    }

    pub fn from_item(item: &Item) -> Result<Record> {
        let id = item
            .key
            .pk
            .rsplit_once("#R#")
            .map(|(_, id)| id.to_string())
            .ok_or_else(|| Error::Internal(format!("resource key {} has no id", item.key)))?;
        let mfa = match item.attrs.get("mfa") {
            Some(value) => {
                Some(serde_json::from_value(value.clone()).map_err(|e| Error::Internal(format!("stored MFA state of {id}: {e}")))?)
            }
            None => None,
        };
        Ok(Record {
            type_name: str_attr(&item.attrs, "type")?.to_string(),
            version: u64_attr(&item.attrs, "version"),
            resource: item.attrs.get("resource").cloned().unwrap_or_else(|| Value::Object(Map::new())),
            created: str_attr(&item.attrs, "created")?.to_string(),
            last_modified: str_attr(&item.attrs, "lastModified")?.to_string(),
            source: Source::from_stored(str_attr(&item.attrs, "source")?),
            mfa,
            member_of: item.attrs.get(MEMBER_OF).and_then(Value::as_u64),
            pending_members: item.attrs.get(PENDING_MEMBERS).and_then(Value::as_bool) == Some(true),
            owner_scoped_name: item.attrs.get(OWNER_SCOPED_NAME).and_then(Value::as_bool) == Some(true),
            id,
        })
    }
}
