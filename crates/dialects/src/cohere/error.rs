//! Errors: Cohere's error body to the gateway error and back, the failure finish reasons, and
//! the errors conversions themselves can fail with.
//!
//! Cohere's error body is `{"id"?, "message"}` with no type, so the type comes from the status
//! (`docs.cohere.com/reference/errors`): 400 and 422 are the client's, 401 a bad key, 403 a
//! forbidden model, 404 an unknown model, 429 too many requests, 499 a cancelled request, 5xx
//! Cohere's own failures.

use super::types::ErrorBody;
use asbru_schema::GatewayError;

/// A unified request or response that cannot be said in Cohere's dialect: the client's error.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A feature Cohere lacks (audio input, `n > 1`, …).
    #[error("{0} cannot be sent to a Cohere model")]
    Unsupported(String),
    /// A response without any choice has nothing to convert.
    #[error("the response has no choices")]
    NoChoices,
}

impl From<ConvertError> for GatewayError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::NoChoices => GatewayError::upstream(
                502,
                e.to_string(),
                Some("server_error".to_owned()),
                None,
                None,
            ),
            ConvertError::Unsupported(_) => GatewayError::invalid_request(e.to_string(), None),
        }
    }
}

/// How a Cohere stream failed; it never ends as a normal stop.
#[derive(Debug)]
pub enum StreamError {
    /// `message-end` with `finish_reason: ERROR` or `TIMEOUT`.
    Upstream(GatewayError),
    /// An event's data was not the JSON Cohere documents.
    Malformed(String),
    /// The stream ended before `message-end`.
    Truncated,
}

impl StreamError {
    /// The error to show the client.
    pub fn into_gateway_error(self) -> GatewayError {
        match self {
            Self::Upstream(e) => e,
            Self::Malformed(m) => GatewayError::upstream(
                502,
                format!("malformed Cohere stream event: {m}"),
                Some("server_error".to_owned()),
                None,
                None,
            ),
            Self::Truncated => GatewayError::upstream(
                502,
                "the Cohere stream ended before message-end",
                Some("server_error".to_owned()),
                None,
                None,
            ),
        }
    }
}

/// The OpenAI-style error `type` for a Cohere status.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

/// Longest slice of a non-JSON error body quoted in the message.
const MAX_RAW_MESSAGE_BYTES: usize = 512;

/// The gateway error for a Cohere error answer: status kept, `message` taken from the body, the
/// type from the status ([`error_type_for_status`]). A body that is not Cohere's shape (a
/// proxy's HTML page) is quoted, cut to [`MAX_RAW_MESSAGE_BYTES`].
pub fn error_from_cohere(status: u16, body: &[u8]) -> GatewayError {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => parsed.message,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let cut = asbru_schema::quote_prefix(text.trim(), MAX_RAW_MESSAGE_BYTES);
            if cut.is_empty() {
                format!("Cohere answered {status} with an empty body")
            } else {
                format!("Cohere answered {status}: {cut}")
            }
        }
    };
    GatewayError::upstream(
        status,
        message,
        Some(error_type_for_status(status).to_owned()),
        None,
        None,
    )
}

/// The gateway error as Cohere's body, for answering Cohere clients (the `/cohere` drop-in
/// routes): `{"message"}`; the status stays the error's.
pub fn error_to_cohere(error: &GatewayError) -> ErrorBody {
    ErrorBody {
        id: None,
        message: error.message().to_owned(),
    }
}

/// The error a failure finish reason stands for: `ERROR` (Cohere's generation failed, 500) or
/// `TIMEOUT` (504); `None` for the reasons that are normal ends.
pub fn finish_failure(reason: &str, detail: Option<&str>) -> Option<GatewayError> {
    let (status, what) = match reason {
        "ERROR" => (500, "the generation failed"),
        "TIMEOUT" => (504, "the generation timed out"),
        _ => return None,
    };
    let message = match detail {
        Some(d) if !d.is_empty() => format!("Cohere: {what}: {d}"),
        _ => format!("Cohere: {what} (finish_reason {reason})"),
    };
    Some(GatewayError::upstream(
        status,
        message,
        Some(error_type_for_status(status).to_owned()),
        None,
        None,
    ))
}
