//! Governance usage that survives a restart: saved from the gateway's counters into the config
//! store in the background, and put back once at start, before requests are taken.
//!
//! Nothing here runs on a request's path: the counters live in memory (or Redis), and a save
//! writes only the counters that moved since the last one.

use crate::Control;
use asbru_governance::counters::{CounterKind, CounterRef};
use asbru_store::UsageRow;
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

/// How often usage is saved while the gateway runs (and once more at shutdown).
pub const SAVE_EVERY: Duration = Duration::from_secs(10);

impl Control {
    /// Puts back the usage saved before a restart into the counters the configuration defines
    /// (usage of a window that has ended since is dropped: it has reset).
    pub async fn restore_usage(&self) {
        let Some(store) = &self.store else { return };
        let rows = match store.load_usage().await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "could not read saved governance usage; counting from zero");
                return;
            }
        };
        let limits = self.gateway.governance_limits();
        for row in rows {
            let (Some(kind), Ok(used), Ok(start)) = (
                CounterKind::from_key(&row.kind),
                u64::try_from(row.used),
                jiff::Timestamp::from_second(row.window_start),
            ) else {
                continue;
            };
            let counter = CounterRef {
                id: row.counter_id,
                kind,
            };
            limits.restore(&counter, used, start);
        }
    }

    /// Brings the counters' usage up to date with every node's (counters shared through
    /// Redis) before the admin API shows it.
    pub async fn refresh_usage(&self) {
        self.gateway.governance_limits().pull_shared_usage().await;
    }

    /// Saves usage every [`SAVE_EVERY`] until `shutdown` resolves, then once more.
    pub async fn save_usage_until(&self, shutdown: impl Future<Output = ()>) {
        if self.store.is_none() {
            return;
        }
        tokio::pin!(shutdown);
        let mut saved = HashMap::new();
        let mut every = tokio::time::interval(SAVE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = every.tick() => self.save_usage(&mut saved).await,
            }
        }
        self.save_usage(&mut saved).await;
    }

    /// Writes the counters whose usage or window changed since `saved` (updated on success).
    async fn save_usage(&self, saved: &mut HashMap<CounterRef, (u64, i64)>) {
        let Some(store) = &self.store else { return };
        let changed: Vec<(CounterRef, (u64, i64))> = self
            .gateway
            .governance_limits()
            .snapshots()
            .into_iter()
            .map(|(r, s)| (r, (s.used, s.window_start.as_second())))
            .filter(|(r, now)| saved.get(r) != Some(now))
            .filter(|(r, (used, _))| *used > 0 || saved.contains_key(r))
            .collect();
        if changed.is_empty() {
            return;
        }
        let rows: Vec<UsageRow> = changed
            .iter()
            .map(|(r, (used, start))| UsageRow {
                counter_id: r.id.clone(),
                kind: r.kind.key().to_owned(),
                used: i64::try_from(*used).unwrap_or(i64::MAX),
                window_start: *start,
            })
            .collect();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        match store.save_usage(&rows, now_ms).await {
            Ok(()) => saved.extend(changed),
            Err(e) => tracing::warn!(error = %e, "could not save governance usage; retrying"),
        }
    }
}
