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
