//! The accept loop: HTTP/1.1 and HTTP/2 on one port, with graceful shutdown.
//!
//! axum's own `serve` is deliberately minimal; a gateway needs header-read timeouts, TCP_NODELAY
//! and h2 keep-alive pings for long streams, so connections are served with hyper-util directly.
//!
//! Connections are bounded: at most `max_connections` are open at once (past that a new one gets
//! a 503 and is closed at once, counted in `asbru_connections_rejected_total`), and a connection
//! that sends nothing within `header_read_timeout` is closed — hyper's own header timeout only
//! starts once the first bytes arrive (they decide between HTTP/1 and HTTP/2), so a silent
//! connection would otherwise stay open forever.

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Tuning of the listener.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long a client may take to send request headers before the connection is closed.
    pub header_read_timeout: Duration,
    /// How long in-flight requests and streams may run on after shutdown starts.
    pub drain_timeout: Duration,
    /// Client connections open at once; past it new ones are answered 503 and closed.
    pub max_connections: usize,
}

/// Default bound on open client connections (`--max-connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// What a connection over the limit is told before it is closed.
fn over_capacity() -> Vec<u8> {
    let body = r#"{"error":{"message":"the gateway has too many open connections; retry shortly","type":"server_error","code":"too_many_connections"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\n\
         retry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Accept failures (out of file descriptors, …) are logged at most this often.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// (up to `drain_timeout`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(20))
        .adaptive_window(true);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let header_read_timeout = options.header_read_timeout;
    let mut last_accept_error_log: Option<Instant> = None;
    // Tells connections still waiting for their first byte that shutdown started: they hold a
    // graceful-shutdown watcher, which would otherwise keep the drain waiting on them.
    let (stopping, stop) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok((stream, peer)) => (stream, peer),
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning,
                        // and say so once in a while rather than on every try.
                        metrics::counter!("asbru_accept_errors_total").increment(1);
                        if last_accept_error_log
                            .is_none_or(|t| t.elapsed() >= ACCEPT_ERROR_LOG_INTERVAL)
                        {
                            last_accept_error_log = Some(Instant::now());
                            tracing::warn!(error = %e, "accept failed (logged at most every 5 s; see asbru_accept_errors_total)");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    shed(&stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                metrics::gauge!("asbru_connections_open").increment(1.0);
                let builder = builder.clone();
                // Whether the client is on this machine: the admin API without admin auth
                // answers only such clients.
                let loopback = crate::state::LoopbackPeer(peer.ip().to_canonical().is_loopback());
                let service = TowerToHyperService::new(router.clone().map_request(
                    move |mut request: http::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(loopback);
                        request
                    },
                ));
                let watcher = graceful.watcher();
                let mut stop = stop.clone();
                #[expect(clippy::disallowed_methods, reason = "connections are drained by the graceful shutdown below")]
                tokio::spawn(async move {
                    let _slot = slot;
                    let started = tokio::select! {
                        started = first_bytes(&stream, header_read_timeout) => started,
                        _ = stop.wait_for(|stopping| *stopping) => false,
                    };
                    if started {
                        let connection = builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service);
                        if let Err(e) = watcher.watch(connection.into_owned()).await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    }
                    metrics::gauge!("asbru_connections_open").decrement(1.0);
                });
            }
            () = &mut shutdown => break,
        }
    }
    let _ = stopping.send(true);
    drop(listener);
    if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {}s of draining; closing them",
            options.drain_timeout.as_secs()
        );
    }
}

/// Waits for the connection's first byte; `false` (and the connection is to be closed) when
/// none comes within `timeout` or the peer closed.
async fn first_bytes(stream: &TcpStream, timeout: Duration) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut byte)).await {
        Ok(Ok(n)) => n > 0,
        Ok(Err(_)) => false,
        Err(_) => {
            metrics::counter!("asbru_connections_timed_out_total").increment(1);
            false
        }
    }
}

/// Answers a connection over the limit with a 503 and closes it, without waiting on it: the
/// answer is one small write into an empty socket buffer, and a client that cannot take it
/// just sees the connection closed.
fn shed(stream: &TcpStream) {
    metrics::counter!("asbru_connections_rejected_total").increment(1);
    let _ = stream.try_write(&over_capacity());
}
