//! What authenticated tokens grant, kept per process for a short time so that a warm
//! function checks the store at most once a minute per token (see `auth`).
//!
//! A revocation (rotation, deletion, a settings change) must not be undone by a request
//! that read the token before it: every revocation bumps a generation, and a grant read
//! while the generation moved is not cached (`auth` reads it again instead).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::tenancy::ownership::Caller;

#[derive(Debug, Clone)]
pub(crate) struct CachedGrant {
    pub(crate) caller: Caller,
    pub(crate) checked_at: OffsetDateTime,
}

/// The point in the cache's history at which a refresh started reading the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

#[derive(Default)]
struct State {
    grants: HashMap<String, CachedGrant>,
    generation: u64,
}

#[derive(Default)]
pub(crate) struct GrantCache {
    state: Mutex<State>,
}

impl GrantCache {
    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another request panicked; the map is still valid.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, token_hash: &str) -> Option<CachedGrant> {
        self.state().grants.get(token_hash).cloned()
    }

    /// Taken before a refresh reads the store.
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.state().generation)
    }

    /// Caches a grant read since `read_at`, unless a revocation happened meanwhile (then
    /// `false`: the grant may be stale).
    pub(crate) fn insert_if_current(&self, token_hash: String, grant: CachedGrant, read_at: Generation) -> bool {
        let mut state = self.state();
        if state.generation != read_at.0 {
            return false;
        }
        state.grants.insert(token_hash, grant);
        true
    }

    /// After a token was revoked in the store.
    pub(crate) fn revoke(&self, token_hash: &str) {
        let mut state = self.state();
        state.generation += 1;
        state.grants.remove(token_hash);
    }

    /// After a change to what tokens grant (an integration's settings).
    pub(crate) fn revoke_all(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.grants.clear();
    }
}
