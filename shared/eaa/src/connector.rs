//! The domain's [`EaaConnector`] over HTTP: the admin API and the sync runners open a
//! tenant's EAA directory through it, whatever the credentials source.

use provisioning::{BoxFuture, EaaConnector, EaaDirectory, EaaError};

use crate::client::{ClientConfig, EaaClient};
use crate::credentials::EaaCredentialsSource;

/// Resolves `{tenant}/{reference}` with `credentials` and opens an [`EaaClient`]. The
/// tenant prefix keeps each tenant's references inside its own namespace.
pub struct ClientConnector<C> {
    pub credentials: C,
    pub config: ClientConfig,
}

impl<C: EaaCredentialsSource> EaaConnector for ClientConnector<C> {
    fn connect<'a>(&'a self, tenant: &'a str, credentials_ref: &'a str) -> BoxFuture<'a, Result<Box<dyn EaaDirectory>, EaaError>> {
        Box::pin(async move {
            let credentials = self.credentials.credentials(&format!("{tenant}/{credentials_ref}")).await?;
            let client: Box<dyn EaaDirectory> = Box::new(EaaClient::new(credentials, self.config.clone())?);
            Ok(client)
        })
    }
}
