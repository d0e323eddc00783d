//! The OpenAI drop-in route set (`/openai/…`): the OpenAI SDKs' paths with and without `/v1`,
//! and Azure OpenAI's deployment paths, so both `OpenAI(base_url=…/openai)` and
//! `AzureOpenAI(azure_endpoint=…/openai)` work unchanged.
//!
//! Requests are the OpenAI dialect already, so they go to the engine as they came; the only
//! difference from `/v1` is that a model without a configured `provider/` prefix is served by
//! the `openai` provider (Azure paths: by `azure`, the deployment naming the model).

use crate::accept::accept;
use crate::error::ApiError;
use crate::openai::{answer_openai, inference_on};
use crate::shared::client_models;
use crate::state::{AppState, RouteSet};
use asbru_engine::Operation;
use asbru_schema::GatewayError;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::HeaderMap;

/// The provider of a bare model name on the OpenAI paths.
const ROUTE_PROVIDER: &str = "openai";
/// The provider of a bare deployment name on the Azure paths.
const AZURE_PROVIDER: &str = "azure";

/// The OpenAI API's paths (with and without `/v1`, as base URLs differ), mounted under
/// `/openai`, `/litellm` and `/langchain`.
pub(crate) fn routes() -> RouteSet {
    vec![
        ("/v1/chat/completions", post(chat_completions)),
        ("/chat/completions", post(chat_completions)),
        ("/v1/completions", post(completions)),
        ("/completions", post(completions)),
        ("/v1/embeddings", post(embeddings)),
        ("/embeddings", post(embeddings)),
        ("/v1/responses", post(responses)),
        ("/responses", post(responses)),
        ("/v1/responses/input_tokens", post(input_tokens)),
        ("/responses/input_tokens", post(input_tokens)),
        ("/v1/models", get(client_models)),
        ("/models", get(client_models)),
        // Azure OpenAI: `azure_endpoint=…/openai` (the SDK adds `/openai`) or the root.
        (
            "/openai/deployments/{deployment}/chat/completions",
            post(azure_chat_completions),
        ),
        (
            "/openai/deployments/{deployment}/completions",
            post(azure_completions),
        ),
        (
            "/openai/deployments/{deployment}/embeddings",
            post(azure_embeddings),
        ),
        (
            "/deployments/{deployment}/chat/completions",
            post(azure_chat_completions),
        ),
        (
            "/deployments/{deployment}/completions",
            post(azure_completions),
        ),
        (
            "/deployments/{deployment}/embeddings",
            post(azure_embeddings),
        ),
    ]
}

async fn chat_completions(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference_on(
        &s,
        Operation::ChatCompletion,
        &headers,
        body,
        Some(ROUTE_PROVIDER),
    )
    .await
}

async fn completions(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference_on(
        &s,
        Operation::TextCompletion,
        &headers,
        body,
        Some(ROUTE_PROVIDER),
    )
    .await
}

async fn embeddings(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference_on(
        &s,
        Operation::Embedding,
        &headers,
        body,
        Some(ROUTE_PROVIDER),
    )
    .await
}

/// The Responses API; a bare model is an `openai` model, served natively.
async fn responses(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference_on(
        &s,
        Operation::Responses,
        &headers,
        body,
        Some(ROUTE_PROVIDER),
    )
    .await
}

async fn input_tokens(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    inference_on(
        &s,
        Operation::CountTokens,
        &headers,
        body,
        Some(ROUTE_PROVIDER),
    )
    .await
}

async fn azure_chat_completions(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    azure(&s, Operation::ChatCompletion, &deployment, &headers, body).await
}

async fn azure_completions(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    azure(&s, Operation::TextCompletion, &deployment, &headers, body).await
}

async fn azure_embeddings(
    State(s): State<AppState>,
    Path(deployment): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    azure(&s, Operation::Embedding, &deployment, &headers, body).await
}

/// An Azure-style request: the deployment in the path names the model (Azure ignores the
/// body's `model`), unless the body names a `provider/model` to send it elsewhere.
async fn azure(
    state: &AppState,
    op: Operation,
    deployment: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let (body, mut meta) = match accept(state, headers, body).await {
        Ok(accepted) => accepted,
        Err(e) => return ApiError(e).into_response(),
    };
    meta.route_provider = Some(AZURE_PROVIDER);
    let body = match with_deployment(&body, deployment) {
        Ok(body) => body,
        Err(e) => return ApiError(e).into_response(),
    };
    answer_openai(state, op, &body, meta).await
}

/// The body with `model` set to `deployment`, unless it already names a `provider/model`.
fn with_deployment(body: &[u8], deployment: &str) -> Result<Vec<u8>, GatewayError> {
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| GatewayError::invalid_request(format!("invalid JSON: {e}"), None))?;
    let fields = value.as_object_mut().ok_or_else(|| {
        GatewayError::invalid_request("the request body must be a JSON object", None)
    })?;
    let routed = fields
        .get("model")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|m| m.contains('/'));
    if !routed {
        fields.insert("model".to_owned(), deployment.into());
    }
    serde_json::to_vec(&value)
        .map_err(|e| GatewayError::internal(format!("re-serializing the request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::with_deployment;

    #[test]
    fn the_deployment_names_the_model_unless_the_body_routes_it() {
        let body = with_deployment(br#"{"model":"gpt-4o","messages":[]}"#, "prod").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["model"], "prod");
        let body = with_deployment(br#"{"messages":[]}"#, "prod").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["model"], "prod");
        let body = with_deployment(br#"{"model":"anthropic/claude","messages":[]}"#, "p").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["model"], "anthropic/claude");
        assert!(with_deployment(b"[1]", "p").is_err());
    }
}
