//! The [`RequestContext`]: what the engine knows about one request, from the moment it takes it
//! until its post-hooks have run — shared by the pipeline, its log line and every plugin.

use asbru_providers::Operation;
use asbru_schema::Usage;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request as the engine and its plugins see it.
#[derive(Debug)]
pub struct RequestContext {
    request_id: Arc<str>,
    operation: Operation,
    route: Route,
    headers: http::HeaderMap,
    /// The model as the request named it (`provider/model`, or bare on a drop-in route).
    pub model_requested: String,
    pub stream: bool,
    /// Who is calling: filled by governance (virtual key, team, customer); empty until then.
    pub identity: Identity,
    /// Each target tried, in order; the last one answered or failed last.
    pub attempts: Vec<AttemptRecord>,
    /// The final usage (from the answer, or a stream's last usage event).
    pub usage: Option<Usage>,
    /// What the request cost, in USD, once a plugin or the price list has worked it out.
    pub cost: Option<f64>,
    /// `usage` (and so `cost`) is the gateway's estimate, not the provider's count: the client
    /// left a stream before its final usage arrived (see `stream.rs`).
    pub usage_estimated: bool,
    pub timings: Timings,
    /// Typed values plugins leave for their own later hooks or for each other.
    pub extensions: http::Extensions,
    /// The primary target's configured provider and where its model starts in
    /// `model_requested` (set by the engine before the pre-hooks).
    primary: Option<(Arc<str>, usize)>,
    /// The body's `fallbacks` (set by the engine before the pre-hooks).
    requested_fallbacks: Vec<String>,
    /// Where a pre-hook sent the request instead ([`RequestContext::route_to`]).
    routed: Option<Routing>,
}

/// A target a pre-hook sends the request to: a configured provider, the model as that provider
/// names it, and optionally one of the provider's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTarget {
    pub provider: String,
    pub model: String,
    /// Pins this provider key (by id) for the target, as `x-bf-api-key-id` does for the primary.
    pub key_id: Option<String>,
}

impl RouteTarget {
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            model: model.into(),
            key_id: None,
        }
    }

    /// `provider/model`, the form the engine resolves targets from (the bare model when no
    /// provider is named: a drop-in route then gives it its own).
    pub fn name(&self) -> String {
        if self.provider.is_empty() {
            self.model.clone()
        } else {
            format!("{}/{}", self.provider, self.model)
        }
    }
}

/// The targets a pre-hook chose for the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routing {
    /// Tried first, in place of the body's `model`.
    pub primary: RouteTarget,
    /// Tried in order when the primary fails; `None` keeps the body's `fallbacks`.
    pub fallbacks: Option<Vec<RouteTarget>>,
}

/// Where a request entered the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The route's path pattern (`/v1/chat/completions`, `/anthropic/v1/messages`); `""` for
    /// the library API.
    pub path: &'static str,
    /// The client's API: `openai`, `anthropic`, `genai`, `bedrock`, `cohere`, `responses`, or
    /// `library`.
    pub dialect: &'static str,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            path: "",
            dialect: "library",
        }
    }
}

/// The caller's identity, as governance establishes it. Every field is empty until then; the
/// metrics' `virtual_key_*`, `team_*` and `customer_*` labels come from here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Identity {
    pub virtual_key_id: String,
    pub virtual_key_name: String,
    pub team_id: String,
    pub team_name: String,
    pub customer_id: String,
    pub customer_name: String,
    /// The routing rule that chose the target, when one did.
    pub routing_rule_id: String,
    pub routing_rule_name: String,
    /// Which routing engines decided (`governance`, `routing_rule`, …), comma-separated.
    pub routing_engine: String,
}

impl Identity {
    /// No caller identified (the case until governance fills it).
    pub fn is_empty(&self) -> bool {
        [
            &self.virtual_key_id,
            &self.virtual_key_name,
            &self.team_id,
            &self.team_name,
            &self.customer_id,
            &self.customer_name,
            &self.routing_rule_id,
            &self.routing_rule_name,
            &self.routing_engine,
        ]
        .iter()
        .all(|s| s.is_empty())
    }
}

/// One target the request tried.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub provider: Arc<str>,
    pub model: String,
    /// The key used by the last try (`None`: keyless provider, or none chosen yet).
    pub key_id: Option<String>,
    pub key_name: Option<String>,
    /// 0 for the primary model, n for the n-th fallback.
    pub fallback_index: u32,
    /// Tries that failed and were retried.
    pub retries: u32,
    /// Time spent waiting for the provider over every try (until the answer's first piece,
    /// for a stream).
    pub upstream_latency: Duration,
    /// The attempt's outcome: 0 while under way, 200 when it answered, else the error's status.
    pub status: u16,
    /// Answered by a plugin's short-circuit rather than by the provider.
    pub short_circuit: bool,
}

impl AttemptRecord {
    /// An attempt beginning: no key chosen, nothing retried or waited for yet.
    pub(crate) fn new(
        provider: Arc<str>,
        model: &str,
        fallback_index: u32,
        short_circuit: bool,
    ) -> Self {
        Self {
            provider,
            model: model.to_owned(),
            key_id: None,
            key_name: None,
            fallback_index,
            retries: 0,
            upstream_latency: Duration::ZERO,
            status: 0,
            short_circuit,
        }
    }
}

/// When things happened, for latencies and the gateway's own overhead.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// When the gateway received the request (before its body was read).
    pub received: Instant,
    /// Time spent reading the body from the client (the client's time, not the gateway's).
    pub client_wait: Duration,
    /// Time spent waiting for providers, for a queue slot, and between retries.
    pub waiting: Duration,
    /// When the first event of a stream was forwarded.
    pub first_chunk: Option<Instant>,
    /// When the last event of a stream was forwarded.
    pub last_chunk: Option<Instant>,
    /// The gateway's own time spent on a stream's events (framing, inspecting, stamping).
    pub stream_work: Duration,
    /// The gateway's overhead up to the moment the answer (or the stream) was handed back.
    pub overhead_before_answer: Option<Duration>,
}

impl Timings {
    pub fn new(received: Instant) -> Self {
        Self {
            received,
            client_wait: Duration::ZERO,
            waiting: Duration::ZERO,
            first_chunk: None,
            last_chunk: None,
            stream_work: Duration::ZERO,
            overhead_before_answer: None,
        }
    }

    /// The gateway's own time so far: everything since the request arrived except reading its
    /// body and waiting for providers, queues and retry delays.
    pub fn overhead_now(&self) -> Duration {
        self.received
            .elapsed()
            .saturating_sub(self.client_wait)
            .saturating_sub(self.waiting)
    }

    /// The gateway's own time for the whole request: up to the answer, plus the work on each
    /// event of a stream (the time between events is the provider's and the client's).
    pub fn overhead(&self) -> Duration {
        self.overhead_before_answer
            .unwrap_or_else(|| self.overhead_now())
            + self.stream_work
    }
}

impl RequestContext {
    pub(crate) fn new(
        request_id: Arc<str>,
        operation: Operation,
        route: Route,
        headers: http::HeaderMap,
        timings: Timings,
    ) -> Self {
        Self {
            request_id,
            operation,
            route,
            headers,
            model_requested: String::new(),
            stream: false,
            identity: Identity::default(),
            attempts: Vec::new(),
            usage: None,
            cost: None,
            usage_estimated: false,
            timings,
            extensions: http::Extensions::new(),
            primary: None,
            requested_fallbacks: Vec::new(),
            routed: None,
        }
    }

    /// The request's id: the client's `x-request-id`, or one the gateway made; returned to the
    /// client as `x-request-id`.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn operation(&self) -> Operation {
        self.operation
    }

    pub fn route(&self) -> Route {
        self.route
    }

    /// A request header some plugin declared it reads ([`crate::Plugin::headers`]); `None` for
    /// headers no plugin declared, even if the client sent them.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The declared headers the client sent.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.headers
    }

    /// The request's primary target as the engine resolves it — a configured provider and the
    /// model as that provider names it: `openai/gpt-4o` → (`openai`, `gpt-4o`); a bare model on
    /// a drop-in route → (the route's provider, the model). `None` when the model names no
    /// configured provider (the request then fails at its first target).
    ///
    /// Once a pre-hook has routed the request ([`RequestContext::route_to`]), its primary.
    pub fn primary_target(&self) -> Option<(&str, &str)> {
        if let Some(routed) = &self.routed {
            return Some((&routed.primary.provider, &routed.primary.model));
        }
        let (provider, start) = self.primary.as_ref()?;
        Some((provider, self.model_requested.get(*start..)?))
    }

    /// Whether the client named the primary target's provider (`openai/gpt-4o`) rather than a
    /// bare model (`gpt-4o`, which a drop-in route gives its own provider, and `/v1` none).
    pub fn provider_requested(&self) -> bool {
        self.primary.as_ref().is_some_and(|(_, start)| *start > 0)
    }

    pub(crate) fn set_primary_target(&mut self, provider: Arc<str>, model_start: usize) {
        self.primary = Some((provider, model_start));
    }

    /// The body's `fallbacks`, as the client sent them.
    pub fn requested_fallbacks(&self) -> &[String] {
        &self.requested_fallbacks
    }

    pub(crate) fn set_requested_fallbacks(&mut self, fallbacks: &[String]) {
        self.requested_fallbacks = fallbacks.to_vec();
    }

    /// Sends the request to `primary` instead of the body's model, then to `fallbacks` (`None`
    /// keeps the body's). For pre-hooks that route (governance's routing rules and virtual-key
    /// load balancing); a later pre-hook's call replaces an earlier one's. The engine tries
    /// these targets exactly as it would the body's, every [`crate::TargetGuard`] included;
    /// a target naming no configured provider fails like an unknown `provider/` would.
    pub fn route_to(&mut self, primary: RouteTarget, fallbacks: Option<Vec<RouteTarget>>) {
        self.routed = Some(Routing { primary, fallbacks });
    }

    /// Where a pre-hook routed the request, if one did.
    pub fn routing(&self) -> Option<&Routing> {
        self.routed.as_ref()
    }

    /// The attempt that answered, or the last one tried.
    pub fn last_attempt(&self) -> Option<&AttemptRecord> {
        self.attempts.last()
    }

    pub(crate) fn last_attempt_mut(&mut self) -> Option<&mut AttemptRecord> {
        self.attempts.last_mut()
    }
}
