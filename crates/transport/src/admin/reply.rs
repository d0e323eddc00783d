//! Admin answers on the wire: JSON bodies, and errors in Bifrost's admin shape
//! `{"is_bifrost_error": false, "status_code": N, "error": {"message", "param"?}}`.

use crate::respond::json_response;
use asbru_control::AdminError;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

pub(crate) fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, body.to_string())
}

pub(crate) fn error(e: &AdminError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut detail = json!({"message": e.message});
    if let Some(field) = &e.field {
        detail["param"] = json!(field);
    }
    let body = json!({"is_bifrost_error": false, "status_code": status.as_u16(), "error": detail});
    let mut response = json_response(status, body.to_string());
    // For the request's log line (admin messages never hold a secret).
    response
        .extensions_mut()
        .insert(crate::error::ErrorNote(e.message.clone()));
    if let Some(secs) = e.retry_after_secs
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Either answer of an operation.
pub(crate) fn result(outcome: Result<Value, AdminError>) -> Response {
    match outcome {
        Ok(body) => ok(&body),
        Err(e) => error(&e),
    }
}

/// A request body as JSON, or a 400 saying why not.
pub(crate) fn body_json(body: &[u8]) -> Result<Value, AdminError> {
    serde_json::from_slice(body)
        .map_err(|e| AdminError::bad_request(format!("the body is not valid JSON: {e}")))
}
