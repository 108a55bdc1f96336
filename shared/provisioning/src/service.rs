//! The domain service: one value holding the store, the clock and the token cache. Each
//! module (`tenants`, `integrations`, `resources`, `users`, `log`..) adds its operations.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use item_store::{Attributes, ItemStore};
use serde_json::Value;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::integrations::CachedGrant;

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
        Limits { max_examined: crate::plan::MAX_EXAMINED, max_members_in_response: crate::members::MAX_MEMBERS_IN_RESPONSE }
    }
}

pub struct Provisioning<S> {
    pub(crate) store: S,
    pub(crate) limits: Limits,
    pub(crate) clock: Arc<dyn Clock>,
    /// Token hash -> grant, for at most `integrations::AUTH_CACHE_TTL`.
    pub(crate) auth_cache: Mutex<HashMap<String, CachedGrant>>,
    /// Tenants seen with a seat limit: their writes read the counter up front instead of
    /// assuming there is none (see `seats`). Only a hint; the transaction decides.
    pub(crate) limited_tenants: Mutex<HashSet<String>>,
}

impl<S: ItemStore> Provisioning<S> {
    pub fn new(store: S) -> Self {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    pub fn with_clock(store: S, clock: Arc<dyn Clock>) -> Self {
        Provisioning {
            store,
            clock,
            limits: Limits::default(),
            auth_cache: Mutex::new(HashMap::new()),
            limited_tenants: Mutex::new(HashSet::new()),
        }
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
        self.limited_tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn cache(&self) -> MutexGuard<'_, HashMap<String, CachedGrant>> {
        // A poisoned lock only means another request panicked; the map is still valid.
        self.auth_cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Reads a string attribute of a stored item, or reports the item as malformed.
pub(crate) fn str_attr<'a>(attrs: &'a Attributes, name: &str) -> Result<&'a str> {
    attrs.get(name).and_then(Value::as_str).ok_or_else(|| Error::Internal(format!("stored item lacks string attribute {name:?}")))
}

pub(crate) fn u64_attr(attrs: &Attributes, name: &str) -> u64 {
    attrs.get(name).and_then(Value::as_u64).unwrap_or(0)
}
