//! Errors: Anthropic's error body to the gateway error and back, and the errors conversions
//! themselves can fail with.

use super::types::{ErrorBody, ErrorObject};
use asbru_schema::GatewayError;
use serde_json::Map;

/// A unified request or response that cannot be expressed in the other dialect.
///
/// These are the client's problem (400), not the provider's: the request asked for something the
/// target dialect has no way to say.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A feature the target dialect lacks (audio input, `n > 1`, …).
    #[error("{0} cannot be sent to an Anthropic model")]
    Unsupported(String),
    /// A tool call's `arguments` are not JSON, so they cannot become Anthropic's `input` object.
    #[error("tool call `{id}` has arguments that are not valid JSON: {source}")]
    InvalidToolArguments {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    /// A response without any choice has nothing to convert.
    #[error("the response has no choices")]
    NoChoices,
    /// A stream broke the event order the dialect defines.
    #[error("stream out of order: {0}")]
    OutOfOrder(String),
}

impl From<ConvertError> for GatewayError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::NoChoices | ConvertError::OutOfOrder(_) => {
                GatewayError::upstream(502, e.to_string(), Some("api_error".to_owned()), None, None)
            }
            ConvertError::Unsupported(_) | ConvertError::InvalidToolArguments { .. } => {
                GatewayError::invalid_request(e.to_string(), None)
            }
        }
    }
}

/// How an Anthropic stream failed. It never ends as a normal `stop`: the consumer must turn this
/// into an error for its client.
#[derive(Debug)]
pub enum StreamError {
    /// Anthropic sent an `error` event (for instance `overloaded_error` mid-stream).
    Upstream(GatewayError),
    /// An event's data was not the JSON Anthropic documents.
    Malformed(String),
    /// The events came in an order the protocol does not allow.
    OutOfOrder(String),
    /// The stream ended before `message_stop`.
    Truncated,
}

impl StreamError {
    /// The error to show the client.
    pub fn into_gateway_error(self) -> GatewayError {
        match self {
            Self::Upstream(e) => e,
            Self::Malformed(m) => GatewayError::upstream(
                502,
                format!("malformed Anthropic stream event: {m}"),
                Some("api_error".to_owned()),
                None,
                None,
            ),
            Self::OutOfOrder(m) => GatewayError::upstream(
                502,
                format!("Anthropic stream out of order: {m}"),
                Some("api_error".to_owned()),
                None,
                None,
            ),
            Self::Truncated => GatewayError::upstream(
                502,
                "the Anthropic stream ended before message_stop",
                Some("api_error".to_owned()),
                None,
                None,
            ),
        }
    }
}

/// The HTTP status Anthropic documents for an error `type` (`https://docs.claude.com/en/api/errors`).
/// Used for errors that arrive inside a 200 stream, where no status is available.
pub fn status_for_error_type(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "overloaded_error" => 529,
        "timeout_error" => 504,
        _ => 500,
    }
}

/// The Anthropic error `type` for an HTTP status, for answering Anthropic clients (the
/// `/anthropic` drop-in routes) with errors that did not come from Anthropic.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// The Anthropic error types, to recognise an upstream error that is already Anthropic's.
const ANTHROPIC_TYPES: [&str; 9] = [
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
    "timeout_error",
];

/// Longest slice of a non-JSON error body quoted in the message, so an HTML error page from a
/// proxy does not end up whole in the client's error.
const MAX_RAW_MESSAGE_BYTES: usize = 512;

/// The gateway error for an Anthropic error response: status kept, `type` and `message` taken
/// from the body. A body that is not Anthropic's shape (a proxy's HTML page) is quoted, cut to
/// [`MAX_RAW_MESSAGE_BYTES`].
pub fn error_from_anthropic(status: u16, body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => GatewayError::upstream(
            status,
            parsed.error.message,
            Some(parsed.error.kind),
            None,
            None,
        ),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let message = if text.trim().is_empty() {
                format!("Anthropic answered {status} with an empty body")
            } else {
                asbru_schema::quote_prefix(&text, MAX_RAW_MESSAGE_BYTES).to_owned()
            };
            let kind = error_type_for_status(status).to_owned();
            GatewayError::upstream(status, message, Some(kind), None, None)
        }
    }
}

/// The gateway error for an `error` event inside a stream (status from the error type).
pub fn error_from_stream_event(error: &ErrorObject) -> GatewayError {
    GatewayError::upstream(
        status_for_error_type(&error.kind),
        error.message.clone(),
        Some(error.kind.clone()),
        None,
        None,
    )
}

/// The status and Anthropic error body to answer an Anthropic client with.
///
/// An error that already carries an Anthropic `type` keeps it; others get the type Anthropic uses
/// for their status, so SDKs raise the matching exception class.
pub fn error_to_anthropic(error: &GatewayError) -> (u16, ErrorBody) {
    let status = error.status();
    let kind = match error.error_type() {
        Some(t) if ANTHROPIC_TYPES.contains(&t) => t.to_owned(),
        _ => error_type_for_status(status).to_owned(),
    };
    let body = ErrorBody {
        kind: "error".to_owned(),
        error: ErrorObject {
            kind,
            message: error.message().to_owned(),
            extra: Map::new(),
        },
        request_id: None,
        extra: Map::new(),
    };
    (status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_json_body_is_quoted_and_cut() {
        let body = "é".repeat(400);
        let e = error_from_anthropic(502, body.as_bytes());
        assert_eq!(e.status(), 502);
        assert!(e.message().len() <= MAX_RAW_MESSAGE_BYTES);
        assert_eq!(e.error_type(), Some("api_error"));
        let empty = error_from_anthropic(500, b"");
        assert!(empty.message().contains("empty body"));
    }

    #[test]
    fn gateway_errors_get_anthropic_types() {
        let (status, body) = error_to_anthropic(&GatewayError::invalid_request("bad", None));
        assert_eq!(status, 400);
        assert_eq!(body.error.kind, "invalid_request_error");
        let (status, body) = error_to_anthropic(&GatewayError::queue_full("anthropic", 10));
        assert_eq!(status, 429);
        assert_eq!(body.error.kind, "rate_limit_error");
    }
}
