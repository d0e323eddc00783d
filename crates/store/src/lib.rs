//! asbru's config store: where the configuration lives once the admin API can change it.
//!
//! Owns: the database (SQLite embedded by default, PostgreSQL for several nodes), the schema
//! migrations shipped in the binary, sealing secrets at rest, seeding from `config.json` with
//! hash-based change detection, admin sessions, and change notifications between nodes.
//! Must not: know HTTP, validate configuration (the caller passes its validator to
//! [`Store::update`]), or be touched on the request path — the gateway serves from the snapshot
//! in memory, and every query here is counted (`asbru_store_queries_total`) so tests can prove it.
//!
//! The stored configuration is a [`Document`]: `config.json`'s own shape, split into one row per
//! provider and one row per other top-level section, each sealed as a whole.

mod document;
mod notify;
mod pool;
mod seal;
mod sessions;
mod usage;

pub use document::{Document, STORED_SECTIONS, SeedReport, SeedSource};
pub use notify::{Change, Changes};
pub use seal::{SealSource, key_file_path};
pub use sessions::{MAX_SESSIONS, Session};
pub use usage::UsageRow;

use pool::Pool;
use seal::Sealer;
use std::path::PathBuf;
use std::time::Duration;

/// Where the store is, from `config_store` (or `--app-dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file, created on first start.
    Sqlite { path: PathBuf },
    /// A PostgreSQL database.
    Postgres(PostgresOptions),
}

/// `config_store.config` for PostgreSQL, as Bifrost names the fields.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub db_name: String,
    /// `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full`.
    pub ssl_mode: String,
    pub max_open_conns: u32,
    pub max_idle_conns: u32,
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password never reaches a log line.
        f.debug_struct("PostgresOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("db_name", &self.db_name)
            .field("ssl_mode", &self.ssl_mode)
            .finish_non_exhaustive()
    }
}

impl StoreLocation {
    /// What to call the store in messages (never includes a password).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite { path } => format!("sqlite {}", path.display()),
            Self::Postgres(p) => format!("postgres {}@{}:{}/{}", p.user, p.host, p.port, p.db_name),
        }
    }
}

/// What went wrong with the store. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or answered with an error.
    #[error("config store unavailable: {0}")]
    Unavailable(String),
    /// Sealing or opening secrets failed (wrong key, missing key file, damaged value).
    #[error("config store secrets: {0}")]
    Seal(String),
    /// The schema migrations failed.
    #[error("config store migration failed: {0}")]
    Migration(String),
    /// A stored row is not what asbru wrote.
    #[error("config store holds a damaged row ({0})")]
    Damaged(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // sqlx's messages name the failing operation, never bound values.
        Self::Unavailable(e.to_string())
    }
}

/// Longest wait for a database connection: past it an admin write answers 503 rather than hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// An open config store.
#[derive(Debug)]
pub struct Store {
    pool: Pool,
    sealer: Sealer,
    location: StoreLocation,
}

impl Store {
    /// Connects, runs the migrations, and opens (or sets up) the seal. `passphrase` is the
    /// `encryption_key`. A PostgreSQL store needs one: without it, secrets would be readable by
    /// anyone who can read the database, and asbru refuses to start rather than store them so.
    pub async fn open(
        location: &StoreLocation,
        passphrase: Option<&str>,
    ) -> Result<Self, StoreError> {
        let passphrase = passphrase.filter(|p| !p.is_empty());
        if matches!(location, StoreLocation::Postgres(_)) && passphrase.is_none() {
            return Err(StoreError::Seal(
                "a PostgreSQL config store needs encryption_key (or BIFROST_ENCRYPTION_KEY): \
                 provider keys would otherwise be stored readable by anyone with database access"
                    .into(),
            ));
        }
        let pool = Pool::connect(location).await?;
        pool.migrate().await?;
        let sealer = seal_setup(&pool, location, passphrase).await?;
        Ok(Self {
            pool,
            sealer,
            location: location.clone(),
        })
    }

    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// How the store's secrets are sealed.
    pub fn seal_source(&self) -> SealSource {
        self.sealer.source
    }

    /// Checks the database answers (for `/health`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pool.ping().await
    }

    /// Closes the connections (on shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Store queries run so far by this process (the same figure as `asbru_store_queries_total`).
    pub fn queries() -> u64 {
        pool::queries_so_far()
    }
}

/// Reads or sets up how secrets are sealed, and re-seals a key-file store when a passphrase is
/// now given.
async fn seal_setup(
    pool: &Pool,
    location: &StoreLocation,
    passphrase: Option<&str>,
) -> Result<Sealer, StoreError> {
    let meta = pool.meta().await?;
    let get = |name: &str| {
        meta.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let key_file = match location {
        StoreLocation::Sqlite { path } => Some(key_file_path(path)),
        StoreLocation::Postgres(_) => None,
    };
    let Some(source) = get("seal") else {
        // A new store: seal it with the passphrase, or with a new key file beside it.
        let (sealer, salt) = match (passphrase, &key_file) {
            (Some(p), _) => {
                let salt = seal::new_salt();
                (
                    Sealer::from_passphrase(p, &seal::decode_salt(&salt)?)?,
                    Some(salt),
                )
            }
            (None, Some(file)) => (Sealer::from_key_file(file, true)?, None),
            (None, None) => return Err(StoreError::Seal("no encryption_key".into())),
        };
        pool.write_seal_meta(&sealer, salt.as_deref()).await?;
        return Ok(sealer);
    };
    let source =
        SealSource::parse(source).ok_or_else(|| StoreError::Damaged(format!("seal = {source}")))?;
    let check = get("key_check").ok_or_else(|| StoreError::Damaged("no key_check".into()))?;
    match source {
        SealSource::Passphrase => {
            let Some(p) = passphrase else {
                return Err(StoreError::Seal(
                    "this store's secrets are sealed with an encryption_key; set encryption_key \
                     (or BIFROST_ENCRYPTION_KEY) to the same value"
                        .into(),
                ));
            };
            let salt = get("kdf_salt").ok_or_else(|| StoreError::Damaged("no kdf_salt".into()))?;
            let sealer = Sealer::from_passphrase(p, &seal::decode_salt(salt)?)?;
            if !sealer.verifies(check) {
                return Err(StoreError::Seal(
                    "encryption_key does not open this store: it was sealed with a different key"
                        .into(),
                ));
            }
            Ok(sealer)
        }
        SealSource::KeyFile => {
            let file = key_file.ok_or_else(|| StoreError::Damaged("keyfile seal".into()))?;
            let old = Sealer::from_key_file(&file, false)?;
            if !old.verifies(check) {
                return Err(StoreError::Seal(format!(
                    "{} does not open this store",
                    file.display()
                )));
            }
            let Some(p) = passphrase else { return Ok(old) };
            // encryption_key set after the store was made: re-seal everything with it, in one
            // transaction, then the key file is no longer needed.
            let salt = seal::new_salt();
            let new = Sealer::from_passphrase(p, &seal::decode_salt(&salt)?)?;
            pool.reseal(&old, &new, &salt).await?;
            if let Err(e) = std::fs::remove_file(&file) {
                tracing::warn!(file = %file.display(), error = %e, "the store was re-sealed with encryption_key; remove the old key file");
            }
            tracing::info!("config store re-sealed with encryption_key");
            Ok(new)
        }
    }
}
