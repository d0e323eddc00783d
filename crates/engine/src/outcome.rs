//! The one log line (and outcome metric) each request produces when it ends.
//!
//! A [`RequestLog`] is created when a request is routed to a provider and travels with it, into
//! the stream if there is one; it writes its line exactly once — when the response is complete,
//! when it fails, or, if the client went away first, when it is dropped.

use crate::health::{Failure, Health, HealthBoard};
use asbru_schema::{GatewayError, Untrusted, Usage};
use std::sync::Arc;
use std::time::Instant;

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

/// Tracks one routed request until it is done.
#[derive(Debug)]
pub(crate) struct RequestLog {
    provider: Arc<ProviderTelemetry>,
    model: String,
    request_type: &'static str,
    key_id: Option<String>,
    started: Instant,
    outcome: Outcome,
    error: Option<String>,
    stream: bool,
    /// Failed attempts that were retried.
    retries: u32,
    /// Position in the request's `fallbacks` of the model being tried (0 = primary).
    fallback_index: u32,
    /// The line has been written.
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
    pub(crate) fn new(
        provider: Arc<ProviderTelemetry>,
        model: &str,
        request_type: &'static str,
        stream: bool,
        started: Instant,
    ) -> Self {
        Self {
            provider,
            model: model.to_owned(),
            request_type,
            key_id: None,
            started,
            outcome: Outcome::Pending,
            error: None,
            stream,
            retries: 0,
            fallback_index: 0,
            done: false,
            health: None,
        }
    }

    pub(crate) fn provider(&self) -> &str {
        &self.provider.name
    }

    pub(crate) fn set_retries(&mut self, retries: u32) {
        self.retries = retries;
    }

    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    pub(crate) fn set_fallback_index(&mut self, index: u32) {
        self.fallback_index = index;
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

    pub(crate) fn finish_ok(&mut self, usage: Option<Usage>) {
        self.outcome = Outcome::Ok;
        self.emit(usage, None);
    }

    /// Records the failure, writes the line, and hands the error back for returning.
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
        let (status, outcome, counter) = match self.outcome {
            Outcome::Ok => (200, "success", &self.provider.success),
            Outcome::Error(s) => (s, "error", &self.provider.error),
            Outcome::Pending => (499, "client_closed", &self.provider.client_closed),
        };
        counter.increment(1);
        tracing::info!(
            target: "asbru::request",
            provider = %self.provider.name,
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
            error = %Untrusted(self.error.as_deref().unwrap_or("")),
            "{outcome}"
        );
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
