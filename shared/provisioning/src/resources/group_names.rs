//! Group displayNames are unique per owner (an integration, or manual), not per tenant:
//! Entra's `POST /Groups {"displayName":"Sales"}` must not collide with the Sales group an
//! EAA directory brought, which Entra cannot see. userName stays unique per tenant.
//!
//! A group's claim is `keys::group_name(owner, name)`. Groups stored before hold the
//! tenant-wide `keys::uniqueness("Group", name)` claim instead (their record has no
//! `ownerScopedName` mark); they keep it until they are renamed or change owner, or until
//! a write of a same-named group of another owner finds it. Every group write therefore
//! also checks that no such legacy claim exists for the name it takes (a `Check` in its
//! transaction, no extra round trip); when one does, [`Provisioning::legacy_name`]
//! decides: the same owner's group is a collision like any other, another owner's group
//! has its claim moved into its owner's scope (one transaction) and the write is retried.

use item_store::{Condition, Item, ItemStore, Key, TransactOp};
use serde_json::Value;

use crate::error::Result;
use crate::resources::record::Record;
use crate::resources::types::{GROUPS, TypeDescriptor};
use crate::service::Provisioning;
use crate::storage::keys;
use crate::tenancy::ownership::{Actor, Caller, Source};

/// What a legacy claim on a name means for a write by `owner`.
pub(crate) enum LegacyName {
    /// Held by a group of the same owner (or one that write may claim): a collision, to be
    /// resolved through the claim item's `id` like any other.
    Collides(Key),
    /// Gone, or moved into its holder's owner scope: write again.
    Again,
}

/// The claim a new version of a record takes: userName tenant-wide, a group's
/// displayName within its owner.
pub(crate) fn claim_for(tenant: &str, descriptor: &TypeDescriptor, source: &Source, value: &str) -> Key {
    if descriptor.is_user {
        keys::uniqueness(tenant, descriptor.name(), value)
    } else {
        keys::group_name(tenant, source.as_stored(), value)
    }
}

/// The owners whose groups a group write by `caller` collides with by name: its own, and
/// the manual ones when it may claim them (*include manually provisioned users*).
pub(crate) fn name_sharing(caller: &Caller, descriptor: &TypeDescriptor) -> Vec<Source> {
    let own = caller.source();
    let claims_manual = matches!(&caller.actor, Actor::Integration { settings, .. } if settings.include_manual_users);
    if !descriptor.is_user && claims_manual { vec![own, Source::Manual] } else { vec![own] }
}

/// The legacy tenant-wide claim of a group name, to check absent in a group write.
pub(crate) fn legacy_claim(tenant: &str, display_name: &str) -> Key {
    keys::uniqueness(tenant, GROUPS.name(), display_name)
}

/// The claim item: the id of its holder.
pub(crate) fn claim_item(key: Key, id: &str) -> Item {
    let mut attrs = item_store::Attributes::new();
    attrs.insert("id".into(), id.into());
    Item::new(key, attrs)
}

impl<S: ItemStore> Provisioning<S> {
    /// A group write by an owner in `sharing` (the writer's own scope, and the manual one
    /// when it may claim manual groups) found a legacy claim on `display_name`.
    pub(crate) async fn legacy_name(&self, tenant: &str, display_name: &str, sharing: &[Source]) -> Result<LegacyName> {
        let key = legacy_claim(tenant, display_name);
        let Some(claim) = self.store.get(&key).await? else { return Ok(LegacyName::Again) };
        let Some(id) = claim.attrs.get("id").and_then(Value::as_str) else { return Ok(LegacyName::Again) };
        let Some(item) = self.store.get(&keys::resource(tenant, id)).await? else { return Ok(LegacyName::Again) };
        let holder = Record::from_item(&item)?;
        if sharing.contains(&holder.source) {
            return Ok(LegacyName::Collides(key));
        }
        self.scope_legacy_name(tenant, holder, key).await?;
        Ok(LegacyName::Again)
    }

    /// Moves a legacy group's claim into its owner's scope, with the mark on its record
    /// (a new version: conditional on the one read, so a concurrent write wins and the
    /// caller's retry looks again).
    async fn scope_legacy_name(&self, tenant: &str, holder: Record, legacy: Key) -> Result<()> {
        let Some(name) = holder.unique_value(&GROUPS).map(str::to_string) else { return Ok(()) };
        let scoped = keys::group_name(tenant, holder.source.as_stored(), &name);
        let moved = Record { version: holder.version + 1, owner_scoped_name: true, ..holder.clone() };
        let ops = vec![
            TransactOp::Put { item: moved.to_item(tenant, &GROUPS), condition: Condition::VersionEquals(holder.version) },
            TransactOp::Delete { key: legacy, condition: Condition::Present },
            TransactOp::Put { item: claim_item(scoped, &holder.id), condition: Condition::Absent },
        ];
        match self.store.transact(ops).await {
            Ok(()) => {
                tracing::info!(group = %holder.id, "a group's displayName claim moved into its owner's scope");
                Ok(())
            }
            // Someone else changed it first: the retry reads what they left.
            Err(item_store::StoreError::TransactionCanceled { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}
