//! Errors: Bedrock's error responses and stream exceptions to the gateway error and back, and the
//! errors conversions themselves can fail with.
//!
//! A Bedrock error is an HTTP status, an `x-amzn-errortype` header naming the exception
//! (`ThrottlingException`, sometimes followed by `:` and a URL), and a body `{"message": …}`.
//! The gateway error keeps the status, takes the exception name as its `type` and the body's
//! message as its message, so a client sees what Bedrock said.

use super::types::{ErrorBody, StreamException};
use asbru_schema::GatewayError;
use serde_json::Map;

/// The header naming a Bedrock error's exception type.
pub const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// A unified request or response that cannot be expressed in the other dialect, or a Bedrock
/// answer that cannot be turned into a unified one.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A feature Bedrock's Converse API lacks (URL images, audio, `n > 1`, …).
    #[error("{0} cannot be sent to a Bedrock model")]
    Unsupported(String),
    /// A tool call's `arguments` are not JSON, so they cannot become Bedrock's `input` object.
    #[error("tool call `{id}` has arguments that are not valid JSON: {source}")]
    InvalidToolArguments {
        id: String,
        #[source]
        source: serde_json::Error,
    },
    /// A response without any choice has nothing to convert.
    #[error("the response has no choices")]
    NoChoices,
    /// Bedrock stopped because the model's output was unusable (`malformed_tool_use`,
    /// `malformed_model_output`): there is no answer to give.
    #[error("the model produced unusable output (Bedrock stopReason `{0}`)")]
    MalformedOutput(String),
    /// A stream broke the event order the dialect defines.
    #[error("stream out of order: {0}")]
    OutOfOrder(String),
}

impl From<ConvertError> for GatewayError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::NoChoices | ConvertError::OutOfOrder(_) => GatewayError::upstream(
                502,
                e.to_string(),
                Some("InternalServerException".to_owned()),
                None,
                None,
            ),
            // The model's fault, not the client's: a 502 is retried, and a retry may well
            // produce valid output.
            ConvertError::MalformedOutput(ref reason) => {
                let code = Some(reason.clone());
                GatewayError::upstream(
                    502,
                    e.to_string(),
                    Some("ModelErrorException".to_owned()),
                    code,
                    None,
                )
            }
            ConvertError::Unsupported(_) | ConvertError::InvalidToolArguments { .. } => {
                GatewayError::invalid_request(e.to_string(), None)
            }
        }
    }
}

/// How a ConverseStream failed. It never ends as a normal stop: the consumer turns this into an
/// error for its client.
#[derive(Debug)]
pub enum StreamError {
    /// Bedrock sent an exception event (`throttlingException`, …) or the model's output was
    /// unusable.
    Upstream(GatewayError),
    /// The bytes were not a valid event stream, or an event's payload was not the documented
    /// JSON.
    Malformed(String),
    /// The events came in an order the protocol does not allow.
    OutOfOrder(String),
    /// The stream ended before `messageStop`.
    Truncated,
}

impl StreamError {
    /// The error to show the client.
    pub fn into_gateway_error(self) -> GatewayError {
        let bad = |m: String| {
            GatewayError::upstream(
                502,
                m,
                Some("InternalServerException".to_owned()),
                None,
                None,
            )
        };
        match self {
            Self::Upstream(e) => e,
            Self::Malformed(m) => bad(format!("malformed Bedrock event stream: {m}")),
            Self::OutOfOrder(m) => bad(format!("Bedrock stream out of order: {m}")),
            Self::Truncated => bad("the Bedrock stream ended before messageStop".to_owned()),
        }
    }
}

/// Bedrock's exception types with their documented HTTP statuses (Converse and ConverseStream
/// API reference, "Errors"; the signature errors are every AWS service's).
pub const ERROR_TYPES: [(&str, u16); 14] = [
    ("ValidationException", 400),
    ("ServiceQuotaExceededException", 400),
    ("AccessDeniedException", 403),
    ("UnrecognizedClientException", 403),
    ("InvalidSignatureException", 403),
    ("ExpiredTokenException", 403),
    ("ResourceNotFoundException", 404),
    ("ModelTimeoutException", 408),
    ("ModelErrorException", 424),
    ("ModelStreamErrorException", 424),
    ("ThrottlingException", 429),
    ("ModelNotReadyException", 429),
    ("InternalServerException", 500),
    ("ServiceUnavailableException", 503),
];

/// The documented status of an exception type (either spelling: `ThrottlingException` in
/// headers, `throttlingException` in streams); 500 for unknown types.
pub fn status_for_error_type(kind: &str) -> u16 {
    ERROR_TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(kind))
        .map_or(500, |(_, status)| *status)
}

/// The exception type Bedrock uses for a status, for answering Bedrock clients (the `/bedrock`
/// drop-in route) with errors that did not come from Bedrock.
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 | 403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 | 504 => "ModelTimeoutException",
        424 => "ModelErrorException",
        429 => "ThrottlingException",
        503 | 529 => "ServiceUnavailableException",
        400..=499 => "ValidationException",
        _ => "InternalServerException",
    }
}

/// The exception name in an `x-amzn-errortype` value: `ThrottlingException:http://…` →
/// `ThrottlingException`.
pub fn error_type_from_header(value: &str) -> &str {
    value.split(':').next().unwrap_or(value).trim()
}

/// Longest slice of a non-JSON error body quoted in the message, so an HTML page from a proxy
/// does not end up whole in the client's error.
const MAX_RAW_MESSAGE_BYTES: usize = 512;

/// The gateway error for a Bedrock error response: status kept; `type` from the
/// `x-amzn-errortype` header when given (else the body's `__type`, else the type Bedrock uses for
/// the status); message from the body. A body that is not JSON is quoted, cut to 512 bytes.
pub fn error_from_bedrock(
    status: u16,
    error_type_header: Option<&str>,
    body: &[u8],
) -> GatewayError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let kind = error_type_header
        .map(error_type_from_header)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            let t = parsed.as_ref()?.extra.get("__type")?.as_str()?;
            Some(error_type_from_header(t.rsplit('#').next().unwrap_or(t)).to_owned())
        })
        .unwrap_or_else(|| error_type_for_status(status).to_owned());
    let message = match parsed {
        Some(p) => p.message,
        None => {
            let text = String::from_utf8_lossy(body);
            if text.trim().is_empty() {
                format!("Bedrock answered {status} with an empty body")
            } else {
                asbru_schema::quote_prefix(&text, MAX_RAW_MESSAGE_BYTES).to_owned()
            }
        }
    };
    GatewayError::upstream(status, message, Some(kind), None, None)
}

/// The gateway error for an exception inside a stream: the status is the documented one for its
/// type (a stream has already answered 200), and the type is given in the header spelling
/// (`throttlingException` → `ThrottlingException`).
pub fn error_from_stream_exception(e: &StreamException) -> GatewayError {
    let kind = upper_first(&e.kind);
    GatewayError::upstream(
        status_for_error_type(&kind),
        e.message.clone(),
        Some(kind),
        None,
        None,
    )
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// What to answer a Bedrock client (the `/bedrock` drop-in route) with: status, the
/// `x-amzn-errortype` value, and the body. An error that already carries a Bedrock exception
/// type keeps it and its status; others get the type Bedrock uses for their status, and the
/// status Bedrock documents for that type (a provider's 401 is Bedrock's 403
/// `AccessDeniedException`, a 529 its 503 `ServiceUnavailableException`, a 502 its 500
/// `InternalServerException`), so AWS SDKs raise the matching exception class and see the
/// status Bedrock would have sent with it.
pub fn error_to_bedrock(error: &GatewayError) -> (u16, String, ErrorBody) {
    let (status, kind) = match error.error_type() {
        Some(t) if ERROR_TYPES.iter().any(|(name, _)| *name == t) => (error.status(), t.to_owned()),
        _ => {
            let kind = error_type_for_status(error.status());
            (status_for_error_type(kind), kind.to_owned())
        }
    };
    let body = ErrorBody {
        message: error.message().to_owned(),
        extra: Map::new(),
    };
    (status, kind, body)
}

/// The same error as a stream exception event, for failures after the 200 has been sent. The
/// stream only documents five exceptions; other types become the closest of them.
pub fn error_to_stream_exception(error: &GatewayError) -> StreamException {
    let (status, kind, body) = error_to_bedrock(error);
    let kind = match kind.as_str() {
        "ValidationException"
        | "ThrottlingException"
        | "ServiceUnavailableException"
        | "ModelStreamErrorException"
        | "InternalServerException" => lower_first(&kind),
        _ => match status {
            429 => "throttlingException".to_owned(),
            503 => "serviceUnavailableException".to_owned(),
            400..=499 => "validationException".to_owned(),
            _ => "internalServerException".to_owned(),
        },
    };
    StreamException {
        kind,
        message: body.message,
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_type_wins_and_url_suffix_is_dropped() {
        let e = error_from_bedrock(
            429,
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            br#"{"message":"Too many requests, please wait before trying again."}"#,
        );
        assert_eq!(e.status(), 429);
        assert_eq!(e.error_type(), Some("ThrottlingException"));
        assert_eq!(
            e.message(),
            "Too many requests, please wait before trying again."
        );
    }

    #[test]
    fn without_header_the_status_decides() {
        let e = error_from_bedrock(503, None, b"<html>down</html>");
        assert_eq!(e.error_type(), Some("ServiceUnavailableException"));
        assert_eq!(e.message(), "<html>down</html>");
        let e = error_from_bedrock(
            400,
            None,
            br#"{"__type":"com.amazon#ValidationException","message":"m"}"#,
        );
        assert_eq!(e.error_type(), Some("ValidationException"));
    }

    #[test]
    fn statuses_for_every_documented_type() {
        for (kind, status) in ERROR_TYPES {
            assert_eq!(status_for_error_type(kind), status);
            assert_eq!(status_for_error_type(&lower_first(kind)), status);
        }
    }

    #[test]
    fn gateway_errors_get_bedrock_types() {
        let (status, kind, _) = error_to_bedrock(&GatewayError::invalid_request("bad", None));
        assert_eq!((status, kind.as_str()), (400, "ValidationException"));
        let (status, kind, _) = error_to_bedrock(&GatewayError::queue_full("bedrock", 10));
        assert_eq!((status, kind.as_str()), (429, "ThrottlingException"));
        let ex = error_to_stream_exception(&GatewayError::queue_full("bedrock", 10));
        assert_eq!(ex.kind, "throttlingException");
    }

    #[test]
    fn other_dialects_statuses_become_bedrocks() {
        let upstream = |status: u16, kind: &str| {
            GatewayError::upstream(status, "m".to_owned(), Some(kind.to_owned()), None, None)
        };
        for (status, kind, bedrock_status, bedrock_kind) in [
            (401, "authentication_error", 403, "AccessDeniedException"),
            (529, "overloaded_error", 503, "ServiceUnavailableException"),
            (502, "upstream_unreachable", 500, "InternalServerException"),
            (504, "timeout", 408, "ModelTimeoutException"),
            (413, "payload_too_large", 400, "ValidationException"),
        ] {
            let (s, k, _) = error_to_bedrock(&upstream(status, kind));
            assert_eq!((s, k.as_str()), (bedrock_status, bedrock_kind), "{status}");
        }
        // A Bedrock type keeps the status it came with.
        let (s, k, _) = error_to_bedrock(&upstream(400, "ServiceQuotaExceededException"));
        assert_eq!((s, k.as_str()), (400, "ServiceQuotaExceededException"));
    }
}
