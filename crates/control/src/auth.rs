//! Admin authentication (Bifrost's `auth_config`). Placeholder interface; filled in next.

use asbru_config::AuthConfig;
use asbru_store::Store;
use std::sync::Arc;

/// Who may use `/api` (and inference, unless `disable_auth_on_inference`).
pub struct Auth {
    store: Option<Arc<Store>>,
}

impl Auth {
    pub fn new(config: Option<&AuthConfig>, store: Option<Arc<Store>>) -> Self {
        let _ = config;
        Self { store }
    }

    /// Takes the auth settings of a newly served configuration.
    pub fn configure(&self, config: Option<&AuthConfig>) {
        let _ = config;
    }

    /// Reads the live sessions from the store again (a peer logged in or out).
    pub async fn reload_sessions(&self) {
        let _ = &self.store;
    }
}

impl Auth {
    /// Ends every admin session (the credentials changed).
    pub async fn end_all_sessions(&self) {
        if let Some(store) = &self.store
            && let Err(e) = store.delete_all_sessions().await
        {
            tracing::warn!(error = %e, "could not end the stored admin sessions");
        }
    }
}

/// Hashes an admin password with Argon2id (a PHC string with its own salt).
pub fn hash_password(clear: &str) -> Result<String, crate::AdminError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    argon2::Argon2::default()
        .hash_password(clear.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|h| h.to_string())
        .map_err(|_| crate::AdminError::new(500, "password hashing failed"))
}
