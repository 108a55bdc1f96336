//! The enrollment link key from SSM Parameter Store: a SecureString holding the key in
//! hex, read once at a function's cold start (`GetParameter` with decryption), so the key
//! never sits in the template, an environment variable or the function's configuration.
//! Likewise the EAA API credentials of each tenant ([`SsmEaaCredentials`]).

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::DisplayErrorContext;
use provisioning::EaaError;
use provisioning::enrollment::LinkKey;

use eaa_client::{EaaCredentials, EaaCredentialsSource, nothing_stored, stored_under};

/// The name (or ARN) of the SecureString parameter holding the link key.
pub const KEY_PARAMETER_ENV: &str = "ENROLLMENT_KEY_PARAMETER";

/// The link key in parameter `name`. The error says what to fix, never the value.
pub async fn link_key(client: &Client, name: &str) -> Result<LinkKey, String> {
    let output = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| format!("cannot read the enrollment key parameter {name}: {}", DisplayErrorContext(e)))?;
    let value = output.parameter().and_then(|p| p.value()).ok_or_else(|| format!("the enrollment key parameter {name} has no value"))?;
    LinkKey::from_hex(value).map_err(|e| format!("the enrollment key parameter {name}: {}", e.detail()))
}

/// The link key in the parameter named by [`KEY_PARAMETER_ENV`], with `config`'s
/// credentials and region.
pub async fn link_key_from_env(config: &aws_config::SdkConfig) -> Result<LinkKey, String> {
    let name = std::env::var(KEY_PARAMETER_ENV)
        .ok()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| format!("{KEY_PARAMETER_ENV} is not set: the SSM SecureString parameter holding the enrollment link key"))?;
    link_key(&Client::new(config), name.trim()).await
}

/// The SSM path (`/scim/eaa`) under which the EAA credentials parameters are.
pub const EAA_PREFIX_ENV: &str = "EAA_CREDENTIALS_PARAMETER_PREFIX";

/// EAA API credentials from SSM SecureString parameters: the parameter
/// `{prefix}/{reference}` holds `{"host", "clientToken", "clientSecret", "accessToken",
/// "contractId"}` (the EAA console's API client, plus the contract). The prefix keeps the
/// function's reads inside the path its role may read.
#[derive(Debug, Clone)]
pub struct SsmEaaCredentials {
    client: Client,
    prefix: String,
}

impl SsmEaaCredentials {
    pub fn new(client: Client, prefix: &str) -> Self {
        SsmEaaCredentials { client, prefix: prefix.trim_end_matches('/').to_string() }
    }

    /// With `config`'s credentials and region, under the prefix in [`EAA_PREFIX_ENV`].
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, String> {
        let prefix = std::env::var(EAA_PREFIX_ENV)
            .ok()
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| format!("{EAA_PREFIX_ENV} is not set: the SSM path under which the EAA credentials parameters are"))?;
        Ok(SsmEaaCredentials::new(Client::new(config), prefix.trim()))
    }

    /// The parameter a reference names.
    pub fn parameter(&self, reference: &str) -> String {
        format!("{}/{}", self.prefix, reference.trim_start_matches('/'))
    }
}

impl EaaCredentialsSource for SsmEaaCredentials {
    /// A parameter that does not exist is [`EaaError::NoCredentials`] (the admin named
    /// nothing); any other SSM failure is `Unavailable`, whose detail (parameter path,
    /// SDK text) goes to the log, not into an answer.
    async fn credentials(&self, reference: &str) -> Result<EaaCredentials, EaaError> {
        let name = self.parameter(reference);
        let output = self.client.get_parameter().name(&name).with_decryption(true).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|e| e.is_parameter_not_found()) {
                EaaError::NoCredentials(nothing_stored(reference))
            } else {
                EaaError::Unavailable(format!("cannot read the EAA credentials parameter {name}: {}", DisplayErrorContext(e)))
            }
        })?;
        let value = output
            .parameter()
            .and_then(|p| p.value())
            .ok_or_else(|| EaaError::Invalid(format!("{} has no value", stored_under(reference))))?;
        EaaCredentials::from_json(&stored_under(reference), value)
    }
}
