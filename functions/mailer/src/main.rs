//! The enrollment mailer: the table's DynamoDB Stream (outbox inserts and changes) in,
//! emails out through SES, partial batch failures back to Lambda for retry.

use lambda_glue::{Error, serve_mailer};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_mailer().await
}
