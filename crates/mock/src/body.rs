//! Response bodies: whole buffers for the hot path, and scripted streams that can pause, wait
//! for a test's release, or cut the connection part-way.

use crate::server::ConnCtl;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::watch;

/// One step of a scripted body.
pub(crate) enum Step {
    /// Emit these bytes as one body frame.
    Frame(Bytes),
    /// The same, adding their length to a tally once they are handed to the server.
    Tallied(Bytes, Arc<AtomicU64>),
    /// Wait before the next step (the per-chunk stream delay).
    Sleep(Duration),
    /// Return `Pending` once, so the server flushes what it has before the next frame: each
    /// frame then reaches the client as its own write, as from a real token stream.
    Yield,
    /// Wait until the release generation exceeds the given one.
    Hold(watch::Receiver<u64>, u64),
    /// Drop the connection once what was sent so far is flushed.
    Cut,
}

type Wait = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The body type of every mock response; one enum so that the hot path (a whole JSON buffer)
/// costs no boxing.
pub(crate) struct MockBody {
    kind: Kind,
}

enum Kind {
    Full(Option<Bytes>),
    Script {
        steps: VecDeque<Step>,
        wait: Option<Wait>,
        ctl: Arc<ConnCtl>,
        stopped: bool,
    },
}

impl MockBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
        }
    }

    pub(crate) fn script(steps: VecDeque<Step>, ctl: Arc<ConnCtl>) -> Self {
        Self {
            kind: Kind::Script {
                steps,
                wait: None,
                ctl,
                stopped: false,
            },
        }
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match &mut self.get_mut().kind {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Script {
                steps,
                wait,
                ctl,
                stopped,
            } => loop {
                if *stopped {
                    // The connection task is about to drop this connection.
                    return Poll::Pending;
                }
                if let Some(w) = wait {
                    if w.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *wait = None;
                }
                match steps.pop_front() {
                    None => return Poll::Ready(None),
                    Some(Step::Frame(b)) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                    Some(Step::Tallied(b, tally)) => {
                        tally.fetch_add(b.len() as u64, Ordering::Relaxed);
                        return Poll::Ready(Some(Ok(Frame::data(b))));
                    }
                    Some(Step::Sleep(d)) => *wait = Some(Box::pin(tokio::time::sleep(d))),
                    Some(Step::Yield) => {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Some(Step::Hold(mut rx, generation)) => {
                        *wait = Some(Box::pin(async move {
                            // An error means the server is gone; then there is nothing to hold.
                            let _ = rx.wait_for(|g| *g > generation).await;
                        }));
                    }
                    Some(Step::Cut) => {
                        *stopped = true;
                        steps.clear();
                        ctl.cut();
                        return Poll::Pending;
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(bytes) => bytes.is_none(),
            Kind::Script { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Script { .. } => SizeHint::default(),
        }
    }
}
