//! `:embedContent` and `:batchEmbedContents`: the Gemini body becomes a unified (OpenAI-shaped)
//! embeddings request, goes through the engine as `Operation::Embedding` like `/v1/embeddings`
//! (keys, queues, retries, `fallbacks`), and the OpenAI list that comes back is answered in
//! Gemini's shape, in input order.
//!
//! The model is the URL's (a batch entry's own `model` is not read, as one request goes to one
//! model). `outputDimensionality` is OpenAI's `dimensions`; `taskType` and `title` travel as
//! `task_type` and `title`, which the Gemini provider sends back as they were (and providers
//! taking the OpenAI body as it is never get). Only text can be
//! embedded through the unified request: a part that is not text is refused, naming it, rather
//! than silently dropped.

use super::{ROUTE_PROVIDER, carry_gateway_fields};
use crate::accept::accept;
use crate::dropin::{self, parse_json};
use crate::respond::json_response;
use crate::state::AppState;
use asbru_dialects::gemini::embed::{
    from_gemini_batch_request, from_gemini_single_request, to_gemini_batch_response,
    to_gemini_single_response,
};
use asbru_dialects::gemini::types::{BatchEmbedContentsRequest, Content, EmbedContentRequest};
use asbru_engine::Operation;
use asbru_schema::GatewayError;
use asbru_schema::openai::{EmbeddingRequest, EmbeddingResponse};
use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, StatusCode};

/// `POST …/models/{model}:embedContent`: one content, one embedding.
pub(super) async fn single(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    model: &str,
) -> Result<Response, GatewayError> {
    let (body, mut meta) = accept(state, headers, body).await?;
    meta.route_provider = Some(ROUTE_PROVIDER);
    let request: EmbedContentRequest = parse_json(&body)?;
    text_only(&request.content, "content")?;
    let mut unified = from_gemini_single_request(&request, model);
    carry_gateway_fields(&request.extra, &mut unified.extra);
    let answer = embed(state, &unified, meta, 1).await?;
    let single = to_gemini_single_response(&answer).map_err(|e| {
        GatewayError::upstream_unreachable(format!("the provider's embedding cannot be read: {e}"))
    })?;
    respond(&single)
}

/// `POST …/models/{model}:batchEmbedContents`: one embedding per entry, in order.
pub(super) async fn batch(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    model: &str,
) -> Result<Response, GatewayError> {
    let (body, mut meta) = accept(state, headers, body).await?;
    meta.route_provider = Some(ROUTE_PROVIDER);
    let request: BatchEmbedContentsRequest = parse_json(&body)?;
    if request.requests.is_empty() {
        return Err(GatewayError::invalid_request(
            "requests: must hold at least one entry",
            Some("requests"),
        ));
    }
    for (i, entry) in request.requests.iter().enumerate() {
        text_only(&entry.content, &format!("requests[{i}].content"))?;
    }
    let mut unified = from_gemini_batch_request(&request, model);
    carry_gateway_fields(&request.extra, &mut unified.extra);
    let answer = embed(state, &unified, meta, request.requests.len()).await?;
    respond(&to_gemini_batch_response(&answer))
}

/// Refuses a content with no parts, or with a part that is not text, naming the part.
fn text_only(content: &Content, field: &str) -> Result<(), GatewayError> {
    if content.parts.is_empty() {
        let field = format!("{field}.parts");
        return Err(GatewayError::invalid_request(
            format!("{field}: must hold at least one text part"),
            Some(&field),
        ));
    }
    match content.parts.iter().position(|p| p.text.is_none()) {
        None => Ok(()),
        Some(i) => {
            let field = format!("{field}.parts[{i}]");
            Err(GatewayError::invalid_request(
                format!("{field}: only text can be embedded through this gateway"),
                Some(&field),
            ))
        }
    }
}

/// The engine's embeddings answer for `unified`, checked to hold one vector per input.
async fn embed(
    state: &AppState,
    unified: &EmbeddingRequest,
    mut meta: asbru_engine::RequestMeta,
    inputs: usize,
) -> Result<EmbeddingResponse, GatewayError> {
    // Gemini's own fields (`task_type`, `title`) are for Gemini providers only.
    meta.dialect_fields = unified.extra.keys().cloned().collect();
    let body = dropin::json_from_engine(state, Operation::Embedding, unified, meta).await?;
    let answer: EmbeddingResponse = serde_json::from_slice(&body).map_err(|e| {
        GatewayError::upstream_unreachable(format!(
            "the provider's answer cannot be read as embeddings: {e}"
        ))
    })?;
    if answer.data.len() != inputs {
        return Err(GatewayError::upstream_unreachable(format!(
            "the provider answered {} embeddings for {inputs} inputs",
            answer.data.len()
        )));
    }
    Ok(answer)
}

fn respond<T: serde::Serialize>(answer: &T) -> Result<Response, GatewayError> {
    let bytes = serde_json::to_vec(answer)
        .map_err(|e| GatewayError::internal(format!("serializing the answer: {e}")))?;
    Ok(json_response(StatusCode::OK, bytes))
}
