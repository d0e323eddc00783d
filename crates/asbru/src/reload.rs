//! Hot reload: the config file is watched, and re-read on SIGHUP too.
//!
//! A new file is validated exactly as at startup; if it is valid it replaces the gateway's
//! configuration atomically (requests in flight finish on the snapshot they started with), and if
//! it is not, every error is logged with its field path and the running configuration stays.
//!
//! The file itself is watched, not its directory: a directory also holds log files and editor
//! swap files, and watching their writes (and logging about them) fed on itself. Editors and
//! config tools replace a file rather than write it in place, which ends the watch on the old
//! file; so after each change the watch is set again on whatever file now has the path, and then
//! the file is reloaded. Events are debounced.

use asbru_control::Control;
use notify::Watcher;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes that arrive within this window cause one reload.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Starts reloading `path` on change (when `watch`) and on SIGHUP. The returned guard keeps the
/// file watcher alive; drop it to stop watching.
pub fn start(path: PathBuf, control: Arc<Control>, watch: bool) -> Option<WatchGuard> {
    // Capacity 1: a pending reload already covers every change that follows it.
    let (tx, rx) = mpsc::channel::<()>(1);
    let watcher = if watch {
        watch_file(&path, tx.clone())
    } else {
        None
    };
    let background = control.gateway().background().clone();
    background.spawn_until_shutdown(forward_sighup(tx));
    background.spawn_until_shutdown(reload_loop(path, control, rx));
    watcher
}

/// Raw change notifications kept at most; one pending is enough to cause a reload.
const EVENT_QUEUE: usize = 8;

/// How long a replaced file may take to appear again under its path before the watch is given up.
const REAPPEAR_WAIT: Duration = Duration::from_secs(2);

/// Watches `path` and sends on `tx` after each change. The returned guard stops the watching
/// task when dropped.
fn watch_file(path: &std::path::Path, tx: mpsc::Sender<()>) -> Option<WatchGuard> {
    let (events_tx, events) = mpsc::channel::<()>(EVENT_QUEUE);
    let handler = move |event: notify::Result<notify::Event>| {
        // Reading the file (as a reload does) is an access event: it must not cause a reload.
        if let Ok(event) = event
            && !event.kind.is_access()
        {
            let _ = events_tx.try_send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
            return None;
        }
    };
    if let Err(e) = watcher.watch(path, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, config = %path.display(), "cannot watch the config file; reload with SIGHUP");
        return None;
    }
    // Its own handle, aborted by the guard: the watch ends with the guard, not with shutdown.
    #[expect(
        clippy::disallowed_methods,
        reason = "owned and aborted by the WatchGuard"
    )]
    let task = tokio::spawn(follow_file(path.to_owned(), watcher, events, tx));
    Some(WatchGuard(task))
}

/// Stops the watching task (and with it the watcher) when dropped.
pub struct WatchGuard(tokio::task::JoinHandle<()>);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// After each change: sets the watch again on the file that now has the path (a replaced file
/// is a new one), then asks for a reload.
async fn follow_file(
    path: PathBuf,
    mut watcher: notify::RecommendedWatcher,
    mut events: mpsc::Receiver<()>,
    reload: mpsc::Sender<()>,
) {
    while events.recv().await.is_some() {
        tokio::time::sleep(DEBOUNCE).await;
        while events.try_recv().is_ok() {}
        let _ = watcher.unwatch(&path);
        let started = std::time::Instant::now();
        loop {
            match watcher.watch(&path, notify::RecursiveMode::NonRecursive) {
                Ok(()) => break,
                Err(_) if started.elapsed() < REAPPEAR_WAIT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, config = %path.display(), "the config file is gone; no longer watching it (reload with SIGHUP)");
                    return;
                }
            }
        }
        let _ = reload.try_send(());
    }
}

async fn forward_sighup(tx: mpsc::Sender<()>) {
    #[cfg(unix)]
    {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangup.recv().await.is_some() {
            let _ = tx.try_send(());
        }
    }
    #[cfg(not(unix))]
    drop(tx);
}

async fn reload_loop(path: PathBuf, control: Arc<Control>, mut rx: mpsc::Receiver<()>) {
    while rx.recv().await.is_some() {
        tokio::time::sleep(DEBOUNCE).await;
        while rx.try_recv().is_ok() {}
        reload_once(&path, &control).await;
    }
}

/// Validates the file alone first (so its own errors are reported with its paths), then hands
/// it to the control plane: with a config store, its changed entries are seeded and the store
/// served; without one, the file is served.
async fn reload_once(path: &std::path::Path, control: &Control) {
    let loaded = match asbru_config::load_file(path, &|var| std::env::var(var).ok()) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(config = %path.display(), "configuration not reloaded, keeping the running one: {e}");
            return;
        }
    };
    let file = match std::fs::read_to_string(path).ok().and_then(|t| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
            t.trim_start_matches('\u{feff}'),
        )
        .ok()
    }) {
        Some(f) => f,
        None => {
            tracing::error!(config = %path.display(), "configuration not reloaded: the file changed while being read");
            return;
        }
    };
    let notices = loaded.notices.len();
    match control.file_changed(&file).await {
        Ok(()) => tracing::info!(
            config = %path.display(),
            providers = %control.gateway().provider_names().join(","),
            notices,
            "configuration reloaded"
        ),
        Err(e) => tracing::error!(
            config = %path.display(),
            "configuration not reloaded, keeping the running one: {e}"
        ),
    }
}
