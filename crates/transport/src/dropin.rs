//! What every translating drop-in route shares: the client's request, once converted to the
//! unified chat request, goes through the engine exactly like `/v1/chat/completions` (keys,
//! queues, retries, fallbacks, health — no route bypasses it), and the answer comes back as a
//! unified response or as the engine's OpenAI SSE stream, which [`translate_stream`] turns into
//! the route's own stream format through a [`StreamOut`].
//!
//! Each route module (`anthropic`, `genai`, `bedrock`, `cohere`) owns only its dialect: parsing
//! its request, shaping its answer, its stream events and its error body. (OpenAI's Responses
//! API does not come through here: it is an engine operation of its own, which OpenAI serves
//! natively and the other providers through chat, so fallbacks may cross between the two.)

use crate::state::AppState;
use asbru_dialects::sse::{SseFramer, single_data_line};
use asbru_engine::{GatewayResponse, Operation, RequestMeta, SseStream};
use asbru_schema::GatewayError;
use asbru_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

/// The engine's answer to a translated chat request.
pub(crate) enum ChatAnswer {
    Json(Box<ChatResponse>),
    Stream(SseStream),
}

/// Sends `chat` through the engine. A model without a configured `provider/` prefix goes to
/// `route_provider`, the provider the route is named after (`anthropic` for `/anthropic/…`),
/// as Bifrost does.
pub(crate) async fn chat(
    state: &AppState,
    mut meta: RequestMeta,
    chat: ChatRequest,
    route_provider: &'static str,
) -> Result<ChatAnswer, GatewayError> {
    meta.route_provider = Some(route_provider);
    // What the client's dialect added beyond OpenAI's fields stays in `extra`; providers that
    // take the OpenAI body as it is must not get it.
    meta.dialect_fields = chat.extra.keys().cloned().collect();
    let openai = serde_json::to_vec(&chat)
        .map_err(|e| GatewayError::internal(format!("serializing the chat request: {e}")))?;
    match state
        .gateway
        .handle_openai(Operation::ChatCompletion, &openai, meta)
        .await?
    {
        GatewayResponse::Json { body, .. } => {
            let unified: ChatResponse = serde_json::from_slice(&body).map_err(|e| {
                GatewayError::upstream_unreachable(format!(
                    "the provider's answer cannot be read as a chat completion: {e}"
                ))
            })?;
            Ok(ChatAnswer::Json(Box::new(unified)))
        }
        GatewayResponse::Stream { stream, .. } => Ok(ChatAnswer::Stream(stream)),
    }
}

/// The engine's JSON answer to `request` (a unified request that cannot stream: embeddings,
/// rerank, counting), sent as the OpenAI dialect.
pub(crate) async fn json_from_engine<T: serde::Serialize>(
    state: &AppState,
    op: Operation,
    request: &T,
    meta: RequestMeta,
) -> Result<Bytes, GatewayError> {
    let body = serde_json::to_vec(request)
        .map_err(|e| GatewayError::internal(format!("serializing the request: {e}")))?;
    match state.gateway.handle_openai(op, &body, meta).await? {
        GatewayResponse::Json { body, .. } => Ok(body),
        GatewayResponse::Stream { .. } => Err(GatewayError::internal(
            "the engine answered a request that cannot stream with a stream",
        )),
    }
}

/// The input tokens of `chat`, counted by the provider its model names (Anthropic with
/// `count_tokens`, Gemini with `:countTokens`, OpenAI with `input_tokens`) through the
/// engine's Responses-shaped counting.
pub(crate) async fn count_input_tokens(
    state: &AppState,
    mut meta: RequestMeta,
    chat: &ChatRequest,
    route_provider: &'static str,
) -> Result<u64, GatewayError> {
    meta.route_provider = Some(route_provider);
    let request = asbru_dialects::openai::responses::chat_to_responses(chat);
    let body = json_from_engine(state, Operation::CountTokens, &request, meta).await?;
    let counted: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        GatewayError::upstream_unreachable(format!("the provider's count cannot be read: {e}"))
    })?;
    counted["input_tokens"].as_u64().ok_or_else(|| {
        GatewayError::upstream_unreachable("the provider's count has no input_tokens")
    })
}

/// Parses a request body as `T`, or the 400 naming the field at fault (`messages[0].role`).
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, GatewayError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            GatewayError::invalid_request(format!("invalid request: {inner}"), None)
        } else {
            GatewayError::invalid_request(format!("{path}: {inner}"), Some(&path))
        }
    })
}

/// A route's stream format, fed with the unified chunks of the engine's stream in order.
pub(crate) trait StreamOut: Send + 'static {
    /// Writes what `chunk` becomes in the route's format (possibly nothing).
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) -> Result<(), String>;
    /// Writes what closes a stream that ended well (the engine's `[DONE]`).
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String>;
    /// Writes the route's in-stream error for a failure after the stream started.
    fn error(&mut self, error: &GatewayError, out: &mut Vec<u8>);
}

/// The engine's OpenAI SSE stream in the route's format: one output piece per input piece that
/// produced output, ending after `[DONE]` or after the first error (a stream that stops without
/// either is reported as cut).
pub(crate) fn translate_stream<S: StreamOut>(
    stream: SseStream,
    sink: S,
) -> impl futures_util::Stream<Item = Bytes> + Send {
    let state = (stream, SseFramer::default(), sink, false);
    futures_util::stream::unfold(
        state,
        |(mut stream, mut framer, mut sink, mut done)| async move {
            while !done {
                let mut out = Vec::new();
                match stream.next().await {
                    None => {
                        sink.error(
                            &GatewayError::upstream_unreachable("the stream ended early"),
                            &mut out,
                        );
                        done = true;
                    }
                    Some(piece) => {
                        framer.push(&piece);
                        done = feed(&mut framer, &mut sink, &mut out);
                    }
                }
                if !out.is_empty() {
                    return Some((Bytes::from(out), (stream, framer, sink, done)));
                }
            }
            None
        },
    )
}

/// Feeds every complete frame to `sink`; true once the stream is over (done or failed).
fn feed<S: StreamOut>(framer: &mut SseFramer, sink: &mut S, out: &mut Vec<u8>) -> bool {
    while let Ok(Some(frame)) = framer.next_event() {
        let Some(data) = single_data_line(&frame) else {
            continue;
        };
        if data == b"[DONE]" {
            if let Err(e) = sink.finish(out) {
                sink.error(&untranslatable(&e), out);
            }
            return true;
        }
        let value = match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(value) => value,
            Err(e) => {
                let error = GatewayError::upstream_unreachable(format!(
                    "a streamed chunk is not JSON: {e}"
                ));
                sink.error(&error, out);
                return true;
            }
        };
        if value.get("error").is_some() {
            sink.error(&embedded_error(&value), out);
            return true;
        }
        let converted = serde_json::from_value::<ChatChunk>(value)
            .map_err(|e| e.to_string())
            .and_then(|chunk| sink.chunk(&chunk, out));
        if let Err(e) = converted {
            sink.error(&untranslatable(&e), out);
            return true;
        }
    }
    false
}

fn untranslatable(reason: &str) -> GatewayError {
    GatewayError::upstream_unreachable(format!(
        "a streamed chunk has no form in this API: {reason}"
    ))
}

/// The gateway error of an `{"error": …}` event the engine put in the stream.
fn embedded_error(value: &serde_json::Value) -> GatewayError {
    let error = &value["error"];
    let status = error
        .get("status_code")
        .or_else(|| value.get("status_code"))
        .and_then(serde_json::Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(502);
    let message = error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("the stream failed");
    let kind = error
        .get("type")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    GatewayError::upstream(status, message.to_owned(), kind, None, None)
}

/// One named SSE event (`event: NAME` + `data: JSON`), as Anthropic and Cohere stream.
pub(crate) fn write_named_event<T: serde::Serialize>(out: &mut Vec<u8>, name: &str, data: &T) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing plain data structures into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

/// `error` in a dialect's own body shape, with its status.
pub(crate) fn error_response<T: serde::Serialize>(
    error: &GatewayError,
    status: u16,
    body: &T,
) -> axum::response::Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = crate::respond::json_response(
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
        bytes,
    );
    crate::error::note_error(&mut response, error);
    response
}
