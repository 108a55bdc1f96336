//! What authenticated tokens grant, kept per process for a short time so that a warm
//! function checks the store at most once a minute per token (see `auth`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::tenancy::ownership::Caller;

#[derive(Debug, Clone)]
pub(crate) struct CachedGrant {
    pub(crate) caller: Caller,
    pub(crate) checked_at: OffsetDateTime,
}

#[derive(Default)]
pub(crate) struct GrantCache {
    grants: Mutex<HashMap<String, CachedGrant>>,
}

impl GrantCache {
    fn grants(&self) -> MutexGuard<'_, HashMap<String, CachedGrant>> {
        // A poisoned lock only means another request panicked; the map is still valid.
        self.grants.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, token_hash: &str) -> Option<CachedGrant> {
        self.grants().get(token_hash).cloned()
    }

    pub(crate) fn insert(&self, token_hash: String, grant: CachedGrant) {
        self.grants().insert(token_hash, grant);
    }

    pub(crate) fn remove(&self, token_hash: &str) {
        self.grants().remove(token_hash);
    }

    pub(crate) fn clear(&self) {
        self.grants().clear();
    }
}
