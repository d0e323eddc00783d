//! The HTTP routes and their handlers.

use crate::error::ApiError;
use asbru_engine::{
    DEFAULT_SESSION_TTL, Gateway, GatewayResponse, KeyPin, MAX_SESSION_TTL, Operation, RequestMeta,
};
use asbru_schema::GatewayError;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use http_body_util::BodyExt;
use metrics_exporter_prometheus::PrometheusHandle;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests, library use).
    pub metrics: Option<PrometheusHandle>,
    /// The `Host` names served (`--allowed-hosts`).
    pub allowed_hosts: crate::guard::AllowedHosts,
    /// Longest pause allowed while a client sends a request body (`--client-read-timeout`);
    /// past it the request is answered 408.
    pub body_read_timeout: Duration,
}

/// A set of routes speaking one client API, as (path, handlers) pairs, so the same set can be
/// mounted under several prefixes and joined with others.
pub(crate) type RouteSet = Vec<(&'static str, MethodRouter<AppState>)>;

/// All routes of the gateway:
/// - the unified OpenAI-compatible API under `/v1` (models named `provider/model`);
/// - each SDK's drop-in route set under its prefix (`/openai`, `/anthropic`, `/genai`,
///   `/bedrock`, `/cohere`), where a bare model name goes to the prefix's provider;
/// - all of those sets joined under `/litellm` and `/langchain`, as Bifrost mounts them;
/// - the SDK-native paths at the root where they do not collide with `/v1` (`/v1/messages`,
///   `/v1beta/models/…`, `/model/{id}/converse`, `/v2/chat`), for clients that change only the
///   host.
pub fn router(state: AppState) -> Router {
    let unified: RouteSet = vec![
        ("/v1/chat/completions", post(chat_completions)),
        ("/v1/completions", post(completions)),
        ("/v1/embeddings", post(embeddings)),
        ("/v1/responses", post(responses)),
        ("/v1/responses/input_tokens", post(input_tokens)),
        ("/v1/rerank", post(rerank)),
        ("/v1/models", get(client_models)),
        ("/health", get(health)),
        ("/api/providers/health", get(providers_health)),
        ("/metrics", get(metrics)),
    ];
    let native = || {
        join(vec![
            crate::anthropic::routes(),
            crate::bedrock::routes(),
            crate::cohere::routes(),
            crate::genai::shared_routes(),
        ])
    };
    let all_sdks = || join(vec![crate::openai_compat::routes(), native()]);
    Router::new()
        .merge(mount(join(vec![unified, native()])))
        .nest("/openai", mount(crate::openai_compat::routes()))
        .nest("/anthropic", mount(crate::anthropic::routes()))
        .nest("/bedrock", mount(crate::bedrock::routes()))
        .nest("/cohere", mount(crate::cohere::routes()))
        .nest("/genai", mount(crate::genai::routes()))
        .nest("/litellm", mount(all_sdks()))
        .nest("/langchain", mount(all_sdks()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::guard::guard,
        ))
        .with_state(state)
}

/// Joins route sets; where two sets hold the same path, the first one's handlers are kept (the
/// sets share their handler for `/v1/models`, which answers in the caller's shape).
fn join(sets: Vec<RouteSet>) -> RouteSet {
    let mut joined: RouteSet = Vec::new();
    for (path, handlers) in sets.into_iter().flatten() {
        if !joined.iter().any(|(p, _)| *p == path) {
            joined.push((path, handlers));
        }
    }
    joined
}

fn mount(set: RouteSet) -> Router<AppState> {
    set.into_iter()
        .fold(Router::new(), |router, (path, handlers)| {
            router.route(path, handlers)
        })
}

/// `GET /v1/models` on every route set: Anthropic's paged list shape for Anthropic clients
/// (they send `anthropic-version`), Gemini's for Google clients (`x-goog-api-client`, which the
/// `google-genai` SDKs call at `/v1/models` by default), OpenAI's list otherwise.
pub(crate) async fn client_models(
    state: State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    query: Query<ModelsQuery>,
) -> Response {
    if headers.contains_key("anthropic-version") {
        crate::anthropic::models(state, query).await
    } else if crate::genai::is_google_client(&headers, &uri) {
        crate::genai::list_models(state, uri).await
    } else {
        list_models(state, query).await
    }
}

/// `GET /v1/models/{model}` at the root and in the unions: Gemini's `Model` for Google clients,
/// else OpenAI's model object (`GET /v1/models/{model}` of the OpenAI API).
pub(crate) async fn client_model(
    state: State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    if crate::genai::is_google_client(&headers, &uri) {
        crate::genai::get_model(state, path).await
    } else {
        retrieve_model(state, path).await
    }
}

/// OpenAI's retrieve-model: the model of that `provider/model` id in the gateway's list, or 404.
async fn retrieve_model(
    State(s): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let id = match path {
        Ok(Path(id)) => id,
        Err(e) => {
            let message = format!("invalid model path: {}", e.body_text());
            return ApiError(GatewayError::invalid_request(message, None)).into_response();
        }
    };
    let provider = id
        .split_once('/')
        .map(|(p, _)| p)
        .filter(|p| s.gateway.provider_names().iter().any(|c| c == p));
    let Some(provider) = provider else {
        return ApiError(GatewayError::not_found(format!(
            "no model `{id}`: models are named `provider/model` with a configured provider"
        )))
        .into_response();
    };
    match s.gateway.list_models(Some(provider)).await {
        Ok(models) => match models.into_iter().find(|m| m["id"] == id.as_str()) {
            Some(model) => json_response(StatusCode::OK, model.to_string()),
            None => ApiError(GatewayError::not_found(format!("no model `{id}`"))).into_response(),
        },
        Err(e) => ApiError(e).into_response(),
    }
}

async fn chat_completions(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference(&s, Operation::ChatCompletion, &headers, body).await
}

async fn completions(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference(&s, Operation::TextCompletion, &headers, body).await
}

/// OpenAI's Responses API by whichever provider the model names: OpenAI answers it itself, every
/// other provider through its chat API (the engine's `Operation::Responses`); the answer is a
/// `response` object or the typed event stream either way.
async fn responses(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference(&s, Operation::Responses, &headers, body).await
}

/// Input-token counting for a Responses-API request, by whichever provider the model names.
async fn input_tokens(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference(&s, Operation::CountTokens, &headers, body).await
}

async fn embeddings(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference(&s, Operation::Embedding, &headers, body).await
}

/// Bifrost's `POST /v1/rerank`: `provider/model`, `query`, `documents`, served through the
/// same pipeline as embeddings (queues, keys, retries, fallbacks).
async fn rerank(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference(&s, Operation::Rerank, &headers, body).await
}

async fn inference(state: &AppState, op: Operation, headers: &HeaderMap, body: Body) -> Response {
    inference_on(state, op, headers, body, None).await
}

/// Serves an OpenAI-dialect request; `route_provider` is the provider of a model named without
/// a configured `provider/` prefix (`None` on `/v1`, where such a model is refused).
pub(crate) async fn inference_on(
    state: &AppState,
    op: Operation,
    headers: &HeaderMap,
    body: Body,
    route_provider: Option<&'static str>,
) -> Response {
    let (body, mut meta) = match accept(state, headers, body).await {
        Ok(accepted) => accepted,
        Err(e) => return ApiError(e).into_response(),
    };
    meta.route_provider = route_provider;
    answer_openai(state, op, &body, meta).await
}

/// The engine's answer to an OpenAI-dialect body, as JSON or as the SSE stream.
pub(crate) async fn answer_openai(
    state: &AppState,
    op: Operation,
    body: &[u8],
    meta: RequestMeta,
) -> Response {
    match state.gateway.handle_openai(op, body, meta).await {
        Ok(GatewayResponse::Json { body, .. }) => json_response(StatusCode::OK, body),
        Ok(GatewayResponse::Stream { stream, .. }) => {
            event_stream(Body::from_stream(stream.map(Ok::<Bytes, Infallible>)))
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// What every inference route reads first: the body (bounded by `max_request_body_size_mb`)
/// and the gateway headers (key pins, session, headers to forward), whatever dialect follows.
pub(crate) async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, RequestMeta), GatewayError> {
    let received = Instant::now();
    require_json(headers)?;
    let limit = state.gateway.max_request_body_bytes();
    let body = read_body(headers, body, limit, state.body_read_timeout).await?;
    let edge = crate::edge::current();
    let meta = RequestMeta {
        pin: KeyPin {
            id: header_str(headers, "x-bf-api-key-id"),
            name: header_str(headers, "x-bf-api-key"),
        },
        session: session(headers)?,
        received,
        forward: state.gateway.forwarded_headers(headers),
        route_provider: None,
        dialect_fields: Vec::new(),
        request_id: edge.as_ref().map(|e| Arc::clone(&e.id)),
        route: edge.map(|e| e.route).unwrap_or_default(),
        plugin_headers: state.gateway.plugin_headers(headers),
        client_wait: received.elapsed(),
    };
    Ok((body, meta))
}

/// A streamed answer: `text/event-stream`, never cached or buffered by proxies.
pub(crate) fn event_stream(body: Body) -> Response {
    streaming_response("text/event-stream", body)
}

/// A streamed answer of `content_type` (SSE, or Bedrock's binary event stream), never cached or
/// buffered by proxies.
pub(crate) fn streaming_response(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies in front of asbru not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Refuses a body that does not say it is JSON (415). Every SDK sends `application/json`; a
/// browser can send `text/plain`, form data or no type at all to another site without a CORS
/// preflight, so accepting those would let any web page the operator visits spend the keys.
fn require_json(headers: &HeaderMap) -> Result<(), GatewayError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let ascii_ci =
        |part: Option<&str>, want: &str| part.is_some_and(|p| p.eq_ignore_ascii_case(want));
    let json = essence.eq_ignore_ascii_case("application/json")
        || (ascii_ci(essence.get(..12), "application/")
            && ascii_ci(essence.get(essence.len().saturating_sub(5)..), "+json"));
    if json {
        return Ok(());
    }
    metrics::counter!("asbru_requests_refused_total", "reason" => "content_type").increment(1);
    let got = if content_type.is_empty() {
        "no content-type".to_owned()
    } else {
        format!("content-type {}", asbru_schema::Untrusted(content_type))
    };
    Err(GatewayError::unsupported_media_type(format!(
        "this route takes a JSON body sent as content-type: application/json; got {got}"
    )))
}

/// Reads the whole body, refusing it with 413 as soon as it passes `limit` bytes (a declared
/// `content-length` over the limit is refused before reading anything), and with 408 when the
/// client pauses longer than `idle` between two pieces: a body that never comes must not hold a
/// connection and a task forever.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    idle: Duration,
) -> Result<Bytes, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        metrics::counter!("asbru_request_body_too_large_total").increment(1);
        return Err(GatewayError::payload_too_large(limit));
    }
    let mut body = http_body_util::Limited::new(body, limit);
    // Most bodies arrive as one piece, which is kept without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest = bytes::BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(e))) if e.is::<http_body_util::LengthLimitError>() => {
                metrics::counter!("asbru_request_body_too_large_total").increment(1);
                return Err(GatewayError::payload_too_large(limit));
            }
            Ok(Some(Err(e))) => {
                return Err(GatewayError::invalid_request(
                    format!("could not read the request body: {e}"),
                    None,
                ));
            }
            Err(_) => {
                metrics::counter!("asbru_request_body_timeouts_total").increment(1);
                return Err(GatewayError::request_timeout(format!(
                    "the request body stopped arriving for {} s",
                    idle.as_secs()
                )));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            None => rest.extend_from_slice(&data),
            Some(earlier) => {
                rest.extend_from_slice(&earlier);
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// Longest accepted `x-bf-session-id` (a UUID is 36 bytes).
const MAX_SESSION_ID_BYTES: usize = 256;

/// `x-bf-session-id` with `x-bf-session-ttl` (seconds, or a number with `s`, `m` or `h`).
fn session(headers: &HeaderMap) -> Result<Option<(String, Duration)>, GatewayError> {
    let Some(id) = header_str(headers, "x-bf-session-id").filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    // Session ids are kept in memory; a bound on their length bounds the store.
    if id.len() > MAX_SESSION_ID_BYTES {
        return Err(GatewayError::invalid_request(
            format!("x-bf-session-id: longer than {MAX_SESSION_ID_BYTES} bytes"),
            Some("x-bf-session-id"),
        ));
    }
    let ttl = match header_str(headers, "x-bf-session-ttl") {
        None => DEFAULT_SESSION_TTL,
        Some(text) => match parse_ttl(&text) {
            Some(ttl) if ttl <= MAX_SESSION_TTL => ttl,
            Some(_) => {
                return Err(GatewayError::invalid_request(
                    format!(
                        "x-bf-session-ttl: at most {} seconds (7 days)",
                        MAX_SESSION_TTL.as_secs()
                    ),
                    Some("x-bf-session-ttl"),
                ));
            }
            None => {
                return Err(GatewayError::invalid_request(
                    format!(
                        "x-bf-session-ttl: {} is not a duration (e.g. 3600, 90s, 30m, 2h)",
                        asbru_schema::Untrusted(&text)
                    ),
                    Some("x-bf-session-ttl"),
                ));
            }
        },
    };
    Ok(Some((id, ttl)))
}

/// `x-bf-session-ttl` as a duration: seconds, or a number with `s`, `m` or `h`; `None` when it is
/// not one or is zero (saturating, so a huge number is a huge duration, refused by the caller).
pub(crate) fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, 's') => (&text[..i], 1),
        (i, 'm') => (&text[..i], 60),
        (i, 'h') => (&text[..i], 3600),
        _ => (text, 1),
    };
    let n: u64 = number.parse().ok()?;
    (n > 0).then(|| Duration::from_secs(n.saturating_mul(unit)))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub(crate) fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::{MAX_SESSION_ID_BYTES, parse_ttl, require_json, session};
    use http::{HeaderMap, HeaderValue, header};
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn only_json_content_types_are_accepted() {
        let check = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = value {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            }
            require_json(&headers).is_ok()
        };
        assert!(check(Some("application/json")));
        assert!(check(Some("Application/JSON; charset=utf-8")));
        assert!(check(Some("application/vnd.api+json")));
        assert!(!check(Some("application/jsonx")));
        assert!(!check(Some("text/plain")));
        assert!(!check(Some("application/x-www-form-urlencoded")));
        assert!(!check(Some("multipart/form-data; boundary=x")));
        assert!(!check(Some("+json")));
        assert!(!check(None));
    }

    #[test]
    fn session_ttls_parse() {
        assert_eq!(parse_ttl("3600"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_ttl("0"), None);
        assert_eq!(parse_ttl("soon"), None);
        assert_eq!(parse_ttl(""), None);
        assert_eq!(
            parse_ttl("18446744073709551615h"),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    fn headers(id: &[u8], ttl: Option<&[u8]>) -> Option<HeaderMap> {
        let mut h = HeaderMap::new();
        h.insert("x-bf-session-id", HeaderValue::from_bytes(id).ok()?);
        if let Some(ttl) = ttl {
            h.insert("x-bf-session-ttl", HeaderValue::from_bytes(ttl).ok()?);
        }
        Some(h)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_ttl_text_parses_or_is_refused(text in ".{0,24}") {
            if let Some(ttl) = parse_ttl(&text) {
                prop_assert!(ttl > Duration::ZERO);
            }
        }

        #[test]
        fn ttls_in_every_unit_parse(
            n in 1u64..,
            unit in proptest::sample::select(&[("", 1u64), ("s", 1), ("m", 60), ("h", 3600)][..]),
            pad in "[ \t]{0,2}",
        ) {
            let text = format!("{pad}{n}{}{pad}", unit.0);
            prop_assert_eq!(
                parse_ttl(&text),
                Some(Duration::from_secs(n.saturating_mul(unit.1)))
            );
        }

        #[test]
        fn session_headers_are_read_or_refused_with_their_name(
            id in proptest::collection::vec(any::<u8>(), 0..300),
            ttl in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
        ) {
            let Some(h) = headers(&id, ttl.as_deref()) else {
                return Ok(());
            };
            match session(&h) {
                Ok(Some((read, ttl))) => {
                    prop_assert_eq!(read.as_bytes(), &id[..]);
                    prop_assert!(read.len() <= MAX_SESSION_ID_BYTES);
                    prop_assert!(ttl > Duration::ZERO);
                }
                Ok(None) => prop_assert!(
                    id.is_empty() || h.get("x-bf-session-id").is_some_and(|v| v.to_str().is_err())
                ),
                Err(e) => prop_assert!(
                    matches!(e.param(), Some("x-bf-session-id" | "x-bf-session-ttl")),
                    "{:?}",
                    e
                ),
            }
        }
    }
}

/// `GET …/models` query: the gateway's `provider` filter, and Anthropic's paging (`limit`,
/// `after_id`, `before_id`) for Anthropic clients.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ModelsQuery {
    pub(crate) provider: Option<String>,
    pub(crate) limit: Option<usize>,
    pub(crate) after_id: Option<String>,
    pub(crate) before_id: Option<String>,
}

pub(crate) async fn list_models(
    State(s): State<AppState>,
    Query(q): Query<ModelsQuery>,
) -> Response {
    match s.gateway.list_models_reporting(q.provider.as_deref()).await {
        Ok(listed) => {
            // Failed providers go in an extra top-level `errors` field, which OpenAI clients
            // ignore, and their names in a header.
            let mut body = serde_json::json!({ "object": "list", "data": listed.models });
            if listed.failures.is_empty() {
                return json_response(StatusCode::OK, body.to_string());
            }
            body["errors"] = serde_json::json!(listed.failures);
            let names: Vec<&str> = listed
                .failures
                .iter()
                .map(|f| f.provider.as_str())
                .collect();
            let mut response = json_response(StatusCode::OK, body.to_string());
            if let Ok(value) = axum::http::HeaderValue::from_str(&names.join(",")) {
                response
                    .headers_mut()
                    .insert("x-asbru-failed-providers", value);
            }
            response
        }
        Err(e) => ApiError(e).into_response(),
    }
}

async fn health() -> Response {
    json_response(
        StatusCode::OK,
        r#"{"status":"ok","components":{"db_pings":"disabled"}}"#,
    )
}

/// Per provider and key: circuit state, error rate, latency and effective weight.
async fn providers_health(State(s): State<AppState>) -> Response {
    let body = serde_json::json!({ "providers": s.gateway.health_report() });
    json_response(StatusCode::OK, body.to_string())
}

async fn metrics(State(s): State<AppState>) -> Response {
    match &s.metrics {
        Some(handle) => {
            s.gateway.refresh_health_gauges();
            for (provider, admitted) in s.gateway.queue_admitted() {
                metrics::gauge!("asbru_queue_admitted", "provider" => provider)
                    .set(admitted as f64);
            }
            let mut response = Response::new(Body::from(handle.render()));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        None => ApiError(GatewayError::unavailable("metrics are not enabled")).into_response(),
    }
}

async fn not_found(uri: http::Uri) -> Response {
    ApiError(GatewayError::no_route(format!(
        "no route for {}",
        uri.path()
    )))
    .into_response()
}

async fn method_not_allowed(method: http::Method, uri: http::Uri) -> Response {
    ApiError(GatewayError::method_not_allowed(format!(
        "method {method} is not allowed on {}",
        uri.path()
    )))
    .into_response()
}
