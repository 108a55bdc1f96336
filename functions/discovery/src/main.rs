//! SCIM discovery (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`) behind API Gateway.
//! Every route goes through the one router; API Gateway decides which reach this function.

use lambda_glue::{Error, Events, serve};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve(Events::HttpOnly).await
}
