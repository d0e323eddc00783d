//! What every adapter prepares the same way: the base URL, per-operation targets (with
//! `request_path_overrides`), the shared headers, sensitive key headers, the idle-timeout
//! guard on streaming bodies, and the exchange of OpenAI-dialect bytes ([`Upstream`]). One place, so the adapters cannot drift apart on these policies.

use crate::error_map::{from_error_body, from_transport};
use crate::http::{PieceStream, ResponseLimits, Target};
use crate::openai_compatible::ByteStream;
use crate::{Operation, UpstreamClient};
use asbru_config::{KeyConfig, ProviderConfig};
use asbru_schema::GatewayError;
use bytes::Bytes;
use futures_util::StreamExt;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use std::time::Duration;

/// The base URL without its trailing `/`: `network_config.base_url`, else the provider's default;
/// a provider without either cannot be reached, which is a config error naming the field.
pub(crate) fn base_url(
    provider: &ProviderConfig,
    default: Option<&str>,
) -> Result<String, GatewayError> {
    let base = provider
        .network
        .base_url
        .as_deref()
        .or(default)
        .ok_or_else(|| {
            GatewayError::invalid_request(
                format!(
                    "providers.{}.network_config.base_url is required for {} (it has no public endpoint)",
                    provider.name, provider.base
                ),
                None,
            )
        })?;
    Ok(base.trim_end_matches('/').to_owned())
}

/// The upstream URL of `op`: `request_path_overrides` (a path appended to `base`, or a full URL)
/// wins over the adapter's `default_path`; `None` when the provider has no such endpoint.
pub(crate) fn target(
    provider: &ProviderConfig,
    base: &str,
    op: Operation,
    default_path: Option<&str>,
) -> Result<Option<Target>, GatewayError> {
    let over = provider
        .request_path_overrides
        .get(op.request_type(false))
        .map(String::as_str);
    let url = match (over, default_path) {
        (Some(o), _) if o.starts_with("http://") || o.starts_with("https://") => o.to_owned(),
        (Some(o), _) => format!("{base}/{}", o.trim_start_matches('/')),
        (None, Some(path)) => format!("{base}{path}"),
        (None, None) => return Ok(None),
    };
    Target::parse(&url).map(Some).map_err(|e| {
        GatewayError::invalid_request(
            format!(
                "providers.{}: invalid upstream URL {url:?}: {e}",
                provider.name
            ),
            None,
        )
    })
}

/// `content-type: application/json`, asbru's `user-agent`, then `network_config.extra_headers`
/// (which may override both).
pub(crate) fn base_headers(provider: &ProviderConfig) -> Result<HeaderMap, GatewayError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("asbru/", env!("CARGO_PKG_VERSION"))),
    );
    for (name, value) in &provider.network.extra_headers {
        let header_error = || {
            GatewayError::invalid_request(
                format!(
                    "providers.{}.network_config.extra_headers.{name}: not a valid HTTP header",
                    provider.name
                ),
                None,
            )
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| header_error())?;
        let value = HeaderValue::from_str(value).map_err(|_| header_error())?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// A header value carrying a key, marked sensitive so hyper and tracing never print it. The error
/// names the key by id, never by value.
pub(crate) fn secret_header(
    value: &str,
    key: &KeyConfig,
    provider: &str,
) -> Result<HeaderValue, GatewayError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        GatewayError::invalid_request(
            format!(
                "providers.{provider}: key '{}' contains characters not allowed in an HTTP header",
                key.id
            ),
            None,
        )
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Parses an OpenAI-dialect body for an adapter that translates it. A body that does not fit is
/// the client's error (400), naming the field where parsing stopped, so the client can fix it.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, GatewayError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            GatewayError::invalid_request(format!("invalid {what}: {inner}"), None)
        } else {
            GatewayError::invalid_request(
                format!("invalid {what} at `{path}`: {inner}"),
                Some(&path),
            )
        }
    })
}

/// The error for a provider that did not answer within `network_config`'s request timeout.
pub(crate) fn timeout_error(provider: &str, timeout: Duration) -> GatewayError {
    GatewayError::upstream_timeout(format!(
        "provider '{provider}' did not answer within {}s (network_config.default_request_timeout_in_seconds)",
        timeout.as_secs()
    ))
    .with_provider(provider)
}

/// The body pieces of a streaming answer, failing when the provider stays silent longer than
/// `idle` (`network_config.stream_idle_timeout_in_seconds`); the stream ends after a failure.
pub(crate) fn idle_limited(pieces: PieceStream, idle: Duration, provider: String) -> ByteStream {
    let stream = futures_util::stream::unfold(Some((pieces, provider)), move |state| async move {
        let (mut pieces, name) = state?;
        match tokio::time::timeout(idle, pieces.next()).await {
            Ok(Some(Ok(bytes))) => Some((Ok(bytes), Some((pieces, name)))),
            Ok(Some(Err(e))) => Some((Err(from_transport(&e, &name)), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(GatewayError::upstream_timeout(format!(
                    "provider '{name}' sent nothing for {}s in the middle of a stream \
                         (network_config.stream_idle_timeout_in_seconds)",
                    idle.as_secs()
                ))),
                None,
            )),
        }
    });
    Box::pin(stream)
}

/// One upstream request, as [`exchange_bytes`] sends it.
pub(crate) struct Request<'a> {
    pub(crate) method: Method,
    pub(crate) target: &'a Target,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Sends one request and returns the provider's whole answer, every adapter's non-streaming
/// exchange: transport failures become gateway errors naming `provider`, a non-2xx answer
/// becomes `on_error(status, body, retry_after)` (each adapter reads its own dialect's error
/// body), and the whole exchange is bounded by `timeout`.
pub(crate) async fn exchange_bytes(
    client: &UpstreamClient,
    provider: &str,
    timeout: Duration,
    request: Request<'_>,
    on_error: impl FnOnce(u16, &[u8], Option<Duration>) -> GatewayError,
) -> Result<Bytes, GatewayError> {
    let exchange = async {
        let response = client
            .send(
                request.method,
                request.target,
                request.headers,
                request.body,
            )
            .await
            .map_err(|e| from_transport(&e, provider))?;
        let status = response.status;
        let wait = response.retry_after;
        let body = response
            .bytes()
            .await
            .map_err(|e| from_transport(&e, provider))?;
        if status.is_success() {
            Ok(body)
        } else {
            let status = status.as_u16();
            Err(name_404_url(
                on_error(status, &body, wait),
                status,
                request.target,
            ))
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| timeout_error(provider, timeout))?
}

/// Exchanges OpenAI-dialect bytes with one provider: what the OpenAI-compatible and Azure
/// adapters share once they know the target and headers of a request. Non-2xx answers become the
/// provider's error (OpenAI error shape, the key redacted); the whole exchange is bounded by
/// `default_request_timeout_in_seconds`, a stream's silences by `stream_idle_timeout_in_seconds`.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub(crate) name: String,
    pub(crate) client: UpstreamClient,
    pub(crate) request_timeout: Duration,
    pub(crate) stream_idle_timeout: Duration,
}

impl Upstream {
    pub(crate) fn new(
        provider: &ProviderConfig,
        limits: &ResponseLimits,
    ) -> Result<Self, GatewayError> {
        Ok(Self {
            name: provider.name.clone(),
            client: UpstreamClient::new(&provider.network, &provider.proxy, limits)?,
            request_timeout: provider.network.request_timeout,
            stream_idle_timeout: provider.network.stream_idle_timeout,
        })
    }

    /// Sends one request and returns the provider's whole answer. `secret` is scrubbed from
    /// error messages.
    pub(crate) async fn exchange(
        &self,
        method: Method,
        target: &Target,
        headers: HeaderMap,
        body: Bytes,
        secret: Option<&str>,
    ) -> Result<Bytes, GatewayError> {
        exchange_bytes(
            &self.client,
            &self.name,
            self.request_timeout,
            Request {
                method,
                target,
                headers,
                body,
            },
            |status, body, wait| {
                self.upstream_error(status, body, secret, target)
                    .with_retry_after(wait)
            },
        )
        .await
    }

    /// Starts a streaming request. Returns once the provider answered with a success status;
    /// the stream then yields body pieces as they arrive.
    pub(crate) async fn stream(
        &self,
        target: &Target,
        headers: HeaderMap,
        body: Bytes,
        secret: Option<&str>,
    ) -> Result<ByteStream, GatewayError> {
        let response = tokio::time::timeout(
            self.request_timeout,
            self.client.send(Method::POST, target, headers, body),
        )
        .await
        .map_err(|_| self.timeout_error())?
        .map_err(|e| from_transport(&e, &self.name))?;
        let status = response.status;
        if !status.is_success() {
            let wait = response.retry_after;
            let body = tokio::time::timeout(self.request_timeout, response.bytes())
                .await
                .map_err(|_| self.timeout_error())?
                .map_err(|e| from_transport(&e, &self.name))?;
            return Err(self
                .upstream_error(status.as_u16(), &body, secret, target)
                .with_retry_after(wait));
        }
        Ok(idle_limited(
            response.into_stream(),
            self.stream_idle_timeout,
            self.name.clone(),
        ))
    }

    fn upstream_error(
        &self,
        status: u16,
        body: &[u8],
        secret: Option<&str>,
        target: &Target,
    ) -> GatewayError {
        let error = from_error_body(status, body, secret).with_provider(&self.name);
        name_404_url(error, status, target)
    }

    pub(crate) fn timeout_error(&self) -> GatewayError {
        timeout_error(&self.name, self.request_timeout)
    }

    /// The provider answered 2xx with a body that is not what the API promises.
    pub(crate) fn malformed(&self, err: &dyn std::fmt::Display) -> GatewayError {
        GatewayError::upstream_unreachable(format!(
            "provider '{}' returned a malformed response: {err}",
            self.name
        ))
        .with_code("malformed_upstream_response")
        .with_provider(&self.name)
    }

    /// The error for an operation the provider has no endpoint for.
    pub(crate) fn unsupported(&self, op: Operation) -> GatewayError {
        GatewayError::invalid_request(
            format!(
                "provider '{}' does not support {}",
                self.name,
                op.request_type(false)
            ),
            None,
        )
        .with_code("unsupported_operation")
        .with_provider(&self.name)
    }
}

/// Adds the client's forwarded headers (see `asbru_engine::forwarded_headers`) to an upstream
/// request's headers, replacing configured values of the same name; `anthropic-beta` is left to
/// the adapters that speak Anthropic's API (others have no use for it).
pub(crate) fn add_forwarded(headers: &mut HeaderMap, forward: &HeaderMap) {
    let mut replaced: Vec<&HeaderName> = Vec::new();
    for (name, value) in forward {
        if name.as_str() == ANTHROPIC_BETA {
            continue;
        }
        if !replaced.contains(&name) {
            headers.remove(name);
            replaced.push(name);
        }
        headers.append(name.clone(), value.clone());
    }
}

/// Anthropic's beta-features header.
pub(crate) const ANTHROPIC_BETA: &str = "anthropic-beta";

/// The Anthropic betas to send: those configured (`network_config.extra_headers`) then the
/// client's, comma lists split, without repeats, minus those `beta_header_overrides` strips.
pub(crate) fn anthropic_betas(
    configured: &HeaderMap,
    forward: &HeaderMap,
    overrides: &[(String, bool)],
) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    let values = configured
        .get_all(ANTHROPIC_BETA)
        .iter()
        .chain(forward.get_all(ANTHROPIC_BETA));
    for value in values {
        let Ok(text) = value.to_str() else { continue };
        for token in text.split(',').map(str::trim) {
            if !token.is_empty()
                && !tokens.iter().any(|t| t == token)
                && asbru_config::beta_allowed(overrides, token)
            {
                tokens.push(token.to_owned());
            }
        }
    }
    tokens
}

/// Appends one OpenAI SSE event, `data: {chunk}\n\n`: how the translating adapters hand their
/// converted chunks to the engine.
pub(crate) fn write_chunk(out: &mut Vec<u8>, chunk: &asbru_schema::chat::ChatChunk) {
    out.extend_from_slice(b"data: ");
    // Serializing plain data structures into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, chunk);
    out.extend_from_slice(b"\n\n");
}

/// Seconds since the epoch, for the `created` of translated answers (provider dialects carry
/// none).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An OpenAI embedding list as the response body, in the encoding the client asked for: with
/// `encoding_format: "base64"` each vector becomes the base64 of its little-endian `f32`s, as
/// OpenAI answers (the OpenAI SDKs send that format by default and decode it), so a translating
/// adapter answers exactly what an OpenAI-compatible one would.
pub(crate) fn embeddings_body(
    response: &asbru_schema::openai::EmbeddingResponse,
    request: &asbru_schema::openai::EmbeddingRequest,
) -> Result<Bytes, GatewayError> {
    use base64::Engine as _;
    let base64 = request
        .extra
        .get("encoding_format")
        .and_then(|f| f.as_str())
        == Some("base64");
    if !base64 {
        return json_body(response);
    }
    let mut value = serde_json::to_value(response)
        .map_err(|e| GatewayError::internal(format!("serializing the response: {e}")))?;
    let items = value
        .get_mut("data")
        .and_then(serde_json::Value::as_array_mut)
        .into_iter()
        .flatten();
    for (item, embedding) in items.zip(&response.data) {
        let bytes: Vec<u8> = embedding
            .embedding
            .iter()
            .flat_map(|x| (*x as f32).to_le_bytes())
            .collect();
        item["embedding"] =
            serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    }
    json_body(&value)
}

/// A translated answer as its JSON body.
pub(crate) fn json_body<T: serde::Serialize>(value: &T) -> Result<Bytes, GatewayError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| GatewayError::internal(format!("serializing the response: {e}")))
}

/// A Responses-API body (what `/v1/responses/input_tokens` takes) as the unified chat request a
/// chat-only provider can count; what has no chat form is the client's error, naming the field.
pub(crate) fn responses_as_chat(
    body: &[u8],
) -> Result<asbru_schema::chat::ChatRequest, GatewayError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| GatewayError::invalid_request(format!("invalid request body: {e}"), None))?;
    asbru_dialects::openai::responses::responses_to_chat(&value).map_err(|e| {
        let param = (!e.param.is_empty()).then_some(e.param.as_str());
        GatewayError::invalid_request(e.message.clone(), param)
    })
}

/// OpenAI's answer to `/v1/responses/input_tokens`, for providers that count another way.
pub(crate) fn input_tokens_body(input_tokens: u64) -> Result<Bytes, GatewayError> {
    json_body(&serde_json::json!({
        "object": "response.input_tokens",
        "input_tokens": input_tokens,
    }))
}

/// Starts a streaming request, the streaming twin of [`exchange_bytes`]: returns once the
/// provider answered with a success status (the body then read as pieces, each silence bounded
/// by `idle`); a non-2xx answer is read whole and becomes `on_error(status, body, retry_after)`.
/// Reaching the status is bounded by `timeout`.
pub(crate) async fn open_stream(
    client: &UpstreamClient,
    provider: &str,
    (timeout, idle): (Duration, Duration),
    request: Request<'_>,
    on_error: impl FnOnce(u16, &[u8], Option<Duration>) -> GatewayError,
) -> Result<ByteStream, GatewayError> {
    let response = tokio::time::timeout(
        timeout,
        client.send(
            request.method,
            request.target,
            request.headers,
            request.body,
        ),
    )
    .await
    .map_err(|_| timeout_error(provider, timeout))?
    .map_err(|e| from_transport(&e, provider))?;
    if !response.status.is_success() {
        let status = response.status.as_u16();
        let wait = response.retry_after;
        let body = tokio::time::timeout(timeout, response.bytes())
            .await
            .map_err(|_| timeout_error(provider, timeout))?
            .map_err(|e| from_transport(&e, provider))?;
        return Err(name_404_url(
            on_error(status, &body, wait),
            status,
            request.target,
        ));
    }
    Ok(idle_limited(
        response.into_stream(),
        idle,
        provider.to_owned(),
    ))
}

/// A 404 from a provider most often means a wrong base URL (`…/v1` + `/v1/chat/completions`),
/// which a bare "not found" does not show: the error names the URL it came from, without query
/// string or credentials. Applied once, where the answer is read, for every adapter.
pub(crate) fn name_404_url(error: GatewayError, status: u16, target: &Target) -> GatewayError {
    let suffix = format!(" (HTTP 404 from {})", target.display_url());
    if status == 404 && !error.message().ends_with(&suffix) {
        error.with_message_suffix(&suffix)
    } else {
        error
    }
}
