//! Bookmarks: where the next index page of a type's listing starts, so that a client
//! paging with `startIndex = previous + count` resumes at the store position the previous
//! page ended at, at O(page), instead of walking again from the first item.
//!
//! A page of the whole listing (no filter, a caller who reads every record) with more after
//! it leaves a bookmark for the next `startIndex`: the store position, and `expiresAt`
//! [`BOOKMARK_TTL`] on (the table's TTL removes it; reads check the time themselves, since
//! TTL deletion lags). A bookmark depends only on the type and the direction, so every
//! caller who sees the same listing shares it; its key starts with the tenant's.
//!
//! Each bookmark names the bookmark its page was served from (`previous`). The page served
//! from a bookmark deletes that one's own predecessor while it writes the next, so a
//! sequential walk keeps two: the one of the page just served (a retried page finds it
//! again) and the one of the next.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use item_store::{Attributes, Condition, Cursor, Item, ItemStore, TransactOp};
use serde_json::Value;

use crate::error::Result;
use crate::resources::plan::Order;
use crate::resources::types::TypeDescriptor;
use crate::service::Provisioning;
use crate::storage::keys;
use crate::storage::transaction::run_batches;

/// How long a bookmark stays usable after its page: as long as a cursor
/// (`scim::cursor::CURSOR_TIMEOUT_SECS`); a sequential walk asks for the next page within
/// seconds.
pub(crate) const BOOKMARK_TTL: Duration = Duration::from_secs(scim::cursor::CURSOR_TIMEOUT_SECS);

/// A page start a previous page left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bookmark {
    pub start_index: usize,
    pub position: Cursor,
    /// The bookmark the page that left this one was served from.
    pub previous: Option<usize>,
}

/// Where a listing's pages are: the type and the direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PagedListing<'a> {
    pub tenant: &'a str,
    pub descriptor: &'a TypeDescriptor,
    pub order: Order,
}

impl PagedListing<'_> {
    fn key(&self, start_index: usize) -> item_store::Key {
        keys::bookmark(self.tenant, self.descriptor.name(), self.order.as_key(), start_index)
    }
}

impl<S: ItemStore> Provisioning<S> {
    /// The unexpired bookmark of page `start_index`, if a page left one: one get.
    pub(crate) async fn bookmark(&self, listing: PagedListing<'_>, start_index: usize) -> Result<Option<Bookmark>> {
        let Some(item) = self.store.get(&listing.key(start_index)).await? else { return Ok(None) };
        let now = self.clock.now().unix_timestamp();
        let live = item.attrs.get("expiresAt").and_then(Value::as_i64).is_some_and(|at| at > now);
        let position = item.attrs.get("position").and_then(Value::as_str).and_then(|text| URL_SAFE_NO_PAD.decode(text).ok());
        Ok(match position {
            Some(bytes) if live => Some(Bookmark {
                start_index,
                position: Cursor(bytes),
                previous: item.attrs.get("previous").and_then(Value::as_u64).and_then(|n| usize::try_from(n).ok()),
            }),
            // Expired (TTL deletion lags) or unreadable: as if there were none.
            _ => None,
        })
    }

    /// Leaves the bookmark of page `next` at `position`, for the page that was served from
    /// `served_from` (or from the start); drops the bookmark before `served_from`. One put,
    /// or one transaction of two.
    pub(crate) async fn leave_bookmark(
        &self,
        listing: PagedListing<'_>,
        served_from: Option<&Bookmark>,
        next: usize,
        position: Cursor,
    ) -> Result<()> {
        let mut attrs = Attributes::new();
        attrs.insert("position".into(), URL_SAFE_NO_PAD.encode(position.0).into());
        attrs.insert("expiresAt".into(), (self.clock.now() + BOOKMARK_TTL).unix_timestamp().into());
        if let Some(bookmark) = served_from {
            attrs.insert("previous".into(), bookmark.start_index.into());
        }
        let mut ops = vec![TransactOp::Put { item: Item::new(listing.key(next), attrs), condition: Condition::None }];
        if let Some(before) = served_from.and_then(|bookmark| bookmark.previous).filter(|&before| before != next) {
            ops.push(TransactOp::Delete { key: listing.key(before), condition: Condition::None });
        }
        run_batches(&self.store, vec![ops]).await?;
        Ok(())
    }
}
