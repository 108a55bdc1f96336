//! What enrollment links say and how they are checked: the link key, the public URL of
//! the enroll endpoint, the product name and the link's validity, shared by the mailer
//! (signs) and the enroll function (verifies).

use crate::enrollment::link::{DEFAULT_LINK_TTL, LinkKey};
use crate::error::{Error, Result};

/// The public URL of the enroll endpoint, which links point at.
pub const LINK_BASE_ENV: &str = "ENROLLMENT_LINK_BASE";
/// The product name shown in emails and on the enrollment page.
pub const PRODUCT_NAME_ENV: &str = "PRODUCT_NAME";
/// How long a link works, in hours.
pub const LINK_TTL_HOURS_ENV: &str = "ENROLLMENT_LINK_TTL_HOURS";
pub const DEFAULT_PRODUCT_NAME: &str = "MFA";

#[derive(Debug, Clone)]
pub struct EnrollmentConfig {
    pub key: LinkKey,
    /// The enroll endpoint the token is appended to, e.g. `https://mfa.example.com/enroll`.
    pub link_base: String,
    /// The product name shown in emails and on the enrollment page.
    pub product_name: String,
    pub link_ttl: time::Duration,
}

impl EnrollmentConfig {
    /// With the default validity ([`DEFAULT_LINK_TTL`], 7 days).
    pub fn new(key: LinkKey, link_base: impl Into<String>, product_name: impl Into<String>) -> Self {
        EnrollmentConfig { key, link_base: link_base.into(), product_name: product_name.into(), link_ttl: DEFAULT_LINK_TTL }
    }

    /// From named settings (the Lambda functions' environment; the key is fetched by the
    /// caller: SSM SecureString in AWS, the data folder locally): [`LINK_BASE_ENV`] (required, the public URL of the enroll
    /// endpoint), [`PRODUCT_NAME_ENV`] (default [`DEFAULT_PRODUCT_NAME`]) and
    /// [`LINK_TTL_HOURS_ENV`] (default 168, 7 days).
    pub fn from_lookup(key: LinkKey, lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let set = |name: &str| lookup(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let link_base = set(LINK_BASE_ENV).ok_or_else(|| {
            Error::Internal(format!(
                "{LINK_BASE_ENV} is not set: the public URL of the enroll endpoint, e.g. https://mfa.example.com/enroll"
            ))
        })?;
        let mut config = Self::new(key, link_base, set(PRODUCT_NAME_ENV).unwrap_or_else(|| DEFAULT_PRODUCT_NAME.to_string()));
        if let Some(hours) = set(LINK_TTL_HOURS_ENV) {
            let hours: i64 = hours
                .parse()
                .ok()
                .filter(|h| *h > 0)
                .ok_or_else(|| Error::Internal(format!("{LINK_TTL_HOURS_ENV} must be a positive number of hours, not {hours:?}")))?;
            config.link_ttl = time::Duration::hours(hours);
        }
        Ok(config)
    }

    pub fn with_link_ttl(mut self, ttl: time::Duration) -> Self {
        self.link_ttl = ttl;
        self
    }

    /// The link for a token.
    pub fn link(&self, token: &str) -> String {
        format!("{}/{token}", self.link_base.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_from_named_settings() {
        let key = || LinkKey::new(vec![1u8; 32]).expect("key");
        let settings = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        let config = EnrollmentConfig::from_lookup(key(), settings(&[(LINK_BASE_ENV, "https://m.test/enroll/")])).expect("config");
        assert_eq!((config.product_name.as_str(), config.link_ttl), (DEFAULT_PRODUCT_NAME, DEFAULT_LINK_TTL));
        assert_eq!(config.link("abc"), "https://m.test/enroll/abc");
        const FULL: [(&str, &str); 3] = [(LINK_BASE_ENV, "https://m.test/e"), (PRODUCT_NAME_ENV, "Acme"), (LINK_TTL_HOURS_ENV, "24")];
        let config = EnrollmentConfig::from_lookup(key(), settings(&FULL)).expect("config");
        assert_eq!((config.product_name.as_str(), config.link_ttl), ("Acme", time::Duration::hours(24)));
        assert!(EnrollmentConfig::from_lookup(key(), settings(&[])).is_err());
        assert!(EnrollmentConfig::from_lookup(key(), settings(&[(LINK_BASE_ENV, "x"), (LINK_TTL_HOURS_ENV, "-1")])).is_err());
    }
}
