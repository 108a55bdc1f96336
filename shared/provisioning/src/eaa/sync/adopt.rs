//! A new EAA integration adopts what the tenant's deleted one provisioned.
//!
//! The sync states (`T#{t}#EAA#U`, `#G`) outlive an EAA integration's deletion when its
//! users are released (see `tenancy::source_moves`), and the `EAASYNC#OWNER` item says
//! which integration they were written for. The first step of a different integration
//! goes through them once: a record that is now manual (released, or orphaned before
//! deletions released records) becomes this integration's, logged as a claim, whatever
//! *include manually provisioned users* says (it is the same EAA user the tenant's EAA
//! provisioning made); its state's hash is cleared so that the run writes the user as EAA
//! has it now (a user re-enabled in EAA is restored). A state whose record is gone, or
//! belongs to another integration now, is dropped: the run creates the user again, or
//! reports the conflict. Without this, the old states made the new integration skip
//! users as unchanged and take a removal refused as "already gone".

use std::collections::HashMap;

use item_store::{Attributes, Condition, Item, ItemStore};
use serde_json::Value;

use crate::eaa::sync::mapping::{GroupState, UserState, state_key, to_attrs};
use crate::eaa::sync::run::{Run, Stop};
use crate::error::Result;
use crate::log::LogOperation;
use crate::resources::record::Record;
use crate::resources::types::{GROUPS, TypeDescriptor, USERS};
use crate::service::Provisioning;
use crate::storage::keys;
use crate::tenancy::ownership::{Caller, Source};

/// The log's detail for an adopted record.
pub const ADOPTED_DETAIL: &str = "adopted: provisioned by the tenant's deleted EAA integration";

/// States examined between checks of the step's time.
const CHECK_EVERY: usize = 98;

/// What adopting one record came to.
enum Adoption {
    /// The record is this integration's (already, or now): keep the state.
    Ours,
    /// Gone, or another integration's: drop the state.
    NotOurs,
}

impl<S: ItemStore> Provisioning<S> {
    /// Adopts the records the states name, unless they were written for this integration.
    pub(crate) async fn adopt_predecessor(
        &self,
        caller: &Caller,
        run: &Run,
        users: &mut HashMap<String, UserState>,
        groups: &mut HashMap<String, GroupState>,
    ) -> Result<(), Stop> {
        let tenant = &caller.tenant;
        let me = caller.source();
        let owner = self.store.get(&keys::eaa_sync(tenant, "OWNER")).await?;
        if owner.as_ref().and_then(|item| item.attrs.get("integration")).and_then(Value::as_str) == Some(me.as_stored()) {
            return Ok(());
        }
        let mut examined = 0usize;
        let uuids: Vec<String> = users.keys().cloned().collect();
        for uuid in uuids {
            examined += 1;
            if examined.is_multiple_of(CHECK_EVERY) && run.out_of_time() {
                return Err(Stop::OutOfTime);
            }
            let Some(state) = users.get_mut(&uuid) else { continue };
            match self.adopt(caller, &USERS, &state.id).await? {
                Some(Adoption::Ours) => {}
                Some(Adoption::NotOurs) | None => {
                    users.remove(&uuid);
                    self.store.delete(&state_key(tenant, "U", &uuid), Condition::None).await?;
                    continue;
                }
            }
            if state.hash.is_empty() {
                continue;
            }
            // Written as EAA has the user now, on this run and on a resumed one.
            state.hash.clear();
            self.store.put(Item::new(state_key(tenant, "U", &uuid), to_attrs(&*state)), Condition::None).await?;
        }
        let uuids: Vec<String> = groups.keys().cloned().collect();
        for uuid in uuids {
            let Some(state) = groups.get(&uuid) else { continue };
            if let Some(Adoption::NotOurs) | None = self.adopt(caller, &GROUPS, &state.id).await? {
                groups.remove(&uuid);
                self.store.delete(&state_key(tenant, "G", &uuid), Condition::None).await?;
            }
        }
        let mut attrs = Attributes::new();
        attrs.insert("integration".into(), me.as_stored().into());
        self.store.put(Item::new(keys::eaa_sync(tenant, "OWNER"), attrs), Condition::None).await?;
        Ok(())
    }

    /// `None` when the record is gone.
    async fn adopt(&self, caller: &Caller, descriptor: &TypeDescriptor, id: &str) -> Result<Option<Adoption>> {
        let Some(item) = self.store.get(&keys::resource(&caller.tenant, id)).await? else { return Ok(None) };
        let record = Record::from_item(&item)?;
        let me = caller.source();
        if record.source == me {
            return Ok(Some(Adoption::Ours));
        }
        if self.live_source(&caller.tenant, &record.source).await? != Source::Manual {
            return Ok(Some(Adoption::NotOurs));
        }
        let changed = self.change_source(caller, descriptor, id, Some(&record.source), &me, LogOperation::Claim, ADOPTED_DETAIL).await?;
        Ok(Some(if changed { Adoption::Ours } else { Adoption::NotOurs }))
    }
}
