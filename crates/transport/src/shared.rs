//! Paths the dialects share at the root and in the `/litellm` and `/langchain` unions, answered in
//! the caller's shape: `GET /v1/models` (OpenAI, Anthropic or Gemini list) and
//! `/v1/models/{*name}` (OpenAI's model, or Gemini's model and methods).

use crate::accept::ModelsQuery;
use crate::state::{AppState, RouteSet};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use http::{HeaderMap, Uri};

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
        crate::openai::list_models(state, query).await
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
        crate::openai::retrieve_model(state, path).await
    }
}

/// The paths joined into the root and the `/litellm`, `/langchain` unions, where `/v1/models`
/// is shared with the OpenAI API: there `GET /v1/models` (the unified list) and
/// `GET /v1/models/{model}` answer in Gemini's shape only to Google clients
/// ([`is_google_client`]); the Gemini methods (`POST …:generateContent`, …) have no OpenAI
/// counterpart and are served as under `/genai`.
pub(crate) fn genai_routes() -> RouteSet {
    vec![
        ("/v1beta/models", get(crate::genai::list_models)),
        (
            "/v1beta/models/{*name}",
            post(crate::genai::call).get(crate::genai::get_model),
        ),
        (
            "/v1/models/{*name}",
            post(crate::genai::call).get(client_model),
        ),
    ]
}
