//! What every route module is handed: the domain service, the enrollment configuration,
//! the way to EAA, and the caller a request's bearer token stands for.

use std::sync::Arc;

use http::request::Parts;
use item_store::ItemStore;
use provisioning::enrollment::EnrollmentConfig;
use provisioning::{Caller, EaaConnector, Provisioning, SyncTrigger};

use crate::request::bearer_token;
use crate::response::Failure;

/// The admin API's way to EAA: the tenant's directory (listing directories and groups,
/// checking a selection) and the start of a sync ("sync now").
#[derive(Clone)]
pub struct EaaAccess {
    pub connector: Arc<dyn EaaConnector>,
    pub trigger: Arc<dyn SyncTrigger>,
}

/// The router's state, shared by every request.
pub(crate) struct Context<S> {
    pub(crate) service: Arc<Provisioning<S>>,
    /// The link key and settings `/enroll/{token}` needs; `None` in functions that do not
    /// serve links (the path then answers 404).
    pub(crate) enrollment: Option<Arc<EnrollmentConfig>>,
    /// What the admin API's EAA routes that call EAA or start a sync need; `None` where
    /// they are not served (they then answer 501).
    pub(crate) eaa: Option<EaaAccess>,
}

impl<S> Clone for Context<S> {
    fn clone(&self) -> Self {
        Context { service: Arc::clone(&self.service), enrollment: self.enrollment.clone(), eaa: self.eaa.clone() }
    }
}

impl<S: ItemStore> Context<S> {
    /// The caller a bearer token stands for; 401 without one.
    pub(crate) async fn authenticate(&self, parts: &Parts) -> Result<Caller, Failure> {
        Ok(self.service.authenticate(bearer_token(parts)?).await?)
    }
}
