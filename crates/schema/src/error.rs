//! The one error type requests fail with, and its OpenAI-compatible JSON body.
//!
//! Every layer builds a [`GatewayError`] through the constructors below, so status, `type`, `code`
//! and retryability are decided once, where the failure is understood, and the transport only
//! serialises. The body is the shape every OpenAI client reads (`{"error": {message, type, code,
//! param}}`) extended as Bifrost extends it (`is_bifrost_error`, `status_code`, `extra_fields`).

use serde::Serialize;
use std::fmt;

/// What went wrong, coarsely; doubles as the metric label of the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The client's request is malformed or names something that does not exist (400).
    InvalidRequest,
    /// No route for the request's path (404) or method (405): not a request of the API at all
    /// (scanners, typos), so it is not counted with the API's invalid requests.
    UnknownRoute,
    /// The request body is larger than `client.max_request_body_size_mb` (413).
    PayloadTooLarge,
    /// The provider's wait queue is full and `drop_excess_requests` is on (429).
    QueueFull,
    /// The provider is configured but asbru has no adapter for it yet (501).
    NotSupported,
    /// The provider answered with an error; its status, type and message are kept.
    Upstream,
    /// The provider could not be reached or dropped the connection (502).
    UpstreamUnreachable,
    /// The provider did not answer within the configured timeout (504).
    UpstreamTimeout,
    /// The provider's answer is larger than the gateway buffers for one answer (502).
    UpstreamResponseTooLarge,
    /// The answers being buffered from all providers fill the gateway's budget (503).
    UpstreamBufferFull,
    /// The gateway is shutting down or otherwise cannot take the request (503).
    Unavailable,
    /// A bug or an unexpected state inside the gateway (500).
    Internal,
}

impl ErrorKind {
    /// Stable label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnknownRoute => "unknown_route",
            Self::PayloadTooLarge => "payload_too_large",
            Self::QueueFull => "queue_full",
            Self::NotSupported => "not_supported",
            Self::Upstream => "upstream",
            Self::UpstreamUnreachable => "upstream_unreachable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::UpstreamResponseTooLarge => "upstream_response_too_large",
            Self::UpstreamBufferFull => "upstream_buffer_full",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// A failed request, ready to be shown to the client.
///
/// Fields are private so that every error is built by one of the constructors, which pick the
/// status and OpenAI `type` consistently. Messages must never contain secrets: callers that embed
/// provider text run it through the adapter's redaction first.
///
/// Boxed so that `Result<T, GatewayError>` stays one pointer wide on the happy path.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayError(Box<Inner>);

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    kind: ErrorKind,
    status: u16,
    message: String,
    error_type: Option<String>,
    code: Option<String>,
    param: Option<String>,
    provider: Option<String>,
    model_requested: Option<String>,
    /// True when asbru itself produced the error (Bifrost's `is_bifrost_error`).
    from_gateway: bool,
    /// The provider's `Retry-After`, when it sent one.
    retry_after: Option<std::time::Duration>,
    /// Every provider tried for this request, when fallbacks were involved.
    attempts: Vec<Attempt>,
}

/// One provider tried for a request, and how it ended (listed in `extra_fields.attempts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// `provider/model` as it was named in the request.
    pub target: String,
    pub status: u16,
    pub message: String,
}

impl GatewayError {
    fn gateway(kind: ErrorKind, status: u16, error_type: &str, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            kind,
            status,
            message: message.into(),
            error_type: Some(error_type.to_owned()),
            code: None,
            param: None,
            provider: None,
            model_requested: None,
            from_gateway: true,
            retry_after: None,
            attempts: Vec::new(),
        }))
    }

    /// 400: the request is wrong; `param` names the field at fault when there is one.
    pub fn invalid_request(message: impl Into<String>, param: Option<&str>) -> Self {
        let mut e = Self::gateway(
            ErrorKind::InvalidRequest,
            400,
            "invalid_request_error",
            message,
        );
        e.0.param = param.map(str::to_owned);
        e
    }

    /// 404: no route for this path (kind [`ErrorKind::UnknownRoute`]).
    pub fn no_route(message: impl Into<String>) -> Self {
        Self::gateway(
            ErrorKind::UnknownRoute,
            404,
            "invalid_request_error",
            message,
        )
        .with_code("not_found")
    }

    /// 404: the route exists but what it names (a model) does not.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::gateway(
            ErrorKind::InvalidRequest,
            404,
            "invalid_request_error",
            message,
        )
        .with_code("not_found")
    }

    /// 405: the route exists but not for this method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::gateway(
            ErrorKind::UnknownRoute,
            405,
            "invalid_request_error",
            message,
        )
        .with_code("method_not_allowed")
    }

    /// 415: a body that is not JSON on a route that takes JSON. Browsers can send `text/plain`
    /// and form bodies across sites without asking first; refusing them keeps a web page the
    /// operator visits from spending the gateway's keys.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::gateway(
            ErrorKind::InvalidRequest,
            415,
            "invalid_request_error",
            message,
        )
        .with_code("unsupported_media_type")
    }

    /// 403: the request names a host, or comes from a browser origin, the gateway does not serve.
    pub fn forbidden(message: impl Into<String>, code: &str) -> Self {
        Self::gateway(
            ErrorKind::InvalidRequest,
            403,
            "invalid_request_error",
            message,
        )
        .with_code(code)
    }

    /// 401: the request carries no credential the gateway accepts (governance: no virtual key,
    /// or an unknown one).
    pub fn unauthorized(message: impl Into<String>, code: &str) -> Self {
        Self::gateway(
            ErrorKind::InvalidRequest,
            401,
            "authentication_error",
            message,
        )
        .with_code(code)
    }

    /// 429: a limit of the gateway's own (governance's rate limits) refuses the request; say
    /// when to come back with [`GatewayError::with_retry_after`].
    pub fn rate_limited(message: impl Into<String>, code: &str) -> Self {
        Self::gateway(ErrorKind::InvalidRequest, 429, "rate_limit_error", message).with_code(code)
    }

    /// 402: a spending limit of the gateway's own (governance's budgets) refuses the request.
    pub fn budget_exceeded(message: impl Into<String>) -> Self {
        Self::gateway(
            ErrorKind::InvalidRequest,
            402,
            "insufficient_quota",
            message,
        )
        .with_code("budget_exceeded")
    }

    /// 408: the client stopped sending its request body.
    pub fn request_timeout(message: impl Into<String>) -> Self {
        Self::gateway(
            ErrorKind::InvalidRequest,
            408,
            "invalid_request_error",
            message,
        )
        .with_code("request_timeout")
    }

    /// 413: the body exceeds the configured limit.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        let mb = limit_bytes / (1024 * 1024);
        Self::gateway(
            ErrorKind::PayloadTooLarge,
            413,
            "invalid_request_error",
            format!(
                "request body is larger than the limit of {mb} MB (client.max_request_body_size_mb)"
            ),
        )
        .with_code("request_too_large")
    }

    /// 429: the provider's queue is full and excess requests are dropped.
    pub fn queue_full(provider: &str, buffer_size: usize) -> Self {
        Self::gateway(
            ErrorKind::QueueFull,
            429,
            "rate_limit_error",
            format!(
                "request dropped: the queue of provider '{provider}' is full ({buffer_size} waiting; \
                 concurrency_and_buffer_size.buffer_size, client.drop_excess_requests)"
            ),
        )
        .with_code("queue_full")
        .with_provider(provider)
    }

    /// 501: the provider is configured but its adapter does not exist yet.
    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::gateway(ErrorKind::NotSupported, 501, "not_supported_error", message)
            .with_code("not_supported_yet")
    }

    /// The provider's own error: its status, type, code and message are passed through.
    pub fn upstream(
        status: u16,
        message: impl Into<String>,
        error_type: Option<String>,
        code: Option<String>,
        param: Option<String>,
    ) -> Self {
        Self(Box::new(Inner {
            kind: ErrorKind::Upstream,
            status,
            message: message.into(),
            error_type,
            code,
            param,
            provider: None,
            model_requested: None,
            from_gateway: false,
            retry_after: None,
            attempts: Vec::new(),
        }))
    }

    /// 502: connecting to the provider failed or the connection broke.
    pub fn upstream_unreachable(message: impl Into<String>) -> Self {
        Self::gateway(
            ErrorKind::UpstreamUnreachable,
            502,
            "upstream_error",
            message,
        )
        .with_code("upstream_unreachable")
    }

    /// 504: the provider did not answer in time.
    pub fn upstream_timeout(message: impl Into<String>) -> Self {
        Self::gateway(ErrorKind::UpstreamTimeout, 504, "upstream_error", message)
            .with_code("upstream_timeout")
    }

    /// 502: the provider's (non-streaming) answer is larger than asbru buffers for one answer,
    /// announced by its `Content-Length` or found while reading it. Not retryable: trying again
    /// would download the same huge body (and pay for the same generation) again.
    pub fn upstream_response_too_large(provider: &str, limit_bytes: usize) -> Self {
        Self::gateway(
            ErrorKind::UpstreamResponseTooLarge,
            502,
            "upstream_error",
            format!(
                "the answer of provider '{provider}' is larger than the limit of {} for one \
                 upstream answer; raise it with `asbru serve --max-upstream-response-mb` \
                 (ASBRU_MAX_UPSTREAM_RESPONSE_MB)",
                human_size(limit_bytes)
            ),
        )
        .with_code("upstream_response_too_large")
        .with_provider(provider)
    }

    /// 503: the answers asbru is buffering from providers for all requests together already fill
    /// its budget, so this one was refused rather than risk running out of memory. Not retried by
    /// the gateway (the provider already did the work; trying again re-downloads it), but a client
    /// may try again later.
    pub fn upstream_buffer_full(provider: &str, budget_bytes: usize) -> Self {
        Self::gateway(
            ErrorKind::UpstreamBufferFull,
            503,
            "server_error",
            format!(
                "the answer of provider '{provider}' was refused: upstream answers being buffered \
                 for all requests already fill the budget of {}; try again later, or raise it \
                 with `asbru serve --max-buffered-upstream-mb` (ASBRU_MAX_BUFFERED_UPSTREAM_MB)",
                human_size(budget_bytes)
            ),
        )
        .with_code("upstream_buffer_full")
        .with_provider(provider)
    }

    /// 503: the gateway cannot take the request right now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::gateway(ErrorKind::Unavailable, 503, "server_error", message)
    }

    /// 500: something inside the gateway failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::gateway(ErrorKind::Internal, 500, "server_error", message)
    }

    /// Sets the machine-readable `code`.
    pub fn with_code(mut self, code: &str) -> Self {
        self.0.code = Some(code.to_owned());
        self
    }

    /// Records which provider the request was for (`extra_fields.provider`).
    pub fn with_provider(mut self, provider: &str) -> Self {
        self.0.provider = Some(provider.to_owned());
        self
    }

    /// Records the model the client asked for (`extra_fields.model_requested`).
    pub fn with_model_requested(mut self, model: &str) -> Self {
        self.0.model_requested = Some(model.to_owned());
        self
    }

    /// Records how long the provider asked clients to wait (`Retry-After`).
    pub fn with_retry_after(mut self, wait: Option<std::time::Duration>) -> Self {
        self.0.retry_after = wait;
        self
    }

    /// Lists every provider tried (primary first) in `extra_fields.attempts`.
    pub fn with_attempts(mut self, attempts: Vec<Attempt>) -> Self {
        self.0.attempts = attempts;
        self
    }

    /// Appends `suffix` to the message (a detail the gateway adds, such as the URL a 404 came
    /// from).
    pub fn with_message_suffix(mut self, suffix: &str) -> Self {
        self.0.message.push_str(suffix);
        self
    }

    /// Rewrites every string the error carries (message, `type`, `code`, `param`, provider,
    /// requested model, and each attempt's target and message) with `f`, which edits in place:
    /// how a redactor reaches every field a provider could have filled.
    pub fn map_strings(mut self, mut f: impl FnMut(&mut String)) -> Self {
        let inner = &mut *self.0;
        f(&mut inner.message);
        for field in [
            &mut inner.error_type,
            &mut inner.code,
            &mut inner.param,
            &mut inner.provider,
            &mut inner.model_requested,
        ]
        .into_iter()
        .flatten()
        {
            f(field);
        }
        for attempt in &mut inner.attempts {
            f(&mut attempt.target);
            f(&mut attempt.message);
        }
        self
    }

    /// How long the provider asked clients to wait before trying again.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.0.retry_after
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The HTTP status the client receives.
    pub fn status(&self) -> u16 {
        self.0.status
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn error_type(&self) -> Option<&str> {
        self.0.error_type.as_deref()
    }

    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    pub fn param(&self) -> Option<&str> {
        self.0.param.as_deref()
    }

    pub fn provider(&self) -> Option<&str> {
        self.0.provider.as_deref()
    }

    /// Whether trying again (same or other provider) may succeed: rate limits, server errors and
    /// network failures (Anthropic's 529 "overloaded" included), never a client's mistake.
    pub fn is_retryable(&self) -> bool {
        match self.0.kind {
            ErrorKind::Upstream => matches!(self.0.status, 429 | 500 | 502 | 503 | 504 | 529),
            ErrorKind::UpstreamUnreachable | ErrorKind::UpstreamTimeout => true,
            _ => false,
        }
    }

    /// The JSON body: OpenAI's `error` object plus Bifrost's extensions.
    pub fn to_body(&self) -> Vec<u8> {
        // Serialising a struct of strings and integers cannot fail; fall back to a fixed body anyway
        // so the client always receives JSON.
        serde_json::to_vec(&self.body()).unwrap_or_else(|_| {
            br#"{"error":{"message":"internal error","type":"server_error"}}"#.to_vec()
        })
    }

    fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            is_bifrost_error: self.0.from_gateway,
            status_code: self.0.status,
            error: ErrorObject {
                message: &self.0.message,
                error_type: self.0.error_type.as_deref(),
                code: self.0.code.as_deref(),
                param: self.0.param.as_deref(),
            },
            extra_fields: ExtraFields {
                provider: self.0.provider.as_deref(),
                model_requested: self.0.model_requested.as_deref(),
                attempts: &self.0.attempts,
            },
        }
    }
}

/// `32 MB` for whole mebibytes, else `N bytes` (limits are set in MB; tests use odd sizes).
fn human_size(bytes: usize) -> String {
    const MB: usize = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else {
        format!("{bytes} bytes")
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.0.status,
            self.0.kind.as_str(),
            self.0.message
        )
    }
}

impl std::error::Error for GatewayError {}

#[derive(Serialize)]
struct ErrorBody<'a> {
    is_bifrost_error: bool,
    status_code: u16,
    error: ErrorObject<'a>,
    extra_fields: ExtraFields<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    error_type: Option<&'a str>,
    code: Option<&'a str>,
    param: Option<&'a str>,
}

#[derive(Serialize)]
struct ExtraFields<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_requested: Option<&'a str>,
    #[serde(skip_serializing_if = "<[Attempt]>::is_empty")]
    attempts: &'a [Attempt],
}

/// The start of `text`, at most `max_bytes` long, for quoting a provider's non-JSON error body.
///
/// The cut never falls inside a run of non-space characters: a cut there could keep the first
/// half of an API key, which no later redaction would recognise, so that run is left out whole.
pub fn quote_prefix(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let separates = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>');
    let next_separates = text[cut..].chars().next().is_none_or(separates);
    if !next_separates {
        cut = text[..cut].rfind(separates).map_or(0, |i| i + 1);
    }
    text[..cut].trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn invalid_request_body_has_openai_shape_and_param() {
        let e = GatewayError::invalid_request("model is required", Some("model"));
        let v: Value = serde_json::from_slice(&e.to_body()).unwrap();
        assert_eq!(e.status(), 400);
        assert_eq!(v["error"]["message"], "model is required");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["is_bifrost_error"], true);
        assert_eq!(v["status_code"], 400);
    }

    #[test]
    fn upstream_error_keeps_provider_fields() {
        let e = GatewayError::upstream(
            429,
            "Rate limit reached",
            Some("requests".into()),
            Some("rate_limit_exceeded".into()),
            None,
        )
        .with_provider("openai")
        .with_model_requested("openai/gpt-4o");
        let v: Value = serde_json::from_slice(&e.to_body()).unwrap();
        assert_eq!(v["status_code"], 429);
        assert_eq!(v["is_bifrost_error"], false);
        assert_eq!(v["error"]["type"], "requests");
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
        assert_eq!(v["extra_fields"]["provider"], "openai");
        assert_eq!(v["extra_fields"]["model_requested"], "openai/gpt-4o");
        assert!(e.is_retryable());
    }

    #[test]
    fn client_errors_are_not_retryable() {
        assert!(!GatewayError::upstream(400, "bad", None, None, None).is_retryable());
        assert!(!GatewayError::invalid_request("x", None).is_retryable());
        assert!(GatewayError::upstream_unreachable("reset").is_retryable());
    }

    #[test]
    fn oversized_answers_and_a_full_buffer_are_specific_and_not_retryable() {
        let e = GatewayError::upstream_response_too_large("openai", 32 * 1024 * 1024);
        let v: Value = serde_json::from_slice(&e.to_body()).unwrap();
        assert_eq!(e.status(), 502);
        assert_eq!(e.kind(), ErrorKind::UpstreamResponseTooLarge);
        assert_eq!(v["error"]["code"], "upstream_response_too_large");
        assert_eq!(v["extra_fields"]["provider"], "openai");
        let message = e.message();
        assert!(
            message.contains("'openai'") && message.contains("32 MB"),
            "{message}"
        );
        assert!(message.contains("--max-upstream-response-mb"), "{message}");
        assert!(!e.is_retryable());

        let e = GatewayError::upstream_buffer_full("openai", 1000);
        assert_eq!(e.status(), 503);
        assert_eq!(e.code(), Some("upstream_buffer_full"));
        assert!(e.message().contains("1000 bytes"), "{}", e.message());
        assert!(e.message().contains("--max-buffered-upstream-mb"));
        assert!(!e.is_retryable());
    }

    #[test]
    fn map_strings_reaches_every_field() {
        let e = GatewayError::upstream(
            400,
            "m KEY",
            Some("t KEY".into()),
            Some("c KEY".into()),
            Some("p KEY".into()),
        )
        .with_provider("openai")
        .with_attempts(vec![Attempt {
            target: "openai/x".into(),
            status: 400,
            message: "a KEY".into(),
        }])
        .map_strings(|s| *s = s.replace("KEY", "[REDACTED]"));
        let body = String::from_utf8(e.to_body()).unwrap();
        assert!(!body.contains("KEY"), "{body}");
        assert_eq!(e.param(), Some("p [REDACTED]"));
        assert_eq!(e.error_type(), Some("t [REDACTED]"));
    }

    #[test]
    fn quote_prefix_never_splits_a_token() {
        assert_eq!(quote_prefix("short", 512), "short");
        let text = format!("{} sk-abcdefgh tail", "x ".repeat(10));
        // The cut would fall inside the key: the key is left out whole.
        let cut = quote_prefix(&text, 24);
        assert!(!cut.contains("sk-"), "{cut:?}");
        assert!(cut.len() <= 24);
        // A cut right after a token keeps it.
        let text = "aaa bbb ccc";
        assert_eq!(quote_prefix(text, 7), "aaa bbb");
        assert_eq!(quote_prefix("é".repeat(10).as_str(), 5), "");
        assert_eq!(quote_prefix("one-long-token", 5), "");
    }
}
