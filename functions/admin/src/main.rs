//! The admin API (`/admin/v1/...`), and the one-off bootstrap invoke that creates a tenant and its admin key.
//! Every route goes through the one router; API Gateway decides which reach this function.

use lambda_glue::{Error, serve_admin};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_admin().await
}
