//! Member changes too many for one transaction, all or nothing: the write's own
//! transaction records them as an intent in the group's partition (and marks the group
//! pending), then they are applied in batches that each advance the intent, and the last
//! step drops the intent and the mark. Whoever meets a pending group next (the request
//! itself, the next read of the group's members, the next write or delete of the group)
//! rolls it forward first, so after any crash or timeout the group ends in the state after
//! the PATCH; before the write's transaction commits it is in the state before. The
//! version bump and the log entry are in the write's own transaction: the PATCH's.
//!
//! Batches are serialized by the intent's version (each one increments it conditionally),
//! so two rollers never apply one batch twice, and a batch's index always names the same
//! slice of the recorded changes.

use item_store::{Attributes, Condition, Item, ItemStore, StoreError, TransactOp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::resources::member_batches::{BatchOutcome, room, without_failed};
use crate::resources::members::MemberChange;
use crate::resources::record::Record;
use crate::resources::types::GROUPS;
use crate::service::Provisioning;
use crate::storage::attrs::u64_attr;
use crate::storage::keys;

/// Bytes of recorded changes per intent item (items stop at 400 KB).
const CHUNK_BYTES: usize = 300_000;

/// Rounds of reading the intent before a roller gives up (retryable): only rollers
/// racing each other round after round get there.
const MAX_ROLLS: usize = 64;

/// One recorded change.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recorded {
    member: String,
    added: bool,
    /// The member as sent (`value`, `type`, `display`), for an add.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    value: Value,
}

/// The intent's items for `changes`: the header (batches done, version) and the chunks.
pub(crate) fn intent_ops(tenant: &str, group: &str, changes: &[MemberChange]) -> Result<Vec<TransactOp>> {
    let recorded: Vec<Recorded> =
        changes.iter().map(|c| Recorded { member: c.member.clone(), added: c.added, value: c.value.clone() }).collect();
    let mut chunks: Vec<Vec<&Recorded>> = vec![Vec::new()];
    let mut size = 0;
    for change in &recorded {
        let bytes = change.member.len() + change.value.to_string().len() + 32;
        if size + bytes > CHUNK_BYTES {
            chunks.push(Vec::new());
            size = 0;
        }
        size += bytes;
        if let Some(last) = chunks.last_mut() {
            last.push(change);
        }
    }
    let mut header = Attributes::new();
    header.insert("version".into(), 1.into());
    header.insert("done".into(), 0.into());
    header.insert("chunks".into(), chunks.len().into());
    let mut ops = vec![TransactOp::Put { item: Item::new(keys::member_intent(tenant, group), header), condition: Condition::Absent }];
    for (index, chunk) in chunks.iter().enumerate() {
        let mut attrs = Attributes::new();
        attrs.insert("changes".into(), serde_json::to_value(chunk).map_err(|e| Error::Internal(format!("member intent: {e}")))?);
        ops.push(TransactOp::Put { item: Item::new(keys::member_intent_chunk(tenant, group, index), attrs), condition: Condition::None });
    }
    Ok(ops)
}

impl<S: ItemStore> Provisioning<S> {
    /// Applies the pending intent of group `group`, if any, and clears it with the group's
    /// mark. Answers the group's record afterwards (`None`: the group is gone).
    pub(crate) async fn roll_forward(&self, tenant: &str, group: &str) -> Result<Option<Record>> {
        for _ in 0..MAX_ROLLS {
            let Some(header) = self.store.get(&keys::member_intent(tenant, group)).await? else {
                match self.clear_mark(tenant, group).await? {
                    Cleared::Done(record) => return Ok(record),
                    Cleared::Again => continue,
                }
            };
            let mut version = u64_attr(&header.attrs, "version");
            let (done, chunks) = (u64_attr(&header.attrs, "done") as usize, u64_attr(&header.attrs, "chunks") as usize);
            let changes = self.recorded_changes(tenant, group, chunks).await?;
            let size = room(1);
            let mut start = done.saturating_mul(size);
            let mut overtaken = false;
            while start < changes.len() && !overtaken {
                let mut batch: Vec<MemberChange> = changes[start..changes.len().min(start + size)].to_vec();
                let advance = TransactOp::Increment {
                    key: keys::member_intent(tenant, group),
                    by: vec![("done".to_string(), 1), ("version".to_string(), 1)],
                    condition: Condition::VersionEquals(version),
                };
                loop {
                    match self.run_batch(std::slice::from_ref(&advance), &batch).await? {
                        BatchOutcome::Done => break,
                        // Another roller advanced the intent: read it again.
                        BatchOutcome::Fixed(_) => {
                            overtaken = true;
                            break;
                        }
                        // A member deleted since the write was checked is left out, as if
                        // deleted after it.
                        BatchOutcome::Changes(failures) => batch = without_failed(batch, &failures, false)?,
                    }
                }
                version += 1;
                start += size;
            }
            if !overtaken && let Cleared::Done(record) = self.finish_intent(tenant, group, version, chunks).await? {
                return Ok(record);
            }
        }
        Err(Error::Retryable {
            throttled: false,
            retry_after: std::time::Duration::from_secs(1),
            detail: "the group's member changes are being applied by another request; retry after the delay".into(),
        })
    }

    async fn recorded_changes(&self, tenant: &str, group: &str, chunks: usize) -> Result<Vec<MemberChange>> {
        let mut changes = Vec::new();
        for index in 0..chunks {
            let Some(item) = self.store.get(&keys::member_intent_chunk(tenant, group, index)).await? else { continue };
            let recorded: Vec<Recorded> = serde_json::from_value(item.attrs.get("changes").cloned().unwrap_or(Value::Null))
                .map_err(|e| Error::Internal(format!("stored member intent of {group}: {e}")))?;
            for change in recorded {
                changes.extend(match change.added {
                    // Whoever rolls forward: the recording write checked that the caller reaches them.
                    true => MemberChange::add(tenant, group, &change.value, &Condition::Present),
                    false => Some(MemberChange::remove(tenant, group, &change.member)),
                });
            }
        }
        Ok(changes)
    }

    /// Drops the intent whose every batch is applied, and the group's mark, in one
    /// transaction (a roller that lost the race finds nothing to drop).
    async fn finish_intent(&self, tenant: &str, group: &str, version: u64, chunks: usize) -> Result<Cleared> {
        let Some(item) = self.store.get(&keys::resource(tenant, group)).await? else { return Ok(Cleared::Done(None)) };
        let record = Record::from_item(&item)?;
        let cleared = Record { pending_members: false, ..record };
        let mut ops = vec![
            TransactOp::Delete { key: keys::member_intent(tenant, group), condition: Condition::VersionEquals(version) },
            // The same version: the write that recorded the intent already counted.
            TransactOp::Put { item: cleared.to_item(tenant, &GROUPS), condition: Condition::VersionEquals(cleared.version) },
        ];
        ops.extend(
            (0..chunks)
                .map(|index| TransactOp::Delete { key: keys::member_intent_chunk(tenant, group, index), condition: Condition::None }),
        );
        match self.store.transact(ops).await {
            Ok(()) => Ok(Cleared::Done(Some(cleared))),
            Err(StoreError::TransactionCanceled { .. }) => Ok(Cleared::Again),
            Err(other) => Err(other.into()),
        }
    }

    /// A group marked pending without an intent (another roller dropped the intent but
    /// not yet the mark, or crashed between): the mark cleared, if no new intent started.
    async fn clear_mark(&self, tenant: &str, group: &str) -> Result<Cleared> {
        let Some(item) = self.store.get(&keys::resource(tenant, group)).await? else { return Ok(Cleared::Done(None)) };
        let record = Record::from_item(&item)?;
        if !record.pending_members {
            return Ok(Cleared::Done(Some(record)));
        }
        let cleared = Record { pending_members: false, ..record };
        let ops = vec![
            TransactOp::Put { item: cleared.to_item(tenant, &GROUPS), condition: Condition::VersionEquals(cleared.version) },
            TransactOp::Check { key: keys::member_intent(tenant, group), condition: Condition::Absent },
        ];
        match self.store.transact(ops).await {
            Ok(()) => Ok(Cleared::Done(Some(cleared))),
            Err(StoreError::TransactionCanceled { .. }) => Ok(Cleared::Again),
            Err(other) => Err(other.into()),
        }
    }
}

enum Cleared {
    Done(Option<Record>),
    Again,
}
