//! Sealing configuration at rest: every configuration blob is encrypted as a whole with
//! AES-256-GCM, so no secret inside it (provider keys, credentials, proxy passwords) is ever in
//! the database in clear.
//!
//! The key comes from one of two places:
//! - **`encryption_key`** (or `BIFROST_ENCRYPTION_KEY`): a passphrase stretched with Argon2id and a
//!   random salt kept in the store. This is what a deployment should use, and what PostgreSQL
//!   requires.
//! - **A key file** beside an SQLite store (`config.db.key`, mode 0600), made on first start when
//!   no passphrase is set. Bifrost stores secrets in clear in that case; asbru never does. When an
//!   `encryption_key` is set later, the store is re-sealed with it and the key file removed
//!   (Bifrost's encryption migration, done in one transaction).
//!
//! A check value sealed with the key is kept in the store, so a wrong key is refused at start
//! with a clear message instead of producing garbage.

use crate::StoreError;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use std::path::{Path, PathBuf};

/// Sealed values start with this, so the format can change without guessing.
const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
/// What the key check seals: opening it proves the key is the store's.
const CHECK_PLAINTEXT: &[u8] = b"asbru config store key check";

/// How a store's secrets are sealed (kept in `asbru_meta` as `seal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealSource {
    /// A passphrase (`encryption_key`) stretched with Argon2id.
    Passphrase,
    /// A random key kept in a file beside the SQLite store.
    KeyFile,
}

impl SealSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Passphrase => "passphrase",
            Self::KeyFile => "keyfile",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "passphrase" => Some(Self::Passphrase),
            "keyfile" => Some(Self::KeyFile),
            _ => None,
        }
    }
}

/// An AES-256-GCM key and where it came from.
pub struct Sealer {
    cipher: Aes256Gcm,
    pub(crate) source: SealSource,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    fn new(key: &[u8; 32], source: SealSource) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
            source,
        }
    }

    /// Derives the key from a passphrase. Argon2id with its recommended parameters: slow on
    /// purpose (once per start), so a stolen database does not give the passphrase up cheaply.
    pub(crate) fn from_passphrase(passphrase: &str, salt: &[u8]) -> Result<Self, StoreError> {
        let mut key = [0u8; 32];
        argon2::Argon2::default()
            .hash_password_into(passphrase.as_bytes(), salt, &mut key)
            .map_err(|e| StoreError::Seal(format!("cannot derive the key: {e}")))?;
        Ok(Self::new(&key, SealSource::Passphrase))
    }

    /// Reads the key file, or makes one when `create` (a new store with no passphrase).
    pub(crate) fn from_key_file(path: &Path, create: bool) -> Result<Self, StoreError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = B64.decode(text.trim()).map_err(|_| {
                    StoreError::Seal(format!("{}: not a key written by asbru", path.display()))
                })?;
                let key: [u8; 32] = bytes.try_into().map_err(|_| {
                    StoreError::Seal(format!("{}: not a key written by asbru", path.display()))
                })?;
                Ok(Self::new(&key, SealSource::KeyFile))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                let mut key = [0u8; 32];
                rand::rng().fill_bytes(&mut key);
                write_private(path, &B64.encode(key))?;
                Ok(Self::new(&key, SealSource::KeyFile))
            }
            Err(e) => Err(StoreError::Seal(format!(
                "{}: cannot read the store's key file ({e}); the store's secrets cannot be opened without it \
                 (or set the encryption_key it was re-sealed with)",
                path.display()
            ))),
        }
    }

    /// Encrypts `plain` with a fresh random nonce: `v1:` + base64(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plain: &[u8]) -> Result<String, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| StoreError::Seal("encryption failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Decrypts what [`Self::seal`] made; fails on a wrong key or a changed value.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, StoreError> {
        let bad = || StoreError::Seal("a sealed value cannot be opened with this key".into());
        let body = sealed.strip_prefix(PREFIX).ok_or_else(bad)?;
        let bytes = B64.decode(body).map_err(|_| bad())?;
        if bytes.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| bad())
    }

    /// The value kept in the store to recognise this key.
    pub(crate) fn check_value(&self) -> Result<String, StoreError> {
        self.seal(CHECK_PLAINTEXT)
    }

    /// Whether `check` was sealed with this key.
    pub(crate) fn verifies(&self, check: &str) -> bool {
        self.open(check).is_ok_and(|p| p == CHECK_PLAINTEXT)
    }
}

/// A fresh random salt for the passphrase's key derivation.
pub(crate) fn new_salt() -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    B64.encode(salt)
}

pub(crate) fn decode_salt(salt: &str) -> Result<Vec<u8>, StoreError> {
    B64.decode(salt)
        .map_err(|_| StoreError::Seal("the store's key salt is damaged".into()))
}

/// Where the key file of an SQLite store lives.
pub fn key_file_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| {
        StoreError::Seal(format!(
            "{}: cannot write the key file: {e}",
            path.display()
        ))
    })?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            StoreError::Seal(format!(
                "{}: cannot write the key file: {e}",
                path.display()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let salt = decode_salt(&new_salt()).unwrap();
        let a = Sealer::from_passphrase("correct horse", &salt).unwrap();
        let b = Sealer::from_passphrase("battery staple", &salt).unwrap();
        let sealed = a.seal(b"sk-secret").unwrap();
        assert!(!sealed.contains("sk-secret"));
        assert_eq!(a.open(&sealed).ok().as_deref(), Some(&b"sk-secret"[..]));
        assert!(b.open(&sealed).is_err());
        // Two seals of one value differ (fresh nonce each time).
        assert_ne!(sealed, a.seal(b"sk-secret").unwrap());
        let check = a.check_value().unwrap();
        assert!(a.verifies(&check));
        assert!(!b.verifies(&check));
    }

    #[test]
    fn a_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file_path(&dir.path().join("config.db"));
        assert!(
            Sealer::from_key_file(&path, false).is_err(),
            "no file, no create"
        );
        let made = Sealer::from_key_file(&path, true).unwrap();
        let read = Sealer::from_key_file(&path, false).unwrap();
        let sealed = made.seal(b"x").unwrap();
        assert_eq!(read.open(&sealed).ok().as_deref(), Some(&b"x"[..]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
