//! What the edge establishes for every request before a route sees it, and records after:
//! the request's id, the route and client dialect it came in by, and Bifrost's HTTP metrics.
//!
//! - **Request id**: the client's `x-request-id` when it is a usable one (printable ASCII, at
//!   most [`MAX_REQUEST_ID_BYTES`]), else a new UUID; it goes back to the client as
//!   `x-request-id`, into the log line and the engine's [`RequestContext`].
//! - **Route**: the matched path pattern (`/v1/chat/completions`,
//!   `/genai/v1beta/models/{*rest}`) and the client's dialect, known to the inference routes
//!   through [`current`] (a task-local set for the request's whole life).
//! - **HTTP metrics** (while the telemetry plugin is on): `http_requests_total`,
//!   `http_request_duration_seconds`, `http_request_size_bytes`, `http_response_size_bytes`,
//!   labelled `path` (the route pattern, so a scan of random paths cannot grow the series),
//!   `method`, `status` and the custom labels. A streamed answer is measured when its body ends
//!   (or the client leaves): its duration and size are the whole stream's.
//!
//! [`RequestContext`]: asbru_engine::RequestContext

use asbru_engine::Route;
use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, Method};
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Longest client-chosen `x-request-id` kept; a longer one is replaced by a new id.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The request's id and route, as the inference routes read them.
#[derive(Debug, Clone)]
pub(crate) struct RequestInfo {
    pub(crate) id: Arc<str>,
    pub(crate) route: Route,
}

tokio::task_local! {
    static CURRENT: RequestInfo;
}

/// The current request's id and route (`None` outside a request the edge admitted: tests that
/// call handlers directly).
pub(crate) fn current() -> Option<RequestInfo> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `serve` with `info` as the [`current`] request's.
pub(crate) async fn scope<F: Future>(info: RequestInfo, serve: F) -> F::Output {
    CURRENT.scope(info, serve).await
}

impl RequestInfo {
    /// Reads (or makes) the id and finds the route of `request`.
    pub(crate) fn of(request: &Request) -> Self {
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|id| usable_id(id))
            .map_or_else(asbru_engine::new_request_id, Arc::from);
        let path = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("", MatchedPath::as_str);
        Self {
            id,
            route: Route {
                path: intern(path),
                dialect: dialect_of(request.uri().path()),
            },
        }
    }
}

fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_BYTES && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The route patterns are a fixed set, known at start: each is leaked once so a request carries
/// a `&'static str` instead of a copy. An unmatched request has the pattern `""`.
fn intern(path: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock, PoisonError};
    static PATTERNS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    if path.is_empty() {
        return "";
    }
    let mut patterns = PATTERNS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = patterns.get(path) {
        return known;
    }
    // Bounded by the router's route count: only matched patterns come here.
    let leaked: &'static str = Box::leak(path.to_owned().into_boxed_str());
    patterns.insert(leaked);
    leaked
}

/// The client API a path speaks, from its prefix (drop-in routes, also under `/litellm` and
/// `/langchain`, and the SDK-native paths at the root).
pub(crate) fn dialect_of(path: &str) -> &'static str {
    let path = path
        .strip_prefix("/litellm")
        .or_else(|| path.strip_prefix("/langchain"))
        .unwrap_or(path);
    let starts = |p: &str| path.starts_with(p);
    if starts("/anthropic/") || starts("/v1/messages") {
        "anthropic"
    } else if starts("/genai/") || starts("/v1beta/") {
        "genai"
    } else if starts("/bedrock/") || starts("/model/") {
        "bedrock"
    } else if starts("/cohere/") || starts("/v2/") {
        "cohere"
    } else if path.contains("/responses") {
        "responses"
    } else {
        "openai"
    }
}

/// The HTTP metrics of one request, recorded when its answer's body ends.
pub(crate) struct HttpMetrics {
    path: &'static str,
    method: Method,
    custom: Vec<(String, String)>,
    request_bytes: u64,
    started: Instant,
}

impl HttpMetrics {
    /// Starts measuring `request` if telemetry is on (`labels`: the custom label names).
    pub(crate) fn start(
        request: &Request,
        info: &RequestInfo,
        labels: Option<&[String]>,
    ) -> Option<Self> {
        let labels = labels?;
        let headers = request.headers();
        let custom = labels
            .iter()
            .map(|label| {
                let header = format!("x-bf-prom-{}", label.to_ascii_lowercase());
                let value = headers
                    .get(header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                (label.clone(), value.to_owned())
            })
            .collect();
        let request_bytes = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Some(Self {
            path: if info.route.path.is_empty() {
                "unmatched"
            } else {
                info.route.path
            },
            method: request.method().clone(),
            custom,
            request_bytes,
            started: Instant::now(),
        })
    }

    /// Wraps the answer's body so the metrics are recorded when it has been sent.
    pub(crate) fn finish(self, response: Response) -> Response {
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let metered = MeteredBody {
            inner: body,
            sent: 0,
            record: Some(Record {
                metrics: self,
                status,
            }),
        };
        Response::from_parts(parts, Body::new(metered))
    }
}

struct Record {
    metrics: HttpMetrics,
    status: u16,
}

impl Record {
    fn write(self, response_bytes: u64) {
        let m = self.metrics;
        let handles = if m.custom.is_empty() {
            HttpHandles::kept(m.path, &m.method, self.status)
        } else {
            Arc::new(HttpHandles::resolve(
                m.path,
                &m.method,
                self.status,
                m.custom,
            ))
        };
        handles.requests.increment(1);
        handles.duration.record(m.started.elapsed().as_secs_f64());
        handles.request_size.record(m.request_bytes as f64);
        handles.response_size.record(response_bytes as f64);
    }
}

/// The four HTTP metrics of one label set.
struct HttpHandles {
    requests: metrics::Counter,
    duration: metrics::Histogram,
    request_size: metrics::Histogram,
    response_size: metrics::Histogram,
}

/// Label sets without custom labels whose handles are kept: routes × methods × statuses is
/// small; past this, handles are resolved per request (correct, only slower).
const MAX_KEPT_HTTP_SERIES: usize = 4096;

impl HttpHandles {
    fn resolve(
        path: &'static str,
        method: &Method,
        status: u16,
        custom: Vec<(String, String)>,
    ) -> Self {
        let mut labels = Vec::with_capacity(3 + custom.len());
        labels.push(metrics::Label::new("path", path));
        labels.push(metrics::Label::new("method", method.as_str().to_owned()));
        labels.push(metrics::Label::new("status", status.to_string()));
        labels.extend(custom.into_iter().map(|(k, v)| metrics::Label::new(k, v)));
        Self {
            requests: metrics::counter!("http_requests_total", labels.clone()),
            duration: metrics::histogram!("http_request_duration_seconds", labels.clone()),
            request_size: metrics::histogram!("http_request_size_bytes", labels.clone()),
            response_size: metrics::histogram!("http_response_size_bytes", labels),
        }
    }

    /// The handles of a label set without custom labels, resolved once and kept: a request
    /// then bumps atomics instead of hashing its labels for each metric.
    fn kept(path: &'static str, method: &Method, status: u16) -> Arc<Self> {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock, PoisonError};
        type Key = (&'static str, Method, u16);
        type Kept = HashMap<Key, Arc<HttpHandles>, foldhash::fast::FixedState>;
        static KEPT: OnceLock<Mutex<Kept>> = OnceLock::new();
        let mut kept = KEPT
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (path, method.clone(), status);
        if let Some(found) = kept.get(&key) {
            return Arc::clone(found);
        }
        let handles = Arc::new(Self::resolve(path, method, status, Vec::new()));
        if kept.len() < MAX_KEPT_HTTP_SERIES {
            kept.insert(key, Arc::clone(&handles));
        }
        handles
    }
}

/// A response body that counts what it sends and records the request's metrics once, when it
/// ends or is dropped (a client that leaves mid-stream).
struct MeteredBody {
    inner: Body,
    sent: u64,
    record: Option<Record>,
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(record) = self.record.take() {
                    record.write(self.sent);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            record.write(self.sent);
        }
    }
}

/// `x-request-id` on the answer.
pub(crate) fn stamp_id(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("x-request-id", value);
    }
}

/// The Prometheus recorder with the histogram buckets of each request metric (Bifrost's where
/// it sets them; without buckets the exporter would render summaries, which cannot be summed
/// across replicas).
pub fn prometheus_builder() -> metrics_exporter_prometheus::PrometheusBuilder {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    /// Prometheus's default buckets, as Bifrost's HTTP duration uses them.
    const DURATION: &[f64] = &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];
    const UPSTREAM: &[f64] = &[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0, 90.0,
    ];
    const FIRST_TOKEN: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    const INTER_TOKEN: &[f64] = &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ];
    const SIZE: &[f64] = &[
        100.0,
        1_000.0,
        10_000.0,
        100_000.0,
        1_000_000.0,
        10_000_000.0,
        100_000_000.0,
    ];
    /// The gateway's own time per request: microseconds to milliseconds.
    const OVERHEAD: &[f64] = &[
        0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005, 0.01,
        0.025, 0.05, 0.1,
    ];
    let buckets: [(&str, &[f64]); 7] = [
        ("http_request_duration_seconds", DURATION),
        ("http_request_size_bytes", SIZE),
        ("http_response_size_bytes", SIZE),
        ("bifrost_upstream_latency_seconds", UPSTREAM),
        ("bifrost_stream_first_token_latency_seconds", FIRST_TOKEN),
        ("bifrost_stream_inter_token_latency_seconds", INTER_TOKEN),
        ("asbru_overhead_seconds", OVERHEAD),
    ];
    buckets
        .into_iter()
        .fold(PrometheusBuilder::new(), |builder, (name, values)| {
            // Only fails for an empty bucket list, which none of these is.
            match builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), values) {
                Ok(b) => b,
                Err(_) => PrometheusBuilder::new(),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::{dialect_of, usable_id};

    #[test]
    fn dialects_follow_the_path() {
        assert_eq!(dialect_of("/v1/chat/completions"), "openai");
        assert_eq!(dialect_of("/openai/v1/chat/completions"), "openai");
        assert_eq!(dialect_of("/v1/responses"), "responses");
        assert_eq!(dialect_of("/anthropic/v1/messages"), "anthropic");
        assert_eq!(dialect_of("/v1/messages"), "anthropic");
        assert_eq!(dialect_of("/litellm/anthropic/v1/messages"), "anthropic");
        assert_eq!(
            dialect_of("/genai/v1beta/models/m:generateContent"),
            "genai"
        );
        assert_eq!(dialect_of("/model/m/converse"), "bedrock");
        assert_eq!(dialect_of("/cohere/v2/chat"), "cohere");
    }

    #[test]
    fn client_ids_are_kept_only_when_printable_and_short() {
        assert!(usable_id("req-123"));
        assert!(!usable_id(""));
        assert!(!usable_id("has space"));
        assert!(!usable_id(&"x".repeat(129)));
    }
}
