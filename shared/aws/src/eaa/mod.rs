//! EAA: the crux v1 management API client (the `provisioning::EaaDirectory` port over
//! HTTP), its EdgeGrid signing, and a stand-in EAA server for tests and the local demo.
//!
//! Wiring in the `eaa-sync` function (`lambda_glue::eaa_sync`: the 6-hour schedule's
//! invocation runs every [`provisioning::SyncTarget`] in turn within its time; a step out
//! of time is checkpointed and the next invocation goes on):
//!
//! ```text
//! let target = /* from the event: {"tenant": ..} */;
//! let Some(reference) = target.credentials_ref else { return Ok(()) };   // not configured yet
//! let credentials = secrets.credentials(&format!("{tenant}/{reference}")).await?; // scoped
//! let client = EaaClient::new(credentials, ClientConfig::default())?;
//! let budget = context.deadline_remaining().saturating_sub(Duration::from_secs(60));
//! match service.eaa_sync_step(&target.tenant, &client, budget).await? {
//!     Progress::Done(_) | Progress::Busy => {}
//!     Progress::Continue(_) => /* checkpointed: the next invocation resumes */,
//! }
//! ```

mod client;
pub mod edgegrid;
pub mod standin;

pub use client::{ClientConfig, EaaClient, EaaCredentials, EaaCredentialsSource, StaticCredentials};
