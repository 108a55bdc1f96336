//! The MFA state of a user (docs/EAA.md §4, "The MFA user model") and its transitions, pure.

use serde::{Deserialize, Serialize};

/// What happened about a user's enrollment email (kept in its MFA state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnrollmentEmail {
    Queued,
    /// The integration sends enrollment emails, but the user has no email address (yet).
    NoEmailAddress,
    /// The integration sends enrollment emails, but the user is suspended (until restored).
    Suspended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Unenrolled,
    Active,
    DevicesDisabled,
    ProvisioningDisabled,
}

/// Status plus what is needed to restore it after a suspension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaState {
    pub status: UserStatus,
    pub device_count: u64,
    /// The status before SCIM `active=false`, restored by `active=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspended_from: Option<UserStatus>,
    /// Whether an enrollment email was queued, or why not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_email: Option<EnrollmentEmail>,
}

impl MfaState {
    pub fn new() -> Self {
        MfaState { status: UserStatus::Unenrolled, device_count: 0, suspended_from: None, enrollment_email: None }
    }

    /// After the SCIM `active` attribute took this value (absent counts as active).
    pub fn with_active(self, active: bool) -> Self {
        match (active, self.status) {
            (false, UserStatus::ProvisioningDisabled) => self,
            (false, status) => MfaState { status: UserStatus::ProvisioningDisabled, suspended_from: Some(status), ..self },
            (true, UserStatus::ProvisioningDisabled) => {
                let status = match self.suspended_from {
                    Some(UserStatus::DevicesDisabled) => UserStatus::DevicesDisabled,
                    _ if self.device_count > 0 => UserStatus::Active,
                    _ => UserStatus::Unenrolled,
                };
                MfaState { status, suspended_from: None, ..self }
            }
            (true, _) => self,
        }
    }

    /// After a device was registered: an unenrolled user becomes active.
    pub fn with_device_added(self) -> Self {
        let device_count = self.device_count + 1;
        match self.status {
            UserStatus::Unenrolled => MfaState { status: UserStatus::Active, device_count, ..self },
            _ => MfaState { device_count, ..self },
        }
    }

    /// After a device was removed: an active user without devices is unenrolled again.
    pub fn with_device_removed(self) -> Self {
        let device_count = self.device_count.saturating_sub(1);
        match self.status {
            UserStatus::Active if device_count == 0 => MfaState { status: UserStatus::Unenrolled, device_count, ..self },
            _ => MfaState { device_count, ..self },
        }
    }
}

impl Default for MfaState {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspension_keeps_devices_and_restores_the_previous_status() {
        let enrolled = MfaState::new().with_device_added();
        assert_eq!(enrolled.status, UserStatus::Active);
        let suspended = enrolled.with_active(false);
        assert_eq!((suspended.status, suspended.device_count), (UserStatus::ProvisioningDisabled, 1));
        assert_eq!(suspended.with_active(false), suspended);
        assert_eq!(suspended.with_active(true).status, UserStatus::Active);
        assert_eq!(MfaState::new().with_active(false).with_active(true).status, UserStatus::Unenrolled);
        let disabled = MfaState { status: UserStatus::DevicesDisabled, device_count: 2, ..MfaState::new() };
        assert_eq!(disabled.with_active(false).with_active(true).status, UserStatus::DevicesDisabled);
        assert_eq!(enrolled.with_device_removed().status, UserStatus::Unenrolled);
    }
}
