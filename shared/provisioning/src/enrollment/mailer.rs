//! The mailer port: send one email, get the provider's message id or a classified error.
//! Adapters: `aws_adapters::SesMailer` in AWS, the local server's `FileMailer` (`.eml`
//! files) locally.

use std::future::Future;

/// One email: a plain-text and an HTML alternative of the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why an email was not sent, classified for the retry decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying as is (throttling, provider unavailable, network).
    Retryable(String),
    /// The provider refused this email (rejected, sender not verified, bad address..),
    /// with its reason. Retrying only helps after someone fixes the cause.
    Permanent(String),
}

impl SendError {
    pub fn reason(&self) -> &str {
        match self {
            SendError::Retryable(reason) | SendError::Permanent(reason) => reason,
        }
    }
}

/// Sends emails. The sender address is the adapter's configuration.
pub trait Mailer: Send + Sync {
    /// Sends one email; `Ok` carries the provider's message id.
    fn send(&self, email: &Email) -> impl Future<Output = Result<String, SendError>> + Send;
}

impl<M: Mailer> Mailer for std::sync::Arc<M> {
    fn send(&self, email: &Email) -> impl Future<Output = Result<String, SendError>> + Send {
        (**self).send(email)
    }
}
