//! SCIM `/scim/v2/{integration}/Users` (and `/.search`) behind API Gateway.
//! Every route goes through the one router; API Gateway decides which reach this function.

use scim_http::lambda::{Error, Events, serve};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve(Events::HttpOnly).await
}
