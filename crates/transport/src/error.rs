//! The single conversion from gateway errors to HTTP responses.

use asbru_schema::GatewayError;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// Wrapper so handlers can `?` a [`GatewayError`] into a response.
pub(crate) struct ApiError(pub GatewayError);

impl From<GatewayError> for ApiError {
    fn from(e: GatewayError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::BAD_GATEWAY);
        metrics::counter!("asbru_errors_total", "kind" => self.0.kind().as_str()).increment(1);
        let mut response = Response::new(Body::from(self.0.to_body()));
        *response.status_mut() = status;
        note_error(&mut response, &self.0);
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// The message of an error answer, left on the response for the request's log line, which the
/// guard writes for requests the engine did not log (see [`crate::guard`]).
#[derive(Debug, Clone)]
pub(crate) struct ErrorNote(pub(crate) String);

/// Leaves `error`'s message on `response` for the log line (error answers only: the success
/// path allocates nothing for it).
pub(crate) fn note_error(response: &mut Response, error: &GatewayError) {
    response
        .extensions_mut()
        .insert(ErrorNote(error.message().to_owned()));
    // The gateway's own rate limits (governance) say when to come back.
    if error.status() == 429
        && let Some(wait) = error.retry_after()
    {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    }
}
