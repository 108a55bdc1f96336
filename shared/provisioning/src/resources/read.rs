//! Reading one resource: the record behind an id (visible to the caller or 404), and
//! GET by id with the attributes stored apart that the selection wants.

use item_store::ItemStore;
use scim::projection::AttributeSelection;
use serde_json::Value;

use crate::error::Result;
use crate::resources::answers::{not_found, projected};
use crate::resources::record::Record;
use crate::resources::types::TypeDescriptor;
use crate::service::Provisioning;
use crate::storage::keys;
use crate::tenancy::ownership::{Actor, Caller, Decision, Operation, Source, decide, reachable};

/// Ids are server-generated uuids; anything much longer cannot be one of ours.
pub(crate) const MAX_ID_LEN: usize = 128;

/// Whether a response includes a group's members, which cost extra reads: when the
/// selection wants them, and, in a list, only when the client chose attributes
/// explicitly (so Entra's plain match query stays one round trip).
fn loads_members(selection: &AttributeSelection, descriptor: &TypeDescriptor, single: bool) -> bool {
    selection.wants(descriptor.resource_type, "members") && (single || *selection != AttributeSelection::default())
}

impl<S: ItemStore> Provisioning<S> {
    /// The record with this id if it is of this type and the caller may reach it for
    /// `operation` (others are 404, so their existence is not revealed).
    pub(crate) async fn load(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, operation: Operation) -> Result<Record> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err(not_found(descriptor, id));
        }
        let item = self.store.get(&keys::resource(&caller.tenant, id)).await?.ok_or_else(|| not_found(descriptor, id))?;
        let mut record = Record::from_item(&item)?;
        if record.pending_members {
            // A large member change in flight, or interrupted: finish it before anyone
            // reads or writes the group (see `member_intents`).
            record = self.roll_forward(&caller.tenant, id).await?.ok_or_else(|| not_found(descriptor, id))?;
        }
        // Another integration's record may name one that was deleted: then it is manual,
        // which matters to writes only (a read sees both alike), so a read costs no more.
        if let (Actor::Integration { id: me, .. }, Source::Integration(owner)) = (&caller.actor, &record.source)
            && me != owner
            && operation != Operation::Read
        {
            record.source = self.live_source(&caller.tenant, &record.source).await?;
        }
        let visible = match operation {
            Operation::Read => decide(caller, &record.source, Operation::Read) != Decision::Hidden,
            _ => reachable(caller, &record.source),
        };
        if record.type_name != descriptor.name() || !visible {
            return Err(not_found(descriptor, id));
        }
        Ok(record)
    }

    /// GET by id: one read; a group's members are read page by page when the selection
    /// wants them (never with `excludedAttributes=members`); a user's `groups` (returned
    /// on request) with one index query when `attributes` names it.
    pub async fn get(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str, selection: &AttributeSelection) -> Result<Value> {
        let record = self.load(caller, descriptor, id, Operation::Read).await?;
        let mut resource = record.to_scim();
        self.enrich(caller, descriptor, &mut resource, selection, true).await?;
        Ok(projected(descriptor, selection, &resource))
    }

    pub(crate) async fn enrich(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        resource: &mut Value,
        selection: &AttributeSelection,
        single: bool,
    ) -> Result<()> {
        let Some(id) = resource.get("id").and_then(Value::as_str).map(str::to_string) else { return Ok(()) };
        let mut extra = Vec::new();
        if descriptor.resource_type.stored_apart.contains(&"members") && loads_members(selection, descriptor, single) {
            extra.push(("members", self.members(&caller.tenant, &id, self.limits.max_members_in_response).await?));
        }
        if descriptor.is_user && selection.wants(descriptor.resource_type, "groups") {
            extra.push(("groups", self.groups_of(&caller.tenant, &id).await?));
        }
        if let Value::Object(fields) = resource {
            for (name, values) in extra.into_iter().filter(|(_, values)| !values.is_empty()) {
                fields.insert(name.to_string(), Value::Array(values));
            }
        }
        Ok(())
    }
}
