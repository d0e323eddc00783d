//! The one log line each request the engine serves produces when it ends, and the outcome metric
//! of each attempt at a provider.
//!
//! A [`RequestLog`] is created when [`Gateway::handle_openai`](crate::Gateway::handle_openai)
//! takes a request and travels with it through every attempt (primary model, then fallbacks) and
//! into the stream if there is one. Each attempt at a provider bumps that provider's
//! `asbru_requests_total{provider,outcome}`; the request writes its `asbru::request` line exactly
//! once — when the response is complete, when the last attempt failed, or, if the client went
//! away first, when it is dropped. Failures are logged at WARN, everything else (success, client
//! gone) at INFO.
//!
//! Requests that never reach the engine (refused by the transport: unknown route, not JSON, too
//! large, host or origin not allowed) are logged by the transport's guard, which asks
//! [`engine_took_request`] whether the engine took the request's line over.

use crate::health::{Failure, Health, HealthBoard};
use asbru_schema::{GatewayError, Untrusted, Usage};
use std::cell::Cell;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

tokio::task_local! {
    /// Set to true, inside [`track_request`], once the engine owns the request's log line.
    static ENGINE_LOGS: Cell<bool>;
}

/// Runs `serve` (one HTTP request) in a scope where [`engine_took_request`] tells whether the
/// engine took the request's `asbru::request` line over.
pub async fn track_request<F: Future>(serve: F) -> F::Output {
    ENGINE_LOGS.scope(Cell::new(false), serve).await
}

/// Inside [`track_request`] (also while its future is dropped): whether the engine took the
/// request, and so writes its line (at once, or when the stream it returned ends); when it did
/// not, the caller writes the line. `false` outside.
pub fn engine_took_request() -> bool {
    ENGINE_LOGS.try_with(Cell::get).unwrap_or(false)
}

/// A provider's name and outcome counters, registered once when the config is loaded so that a
/// request only bumps an atomic instead of looking its metric up by labels.
#[derive(Debug)]
pub(crate) struct ProviderTelemetry {
    name: Arc<str>,
    success: metrics::Counter,
    error: metrics::Counter,
    client_closed: metrics::Counter,
}

impl ProviderTelemetry {
    pub(crate) fn new(name: &str) -> Self {
        let counter = |outcome: &'static str| metrics::counter!("asbru_requests_total", "provider" => name.to_owned(), "outcome" => outcome);
        Self {
            name: Arc::from(name),
            success: counter("success"),
            error: counter("error"),
            client_closed: counter("client_closed"),
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pending,
    Ok,
    Error(u16),
}

/// Tracks one request from the moment the engine takes it until it is done.
#[derive(Debug)]
pub(crate) struct RequestLog {
    /// The provider of the attempt under way or last made (`None` before the first one).
    provider: Option<Arc<ProviderTelemetry>>,
    /// The attempt under way has not been counted in `asbru_requests_total` yet.
    attempt_open: bool,
    model: String,
    request_type: &'static str,
    key_id: Option<String>,
    started: Instant,
    outcome: Outcome,
    error: Option<String>,
    stream: bool,
    /// Failed tries of the current attempt that were retried.
    retries: u32,
    /// Position in the request's `fallbacks` of the model being tried (0 = primary).
    fallback_index: u32,
    /// `target:status` of each attempt, comma-separated; written only once an attempt failed,
    /// so a request served at the first attempt allocates nothing for it.
    attempts: String,
    /// The line has been written (or this log was handed over to a stream).
    done: bool,
    /// Where a stream that breaks after it started reports the failure.
    health: Option<StreamHealth>,
}

/// The health a committed stream reports to if it breaks.
#[derive(Debug)]
struct StreamHealth {
    board: Arc<HealthBoard>,
    provider: Arc<Health>,
    key: Option<Arc<Health>>,
}

impl RequestLog {
    /// Starts the request's log; from here on the engine writes the request's line.
    pub(crate) fn new(request_type: &'static str, started: Instant) -> Self {
        // Outside `track_request` (library use, engine tests) nobody else would log anyway.
        let _ = ENGINE_LOGS.try_with(|owned| owned.set(true));
        Self {
            provider: None,
            attempt_open: false,
            model: String::new(),
            request_type,
            key_id: None,
            started,
            outcome: Outcome::Pending,
            error: None,
            stream: false,
            retries: 0,
            fallback_index: 0,
            attempts: String::new(),
            done: false,
            health: None,
        }
    }

    /// What the request asked for, once its body was read.
    pub(crate) fn set_request(&mut self, model: &str, request_type: &'static str, stream: bool) {
        self.set_model(model);
        self.request_type = request_type;
        self.stream = stream;
    }

    fn set_model(&mut self, model: &str) {
        self.model.clear();
        self.model.push_str(model);
    }

    /// An attempt at `provider` (its `model`) begins; it is counted when it ends.
    pub(crate) fn begin_attempt(
        &mut self,
        provider: Arc<ProviderTelemetry>,
        model: &str,
        fallback_index: u32,
    ) {
        self.provider = Some(provider);
        self.attempt_open = true;
        self.set_model(model);
        self.key_id = None;
        self.retries = 0;
        self.fallback_index = fallback_index;
    }

    /// An attempt at `target` failed with `error`: counted against its provider (when it got as
    /// far as one) and listed in the line's `attempts`.
    pub(crate) fn attempt_failed(&mut self, target: &str, error: &GatewayError) {
        if std::mem::take(&mut self.attempt_open)
            && let Some(p) = &self.provider
        {
            p.error.increment(1);
        }
        self.note_attempt(target, error.status());
    }

    fn note_attempt(&mut self, target: &str, status: u16) {
        if !self.attempts.is_empty() {
            self.attempts.push(',');
        }
        let _ = write!(self.attempts, "{target}:{status}");
    }

    /// The answering attempt's target, listed after the failed ones (nothing when none failed).
    pub(crate) fn note_answering(&mut self, target: &str) {
        if !self.attempts.is_empty() {
            self.note_attempt(target, 200);
        }
    }

    pub(crate) fn provider(&self) -> &str {
        self.provider.as_ref().map_or("-", |p| &p.name)
    }

    pub(crate) fn set_retries(&mut self, retries: u32) {
        self.retries = retries;
    }

    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    pub(crate) fn fallback_index(&self) -> u32 {
        self.fallback_index
    }

    pub(crate) fn set_key(&mut self, key_id: &str) {
        self.key_id = Some(key_id.to_owned());
    }

    /// Milliseconds since the gateway received the request.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Moves the log into a stream, which writes the line when it ends; `self` is left spent.
    pub(crate) fn hand_over(&mut self) -> Self {
        let spent = Self {
            provider: None,
            attempt_open: false,
            model: String::new(),
            request_type: self.request_type,
            key_id: None,
            started: self.started,
            outcome: self.outcome,
            error: None,
            stream: self.stream,
            retries: 0,
            fallback_index: 0,
            attempts: String::new(),
            done: true,
            health: None,
        };
        std::mem::replace(self, spent)
    }

    pub(crate) fn finish_ok(&mut self, usage: Option<Usage>) {
        self.outcome = Outcome::Ok;
        self.emit(usage, None);
    }

    /// Records the request's failure (its attempts were counted already), writes the line, and
    /// hands the error back for returning.
    pub(crate) fn fail(&mut self, error: GatewayError) -> GatewayError {
        self.outcome = Outcome::Error(error.status());
        self.error = Some(error.message().to_owned());
        self.emit(None, None);
        error
    }
    /// Makes a stream's mid-way failure count against its provider's and key's health.
    pub(crate) fn watch_health(
        &mut self,
        board: Arc<HealthBoard>,
        provider: Arc<Health>,
        key: Option<Arc<Health>>,
    ) {
        self.health = Some(StreamHealth {
            board,
            provider,
            key,
        });
    }

    pub(crate) fn set_stream_error(&mut self, error: &GatewayError) {
        self.outcome = Outcome::Error(error.status());
        self.error = Some(error.message().to_owned());
        if let Some(h) = &self.health {
            let failure = Failure::of(error).unwrap_or(Failure::Transient);
            let now = h.board.now();
            h.provider
                .record_failure(&h.board.policy, Failure::Transient, now);
            if let Some(key) = &h.key {
                key.record_failure(&h.board.policy, failure, now);
            }
        }
    }

    /// Records a stream the gateway cut (its maximum duration), without blaming the provider.
    pub(crate) fn set_stream_cut(&mut self, error: &GatewayError) {
        self.outcome = Outcome::Error(error.status());
        self.error = Some(error.message().to_owned());
    }

    /// Logs a stream that ended: its usage and how many chunks (or events) it carried.
    pub(crate) fn finish_stream(&mut self, usage: Option<Usage>, chunks: u64) {
        if self.outcome == Outcome::Pending {
            self.outcome = Outcome::Ok;
        }
        self.emit(usage, Some(chunks));
    }

    fn emit(&mut self, usage: Option<Usage>, chunks: Option<u64>) {
        let usage = usage.unwrap_or_default();
        let latency_ms = self.elapsed_ms();
        let (status, outcome) = match self.outcome {
            Outcome::Ok => (200, "success"),
            Outcome::Error(s) => (s, "error"),
            Outcome::Pending => (499, "client_closed"),
        };
        if std::mem::take(&mut self.attempt_open)
            && let Some(p) = &self.provider
        {
            match self.outcome {
                Outcome::Ok => p.success.increment(1),
                Outcome::Error(_) => p.error.increment(1),
                Outcome::Pending => p.client_closed.increment(1),
            }
        }
        // One field list for both levels (`tracing`'s level must be a constant per call site).
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    target: "asbru::request",
                    provider = %self.provider(),
                    model = %Untrusted(&self.model),
                    request_type = self.request_type,
                    stream = self.stream,
                    key_id = self.key_id.as_deref().unwrap_or("-"),
                    status,
                    latency_ms,
                    prompt_tokens = usage.prompt_tokens,
                    completion_tokens = usage.completion_tokens,
                    chunks = chunks.unwrap_or(0),
                    retries = self.retries,
                    fallback_index = self.fallback_index,
                    attempts = %Untrusted(if self.attempts.is_empty() { "-" } else { &self.attempts }),
                    error = %Untrusted(self.error.as_deref().unwrap_or("")),
                    "{outcome}"
                )
            };
        }
        if matches!(self.outcome, Outcome::Error(_)) {
            line!(warn);
        } else {
            line!(info);
        }
        self.done = true;
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        if !self.done {
            self.emit(None, None);
        }
    }
}
