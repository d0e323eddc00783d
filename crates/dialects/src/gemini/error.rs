//! Errors: Google's error body to the gateway error and back, the errors conversions can fail
//! with, and the finish reasons that are failures rather than answers.

use super::types::{ErrorBody, ErrorStatus};
use asbru_schema::GatewayError;
use serde_json::{Map, Value};
use std::time::Duration;

/// A unified request or response that cannot be expressed as a Gemini one.
///
/// These are the client's problem (400): the request asked for something Gemini has no way to
/// say, or referred to something the conversation does not contain.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// A feature Gemini lacks (`n > 1` with streaming, token-array embeddings, …).
    #[error("{0} cannot be sent to a Gemini model")]
    Unsupported(String),
    /// A tool call's `arguments` are not a JSON object, so they cannot become `args`.
    #[error("tool call `{id}` has arguments that are not a JSON object: {reason}")]
    InvalidToolArguments { id: String, reason: String },
    /// A tool result answers a `tool_call_id` no earlier assistant turn made, so the function
    /// name Gemini needs for `functionResponse` is unknown.
    #[error(
        "tool message answers tool_call_id `{0}`, which no earlier assistant message called; \
         Gemini matches function responses to calls by name"
    )]
    UnknownToolCall(String),
    /// A response without any choice has nothing to convert.
    #[error("the response has no choices")]
    NoChoices,
}

impl From<ConvertError> for GatewayError {
    fn from(e: ConvertError) -> Self {
        match e {
            ConvertError::NoChoices => {
                GatewayError::upstream(502, e.to_string(), Some("INTERNAL".to_owned()), None, None)
            }
            _ => GatewayError::invalid_request(e.to_string(), None),
        }
    }
}

/// How a Gemini stream failed. It never ends as a normal `stop`: the consumer turns this into
/// an error for its client.
#[derive(Debug)]
pub enum StreamError {
    /// Google sent an error object mid-stream, or a candidate finished with a reason that is a
    /// failure (`MALFORMED_FUNCTION_CALL`).
    Upstream(GatewayError),
    /// A `data:` payload was not the JSON Google documents.
    Malformed(String),
    /// The stream ended before any chunk carried a `finishReason`.
    Truncated,
}

impl StreamError {
    /// The error to show the client.
    pub fn into_gateway_error(self) -> GatewayError {
        match self {
            Self::Upstream(e) => e,
            Self::Malformed(m) => GatewayError::upstream(
                502,
                format!("malformed Gemini stream chunk: {m}"),
                Some("INTERNAL".to_owned()),
                None,
                None,
            ),
            Self::Truncated => GatewayError::upstream(
                502,
                "the Gemini stream ended before a chunk with a finishReason",
                Some("INTERNAL".to_owned()),
                None,
                None,
            ),
        }
    }
}

/// The HTTP status of a `google.rpc.Code` name, as Google's API design guide maps them. Used for
/// errors that arrive inside a 200 stream.
pub fn http_status_for(status: &str) -> u16 {
    match status {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ABORTED" | "ALREADY_EXISTS" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => 500,
    }
}

/// The `google.rpc.Code` name for an HTTP status, for answering Gemini clients (the `/genai`
/// drop-in routes) with errors that did not come from Google; the SDKs read `status`.
pub fn status_name_for(http: u16) -> &'static str {
    match http {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        502 | 503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        400..=499 => "FAILED_PRECONDITION",
        _ => "INTERNAL",
    }
}

/// Longest slice of a non-JSON error body quoted in the message, so a proxy's HTML page does not
/// end up whole in the client's error.
const MAX_RAW_MESSAGE_BYTES: usize = 512;

/// The gateway error for a Gemini error response: HTTP status kept, the `status` name as the
/// error type, `message` as is, and a `google.rpc.RetryInfo` delay as the retry hint. A body that
/// is not Google's shape is quoted, cut to [`MAX_RAW_MESSAGE_BYTES`].
pub fn error_from_gemini(status: u16, body: &[u8]) -> GatewayError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed) => error_from_status(status, &parsed.error),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let message = if text.trim().is_empty() {
                format!("Gemini answered {status} with an empty body")
            } else {
                asbru_schema::quote_prefix(&text, MAX_RAW_MESSAGE_BYTES).to_owned()
            };
            GatewayError::upstream(
                status,
                message,
                Some(status_name_for(status).to_owned()),
                None,
                None,
            )
        }
    }
}

/// The gateway error for an error object that arrived inside a stream (status from its `code`,
/// else from its `status` name).
pub fn error_from_stream(error: &ErrorStatus) -> GatewayError {
    let status = if error.code >= 400 {
        error.code
    } else {
        http_status_for(&error.status)
    };
    error_from_status(status, error)
}

fn error_from_status(status: u16, error: &ErrorStatus) -> GatewayError {
    let kind = if error.status.is_empty() {
        status_name_for(status).to_owned()
    } else {
        error.status.clone()
    };
    GatewayError::upstream(
        status,
        error.message.clone(),
        Some(kind),
        reason(error),
        None,
    )
    .with_retry_after(retry_delay(error))
}

/// The `reason` of a `google.rpc.ErrorInfo` detail (`API_KEY_INVALID`, `RATE_LIMIT_EXCEEDED`…),
/// kept as the error's `code`: it is what tells a refused key from a bad request when both are a
/// 400.
fn reason(error: &ErrorStatus) -> Option<String> {
    error.details.iter().flatten().find_map(|d| {
        let is_info = d
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("google.rpc.ErrorInfo"));
        let reason = d.get("reason").and_then(Value::as_str)?;
        is_info.then(|| reason.to_owned())
    })
}

/// The `retryDelay` of a `google.rpc.RetryInfo` detail (`"2s"`, `"0.5s"`), which Google attaches
/// to quota errors.
fn retry_delay(error: &ErrorStatus) -> Option<Duration> {
    error.details.iter().flatten().find_map(|d| {
        let is_retry = d
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"));
        let delay = d.get("retryDelay").and_then(Value::as_str)?;
        let secs: f64 = delay.strip_suffix('s')?.parse().ok()?;
        (is_retry && secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
    })
}

/// The status and Google error body to answer a Gemini client with. An error that already
/// carries a `google.rpc.Code` name keeps it; others get the name of their HTTP status.
///
/// Details are added as Google adds them, so clients that read them find what they expect: a
/// `google.rpc.BadRequest` naming the field at fault when the error names one, and a
/// `google.rpc.RetryInfo` with the delay when the error says when to retry.
pub fn error_to_gemini(error: &GatewayError) -> (u16, ErrorBody) {
    let status = error.status();
    let name = match error.error_type() {
        Some(t) if is_rpc_code(t) => t.to_owned(),
        _ => status_name_for(status).to_owned(),
    };
    let mut details = Vec::new();
    if let Some(field) = error.param() {
        details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": error.message()}],
        }));
    }
    if let Some(wait) = error.retry_after() {
        details.push(serde_json::json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{}s", wait.as_secs_f64()),
        }));
    }
    let body = ErrorBody {
        error: ErrorStatus {
            code: status,
            message: error.message().to_owned(),
            status: name,
            details: (!details.is_empty()).then_some(details),
            extra: Map::new(),
        },
        extra: Map::new(),
    };
    (status, body)
}

fn is_rpc_code(name: &str) -> bool {
    matches!(
        name,
        "CANCELLED"
            | "UNKNOWN"
            | "INVALID_ARGUMENT"
            | "DEADLINE_EXCEEDED"
            | "NOT_FOUND"
            | "ALREADY_EXISTS"
            | "PERMISSION_DENIED"
            | "RESOURCE_EXHAUSTED"
            | "FAILED_PRECONDITION"
            | "ABORTED"
            | "OUT_OF_RANGE"
            | "UNIMPLEMENTED"
            | "INTERNAL"
            | "UNAVAILABLE"
            | "DATA_LOSS"
            | "UNAUTHENTICATED"
    )
}

/// The error for a candidate that finished with a reason that is a failure, not an answer.
///
/// `MALFORMED_FUNCTION_CALL` (the model produced a function call that does not parse),
/// `UNEXPECTED_TOOL_CALL` (a call to a tool that was not offered) and `TOO_MANY_TOOL_CALLS` leave
/// no usable answer; reporting them as `stop` would hand the client an empty or cut-off message
/// as if it were complete. They become a 502 from the provider, which the retry loop may retry
/// (the model can well succeed on a second try), with Google's `finishMessage` when it gave one.
pub fn finish_failure(reason: &str, finish_message: Option<&str>) -> Option<GatewayError> {
    let what = match reason {
        "MALFORMED_FUNCTION_CALL" => "the model produced a malformed function call",
        "UNEXPECTED_TOOL_CALL" => "the model called a tool that was not offered",
        "TOO_MANY_TOOL_CALLS" => "the model made too many tool calls",
        _ => return None,
    };
    let message = match finish_message {
        Some(m) if !m.is_empty() => format!("Gemini stopped with {reason}: {what}: {m}"),
        _ => format!("Gemini stopped with {reason}: {what}"),
    };
    Some(GatewayError::upstream(
        502,
        message,
        Some(reason.to_owned()),
        None,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for name in [
            "INVALID_ARGUMENT",
            "UNAUTHENTICATED",
            "PERMISSION_DENIED",
            "NOT_FOUND",
            "RESOURCE_EXHAUSTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DEADLINE_EXCEEDED",
        ] {
            assert_eq!(status_name_for(http_status_for(name)), name);
        }
    }

    #[test]
    fn retry_info_becomes_retry_after() {
        let body = br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
            "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}]}}"#;
        let e = error_from_gemini(429, body);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.error_type(), Some("RESOURCE_EXHAUSTED"));
        assert!(e.is_retryable());
    }

    #[test]
    fn html_bodies_are_cut() {
        let body = "<html>".repeat(200);
        let e = error_from_gemini(502, body.as_bytes());
        assert!(e.message().len() <= MAX_RAW_MESSAGE_BYTES);
        assert_eq!(e.error_type(), Some("UNAVAILABLE"));
    }

    #[test]
    fn client_errors_carry_googles_details() {
        let e = GatewayError::invalid_request("contents: must not be empty", Some("contents"));
        let (status, body) = error_to_gemini(&e);
        assert_eq!(
            (status, body.error.status.as_str()),
            (400, "INVALID_ARGUMENT")
        );
        let details = body.error.details.unwrap();
        assert_eq!(details[0]["fieldViolations"][0]["field"], "contents");

        let e = GatewayError::upstream(429, "slow down", None, None, None)
            .with_retry_after(Some(Duration::from_millis(2500)));
        let (_, body) = error_to_gemini(&e);
        let details = body.error.details.clone().unwrap();
        assert_eq!(details[0]["retryDelay"], "2.5s");
        // What Google sends is what this side reads back.
        assert_eq!(retry_delay(&body.error), Some(Duration::from_millis(2500)));
        assert!(
            error_to_gemini(&GatewayError::internal("x"))
                .1
                .error
                .details
                .is_none()
        );
    }

    #[test]
    fn malformed_function_call_is_an_error() {
        let e = finish_failure("MALFORMED_FUNCTION_CALL", Some("print(x")).unwrap();
        assert_eq!(e.status(), 502);
        assert!(e.message().contains("print(x"));
        assert!(finish_failure("STOP", None).is_none());
    }
}
