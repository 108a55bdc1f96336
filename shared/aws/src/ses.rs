//! [`SesMailer`]: the mailer port on Amazon SES (v1 API, `SendEmail`, text and HTML
//! bodies), with the provider's errors classified for the mailer's retry decision:
//! throttling, 5xx and network failures are retryable; rejections (`MessageRejected`,
//! unverified sender domain, paused sending, missing configuration set, bad parameters)
//! are permanent, with SES's code and message as the reason.

use aws_sdk_ses::Client;
use aws_sdk_ses::config::http::HttpResponse;
use aws_sdk_ses::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ses::operation::send_email::SendEmailError;
use aws_sdk_ses::types::{Body, Content, Destination, Message};
use provisioning::enrollment::{Email, Mailer, SendError};

/// The verified sender address (`From`), e.g. `MFA <no-reply@example.com>`.
pub const SENDER_ENV: &str = "SES_SENDER";
/// Optional: the SES configuration set to send with (event publishing, suppression).
pub const CONFIGURATION_SET_ENV: &str = "SES_CONFIGURATION_SET";

/// Error codes SES (and the AWS query protocol) use for "slow down / try again".
const RETRYABLE_CODES: &[&str] =
    &["Throttling", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailable", "InternalFailure", "RequestTimeout"];

/// Sends through SES as one sender, optionally with a configuration set.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    sender: String,
    configuration_set: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, sender: impl Into<String>, configuration_set: Option<String>) -> Self {
        SesMailer { client, sender: sender.into(), configuration_set }
    }

    /// With `config`'s credentials and region, the sender from `SES_SENDER` and the
    /// configuration set from `SES_CONFIGURATION_SET` (if set and not empty).
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, String> {
        let sender = std::env::var(SENDER_ENV).map_err(|_| format!("{SENDER_ENV} is not set: the verified SES sender address"))?;
        let configuration_set = std::env::var(CONFIGURATION_SET_ENV).ok().filter(|s| !s.trim().is_empty());
        Ok(Self::new(Client::new(config), sender, configuration_set))
    }

    pub fn sender(&self) -> &str {
        &self.sender
    }
}

fn content(data: &str) -> Result<Content, SendError> {
    Content::builder().data(data).charset("UTF-8").build().map_err(|e| SendError::Permanent(format!("cannot build the email: {e}")))
}

impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, SendError> {
        let body = Body::builder().text(content(&email.text)?).html(content(&email.html)?).build();
        let message = Message::builder().subject(content(&email.subject)?).body(body).build();
        let output = self
            .client
            .send_email()
            .source(&self.sender)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .message(message)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        Ok(output.message_id().to_string())
    }
}

/// Retryable or permanent, with SES's reason.
pub fn classify(error: SdkError<SendEmailError, HttpResponse>) -> SendError {
    match &error {
        SdkError::ServiceError(service) => {
            let err = service.err();
            let status = service.raw().status().as_u16();
            let reason = format!("{}: {}", err.code().unwrap_or("SES error"), err.message().unwrap_or("no message"));
            match err.code() {
                Some(code) if RETRYABLE_CODES.contains(&code) => SendError::Retryable(reason),
                _ if status == 429 || status >= 500 => SendError::Retryable(reason),
                _ => SendError::Permanent(reason),
            }
        }
        // Network failures and timeouts: SES may not have seen the request; sending again
        // is the only way not to lose the email.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            SendError::Retryable(DisplayErrorContext(&error).to_string())
        }
        _ => SendError::Permanent(DisplayErrorContext(&error).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ses::error::ErrorMetadata;
    use aws_sdk_ses::types::error::MessageRejected;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(StatusCode::try_from(status).expect("status"), SdkBody::empty())
    }

    fn generic(code: &str, status: u16) -> SdkError<SendEmailError, HttpResponse> {
        let error = SendEmailError::generic(ErrorMetadata::builder().code(code).message("m").build());
        SdkError::service_error(error, response(status))
    }

    #[test]
    fn throttling_and_outages_are_retryable_rejections_are_permanent_with_the_reason() {
        assert_eq!(classify(generic("Throttling", 400)), SendError::Retryable("Throttling: m".into()));
        assert!(matches!(classify(generic("ServiceUnavailable", 503)), SendError::Retryable(_)));
        assert!(matches!(classify(generic("Whatever", 500)), SendError::Retryable(_)));
        assert!(matches!(classify(generic("InvalidParameterValue", 400)), SendError::Permanent(_)));
        let rejected = MessageRejected::builder()
            .message("Email address is not verified.")
            .meta(ErrorMetadata::builder().code("MessageRejected").message("Email address is not verified.").build())
            .build();
        let error = SdkError::service_error(SendEmailError::MessageRejected(rejected), response(400));
        assert_eq!(classify(error), SendError::Permanent("MessageRejected: Email address is not verified.".into()));
    }
}
