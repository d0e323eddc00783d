//! Admin sessions, shared by every node on the store. Only a SHA-256 hash of each token is kept,
//! so the table gives no one a way in. The gateway checks sessions against its own copy in
//! memory (refreshed on login, logout and a peer's notification), never against the database on
//! a request.

use crate::document::PG_NOTIFY;
use crate::pool::{counted, with_pool};
use crate::{Store, StoreError};
use sqlx::Row;

/// Most sessions kept: past it, each login ends the session that would end soonest, so logins
/// cannot grow the table (or any node's memory) without bound.
pub const MAX_SESSIONS: usize = 10_000;

/// A live session: its token's hash and when it ends (ms since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub expires_at_ms: i64,
}

impl Store {
    /// Records a new session and tells the other nodes; beyond `cap` sessions, the ones that
    /// would end soonest are ended ([`MAX_SESSIONS`] in production).
    pub async fn create_session(
        &self,
        session: &Session,
        now_ms: i64,
        cap: usize,
    ) -> Result<(), StoreError> {
        counted(2);
        with_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO asbru_sessions (token_hash, created_at, expires_at) VALUES ($1, $2, $3)")
                .bind(&session.token_hash)
                .bind(now_ms)
                .bind(session.expires_at_ms)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM asbru_sessions WHERE expires_at < \
                 (SELECT expires_at FROM asbru_sessions ORDER BY expires_at DESC LIMIT 1 OFFSET $1)",
            )
            .bind(i64::try_from(cap).unwrap_or(i64::MAX).saturating_sub(1))
            .execute(&mut *tx)
            .await?;
            if self.pool.is_postgres() {
                sqlx::query(PG_NOTIFY).bind("sessions").execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Ends one session (logout).
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        counted(1);
        with_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM asbru_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut *tx)
                .await?;
            if self.pool.is_postgres() {
                sqlx::query(PG_NOTIFY).bind("sessions").execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Ends every session (the admin credentials changed).
    pub async fn delete_all_sessions(&self) -> Result<(), StoreError> {
        counted(1);
        with_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM asbru_sessions").execute(&mut *tx).await?;
            if self.pool.is_postgres() {
                sqlx::query(PG_NOTIFY).bind("sessions").execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Sessions that have not ended at `now_ms`; ended ones are removed on the way.
    pub async fn live_sessions(&self, now_ms: i64) -> Result<Vec<Session>, StoreError> {
        counted(2);
        let rows = with_pool!(&self.pool, p => {
            sqlx::query("DELETE FROM asbru_sessions WHERE expires_at <= $1")
                .bind(now_ms)
                .execute(p)
                .await?;
            sqlx::query("SELECT token_hash, expires_at FROM asbru_sessions")
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok(Session { token_hash: r.try_get("token_hash")?, expires_at_ms: r.try_get("expires_at")? }))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }
}
