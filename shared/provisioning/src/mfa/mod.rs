//! The MFA product's user model beside SCIM: a user's status and its transitions, their
//! devices, and the summaries the admin API lists.

pub mod devices;
pub mod state;
pub mod summaries;

pub use devices::{Device, DeviceType, NewDevice};
pub use state::{EnrollmentEmail, MfaState, UserStatus};
pub use summaries::{UserFilter, UserSummary};
