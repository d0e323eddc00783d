//! The settings of the control surface: where the config store lives, the key that seals it,
//! and admin authentication.

use secrecy::SecretString;
use std::path::PathBuf;

/// `config_store`: whether and where the configuration is kept in a database.
#[derive(Debug, Clone, Default)]
pub enum StoreChoice {
    /// Not configured: a store in `--app-dir` (`DIR/config.db`) when there is one, else none.
    #[default]
    Default,
    /// `"enabled": false`: configuration from the file only.
    Disabled,
    /// SQLite at `path` (default `DIR/config.db` with `--app-dir`, else `./config.db`).
    Sqlite { path: Option<PathBuf> },
    /// PostgreSQL.
    Postgres(PostgresSettings),
}

/// `config_store.config` for PostgreSQL (Bifrost's field names).
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<SecretString>,
    pub db_name: String,
    pub ssl_mode: String,
    pub max_open_conns: u32,
    pub max_idle_conns: u32,
}

/// Admin authentication (`governance.auth_config`, or the deprecated top-level `auth_config`).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub admin_username: String,
    pub admin_password: AdminPassword,
    /// When false, `/api` and inference are open (the credentials are kept for later).
    pub is_enabled: bool,
    /// Inference routes need no credentials even when auth is on.
    pub disable_auth_on_inference: bool,
}

/// The admin password as configured: in clear (from the file or `env.VAR`) or already hashed
/// (as the config store keeps it: a PHC string, `$argon2id$…`).
#[derive(Clone)]
pub enum AdminPassword {
    Clear(SecretString),
    Hashed(String),
}

impl std::fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Clear(_) => "Clear(<redacted>)",
            Self::Hashed(_) => "Hashed(<hash>)",
        })
    }
}

impl AdminPassword {
    /// Reads a configured value: a PHC Argon2 hash is taken as already hashed.
    pub fn from_configured(value: String) -> Self {
        if value.starts_with("$argon2") {
            Self::Hashed(value)
        } else {
            Self::Clear(SecretString::from(value))
        }
    }
}
