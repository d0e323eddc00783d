//! The one place background work is started, so shutdown can wait for it.
//!
//! Work a request leaves behind (a log record to write, a counter to flush) and the gateway's
//! own loops (config reload) run as tasks of [`Background`]. At shutdown, [`Background::drain`]
//! stops the loops and waits — up to the drain deadline — for the rest to finish, so nothing
//! accepted is lost on a clean stop. `tokio::spawn` elsewhere is refused by the lint
//! configuration (`clippy.toml`), except where a task is drained by other means (connections).

use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Tracks the gateway's background tasks.
#[derive(Debug, Clone, Default)]
pub struct Background {
    tracker: TaskTracker,
    stopping: CancellationToken,
}

impl Background {
    /// Runs `work` to completion; shutdown waits for it (within the drain deadline).
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Detached: the tracker, not the handle, is what shutdown waits on.
        drop(self.tracker.spawn(work));
    }

    /// Runs `work`, a loop with no natural end, until shutdown begins.
    pub fn spawn_until_shutdown<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stopping = self.stopping.clone();
        self.spawn(async move {
            tokio::select! {
                () = stopping.cancelled() => {}
                () = work => {}
            }
        });
    }

    /// Tasks still running.
    /// Resolves when shutdown begins: for work that must finish its own way (write what it
    /// holds) rather than be cancelled, spawned with [`Background::spawn`].
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        self.stopping.clone().cancelled_owned()
    }

    pub fn running(&self) -> usize {
        self.tracker.len()
    }

    /// Stops the loops, then waits up to `deadline` for every task; returns how many were
    /// still running when it gave up (0: all done). Spawning after this still works, but the
    /// task is not waited for.
    pub async fn drain(&self, deadline: Duration) -> usize {
        self.stopping.cancel();
        self.tracker.close();
        if tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_err()
        {
            let left = self.tracker.len();
            metrics::counter!("asbru_background_tasks_abandoned_total").increment(left as u64);
            tracing::warn!(
                tasks = left,
                "background work still running at the drain deadline"
            );
            return left;
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::Background;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_work_and_stops_loops() {
        let background = Background::default();
        let done = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&done);
        background.spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            flag.store(true, Ordering::SeqCst);
        });
        background.spawn_until_shutdown(std::future::pending());
        assert_eq!(background.running(), 2);
        assert_eq!(background.drain(Duration::from_secs(5)).await, 0);
        assert!(
            done.load(Ordering::SeqCst),
            "the work finished before drain returned"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn drain_gives_up_at_the_deadline_and_says_how_many_are_left() {
        let background = Background::default();
        background.spawn(tokio::time::sleep(Duration::from_secs(60)));
        assert_eq!(background.drain(Duration::from_secs(1)).await, 1);
    }
}
