//! Answer shapes every route uses: JSON with its status, and streams never cached or buffered.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

/// A streamed answer: `text/event-stream`, never cached or buffered by proxies.
pub(crate) fn event_stream(body: Body) -> Response {
    streaming_response("text/event-stream", body)
}

/// A streamed answer of `content_type` (SSE, or Bedrock's binary event stream), never cached or
/// buffered by proxies.
pub(crate) fn streaming_response(content_type: &'static str, body: Body) -> Response {
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx-style proxies in front of asbru not to buffer the stream.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

pub(crate) fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
