//! The enrollment link: `{base}/{token}`, where the token is
//! `base64url(claims) "." base64url(HMAC-SHA256(key, base64url(claims)))`.
//!
//! The claims bind the link to one user (tenant, user id) and one email (the nonce stored
//! in the user's outbox item, consumed at enrollment, so the link works once), and carry
//! its expiry. The signature is checked, in constant time, before anything in the claims
//! is believed. The key comes from configuration: in AWS the function reads it from SSM
//! (SecureString) or Secrets Manager and passes the bytes to [`LinkKey::new`]; the local
//! server keeps a generated one in its data folder ([`LinkKey::generate`], [`LinkKey::to_hex`]).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Error, Result};

/// The shortest key accepted (HMAC-SHA256's block-size-independent strength is 256 bits).
pub const MIN_KEY_BYTES: usize = 32;

/// The link's validity when the configuration does not say.
pub const DEFAULT_LINK_TTL: time::Duration = time::Duration::days(7);

/// The secret that signs enrollment links.
#[derive(Clone)]
pub struct LinkKey {
    bytes: Vec<u8>,
    /// Keyed once; each use clones it.
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str("LinkKey(..)")
    }
}

/// What a token says about the link (trusted only after the signature was checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    #[serde(rename = "t")]
    pub tenant: String,
    #[serde(rename = "u")]
    pub user_id: String,
    #[serde(rename = "n")]
    pub nonce: String,
    /// Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
}

/// Why a token was refused before any store read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of ours, or altered (bad shape, bad signature).
    Tampered,
    Expired,
}

impl LinkKey {
    /// A key from its bytes (at least [`MIN_KEY_BYTES`]), e.g. the decoded SSM parameter.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(Error::Internal(format!("the enrollment link key has {} bytes; at least {MIN_KEY_BYTES} are needed", bytes.len())));
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&bytes)
            .map_err(|e| Error::Internal(format!("the enrollment link key is not usable: {e}")))?;
        Ok(LinkKey { bytes, mac })
    }

    /// A key from its hex text: the local key file's form, and the recommended form of the
    /// SSM SecureString / Secrets Manager value (`openssl rand -hex 32`).
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = hex::decode(text.trim()).map_err(|e| Error::Internal(format!("the enrollment link key is not hex: {e}")))?;
        Self::new(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        let mut bytes = vec![0u8; MIN_KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness for the enrollment link key: {e}")))?;
        Self::new(bytes)
    }

    /// The key's hex text (what [`LinkKey::from_hex`] reads), for a key file.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.bytes)
    }

    fn mac(&self) -> Hmac<Sha256> {
        self.mac.clone()
    }

    /// The token for these claims.
    pub fn sign(&self, claims: &LinkClaims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// The claims of a token signed by this key that has not expired at `now_unix`.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<LinkClaims, TokenError> {
        let (body, signature) = token.split_once('.').ok_or(TokenError::Tampered)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Tampered)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&signature).map_err(|_| TokenError::Tampered)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError::Tampered)?;
        let claims: LinkClaims = serde_json::from_slice(&bytes).map_err(|_| TokenError::Tampered)?;
        if now_unix >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> LinkClaims {
        LinkClaims { tenant: "t1".into(), user_id: "u1".into(), nonce: "n1".into(), expires_at: 1_000 }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires_and_any_change_breaks_it() {
        let key = LinkKey::new(vec![7u8; 32]).expect("key");
        let token = key.sign(&claims());
        assert_eq!(key.verify(&token, 999), Ok(claims()));
        assert_eq!(key.verify(&token, 1_000), Err(TokenError::Expired));
        let other = LinkKey::new(vec![8u8; 32]).expect("key");
        assert_eq!(other.verify(&token, 0), Err(TokenError::Tampered));
        // A longer expiry in the claims with the old signature is refused.
        let (_, signature) = token.split_once('.').expect("dot");
        let forged = LinkClaims { expires_at: 9_999, ..claims() };
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        assert_eq!(key.verify(&format!("{forged_body}.{signature}"), 0), Err(TokenError::Tampered));
        for bad in ["", ".", "abc", "a.b", &token[..token.len() - 2], &format!("{token}x")] {
            assert_eq!(key.verify(bad, 0), Err(TokenError::Tampered), "{bad}");
        }
        assert!(LinkKey::new(vec![1u8; 31]).is_err());
    }
}
