//! Starting the EAA sync function asynchronously (`Invoke`, `InvocationType=Event`): the
//! admin API's "sync now", and a sync that ran out of time going on in a fresh invocation
//! of its own function. The event is the function's manual event (`lambda_glue::eaa_sync`).

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use provisioning::{BoxFuture, SyncTrigger};
use serde_json::json;

/// The admin function's variable naming the sync function.
pub const SYNC_FUNCTION_ENV: &str = "EAA_SYNC_FUNCTION";

/// Invokes `function` (name or ARN) with `{"tenant", "integration", "continuation"}`.
#[derive(Debug, Clone)]
pub struct LambdaSyncTrigger {
    client: Client,
    function: String,
}

impl LambdaSyncTrigger {
    pub fn new(client: Client, function: &str) -> Self {
        LambdaSyncTrigger { client, function: function.to_string() }
    }

    /// With `config`'s credentials and region, invoking the function named by the
    /// variable `name` (`EAA_SYNC_FUNCTION` for the admin API; Lambda's own
    /// `AWS_LAMBDA_FUNCTION_NAME` for the sync function's continuations).
    pub fn from_env(config: &aws_config::SdkConfig, name: &str) -> Result<Self, String> {
        let function = std::env::var(name)
            .ok()
            .filter(|f| !f.trim().is_empty())
            .ok_or_else(|| format!("{name} is not set: the EAA sync function's name"))?;
        Ok(LambdaSyncTrigger::new(Client::new(config), function.trim()))
    }
}

impl SyncTrigger for LambdaSyncTrigger {
    fn trigger<'a>(&'a self, tenant: &'a str, integration: &'a str, continuation: u32) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let event = json!({"tenant": tenant, "integration": integration, "continuation": continuation});
            self.client
                .invoke()
                .function_name(&self.function)
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(event.to_string()))
                .send()
                .await
                .map_err(|e| format!("invoking {}: {}", self.function, DisplayErrorContext(e)))?;
            Ok(())
        })
    }
}
