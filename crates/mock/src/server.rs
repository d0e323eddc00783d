//! The accept loop and per-connection tasks.
//!
//! The mock runs its own accept loop instead of a framework's so that a request handler can
//! reach down to its TCP connection: the `Reset` and `StreamCut` faults must kill the
//! connection itself, which no HTTP-level response can do.

use crate::handler;
use crate::state::Shared;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a cut connection keeps being driven before it is dropped, so that the frames written
/// just before the cut are flushed to the socket first (with HTTP/2 the body is polled on another
/// task, so ordering alone cannot guarantee that).
const CUT_GRACE: Duration = Duration::from_millis(15);

/// Lets the request handlers of one connection ask its task to kill it.
#[derive(Default)]
pub(crate) struct ConnCtl {
    reset: AtomicBool,
    kill: Notify,
}

impl ConnCtl {
    /// Abort the connection with a TCP reset and without flushing anything more.
    pub(crate) fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        self.kill.notify_one();
    }

    /// Close the connection once what was written so far is flushed.
    pub(crate) fn cut(&self) {
        self.kill.notify_one();
    }
}

/// The TCP stream, wrapped so that dropping it after a `Reset` fault sends an RST (via
/// `SO_LINGER` 0) instead of an orderly FIN.
struct MockIo {
    stream: TcpStream,
    ctl: Arc<ConnCtl>,
}

impl Drop for MockIo {
    fn drop(&mut self) {
        if self.ctl.reset.load(Ordering::SeqCst) {
            // Best effort: if this fails the peer still sees the connection close.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for MockIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for MockIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Accepts connections until cancelled, serving each on its own tracked task.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Usually out of file descriptors; back off instead of spinning.
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(10)) => continue,
                }
            }
        };
        // Best effort: Nagle only adds latency to small responses.
        let _ = stream.set_nodelay(true);
        tracker.spawn(serve_connection(
            stream,
            Arc::clone(&shared),
            Arc::clone(&builder),
            cancel.clone(),
        ));
    }
}

/// Decrements the open-connection count when the connection task ends, however it ends.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    cancel: CancellationToken,
) {
    shared.open_connections.fetch_add(1, Ordering::SeqCst);
    let _guard = OpenGuard(Arc::clone(&shared));
    let ctl = Arc::new(ConnCtl::default());
    let io = TokioIo::new(MockIo {
        stream,
        ctl: Arc::clone(&ctl),
    });
    let svc_ctl = Arc::clone(&ctl);
    let service = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        let ctl = Arc::clone(&svc_ctl);
        async move { Ok::<_, Infallible>(handler::handle(shared, ctl, req).await) }
    });
    let mut conn = pin!(builder.serve_connection(io, service));
    tokio::select! {
        biased;
        () = cancel.cancelled() => {}
        // An error here is the client going away or speaking garbage; nothing to report.
        _ = conn.as_mut() => {}
        () = ctl.kill.notified() => {
            if !ctl.reset.load(Ordering::SeqCst) {
                let _ = tokio::time::timeout(CUT_GRACE, conn.as_mut()).await;
            }
        }
    }
}
