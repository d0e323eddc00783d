//! Turning provider failures into [`GatewayError`]s, with secrets scrubbed.

use crate::http::{TransportError, TransportErrorKind};
use asbru_schema::GatewayError;
use serde::Deserialize;

/// Longest piece of a non-JSON error body quoted back to the client.
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
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("provider returned HTTP {status} with an empty body")
            } else {
                let cut = text
                    .char_indices()
                    .nth(MAX_QUOTED_BODY)
                    .map_or(text.len(), |(i, _)| i);
                format!("provider returned HTTP {status}: {}", &text[..cut])
            };
            (message, None, None, None)
        }
    };
    GatewayError::upstream(
        status,
        redact(message, secret),
        error_type,
        code.map(|c| redact(c, secret)),
        param,
    )
}

fn scalar_to_string(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Replaces every occurrence of the secret with `[REDACTED]`.
pub(crate) fn redact(text: String, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 4 && text.contains(s) => text.replace(s, "[REDACTED]"),
        _ => text,
    }
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
}
