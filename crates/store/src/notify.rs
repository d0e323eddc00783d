//! Change notifications between nodes sharing one PostgreSQL: every write to the configuration
//! or the sessions sends `pg_notify('asbru_config', …)` in its transaction, so peers hear of it
//! when (and only when) it commits. SQLite serves one node and has no notifications.

use crate::pool::Pool;
use crate::{Store, StoreError};
use std::time::Duration;

/// The channel every node listens on.
const CHANNEL: &str = "asbru_config";

/// What a peer changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The configuration, now at this revision.
    Config(i64),
    /// Admin sessions (a login or logout).
    Sessions,
    /// The connection was lost and is back: anything may have changed meanwhile.
    Resync,
}

/// A stream of changes made by any node (this one included).
pub struct Changes {
    pool: sqlx::PgPool,
    listener: Option<sqlx::postgres::PgListener>,
}

/// Longest wait between attempts to listen again after the database went away.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

async fn listen(pool: &sqlx::PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

impl Store {
    /// Listens for changes; `None` for SQLite.
    pub async fn changes(&self) -> Result<Option<Changes>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else {
            return Ok(None);
        };
        Ok(Some(Changes {
            pool: pool.clone(),
            listener: Some(listen(pool).await?),
        }))
    }
}

impl Changes {
    /// The next change. When the connection is lost, this waits for the database (retrying with
    /// backoff, up to 30 s apart) and then returns [`Change::Resync`]: notifications sent
    /// meanwhile were missed.
    pub async fn next(&mut self) -> Change {
        let mut backoff = Duration::from_millis(250);
        loop {
            let Some(listener) = &mut self.listener else {
                match listen(&self.pool).await {
                    Ok(l) => {
                        self.listener = Some(l);
                        tracing::info!("config store notifications back");
                        return Change::Resync;
                    }
                    Err(_) => {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            };
            match listener.try_recv().await {
                Ok(Some(n)) => {
                    let payload = n.payload();
                    if payload == "sessions" {
                        return Change::Sessions;
                    }
                    match payload.strip_prefix("config:").and_then(|r| r.parse().ok()) {
                        Some(revision) => return Change::Config(revision),
                        None => tracing::warn!(payload, "unknown config store notification"),
                    }
                }
                // Lost, and listening again already.
                Ok(None) => return Change::Resync,
                Err(e) => {
                    tracing::warn!(error = %e, "lost the config store's change notifications; reconnecting");
                    self.listener = None;
                }
            }
        }
    }
}
