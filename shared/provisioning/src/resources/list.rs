//! Lists: `GET /Users`, `GET /Groups` and `POST /.search`, each answered at O(page) or
//! refused before the work (docs/ARCHITECTURE.md, "Decisions": "10,000 items examined at
//! most", "Index pages resume from bookmarks", "Walks take turns").
//!
//! | list | store reads | `totalResults` |
//! |---|---|---|
//! | `id eq`, or an equality nothing can satisfy | one get, or none | what it found |
//! | an index lookup (`userName`, `externalId`, work email `eq`; see `plan`) | the lookup's items, at most `max_examined` | the matches |
//! | no filter, by a caller who reads every record | the page, from its bookmark or the start (`bookmarks`) | the maintained count (`counts`) |
//! | any other filter, or a caller who reads only its own records | the whole listing if the type's count is at most `max_examined`, else refused before it | the matches |
//! | cursor pages (RFC 9865) | from the cursor's position, at most `max_examined` examined | none |
//!
//! Every walk holds one store page and the answer page: items are examined as they come,
//! and only the requested page is kept.

use std::collections::BTreeSet;

use item_store::{Cursor, GSI3, ItemStore, Query};
use scim::ScimError;
use scim::list::{ListQuery, ListResponse, page};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::resources::answers::projected;
use crate::resources::bookmarks::PagedListing;
use crate::resources::plan::{Order, Plan, order, plan};
use crate::resources::read::MAX_ID_LEN;
use crate::resources::record::{ALIAS_OF, Record};
use crate::resources::types::TypeDescriptor;
use crate::service::Provisioning;
use crate::storage::cursor::{encode_cursor, unbind};
use crate::storage::keys;
use crate::storage::paging;
use crate::tenancy::ownership::{Caller, Decision, Operation, decide, reads_everything};

/// The most store pages one page (cursor or index) reads: a store may answer empty pages
/// with a cursor.
const MAX_CURSOR_ROUNDS: usize = 64;

/// The most matches of a lookup in id order (`externalId`, work email) sorted in memory for
/// `sortBy`: one full page (the router's largest `count`).
const MAX_SORTED_IN_MEMORY: usize = 100;

/// The page of an index-paged answer, gathered while the matches stream by: all of them
/// counted, only those from `start_index` on kept, at most `count`.
struct Window {
    start_index: usize,
    count: usize,
    matched: usize,
    resources: Vec<Value>,
}

impl Window {
    fn new(query: &ListQuery) -> Self {
        Window { start_index: query.start_index.max(1), count: query.count, matched: 0, resources: Vec::new() }
    }

    fn offer(&mut self, resource: Value) {
        self.matched += 1;
        if self.matched >= self.start_index && self.resources.len() < self.count {
            self.resources.push(resource);
        }
    }

    fn answer(self, total: usize) -> ListResponse {
        ListResponse {
            total_results: Some(total),
            items_per_page: self.resources.len(),
            resources: self.resources,
            start_index: Some(self.start_index),
            next_cursor: None,
            previous_cursor: None,
        }
    }
}

/// What to send instead when a walk would examine too much.
fn instead(descriptor: &TypeDescriptor) -> String {
    format!(
        "filter with eq on userName, externalId or emails[type eq \"work\"].value (alone or under and), or page the {} with \
         cursor pagination (cursor=, RFC 9865)",
        descriptor.plural()
    )
}

fn lookup_too_large(descriptor: &TypeDescriptor, max: usize) -> Error {
    Error::too_many(format!("the filter matches more than {max} {} to examine: {}", descriptor.plural(), instead(descriptor)))
}

impl<S: ItemStore> Provisioning<S> {
    /// GET on the type's endpoint, or `POST /.search`.
    pub async fn list(&self, caller: &Caller, descriptor: &TypeDescriptor, query: &ListQuery) -> Result<ListResponse> {
        let resource_type = descriptor.resource_type;
        if let Some(filter) = &query.filter {
            filter.validate(resource_type)?;
        }
        let order = order(descriptor, query.sort_by.as_ref(), query.sort_order)?;
        let plan = plan(&caller.tenant, descriptor, query.filter.as_ref());
        let keep = |record: &Record| -> Option<Value> {
            let visible = record.type_name == descriptor.name() && decide(caller, &record.source, Operation::Read) == Decision::Allow;
            let resource = record.to_scim();
            let matches = query.filter.as_ref().is_none_or(|filter| filter.matches(resource_type, &resource));
            (visible && matches).then_some(resource)
        };
        let mut response = match (&query.cursor, plan) {
            (_, Plan::Nothing) => {
                let mut response = page(Vec::new(), query.start_index, query.count);
                if query.cursor.is_some() {
                    response.start_index = None;
                }
                response
            }
            (_, Plan::ById(id)) => {
                let found = match id.len() {
                    1..=MAX_ID_LEN => self.store.get(&keys::resource(&caller.tenant, &id)).await?,
                    _ => None,
                };
                let matching = found.map(|item| Record::from_item(&item)).transpose()?.and_then(|r| keep(&r)).into_iter().collect();
                let mut response = page(matching, query.start_index, query.count);
                if query.cursor.is_some() {
                    response.start_index = None;
                }
                response
            }
            // A work email names few users, some through alias items: one page, no cursor.
            (_, Plan::Lookup(store_query)) if store_query.index == Some(GSI3) => {
                let mut response = self.email_lookup_page(&caller.tenant, descriptor, &store_query, query, keep).await?;
                if query.cursor.is_some() {
                    response.start_index = None;
                }
                response
            }
            (Some(cursor), Plan::Lookup(store_query) | Plan::Walk(store_query)) => {
                if query.sort_by.is_some() {
                    return Err(Error::Scim(ScimError::invalid_value(format!(
                        "sortBy cannot be combined with cursor pagination: cursor pages come in {} order",
                        descriptor.unique
                    ))));
                }
                self.cursor_page(&store_query, cursor, query, keep).await?
            }
            (None, Plan::Lookup(store_query)) => self.lookup_page(descriptor, &store_query, query, order, keep).await?,
            (None, Plan::Walk(listing)) if query.filter.is_none() && reads_everything(caller) => {
                let paged = PagedListing { tenant: &caller.tenant, descriptor, order };
                self.listing_page(paged, order.apply(listing), query, keep).await?
            }
            (None, Plan::Walk(listing)) => self.filtered_page(caller, descriptor, &order.apply(listing), query, keep).await?,
        };
        for resource in &mut response.resources {
            self.enrich(caller, descriptor, resource, &query.selection, false).await?;
            *resource = projected(descriptor, &query.selection, resource);
        }
        Ok(response)
    }

    /// An index page of the whole listing: the maintained count for `totalResults`, then
    /// the page's items from its bookmark (or from the start, or after skipping at most
    /// `max_examined` items), and the next page's bookmark: 1 query of the count, 1 query
    /// of the page, 1 write of the bookmark, and after page 1 the get of its own; a page
    /// past the end reads the count only.
    async fn listing_page(
        &self,
        listing: PagedListing<'_>,
        store_query: Query,
        query: &ListQuery,
        keep: impl Fn(&Record) -> Option<Value>,
    ) -> Result<ListResponse> {
        let total = usize::try_from(self.resource_count(listing.tenant, listing.descriptor).await?).unwrap_or(usize::MAX);
        let mut window = Window::new(query);
        let start_index = window.start_index;
        if query.count == 0 || start_index > total {
            return Ok(window.answer(total));
        }
        let (bookmark, mut position) = match start_index {
            1 => (None, None),
            _ => match self.bookmark(listing, start_index).await? {
                Some(bookmark) => {
                    let position = bookmark.position.clone();
                    (Some(bookmark), Some(position))
                }
                None => match self.skip(&store_query, start_index - 1, listing.descriptor).await? {
                    Some(position) => (None, Some(position)),
                    // The listing ends before the page.
                    None => return Ok(window.answer(total)),
                },
            },
        };
        let (mut rounds, mut turn) = (0, None);
        let next_position = loop {
            if rounds > 0 {
                paging::next_round(&self.walks, &mut turn).await?;
            }
            rounds += 1;
            let missing = u32::try_from(query.count - window.resources.len()).unwrap_or(u32::MAX);
            let page = self.store.query(&store_query.clone().limit(missing).after(position.take())).await?;
            for item in &page.items {
                if let Some(resource) = keep(&Record::from_item(item)?) {
                    window.resources.push(resource);
                }
            }
            match page.cursor {
                Some(next) if window.resources.len() < query.count && rounds < MAX_CURSOR_ROUNDS => position = Some(next),
                next => break next,
            }
        };
        if let Some(next) = next_position.filter(|_| !window.resources.is_empty()) {
            self.leave_bookmark(listing, bookmark.as_ref(), start_index + window.resources.len(), next).await?;
        }
        Ok(window.answer(total))
    }

    /// The store position after the first `skip` items of the listing, examined a store
    /// page at a time (`None` when the listing ends first); 400 `tooMany` beyond
    /// `Limits::max_examined`.
    async fn skip(&self, store_query: &Query, skip: usize, descriptor: &TypeDescriptor) -> Result<Option<Cursor>> {
        let max = self.limits.max_examined;
        if skip > max {
            return Err(Error::too_many(format!(
                "startIndex={} is too deep to reach without the previous page: page the {plural} in sequence from startIndex=1 \
                 (each next startIndex = startIndex + itemsPerPage resumes where the previous page ended; at most {max} {plural} \
                 are skipped otherwise), or use cursor pagination (cursor=, RFC 9865)",
                skip + 1,
                plural = descriptor.plural(),
            )));
        }
        paging::walk(&self.store, &self.walks, store_query, skip, |_| Ok(())).await
    }

    /// An index page of a filter without an index term, or of a caller who reads only its
    /// own records: the whole listing examined (for `totalResults`) when the type's count
    /// allows, else 400 `tooMany` before reading any of it.
    async fn filtered_page(
        &self,
        caller: &Caller,
        descriptor: &TypeDescriptor,
        listing: &Query,
        query: &ListQuery,
        keep: impl Fn(&Record) -> Option<Value>,
    ) -> Result<ListResponse> {
        let max = self.limits.max_examined;
        let too_many = || {
            let plural = descriptor.plural();
            Error::too_many(match &query.filter {
                Some(_) => format!(
                    "this filter is not answered by an index and the tenant has more than {max} {plural} to examine: {}",
                    instead(descriptor)
                ),
                None => format!(
                    "this integration reads only the {plural} it provisioned and the tenant has more than {max} {plural} to \
                     examine: turn on \"read all users\" for the integration to page through the whole tenant at any size, or {}",
                    instead(descriptor)
                ),
            })
        };
        let count = usize::try_from(self.resource_count(&caller.tenant, descriptor).await?).unwrap_or(usize::MAX);
        if count > max {
            return Err(too_many());
        }
        let mut window = Window::new(query);
        // The count is maintained, the listing is what the index shows: should they ever
        // differ, the walk still stops at the cap.
        let complete = paging::examine(&self.store, &self.walks, listing, max, |item| {
            if let Some(resource) = keep(&Record::from_item(item)?) {
                window.offer(resource);
            }
            Ok(())
        })
        .await?;
        if !complete {
            return Err(too_many());
        }
        let total = window.matched;
        Ok(window.answer(total))
    }

    /// An index page of an index lookup: its items examined as they come, at most
    /// `max_examined` (else 400 `tooMany`). A lookup in id order (`externalId`, work
    /// email) with `sortBy` is sorted in memory, up to [`MAX_SORTED_IN_MEMORY`] matches.
    async fn lookup_page(
        &self,
        descriptor: &TypeDescriptor,
        lookup: &Query,
        query: &ListQuery,
        order: Order,
        keep: impl Fn(&Record) -> Option<Value>,
    ) -> Result<ListResponse> {
        let max = self.limits.max_examined;
        let in_unique_order = lookup.index == Some(item_store::GSI1);
        if query.sort_by.is_none() || in_unique_order {
            let mut window = Window::new(query);
            let lookup = order.apply(lookup.clone());
            let complete = paging::examine(&self.store, &self.walks, &lookup, max, |item| {
                if let Some(resource) = keep(&Record::from_item(item)?) {
                    window.offer(resource);
                }
                Ok(())
            })
            .await?;
            if !complete {
                return Err(lookup_too_large(descriptor, max));
            }
            let total = window.matched;
            return Ok(window.answer(total));
        }
        let mut matching = Vec::new();
        let complete = paging::examine(&self.store, &self.walks, lookup, max, |item| {
            if let Some(resource) = keep(&Record::from_item(item)?) {
                if matching.len() == MAX_SORTED_IN_MEMORY {
                    return Err(Error::too_many(format!(
                        "the filter matches more than {MAX_SORTED_IN_MEMORY} {}, too many to sort by {}: leave sortBy out, or add \
                         terms to the filter",
                        descriptor.plural(),
                        descriptor.unique
                    )));
                }
                matching.push(resource);
            }
            Ok(())
        })
        .await?;
        if !complete {
            return Err(lookup_too_large(descriptor, max));
        }
        if let Some(sort_by) = &query.sort_by {
            scim::list::sort(descriptor.resource_type, &mut matching, sort_by, query.sort_order);
        }
        Ok(page(matching, query.start_index, query.count))
    }

    /// The users a work email names: those whose item indexes it and those whose alias
    /// item does (each read by id), once each, paged in memory.
    async fn email_lookup_page(
        &self,
        tenant: &str,
        descriptor: &TypeDescriptor,
        lookup: &Query,
        query: &ListQuery,
        keep: impl Fn(&Record) -> Option<Value>,
    ) -> Result<ListResponse> {
        let items = paging::collect(&self.store, lookup.clone(), MAX_SORTED_IN_MEMORY, "users with this work email").await?;
        let mut matching = Vec::new();
        let mut seen = BTreeSet::new();
        for item in items {
            let item = match keys::is_work_email_alias(&item.key) {
                false => item,
                true => {
                    let Some(id) = item.attrs.get(ALIAS_OF).and_then(Value::as_str) else { continue };
                    match self.store.get(&keys::resource(tenant, id)).await? {
                        Some(resource) => resource,
                        // The user was deleted since the index was read.
                        None => continue,
                    }
                }
            };
            let record = Record::from_item(&item)?;
            if seen.insert(record.id.clone())
                && let Some(resource) = keep(&record)
            {
                matching.push(resource);
            }
        }
        if let Some(sort_by) = &query.sort_by {
            scim::list::sort(descriptor.resource_type, &mut matching, sort_by, query.sort_order);
        }
        Ok(page(matching, query.start_index, query.count))
    }

    /// One cursor page: store pages of at most the missing count, until the page is full,
    /// the listing ends, or `Limits::max_examined` items were examined (a short page with a
    /// `nextCursor` is allowed by RFC 9865).
    async fn cursor_page(
        &self,
        store_query: &Query,
        cursor: &scim::list::CursorRequest,
        query: &ListQuery,
        keep: impl Fn(&Record) -> Option<Value>,
    ) -> Result<ListResponse> {
        let mut position = match cursor {
            scim::list::CursorRequest::First => None,
            scim::list::CursorRequest::Resume(bytes) => Some(unbind(bytes, &store_query.pk)?),
        };
        let mut resources = Vec::new();
        let mut examined = 0usize;
        let mut exhausted = query.count == 0;
        // Rounds are bounded too: a store may answer an empty page with a cursor.
        let (mut rounds, mut turn) = (0, None);
        while !exhausted && resources.len() < query.count && examined < self.limits.max_examined && rounds < MAX_CURSOR_ROUNDS {
            if rounds > 0 {
                paging::next_round(&self.walks, &mut turn).await?;
            }
            rounds += 1;
            let missing = u32::try_from(query.count - resources.len()).unwrap_or(u32::MAX);
            let page = self.store.query(&store_query.clone().limit(missing).after(position.take())).await?;
            examined += page.items.len();
            for item in &page.items {
                if let Some(resource) = keep(&Record::from_item(item)?) {
                    resources.push(resource);
                }
            }
            exhausted = page.cursor.is_none();
            position = page.cursor;
        }
        let next_cursor = position.map(|item_store::Cursor(bytes)| encode_cursor(query.fingerprint(), &store_query.pk, &bytes));
        Ok(ListResponse {
            total_results: None,
            items_per_page: resources.len(),
            resources,
            start_index: None,
            next_cursor,
            previous_cursor: None,
        })
    }
}
