//! The Anthropic Messages API wire format: the headers it requires, request validation with the
//! messages the real API gives, the `{"type":"error",…}` error shape, and the answers (message,
//! event stream, token count, models).
//!
//! Sources: the API reference (`platform.claude.com/docs/en/api/messages`,
//! `…/api/messages/count_tokens`, `…/api/models`), the errors page (`…/docs/en/api/errors`), the
//! versioning page (`…/docs/en/api/versioning`) and the streaming guide
//! (`…/docs/en/build-with-claude/streaming`). Where the docs give no wording, messages follow
//! what the API is seen to answer; the fixtures under `tests/fixtures/anthropic/` name their
//! sources.

mod reply;
mod validate;

pub(crate) use reply::{count_tokens, message, plan, stream};
pub(crate) use validate::{parse_count_tokens, parse_messages};

use crate::openai::json_bytes;
use crate::state::Shared;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `anthropic-version` values the versioning page lists; any other is refused.
pub(crate) const VERSIONS: [&str; 2] = ["2023-06-01", "2023-01-01"];

/// The header the Messages API requires on every request.
pub(crate) const VERSION_HEADER: &str = "anthropic-version";

/// Where Anthropic's SDKs send the API key.
pub(crate) const KEY_HEADER: &str = "x-api-key";

/// The frame a `MalformedJson` fault puts into an Anthropic stream: a named event whose data
/// does not parse.
pub(crate) const MALFORMED_FRAME: &[u8] = b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\n\n";

/// Every model the mock lists reports this creation time; any fixed value serves.
const MODEL_CREATED_AT: &str = "2025-05-14T00:00:00Z";

/// Whether a request that no path identifies (`GET …/models`, unknown paths) is an Anthropic
/// one: Anthropic's clients always send `anthropic-version`, and their key in `x-api-key`.
pub(crate) fn is_anthropic(headers: &HeaderMap) -> bool {
    headers.contains_key(VERSION_HEADER) || headers.contains_key(KEY_HEADER)
}

/// An Anthropic error: status plus `{"type":"error","error":{"type","message"},"request_id"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnthropicError {
    pub(crate) status: StatusCode,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl AnthropicError {
    /// A 400 `invalid_request_error`, the shape of every validation failure.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message: message.into(),
        }
    }

    /// The error for an error type, with its documented status; unknown types are `api_error`.
    pub(crate) fn of_kind(kind: &str, message: Option<&str>) -> Self {
        let (status, kind, stock) = ERROR_KINDS
            .iter()
            .find(|(_, k, _)| *k == kind)
            .copied()
            .unwrap_or((500, "api_error", "Internal server error"));
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            kind,
            message: message.unwrap_or(stock).to_owned(),
        }
    }

    /// The error an injected status fault stands for: the documented type of that status, and
    /// a stock message when the fault gives none.
    pub(crate) fn from_status(status: u16, message: &str) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = status.as_u16();
        let (kind, stock) = match ERROR_KINDS.iter().find(|(s, _, _)| *s == code) {
            Some((_, kind, stock)) => (*kind, *stock),
            None if code >= 500 => ("api_error", "Internal server error"),
            None => (
                "invalid_request_error",
                "The request was rejected (injected by asbru-mock).",
            ),
        };
        Self {
            status,
            kind,
            message: if message.is_empty() {
                stock.to_owned()
            } else {
                message.to_owned()
            },
        }
    }

    /// The JSON body; `request_id` repeats the `request-id` header, as the errors page shows.
    pub(crate) fn body(&self, request_id: Option<&str>) -> Bytes {
        json_bytes(&ErrorEnvelope {
            kind: "error",
            error: ErrorDetail {
                kind: self.kind,
                message: &self.message,
            },
            request_id,
        })
    }

    /// The same error as a stream event, for failures after a 200 has been sent.
    pub(crate) fn event(&self) -> Bytes {
        sse_event(
            "error",
            &ErrorEnvelope {
                kind: "error",
                error: ErrorDetail {
                    kind: self.kind,
                    message: &self.message,
                },
                request_id: None,
            },
        )
    }
}

/// Status, error type and stock message, from the errors page.
const ERROR_KINDS: [(u16, &str, &str); 10] = [
    (400, "invalid_request_error", "Invalid request."),
    (401, "authentication_error", "invalid x-api-key"),
    (
        402,
        "billing_error",
        "Your credit balance is too low to access the Anthropic API.",
    ),
    (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    (
        404,
        "not_found_error",
        "The requested resource could not be found.",
    ),
    (
        413,
        "request_too_large",
        "Request exceeds the maximum allowed number of bytes.",
    ),
    (
        429,
        "rate_limit_error",
        "Number of requests has exceeded your rate limit.",
    ),
    (500, "api_error", "Internal server error"),
    (504, "timeout_error", "Request timed out."),
    (529, "overloaded_error", "Overloaded"),
];

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: ErrorDetail<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

/// One named SSE event: `event: NAME` then `data: JSON`, as every Anthropic stream frame is.
pub(crate) fn sse_event<T: Serialize>(name: &str, value: &T) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"event: ");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\ndata: ");
    let start = buf.len();
    if serde_json::to_writer(&mut buf, value).is_err() {
        buf.truncate(start);
        buf.extend_from_slice(b"{}");
    }
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// The key check (`x-api-key`, or `Authorization: Bearer` as the SDKs send an `auth_token`),
/// then the `anthropic-version` check, in the order the API applies them.
pub(crate) fn check_headers(shared: &Shared, headers: &HeaderMap) -> Result<(), AnthropicError> {
    let key = headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| {
            headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, key)| key.trim())
        })
        .filter(|k| !k.is_empty());
    let unauthorized = |message: &str| AnthropicError {
        status: StatusCode::UNAUTHORIZED,
        kind: "authentication_error",
        message: message.to_owned(),
    };
    match key {
        None if shared.opts.require_auth => {
            return Err(unauthorized("x-api-key header is required"));
        }
        None => {}
        Some(key) => {
            if let Some(valid) = &shared.opts.valid_keys
                && !valid.iter().any(|k| k == key)
            {
                return Err(unauthorized("invalid x-api-key"));
            }
        }
    }
    // A header sent twice reaches the API as one comma-joined value, which no version matches.
    let values: Vec<String> = headers
        .get_all(VERSION_HEADER)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    if values.is_empty() {
        return Err(AnthropicError::invalid(
            "anthropic-version: header is required",
        ));
    }
    let version = values.join(", ");
    if VERSIONS.contains(&version.as_str()) {
        Ok(())
    } else {
        Err(AnthropicError::invalid(format!(
            "anthropic-version: {} is not a valid version",
            Value::String(version)
        )))
    }
}

/// The largest body the Messages and token-counting endpoints take (32 MB, per the errors page).
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// The 413 for a body over [`MAX_BODY_BYTES`].
pub(crate) fn too_large() -> AnthropicError {
    AnthropicError::of_kind("request_too_large", None)
}

/// The error for a body that is not JSON.
pub(crate) fn unparsable_body() -> AnthropicError {
    AnthropicError::invalid("There was an error parsing the body of your request: invalid JSON")
}

/// The answer to a path the API does not serve.
pub(crate) fn not_found() -> AnthropicError {
    AnthropicError::of_kind("not_found_error", Some("Not Found"))
}

/// The 429 a `RateLimited` fault stands for, with its hints: `retry-after` and the
/// `anthropic-ratelimit-requests-*` headers the rate-limits page describes.
pub(crate) fn rate_limited(retry_after_secs: u64) -> (AnthropicError, Vec<(&'static str, String)>) {
    let err = AnthropicError::of_kind(
        "rate_limit_error",
        Some(&format!(
            "Number of requests has exceeded your rate limit. Please try again in \
             {retry_after_secs}s."
        )),
    );
    let reset = SystemTime::now() + Duration::from_secs(retry_after_secs);
    let headers = vec![
        ("retry-after", retry_after_secs.to_string()),
        ("anthropic-ratelimit-requests-remaining", "0".to_owned()),
        ("anthropic-ratelimit-requests-reset", rfc3339(reset)),
    ];
    (err, headers)
}

/// `YYYY-MM-DDTHH:MM:SSZ` in UTC, without a date library (days-to-civil conversion from
/// Howard Hinnant's calendar algorithms).
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[derive(Serialize)]
struct Model<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    display_name: &'a str,
    created_at: &'static str,
}

#[derive(Serialize)]
struct ModelPage<'a> {
    data: Vec<Model<'a>>,
    has_more: bool,
    first_id: Option<&'a str>,
    last_id: Option<&'a str>,
}

fn model(id: &str) -> Model<'_> {
    Model {
        kind: "model",
        id,
        display_name: id,
        created_at: MODEL_CREATED_AT,
    }
}

/// `GET /v1/models`: one page of the configured models, honouring `limit` (1–1000, default
/// 20), `after_id` and `before_id` as the models reference describes.
pub(crate) fn model_list(models: &[String], query: Option<&str>) -> Result<Bytes, AnthropicError> {
    let mut limit = 20usize;
    let mut after = None;
    let mut before = None;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "limit" => {
                limit = match value.parse::<i64>() {
                    Ok(n) if n < 1 => {
                        return Err(AnthropicError::invalid(
                            "limit: Input should be greater than or equal to 1",
                        ));
                    }
                    Ok(n) if n > 1000 => {
                        return Err(AnthropicError::invalid(
                            "limit: Input should be less than or equal to 1000",
                        ));
                    }
                    Ok(n) => usize::try_from(n).unwrap_or(20),
                    Err(_) => {
                        return Err(AnthropicError::invalid(
                            "limit: Input should be a valid integer, unable to parse string as \
                             an integer",
                        ));
                    }
                }
            }
            "after_id" => after = Some(value),
            "before_id" => before = Some(value),
            _ => {}
        }
    }
    let position = |id: &str| models.iter().position(|m| m == id);
    let (start, end) = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(AnthropicError::invalid(
                "Cannot specify both after_id and before_id",
            ));
        }
        (Some(id), None) => {
            let start = position(id).map_or(models.len(), |i| i + 1);
            (start, (start + limit).min(models.len()))
        }
        (None, Some(id)) => {
            let end = position(id).unwrap_or(0);
            (end.saturating_sub(limit), end)
        }
        (None, None) => (0, limit.min(models.len())),
    };
    let page = &models[start..end];
    let has_more = match before {
        Some(_) => start > 0,
        None => end < models.len(),
    };
    Ok(json_bytes(&ModelPage {
        data: page.iter().map(|m| model(m)).collect(),
        has_more,
        first_id: page.first().map(String::as_str),
        last_id: page.last().map(String::as_str),
    }))
}

/// `GET /v1/models/{id}`: the model, or the 404 the API gives for an unknown id.
pub(crate) fn model_object(models: &[String], id: &str) -> Result<Bytes, AnthropicError> {
    if models.iter().any(|m| m == id) {
        Ok(json_bytes(&model(id)))
    } else {
        Err(AnthropicError::of_kind(
            "not_found_error",
            Some(&format!("model: {id}")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        let at = |secs| rfc3339(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_747_180_800 + 3_723), "2025-05-14T01:02:03Z");
    }

    #[test]
    fn status_faults_map_to_documented_types() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (503, "api_error"),
            (529, "overloaded_error"),
            (418, "invalid_request_error"),
        ] {
            let err = AnthropicError::from_status(status, "");
            assert_eq!(err.kind, kind, "{status}");
            assert_eq!(err.status.as_u16(), status);
            assert!(!err.message.is_empty());
        }
        assert_eq!(AnthropicError::from_status(529, "custom").message, "custom");
    }

    #[test]
    fn model_pages() {
        let models: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let page =
            |q| -> Value { serde_json::from_slice(&model_list(&models, q).unwrap()).unwrap() };
        let all = page(None);
        assert_eq!(all["data"].as_array().unwrap().len(), 3);
        assert_eq!(all["has_more"], false);
        let first = page(Some("limit=2"));
        assert_eq!(first["last_id"], "b");
        assert_eq!(first["has_more"], true);
        let next = page(Some("limit=2&after_id=b"));
        assert_eq!(next["first_id"], "c");
        assert_eq!(next["has_more"], false);
        let prev = page(Some("before_id=c&limit=1"));
        assert_eq!(prev["first_id"], "b");
        assert_eq!(prev["has_more"], true);
        assert!(model_list(&models, Some("limit=0")).is_err());
        assert!(model_list(&models, Some("limit=x")).is_err());
    }
}
