//! The paging loop, written once: every read of more than one store page follows the
//! store's cursor through these functions.

use item_store::{Condition, Item, ItemStore, MAX_TRANSACT_OPS, Query, TransactOp};

use crate::error::{Error, Result};
use crate::storage::transaction::run_batches;

/// Items of a page of deletes (a page is one transaction).
const DELETE_PAGE: u32 = MAX_TRANSACT_OPS as u32;

/// Calls `each` with every page of a query, in order, until it answers `false` or the
/// query ends.
async fn for_each_page<S: ItemStore>(store: &S, query: &Query, mut each: impl FnMut(Vec<Item>) -> Result<bool>) -> Result<()> {
    let mut cursor = None;
    loop {
        let page = store.query(&query.clone().after(cursor)).await?;
        if !each(page.items)? {
            return Ok(());
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

/// Every item of a query, or 400 `tooMany` when there are more than `cap` (`what` names
/// them in the answer).
pub(crate) async fn collect<S: ItemStore>(store: &S, query: Query, cap: usize, what: &str) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    for_each_page(store, &query, |page| {
        items.extend(page);
        if items.len() > cap {
            return Err(Error::too_many(format!(
                "more than {cap} {what} to examine: narrow the request (a filter on userName, externalId or displayName, excludedAttributes=members, or cursor pagination)"
            )));
        }
        Ok(true)
    })
    .await?;
    Ok(items)
}

/// Calls `each` with the items of a query in order, one store page in memory at a time,
/// examining at most `cap` of them: `Ok(true)` when the query ended within them,
/// `Ok(false)` when there are more (which are not read).
pub(crate) async fn examine<S: ItemStore>(store: &S, query: &Query, cap: usize, mut each: impl FnMut(&Item) -> Result<()>) -> Result<bool> {
    let mut examined = 0usize;
    let mut cursor = None;
    loop {
        // One more than the room left: finding it is how the walk knows there are more.
        let room = u32::try_from(cap.saturating_sub(examined).saturating_add(1)).unwrap_or(u32::MAX);
        let page = store.query(&query.clone().limit(room).after(cursor.take())).await?;
        for item in &page.items {
            examined += 1;
            if examined > cap {
                return Ok(false);
            }
            each(item)?;
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(true),
        }
    }
}

/// Deletes every item a query returns, a page (one transaction) at a time. Pages follow
/// the cursor rather than re-reading the first page: an index read on DynamoDB may still
/// return items just deleted. (Its own loop: the page's delete is awaited inside it, and
/// an async callback in `for_each_page` would make the callers' futures lose `Send`.)
pub(crate) async fn delete_all<S: ItemStore>(store: &S, query: Query) -> Result<()> {
    let mut cursor = None;
    loop {
        let page = store.query(&query.clone().limit(DELETE_PAGE).after(cursor)).await?;
        let ops: Vec<TransactOp> =
            page.items.into_iter().map(|item| TransactOp::Delete { key: item.key, condition: Condition::None }).collect();
        if !ops.is_empty() {
            run_batches(store, vec![ops]).await?;
        }
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}
