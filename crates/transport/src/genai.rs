//! The Google GenAI drop-in route: the Gemini API's `models` methods under `/genai` (and at the
//! root), so the official `google-genai` SDKs work against asbru by changing only their base URL,
//! whichever provider serves the request.
//!
//! - `POST …/models/{model}:generateContent` and `:streamGenerateContent` — the Gemini request
//!   becomes the unified chat request ([`asbru_dialects::gemini`]'s client direction), goes
//!   through the engine exactly like `/v1/chat/completions` (keys, queues, retries, fallbacks,
//!   health — no bypass), and comes back as a `GenerateContentResponse`, or as Gemini's stream
//!   translated chunk by chunk: SSE with `?alt=sse` (what the SDKs ask for), else the JSON array
//!   Google sends without it ([`stream`]).
//! - `:embedContent`, `:batchEmbedContents` — embeddings through the engine ([`embed`]).
//! - `:countTokens` — the engine's input-token counting, answered `{"totalTokens": n}`.
//! - `GET …/models` and `GET …/models/{model}` — the configured providers' models in Gemini's
//!   shape, paged with `pageSize`/`pageToken` ([`models`]).
//!
//! Model names may hold `/` (`openai/gpt-4o-mini` is `models/openai/gpt-4o-mini:generateContent`)
//! and `:` (Bedrock's `…-v1:0`), so the path after `models/` is one wildcard and the method is
//! what follows its last `:`. A model without a configured `provider/` prefix is served by the
//! `gemini` provider. Both `v1beta` (the API version Google documents) and `v1` (what recent
//! `google-genai` releases call by default) are served; the methods are the same.
//!
//! Errors have Google's shape (`{"error": {"code", "message", "status"}}`), so the SDKs raise
//! their own exceptions; a failure after a stream started is an error object in the stream. The
//! client's `x-goog-api-key` (or `?key=`) is its credential to the gateway, never forwarded:
//! the provider gets the key the gateway holds.

mod embed;
mod models;
mod stream;

use crate::accept::accept;
use crate::dropin::{self, ChatAnswer, parse_json, translate_stream};
use crate::respond::{event_stream, json_response};
use crate::state::{AppState, RouteSet};
use asbru_dialects::gemini::error_to_gemini;
use asbru_dialects::gemini::request::from_gemini;
use asbru_dialects::gemini::response::to_gemini;
use asbru_dialects::gemini::types::{CountTokensRequest, GenerateContentRequest};
use asbru_schema::GatewayError;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde_json::{Map, Value};
use std::convert::Infallible;
use stream::{Framing, GenaiStream};

pub(crate) use models::{get_model, list_models};

/// The provider a model without `provider/` goes to on this route.
const ROUTE_PROVIDER: &str = "gemini";

/// The Gemini API's paths, mounted under `/genai`: both API versions, every handler Gemini's.
pub(crate) fn routes() -> RouteSet {
    vec![
        ("/v1beta/models", get(list_models)),
        ("/v1beta/models/{*name}", post(call).get(get_model)),
        ("/v1/models", get(list_models)),
        ("/v1/models/{*name}", post(call).get(get_model)),
    ]
}

/// Whether a request comes from a Google client: the SDKs always send `x-goog-api-client`, and
/// Google's API key travels in `x-goog-api-key` or `?key=`.
pub(crate) fn is_google_client(headers: &HeaderMap, uri: &Uri) -> bool {
    headers.contains_key("x-goog-api-client")
        || headers.contains_key("x-goog-api-key")
        || uri.query().is_some_and(|q| {
            q.split('&')
                .any(|pair| pair.split('=').next() == Some("key"))
        })
}

/// A Gemini `models` method, from the part of the path after its last `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Generate,
    Stream,
    Embed,
    BatchEmbed,
    CountTokens,
}

/// Splits `{model}:{method}` at the last `:`; `None` for a method Gemini does not have here.
fn split_call(name: &str) -> Option<(&str, Method)> {
    let (model, method) = name.rsplit_once(':')?;
    let method = match method {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::Stream,
        "embedContent" => Method::Embed,
        "batchEmbedContents" => Method::BatchEmbed,
        "countTokens" => Method::CountTokens,
        _ => return None,
    };
    Some((model, method))
}

/// The query of a method call: `alt=sse` asks for an SSE stream; `key` is ignored (it is the
/// client's credential to the gateway).
#[derive(Debug, serde::Deserialize)]
struct CallQuery {
    alt: Option<String>,
}

/// `POST …/models/{model}:{method}`.
pub(crate) async fn call(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match dispatch(&state, path, &uri, &headers, body).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn dispatch(
    state: &AppState,
    path: Result<Path<String>, PathRejection>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let name = model_path(path)?;
    let Some((model, method)) = split_call(&name) else {
        return Err(GatewayError::no_route(format!(
            "no method `models/{name}`: this API serves `models/{{model}}:` followed by \
             generateContent, streamGenerateContent, embedContent, batchEmbedContents or \
             countTokens"
        )));
    };
    if model.is_empty() {
        return Err(GatewayError::invalid_request(
            "model: the path names no model (`models/{model}:method`)",
            Some("model"),
        ));
    }
    match method {
        Method::Generate => generate(state, headers, body, model, None).await,
        Method::Stream => {
            let Query(query) = Query::<CallQuery>::try_from_uri(uri).map_err(|e| {
                GatewayError::invalid_request(format!("invalid query: {}", e.body_text()), None)
            })?;
            let framing = match query.alt.as_deref() {
                Some("sse") => Framing::Sse,
                _ => Framing::Array,
            };
            generate(state, headers, body, model, Some(framing)).await
        }
        Method::Embed => embed::single(state, headers, body, model).await,
        Method::BatchEmbed => embed::batch(state, headers, body, model).await,
        Method::CountTokens => count_tokens(state, headers, body, model).await,
    }
}

/// The model path after `models/`, or the 400 for a path that cannot be read.
fn model_path(path: Result<Path<String>, PathRejection>) -> Result<String, GatewayError> {
    path.map(|Path(name)| name).map_err(|e| {
        GatewayError::invalid_request(format!("invalid model path: {}", e.body_text()), None)
    })
}

/// `:generateContent` (`stream` is `None`) and `:streamGenerateContent`.
async fn generate(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    model: &str,
    stream: Option<Framing>,
) -> Result<Response, GatewayError> {
    let (body, meta) = accept(state, headers, body).await?;
    let request: GenerateContentRequest = parse_json(&body)?;
    if request.contents.is_empty() {
        return Err(GatewayError::invalid_request(
            "contents: must hold at least one turn",
            Some("contents"),
        ));
    }
    let mut chat = from_gemini(&request, model, stream.is_some()).map_err(|e| {
        GatewayError::invalid_request(format!("this request cannot be served: {e}"), None)
    })?;
    carry_gateway_fields(&request.extra, &mut chat.extra);
    let answer = dropin::chat(state, meta, chat, ROUTE_PROVIDER).await?;
    match (answer, stream) {
        (ChatAnswer::Json(unified), framing) => {
            let answer = to_gemini(&unified).map_err(|e| {
                GatewayError::upstream_unreachable(format!(
                    "the provider's answer has no Gemini form: {e}"
                ))
            })?;
            match framing {
                None => {
                    let bytes = serde_json::to_vec(&answer).map_err(|e| {
                        GatewayError::internal(format!("serializing the answer: {e}"))
                    })?;
                    Ok(json_response(StatusCode::OK, bytes))
                }
                // A stream was asked for and the provider answered whole: a stream of one.
                Some(framing) => Ok(streamed(
                    framing,
                    Body::from(stream::whole(&answer, framing)),
                )),
            }
        }
        (ChatAnswer::Stream(events), Some(framing)) => {
            let chunks = translate_stream(events, GenaiStream::new(framing));
            Ok(streamed(
                framing,
                Body::from_stream(chunks.map(Ok::<Bytes, Infallible>)),
            ))
        }
        (ChatAnswer::Stream(_), None) => Err(GatewayError::internal(
            "the engine streamed an answer that was asked for whole",
        )),
    }
}

/// A streamed answer in its framing: `text/event-stream` for SSE, a JSON array otherwise.
fn streamed(framing: Framing, body: Body) -> Response {
    match framing {
        Framing::Sse => event_stream(body),
        Framing::Array => {
            let mut response = json_response(StatusCode::OK, body);
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
    }
}

/// Bifrost's own request fields that ride in a Gemini body (`fallbacks`), put where the engine
/// reads them; Gemini's unknown fields are not passed on.
fn carry_gateway_fields(from: &Map<String, Value>, into: &mut Map<String, Value>) {
    if let Some(fallbacks) = from.get("fallbacks") {
        into.insert("fallbacks".to_owned(), fallbacks.clone());
    }
}

/// `:countTokens`: bare `contents`, or a whole `generateContentRequest` (then its system
/// instruction and tools count too), counted by the provider the model names through the
/// engine's input-token counting — Gemini with `:countTokens`, Anthropic with `count_tokens`,
/// OpenAI with `input_tokens` — and answered as Gemini answers: `{"totalTokens": n}`.
async fn count_tokens(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    model: &str,
) -> Result<Response, GatewayError> {
    let (body, mut meta) = accept(state, headers, body).await?;
    meta.route_provider = Some(ROUTE_PROVIDER);
    let request: CountTokensRequest = parse_json(&body)?;
    let generate = match (request.generate_content_request, request.contents) {
        (Some(whole), _) => whole,
        (None, Some(contents)) => GenerateContentRequest {
            contents,
            ..GenerateContentRequest::default()
        },
        (None, None) => {
            return Err(GatewayError::invalid_request(
                "contents: either contents or generateContentRequest is required",
                Some("contents"),
            ));
        }
    };
    let chat = from_gemini(&generate, model, false).map_err(|e| {
        GatewayError::invalid_request(format!("this request cannot be counted: {e}"), None)
    })?;
    let total = dropin::count_input_tokens(state, meta, &chat, ROUTE_PROVIDER).await?;
    let answer = serde_json::json!({ "totalTokens": total });
    Ok(json_response(StatusCode::OK, answer.to_string()))
}

/// An error in Google's shape, with its status.
fn error_response(error: &GatewayError) -> Response {
    let (status, body) = error_to_gemini(error);
    dropin::error_response(error, status, &body)
}

#[cfg(test)]
mod tests {
    use super::{Method, is_google_client, split_call};
    use http::{HeaderMap, Uri};

    #[test]
    fn the_method_follows_the_last_colon() {
        assert_eq!(
            split_call("gemini-2.5-flash:generateContent"),
            Some(("gemini-2.5-flash", Method::Generate))
        );
        assert_eq!(
            split_call("openai/gpt-4o-mini:streamGenerateContent"),
            Some(("openai/gpt-4o-mini", Method::Stream))
        );
        assert_eq!(
            split_call("bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0:countTokens"),
            Some((
                "bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0",
                Method::CountTokens
            ))
        );
        assert_eq!(split_call("gemini-2.5-flash:predict"), None);
        assert_eq!(split_call("gemini-2.5-flash"), None);
    }

    #[test]
    fn google_clients_are_told_apart() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        let mut headers = HeaderMap::new();
        assert!(!is_google_client(&headers, &uri("/v1/models")));
        assert!(is_google_client(&headers, &uri("/v1/models?key=AIza")));
        assert!(!is_google_client(&headers, &uri("/v1/models?monkey=1")));
        headers.insert("x-goog-api-client", "google-genai-sdk/1.0".parse().unwrap());
        assert!(is_google_client(&headers, &uri("/v1/models")));
    }
}
