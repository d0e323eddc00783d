//! The operator's endpoints: `/health`, `/api/providers/health`, `/metrics` (the admin API grows
//! here).

use crate::error::ApiError;
use crate::respond::json_response;
use crate::state::AppState;
use asbru_schema::GatewayError;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// `GET /health`: `db_pings` is `ok` when the config store answers, `disabled` without one; a
/// store that does not answer makes it 503 (`failed`, with the reason), as Bifrost reports it.
/// Requests are still served from memory meanwhile. `client.disable_db_pings_in_health` skips the
/// ping (`disabled`). With counters shared through Redis (an asbru extension), `redis` is `ok`,
/// or `unreachable` while this node counts on its own — still a 200: requests are served.
pub(crate) async fn health(State(s): State<AppState>) -> Response {
    let redis = s
        .gateway
        .governance_limits()
        .remote()
        .map(|r| if r.is_up() { "ok" } else { "unreachable" });
    let pings = !s.gateway.client_config().disable_db_pings_in_health;
    let db_pings = match s.control.as_ref().filter(|c| pings && c.has_store()) {
        None => Ok("disabled"),
        Some(control) => control.ping_store().await.map(|()| "ok"),
    };
    let (status, body) = match db_pings {
        Ok(db_pings) => {
            let mut components = serde_json::json!({"db_pings": db_pings});
            if let Some(redis) = redis {
                components["redis"] = redis.into();
            }
            (
                StatusCode::OK,
                serde_json::json!({"status": "ok", "components": components}),
            )
        }
        Err(message) => {
            let mut components = serde_json::json!({"db_pings": "failed"});
            if let Some(redis) = redis {
                components["redis"] = redis.into();
            }
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({
                    "status": "error",
                    "components": components,
                    "is_bifrost_error": false,
                    "status_code": 503,
                    "error": {"message": message},
                }),
            )
        }
    };
    json_response(status, body.to_string())
}

/// Per provider and key: circuit state, error rate, latency and effective weight.
pub(crate) async fn providers_health(State(s): State<AppState>) -> Response {
    let body = serde_json::json!({ "providers": s.gateway.health_report() });
    json_response(StatusCode::OK, body.to_string())
}

/// Float totals the `metrics` crate can only hold as gauges (its counters are integers), only
/// ever incremented: exported with Prometheus's counter type, as Bifrost exports them.
const FLOAT_COUNTERS: &[&str] = &["bifrost_cost_total"];

fn as_counters(mut text: String) -> String {
    for name in FLOAT_COUNTERS {
        let gauge = format!("# TYPE {name} gauge\n");
        if let Some(at) = text.find(&gauge) {
            text.replace_range(at..at + gauge.len(), &format!("# TYPE {name} counter\n"));
        }
    }
    text
}

pub(crate) async fn metrics(State(s): State<AppState>) -> Response {
    match &s.metrics {
        Some(handle) => {
            s.gateway.refresh_health_gauges();
            for (provider, admitted) in s.gateway.queue_admitted() {
                metrics::gauge!("asbru_queue_admitted", "provider" => provider)
                    .set(admitted as f64);
            }
            let mut response = Response::new(Body::from(as_counters(handle.render())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        None => ApiError(GatewayError::unavailable("metrics are not enabled")).into_response(),
    }
}

#[cfg(test)]
mod float_counter_tests {
    #[test]
    fn the_cost_total_is_typed_as_a_counter() {
        let text = "# TYPE a gauge\na 1\n# TYPE bifrost_cost_total gauge\nbifrost_cost_total{p=\"x\"} 0.5\n";
        assert_eq!(
            super::as_counters(text.to_owned()),
            "# TYPE a gauge\na 1\n# TYPE bifrost_cost_total counter\nbifrost_cost_total{p=\"x\"} 0.5\n"
        );
    }
}
