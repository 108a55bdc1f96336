//! The EAA directory sync: every 6 hours (EventBridge schedule) each tenant's selected
//! EAA groups are mirrored into its users and groups; `{"tenant": ".."}` syncs one now.

use lambda_glue::{Error, serve_eaa_sync};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_eaa_sync().await
}
