//! The domain's [`EaaConnector`] over HTTP: the admin API and the sync runners open a
//! tenant's EAA directory through it, whatever the credentials source.

use provisioning::{BoxFuture, EaaConnector, EaaDirectory, EaaError};

use crate::client::{ClientConfig, EaaClient};
use crate::credentials::{EaaCredentials, EaaCredentialsSource};

/// Resolves `{tenant}/{reference}` with `credentials` and opens an [`EaaClient`]. The
/// tenant prefix keeps each tenant's references inside its own namespace.
///
/// A credentials `host` is a bare host (EAA: `akab-….luna.akamaiapis.net`, HTTPS), or
/// `http://` + a loopback address for the stand-in server; plain HTTP anywhere else is
/// refused, since the request carries the access token.
pub struct ClientConnector<C> {
    pub credentials: C,
    pub config: ClientConfig,
}

impl<C: EaaCredentialsSource> EaaConnector for ClientConnector<C> {
    fn connect<'a>(&'a self, tenant: &'a str, credentials_ref: &'a str) -> BoxFuture<'a, Result<Box<dyn EaaDirectory>, EaaError>> {
        Box::pin(async move {
            let credentials = self.credentials.credentials(&format!("{tenant}/{credentials_ref}")).await?;
            let (credentials, config) = with_scheme(credentials, self.config.clone())?;
            let client: Box<dyn EaaDirectory> = Box::new(EaaClient::new(credentials, config)?);
            Ok(client)
        })
    }
}

fn with_scheme(mut credentials: EaaCredentials, mut config: ClientConfig) -> Result<(EaaCredentials, ClientConfig), EaaError> {
    if let Some(host) = credentials.host.strip_prefix("https://") {
        credentials.host = host.trim_end_matches('/').to_string();
        config.scheme = "https";
    } else if let Some(host) = credentials.host.strip_prefix("http://") {
        let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
        if !matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(EaaError::Invalid(format!("the EAA host {host} must use HTTPS: plain http:// is only for a stand-in on loopback")));
        }
        credentials.host = host.trim_end_matches('/').to_string();
        config.scheme = "http";
    }
    Ok((credentials, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edgegrid::EdgeGridCredentials;

    fn host(host: &str) -> EaaCredentials {
        let edgegrid = EdgeGridCredentials { client_token: "a".into(), client_secret: "b".into(), access_token: "c".into() };
        EaaCredentials { host: host.into(), edgegrid, contract_id: "C".into() }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let (c, config) = with_scheme(host("akab-x.luna.akamaiapis.net"), ClientConfig::default()).unwrap();
        assert_eq!((c.host.as_str(), config.scheme), ("akab-x.luna.akamaiapis.net", "https"));
        let (c, config) = with_scheme(host("https://akab-x.luna.akamaiapis.net/"), ClientConfig::default()).unwrap();
        assert_eq!((c.host.as_str(), config.scheme), ("akab-x.luna.akamaiapis.net", "https"));
        let (c, config) = with_scheme(host("http://127.0.0.1:8099"), ClientConfig::default()).unwrap();
        assert_eq!((c.host.as_str(), config.scheme), ("127.0.0.1:8099", "http"));
        assert!(with_scheme(host("http://localhost:1"), ClientConfig::default()).is_ok());
        assert!(with_scheme(host("http://akab-x.luna.akamaiapis.net"), ClientConfig::default()).is_err());
        assert!(with_scheme(host("http://127.0.0.1.evil.example:80"), ClientConfig::default()).is_err());
    }
}
