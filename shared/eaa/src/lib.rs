//! EAA's crux v1 management API as the domain's ports: [`EaaClient`] implements
//! `provisioning::EaaDirectory` (EdgeGrid signing, 25 requests a minute, `429` waits,
//! bounded retries), [`ClientConnector`] implements `provisioning::EaaConnector` over any
//! [`EaaCredentialsSource`], and [`standin`] is a stand-in EAA server for tests and the
//! local demo (`cargo run -p eaa-client --bin eaa-standin`).
//!
//! Kept out of `aws-adapters` (which holds the SSM credentials source) so that the local
//! server syncs EAA without building the AWS SDK.

mod client;
mod connector;
mod credentials;
pub mod edgegrid;
pub mod standin;

pub use client::{ClientConfig, EaaClient};
pub use connector::ClientConnector;
pub use credentials::{EaaCredentials, EaaCredentialsSource, FileCredentials, StaticCredentials, nothing_stored, stored_under};
