//! Turning provider failures into [`GatewayError`]s, with secrets scrubbed.

use crate::http::{TransportError, TransportErrorKind};
use crate::redact::Redactor;
use asbru_schema::{GatewayError, quote_prefix};
use serde::Deserialize;

/// Longest piece (in bytes) of a non-JSON error body quoted back to the client.
const MAX_QUOTED_BODY: usize = 512;

/// Maps a non-success response from an OpenAI-compatible provider, keeping its status, `type`,
/// `code`, `param` and message. `secret` (the key used) is removed from anything quoted.
pub(crate) fn from_error_body(status: u16, body: &[u8], secret: Option<&str>) -> GatewayError {
    #[derive(Deserialize)]
    struct Envelope {
        error: ErrorObject,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorObject {
        Full {
            message: Option<String>,
            #[serde(rename = "type")]
            error_type: Option<String>,
            code: Option<serde_json::Value>,
            param: Option<serde_json::Value>,
        },
        Text(String),
    }
    let scrub = Redactor::new(secret);
    let (message, error_type, code, param) = match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope {
            error:
                ErrorObject::Full {
                    message,
                    error_type,
                    code,
                    param,
                },
        }) => (
            message.unwrap_or_else(|| format!("provider returned HTTP {status}")),
            error_type,
            code.and_then(scalar_to_string),
            param.and_then(scalar_to_string),
        ),
        Ok(Envelope {
            error: ErrorObject::Text(message),
        }) => (message, None, None, None),
        Err(_) => {
            // Redacted before it is cut, and cut between tokens: a key straddling the cut
            // must not leave its first half behind.
            let text = String::from_utf8_lossy(body);
            let text = scrub.redact_str(text.trim());
            let message = if text.is_empty() {
                format!("provider returned HTTP {status} with an empty body")
            } else {
                format!(
                    "provider returned HTTP {status}: {}",
                    quote_prefix(&text, MAX_QUOTED_BODY)
                )
            };
            (message, None, None, None)
        }
    };
    scrub.redact_error(GatewayError::upstream(
        status, message, error_type, code, param,
    ))
}

fn scalar_to_string(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `error` with every secret in `secrets` (and its variants, see [`Redactor`]) replaced by
/// `[REDACTED]` in every string it carries.
pub(crate) fn scrub_error<'s>(
    error: GatewayError,
    secrets: impl IntoIterator<Item = &'s str>,
) -> GatewayError {
    Redactor::new(secrets).redact_error(error)
}

/// Maps a transport failure (connect, reset, timeout) of a request to the provider.
pub(crate) fn from_transport(err: &TransportError, provider: &str) -> GatewayError {
    match err.kind {
        TransportErrorKind::Timeout => {
            GatewayError::upstream_timeout(format!("provider '{provider}' timed out"))
        }
        TransportErrorKind::Connect => GatewayError::upstream_unreachable(format!(
            "could not connect to provider '{provider}': {}",
            err.message
        )),
        TransportErrorKind::Broken => GatewayError::upstream_unreachable(format!(
            "lost the connection to provider '{provider}': {}",
            err.message
        )),
        TransportErrorKind::TooLarge { limit } => {
            GatewayError::upstream_response_too_large(provider, limit)
        }
        TransportErrorKind::BufferFull { budget } => {
            GatewayError::upstream_buffer_full(provider, budget)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_openai_error_fields() {
        let e = from_error_body(
            429,
            br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded","param":null}}"#,
            None,
        );
        assert_eq!(e.status(), 429);
        assert_eq!(e.message(), "Rate limit reached");
        assert_eq!(e.error_type(), Some("requests"));
        assert_eq!(e.code(), Some("rate_limit_exceeded"));
        assert_eq!(e.param(), None);
    }

    #[test]
    fn quotes_non_json_bodies_and_redacts_keys() {
        let e = from_error_body(502, b"<html>bad gateway</html>", None);
        assert!(e.message().contains("<html>bad gateway</html>"));
        let e = from_error_body(
            401,
            br#"{"error":{"message":"Incorrect API key provided: sk-secret-123","code":"invalid_api_key"}}"#,
            Some("sk-secret-123"),
        );
        assert_eq!(e.message(), "Incorrect API key provided: [REDACTED]");
        let e = from_error_body(500, br#"{"error":"boom"}"#, None);
        assert_eq!(e.message(), "boom");
        let e = from_error_body(400, br#"{"error":{"message":"bad","code":400}}"#, None);
        assert_eq!(e.code(), Some("400"));
    }

    #[test]
    fn every_field_is_redacted_in_any_shape() {
        let key = "sk-secret-1234567";
        let body = format!(
            r#"{{"error":{{"message":"m {upper}","type":"{key}","code":"c {key}","param":"Bearer {key}"}}}}"#,
            upper = key.to_ascii_uppercase()
        );
        let e = from_error_body(400, body.as_bytes(), Some(key));
        let out = String::from_utf8(e.to_body()).unwrap();
        assert!(!out.to_ascii_lowercase().contains("sk-secret"), "{out}");
        assert_eq!(e.param(), Some("Bearer [REDACTED]"));
    }

    #[test]
    fn a_key_straddling_the_cut_leaves_nothing_behind() {
        let key = "sk-secret-1234567";
        let padding = "x".repeat(MAX_QUOTED_BODY - 5);
        let body = format!("{padding} {key} and more");
        for secret in [Some(key), None] {
            let e = from_error_body(502, body.as_bytes(), secret);
            assert!(!e.message().contains("sk-"), "{}", e.message());
        }
    }
}
