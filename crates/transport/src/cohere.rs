//! The Cohere drop-in route: `POST /cohere/v2/chat`, `/cohere/v2/embed` and `/cohere/v2/rerank`
//! (and the same paths at the root), so Cohere's official SDKs (`cohere.ClientV2`) work against
//! asbru by changing only their base URL, whichever provider serves the request.
//!
//! Each request is converted to its unified form ([`asbru_dialects::cohere`]'s client
//! direction) and goes through the engine like the `/v1` routes (keys, queues, retries,
//! fallbacks, health — no bypass): chat as a chat completion, embed as embeddings, rerank as
//! Bifrost's rerank. Answers come back in Cohere's shapes; a chat stream is Cohere's named-event
//! stream translated chunk by chunk (`message-start`, `content-start`/`-delta`/`-end`,
//! `tool-plan-delta`, `tool-call-start`/`-delta`/`-end`, `message-end`). Errors use Cohere's
//! body (`{"id", "message"}`) and status, so the SDK raises its own exception classes; a failure
//! after the stream started ends the message as Cohere's stream does, `message-end` with
//! `finish_reason: ERROR` and the `error` text.
//!
//! A model without a `provider/` prefix is served by the `cohere` provider.

use crate::accept::accept;
use crate::dropin::{self, ChatAnswer, StreamOut, json_from_engine, parse_json, translate_stream};
use crate::respond::{event_stream, json_response};
use crate::state::{AppState, RouteSet};
use asbru_dialects::cohere::embed::{from_cohere_embed_request, to_cohere_embed_response};
use asbru_dialects::cohere::request::from_cohere;
use asbru_dialects::cohere::rerank::{from_cohere_rerank_request, to_cohere_rerank_response};
use asbru_dialects::cohere::response::to_cohere;
use asbru_dialects::cohere::types::{
    ChatRequest as CohereChat, EmbedRequest, RerankRequest as CohereRerank,
};
use asbru_dialects::cohere::{StreamFromUnified, error_to_cohere, write_event};
use asbru_engine::Operation;
use asbru_schema::GatewayError;
use asbru_schema::chat::ChatChunk;
use asbru_schema::openai::EmbeddingResponse;
use asbru_schema::rerank::RerankResponse;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

/// The provider a model without `provider/` goes to on this route.
const ROUTE_PROVIDER: &str = "cohere";

/// The Cohere v2 API's paths, mounted under `/cohere`, `/litellm`, `/langchain` and the root.
pub(crate) fn routes() -> RouteSet {
    vec![
        ("/v2/chat", post(chat)),
        ("/v2/embed", post(embed)),
        ("/v2/rerank", post(rerank)),
    ]
}

/// `POST /cohere/v2/chat`: JSON, or Cohere's event stream with `stream: true`.
pub(crate) async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve_chat(&state, &headers, body)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

async fn serve_chat(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let (body, meta) = accept(state, headers, body).await?;
    let request: CohereChat = parse_json(&body)?;
    check_chat(&request)?;
    let stream = request.stream == Some(true);
    // A forced tool call's text is its plan, as Cohere streams it (see `StreamFromUnified`).
    let plans = request.tool_choice.as_deref() == Some("REQUIRED");
    let mut chat = from_cohere(&request);
    chat.stream = Some(stream);
    match dropin::chat(state, meta, chat, ROUTE_PROVIDER).await? {
        ChatAnswer::Json(unified) => {
            let answer = to_cohere(&unified).map_err(|e| {
                GatewayError::upstream_unreachable(format!(
                    "the provider's answer has no Cohere form: {e}"
                ))
            })?;
            Ok(json_answer(&answer))
        }
        ChatAnswer::Stream(stream) => {
            let events = if plans {
                StreamFromUnified::new().with_tool_plan()
            } else {
                StreamFromUnified::new()
            };
            Ok(event_stream(Body::from_stream(
                translate_stream(stream, CohereEvents(events)).map(Ok::<Bytes, Infallible>),
            )))
        }
    }
}

/// What Cohere itself refuses before generating, refused the same way here (the unified
/// conversion would otherwise drop it silently).
fn check_chat(request: &CohereChat) -> Result<(), GatewayError> {
    if request.messages.is_empty() {
        return Err(GatewayError::invalid_request(
            "messages: at least one message is required",
            Some("messages"),
        ));
    }
    if let Some(choice) = request.tool_choice.as_deref() {
        if !matches!(choice, "REQUIRED" | "NONE" | "AUTO") {
            return Err(GatewayError::invalid_request(
                format!("tool_choice: {choice:?} must be one of 'REQUIRED', 'NONE'"),
                Some("tool_choice"),
            ));
        }
        if choice == "REQUIRED" && request.tools.as_ref().is_none_or(Vec::is_empty) {
            return Err(GatewayError::invalid_request(
                "tool_choice: REQUIRED needs at least one tool in `tools`",
                Some("tool_choice"),
            ));
        }
    }
    Ok(())
}

/// `POST /cohere/v2/embed`: `texts` embedded by whichever provider the model names, answered as
/// Cohere's `embeddings_by_type` with `float` vectors.
pub(crate) async fn embed(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve_embed(&state, &headers, body)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

/// Cohere embed fields with a meaning for the engine or the provider, passed on: Bifrost's
/// `fallbacks`, and what the Cohere provider sends on to Cohere.
const EMBED_FIELDS_KEPT: [&str; 3] = ["fallbacks", "truncate", "max_tokens"];

async fn serve_embed(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let (body, mut meta) = accept(state, headers, body).await?;
    meta.route_provider = Some(ROUTE_PROVIDER);
    let request: EmbedRequest = parse_json(&body)?;
    let texts = embed_texts(&request)?;
    let mut unified = from_cohere_embed_request(&request);
    for key in EMBED_FIELDS_KEPT {
        if let Some(value) = request.extra.get(key) {
            unified.extra.insert(key.to_owned(), value.clone());
        }
    }
    // Cohere's own fields (`input_type`, `truncate`, …) are for a Cohere provider only.
    meta.dialect_fields = unified.extra.keys().cloned().collect();
    let answer = json_from_engine(state, Operation::Embedding, &unified, meta).await?;
    let answer: EmbeddingResponse = serde_json::from_slice(&answer).map_err(|e| {
        GatewayError::upstream_unreachable(format!(
            "the provider's answer cannot be read as embeddings: {e}"
        ))
    })?;
    let mut out = to_cohere_embed_response(&answer, &fresh_id());
    out.texts = Some(texts);
    Ok(json_answer(&out))
}

/// The texts of an embed request, or the 400 for what this route cannot embed: images and
/// mixed `inputs` (the unified embeddings carry text only), and any `embedding_types` but
/// `float` (the providers' answers are floats; Cohere's quantized forms cannot be made from
/// them faithfully).
fn embed_texts(request: &EmbedRequest) -> Result<Vec<String>, GatewayError> {
    if let Some(types) = &request.embedding_types
        && let Some(other) = types.iter().find(|t| *t != "float")
    {
        return Err(GatewayError::invalid_request(
            format!("embedding_types: only \"float\" embeddings can be served here, not {other:?}"),
            Some("embedding_types"),
        ));
    }
    let Some(texts) = &request.texts else {
        if let Some(field) = ["images", "inputs"]
            .into_iter()
            .find(|f| request.extra.contains_key(*f))
        {
            return Err(GatewayError::invalid_request(
                format!("{field}: only `texts` can be embedded here"),
                Some(field),
            ));
        }
        return Err(GatewayError::invalid_request(
            "texts: required (the texts to embed)",
            Some("texts"),
        ));
    };
    if texts.is_empty() {
        return Err(GatewayError::invalid_request(
            "texts: at least one text is required",
            Some("texts"),
        ));
    }
    Ok(texts.clone())
}

/// `POST /cohere/v2/rerank`: the documents ordered by the provider the model names (Bifrost's
/// rerank through the engine), answered in Cohere's shape.
pub(crate) async fn rerank(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    serve_rerank(&state, &headers, body)
        .await
        .unwrap_or_else(|e| error_response(&e))
}

async fn serve_rerank(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let (body, mut meta) = accept(state, headers, body).await?;
    meta.route_provider = Some(ROUTE_PROVIDER);
    let request: CohereRerank = parse_json(&body)?;
    if request.documents.is_empty() {
        return Err(GatewayError::invalid_request(
            "documents: at least one document is required",
            Some("documents"),
        ));
    }
    let request = from_cohere_rerank_request(&request);
    let answer = json_from_engine(state, Operation::Rerank, &request, meta).await?;
    let answer: RerankResponse = serde_json::from_slice(&answer).map_err(|e| {
        GatewayError::upstream_unreachable(format!(
            "the provider's answer cannot be read as a rerank: {e}"
        ))
    })?;
    let mut out = to_cohere_rerank_response(&answer);
    out.id.get_or_insert_with(fresh_id);
    Ok(json_answer(&out))
}

fn json_answer<T: Serialize>(answer: &T) -> Response {
    match serde_json::to_vec(answer) {
        Ok(bytes) => json_response(StatusCode::OK, bytes),
        Err(e) => error_response(&GatewayError::internal(format!(
            "serializing the answer: {e}"
        ))),
    }
}

/// An error in Cohere's shape (`{"id", "message"}`), with its status.
fn error_response(error: &GatewayError) -> Response {
    let mut body = error_to_cohere(error);
    body.id = Some(fresh_id());
    dropin::error_response(error, error.status(), &body)
}

/// A new id in the UUID layout Cohere uses for its answers and errors: unique within the
/// process (a counter) and unlikely to repeat across restarts (mixed with the clock). Not a
/// secret and not random enough to be one.
fn fresh_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let high = mix(nanos ^ count.rotate_left(32));
    let low = mix(high ^ count);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0x0fff,
        (low >> 48) & 0x3fff | 0x8000,
        low & 0xffff_ffff_ffff
    )
}

/// SplitMix64's finalizer: spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Cohere's chat stream: `event: {type}` and its JSON, one `message-start`, blocks opened, fed
/// and closed in order, `message-end` last — with `finish_reason: ERROR` for a failure after
/// the start.
struct CohereEvents(StreamFromUnified);

impl StreamOut for CohereEvents {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) -> Result<(), String> {
        for event in self.0.push(chunk) {
            write_event(out, &event);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        for event in self.0.finish() {
            write_event(out, &event);
        }
        Ok(())
    }

    fn error(&mut self, error: &GatewayError, out: &mut Vec<u8>) {
        for event in self.0.fail(error.message()) {
            write_event(out, &event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fresh_id;

    #[test]
    fn ids_look_like_uuids_and_differ() {
        let (a, b) = (fresh_id(), fresh_id());
        assert_ne!(a, b);
        for id in [a, b] {
            let parts: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
            assert!(
                id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
                "{id}"
            );
            assert_eq!(&id[14..15], "4", "{id}");
        }
    }
}
