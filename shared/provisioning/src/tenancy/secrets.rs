//! API tokens and tenant admin keys: 256 random bits, shown once, stored only as their
//! SHA-256 hash (the hash is the item key, so a lookup is one get by hash).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

/// Random bytes in a secret (256 bits).
const SECRET_BYTES: usize = 32;

/// A freshly generated secret: the text to show once, and the hash to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    pub plaintext: String,
    pub hash: String,
}

/// Generates a secret with a readable prefix (`scim_`, `adm_`) so that a leaked one can
/// be recognised by secret scanners.
pub fn generate(prefix: &str) -> Result<NewSecret> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness for a secret: {e}")))?;
    let plaintext = format!("{prefix}{}", hex::encode(bytes));
    let hash = hash(&plaintext);
    Ok(NewSecret { plaintext, hash })
}

/// Lowercase hex SHA-256 of the secret text.
pub fn hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// Whether a stored hash equals the presented one, in constant time (the key lookup
/// already matched; this guards against a store returning a different item).
pub fn hashes_match(stored: &str, presented: &str) -> bool {
    stored.len() == presented.len() && bool::from(stored.as_bytes().ct_eq(presented.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_stored_hashed() {
        let a = generate("scim_").unwrap();
        let b = generate("scim_").unwrap();
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), 5 + 64);
        assert_eq!(a.hash, hash(&a.plaintext));
        assert!(!a.hash.contains(&a.plaintext[5..]));
        assert!(hashes_match(&a.hash, &hash(&a.plaintext)));
        assert!(!hashes_match(&a.hash, &b.hash));
    }
}
