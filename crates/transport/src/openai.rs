//! The unified OpenAI-dialect API under `/v1`: models named `provider/model`, answered by the
//! engine as JSON or SSE.

use crate::accept::{ModelsQuery, accept};
use crate::error::ApiError;
use crate::respond::{event_stream, json_response};
use crate::state::AppState;
use asbru_engine::{GatewayResponse, Operation, RequestMeta};
use asbru_schema::GatewayError;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, StatusCode};
use std::convert::Infallible;

/// OpenAI's retrieve-model: the model of that `provider/model` id in the gateway's list, or 404.
pub(crate) async fn retrieve_model(
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

pub(crate) async fn chat_completions(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    inference(&s, Operation::ChatCompletion, &headers, body).await
}

pub(crate) async fn completions(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    inference(&s, Operation::TextCompletion, &headers, body).await
}

/// OpenAI's Responses API by whichever provider the model names: OpenAI answers it itself, every
/// other provider through its chat API (the engine's `Operation::Responses`); the answer is a
/// `response` object or the typed event stream either way.
pub(crate) async fn responses(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    inference(&s, Operation::Responses, &headers, body).await
}

/// Input-token counting for a Responses-API request, by whichever provider the model names.
pub(crate) async fn input_tokens(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    inference(&s, Operation::CountTokens, &headers, body).await
}

pub(crate) async fn embeddings(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    inference(&s, Operation::Embedding, &headers, body).await
}

/// Bifrost's `POST /v1/rerank`: `provider/model`, `query`, `documents`, served through the
/// same pipeline as embeddings (queues, keys, retries, fallbacks).
pub(crate) async fn rerank(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
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
