//! The [`Gateway`]: the provider registry and the request pipeline.

use crate::context::{RequestContext, Route, Timings};
use crate::health::{
    Clock, Failure, Health, HealthBoard, HealthPolicy, HealthSnapshot, SystemClock, key_factors,
};
use crate::keys::{KeyChoice, KeyPin, KeySet};
use crate::outcome::{ProviderTelemetry, RequestLog};
use crate::plugin::{Answer, Plugin, Plugins, RequestBody, ShortCircuit, TargetLimits};
use crate::queue::ProviderQueue;
use crate::retry::RetryPolicy;
use crate::sessions::SessionStore;
use crate::stream::{SseStream, StreamContext, StreamHealth, StreamKind};
use arc_swap::ArcSwap;
use asbru_config::{ClientConfig, Config, KeyConfig, ProviderConfig};
use asbru_dialects::openai::responses_inspect::first_event_error;
use asbru_dialects::openai::{
    ExtraFields, MalformedResponse, RequestView, RewriteOptions, append_extra_fields,
    check_response, check_responses_answer,
};
use asbru_governance::counters::Limits;
use asbru_providers::ByteStream;
use asbru_providers::{Adapter, OpenAiFacing, Operation, Redactor, ResponseLimits};
use asbru_schema::{Attempt, GatewayError, ModelRef, Untrusted, Usage};
use bytes::Bytes;
use futures_util::StreamExt;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The gateway engine: everything between a parsed HTTP request and the provider.
///
/// Built from a validated [`Config`]; cheap to share (`Arc<Gateway>`). The configuration lives in
/// an atomically swappable snapshot so that a reload never disturbs requests in flight: each
/// request takes the snapshot once and finishes on it.
#[derive(Debug)]
pub struct Gateway {
    state: ArcSwap<Registry>,
    /// Outlives reloads: a session keeps its key across a config change while the key exists.
    sessions: SessionStore,
    /// Outlives reloads too: a reload does not forget which keys are failing.
    health: Arc<HealthBoard>,
    /// Outlives reloads too: every snapshot's adapters share one budget of buffered answers.
    limits: ResponseLimits,
    rng: Arc<KeyRng>,
    max_stream_duration: Duration,
    /// Plugins given from Rust ([`GatewayOptions::plugins`]); they outlive reloads and run
    /// after the built-in plugins the config enables.
    user_plugins: Vec<Arc<dyn Plugin>>,
    /// Work that outlives the request that started it; drained at shutdown.
    background: crate::Background,
    /// Governance's rate-limit counters: they outlive reloads, keeping their usage.
    governance: Arc<Limits>,
    /// The model price list: outlives reloads; refreshed from `framework.pricing.pricing_url`.
    prices: Arc<crate::pricing::PriceList>,
    /// Stops the price list's refresh loop when the gateway is dropped (a library embedding that
    /// drops gateways without draining them leaves no loop behind).
    _price_sync: tokio_util::sync::DropGuard,
}

/// How a [`Gateway`] tracks health and draws its random choices; the defaults are for
/// production, tests replace the clock and seed the randomness to replay decisions exactly.
#[derive(Clone, Default)]
pub struct GatewayOptions {
    pub health: HealthPolicy,
    /// `None`: the system's monotonic clock.
    pub clock: Option<Arc<dyn Clock>>,
    /// `None`: a thread-local generator seeded from the OS.
    pub seed: Option<u64>,
    /// Longest a streamed answer may run; `None`: [`DEFAULT_MAX_STREAM_DURATION`].
    pub max_stream_duration: Option<Duration>,
    /// The largest non-streaming answer read from a provider, in bytes (`asbru serve
    /// --max-upstream-response-mb`); `None`: [`asbru_providers::DEFAULT_MAX_RESPONSE_BYTES`].
    pub max_upstream_response_bytes: Option<usize>,
    /// The most bytes of providers' answers buffered at once over all requests (`asbru serve
    /// --max-buffered-upstream-mb`); `None`: [`asbru_providers::DEFAULT_MAX_BUFFERED_BYTES`].
    pub max_buffered_upstream_bytes: Option<usize>,
    /// Plugins of the program embedding the engine, run after the built-in ones (in this order;
    /// see [`Plugin`]).
    pub plugins: Vec<Arc<dyn Plugin>>,
    /// The clock of governance's rate-limit windows; `None`: the system clock.
    pub governance_clock: Option<Arc<dyn asbru_governance::counters::Clock>>,
    /// Redis through which budgets and rate limits are shared with other nodes (an asbru
    /// extension); `None` counts on this node alone. Its writer
    /// ([`asbru_governance::shared::RedisCounters::run`]) is the caller's to run.
    pub governance_redis: Option<Arc<asbru_governance::shared::RedisCounters>>,
    /// Time between price list downloads, replacing `framework.pricing.pricing_sync_interval`
    /// (whose minimum is an hour); for tests.
    pub pricing_sync_interval: Option<Duration>,
}

impl std::fmt::Debug for GatewayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayOptions")
            .field("health", &self.health)
            .field("seed", &self.seed)
            .field("max_stream_duration", &self.max_stream_duration)
            .field(
                "plugins",
                &self.plugins.iter().map(|p| p.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A stream still open after this long ends with an error event: keep-alive comments must not
/// hold a stream and its queue slot forever, and an hour is well past the longest generations.
pub const DEFAULT_MAX_STREAM_DURATION: Duration = Duration::from_secs(3600);

/// The source of key-choice randomness (and of the governance plugin's routing draws).
#[derive(Debug)]
pub(crate) enum KeyRng {
    Thread,
    Seeded(Mutex<SmallRng>),
}

impl KeyRng {
    fn with<T>(&self, f: impl FnOnce(&mut dyn RngCore) -> T) -> T {
        match self {
            KeyRng::Thread => f(&mut rand::rng()),
            KeyRng::Seeded(rng) => f(&mut *rng.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// A uniform draw in `[0, 1)`, for plugins that choose by weight.
    pub(crate) fn draw(self: &Arc<Self>) -> crate::builtin::Draw {
        let rng = Arc::clone(self);
        Arc::new(move || rng.with(|r| rand::Rng::random::<f64>(r)))
    }
}

/// One configuration's worth of providers, ready to serve.
#[derive(Debug)]
struct Registry {
    client: ClientConfig,
    providers: Vec<Arc<ProviderEntry>>,
    by_name: HashMap<String, usize>,
    /// The built-in plugins this config enables, then the user's.
    plugins: Plugins,
    /// `asbru_overhead_seconds`, resolved once per snapshot.
    overhead: metrics::Histogram,
    /// The custom metric labels when telemetry is on (for the transport's HTTP metrics).
    telemetry_labels: Option<Arc<[String]>>,
    /// The governance plugin, also asked about requests that run no plugins (model lists).
    governance: Option<Arc<crate::builtin::GovernancePlugin>>,
    /// Prices this snapshot's requests: the price list under its providers' overrides.
    pricer: crate::pricing::Pricer,
    /// `framework.pricing` of this snapshot.
    pricing: asbru_config::PricingConfig,
}

#[derive(Debug)]
struct ProviderEntry {
    config: ProviderConfig,
    adapter: Adapter,
    /// Shared with the previous snapshot when a reload left its settings unchanged.
    queue: Arc<ProviderQueue>,
    retry: RetryPolicy,
    telemetry: Arc<ProviderTelemetry>,
    health: Arc<Health>,
    /// One per `config.keys` entry, same order.
    key_health: Vec<Arc<Health>>,
    /// Every secret of this provider, removed from its errors and stream events before they
    /// are logged or reach the client, whatever the adapter already scrubbed.
    redactor: Redactor,
}

/// `provider/model` when the prefix is a configured provider; otherwise, on a drop-in route,
/// the whole name is a model of the route's provider (so `meta-llama/Llama-3` on `/openai/…`
/// is an `openai` model).
fn resolve_target<'a>(
    registry: &Registry,
    target: &'a str,
    route_provider: Option<&'static str>,
) -> Option<ModelRef<'a>> {
    match (ModelRef::parse(target), route_provider) {
        (Some(r), Some(route)) if registry.get(r.provider).is_err() => Some(ModelRef {
            provider: route,
            model: target,
        }),
        (Some(r), _) => Some(r),
        (None, Some(route)) if !target.is_empty() => Some(ModelRef {
            provider: route,
            model: target,
        }),
        (None, _) => None,
    }
}

/// Per-request facts that come from outside the body (headers, arrival time).
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// `x-bf-api-key-id` / `x-bf-api-key`.
    pub pin: KeyPin,
    /// `x-bf-session-id` and its lifetime (`x-bf-session-ttl`).
    pub session: Option<(String, std::time::Duration)>,
    /// When the gateway received the request; latencies are measured from here.
    pub received: Instant,
    /// Headers to send to the provider (`x-bf-eh-*`, `anthropic-beta`), already filtered by
    /// [`Gateway::forwarded_headers`].
    pub forward: http::HeaderMap,
    /// The provider of a model named without a configured `provider/` prefix: set by drop-in
    /// routes (`/anthropic/…` → `anthropic`), as Bifrost infers it from the route; `None` on
    /// `/v1`, where such a model is a 400.
    pub route_provider: Option<&'static str>,
    /// Top-level fields of the drop-in route's own dialect in the (unified) body — Anthropic's
    /// `top_k`, Bedrock's `guardrailConfig`: kept for translating providers, which map those
    /// they know, and left out for providers that take the OpenAI body as it is, which would
    /// refuse them.
    pub dialect_fields: Vec<String>,
    /// The client's `x-request-id` or one the transport made; `None`: the engine makes one.
    pub request_id: Option<Arc<str>>,
    /// The route and client dialect the request came in by.
    pub route: Route,
    /// The request headers some plugin reads ([`Gateway::plugin_headers`]).
    pub plugin_headers: http::HeaderMap,
    /// Time spent reading the body from the client: not the gateway's overhead.
    pub client_wait: Duration,
}

impl Default for RequestMeta {
    fn default() -> Self {
        Self {
            pin: KeyPin::default(),
            session: None,
            received: Instant::now(),
            forward: http::HeaderMap::new(),
            route_provider: None,
            dialect_fields: Vec::new(),
            request_id: None,
            route: Route::default(),
            plugin_headers: http::HeaderMap::new(),
            client_wait: Duration::ZERO,
        }
    }
}

/// A new request id: a random (version 4) UUID.
pub fn new_request_id() -> Arc<str> {
    Arc::from(uuid::Uuid::new_v4().to_string())
}

/// A successful answer.
#[derive(Debug)]
pub enum GatewayResponse {
    /// A complete JSON body, `extra_fields` included.
    Json {
        body: Bytes,
        provider: String,
        usage: Option<Usage>,
    },
    /// SSE events to send as they come.
    Stream { stream: SseStream, provider: String },
}

impl Gateway {
    /// Builds every provider's adapter and queue. Fails only on settings that make a provider
    /// unusable (a missing required `base_url`, a header that is not valid HTTP).
    pub fn new(config: Config) -> Result<Self, GatewayError> {
        Self::with_options(config, GatewayOptions::default())
    }

    /// [`Gateway::new`] with a chosen clock, seed and health policy.
    pub fn with_options(config: Config, options: GatewayOptions) -> Result<Self, GatewayError> {
        let clock = options.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let health = Arc::new(HealthBoard::new(options.health, clock));
        let limit = |value: Option<usize>, default: usize, name: &str| match value {
            Some(0) => Err(GatewayError::internal(format!(
                "{name} must be at least 1 byte"
            ))),
            other => Ok(other.unwrap_or(default)),
        };
        let limits = ResponseLimits::new(
            limit(
                options.max_upstream_response_bytes,
                asbru_providers::DEFAULT_MAX_RESPONSE_BYTES,
                "max_upstream_response_bytes",
            )?,
            limit(
                options.max_buffered_upstream_bytes,
                asbru_providers::DEFAULT_MAX_BUFFERED_BYTES,
                "max_buffered_upstream_bytes",
            )?,
        );
        let user_plugins = options.plugins;
        let governance_clock = options
            .governance_clock
            .unwrap_or_else(|| Arc::new(asbru_governance::counters::SystemClock));
        let governance = Arc::new(match options.governance_redis {
            Some(remote) => Limits::shared(governance_clock, remote),
            None => Limits::new(governance_clock),
        });
        let prices = Arc::new(crate::pricing::PriceList::new(config.pricing.clone()));
        let rng = Arc::new(match options.seed {
            Some(seed) => KeyRng::Seeded(Mutex::new(SmallRng::seed_from_u64(seed))),
            None => KeyRng::Thread,
        });
        let registry = Registry::build(
            config,
            &health,
            &limits,
            None,
            &user_plugins,
            (&governance, &rng),
            &prices,
        )?;
        if let Some(plugin) = &registry.governance {
            plugin.load_counters();
        }
        let background = crate::Background::default();
        // The price list is fetched by a loop of the gateway's own, stopped at shutdown or when
        // the gateway is dropped; a gateway built outside a runtime (`config check`, some
        // library uses) keeps the built-in prices.
        let price_sync = tokio_util::sync::CancellationToken::new();
        if tokio::runtime::Handle::try_current().is_ok() {
            background.spawn_until_shutdown(crate::pricing::sync_loop(
                Arc::clone(&prices),
                options.pricing_sync_interval,
                price_sync.clone(),
            ));
        }
        Ok(Self {
            state: ArcSwap::from_pointee(registry),
            governance,
            prices,
            _price_sync: price_sync.drop_guard(),
            user_plugins,
            background,
            sessions: SessionStore::default(),
            health,
            limits,
            rng,
            max_stream_duration: options
                .max_stream_duration
                .unwrap_or(DEFAULT_MAX_STREAM_DURATION),
        })
    }

    /// Swaps in a new configuration atomically. Requests already running finish on the snapshot
    /// they started with (their queue permits included); new requests use the new one. Nothing
    /// changes if building the new providers fails.
    pub fn reload(&self, config: Config) -> Result<(), GatewayError> {
        let prepared = self.prepare(config)?;
        self.install(prepared);
        Ok(())
    }

    /// Builds everything a new configuration needs (provider clients, queues, plugins) without
    /// serving it yet: a change that cannot be served fails here, before it is written anywhere.
    pub fn prepare(&self, config: Config) -> Result<Prepared, GatewayError> {
        let registry = Registry::build(
            config,
            &self.health,
            &self.limits,
            Some(&self.state.load()),
            &self.user_plugins,
            (&self.governance, &self.rng),
            &self.prices,
        )?;
        Ok(Prepared(Arc::new(registry)))
    }

    /// Serves a prepared configuration from now on; requests in flight finish on the old one.
    pub fn install(&self, prepared: Prepared) {
        if let Some(governance) = &prepared.0.governance {
            governance.load_counters();
        }
        self.prices.set_source(&prepared.0.pricing);
        self.state.store(prepared.0);
    }

    /// The gateway's background tasks: spawn work that outlives a request here, and drain it at
    /// shutdown.
    pub fn background(&self) -> &crate::Background {
        &self.background
    }

    /// The budgets' and rate limits' counters, which outlive config reloads (for reports and
    /// for saving usage across restarts).
    pub fn governance_limits(&self) -> &Arc<Limits> {
        &self.governance
    }

    /// The limits on providers' buffered answers, and the budget all requests share (for
    /// metrics and tests: [`ResponseLimits::buffered_bytes`]).
    pub fn response_limits(&self) -> &ResponseLimits {
        &self.limits
    }

    /// The model price list in force (built in, or the last one downloaded).
    pub fn price_list(&self) -> &crate::pricing::PriceList {
        &self.prices
    }

    /// Settings of the `client` section in force now.
    pub fn client_config(&self) -> ClientConfig {
        self.state.load().client.clone()
    }

    /// `client.max_request_body_size_mb`, in bytes.
    pub fn max_request_body_bytes(&self) -> usize {
        self.state.load().client.max_request_body_size_bytes
    }

    /// The headers of a client request that go on to the provider, under the current
    /// `client.header_filter_config` (see [`crate::forwarded_headers`]).
    pub fn forwarded_headers(&self, inbound: &http::HeaderMap) -> http::HeaderMap {
        crate::forward::forwarded_headers(inbound, &self.state.load().client.header_filter)
    }

    /// The request headers some plugin reads, to go in [`RequestMeta::plugin_headers`] (an empty
    /// map, without copying anything, when no plugin reads any).
    pub fn plugin_headers(&self, inbound: &http::HeaderMap) -> http::HeaderMap {
        self.state.load().plugins.select_headers(inbound)
    }

    /// When the telemetry plugin is on: the custom labels every request metric carries (valued
    /// by `x-bf-prom-<label>`), for the HTTP metrics the transport records. `None`: telemetry
    /// is off, and so are the HTTP metrics.
    pub fn telemetry_labels(&self) -> Option<Arc<[String]>> {
        self.state.load().telemetry_labels.clone()
    }

    /// The names of the plugins in force, in the order their pre-hooks run.
    pub fn plugin_names(&self) -> Vec<String> {
        let registry = self.state.load();
        registry
            .plugins
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Names of the configured providers, in config order.
    pub fn provider_names(&self) -> Vec<String> {
        self.state
            .load()
            .providers
            .iter()
            .map(|p| p.config.name.clone())
            .collect()
    }

    /// The models the configuration names (its keys' `models` lists), with the ids of the keys
    /// that may serve each: `(provider, model, key ids)`, in provider order then by model.
    pub fn configured_models(&self) -> Vec<(String, String, Vec<String>)> {
        let state = self.state.load();
        let mut out = Vec::new();
        for p in &state.providers {
            let mut models: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
            for key in &p.config.keys {
                for model in &key.models {
                    models.entry(model).or_default().push(key.id.clone());
                }
            }
            out.extend(
                models
                    .into_iter()
                    .map(|(m, keys)| (p.config.name.clone(), m.to_owned(), keys)),
            );
        }
        out
    }

    /// Requests each provider's queue holds right now (in flight plus waiting), for metrics.
    pub fn queue_admitted(&self) -> Vec<(String, usize)> {
        self.state
            .load()
            .providers
            .iter()
            .map(|p| (p.config.name.clone(), p.queue.admitted()))
            .collect()
    }

    /// Serves one OpenAI-dialect request (`body` as the client sent it).
    ///
    /// The pipeline, in order (each step may end the request with its error):
    /// 1. read `model`, `stream`, `fallbacks` from the body without parsing the rest (400);
    /// 2. split `model` into provider and model (400 if not `provider/model`);
    /// 3. find the provider in the snapshot (400 if unknown; 501 if it has no adapter yet; 400 if
    ///    the operation is not offered by it or not allowed by `custom_provider_config`);
    /// 4. choose the key: pinned by header, else weighted random among those allowing the model
    ///    (400 if none) — keyless providers skip this;
    /// 5. take a slot in the provider's queue (429 at once if full and dropping, else a bounded
    ///    wait, 503 when it runs out);
    /// 6. rewrite the body for the provider (`model` replaced, gateway fields dropped) and send,
    ///    retrying retryable failures per `network_config` (a stream counts as sent once its
    ///    first piece arrived);
    /// 7. answer: JSON checked and stamped with `extra_fields`, or a stream forwarded event by
    ///    event holding the queue slot until it ends.
    ///
    /// Steps 2–7 form one attempt; when the primary's fails, each of the request's `fallbacks` is
    /// attempted in order, and the primary's error (listing every attempt) is returned if none
    /// succeeds.
    pub async fn handle_openai(
        &self,
        op: Operation,
        body: &[u8],
        mut meta: RequestMeta,
    ) -> Result<GatewayResponse, GatewayError> {
        let registry = self.state.load_full();
        let mut log = start_log(&registry, op, &mut meta);
        let view = match RequestView::parse(body) {
            Ok(view) => view,
            Err(e) => return Err(log.fail(e)),
        };
        log.set_request(
            view.model(),
            op.response_type(view.is_stream()),
            view.is_stream(),
        );
        if view.is_stream() && matches!(op, Operation::Embedding | Operation::Rerank) {
            let what = if op == Operation::Rerank {
                "rerank requests"
            } else {
                "embeddings"
            };
            return Err(log.fail(GatewayError::invalid_request(
                format!("{what} cannot be streamed"),
                Some("stream"),
            )));
        }
        let fallbacks = view.fallbacks();

        // Pre-hooks: a plugin may answer the request itself, or route it elsewhere.
        let mut primary_answered = None;
        if log.has_plugins() {
            if let Some(target) = resolve_target(&registry, view.model(), meta.route_provider)
                && let Ok(entry) = registry.get(target.provider)
            {
                let model_start = view.model().len() - target.model.len();
                log.ctx
                    .set_primary_target(Arc::clone(&entry.telemetry.name), model_start);
            }
            log.ctx.set_requested_fallbacks(fallbacks);
        }
        let short = log.run_pre(&RequestBody::new(body)).await;
        // The targets in order with the key each pins: the body's, unless a pre-hook routed the
        // request (only then is the list allocated).
        let routed: Vec<(String, Option<KeyPin>)> = match log.ctx.routing() {
            None => Vec::new(),
            Some(routing) => {
                let pinned = |t: &crate::context::RouteTarget| {
                    let pin = t.key_id.as_ref().map(|id| KeyPin {
                        id: Some(id.clone()),
                        name: None,
                    });
                    (t.name(), pin)
                };
                let mut list = vec![pinned(&routing.primary)];
                match &routing.fallbacks {
                    Some(chosen) => list.extend(chosen.iter().map(pinned)),
                    None => list.extend(fallbacks.iter().map(|f| (f.clone(), None))),
                }
                list
            }
        };
        let last = if routed.is_empty() {
            fallbacks.len()
        } else {
            routed.len() - 1
        };
        if let Some(short) = short {
            match self.short_circuit(op, &view, short, &mut log).await {
                Ok(answered) => return answered,
                Err(error) if last > 0 => primary_answered = Some(error),
                Err(error) => {
                    log.attempt_failed(view.model(), &error);
                    return Err(log.fail(error));
                }
            }
        }

        let targets: Vec<(&str, Option<&KeyPin>)> = if routed.is_empty() {
            std::iter::once(view.model())
                .chain(fallbacks.iter().map(String::as_str))
                .map(|t| (t, None))
                .collect()
        } else {
            routed
                .iter()
                .map(|(t, pin)| (t.as_str(), pin.as_ref()))
                .collect()
        };
        // Listed in the error only when there were fallbacks: no allocation otherwise.
        let mut attempts = Vec::new();
        let mut primary_error = None;
        for (index, (target, pin)) in targets.into_iter().enumerate() {
            let fallback_index = u32::try_from(index).unwrap_or(u32::MAX);
            // A provider whose circuit is open is skipped while another target remains; the
            // last one is always tried, so an open circuit never turns a request away alone.
            let result = if index == 0
                && let Some(error) = primary_answered.take()
            {
                Err(error)
            } else if index < last
                && let Some(open) = self.circuit_open(&registry, target, meta.route_provider)
            {
                Err(open)
            } else {
                let target = Target {
                    name: target,
                    fallback_index,
                    pin,
                };
                self.attempt(&registry, op, &view, target, &meta, &mut log)
                    .await
            };
            match result {
                Ok(response) => return Ok(response),
                Err(e) => {
                    log.attempt_failed(target, &e);
                    if last > 0 {
                        attempts.push(attempt_outcome(target, &e));
                    }
                    primary_error.get_or_insert(e);
                }
            }
        }
        let mut error = primary_error.unwrap_or_else(|| GatewayError::internal("no target tried"));
        if last > 0 {
            error = error.with_attempts(attempts);
        }
        Err(log.fail(error))
    }

    /// The error a target gets when its provider is taken out, or `None` when it may be tried.
    fn circuit_open(
        &self,
        registry: &Registry,
        target: &str,
        route_provider: Option<&'static str>,
    ) -> Option<GatewayError> {
        let model_ref = resolve_target(registry, target, route_provider)?;
        let entry = registry.get(model_ref.provider).ok()?;
        let now = self.health.now();
        if entry.health.is_available(&self.health.policy, now) {
            return None;
        }
        let wait = entry
            .health
            .snapshot(&self.health.policy, now)
            .open_remaining_ms
            .unwrap_or(0);
        Some(
            GatewayError::unavailable(format!(
                "provider '{}' is taken out after repeated failures (circuit open, next probe in {wait} ms)",
                model_ref.provider
            ))
            .with_code("circuit_open")
            .with_provider(model_ref.provider)
            .with_model_requested(model_ref.model),
        )
    }

    /// One full attempt at `target`, reported into the request's `log`, in stages:
    /// 1. **resolve** the target to its provider, adapter and model ([`Resolved`]);
    /// 2. **queue**: take a slot in the provider's queue (held by a stream until it ends);
    /// 3. **rewrite** the body for the provider (`model` replaced, gateway fields dropped);
    /// 4. **send with retries**, choosing the key anew for each try ([`KeyChoice`]) and
    ///    reporting each try's outcome to health;
    /// 5. **answer**: JSON checked and stamped with `extra_fields`, or the stream handed to the
    ///    forwarding loop.
    async fn attempt(
        &self,
        registry: &Registry,
        op: Operation,
        view: &RequestView<'_>,
        target: Target<'_>,
        meta: &RequestMeta,
        log: &mut RequestLog,
    ) -> Result<GatewayResponse, GatewayError> {
        let stream = view.is_stream();
        let resolved = Resolved::of(registry, op, stream, target, meta.route_provider)?;
        let decorate = |e: GatewayError| {
            e.with_provider(resolved.provider)
                .with_model_requested(resolved.model)
        };
        let check = log
            .ctx
            .extensions
            .get::<TargetLimits>()
            .map(|TargetLimits(guard)| guard.check_target(resolved.provider, resolved.model));
        if let Some(check) = check {
            check.decided().await.map_err(decorate)?;
        }
        log.begin_attempt(
            Arc::clone(&resolved.entry.telemetry),
            resolved.model,
            target.fallback_index,
        );

        let queued = Instant::now();
        let permit = resolved.entry.queue.acquire().await;
        log.add_wait(queued.elapsed(), false);
        let permit = permit.map_err(decorate)?;

        // The Responses API has no usage chunk to ask for: its final event carries the usage.
        let request_stream_usage = op != Operation::Responses && resolved.adapter.stream_usage();
        let upstream_body = Bytes::from(view.rewrite(
            resolved.model,
            RewriteOptions {
                request_stream_usage,
                drop_fields: if resolved.adapter.takes_openai_body() {
                    &meta.dialect_fields
                } else {
                    &[]
                },
            },
        ));

        let prompt_tokens_estimate = crate::estimate::tokens_of(upstream_body.len() as u64);
        let (sent, key) = self
            .send_with_retries(&resolved, op, stream, upstream_body, meta, target, log)
            .await
            .map_err(decorate)?;

        match sent {
            Sent::Stream(first, upstream) => {
                let kind = if op == Operation::Responses {
                    StreamKind::Responses
                } else {
                    StreamKind::Chunks {
                        drop_usage_only_chunk: request_stream_usage
                            && !view.client_wants_stream_usage(),
                    }
                };
                log.note_answering(target.name);
                log.answered();
                let entry = resolved.entry;
                let health = StreamHealth {
                    board: Arc::clone(&self.health),
                    provider: Arc::clone(&entry.health),
                    key: key.map(|index| Arc::clone(&entry.key_health[index])),
                };
                Ok(GatewayResponse::Stream {
                    stream: SseStream::forward(
                        (first, upstream),
                        StreamContext {
                            kind,
                            request_type: op.response_type(true),
                            model_requested: resolved.model.to_owned(),
                            redactor: entry.redactor.clone(),
                            max_duration: self.max_stream_duration,
                            health: Some(health),
                            prompt_tokens_estimate,
                        },
                        log.hand_over(),
                        Some(permit),
                    ),
                    provider: resolved.provider.to_owned(),
                })
            }
            Sent::Json(body) => {
                drop(permit);
                let malformed = |e: MalformedResponse| {
                    resolved
                        .entry
                        .redactor
                        .redact_error(resolved.adapter.malformed(&e))
                };
                let answered =
                    answer_json(op, &body, resolved.provider, resolved.model, malformed, log);
                match answered {
                    Ok((body, usage)) => {
                        log.note_answering(target.name);
                        log.finish_ok(usage);
                        Ok(GatewayResponse::Json {
                            body,
                            provider: resolved.provider.to_owned(),
                            usage,
                        })
                    }
                    Err(e) => Err(decorate(e)),
                }
            }
        }
    }

    /// Sends `body` until the provider answers or retries run out: each try chooses its key
    /// anew, preferring keys this request has not failed on yet (so a retry after a 429 or a
    /// 5xx moves to a sibling when there is one), and reports its outcome to health. Returns
    /// what the provider sent and the index of the key that got it.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; the stages' inputs"
    )]
    async fn send_with_retries(
        &self,
        resolved: &Resolved<'_>,
        op: Operation,
        stream: bool,
        body: Bytes,
        meta: &RequestMeta,
        target: Target<'_>,
        log: &mut RequestLog,
    ) -> Result<(Sent, Option<usize>), GatewayError> {
        let Resolved {
            entry,
            adapter,
            provider,
            model,
        } = *resolved;
        // Pinning headers and sessions apply to the primary model only, as in Bifrost.
        let primary = target.fallback_index == 0;
        let session = meta.session.as_ref().filter(|_| primary);
        let no_pin = KeyPin::default();
        let pin = match target.pin {
            Some(pin) => pin,
            None if primary => &meta.pin,
            None => &no_pin,
        };
        let policy = &self.health.policy;
        let mut tried = KeySet::default();
        let mut retries = 0;
        let guard = log.ctx.extensions.get::<TargetLimits>().cloned();
        let allowed = |key: &KeyConfig| {
            guard
                .as_ref()
                .is_none_or(|TargetLimits(g)| g.allows_key(provider, key))
        };
        loop {
            let choice = KeyChoice {
                provider: &entry.config,
                key_health: &entry.key_health,
                board: &self.health,
                sessions: &self.sessions,
            };
            let key = self
                .rng
                .with(|rng| choice.choose(model, pin, session, &tried, &allowed, rng))?;
            if let Some((index, config)) = key {
                log.set_key(&config.id, &config.name);
                tried.insert(index);
            }
            let key_health = key.map(|(index, _)| &entry.key_health[index]);
            let now = self.health.now();
            entry.health.begin(policy, now);
            if let Some(h) = key_health {
                h.begin(policy, now);
            }
            let started = Instant::now();
            let outcome = if stream {
                open_stream(adapter, op, key, model, body.clone(), &meta.forward)
                    .await
                    .map(|(first, rest)| Sent::Stream(first, rest))
            } else {
                adapter
                    .send(op, key, model, body.clone(), &meta.forward)
                    .await
                    .map(Sent::Json)
            };
            let waited = started.elapsed();
            log.add_wait(waited, true);
            let now = self.health.now();
            let error = match outcome {
                Ok(sent) => {
                    entry.health.record_success(policy, waited, now);
                    if let Some(h) = key_health {
                        h.record_success(policy, waited, now);
                    }
                    log.set_retries(retries);
                    if let (Some((id, ttl)), Some((_, config))) = (session, key) {
                        self.sessions.remember(id, provider, &config.id, *ttl, now);
                    }
                    return Ok((sent, key.map(|(index, _)| index)));
                }
                Err(e) => entry.redactor.redact_error(e),
            };
            if let Some(failure) = Failure::of(&error) {
                // A refused or throttled key says nothing about the provider beyond one failure.
                match failure {
                    Failure::Rejected => {}
                    Failure::RateLimited(_) => {
                        entry.health.record_failure(policy, Failure::Transient, now);
                    }
                    Failure::Transient => entry.health.record_failure(policy, failure, now),
                }
                if let Some(h) = key_health {
                    h.record_failure(policy, failure, now);
                }
            }
            let delay = self
                .rng
                .with(|rng| entry.retry.next_delay(retries, &error, rng));
            let Some(delay) = delay else {
                log.set_retries(retries);
                return Err(error);
            };
            tracing::debug!(
                provider,
                retry = retries + 1,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %Untrusted(error.message()),
                "retrying"
            );
            let slept = Instant::now();
            tokio::time::sleep(delay).await;
            log.add_wait(slept.elapsed(), false);
            retries += 1;
        }
    }

    /// A pre-hook's answer. `Ok` ends the request with it (an answer, or an error that allows
    /// no fallbacks, already logged); `Err` is an error after which the request's fallbacks are
    /// tried, as if the primary target had failed with it.
    async fn short_circuit(
        &self,
        op: Operation,
        view: &RequestView<'_>,
        short: ShortCircuit,
        log: &mut RequestLog,
    ) -> Result<Result<GatewayResponse, GatewayError>, GatewayError> {
        let ShortCircuit {
            answer,
            after,
            provider,
        } = short;
        let primary = log.ctx.primary_target();
        let model = primary.map_or(view.model(), |(_, model)| model).to_owned();
        let provider = provider
            .or_else(|| primary.map(|(provider, _)| provider.to_owned()))
            .unwrap_or_else(|| "-".to_owned());
        let model = model.as_str();
        log.short_circuit_attempt(&provider, model);
        if let Some(delay) = after {
            let started = Instant::now();
            tokio::time::sleep(delay).await;
            log.add_wait(started.elapsed(), true);
        }
        let target = view.model();
        match answer {
            Answer::Error {
                error,
                allow_fallbacks,
            } => {
                let error = error.with_provider(&provider).with_model_requested(model);
                if allow_fallbacks {
                    return Err(error);
                }
                log.attempt_failed(target, &error);
                Ok(Err(log.fail(error)))
            }
            Answer::Json(body) => {
                let plugin_bug = |e: MalformedResponse| {
                    GatewayError::internal(format!("a plugin answered with a malformed body: {e}"))
                };
                Ok(
                    match answer_json(op, &body, &provider, model, plugin_bug, log) {
                        Ok((body, usage)) => {
                            log.note_answering(target);
                            log.finish_ok(usage);
                            Ok(GatewayResponse::Json {
                                body,
                                provider,
                                usage,
                            })
                        }
                        Err(e) => Err(log.fail(e)),
                    },
                )
            }
            Answer::Stream(events) => {
                let mut events = events.into_iter();
                let Some(first) = events.next() else {
                    let e = GatewayError::internal("a plugin answered with an empty stream");
                    return Ok(Err(log.fail(e)));
                };
                log.note_answering(target);
                log.answered();
                let rest: ByteStream = Box::pin(futures_util::stream::iter(events.map(Ok)));
                let kind = if op == Operation::Responses {
                    StreamKind::Responses
                } else {
                    StreamKind::Chunks {
                        drop_usage_only_chunk: false,
                    }
                };
                Ok(Ok(GatewayResponse::Stream {
                    stream: SseStream::forward(
                        (first, rest),
                        StreamContext {
                            kind,
                            request_type: op.response_type(true),
                            model_requested: model.to_owned(),
                            redactor: Redactor::default(),
                            max_duration: self.max_stream_duration,
                            health: None,
                            prompt_tokens_estimate: 0,
                        },
                        log.hand_over(),
                        None,
                    ),
                    provider,
                }))
            }
        }
    }

    /// Brings `asbru_circuit_state` up to date with cool-downs that ended since the last request.
    pub fn refresh_health_gauges(&self) {
        self.health.sync_gauges();
    }

    /// Per key and provider health, for `GET /api/providers/health`.
    pub fn health_report(&self) -> Vec<ProviderHealth> {
        let registry = self.state.load_full();
        let policy = &self.health.policy;
        let now = self.health.now();
        self.health.sync_gauges();
        registry
            .providers
            .iter()
            .map(|entry| {
                let [factors, _] = key_factors(policy, &entry.key_health, now);
                ProviderHealth {
                    provider: entry.config.name.clone(),
                    health: entry.health.snapshot(policy, now),
                    keys: entry
                        .config
                        .keys
                        .iter()
                        .zip(&entry.key_health)
                        .zip(factors)
                        .map(|((key, health), factor)| KeyHealth {
                            id: key.id.clone(),
                            name: key.name.clone(),
                            weight: key.weight,
                            effective_weight: (key.weight * factor * 1000.0).round() / 1000.0,
                            health: health.snapshot(policy, now),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// For requests that run no plugins (model lists, and any other non-inference route): the
    /// 401 or 403 when a virtual key is required (`enforce_auth_on_inference`, `is_vk_mandatory`)
    /// and `headers` carry no known, active one.
    pub fn check_virtual_key(&self, headers: &http::HeaderMap) -> Result<(), GatewayError> {
        match &self.state.load().governance {
            Some(governance) => governance.check_headers(headers),
            None => Ok(()),
        }
    }

    /// Models of every configured provider (or only `provider`), as OpenAI model objects whose
    /// `id` is `provider/model` so it can be sent back as-is.
    ///
    /// Providers are asked concurrently; one that fails is left out and logged, unless it is the
    /// only one asked, in which case its error is returned.
    pub async fn list_models(
        &self,
        provider: Option<&str>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        self.list_models_reporting(provider)
            .await
            .map(|listed| listed.models)
    }

    /// Like [`Self::list_models`], and also says which providers failed to list theirs (when no
    /// provider is asked for; with one, its failure is the error).
    pub async fn list_models_reporting(
        &self,
        provider: Option<&str>,
    ) -> Result<ModelList, GatewayError> {
        let registry = self.state.load_full();
        let entries: Vec<&Arc<ProviderEntry>> = match provider {
            Some(name) => vec![registry.get(name)?],
            None => registry.providers.iter().collect(),
        };
        let only_one = provider.is_some();
        let calls = entries.into_iter().map(|entry| async move {
            let name = entry.config.name.as_str();
            let adapter = match entry.openai_adapter(Operation::ListModels, false) {
                Ok(a) => a,
                Err(e) => return (name, Err(e)),
            };
            // Listing models is not a request for one model: any usable key will do.
            let key = match (entry.config.is_key_less, entry.config.keys.first()) {
                (true, _) => None,
                (false, Some(first)) => Some((0, first)),
                (false, None) => {
                    let e = GatewayError::invalid_request(
                        format!("provider '{name}' has no usable keys"),
                        None,
                    );
                    return (name, Err(e.with_provider(name)));
                }
            };
            let listed = adapter.list_models(key).await;
            (name, listed.map_err(|e| entry.redactor.redact_error(e)))
        });
        let results = futures_util::future::join_all(calls).await;
        let mut models = Vec::new();
        let mut failures = Vec::new();
        for (name, result) in results {
            match result {
                Ok(list) => models.extend(list.into_iter().map(|m| prefix_model(name, m))),
                Err(e) if only_one => return Err(e),
                Err(e) => {
                    tracing::warn!(provider = name, error = %Untrusted(e.message()), "listing models failed");
                    failures.push(ModelListFailure {
                        provider: name.to_owned(),
                        status: e.status(),
                        message: e.message().to_owned(),
                    });
                }
            }
        }
        Ok(ModelList { models, failures })
    }
}

/// Creates the request's context and log from what the transport read.
fn start_log(registry: &Registry, op: Operation, meta: &mut RequestMeta) -> RequestLog {
    let request_id = meta.request_id.take().unwrap_or_else(new_request_id);
    let mut timings = Timings::new(meta.received);
    timings.client_wait = meta.client_wait;
    let ctx = RequestContext::new(
        request_id,
        op,
        meta.route,
        std::mem::take(&mut meta.plugin_headers),
        timings,
    );
    let mut log = RequestLog::new(
        ctx,
        op.response_type(false),
        registry.plugins.clone(),
        Some(registry.overhead.clone()),
    );
    log.pricer = Some(registry.pricer.clone());
    log
}

/// A complete JSON answer (a provider's or a plugin's) checked for its API and stamped with
/// `extra_fields`; its usage goes with it.
fn answer_json(
    op: Operation,
    body: &[u8],
    provider: &str,
    model: &str,
    malformed: impl FnOnce(MalformedResponse) -> GatewayError,
    log: &mut RequestLog,
) -> Result<(Bytes, Option<Usage>), GatewayError> {
    let check = if op == Operation::Responses {
        check_responses_answer
    } else {
        check_response
    };
    let checked = check(body).map_err(malformed)?;
    let overhead = log.answered();
    let extra = ExtraFields {
        request_type: op.response_type(false),
        provider,
        model_requested: model,
        latency: log.elapsed_ms(),
        chunk_index: None,
        retries: log.retries(),
        fallback_index: log.fallback_index(),
        overhead_ms: Some(millis(overhead)),
        cost: checked
            .usage
            .and_then(|u| log.cost(provider, model, op.request_type(false), &u)),
        routing_rule_id: &log.ctx.identity.routing_rule_id,
        routing_rule_name: &log.ctx.identity.routing_rule_name,
        routing_engines_used: &log.ctx.identity.routing_engine,
    };
    let stamped = append_extra_fields(body, &extra).ok_or_else(|| {
        GatewayError::upstream_unreachable(format!(
            "provider '{provider}' answered with JSON that is not an object"
        ))
        .with_code("malformed_upstream_response")
    })?;
    Ok((Bytes::from(stamped), checked.usage))
}

/// A duration in milliseconds, to the microsecond.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1000.0
}

/// The models of every provider that listed them, and the providers that could not.
#[derive(Debug, Default)]
pub struct ModelList {
    pub models: Vec<serde_json::Value>,
    pub failures: Vec<ModelListFailure>,
}

/// A provider whose models could not be listed, and why (already redacted).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelListFailure {
    pub provider: String,
    pub status: u16,
    pub message: String,
}

/// One model a request may be served by: `provider/model` (or a bare model on a drop-in route)
/// and its place, 0 for the primary model, n for the n-th of the request's `fallbacks`.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    name: &'a str,
    fallback_index: u32,
    /// The key a pre-hook pinned for this target ([`crate::RouteTarget::key_id`]).
    pin: Option<&'a KeyPin>,
}

/// A target resolved to what serves it: the provider's entry in the snapshot, its adapter for
/// the operation, and the model as the provider names it.
#[derive(Clone, Copy)]
struct Resolved<'r> {
    entry: &'r ProviderEntry,
    adapter: OpenAiFacing<'r>,
    provider: &'r str,
    model: &'r str,
}

impl<'r> Resolved<'r> {
    /// `provider/model` (or a bare model on a drop-in route) → the provider, refused with 400
    /// when it is not one, not configured, or does not offer the operation.
    fn of(
        registry: &'r Registry,
        op: Operation,
        stream: bool,
        target: Target<'r>,
        route_provider: Option<&'static str>,
    ) -> Result<Self, GatewayError> {
        let model_ref = resolve_target(registry, target.name, route_provider).ok_or_else(|| {
            GatewayError::invalid_request(
                format!(
                    "model should be in provider/model format (got {:?}); configured providers: {}",
                    target.name,
                    registry.names()
                ),
                Some(if target.fallback_index == 0 {
                    "model"
                } else {
                    "fallbacks"
                }),
            )
        })?;
        let entry = registry.get(model_ref.provider)?;
        let adapter = entry.openai_adapter(op, stream).map_err(|e| {
            e.with_provider(model_ref.provider)
                .with_model_requested(model_ref.model)
        })?;
        Ok(Self {
            entry,
            adapter,
            provider: &entry.config.name,
            model: model_ref.model,
        })
    }
}

fn attempt_outcome(target: &str, error: &GatewayError) -> Attempt {
    Attempt {
        target: target.to_owned(),
        status: error.status(),
        message: error.message().to_owned(),
    }
}

/// Starts a stream and waits for its first piece: a provider is committed to only once it has
/// sent something, so a failure before that can still be retried or fall back. A stream whose
/// first event is an error event counts as a failed attempt too.
async fn open_stream(
    adapter: OpenAiFacing<'_>,
    op: Operation,
    key: Option<(usize, &asbru_config::KeyConfig)>,
    model: &str,
    body: Bytes,
    forward: &http::HeaderMap,
) -> Result<(Bytes, ByteStream), GatewayError> {
    let mut upstream = adapter.send_stream(op, key, model, body, forward).await?;
    let first_error = if op == Operation::Responses {
        first_event_error
    } else {
        embedded_error
    };
    match upstream.next().await {
        Some(Ok(first)) => match first_error(&first) {
            Some(e) => Err(e),
            None => Ok((first, upstream)),
        },
        Some(Err(e)) => Err(e),
        None => Err(GatewayError::upstream_unreachable(
            "provider ended the stream before sending anything",
        )),
    }
}

/// `data: {"error": {...}}` at the start of a stream: the provider failed after answering 200.
pub(crate) fn embedded_error(first: &[u8]) -> Option<GatewayError> {
    #[derive(serde::Deserialize)]
    struct Event {
        error: Body,
    }
    #[derive(serde::Deserialize)]
    struct Body {
        message: Option<String>,
        #[serde(rename = "type")]
        error_type: Option<String>,
        code: Option<serde_json::Value>,
    }
    let data = asbru_dialects::sse::single_data_line(first)?;
    if !data.starts_with(b"{\"error\"") {
        return None;
    }
    let event: Event = serde_json::from_slice(data).ok()?;
    Some(GatewayError::upstream(
        502,
        event
            .error
            .message
            .unwrap_or_else(|| "provider sent an error event".to_owned()),
        event.error.error_type,
        event
            .error
            .code
            .map(|c| c.to_string().trim_matches('"').to_owned()),
        None,
    ))
}

/// What one try got from the provider.
enum Sent {
    Json(Bytes),
    Stream(Bytes, ByteStream),
}

/// One provider's health and its keys', as the admin API shows them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProviderHealth {
    pub provider: String,
    #[serde(flatten)]
    pub health: HealthSnapshot,
    pub keys: Vec<KeyHealth>,
}

/// One key's health; never its value.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyHealth {
    pub id: String,
    pub name: String,
    /// The configured weight.
    pub weight: f64,
    /// The configured weight scaled by health: what the key's share is based on now.
    pub effective_weight: f64,
    #[serde(flatten)]
    pub health: HealthSnapshot,
}

fn prefix_model(provider: &str, mut model: serde_json::Value) -> serde_json::Value {
    if let Some(id) = model.get_mut("id")
        && let Some(s) = id.as_str()
    {
        *id = serde_json::Value::String(format!("{provider}/{s}"));
    }
    model
}

impl Registry {
    fn build(
        config: Config,
        health: &HealthBoard,
        limits: &ResponseLimits,
        previous: Option<&Registry>,
        user_plugins: &[Arc<dyn Plugin>],
        (governance, rng): (&Arc<Limits>, &Arc<KeyRng>),
        prices: &Arc<crate::pricing::PriceList>,
    ) -> Result<Self, GatewayError> {
        let pricer = crate::pricing::Pricer::new(Arc::clone(prices), &config);
        let pricing = config.pricing.clone();
        let (mut plugins, governance) =
            crate::builtin::plugins(&config, governance, rng.draw(), &pricer)?;
        let telemetry_labels = crate::builtin::telemetry_labels(&config).map(Arc::from);
        plugins.extend(user_plugins.iter().cloned());
        let mut providers = Vec::with_capacity(config.providers.len());
        let mut by_name = HashMap::new();
        for provider in config.providers {
            let adapter = Adapter::build(&provider, limits)?;
            let (concurrency, buffer_size) = (
                provider.concurrency.concurrency,
                provider.concurrency.buffer_size,
            );
            let drop_excess = config.client.drop_excess_requests;
            let max_wait = provider.network.request_timeout;
            let kept = previous
                .and_then(|p| p.get(&provider.name).ok())
                .map(|entry| &entry.queue)
                .filter(|q| q.has_settings(concurrency, buffer_size, drop_excess, max_wait));
            let queue = match kept {
                Some(queue) => Arc::clone(queue),
                None => Arc::new(ProviderQueue::new(
                    &provider.name,
                    concurrency,
                    buffer_size,
                    drop_excess,
                    max_wait,
                )),
            };
            by_name.insert(provider.name.clone(), providers.len());
            providers.push(Arc::new(ProviderEntry {
                telemetry: Arc::new(ProviderTelemetry::new(&provider.name)),
                health: health.provider(&provider.name),
                key_health: provider
                    .keys
                    .iter()
                    .map(|k| health.key(&provider.name, &k.id))
                    .collect(),
                retry: RetryPolicy::of(&provider.network),
                redactor: Redactor::for_provider(&provider),
                config: provider,
                adapter,
                queue,
            }));
        }
        health.retain(
            &providers
                .iter()
                .map(|p| {
                    let keys = p.config.keys.iter().map(|k| k.id.clone()).collect();
                    (p.config.name.clone(), keys)
                })
                .collect::<Vec<_>>(),
        );
        Ok(Self {
            client: config.client,
            providers,
            by_name,
            plugins: Plugins::new(plugins),
            overhead: metrics::histogram!("asbru_overhead_seconds"),
            telemetry_labels,
            governance,
            pricer,
            pricing,
        })
    }

    fn get(&self, name: &str) -> Result<&Arc<ProviderEntry>, GatewayError> {
        self.by_name
            .get(name)
            .map(|&i| &self.providers[i])
            .ok_or_else(|| {
                GatewayError::invalid_request(
                    format!(
                        "provider '{name}' is not configured; configured providers: {}",
                        self.names()
                    ),
                    Some("model"),
                )
                .with_code("unknown_provider")
            })
    }

    fn names(&self) -> String {
        if self.providers.is_empty() {
            return "(none)".to_owned();
        }
        self.providers
            .iter()
            .map(|p| p.config.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl ProviderEntry {
    /// The adapter in its OpenAI-dialect form, if this provider has one and may serve `op`.
    fn openai_adapter(
        &self,
        op: Operation,
        stream: bool,
    ) -> Result<OpenAiFacing<'_>, GatewayError> {
        let adapter = self.adapter.openai_facing()?;
        let request_type = op.request_type(stream);
        if !self.config.allows(request_type) || !adapter.supports(op) {
            return Err(GatewayError::invalid_request(
                format!(
                    "provider '{}' does not support {request_type}",
                    self.config.name
                ),
                None,
            )
            .with_code("unsupported_operation"));
        }
        Ok(adapter)
    }
}

/// A configuration built and checked by [`Gateway::prepare`], ready for [`Gateway::install`].
pub struct Prepared(Arc<Registry>);

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prepared")
    }
}
