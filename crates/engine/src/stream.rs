//! Forwarding an upstream SSE stream to the client, event by event.
//!
//! Each piece from the provider is framed into complete events, which are inspected (usage,
//! `[DONE]`), stamped with `extra_fields` and handed on at once — the stream is never buffered to
//! its end. The queue permit travels with the stream and is released when it ends or the client
//! goes away (dropping the stream drops the upstream connection too). A stream that breaks ends
//! with an error event, never with a `[DONE]` the provider did not send.
//!
//! Responses-API streams ([`StreamKind::Responses`]) are typed events without `[DONE]`: they are
//! forwarded unchanged, end with `response.completed` or `response.incomplete`, and a break
//! becomes that API's `error` and `response.failed` events.

use crate::health::{Failure, Health, HealthBoard};
use crate::outcome::RequestLog;
use crate::plugin::StreamChunk;
use crate::queue::QueuePermit;
use asbru_dialects::openai::responses_inspect::{EventInspector, first_event_error};
use asbru_dialects::openai::{ChunkAction, ExtraFields, StreamInspector};
use asbru_dialects::sse::SseFramer;
use asbru_providers::{ByteStream, Redactor};
use asbru_schema::GatewayError;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// The client-facing SSE stream of one request.
pub struct SseStream {
    inner: Pin<Box<dyn Stream<Item = Bytes> + Send>>,
}

impl std::fmt::Debug for SseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SseStream")
    }
}

impl Stream for SseStream {
    type Item = Bytes;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// The API a stream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamKind {
    /// OpenAI chat or text completion chunks; `drop_usage_only_chunk` when the gateway asked
    /// for the usage chunk and the client did not.
    Chunks { drop_usage_only_chunk: bool },
    /// The Responses API's typed events.
    Responses,
}

/// How the events of a stream are followed, by the API it speaks.
enum Inspector {
    Chunks(StreamInspector),
    Responses(EventInspector),
}

impl Inspector {
    fn usage(&self) -> Option<asbru_schema::Usage> {
        match self {
            Self::Chunks(i) => i.usage(),
            Self::Responses(i) => i.usage(),
        }
    }

    fn events(&self) -> u64 {
        match self {
            Self::Chunks(i) => i.chunks(),
            Self::Responses(i) => i.events(),
        }
    }

    /// Whether the stream ended as its API ends a stream, or with the provider's error event.
    fn ended(&self) -> bool {
        match self {
            Self::Chunks(i) => i.saw_done() || i.saw_error(),
            Self::Responses(i) => i.saw_end() || i.saw_error(),
        }
    }
}

/// Everything the forwarding loop owns.
struct State {
    upstream: ByteStream,
    framer: SseFramer,
    inspector: Inspector,
    pending: VecDeque<Bytes>,
    finished: bool,
    request_type: &'static str,
    model_requested: String,
    /// The provider's secrets, removed from any event that quotes one.
    redactor: Redactor,
    log: RequestLog,
    /// Held until the stream ends; `None` for a plugin's answer, which took no slot.
    _permit: Option<QueuePermit>,
    /// Events handed to the client so far.
    forwarded: u64,
    /// The request's line was written and its post-hooks ran.
    logged: bool,
    /// A provider's error event was seen and recorded as the request's outcome.
    provider_error_noted: bool,
    health: Option<StreamHealth>,
    /// When the stream is cut, however lively the provider keeps it.
    deadline: Pin<Box<tokio::time::Sleep>>,
    max_duration: std::time::Duration,
    /// Characters of generated text forwarded while no usage was known (for the estimate a
    /// client that leaves early is charged; see `crate::estimate`).
    generated_chars: u64,
    /// Input tokens estimated from the request sent upstream.
    prompt_tokens_estimate: u64,
}

impl Drop for State {
    /// The client left before the stream ended (its line not written yet): what was generated
    /// so far is still charged. Usage the provider did not report is estimated, so the
    /// request's cost and the budgets' settlement (post-hooks, when the log is dropped right
    /// after) count it; the request is marked `usage_estimated`.
    fn drop(&mut self) {
        if self.logged {
            return;
        }
        let mut usage = self
            .inspector
            .usage()
            .or(self.log.ctx.usage)
            .unwrap_or_default();
        let mut estimated = false;
        if usage.completion_tokens == 0 && self.generated_chars > 0 {
            usage.completion_tokens = crate::estimate::tokens_of(self.generated_chars);
            estimated = true;
        }
        if usage.prompt_tokens == 0 && self.prompt_tokens_estimate > 0 {
            usage.prompt_tokens = self.prompt_tokens_estimate;
            estimated = true;
        }
        if estimated {
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            self.log.ctx.usage = Some(usage);
            self.log.ctx.usage_estimated = true;
            metrics::counter!("asbru_stream_usage_estimated_total").increment(1);
        }
    }
}

/// What the forwarding loop knows of the request it serves.
pub(crate) struct StreamContext {
    pub(crate) kind: StreamKind,
    pub(crate) request_type: &'static str,
    pub(crate) model_requested: String,
    /// Scrubs the provider's secrets from every event.
    pub(crate) redactor: Redactor,
    /// The stream is cut after this long (`--max-stream-duration`).
    pub(crate) max_duration: std::time::Duration,
    /// Where a break after the stream started is reported; `None` for a plugin's stream.
    pub(crate) health: Option<StreamHealth>,
    /// Input tokens estimated from the request body sent upstream (0 for a plugin's stream),
    /// charged if the client leaves before the usage arrives.
    pub(crate) prompt_tokens_estimate: u64,
}

/// The health a committed stream reports to if the provider breaks it.
#[derive(Debug)]
pub(crate) struct StreamHealth {
    pub(crate) board: Arc<HealthBoard>,
    pub(crate) provider: Arc<Health>,
    pub(crate) key: Option<Arc<Health>>,
}

impl StreamHealth {
    /// A provider's mid-stream failure counts against it and, as classified, against the key.
    fn record_failure(&self, error: &GatewayError) {
        let failure = Failure::of(error).unwrap_or(Failure::Transient);
        let now = self.board.now();
        self.provider
            .record_failure(&self.board.policy, Failure::Transient, now);
        if let Some(key) = &self.key {
            key.record_failure(&self.board.policy, failure, now);
        }
    }
}

impl SseStream {
    /// `opened` is the piece [`open_stream`](crate::gateway) already read to commit to the
    /// provider, and the rest of the upstream stream.
    pub(crate) fn forward(
        opened: (Bytes, ByteStream),
        context: StreamContext,
        log: RequestLog,
        permit: Option<QueuePermit>,
    ) -> Self {
        let (first, upstream) = opened;
        let StreamContext {
            kind,
            request_type,
            model_requested,
            redactor,
            max_duration,
            health,
            prompt_tokens_estimate,
        } = context;
        let mut state = State {
            upstream,
            framer: SseFramer::default(),
            inspector: match kind {
                StreamKind::Chunks {
                    drop_usage_only_chunk,
                } => {
                    let price = log
                        .ctx
                        .last_attempt()
                        .and_then(|a| log.price(&a.provider, &a.model));
                    let inspector = StreamInspector::new(drop_usage_only_chunk);
                    Inspector::Chunks(match price {
                        Some(price) => inspector.with_cost(move |u| Some(price.cost(u))),
                        None => inspector,
                    })
                }
                StreamKind::Responses => Inspector::Responses(EventInspector::new()),
            },
            pending: VecDeque::new(),
            finished: false,
            request_type,
            model_requested,
            redactor,
            log,
            _permit: permit,
            forwarded: 0,
            logged: false,
            provider_error_noted: false,
            health,
            deadline: Box::pin(tokio::time::sleep(max_duration)),
            max_duration,
            generated_chars: 0,
            prompt_tokens_estimate,
        };
        state.absorb(&first);
        let inner = futures_util::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(event) = st.pending.pop_front() {
                    // The stream is over once its API's end arrived: finish (log line, metrics,
                    // post-hooks) before handing out the last event, as a client that stops
                    // reading there (a drop-in route after `[DONE]`) never polls again.
                    if st.pending.is_empty() && st.inspector.ended() {
                        st.finished = true;
                    }
                    if st.pending.is_empty() && st.finished {
                        st.finish();
                    }
                    return Some((event, st));
                }
                if st.finished {
                    st.finish();
                    return None;
                }
                tokio::select! {
                    biased;
                    next = st.upstream.next() => match next {
                        Some(Ok(piece)) => st.absorb(&piece),
                        Some(Err(e)) => st.fail(&e),
                        None => st.end(),
                    },
                    () = &mut st.deadline => st.expire(),
                }
            }
        });
        Self {
            inner: Box::pin(inner),
        }
    }

    /// A stream made of fixed events (used by the library API's tests and by callers that
    /// already have the events).
    pub fn from_events(events: Vec<Bytes>) -> Self {
        Self {
            inner: Box::pin(futures_util::stream::iter(events)),
        }
    }
}

impl State {
    /// Frames, inspects and stamps one piece from the provider; the time it takes is the
    /// gateway's own work on the stream.
    fn absorb(&mut self, piece: &[u8]) {
        let started = Instant::now();
        self.frame(piece);
        self.log.ctx.timings.stream_work += started.elapsed();
    }

    fn frame(&mut self, piece: &[u8]) {
        self.framer.push(piece);
        loop {
            match self.framer.next_event() {
                Ok(Some(event)) => {
                    // Before inspection, so nothing downstream (usage, error logging, the
                    // client) sees a secret an error event quoted.
                    let event = if self.redactor.is_match(&event) {
                        metrics::counter!("asbru_stream_events_redacted_total").increment(1);
                        Bytes::from(self.redactor.redact_bytes(&event).into_owned())
                    } else {
                        event
                    };
                    let inspector = match &mut self.inspector {
                        Inspector::Chunks(inspector) => inspector,
                        Inspector::Responses(inspector) => {
                            inspector.inspect(&event);
                            self.note_provider_error(&event);
                            self.hand_on(event);
                            continue;
                        }
                    };
                    let overhead = self.log.ctx.timings.overhead();
                    let extra = ExtraFields {
                        request_type: self.request_type,
                        provider: self.log.provider(),
                        model_requested: &self.model_requested,
                        latency: self.log.elapsed_ms(),
                        chunk_index: None,
                        retries: self.log.retries(),
                        fallback_index: self.log.fallback_index(),
                        overhead_ms: Some(crate::gateway::millis(overhead)),
                        cost: None,
                        routing_rule_id: &self.log.ctx.identity.routing_rule_id,
                        routing_rule_name: &self.log.ctx.identity.routing_rule_name,
                        routing_engines_used: &self.log.ctx.identity.routing_engine,
                    };
                    if let ChunkAction::Forward(bytes) = inspector.inspect(event, &extra) {
                        self.note_provider_error(&bytes);
                        self.hand_on(bytes);
                    }
                }
                Ok(None) => return,
                Err(too_large) => {
                    metrics::counter!("asbru_stream_event_too_large_total").increment(1);
                    self.fail(&GatewayError::upstream_unreachable(format!(
                        "provider '{}' sent a stream event larger than {} bytes",
                        self.log.provider(),
                        too_large.limit
                    )));
                    return;
                }
            }
        }
    }

    /// Writes the request's line and runs its post-hooks, once.
    fn finish(&mut self) {
        if !self.logged {
            self.logged = true;
            self.log
                .finish_stream(self.inspector.usage(), self.inspector.events());
        }
    }

    /// The provider put its own error event in the stream (forwarded to the client as it is):
    /// the request failed, whatever follows. Recorded once, from the first such event.
    fn note_provider_error(&mut self, event: &[u8]) {
        if self.provider_error_noted {
            return;
        }
        let saw = match &self.inspector {
            Inspector::Chunks(i) => i.saw_error(),
            Inspector::Responses(i) => i.saw_error(),
        };
        if !saw {
            return;
        }
        self.provider_error_noted = true;
        let parsed = match &self.inspector {
            Inspector::Chunks(_) => crate::gateway::embedded_error(event),
            Inspector::Responses(_) => first_event_error(event),
        };
        let error = parsed
            .unwrap_or_else(|| {
                GatewayError::upstream_unreachable("the provider reported an error in the stream")
            })
            .with_provider(self.log.provider());
        self.log.set_stream_error(&error);
    }

    /// Queues one event for the client, noting its timing and showing it to the plugins that
    /// follow chunks (with the usage read so far already in the context).
    fn hand_on(&mut self, event: Bytes) {
        let now = Instant::now();
        let timings = &mut self.log.ctx.timings;
        let gap = now.saturating_duration_since(timings.last_chunk.unwrap_or(timings.received));
        timings.first_chunk.get_or_insert(now);
        timings.last_chunk = Some(now);
        if let Some(usage) = self.inspector.usage() {
            self.log.ctx.usage = Some(usage);
        }
        if self.log.ctx.usage.is_none_or(|u| u.completion_tokens == 0) {
            self.generated_chars += crate::estimate::generated_chars(&event);
        }
        self.log.chunk(&StreamChunk {
            event: &event,
            index: self.forwarded,
            gap,
        });
        self.forwarded += 1;
        self.pending.push_back(event);
    }

    fn fail(&mut self, error: &GatewayError) {
        let error = self
            .redactor
            .redact_error(error.clone())
            .with_provider(self.log.provider());
        if let Some(health) = &self.health {
            health.record_failure(&error);
        }
        self.log.set_stream_error(&error);
        let event = match &mut self.inspector {
            Inspector::Chunks(_) => error_event(&error),
            Inspector::Responses(inspector) => inspector.failure(&error),
        };
        self.pending.push_back(event);
        self.finished = true;
    }

    /// Cuts a stream that ran past the gateway's limit. Not the provider's or the key's failure,
    /// so health is left alone; the upstream connection closes when the stream is dropped.
    fn expire(&mut self) {
        metrics::counter!("asbru_streams_cut_total").increment(1);
        let error = GatewayError::upstream_timeout(format!(
            "the stream ran longer than the gateway's limit of {} s (--max-stream-duration)",
            self.max_duration.as_secs()
        ))
        .with_code("max_stream_duration")
        .with_provider(self.log.provider());
        // The gateway's limit, not the provider's failure: health is left alone.
        self.log.set_stream_error(&error);
        let event = match &mut self.inspector {
            Inspector::Chunks(_) => error_event(&error),
            Inspector::Responses(inspector) => inspector.failure(&error),
        };
        self.pending.push_back(event);
        self.finished = true;
    }

    fn end(&mut self) {
        self.finished = true;
        if !self.inspector.ended() {
            let end = match self.inspector {
                Inspector::Chunks(_) => "[DONE]",
                Inspector::Responses(_) => "response.completed",
            };
            let e = GatewayError::upstream_unreachable(format!(
                "provider '{}' ended the stream before sending {end}",
                self.log.provider()
            ))
            .with_code("stream_incomplete");
            self.fail(&e);
        }
    }
}

/// `data: {"error": …}` in the compatibility error shape (Bifrost's `SendSSEError`).
pub(crate) fn error_event(error: &GatewayError) -> Bytes {
    let body = error.to_body();
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&body);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
