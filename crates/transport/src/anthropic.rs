//! The Anthropic drop-in route: `POST /anthropic/v1/messages` (and `/v1/messages` at the root), so
//! the official Anthropic SDKs work against asbru by changing only their base URL, whichever
//! provider serves the request.
//!
//! The Messages request becomes the unified chat request ([`asbru_dialects::anthropic`]'s client
//! direction), goes through the engine exactly like `/v1/chat/completions` (keys, queues,
//! retries, fallbacks, health — no bypass), and the answer comes back as a Messages response, or
//! as Anthropic's event stream translated chunk by chunk (one `message_start`, content blocks
//! opened, fed and closed in order, `message_delta` with the stop reason and usage, then
//! `message_stop`). Errors use Anthropic's error shape, so SDKs raise their own exception
//! classes; a failure after the stream started is an `error` event.
//!
//! A model without a `provider/` prefix is served by the `anthropic` provider.

use crate::accept::accept;
use crate::dropin::{self, ChatAnswer, StreamOut, parse_json, translate_stream, write_named_event};
use crate::respond::{event_stream, json_response};
use crate::state::{AppState, RouteSet};
use asbru_dialects::anthropic::StreamFromUnified;
use asbru_dialects::anthropic::error::error_to_anthropic;
use asbru_dialects::anthropic::request::from_anthropic;
use asbru_dialects::anthropic::response::to_anthropic;
use asbru_dialects::anthropic::types::MessagesRequest;
use asbru_schema::GatewayError;
use asbru_schema::chat::ChatChunk;
use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use std::convert::Infallible;

/// The provider a model without `provider/` goes to on this route.
const ROUTE_PROVIDER: &str = "anthropic";

/// The Anthropic API's paths, mounted under `/anthropic`, `/litellm`, `/langchain` and the root.
pub(crate) fn routes() -> RouteSet {
    vec![
        ("/v1/messages", post(messages)),
        ("/v1/messages/count_tokens", post(count_tokens)),
        // Joined with the OpenAI set (root, `/litellm`), the shared handler answers instead,
        // in Anthropic's shape when the caller sends `anthropic-version`.
        ("/v1/models", get(models)),
    ]
}

/// `POST /anthropic/v1/messages`.
pub(crate) async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    match serve(&state, &headers, body).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn serve(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Response, GatewayError> {
    let (body, meta) = accept(state, headers, body).await?;
    let request: MessagesRequest = parse_json(&body)?;
    let stream = request.stream == Some(true);
    let mut chat = from_anthropic(&request).map_err(|e| {
        GatewayError::invalid_request(format!("this request cannot be served: {e}"), None)
    })?;
    chat.stream = Some(stream);
    match dropin::chat(state, meta, chat, ROUTE_PROVIDER).await? {
        ChatAnswer::Json(unified) => {
            let answer = to_anthropic(&unified).map_err(|e| {
                GatewayError::upstream_unreachable(format!(
                    "the provider's answer has no Anthropic form: {e}"
                ))
            })?;
            let bytes = serde_json::to_vec(&answer)
                .map_err(|e| GatewayError::internal(format!("serializing the answer: {e}")))?;
            Ok(json_response(StatusCode::OK, bytes))
        }
        ChatAnswer::Stream(stream) => Ok(event_stream(Body::from_stream(
            translate_stream(stream, AnthropicEvents(StreamFromUnified::new()))
                .map(Ok::<Bytes, Infallible>),
        ))),
    }
}

/// Models a page holds unless `limit` says otherwise, and the most it may say (Anthropic's).
const DEFAULT_MODELS_PAGE: usize = 20;
const MAX_MODELS_PAGE: usize = 1000;

/// `GET /anthropic/v1/models`: every configured provider's models (`provider/model` ids, as
/// requests name them) in Anthropic's list shape, paged as Anthropic pages.
pub(crate) async fn models(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<crate::accept::ModelsQuery>,
) -> Response {
    let models = match state.gateway.list_models(q.provider.as_deref()).await {
        Ok(models) => models,
        Err(e) => return error_response(&e),
    };
    let all: Vec<serde_json::Value> = models
        .iter()
        .filter_map(|m| {
            let id = m.get("id")?.as_str()?;
            let created = m
                .get("created")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let name = m
                .get("display_name")
                .and_then(serde_json::Value::as_str)
                .unwrap_or(id);
            Some(serde_json::json!({
                "type": "model",
                "id": id,
                "display_name": name,
                "created_at": unix_to_rfc3339(created),
            }))
        })
        .collect();
    let position = |id: &str| all.iter().position(|m| m["id"] == id);
    let start = q
        .after_id
        .as_deref()
        .and_then(position)
        .map_or(0, |i| i + 1);
    let end = q
        .before_id
        .as_deref()
        .and_then(position)
        .unwrap_or(all.len());
    let limit = q
        .limit
        .unwrap_or(DEFAULT_MODELS_PAGE)
        .clamp(1, MAX_MODELS_PAGE);
    let window = all.get(start..end.max(start)).unwrap_or_default();
    let page: Vec<&serde_json::Value> = if q.before_id.is_some() && q.after_id.is_none() {
        window.iter().rev().take(limit).rev().collect()
    } else {
        window.iter().take(limit).collect()
    };
    let body = serde_json::json!({
        "data": page,
        "has_more": page.len() < window.len(),
        "first_id": page.first().map(|m| &m["id"]),
        "last_id": page.last().map(|m| &m["id"]),
    });
    json_response(StatusCode::OK, body.to_string())
}

/// `1970-01-01T00:00:00Z`-style UTC time for seconds since the epoch (Howard Hinnant's
/// `civil_from_days`), as Anthropic reports `created_at`.
fn unix_to_rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `POST /anthropic/v1/messages/count_tokens`: the Messages request (without `max_tokens`) is
/// counted by the provider its model names, through the engine's input-token counting — Anthropic
/// with its own `count_tokens`, Gemini with `:countTokens`, OpenAI with `input_tokens` — and
/// answered as Anthropic answers: `{"input_tokens": n}`.
pub(crate) async fn count_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    match count(&state, &headers, body).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn count(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Response, GatewayError> {
    let (body, meta) = accept(state, headers, body).await?;
    // `count_tokens` takes a Messages body without `max_tokens`; the unified conversion needs
    // one, and it does not change the count.
    let mut value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| GatewayError::invalid_request(format!("invalid JSON: {e}"), None))?;
    if let Some(fields) = value.as_object_mut() {
        fields
            .entry("max_tokens")
            .or_insert(serde_json::Value::from(1));
    }
    let bytes = serde_json::to_vec(&value)
        .map_err(|e| GatewayError::internal(format!("re-serializing the request: {e}")))?;
    let request: MessagesRequest = parse_json(&bytes)?;
    let chat = from_anthropic(&request).map_err(|e| {
        GatewayError::invalid_request(format!("this request cannot be counted: {e}"), None)
    })?;
    let input_tokens = dropin::count_input_tokens(state, meta, &chat, ROUTE_PROVIDER).await?;
    let answer = serde_json::json!({ "input_tokens": input_tokens });
    Ok(json_response(StatusCode::OK, answer.to_string()))
}

/// An error in Anthropic's shape, with its status.
fn error_response(error: &GatewayError) -> Response {
    let (status, body) = error_to_anthropic(error);
    dropin::error_response(error, status, &body)
}

/// Anthropic's event stream: `event: {type}` and its JSON, one `message_start`, content blocks
/// opened, fed and closed in order, and an `error` event for a failure after the start.
struct AnthropicEvents(StreamFromUnified);

impl StreamOut for AnthropicEvents {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) -> Result<(), String> {
        for event in self.0.push(chunk).map_err(|e| e.to_string())? {
            write_named_event(out, event.name(), &event);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        for event in self.0.finish() {
            write_named_event(out, event.name(), &event);
        }
        Ok(())
    }

    fn error(&mut self, error: &GatewayError, out: &mut Vec<u8>) {
        let (_, body) = error_to_anthropic(error);
        write_named_event(out, "error", &body);
    }
}

#[cfg(test)]
mod tests {
    use super::unix_to_rfc3339;

    #[test]
    fn unix_times_format_as_rfc3339() {
        assert_eq!(unix_to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_to_rfc3339(1_747_180_800), "2025-05-14T00:00:00Z");
        assert_eq!(unix_to_rfc3339(951_825_599), "2000-02-29T11:59:59Z");
    }
}
