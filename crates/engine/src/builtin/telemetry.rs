//! The `telemetry` plugin: Bifrost's request metrics under Bifrost's names and labels, so
//! dashboards and alerts written for Bifrost work unchanged.
//!
//! Per request, when it is over (streams from their final usage): `bifrost_upstream_requests_total`,
//! `bifrost_success_requests_total` or `bifrost_error_requests_total`,
//! `bifrost_upstream_latency_seconds`, `bifrost_input_tokens_total`, `bifrost_output_tokens_total`,
//! `bifrost_cost_total` (each priced request's cost, in USD; `bifrost_cache_hits_total` comes with the
//! semantic cache); per stream, `bifrost_stream_first_token_latency_seconds` and, per later event,
//! `bifrost_stream_inter_token_latency_seconds`.
//!
//! Labels: `provider`, `model`, `method` (Bifrost's request type), `virtual_key_id`,
//! `virtual_key_name`, `routing_engine_used`, `routing_rule_id`, `routing_rule_name`,
//! `selected_key_id`, `selected_key_name`, `number_of_retries`, `fallback_index`, `team_id`,
//! `team_name`, `customer_id`, `customer_name` (from the attempt that answered or failed last,
//! and the caller's identity), then each custom label (`client.prometheus_labels`), valued by the
//! request's `x-bf-prom-<label>` header.
//!
//! A label set's metric handles are resolved once and kept (up to [`MAX_SERIES`] sets), so a
//! request bumps atomics instead of hashing sixteen labels for each of eight metrics.

use crate::context::{Identity, RequestContext};
use crate::plugin::{Finished, Plugin, PluginError, StreamChunk};
use metrics::{Counter, Gauge, Histogram, Label};
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

/// Label sets whose handles are kept; past this, handles are resolved per request (correct,
/// only slower) and `asbru_telemetry_series_overflow_total` counts it.
pub const MAX_SERIES: usize = 10_000;

/// Bifrost's telemetry plugin.
pub struct TelemetryPlugin {
    custom_labels: Vec<String>,
    /// `x-bf-prom-<label>` for each custom label, same order.
    custom_headers: Vec<String>,
    series: Mutex<HashMap<u64, Vec<Arc<Series>>, foldhash::fast::FixedState>>,
    series_count: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for TelemetryPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryPlugin")
            .field("custom_labels", &self.custom_labels)
            .finish_non_exhaustive()
    }
}

/// The metric handles of one label set, and the label values they were resolved for.
struct Series {
    key: SeriesKey,
    upstream_requests: Counter,
    success: Counter,
    error: Counter,
    upstream_latency: Histogram,
    input_tokens: Counter,
    output_tokens: Counter,
    cost: Gauge,
    first_token: Histogram,
    inter_token: Histogram,
}

struct SeriesKey {
    provider: String,
    model: String,
    method: &'static str,
    key_id: String,
    key_name: String,
    retries: u32,
    fallback_index: u32,
    /// `None` while the caller has no identity (no governance): compared without touching its
    /// nine empty strings.
    identity: Option<Identity>,
    custom: Vec<String>,
}

/// The label values of one request, borrowed from its context.
#[derive(Hash)]
struct SeriesView<'a> {
    provider: &'a str,
    model: &'a str,
    method: &'static str,
    key_id: &'a str,
    key_name: &'a str,
    retries: u32,
    fallback_index: u32,
    identity: Option<&'a Identity>,
    custom: Vec<&'a str>,
}

impl SeriesKey {
    fn matches(&self, v: &SeriesView<'_>) -> bool {
        self.provider == v.provider
            && self.model == v.model
            && self.method == v.method
            && self.key_id == v.key_id
            && self.key_name == v.key_name
            && self.retries == v.retries
            && self.fallback_index == v.fallback_index
            && self.identity.as_ref() == v.identity
            && self.custom.len() == v.custom.len()
            && self.custom.iter().zip(&v.custom).all(|(a, b)| a == b)
    }
}

/// The stream's series, kept in the request's context from its first event.
#[derive(Clone)]
struct StreamSeries(Arc<Series>);

impl TelemetryPlugin {
    pub fn new(custom_labels: Vec<String>) -> Self {
        let custom_headers = custom_labels
            .iter()
            .map(|l| format!("x-bf-prom-{}", l.to_ascii_lowercase()))
            .collect();
        Self {
            custom_labels,
            custom_headers,
            series: Mutex::new(HashMap::default()),
            series_count: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn view<'a>(&'a self, ctx: &'a RequestContext) -> SeriesView<'a> {
        let attempt = ctx.last_attempt();
        SeriesView {
            provider: attempt.map_or("", |a| a.provider.as_ref()),
            model: attempt.map_or(ctx.model_requested.as_str(), |a| a.model.as_str()),
            method: ctx.operation().request_type(ctx.stream),
            key_id: attempt.and_then(|a| a.key_id.as_deref()).unwrap_or(""),
            key_name: attempt.and_then(|a| a.key_name.as_deref()).unwrap_or(""),
            retries: attempt.map_or(0, |a| a.retries),
            fallback_index: attempt.map_or(0, |a| a.fallback_index),
            identity: Some(&ctx.identity).filter(|i| !i.is_empty()),
            custom: self
                .custom_headers
                .iter()
                .map(|h| ctx.header(h).unwrap_or(""))
                .collect(),
        }
    }

    /// The handles of this request's label set: kept ones, or resolved now.
    fn series(&self, ctx: &RequestContext) -> Arc<Series> {
        let view = self.view(ctx);
        let hash = foldhash::fast::FixedState::default().hash_one(&view);
        let mut kept = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = kept
            .get(&hash)
            .and_then(|list| list.iter().find(|s| s.key.matches(&view)))
        {
            return Arc::clone(found);
        }
        let series = Arc::new(self.resolve(&view));
        let count = self.series_count.load(std::sync::atomic::Ordering::Relaxed);
        if count < MAX_SERIES {
            kept.entry(hash).or_default().push(Arc::clone(&series));
            self.series_count
                .store(count + 1, std::sync::atomic::Ordering::Relaxed);
        } else {
            metrics::counter!("asbru_telemetry_series_overflow_total").increment(1);
        }
        series
    }

    fn resolve(&self, v: &SeriesView<'_>) -> Series {
        let none = Identity::default();
        let identity = v.identity.unwrap_or(&none);
        let mut labels = vec![
            Label::new("provider", v.provider.to_owned()),
            Label::new("model", v.model.to_owned()),
            Label::new("method", v.method),
            Label::new("virtual_key_id", identity.virtual_key_id.clone()),
            Label::new("virtual_key_name", identity.virtual_key_name.clone()),
            Label::new("routing_engine_used", identity.routing_engine.clone()),
            Label::new("routing_rule_id", identity.routing_rule_id.clone()),
            Label::new("routing_rule_name", identity.routing_rule_name.clone()),
            Label::new("selected_key_id", v.key_id.to_owned()),
            Label::new("selected_key_name", v.key_name.to_owned()),
            Label::new("number_of_retries", v.retries.to_string()),
            Label::new("fallback_index", v.fallback_index.to_string()),
            Label::new("team_id", identity.team_id.clone()),
            Label::new("team_name", identity.team_name.clone()),
            Label::new("customer_id", identity.customer_id.clone()),
            Label::new("customer_name", identity.customer_name.clone()),
        ];
        for (name, value) in self.custom_labels.iter().zip(&v.custom) {
            labels.push(Label::new(name.clone(), (*value).to_owned()));
        }
        Series {
            key: SeriesKey {
                provider: v.provider.to_owned(),
                model: v.model.to_owned(),
                method: v.method,
                key_id: v.key_id.to_owned(),
                key_name: v.key_name.to_owned(),
                retries: v.retries,
                fallback_index: v.fallback_index,
                identity: v.identity.cloned(),
                custom: v.custom.iter().map(|s| (*s).to_owned()).collect(),
            },
            upstream_requests: metrics::counter!("bifrost_upstream_requests_total", labels.clone()),
            success: metrics::counter!("bifrost_success_requests_total", labels.clone()),
            error: metrics::counter!("bifrost_error_requests_total", labels.clone()),
            upstream_latency: metrics::histogram!(
                "bifrost_upstream_latency_seconds",
                labels.clone()
            ),
            input_tokens: metrics::counter!("bifrost_input_tokens_total", labels.clone()),
            output_tokens: metrics::counter!("bifrost_output_tokens_total", labels.clone()),
            // A float total only ever incremented: `metrics` counters are integers, and cost is
            // fractional USD. `/metrics` exports it with the counter type.
            cost: metrics::gauge!("bifrost_cost_total", labels.clone()),
            first_token: metrics::histogram!(
                "bifrost_stream_first_token_latency_seconds",
                labels.clone()
            ),
            inter_token: metrics::histogram!("bifrost_stream_inter_token_latency_seconds", labels),
        }
    }
}

impl Plugin for TelemetryPlugin {
    fn name(&self) -> &str {
        "telemetry"
    }

    fn headers(&self) -> Vec<String> {
        self.custom_headers.clone()
    }

    fn wants_chunks(&self) -> bool {
        true
    }

    fn chunk(&self, ctx: &mut RequestContext, chunk: &StreamChunk<'_>) -> Result<(), PluginError> {
        if chunk.index == 0 {
            let series = self.series(ctx);
            series.first_token.record(chunk.gap.as_secs_f64());
            ctx.extensions.insert(StreamSeries(series));
        } else if let Some(StreamSeries(series)) = ctx.extensions.get::<StreamSeries>() {
            series.inter_token.record(chunk.gap.as_secs_f64());
        }
        Ok(())
    }

    fn post(&self, ctx: &mut RequestContext, finished: &Finished<'_>) -> Result<(), PluginError> {
        // A request refused before any target was tried never went upstream.
        let Some(attempt) = ctx.last_attempt() else {
            return Ok(());
        };
        let series = match ctx.extensions.get::<StreamSeries>() {
            Some(StreamSeries(s)) if s.key.retries == attempt.retries => Arc::clone(s),
            _ => self.series(ctx),
        };
        series.upstream_requests.increment(1);
        match finished {
            Finished::Success { .. } => series.success.increment(1),
            Finished::Error(_) | Finished::ClientClosed => series.error.increment(1),
        }
        let mut latency = attempt.upstream_latency;
        if let (Some(first), Some(last)) = (ctx.timings.first_chunk, ctx.timings.last_chunk) {
            // A stream waits on the provider between its events too.
            latency += last.saturating_duration_since(first);
        }
        series.upstream_latency.record(latency.as_secs_f64());
        if let Some(usage) = ctx.usage {
            series.input_tokens.increment(usage.prompt_tokens);
            series.output_tokens.increment(usage.completion_tokens);
        }
        if let Some(cost) = ctx.cost {
            series.cost.increment(cost);
        }
        Ok(())
    }
}
