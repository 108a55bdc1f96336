//! The paging loop, written once: every read of more than one store page follows the
//! store's cursor through these functions.

use std::time::Duration;

use item_store::{Condition, Cursor, Item, ItemStore, MAX_TRANSACT_OPS, Query, TransactOp};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{Error, Result};
use crate::storage::transaction::run_batches;

/// Items of a page of deletes (a page is one transaction).
const DELETE_PAGE: u32 = MAX_TRANSACT_OPS as u32;

/// Items of a walk's first store page, read before it takes a turn: enough for every
/// lookup of an identifier, little to hold for a request that then waits.
const FIRST_PAGE: u32 = 10;

/// Items per store page of a walk after its first: a page's work is a couple of
/// milliseconds, between which the walk yields to the other requests of its thread.
const WALK_PAGE: u32 = 200;

/// How long a walk waits for its turn before answering 429 with `Retry-After`.
pub const TURN_WAIT: Duration = Duration::from_secs(5);

/// Before a walk's next store page: its turn among `turns` (taken once, kept in `turn` for
/// the rest of the walk), then a yield to the other requests of this thread. The first
/// page needs no turn: lookups of an identifier end within it.
pub(crate) async fn next_round<'a>(turns: &'a Semaphore, turn: &mut Option<SemaphorePermit<'a>>) -> Result<()> {
    if turn.is_none() {
        match tokio::time::timeout(TURN_WAIT, turns.acquire()).await {
            Ok(Ok(permit)) => *turn = Some(permit),
            // Waited too long (or closed, which the service never does): other walks hold
            // every turn.
            _ => {
                return Err(Error::Retryable {
                    throttled: true,
                    retry_after: Duration::from_secs(1),
                    detail: "too many lists that examine many items are running at once; retry after the delay".into(),
                });
            }
        }
    }
    tokio::task::yield_now().await;
    Ok(())
}

/// Walks a query from its cursor through at most `max` items, a store page at a time (one
/// in memory), calling `each` on every item; returns where it stopped, or `None` when the
/// query ended. Past the first page it waits for its turn among `turns` (see
/// [`next_round`]).
pub(crate) async fn walk<S: ItemStore>(
    store: &S,
    turns: &Semaphore,
    query: &Query,
    max: usize,
    mut each: impl FnMut(&Item) -> Result<()>,
) -> Result<Option<Cursor>> {
    let mut walked = 0usize;
    let mut cursor = query.cursor.clone();
    let mut turn = None;
    let mut first = true;
    while walked < max {
        let page_size = if first {
            FIRST_PAGE
        } else {
            next_round(turns, &mut turn).await?;
            WALK_PAGE
        };
        first = false;
        let room = u32::try_from(max - walked).unwrap_or(u32::MAX).min(page_size);
        let page = store.query(&query.clone().limit(room).after(cursor.take())).await?;
        for item in &page.items {
            each(item)?;
        }
        walked += page.items.len();
        match page.cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(None),
        }
    }
    Ok(cursor)
}

/// Store reads of one filtered page at most: a filter that matches little answers a short
/// (even empty) page with a cursor rather than reading on through the partition.
pub const MAX_FILTERED_READS: usize = 10;

/// One page of at most `limit` items of `query` (from its cursor) that `keep` accepts, in
/// at most [`MAX_FILTERED_READS`] store reads of at most `limit` items each, so a request
/// examines at most `limit` x 10 items; with the cursor after the last item examined, or
/// `None` when the query ended. Each read asks for what is still missing, so that the page
/// ends exactly at a store cursor.
pub(crate) async fn filtered_page<S: ItemStore>(
    store: &S,
    query: &Query,
    limit: u32,
    mut keep: impl FnMut(&Item) -> Result<bool>,
) -> Result<(Vec<Item>, Option<Cursor>)> {
    let mut kept = Vec::new();
    let mut cursor = query.cursor.clone();
    for _ in 0..MAX_FILTERED_READS {
        let missing = limit.max(1) - kept.len() as u32;
        let page = store.query(&query.clone().limit(missing).after(cursor.take())).await?;
        for item in page.items {
            if keep(&item)? {
                kept.push(item);
            }
        }
        match page.cursor {
            Some(next) if kept.len() < limit.max(1) as usize => cursor = Some(next),
            next => return Ok((kept, next)),
        }
    }
    Ok((kept, cursor))
}

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

/// [`walk`] through at most `cap` items of a query, calling `each` on every one:
/// `Ok(true)` when the query ended within them, `Ok(false)` when there are more (which are
/// not read).
pub(crate) async fn examine<S: ItemStore>(
    store: &S,
    turns: &Semaphore,
    query: &Query,
    cap: usize,
    mut each: impl FnMut(&Item) -> Result<()>,
) -> Result<bool> {
    let mut examined = 0usize;
    // One more than the cap: finding it is how the walk knows there are more.
    walk(store, turns, query, cap.saturating_add(1), |item| {
        examined += 1;
        if examined > cap { Ok(()) } else { each(item) }
    })
    .await?;
    Ok(examined <= cap)
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
