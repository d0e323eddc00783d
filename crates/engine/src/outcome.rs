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

use crate::context::{AttemptRecord, RequestContext};
use crate::plugin::{Finished, Plugins, RequestBody, ShortCircuit, StreamChunk};
use asbru_schema::{GatewayError, Untrusted, Usage};
use std::cell::Cell;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;

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
    pub(crate) name: Arc<str>,
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

/// Tracks one request from the moment the engine takes it until it is done: its
/// [`RequestContext`], the per-attempt outcome counters, its log line, and its post-hooks —
/// which all happen exactly once, in [`RequestLog::emit`].
#[derive(Debug)]
pub(crate) struct RequestLog {
    /// Boxed: the log lives in every request's future, which is moved as it is polled and
    /// boxed; a pointer keeps that future small.
    pub(crate) ctx: Box<RequestContext>,
    /// The provider of the attempt under way or last made (`None` before the first one).
    provider: Option<Arc<ProviderTelemetry>>,
    /// The attempt under way has not been counted in `asbru_requests_total` yet.
    attempt_open: bool,
    request_type: &'static str,
    outcome: Outcome,
    error: Option<GatewayError>,
    /// `target:status` of each attempt, comma-separated; written only once an attempt failed,
    /// so a request served at the first attempt allocates nothing for it.
    attempts: String,
    /// The line has been written (or this log was handed over to a stream).
    done: bool,
    plugins: Plugins,
    /// How many plugins' pre-hooks ran: their post-hooks run, in reverse.
    plugins_ran: usize,
    overhead: Option<metrics::Histogram>,
}

impl RequestLog {
    /// Starts the request's log; from here on the engine writes the request's line.
    pub(crate) fn new(
        ctx: RequestContext,
        request_type: &'static str,
        plugins: Plugins,
        overhead: Option<metrics::Histogram>,
    ) -> Self {
        // Outside `track_request` (library use, engine tests) nobody else would log anyway.
        let _ = ENGINE_LOGS.try_with(|owned| owned.set(true));
        Self {
            ctx: Box::new(ctx),
            provider: None,
            attempt_open: false,
            request_type,
            outcome: Outcome::Pending,
            error: None,
            attempts: String::new(),
            done: false,
            plugins,
            plugins_ran: 0,
            overhead,
        }
    }

    /// What the request asked for, once its body was read.
    pub(crate) fn set_request(&mut self, model: &str, request_type: &'static str, stream: bool) {
        self.ctx.model_requested.clear();
        self.ctx.model_requested.push_str(model);
        self.request_type = request_type;
        self.ctx.stream = stream;
    }

    pub(crate) fn has_plugins(&self) -> bool {
        !self.plugins.is_empty()
    }

    /// Runs the pre-hooks; their post-hooks will run when the request is over.
    pub(crate) async fn run_pre(&mut self, body: &RequestBody<'_>) -> Option<ShortCircuit> {
        if self.plugins.is_empty() {
            return None;
        }
        let (ran, answer) = self.plugins.run_pre(&mut self.ctx, body).await;
        self.plugins_ran = ran;
        answer
    }

    /// Hands one forwarded stream event to the plugins that follow chunks.
    pub(crate) fn chunk(&mut self, chunk: &StreamChunk<'_>) {
        if self.plugins.wants_chunks() {
            self.plugins
                .run_chunk(self.plugins_ran, &mut self.ctx, chunk);
        }
    }

    /// An attempt at `provider` (its `model`) begins; it is counted when it ends.
    pub(crate) fn begin_attempt(
        &mut self,
        provider: Arc<ProviderTelemetry>,
        model: &str,
        fallback_index: u32,
    ) {
        self.ctx.attempts.push(AttemptRecord::new(
            Arc::clone(&provider.name),
            model,
            fallback_index,
            false,
        ));
        self.provider = Some(provider);
        self.attempt_open = true;
    }

    /// A plugin answers the request for `provider` and `model`: recorded as the request's
    /// attempt, but not counted as one made at the provider (`asbru_requests_total`).
    pub(crate) fn short_circuit_attempt(&mut self, provider: &str, model: &str) {
        self.ctx
            .attempts
            .push(AttemptRecord::new(Arc::from(provider), model, 0, true));
    }

    /// An attempt at `target` failed with `error`: counted against its provider (when it got as
    /// far as one) and listed in the line's `attempts`.
    pub(crate) fn attempt_failed(&mut self, target: &str, error: &GatewayError) {
        if std::mem::take(&mut self.attempt_open)
            && let Some(p) = &self.provider
        {
            p.error.increment(1);
        }
        if let Some(a) = self.ctx.last_attempt_mut()
            && a.status == 0
        {
            a.status = error.status();
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
        if let Some(a) = self.ctx.last_attempt_mut() {
            a.status = 200;
        }
        if !self.attempts.is_empty() {
            self.note_attempt(target, 200);
        }
    }

    /// The provider of the attempt under way or last made; `-` before any.
    pub(crate) fn provider(&self) -> &str {
        self.ctx.last_attempt().map_or("-", |a| a.provider.as_ref())
    }

    pub(crate) fn set_retries(&mut self, retries: u32) {
        if let Some(a) = self.ctx.last_attempt_mut() {
            a.retries = retries;
        }
    }

    pub(crate) fn retries(&self) -> u32 {
        self.ctx.last_attempt().map_or(0, |a| a.retries)
    }

    pub(crate) fn fallback_index(&self) -> u32 {
        self.ctx.last_attempt().map_or(0, |a| a.fallback_index)
    }

    pub(crate) fn set_key(&mut self, key_id: &str, key_name: &str) {
        if let Some(a) = self.ctx.last_attempt_mut()
            && a.key_id.as_deref() != Some(key_id)
        {
            a.key_id = Some(key_id.to_owned());
            a.key_name = Some(key_name.to_owned());
        }
    }

    /// Time spent waiting (for a provider, a queue slot, a retry delay), which is not the
    /// gateway's overhead; `upstream` also counts as the attempt's provider latency.
    pub(crate) fn add_wait(&mut self, waited: std::time::Duration, upstream: bool) {
        self.ctx.timings.waiting += waited;
        if upstream && let Some(a) = self.ctx.last_attempt_mut() {
            a.upstream_latency += waited;
        }
    }

    /// Fixes the overhead up to the answer (the moment it is handed back) and returns it.
    pub(crate) fn answered(&mut self) -> std::time::Duration {
        let overhead = self.ctx.timings.overhead_now();
        self.ctx.timings.overhead_before_answer = Some(overhead);
        overhead
    }

    /// Milliseconds since the gateway received the request.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.ctx.timings.received.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Moves the log into a stream, which writes the line when it ends; `self` is left spent.
    pub(crate) fn hand_over(&mut self) -> Self {
        let ctx = RequestContext::new(
            Arc::from(self.ctx.request_id()),
            self.ctx.operation(),
            self.ctx.route(),
            http::HeaderMap::new(),
            self.ctx.timings,
        );
        let spent = Self {
            ctx: Box::new(ctx),
            provider: None,
            attempt_open: false,
            request_type: self.request_type,
            outcome: self.outcome,
            error: None,
            attempts: String::new(),
            done: true,
            plugins: Plugins::default(),
            plugins_ran: 0,
            overhead: None,
        };
        std::mem::replace(self, spent)
    }

    pub(crate) fn finish_ok(&mut self, usage: Option<Usage>) {
        self.outcome = Outcome::Ok;
        if usage.is_some() {
            self.ctx.usage = usage;
        }
        self.emit(None);
    }

    /// Records the request's failure (its attempts were counted already), writes the line, and
    /// hands the error back for returning.
    pub(crate) fn fail(&mut self, error: GatewayError) -> GatewayError {
        self.outcome = Outcome::Error(error.status());
        self.error = Some(error.clone());
        self.emit(None);
        error
    }

    /// Records a stream's failure after it started (the stream reports health itself).
    pub(crate) fn set_stream_error(&mut self, error: &GatewayError) {
        self.outcome = Outcome::Error(error.status());
        self.error = Some(error.clone());
    }

    /// Logs a stream that ended: its usage and how many chunks (or events) it carried.
    pub(crate) fn finish_stream(&mut self, usage: Option<Usage>, chunks: u64) {
        if self.outcome == Outcome::Pending {
            self.outcome = Outcome::Ok;
        }
        if usage.is_some() {
            self.ctx.usage = usage;
        }
        self.emit(Some(chunks));
    }

    fn emit(&mut self, chunks: Option<u64>) {
        self.done = true;
        let usage = self.ctx.usage.unwrap_or_default();
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
        if let Some(a) = self.ctx.last_attempt_mut()
            && matches!(a.status, 0 | 200)
        {
            a.status = status;
        }
        let overhead = self.ctx.timings.overhead();
        if let Some(h) = &self.overhead {
            h.record(overhead.as_secs_f64());
        }
        let attempt = self.ctx.last_attempt();
        let model = attempt.map_or(self.ctx.model_requested.as_str(), |a| a.model.as_str());
        let key_id = attempt.and_then(|a| a.key_id.as_deref()).unwrap_or("-");
        let retries = attempt.map_or(0, |a| a.retries);
        let fallback_index = attempt.map_or(0, |a| a.fallback_index);
        let overhead_us = u64::try_from(overhead.as_micros()).unwrap_or(u64::MAX);
        let error = self.error.as_ref().map_or("", GatewayError::message);
        // One field list for both levels (`tracing`'s level must be a constant per call site).
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    target: "asbru::request",
                    request_id = %Untrusted(self.ctx.request_id()),
                    provider = %self.provider(),
                    model = %Untrusted(model),
                    request_type = self.request_type,
                    stream = self.ctx.stream,
                    key_id,
                    status,
                    latency_ms,
                    overhead_us,
                    prompt_tokens = usage.prompt_tokens,
                    completion_tokens = usage.completion_tokens,
                    chunks = chunks.unwrap_or(0),
                    retries,
                    fallback_index,
                    attempts = %Untrusted(if self.attempts.is_empty() { "-" } else { &self.attempts }),
                    error = %Untrusted(error),
                    "{outcome}"
                )
            };
        }
        if matches!(self.outcome, Outcome::Error(_)) {
            line!(warn);
        } else {
            line!(info);
        }
        if self.ctx.cost.is_none()
            && let (Some(usage), Some(a)) = (self.ctx.usage, self.ctx.last_attempt())
        {
            self.ctx.cost = asbru_governance::pricing::cost(&a.provider, &a.model, &usage);
        }
        if self.plugins_ran > 0 {
            // Every failure records its error; the fallback only keeps the match total.
            let unrecorded;
            let finished = match (&self.outcome, &self.error) {
                (Outcome::Ok, _) => Finished::Success {
                    usage: self.ctx.usage,
                },
                (Outcome::Error(_), Some(e)) => Finished::Error(e),
                (Outcome::Error(_), None) => {
                    unrecorded = GatewayError::internal("the request failed");
                    Finished::Error(&unrecorded)
                }
                (Outcome::Pending, _) => Finished::ClientClosed,
            };
            self.plugins
                .run_post(self.plugins_ran, &mut self.ctx, &finished);
        }
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        if !self.done {
            self.emit(None);
        }
    }
}
