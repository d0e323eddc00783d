//! Password hashing and verification for the admin credentials.
//!
//! Argon2id with the crate's recommended parameters, stored as a PHC string (`$argon2id$…`), so
//! a stolen config store does not give the password up cheaply. Verifying costs tens of
//! milliseconds on purpose; [`VerifiedCache`] keeps inference requests that carry Basic
//! credentials from paying that on every call.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::Mutex;

/// Why a password could not be hashed (never carries the password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot hash the admin password: {0}")]
pub struct HashError(String);

/// Hashes a clear password into an Argon2id PHC string with a random salt.
pub fn hash_password(clear: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(clear.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `clear` matches the PHC string `hash`. A hash that does not parse matches nothing.
pub(crate) fn verify_password(clear: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(clear.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Compares two byte strings in time that depends only on their lengths, so a wrong username
/// does not tell how many of its first characters were right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// SHA-256 of `parts`, each followed by a separator byte so that parts cannot run together.
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0u8]);
    }
    h.finalize().into()
}

/// SHA-256 hex of a session token: what the store and the session map are keyed by, so neither
/// holds a token that would let someone in.
pub(crate) fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in d {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The most verified credentials remembered; when full the cache starts over (a client rotating
/// through more distinct credentials than this pays argon2 again, which is fine).
const CACHE_LIMIT: usize = 1024;

/// Credentials already verified against the current hash, remembered by a SHA-256 of the
/// username, the header value and the hash — never the password itself. Only successes are
/// kept; cleared whenever the settings change.
#[derive(Default)]
pub(crate) struct VerifiedCache {
    seen: Mutex<HashSet<[u8; 32]>>,
}

impl VerifiedCache {
    pub(crate) fn contains(&self, key: &[u8; 32]) -> bool {
        self.lock().contains(key)
    }

    pub(crate) fn insert(&self, key: [u8; 32]) {
        let mut seen = self.lock();
        if seen.len() >= CACHE_LIMIT {
            seen.clear();
        }
        seen.insert(key);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("s3cret", "not a hash"));
        // A random salt: the same password hashes differently each time.
        assert_ne!(h, hash_password("s3cret").unwrap());
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"admin", b"admin"));
        assert!(!constant_time_eq(b"admin", b"admix"));
        assert!(!constant_time_eq(b"admin", b"admi"));
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cache_is_bounded() {
        let c = VerifiedCache::default();
        for i in 0..(CACHE_LIMIT + 1) {
            c.insert(digest(&[&i.to_le_bytes()]));
        }
        assert!(c.contains(&digest(&[&CACHE_LIMIT.to_le_bytes()])));
        assert!(c.lock().len() <= CACHE_LIMIT);
    }
}
