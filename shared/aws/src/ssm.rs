//! The enrollment link key from SSM Parameter Store: a SecureString holding the key in
//! hex, read once at a function's cold start (`GetParameter` with decryption), so the key
//! never sits in the template, an environment variable or the function's configuration.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::DisplayErrorContext;
use provisioning::enroll_link::LinkKey;

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

/// The link key in the parameter named by [`KEY_PARAMETER_ENV`], with the environment's
/// credentials and region.
pub async fn link_key_from_env() -> Result<LinkKey, String> {
    let name = std::env::var(KEY_PARAMETER_ENV)
        .ok()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| format!("{KEY_PARAMETER_ENV} is not set: the SSM SecureString parameter holding the enrollment link key"))?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    link_key(&Client::new(&config), name.trim()).await
}
