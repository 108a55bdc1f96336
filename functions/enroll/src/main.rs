//! The enrollment link's endpoint (`GET`/`POST /enroll/{token}`): no Authorization header,
//! the signed single-use link is the credential. The link key comes from SSM at cold start.

use lambda_glue::{Error, serve_enroll};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_enroll().await
}
