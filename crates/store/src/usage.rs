//! Governance usage saved across restarts: one row per counter (budget spend, rate-limit
//! requests or tokens) with the window it was counted in. The gateway counts in memory and
//! saves in the background; it reads these rows once, at start.

use crate::pool::{counted, with_pool};
use crate::{Store, StoreError};
use sqlx::Row;

/// One counter's usage in the window that began at `window_start` (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The budget or rate-limit id.
    pub counter_id: String,
    /// `budget`, `requests` or `tokens`.
    pub kind: String,
    pub used: i64,
    pub window_start: i64,
}

impl Store {
    /// Saves usage rows in one transaction. Within the same window the larger figure wins, so
    /// a node that restarted with less in memory never lowers what another node saved.
    pub async fn save_usage(&self, rows: &[UsageRow], now_ms: i64) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        counted(rows.len() as u64);
        with_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            for row in rows {
                sqlx::query(
                    "INSERT INTO asbru_governance_usage (counter_id, kind, used, window_start, updated_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (counter_id, kind) DO UPDATE SET \
                     used = CASE WHEN asbru_governance_usage.window_start = excluded.window_start \
                                  AND asbru_governance_usage.used > excluded.used \
                                 THEN asbru_governance_usage.used ELSE excluded.used END, \
                     window_start = excluded.window_start, updated_at = excluded.updated_at",
                )
                .bind(&row.counter_id)
                .bind(&row.kind)
                .bind(row.used)
                .bind(row.window_start)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every saved usage row.
    pub async fn load_usage(&self) -> Result<Vec<UsageRow>, StoreError> {
        counted(1);
        let rows = with_pool!(&self.pool, p => {
            sqlx::query("SELECT counter_id, kind, used, window_start FROM asbru_governance_usage")
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok(UsageRow {
                    counter_id: r.try_get("counter_id")?,
                    kind: r.try_get("kind")?,
                    used: r.try_get("used")?,
                    window_start: r.try_get("window_start")?,
                }))
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }
}
