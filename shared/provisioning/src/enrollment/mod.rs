//! Enrollment: the email that invites a provisioned user to register an MFA device, and
//! the link in it.
//!
//! | file | what |
//! |---|---|
//! | `outbox` | the outbox item, written in the create's (or first claim's) transaction |
//! | `delivery` | the mailer: lease, send, mark sent; exactly once except one crash window |
//! | `mailer` | the port an email provider plugs into (SES in AWS, `.eml` files locally) |
//! | `template` | the email's subject, text and HTML from `templates/` |
//! | `link` | the HMAC-signed, expiring, single-use link |
//! | `config` | what links say and how they are checked |
//! | `redeem` | what the link leads to: checking it, enrolling a device, the admin's resend |

pub mod config;
pub mod delivery;
pub mod link;
pub mod mailer;
pub mod outbox;
pub mod redeem;
pub mod template;

pub use config::{DEFAULT_PRODUCT_NAME, EnrollmentConfig, PRODUCT_NAME_ENV};
pub use delivery::{Delivery, DeliveryPolicy, OutboxChange, OutboxMailer};
pub use link::{LinkClaims, LinkKey};
pub use mailer::{Email, Mailer, SendError};
pub use outbox::{NO_ADDRESS_DETAIL, OUTBOX_KIND, OutboxState, SUSPENDED_DETAIL};
pub use redeem::{EnrollDeviceRequest, EnrollError, EnrollmentInfo, ResendRequest};
