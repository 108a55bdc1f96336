//! EAA: the crux v1 management API client (the `provisioning::EaaDirectory` port over
//! HTTP), its EdgeGrid signing, and a stand-in EAA server for tests and the local demo.

mod client;
pub mod edgegrid;
pub mod standin;

pub use client::{ClientConfig, EaaClient, EaaCredentials, EaaCredentialsSource, StaticCredentials};
