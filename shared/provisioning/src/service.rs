//! The domain service: one value holding the store, the clock, the caps and the
//! per-process caches. Each feature folder (`tenancy`, `resources`, `mfa`, `enrollment`,
//! `eaa`, `log`) adds its operations to it; this file knows none of them.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use item_store::ItemStore;

use crate::clock::{Clock, SystemClock};
use crate::tenancy::grant_cache::GrantCache;

/// Items a list examines before answering 400 `tooMany` (see [`Limits::max_examined`]).
pub const MAX_EXAMINED: usize = 10_000;

/// Members a GET of a group returns before answering 400 `tooMany`; also the most groups,
/// devices or admin keys one answer lists.
pub const MAX_MEMBERS_IN_RESPONSE: usize = 10_000;

/// Caps on what one request may read, so that every request stays O(its own data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Items a list examines (filter without an index term, index pagination) before
    /// answering 400 `tooMany`; also the most a cursor page examines.
    pub max_examined: usize,
    /// Members a GET of a group returns before answering 400 `tooMany`.
    pub max_members_in_response: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_examined: MAX_EXAMINED, max_members_in_response: MAX_MEMBERS_IN_RESPONSE }
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
}

impl<S: ItemStore> Provisioning<S> {
    pub fn new(store: S) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    pub fn with_clock(store: S, clock: Arc<dyn Clock>) -> Self {
        Provisioning { store, clock, limits: Limits::default(), grants: GrantCache::default(), limited_tenants: Mutex::default() }
    }

    /// Replaces the default caps (tests use small ones).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
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
