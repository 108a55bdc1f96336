//! The domain service: one value holding the store, the clock, the caps and the
//! per-process caches. Each feature folder (`tenancy`, `resources`, `mfa`, `enrollment`,
//! `eaa`, `log`) adds its operations to it; this file knows none of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use item_store::ItemStore;
use tokio::sync::Semaphore;

use crate::clock::{Clock, SystemClock};
use crate::tenancy::grant_cache::GrantCache;

/// Items one request examines at most (see [`Limits::max_examined`]).
pub const MAX_EXAMINED: usize = 10_000;

/// Members a GET of a group returns before answering 400 `tooMany`; also the most groups,
/// devices or admin keys one answer lists.
pub const MAX_MEMBERS_IN_RESPONSE: usize = 10_000;

/// Walks past their first store page at once (see [`Limits::concurrent_walks`]).
pub const CONCURRENT_WALKS: usize = 1;

/// Caps on what one request may read, so that every request stays O(its own data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Items one request examines: a lookup's (more: 400 `tooMany`), a listing walked for a
    /// filter without an index term (a larger type is refused before the walk, from its
    /// count), those skipped to an index page without a bookmark, a cursor page's, a step
    /// of a first count.
    pub max_examined: usize,
    /// Members a GET of a group returns before answering 400 `tooMany`.
    pub max_members_in_response: usize,
    /// Requests of this process examining more than one store page at once (a filter
    /// without an index term, a skip to a page without a bookmark, a large lookup, a first
    /// count): the others wait their turn (429 after `storage::paging::TURN_WAIT`), so
    /// that clients looping on them cannot take every core and every request's memory.
    pub concurrent_walks: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_examined: MAX_EXAMINED, max_members_in_response: MAX_MEMBERS_IN_RESPONSE, concurrent_walks: CONCURRENT_WALKS }
    }
}

pub struct Provisioning<S> {
    pub(crate) store: S,
    pub(crate) limits: Limits,
    pub(crate) clock: Arc<dyn Clock>,
    /// What tokens grant, as read from the store at most `tenancy::auth::AUTH_CACHE_TTL`
    /// ago.
    pub(crate) grants: GrantCache,
    /// Tenants seen with a seat limit: their writes read the counter up front instead of
    /// assuming there is none (see `tenancy::seats`). Only a hint; the transaction decides.
    pub(crate) limited_tenants: Mutex<HashSet<String>>,
    /// The turns of walks past their first store page ([`Limits::concurrent_walks`]).
    pub(crate) walks: Semaphore,
}

impl<S: ItemStore> Provisioning<S> {
    pub fn new(store: S) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    pub fn with_clock(store: S, clock: Arc<dyn Clock>) -> Self {
        let limits = Limits::default();
        let walks = Semaphore::new(limits.concurrent_walks);
        Provisioning { store, clock, limits, grants: GrantCache::default(), limited_tenants: Mutex::default(), walks }
    }

    /// Replaces the default caps (tests use small ones).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self.walks = Semaphore::new(limits.concurrent_walks.max(1));
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub(crate) fn limited_tenants(&self) -> MutexGuard<'_, HashSet<String>> {
        // A poisoned lock only means another request panicked; the set is still valid.
        self.limited_tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
