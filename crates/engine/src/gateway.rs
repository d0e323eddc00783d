//! The [`Gateway`]: the provider registry and the request pipeline.

use crate::keys::{KeyPin, select_key};
use crate::outcome::{ProviderTelemetry, RequestLog};
use crate::queue::ProviderQueue;
use crate::retry::RetryPolicy;
use crate::sessions::SessionStore;
use crate::stream::SseStream;
use arc_swap::ArcSwap;
use asbru_config::{ClientConfig, Config, ProviderConfig};
use asbru_dialects::openai::{
    ExtraFields, RequestView, RewriteOptions, append_extra_fields, check_response,
};
use asbru_providers::ByteStream;
use asbru_providers::{Adapter, OpenAiCompatible, Operation};
use asbru_schema::{Attempt, GatewayError, ModelRef, Usage};
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

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
}

/// One configuration's worth of providers, ready to serve.
#[derive(Debug)]
struct Registry {
    client: ClientConfig,
    providers: Vec<Arc<ProviderEntry>>,
    by_name: HashMap<String, usize>,
}

#[derive(Debug)]
struct ProviderEntry {
    config: ProviderConfig,
    adapter: Adapter,
    queue: ProviderQueue,
    retry: RetryPolicy,
    telemetry: Arc<ProviderTelemetry>,
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
}

impl Default for RequestMeta {
    fn default() -> Self {
        Self {
            pin: KeyPin::default(),
            session: None,
            received: Instant::now(),
        }
    }
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
        Ok(Self {
            state: ArcSwap::from_pointee(Registry::build(config)?),
            sessions: SessionStore::default(),
        })
    }

    /// Swaps in a new configuration atomically. Requests already running finish on the snapshot
    /// they started with (their queue permits included); new requests use the new one. Nothing
    /// changes if building the new providers fails.
    pub fn reload(&self, config: Config) -> Result<(), GatewayError> {
        let registry = Registry::build(config)?;
        self.state.store(Arc::new(registry));
        Ok(())
    }

    /// Settings of the `client` section in force now.
    pub fn client_config(&self) -> ClientConfig {
        self.state.load().client.clone()
    }

    /// `client.max_request_body_size_mb`, in bytes.
    pub fn max_request_body_bytes(&self) -> usize {
        self.state.load().client.max_request_body_size_bytes
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
        meta: RequestMeta,
    ) -> Result<GatewayResponse, GatewayError> {
        let registry = self.state.load_full();
        let view = RequestView::parse(body)?;
        if view.is_stream() && op == Operation::Embedding {
            return Err(GatewayError::invalid_request(
                "embeddings cannot be streamed",
                Some("stream"),
            ));
        }
        let primary = self
            .attempt(&registry, op, &view, view.model(), 0, &meta)
            .await;
        let primary_error = match primary {
            Ok(response) => return Ok(response),
            Err(e) if view.fallbacks().is_empty() => return Err(e),
            Err(e) => e,
        };
        let mut attempts = vec![attempt_outcome(view.model(), &primary_error)];
        for (index, target) in view.fallbacks().iter().enumerate() {
            let index = u32::try_from(index + 1).unwrap_or(u32::MAX);
            match self
                .attempt(&registry, op, &view, target, index, &meta)
                .await
            {
                Ok(response) => return Ok(response),
                Err(e) => attempts.push(attempt_outcome(target, &e)),
            }
        }
        Err(primary_error.with_attempts(attempts))
    }

    /// One full attempt at `target` (`provider/model`): its own key choice, queue slot and
    /// retries. `fallback_index` is 0 for the primary model, n for the n-th fallback.
    async fn attempt(
        &self,
        registry: &Registry,
        op: Operation,
        view: &RequestView<'_>,
        target: &str,
        fallback_index: u32,
        meta: &RequestMeta,
    ) -> Result<GatewayResponse, GatewayError> {
        let stream = view.is_stream();
        let model_ref = ModelRef::parse(target).ok_or_else(|| {
            GatewayError::invalid_request(
                format!(
                    "model should be in provider/model format (got {target:?}); configured providers: {}",
                    registry.names()
                ),
                Some(if fallback_index == 0 { "model" } else { "fallbacks" }),
            )
        })?;
        let entry = registry.get(model_ref.provider)?;
        let decorate = |e: GatewayError| {
            e.with_provider(model_ref.provider)
                .with_model_requested(model_ref.model)
        };
        let adapter = entry.openai_adapter(op, stream).map_err(decorate)?;

        let mut log = RequestLog::new(
            Arc::clone(&entry.telemetry),
            model_ref.model,
            op.response_type(stream),
            stream,
            meta.received,
        );
        log.set_fallback_index(fallback_index);
        // Session stickiness and retries to another key are not per-attempt yet: pinning
        // headers apply to the primary model only, as in Bifrost.
        let now = Instant::now();
        let session = meta.session.as_ref().filter(|_| fallback_index == 0);
        let pin = if fallback_index != 0 {
            KeyPin::default()
        } else if !meta.pin.is_empty() {
            meta.pin.clone()
        } else {
            // A session's key is reused only while it still exists and allows the model.
            let sticky = session
                .and_then(|(id, _)| self.sessions.key_for(id, model_ref.provider, now))
                .filter(|key_id| {
                    entry
                        .config
                        .keys
                        .iter()
                        .any(|k| &k.id == key_id && k.allows_model(model_ref.model))
                });
            KeyPin {
                id: sticky,
                name: None,
            }
        };
        let key = if entry.config.is_key_less {
            None
        } else {
            let keys = &entry.config.keys;
            match select_key(
                model_ref.provider,
                keys,
                model_ref.model,
                &pin,
                &mut rand::rng(),
            ) {
                Ok(index) => {
                    log.set_key(&keys[index].id);
                    if let Some((id, ttl)) = session {
                        self.sessions
                            .remember(id, model_ref.provider, &keys[index].id, *ttl, now);
                    }
                    Some((index, &keys[index]))
                }
                Err(e) => return Err(log.fail(decorate(e))),
            }
        };

        let permit = match entry.queue.acquire().await {
            Ok(p) => p,
            Err(e) => return Err(log.fail(decorate(e))),
        };

        let request_stream_usage = adapter.preset().stream_usage;
        let upstream_body = Bytes::from(view.rewrite(
            model_ref.model,
            RewriteOptions {
                request_stream_usage,
            },
        ));

        if stream {
            let drop_usage_only_chunk = request_stream_usage && !view.client_wants_stream_usage();
            let (result, retries) = with_retries(&entry.retry, model_ref.provider, || {
                open_stream(adapter, op, key, upstream_body.clone())
            })
            .await;
            log.set_retries(retries);
            match result {
                Ok((first, upstream)) => Ok(GatewayResponse::Stream {
                    stream: SseStream::forward(
                        first,
                        upstream,
                        drop_usage_only_chunk,
                        op.response_type(true),
                        model_ref.model.to_owned(),
                        log,
                        permit,
                    ),
                    provider: model_ref.provider.to_owned(),
                }),
                Err(e) => Err(log.fail(decorate(e))),
            }
        } else {
            let (result, retries) = with_retries(&entry.retry, model_ref.provider, || {
                adapter.send(op, key, upstream_body.clone())
            })
            .await;
            log.set_retries(retries);
            let result = result.and_then(|body| {
                let usage = check_response(&body)
                    .map_err(|e| adapter.malformed(&e))?
                    .usage;
                let extra = ExtraFields {
                    request_type: op.response_type(false),
                    provider: model_ref.provider,
                    model_requested: model_ref.model,
                    latency: log.elapsed_ms(),
                    chunk_index: None,
                    retries,
                    fallback_index,
                };
                let body = append_extra_fields(&body, &extra).ok_or_else(|| {
                    GatewayError::upstream_unreachable(format!(
                        "provider '{}' answered with JSON that is not an object",
                        model_ref.provider
                    ))
                    .with_code("malformed_upstream_response")
                })?;
                Ok((Bytes::from(body), usage))
            });
            drop(permit);
            match result {
                Ok((body, usage)) => {
                    log.finish_ok(usage);
                    Ok(GatewayResponse::Json {
                        body,
                        provider: model_ref.provider.to_owned(),
                        usage,
                    })
                }
                Err(e) => Err(log.fail(decorate(e))),
            }
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
            (name, adapter.list_models(key).await)
        });
        let results = futures_util::future::join_all(calls).await;
        let mut models = Vec::new();
        for (name, result) in results {
            match result {
                Ok(list) => models.extend(list.into_iter().map(|m| prefix_model(name, m))),
                Err(e) if only_one => return Err(e),
                Err(e) => tracing::warn!(provider = name, error = %e, "listing models failed"),
            }
        }
        Ok(models)
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
    adapter: &OpenAiCompatible,
    op: Operation,
    key: Option<(usize, &asbru_config::KeyConfig)>,
    body: Bytes,
) -> Result<(Bytes, ByteStream), GatewayError> {
    let mut upstream = adapter.send_stream(op, key, body).await?;
    match upstream.next().await {
        Some(Ok(first)) => match embedded_error(&first) {
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
fn embedded_error(first: &[u8]) -> Option<GatewayError> {
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

/// Runs `attempt` until it succeeds or the provider's retry policy says to stop; returns the last
/// result and how many attempts were retried.
async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    provider: &str,
    mut attempt: F,
) -> (Result<T, GatewayError>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, GatewayError>>,
{
    let mut retries = 0;
    loop {
        let error = match attempt().await {
            Ok(value) => return (Ok(value), retries),
            Err(e) => e,
        };
        let Some(delay) = policy.next_delay(retries, &error, &mut rand::rng()) else {
            return (Err(error), retries);
        };
        tracing::debug!(
            provider,
            retry = retries + 1,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            error = %error,
            "retrying"
        );
        tokio::time::sleep(delay).await;
        retries += 1;
    }
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
    fn build(config: Config) -> Result<Self, GatewayError> {
        let mut providers = Vec::with_capacity(config.providers.len());
        let mut by_name = HashMap::new();
        for provider in config.providers {
            let adapter = Adapter::build(&provider)?;
            let queue = ProviderQueue::new(
                &provider.name,
                provider.concurrency.concurrency,
                provider.concurrency.buffer_size,
                config.client.drop_excess_requests,
                provider.network.request_timeout,
            );
            by_name.insert(provider.name.clone(), providers.len());
            providers.push(Arc::new(ProviderEntry {
                telemetry: Arc::new(ProviderTelemetry::new(&provider.name)),
                retry: RetryPolicy::of(&provider.network),
                config: provider,
                adapter,
                queue,
            }));
        }
        Ok(Self {
            client: config.client,
            providers,
            by_name,
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
    /// The OpenAI-compatible adapter, if this provider has one and may serve `op`.
    fn openai_adapter(
        &self,
        op: Operation,
        stream: bool,
    ) -> Result<&OpenAiCompatible, GatewayError> {
        let adapter = match &self.adapter {
            Adapter::OpenAiCompatible(a) => a,
            Adapter::NotSupported { name, base } => {
                return Err(Adapter::not_supported_error(name, *base));
            }
        };
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
