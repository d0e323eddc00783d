//! Connections to SQLite or PostgreSQL, migrations, and the few queries about the store itself.
//!
//! Both databases run the same SQL (`$N` placeholders, `ON CONFLICT`, `TEXT`/`BIGINT`), so each
//! query is written once; [`with_pool!`] compiles it for the backend in use. Every statement goes
//! through [`counted`], which is how tests prove the request path runs none.

use crate::seal::Sealer;
use crate::{ACQUIRE_TIMEOUT, StoreError, StoreLocation};
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// An open pool on one of the two backends.
#[derive(Debug)]
pub(crate) enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Runs `$body` with `$p` bound to the backend's pool; the body is compiled once per backend.
macro_rules! with_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::pool::Pool::Sqlite($p) => $body,
            $crate::pool::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

static QUERIES: AtomicU64 = AtomicU64::new(0);

/// Counts `n` statements about to run.
pub(crate) fn counted(n: u64) {
    QUERIES.fetch_add(n, Ordering::Relaxed);
    metrics::counter!("asbru_store_queries_total").increment(n);
}

pub(crate) fn queries_so_far() -> u64 {
    QUERIES.load(Ordering::Relaxed)
}

/// Milliseconds since the Unix epoch (row timestamps).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The schema's migrations. The SQL is the same on both databases for now; when a migration needs
/// a dialect of its own, the directory splits into `migrations/sqlite` and `migrations/postgres`.
static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Pool {
    pub(crate) async fn connect(location: &StoreLocation) -> Result<Self, StoreError> {
        match location {
            StoreLocation::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| StoreError::Unavailable(format!("{}: {e}", dir.display())))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("{}: {e}", path.display())))?;
                Ok(Self::Sqlite(pool))
            }
            StoreLocation::Postgres(p) => {
                let ssl = PgSslMode::from_str(&p.ssl_mode).map_err(|_| {
                    StoreError::Unavailable(format!(
                        "ssl_mode {:?} is not a PostgreSQL sslmode",
                        p.ssl_mode
                    ))
                })?;
                let mut options = PgConnectOptions::new()
                    .host(&p.host)
                    .port(p.port)
                    .username(&p.user)
                    .database(&p.db_name)
                    .ssl_mode(ssl)
                    .application_name("asbru");
                if let Some(password) = &p.password {
                    options = options.password(password);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(p.max_open_conns.max(1))
                    .min_connections(p.max_idle_conns.min(p.max_open_conns))
                    .acquire_timeout(ACQUIRE_TIMEOUT)
                    .connect_with(options)
                    .await?;
                Ok(Self::Postgres(pool))
            }
        }
    }

    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    pub(crate) async fn migrate(&self) -> Result<(), StoreError> {
        let result = match self {
            Self::Sqlite(p) => MIGRATIONS.run(p).await,
            Self::Postgres(p) => MIGRATIONS.run(p).await,
        };
        result.map_err(|e| StoreError::Migration(e.to_string()))
    }

    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        counted(1);
        with_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(drop))
            .map_err(Into::into)
    }

    pub(crate) async fn close(&self) {
        with_pool!(self, p => p.close().await);
    }

    /// Every `asbru_meta` row.
    pub(crate) async fn meta(&self) -> Result<Vec<(String, String)>, StoreError> {
        counted(1);
        let rows = with_pool!(self, p => {
            sqlx::query("SELECT name, value FROM asbru_meta")
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// Records how a new store is sealed.
    pub(crate) async fn write_seal_meta(
        &self,
        sealer: &Sealer,
        salt: Option<&str>,
    ) -> Result<(), StoreError> {
        let check = sealer.check_value()?;
        counted(3);
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for (name, value) in [("seal", sealer.source.as_str()), ("key_check", check.as_str()), ("kdf_salt", salt.unwrap_or(""))] {
                sqlx::query(UPSERT_META).bind(name).bind(value).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Re-seals every row with `new` in one transaction, and records the new seal.
    pub(crate) async fn reseal(
        &self,
        old: &Sealer,
        new: &Sealer,
        salt: &str,
    ) -> Result<(), StoreError> {
        let check = new.check_value()?;
        with_pool!(self, p => {
            let mut tx = p.begin().await?;
            for (select, update) in [
                ("SELECT name, sealed FROM asbru_providers", "UPDATE asbru_providers SET sealed = $2 WHERE name = $1"),
                ("SELECT name, sealed FROM asbru_sections", "UPDATE asbru_sections SET sealed = $2 WHERE name = $1"),
            ] {
                counted(1);
                let rows = sqlx::query(select).fetch_all(&mut *tx).await?;
                for row in rows {
                    let name: String = row.try_get("name")?;
                    let sealed: String = row.try_get("sealed")?;
                    let plain = old.open(&sealed)?;
                    counted(1);
                    sqlx::query(update).bind(&name).bind(new.seal(&plain)?).execute(&mut *tx).await?;
                }
            }
            for (name, value) in [("seal", new.source.as_str()), ("key_check", check.as_str()), ("kdf_salt", salt)] {
                counted(1);
                sqlx::query(UPSERT_META).bind(name).bind(value).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

pub(crate) const UPSERT_META: &str = "INSERT INTO asbru_meta (name, value) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";
