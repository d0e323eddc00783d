//! Hot reload: the config file is watched, and re-read on SIGHUP too.
//!
//! A new file is validated exactly as at startup; if it is valid it replaces the gateway's
//! configuration atomically (requests in flight finish on the snapshot they started with), and if
//! it is not, every error is logged with its field path and the running configuration stays.
//! Editors replace files rather than write them in place, so the directory is watched and events
//! are debounced.

use asbru_engine::Gateway;
use notify::Watcher;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes that arrive within this window cause one reload.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Starts reloading `path` on change (when `watch`) and on SIGHUP. The returned guard keeps the
/// file watcher alive; drop it to stop watching.
pub fn start(path: PathBuf, gateway: Arc<Gateway>, watch: bool) -> Option<impl Drop> {
    // Capacity 1: a pending reload already covers every change that follows it.
    let (tx, rx) = mpsc::channel::<()>(1);
    let watcher = if watch {
        watch_file(&path, tx.clone())
    } else {
        None
    };
    tokio::spawn(forward_sighup(tx));
    tokio::spawn(reload_loop(path, gateway, rx));
    watcher
}

fn watch_file(path: &std::path::Path, tx: mpsc::Sender<()>) -> Option<notify::RecommendedWatcher> {
    let name = path.file_name()?.to_owned();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let handler = move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && event
                .paths
                .iter()
                .any(|p| p.file_name() == Some(name.as_os_str()))
            && !event.kind.is_access()
        {
            let _ = tx.try_send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the config file; reload with SIGHUP");
            return None;
        }
    };
    if let Err(e) = watcher.watch(&dir, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the config directory; reload with SIGHUP");
        return None;
    }
    Some(watcher)
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

async fn reload_loop(path: PathBuf, gateway: Arc<Gateway>, mut rx: mpsc::Receiver<()>) {
    while rx.recv().await.is_some() {
        tokio::time::sleep(DEBOUNCE).await;
        while rx.try_recv().is_ok() {}
        reload_once(&path, &gateway);
    }
}

fn reload_once(path: &std::path::Path, gateway: &Gateway) {
    let loaded = match asbru_config::load_file(path, &|var| std::env::var(var).ok()) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(config = %path.display(), "configuration not reloaded, keeping the running one: {e}");
            return;
        }
    };
    let notices = loaded.notices.len();
    match gateway.reload(loaded.config) {
        Ok(()) => tracing::info!(
            config = %path.display(),
            providers = %gateway.provider_names().join(","),
            notices,
            "configuration reloaded"
        ),
        Err(e) => tracing::error!(
            config = %path.display(),
            "configuration not reloaded, keeping the running one: {}",
            e.message()
        ),
    }
}
