//! `/api/governance/pricing-overrides` (Bifrost's newest admin routes for pricing overrides):
//! list, create (201), update and delete, calling [`asbru_control::Control`].

use super::{control, reply};
use crate::respond::json_response;
use crate::state::{AppState, RouteSet};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, put};
use bytes::Bytes;
use http::StatusCode;

pub(crate) fn routes() -> RouteSet {
    vec![
        (
            "/api/governance/pricing-overrides",
            get(list_pricing_overrides).post(create_pricing_override),
        ),
        (
            "/api/governance/pricing-overrides/{id}",
            put(update_pricing_override).delete(delete_pricing_override),
        ),
    ]
}

/// `GET /api/governance/pricing-overrides` filters.
#[derive(serde::Deserialize)]
pub(crate) struct PricingOverridesQuery {
    provider_id: Option<String>,
    scope_kind: Option<String>,
}

async fn list_pricing_overrides(
    State(s): State<AppState>,
    Query(q): Query<PricingOverridesQuery>,
) -> Response {
    match control(&s) {
        Ok(c) => reply::ok(&c.list_pricing_overrides(
            q.provider_id.as_deref().filter(|p| !p.is_empty()),
            q.scope_kind.as_deref().filter(|k| !k.is_empty()),
        )),
        Err(e) => reply::error(&e),
    }
}

async fn create_pricing_override(State(s): State<AppState>, body: Bytes) -> Response {
    let outcome = async {
        let c = control(&s)?;
        c.create_pricing_override(reply::body_json(&body)?).await
    }
    .await;
    match outcome {
        Ok(created) => json_response(StatusCode::CREATED, created.to_string()),
        Err(e) => reply::error(&e),
    }
}

async fn update_pricing_override(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let outcome = async {
        let c = control(&s)?;
        c.update_pricing_override(&id, reply::body_json(&body)?)
            .await
    }
    .await;
    reply::result(outcome)
}

async fn delete_pricing_override(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let outcome = async { control(&s)?.delete_pricing_override(&id).await }.await;
    reply::result(outcome)
}
