//! One handler per admin route: take the request apart, call the control plane, answer.

use super::{control, reply};
use crate::state::AppState;
use asbru_control::{AdminError, ListQuery};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

/// Runs `op` on the control plane with the body parsed as JSON.
macro_rules! with_body {
    ($state:expr, $body:expr, |$c:ident, $json:ident| $op:expr) => {{
        let $c = match control(&$state) {
            Ok(c) => c,
            Err(e) => return reply::error(&e),
        };
        let $json = match reply::body_json(&$body) {
            Ok(j) => j,
            Err(e) => return reply::error(&e),
        };
        reply::result($op.await)
    }};
}

macro_rules! with_control {
    ($state:expr, |$c:ident| $op:expr) => {{
        match control(&$state) {
            Ok($c) => $op,
            Err(e) => reply::error(&e),
        }
    }};
}

/// [`with_control!`] for answers that show governance usage: brought up to date with every
/// node's first (counters shared through Redis).
macro_rules! with_usage {
    ($state:expr, |$c:ident| $op:expr) => {{
        match control(&$state) {
            Ok($c) => {
                $c.refresh_usage().await;
                $op
            }
            Err(e) => reply::error(&e),
        }
    }};
}

pub(crate) async fn list_providers(State(s): State<AppState>) -> Response {
    with_control!(s, |c| reply::ok(&c.list_providers()))
}

pub(crate) async fn get_provider(State(s): State<AppState>, Path(p): Path<String>) -> Response {
    with_control!(s, |c| reply::result(c.get_provider(&p)))
}

pub(crate) async fn create_provider(State(s): State<AppState>, body: Bytes) -> Response {
    with_body!(s, body, |c, json| c.create_provider(json))
}

pub(crate) async fn update_provider(
    State(s): State<AppState>,
    Path(p): Path<String>,
    body: Bytes,
) -> Response {
    with_body!(s, body, |c, json| c.update_provider(&p, json))
}

pub(crate) async fn delete_provider(State(s): State<AppState>, Path(p): Path<String>) -> Response {
    with_control!(s, |c| reply::result(c.delete_provider(&p).await))
}

pub(crate) async fn list_keys(State(s): State<AppState>, Path(p): Path<String>) -> Response {
    with_control!(s, |c| reply::result(c.list_keys(&p)))
}

pub(crate) async fn get_key(
    State(s): State<AppState>,
    Path((p, k)): Path<(String, String)>,
) -> Response {
    with_control!(s, |c| reply::result(c.get_key(&p, &k)))
}

pub(crate) async fn create_key(
    State(s): State<AppState>,
    Path(p): Path<String>,
    body: Bytes,
) -> Response {
    with_body!(s, body, |c, json| c.create_key(&p, json))
}

pub(crate) async fn update_key(
    State(s): State<AppState>,
    Path((p, k)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    with_body!(s, body, |c, json| c.update_key(&p, &k, json))
}

pub(crate) async fn delete_key(
    State(s): State<AppState>,
    Path((p, k)): Path<(String, String)>,
) -> Response {
    with_control!(s, |c| reply::result(c.delete_key(&p, &k).await))
}

pub(crate) async fn all_keys(State(s): State<AppState>) -> Response {
    with_control!(s, |c| reply::ok(&c.all_keys()))
}

pub(crate) async fn get_config(State(s): State<AppState>) -> Response {
    with_control!(s, |c| reply::ok(&c.config_view()))
}

pub(crate) async fn update_config(State(s): State<AppState>, body: Bytes) -> Response {
    with_body!(s, body, |c, json| c.update_config(json))
}

/// `GET /api/version`: a bare JSON string, as Bifrost answers.
pub(crate) async fn version() -> Response {
    reply::ok(&json!(format!("v{}", env!("CARGO_PKG_VERSION"))))
}

/// `GET /api/models` filters (Bifrost's names).
#[derive(serde::Deserialize)]
pub(crate) struct ModelsFilter {
    provider: Option<String>,
    query: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /api/models`: the models the configuration names (keys' model lists), filtered and
/// paged: `{"models": [{"name", "provider", "accessible_by_keys"}], "total": N}`.
pub(crate) async fn models(State(s): State<AppState>, Query(f): Query<ModelsFilter>) -> Response {
    let needle = f.query.as_deref().map(str::to_ascii_lowercase);
    let mut models: Vec<Value> = Vec::new();
    for (provider, model, keys) in s.gateway.configured_models() {
        if f.provider.as_deref().is_some_and(|p| p != provider)
            || needle
                .as_deref()
                .is_some_and(|q| !model.to_ascii_lowercase().contains(q))
        {
            continue;
        }
        models.push(json!({"name": model, "provider": provider, "accessible_by_keys": keys}));
    }
    let total = models.len();
    let page: Vec<Value> = models
        .into_iter()
        .skip(f.offset.unwrap_or(0))
        .take(f.limit.unwrap_or(usize::MAX))
        .collect();
    reply::ok(&json!({"models": page, "total": total}))
}

// Governance: `/api/governance/*`. Lists take Bifrost's query (`search`, `limit`, `offset`
// and the list's own filters) as one [`ListQuery`].

/// A list's query, or Bifrost's admin error for one that does not parse (`limit=abc`).
fn list_query(q: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, AdminError> {
    q.map(|Query(q)| q)
        .map_err(|e| AdminError::bad_request(format!("invalid query: {}", e.body_text())))
}

pub(crate) async fn list_virtual_keys(
    State(s): State<AppState>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    match list_query(q) {
        Ok(q) => with_usage!(s, |c| reply::ok(&c.list_virtual_keys(&q))),
        Err(e) => reply::error(&e),
    }
}

pub(crate) async fn get_virtual_key(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    with_usage!(s, |c| reply::result(c.get_virtual_key(&id)))
}

pub(crate) async fn create_virtual_key(State(s): State<AppState>, body: Bytes) -> Response {
    with_body!(s, body, |c, json| c.create_virtual_key(json))
}

pub(crate) async fn update_virtual_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    with_body!(s, body, |c, json| c.update_virtual_key(&id, json))
}

pub(crate) async fn delete_virtual_key(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    with_control!(s, |c| reply::result(c.delete_virtual_key(&id).await))
}

/// The five handlers of one id-keyed governance entity, named `<verb>_<name>`, calling the
/// control plane's operations of the same names.
macro_rules! entity_handlers {
    ($list:ident, $get:ident, $create:ident, $update:ident, $delete:ident) => {
        pub(crate) async fn $list(
            State(s): State<AppState>,
            q: Result<Query<ListQuery>, QueryRejection>,
        ) -> Response {
            match list_query(q) {
                Ok(q) => with_usage!(s, |c| reply::ok(&c.$list(&q))),
                Err(e) => reply::error(&e),
            }
        }

        pub(crate) async fn $get(State(s): State<AppState>, Path(id): Path<String>) -> Response {
            with_usage!(s, |c| reply::result(c.$get(&id)))
        }

        pub(crate) async fn $create(State(s): State<AppState>, body: Bytes) -> Response {
            with_body!(s, body, |c, json| c.$create(json))
        }

        pub(crate) async fn $update(
            State(s): State<AppState>,
            Path(id): Path<String>,
            body: Bytes,
        ) -> Response {
            with_body!(s, body, |c, json| c.$update(&id, json))
        }

        pub(crate) async fn $delete(State(s): State<AppState>, Path(id): Path<String>) -> Response {
            with_control!(s, |c| reply::result(c.$delete(&id).await))
        }
    };
}

entity_handlers!(list_teams, get_team, create_team, update_team, delete_team);
entity_handlers!(
    list_customers,
    get_customer,
    create_customer,
    update_customer,
    delete_customer
);
entity_handlers!(
    list_model_configs,
    get_model_config,
    create_model_config,
    update_model_config,
    delete_model_config
);
entity_handlers!(
    list_routing_rules,
    get_routing_rule,
    create_routing_rule,
    update_routing_rule,
    delete_routing_rule
);

pub(crate) async fn list_budgets(State(s): State<AppState>) -> Response {
    with_usage!(s, |c| reply::ok(&c.list_budgets()))
}

pub(crate) async fn list_rate_limits(State(s): State<AppState>) -> Response {
    with_usage!(s, |c| reply::ok(&c.list_rate_limits()))
}

pub(crate) async fn list_provider_governance(State(s): State<AppState>) -> Response {
    with_usage!(s, |c| reply::ok(&c.list_provider_governance()))
}

pub(crate) async fn update_provider_governance(
    State(s): State<AppState>,
    Path(p): Path<String>,
    body: Bytes,
) -> Response {
    with_body!(s, body, |c, json| c.update_provider_governance(&p, json))
}

pub(crate) async fn delete_provider_governance(
    State(s): State<AppState>,
    Path(p): Path<String>,
) -> Response {
    with_control!(s, |c| reply::result(c.delete_provider_governance(&p).await))
}
