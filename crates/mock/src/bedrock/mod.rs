//! The AWS Bedrock Converse wire format: `POST …/model/{modelId}/converse` (JSON) and
//! `…/converse-stream` (the binary `application/vnd.amazon.eventstream`), its authentication
//! (SigV4, verified independently, or a Bedrock API key as a bearer token), request validation,
//! and its error shape — status, `x-amzn-errortype` header, `{"message"}` body — with the same
//! errors mid-stream as exception event messages.
//!
//! Sources: the Bedrock API reference (`API_runtime_Converse`, `API_runtime_ConverseStream`,
//! `API_runtime_ConverseStreamOutput`, "Common Errors"), the tool-use and reasoning guides of
//! the Bedrock user guide, the event-stream encoding of the AWS SDKs, and the SigV4 pages of the
//! IAM user guide. Where the docs give no wording, messages follow what the API is seen to
//! answer.

mod invoke;
mod reply;
pub(crate) mod sigv4;
mod validate;

pub(crate) use invoke::{INPUT_TOKENS_HEADER, invoke};
pub(crate) use reply::{plan, response, stream};
pub(crate) use validate::parse_converse;

use crate::openai::json_bytes;
use crate::state::Shared;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use std::time::SystemTime;

/// The media type of ConverseStream answers.
pub(crate) const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// The header naming the exception of an error response.
pub(crate) const ERROR_TYPE_HEADER: &str = "x-amzn-errortype";

/// What a `MalformedJson` fault slips into a ConverseStream: a 16-byte message whose prelude is
/// valid but whose message CRC is wrong, which every event-stream decoder must refuse.
pub(crate) const MALFORMED_FRAME: &[u8] = &[
    0, 0, 0, 16, 0, 0, 0, 0, 5, 194, 72, 235, 0xde, 0xad, 0xbe, 0xef,
];

/// A Bedrock error: status, exception name (the `x-amzn-errortype` header), and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BedrockError {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

/// Exception names with their documented statuses and a stock message.
const EXCEPTIONS: [(&str, u16, &str); 11] = [
    (
        "ValidationException",
        400,
        "The input fails to satisfy the constraints specified by the service.",
    ),
    (
        "AccessDeniedException",
        403,
        "You don't have access to the model with the specified model ID.",
    ),
    (
        "ResourceNotFoundException",
        404,
        "The specified resource ARN was not found. Check the ARN and try your request again.",
    ),
    (
        "ModelTimeoutException",
        408,
        "The request took too long to process. Processing time exceeded the model timeout length.",
    ),
    (
        "ModelErrorException",
        424,
        "The request failed due to an error while processing the model.",
    ),
    (
        "ModelStreamErrorException",
        424,
        "An error occurred while streaming the response.",
    ),
    (
        "ThrottlingException",
        429,
        "Too many requests, please wait before trying again.",
    ),
    (
        "ModelNotReadyException",
        429,
        "The model is not ready to serve inference requests.",
    ),
    (
        "InternalServerException",
        500,
        "The server encountered an internal error while processing the request.",
    ),
    (
        "ServiceUnavailableException",
        503,
        "The service isn't currently available. Try again later.",
    ),
    (
        "MissingAuthenticationTokenException",
        403,
        "Missing Authentication Token",
    ),
];

impl BedrockError {
    /// A 400 `ValidationException`, the shape of every validation failure.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "ValidationException",
            message: message.into(),
        }
    }

    /// The error for an exception name (either spelling: `ThrottlingException` or the stream's
    /// `throttlingException`), with its documented status; unknown names are
    /// `InternalServerException`.
    pub(crate) fn of_kind(kind: &str, message: Option<&str>) -> Self {
        let (kind, status, stock) = EXCEPTIONS
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(kind))
            .copied()
            .unwrap_or(EXCEPTIONS[8]);
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            kind,
            message: message.unwrap_or(stock).to_owned(),
        }
    }

    /// The error an injected status fault stands for: the exception Bedrock uses for that
    /// status, and a stock message when the fault gives none.
    pub(crate) fn from_status(status: u16, message: &str) -> Self {
        let kind = match status {
            400 => "ValidationException",
            401 | 403 => "AccessDeniedException",
            404 => "ResourceNotFoundException",
            408 => "ModelTimeoutException",
            424 => "ModelErrorException",
            429 => "ThrottlingException",
            503 => "ServiceUnavailableException",
            s if s >= 500 => "InternalServerException",
            _ => "ValidationException",
        };
        let mut err = Self::of_kind(kind, (!message.is_empty()).then_some(message));
        err.status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        err
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Bytes {
        json_bytes(&ErrorBody {
            message: &self.message,
        })
    }

    /// The `x-amzn-errortype` value: the name, then `:` and the service's namespace URL, as AWS
    /// front ends send it.
    pub(crate) fn type_header(&self) -> String {
        format!(
            "{}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            self.kind
        )
    }

    /// The same error as a stream exception message. ConverseStream documents five exception
    /// events; other exceptions become `internalServerException`.
    pub(crate) fn frame(&self) -> Bytes {
        let kind = match self.kind {
            "ValidationException" => "validationException",
            "ThrottlingException" => "throttlingException",
            "ServiceUnavailableException" => "serviceUnavailableException",
            "ModelStreamErrorException" => "modelStreamErrorException",
            _ => "internalServerException",
        };
        encode_message(
            &[
                (":exception-type", kind),
                (":content-type", "application/json"),
                (":message-type", "exception"),
            ],
            &self.body(),
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    message: &'a str,
}

/// One event-stream message with string headers: the encoding written here from the format's
/// description (prelude: total length, headers length, CRC32 of both; headers as name length,
/// name, type 7 = string, value length, value; payload; CRC32 of everything before), not the
/// gateway's encoder, so the gateway's decoder is tested against a second implementation.
pub(crate) fn encode_message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut encoded_headers = Vec::with_capacity(96);
    for (name, value) in headers {
        encoded_headers.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        encoded_headers.extend_from_slice(name.as_bytes());
        encoded_headers.push(7);
        encoded_headers.extend_from_slice(&u16::try_from(value.len()).unwrap_or(0).to_be_bytes());
        encoded_headers.extend_from_slice(value.as_bytes());
    }
    let total = 12 + encoded_headers.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(
        &u32::try_from(encoded_headers.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded_headers);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    Bytes::from(out)
}

/// An event message (`:event-type`, JSON payload).
pub(crate) fn event_frame<T: Serialize>(event_type: &str, payload: &T) -> Bytes {
    encode_message(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        &json_bytes(payload),
    )
}

/// The request as the auth check needs it.
pub(crate) struct AuthRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) raw_path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// Authenticates a Bedrock request:
///
/// - `Authorization: AWS4-HMAC-SHA256 …` is verified with [`sigv4::verify`] against
///   [`crate::MockOptions::aws_credentials`]; with no credentials configured, signed requests
///   are accepted unchecked.
/// - `Authorization: Bearer <key>` is a Bedrock API key, checked against
///   [`crate::MockOptions::valid_keys`] when set.
/// - No `Authorization` is refused (403 `MissingAuthenticationTokenException`) when either
///   credentials or valid keys are configured, and accepted otherwise — the mock's default is to
///   take unsigned requests.
pub(crate) fn check_auth(shared: &Shared, req: &AuthRequest<'_>) -> Result<(), BedrockError> {
    let authorization = req
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let creds = shared.opts.aws_credentials.as_ref();
    let Some(authorization) = authorization else {
        if creds.is_some() || shared.opts.valid_keys.is_some() {
            return Err(BedrockError::of_kind(
                "MissingAuthenticationTokenException",
                None,
            ));
        }
        return Ok(());
    };
    if let Some((scheme, key)) = authorization.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        if let Some(valid) = &shared.opts.valid_keys
            && !valid.iter().any(|k| k == key.trim())
        {
            return Err(BedrockError {
                status: StatusCode::FORBIDDEN,
                kind: "AccessDeniedException",
                message: "Authentication failed: Please make sure your API Key is valid."
                    .to_owned(),
            });
        }
        return Ok(());
    }
    let Some((access_key, secret_key)) = creds else {
        return Ok(());
    };
    let signed = sigv4::Signed {
        method: req.method,
        raw_path: req.raw_path,
        query: req.query,
        headers: req.headers,
        body: req.body,
    };
    sigv4::verify(
        &signed,
        authorization,
        access_key,
        secret_key,
        SystemTime::now(),
    )
    .map_err(|failure| {
        let (kind, message) = failure.exception();
        BedrockError {
            status: StatusCode::FORBIDDEN,
            kind,
            message,
        }
    })
}

/// The key a request presents, for per-key faults: the SigV4 access key id, or the bearer key.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let authorization = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    match authorization.split_once(' ') {
        Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => Some(key.trim()),
        _ => sigv4::access_key_of(authorization),
    }
}

/// The model id of a Converse path segment, percent-decoded (`amazon.nova-lite-v1%3A0` →
/// `amazon.nova-lite-v1:0`); invalid escapes are kept as they are.
pub(crate) fn decode_model(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| raw.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The error for a body that is not JSON.
pub(crate) fn unparsable_body() -> BedrockError {
    BedrockError::invalid("Malformed input request, please reformat your input and try again.")
}

/// The answer to a path or method the API does not serve.
pub(crate) fn unknown_operation() -> BedrockError {
    BedrockError {
        status: StatusCode::NOT_FOUND,
        kind: "UnknownOperationException",
        message: "Unknown operation: this mock serves POST …/model/{modelId}/converse and \
                  …/converse-stream."
            .to_owned(),
    }
}

/// The 429 a `RateLimited` fault stands for.
pub(crate) fn throttled() -> BedrockError {
    BedrockError::of_kind("ThrottlingException", None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_faults_map_to_documented_exceptions() {
        for (status, kind) in [
            (400, "ValidationException"),
            (403, "AccessDeniedException"),
            (404, "ResourceNotFoundException"),
            (408, "ModelTimeoutException"),
            (424, "ModelErrorException"),
            (429, "ThrottlingException"),
            (500, "InternalServerException"),
            (502, "InternalServerException"),
            (503, "ServiceUnavailableException"),
        ] {
            let err = BedrockError::from_status(status, "");
            assert_eq!(err.kind, kind, "{status}");
            assert_eq!(err.status.as_u16(), status);
            assert!(!err.message.is_empty());
        }
        assert_eq!(
            BedrockError::of_kind("throttlingException", None).status,
            429
        );
    }

    #[test]
    fn malformed_frame_has_a_valid_prelude_and_a_bad_crc() {
        let prelude_crc = crc32fast::hash(&MALFORMED_FRAME[..8]);
        assert_eq!(&MALFORMED_FRAME[8..12], &prelude_crc.to_be_bytes());
        let crc = crc32fast::hash(&MALFORMED_FRAME[..12]);
        assert_ne!(&MALFORMED_FRAME[12..], &crc.to_be_bytes());
    }
}
