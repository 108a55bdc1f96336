//! Lists: `GET /Users`, `GET /Groups` and `POST /.search`, planned into key or index
//! lookups when the filter allows (see `plan`), index pagination over at most
//! `Limits::max_examined` items, or cursor pagination (RFC 9865) at O(page).

use item_store::{ItemStore, Query};
use scim::ScimError;
use scim::list::{ListQuery, ListResponse, page, sort};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::resources::answers::projected;
use crate::resources::plan::{Plan, plan};
use crate::resources::read::MAX_ID_LEN;
use crate::resources::record::Record;
use crate::resources::types::TypeDescriptor;
use crate::service::Provisioning;
use crate::storage::cursor::{encode_cursor, unbind};
use crate::storage::keys;
use crate::storage::paging;
use crate::tenancy::ownership::{Caller, Decision, Operation, decide};

/// The most store pages one cursor page reads.
const MAX_CURSOR_ROUNDS: usize = 64;

impl<S: ItemStore> Provisioning<S> {
    /// GET on the type's endpoint, or `POST /.search`.
    pub async fn list(&self, caller: &Caller, descriptor: &TypeDescriptor, query: &ListQuery) -> Result<ListResponse> {
        let resource_type = descriptor.resource_type;
        if let Some(filter) = &query.filter {
            filter.validate(resource_type)?;
        }
        let plan = plan(&caller.tenant, descriptor, query.filter.as_ref());
        let keep = |record: &Record| -> Option<Value> {
            let visible = record.type_name == descriptor.name() && decide(caller, &record.source, Operation::Read) == Decision::Allow;
            let resource = record.to_scim();
            let matches = query.filter.as_ref().is_none_or(|filter| filter.matches(resource_type, &resource));
            (visible && matches).then_some(resource)
        };
        let mut response = match (&query.cursor, &plan) {
            (_, Plan::Nothing) => {
                let mut response = page(Vec::new(), query.start_index, query.count);
                if query.cursor.is_some() {
                    response.start_index = None;
                }
                response
            }
            (_, Plan::ById(id)) => {
                let found = match id.len() {
                    1..=MAX_ID_LEN => self.store.get(&keys::resource(&caller.tenant, id)).await?,
                    _ => None,
                };
                let matching = found.map(|item| Record::from_item(&item)).transpose()?.and_then(|r| keep(&r)).into_iter().collect();
                let mut response = page(matching, query.start_index, query.count);
                if query.cursor.is_some() {
                    response.start_index = None;
                }
                response
            }
            (None, Plan::Lookup(store_query) | Plan::Walk(store_query)) => {
                let items = paging::collect(&self.store, store_query.clone(), self.limits.max_examined, "resources").await?;
                let mut matching = Vec::new();
                for item in &items {
                    if let Some(resource) = keep(&Record::from_item(item)?) {
                        matching.push(resource);
                    }
                }
                if let Some(sort_by) = &query.sort_by {
                    sort(resource_type, &mut matching, sort_by, query.sort_order);
                }
                page(matching, query.start_index, query.count)
            }
            (Some(cursor), Plan::Lookup(store_query) | Plan::Walk(store_query)) => {
                if query.sort_by.is_some() {
                    return Err(Error::Scim(ScimError::invalid_value(format!(
                        "sortBy cannot be combined with cursor pagination: cursor pages come in {} order",
                        descriptor.unique
                    ))));
                }
                self.cursor_page(store_query, cursor, query, keep).await?
            }
        };
        for resource in &mut response.resources {
            self.enrich(caller, descriptor, resource, &query.selection, false).await?;
            *resource = projected(descriptor, &query.selection, resource);
        }
        Ok(response)
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
        let mut rounds = 0;
        while !exhausted && resources.len() < query.count && examined < self.limits.max_examined && rounds < MAX_CURSOR_ROUNDS {
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
