//! The router: every route set mounted under its prefixes, the fallbacks, the edge middleware.
//! This module only assembles; handlers live with their API (`openai`, the drop-in dialects,
//! `shared` for paths the dialects share, `ops` for the operator's endpoints).

use crate::error::ApiError;
use crate::state::{AppState, RouteSet};
use asbru_schema::GatewayError;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

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
        (
            "/v1/chat/completions",
            post(crate::openai::chat_completions),
        ),
        ("/v1/completions", post(crate::openai::completions)),
        ("/v1/embeddings", post(crate::openai::embeddings)),
        ("/v1/responses", post(crate::openai::responses)),
        (
            "/v1/responses/input_tokens",
            post(crate::openai::input_tokens),
        ),
        ("/v1/rerank", post(crate::openai::rerank)),
        ("/v1/models", get(crate::shared::client_models)),
        ("/health", get(crate::ops::health)),
        ("/api/providers/health", get(crate::ops::providers_health)),
        ("/metrics", get(crate::ops::metrics)),
    ];
    let native = || {
        join(vec![
            crate::anthropic::routes(),
            crate::bedrock::routes(),
            crate::cohere::routes(),
            crate::shared::genai_routes(),
        ])
    };
    let all_sdks = || join(vec![crate::openai_compat::routes(), native()]);
    Router::new()
        .merge(mount(join(vec![unified, native()])))
        .merge(mount(crate::admin::routes()))
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
