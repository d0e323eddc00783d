//! The adapter for the Google Gemini API (`generativelanguage.googleapis.com/v1beta`), and for
//! custom providers whose `base_provider_type` is `gemini`.
//!
//! Like [`crate::Anthropic`], it takes and returns the OpenAI dialect and translates inside: the
//! OpenAI-dialect body the engine rewrote is parsed into the unified [`ChatRequest`], converted
//! with [`asbru_dialects::gemini`] and sent to `models/{model}:generateContent` (or
//! `:streamGenerateContent?alt=sse`) with the key in `x-goog-api-key`; the answer comes back as a
//! `chat.completion` body or as OpenAI SSE chunks ending in `data: [DONE]`. Embeddings go through
//! `:batchEmbedContents`, model listing through `GET models`. So the engine's retries, key
//! health, fallbacks and stream forwarding work on Gemini exactly as on the other providers.
//!
//! Gemini puts the model in the URL, so targets are built per request rather than once at load
//! time; everything else (base URL, headers, key headers) is prepared when the config is loaded.

use crate::error_map::{from_transport, scrub_error};
use crate::http::{ResponseLimits, Target};
use crate::openai_compatible::ByteStream;
use crate::{Operation, UpstreamClient, common, translated};
use asbru_config::{KeyConfig, ProviderConfig};
use asbru_dialects::gemini::embed::{from_gemini_batch, to_gemini_batch};
use asbru_dialects::gemini::types::{BatchEmbedContentsResponse, ListModelsResponse};
use asbru_dialects::gemini::{
    GenerateContentResponse, RequestOptions, StreamToUnified, error_from_gemini,
    request::to_gemini, response::from_gemini,
};
use asbru_schema::chat::{ChatChunk, ChatRequest};
use asbru_schema::openai::EmbeddingRequest;
use asbru_schema::{GatewayError, Usage};
use bytes::Bytes;
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use std::time::Duration;

/// Google's public endpoint for the Gemini API.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// The API version asbru speaks, appended to the base URL unless the configured `base_url`
/// already ends with a version (Bifrost users often write `…googleapis.com/v1beta`).
pub const API_VERSION: &str = "v1beta";

/// The header Google's SDKs send the API key in; a header rather than `?key=` so the key never
/// lands in an access log.
pub const KEY_HEADER: &str = "x-goog-api-key";

/// Models per `GET models` page: the documented maximum, so one page usually lists them all.
const MODELS_PAGE_SIZE: u32 = 1000;

/// Pages of models read at most; a provider that keeps answering with a `nextPageToken` cannot
/// keep the listing going forever.
const MAX_MODEL_PAGES: usize = 20;

/// Reaches one Gemini provider.
#[derive(Debug)]
pub struct Gemini {
    name: String,
    client: UpstreamClient,
    /// The base URL with the API version, without a trailing `/`: `{base}/v1beta`.
    api: String,
    /// `custom_provider_config.request_path_overrides`, by request type; `{model}` in a path is
    /// replaced by the model resource (`models/gemini-2.5-flash`).
    overrides: Vec<(&'static str, String)>,
    /// `content-type`, `user-agent`, then `network_config.extra_headers`.
    headers: HeaderMap,
    /// `x-goog-api-key` per key, in the order of `ProviderConfig::keys`; marked sensitive.
    keys: Vec<HeaderValue>,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
}

/// The request types a Gemini provider serves, for the overrides lookup.
const REQUEST_TYPES: [&str; 5] = [
    "chat_completion",
    "chat_completion_stream",
    "embedding",
    "list_models",
    "count_tokens",
];

impl Gemini {
    pub fn new(provider: &ProviderConfig, limits: &ResponseLimits) -> Result<Self, GatewayError> {
        let base = common::base_url(provider, Some(DEFAULT_BASE_URL))?;
        let api = if has_version(&base) {
            base
        } else {
            format!("{base}/{API_VERSION}")
        };
        let overrides = REQUEST_TYPES
            .iter()
            .filter_map(|t| {
                provider
                    .request_path_overrides
                    .get(*t)
                    .map(|path| (*t, path.clone()))
            })
            .collect();
        let keys = provider
            .keys
            .iter()
            .map(|k| common::secret_header(k.value.expose_secret(), k, &provider.name))
            .collect::<Result<_, _>>()?;
        let gemini = Self {
            name: provider.name.clone(),
            client: UpstreamClient::new(&provider.network, &provider.proxy, limits)?,
            api,
            overrides,
            headers: common::base_headers(provider)?,
            keys,
            request_timeout: provider.network.request_timeout,
            stream_idle_timeout: provider.network.stream_idle_timeout,
        };
        // Fail at load time, naming the field, rather than on the first request.
        gemini.target("list_models", "models", "")?;
        Ok(gemini)
    }

    /// Whether `op` can be served: chat, embeddings and model listing. Gemini has no
    /// OpenAI-style text completions and no rerank.
    pub fn supports(&self, op: Operation) -> bool {
        !matches!(op, Operation::TextCompletion | Operation::Rerank)
    }

    /// The URL for a request type: its override (a path appended to the base URL, or a full
    /// URL; `{model}` replaced), else `{api}/{resource}{suffix}`.
    fn target(
        &self,
        request_type: &str,
        resource: &str,
        suffix: &str,
    ) -> Result<Target, GatewayError> {
        let over = self
            .overrides
            .iter()
            .find(|(t, _)| *t == request_type)
            .map(|(_, p)| p.replace("{model}", resource));
        let url = match over {
            Some(o) if o.starts_with("http://") || o.starts_with("https://") => o,
            Some(o) => format!("{}/{}", self.api, o.trim_start_matches('/')),
            None => format!("{}/{resource}{suffix}", self.api),
        };
        Target::parse(&url).map_err(|e| {
            GatewayError::invalid_request(
                format!("providers.{}: invalid upstream URL {url:?}: {e}", self.name),
                None,
            )
        })
    }

    /// The headers for one request with `key`, the client's forwarded ones added.
    fn headers(&self, key: Option<(usize, &KeyConfig)>, forward: &HeaderMap) -> HeaderMap {
        let mut headers = self.headers.clone();
        common::add_forwarded(&mut headers, forward);
        if let Some(value) = key.and_then(|(i, _)| self.keys.get(i)) {
            headers.insert(HeaderName::from_static(KEY_HEADER), value.clone());
        }
        headers
    }

    fn unsupported(&self, op: Operation) -> GatewayError {
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

    /// The Gemini request for an OpenAI-dialect chat body (already carrying the upstream model),
    /// and the model resource for its URL. A body that is not a valid chat request, or one
    /// Gemini cannot express, is the client's error (400).
    fn convert(&self, body: &[u8]) -> Result<(String, Bytes), GatewayError> {
        let request: ChatRequest = common::parse_body(body, "chat request")?;
        let resource = model_resource(&request.model)?;
        Ok((resource, request_body(&request, &self.name)?))
    }

    /// Sends an OpenAI-dialect body and returns the OpenAI-dialect JSON answer: a
    /// `chat.completion` for chat, an embedding list for embeddings. Non-2xx answers become
    /// Google's error (status, `status` name and message kept, `RetryInfo` as the retry hint);
    /// a candidate that finished with `MALFORMED_FUNCTION_CALL` or similar is an error too.
    pub async fn send(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        match op {
            Operation::ChatCompletion => self.chat(key, &body, forward).await,
            Operation::Embedding => self.embed(key, &body, forward).await,
            Operation::CountTokens => self.count(key, &body, forward).await,
            Operation::TextCompletion
            | Operation::ListModels
            | Operation::Rerank
            | Operation::Responses => Err(self.unsupported(op)),
        }
    }

    async fn chat(
        &self,
        key: Option<(usize, &KeyConfig)>,
        body: &[u8],
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let (resource, upstream) = self.convert(body)?;
        let target = self.target("chat_completion", &resource, ":generateContent")?;
        let answer = self
            .exchange(
                Method::POST,
                &target,
                self.headers(key, forward),
                upstream,
                key,
            )
            .await?;
        chat_answer(&answer, model_id(&resource), &self.name)
    }

    /// Counts a Responses-API request's input tokens with `:countTokens`, sending the whole
    /// converted request as its `generateContentRequest` (so system instructions and tools
    /// count too).
    async fn count(
        &self,
        key: Option<(usize, &KeyConfig)>,
        body: &[u8],
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Count {
            #[serde(default)]
            total_tokens: u64,
        }
        let request = common::responses_as_chat(body)?;
        let resource = model_resource(&request.model)?;
        let options = RequestOptions {
            fill_missing_signatures: true,
            ..RequestOptions::default()
        };
        let upstream = to_gemini(&request, &options)
            .map_err(|e| GatewayError::from(e).with_provider(&self.name))?;
        let mut inner = serde_json::to_value(&upstream)
            .map_err(|e| GatewayError::internal(format!("serializing the Gemini request: {e}")))?;
        if let Some(fields) = inner.as_object_mut() {
            fields.insert(
                "model".to_owned(),
                serde_json::Value::String(resource.clone()),
            );
        }
        let wrapped = serde_json::json!({ "generateContentRequest": inner });
        let target = self.target("count_tokens", &resource, ":countTokens")?;
        let answer = self
            .exchange(
                Method::POST,
                &target,
                self.headers(key, forward),
                common::json_body(&wrapped)?,
                key,
            )
            .await?;
        let count: Count = serde_json::from_slice(&answer).map_err(|e| self.malformed(&e))?;
        common::input_tokens_body(count.total_tokens)
    }

    /// Embeddings through `batchEmbedContents` (one round trip for any number of inputs).
    /// Gemini reports no token counts for embeddings; `usage` is there (OpenAI clients read it)
    /// with the counts Google gave, which today are none, so zero.
    async fn embed(
        &self,
        key: Option<(usize, &KeyConfig)>,
        body: &[u8],
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let request: EmbeddingRequest = common::parse_body(body, "embeddings request")?;
        let resource = model_resource(&request.model)?;
        let batch = to_gemini_batch(&request)
            .map_err(|e| GatewayError::from(e).with_provider(&self.name))?;
        let upstream = serde_json::to_vec(&batch)
            .map(Bytes::from)
            .map_err(|e| GatewayError::internal(format!("serializing the Gemini request: {e}")))?;
        let target = self.target("embedding", &resource, ":batchEmbedContents")?;
        let answer = self
            .exchange(
                Method::POST,
                &target,
                self.headers(key, forward),
                upstream,
                key,
            )
            .await?;
        let response: BatchEmbedContentsResponse =
            serde_json::from_slice(&answer).map_err(|e| self.malformed(&e))?;
        let mut unified = from_gemini_batch(&response, &request.model);
        let prompt_tokens = response
            .extra
            .get("usageMetadata")
            .and_then(|u| u.get("promptTokenCount"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        unified.usage = Some(Usage {
            prompt_tokens,
            completion_tokens: 0,
            total_tokens: prompt_tokens,
            ..Usage::default()
        });
        common::embeddings_body(&unified, &request)
    }

    /// Starts a streaming chat request. Returns once Gemini answered with a success status; the
    /// stream then yields OpenAI SSE events (`data: {chunk}`), the usage-only chunk once the body
    /// ended, and then `data: [DONE]`. An `{"error": …}` payload, a failure finish reason, a
    /// malformed chunk or a body that ends before any `finishReason` ends the stream with an
    /// error item instead (never `[DONE]`).
    pub async fn send_stream(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        if op != Operation::ChatCompletion {
            return Err(self.unsupported(op));
        }
        let (resource, upstream) = self.convert(&body)?;
        let target = self.target(
            "chat_completion_stream",
            &resource,
            ":streamGenerateContent?alt=sse",
        )?;
        let response = tokio::time::timeout(
            self.request_timeout,
            self.client
                .send(Method::POST, &target, self.headers(key, forward), upstream),
        )
        .await
        .map_err(|_| common::timeout_error(&self.name, self.request_timeout))?
        .map_err(|e| from_transport(&e, &self.name))?;
        if !response.status.is_success() {
            let status = response.status.as_u16();
            let wait = response.retry_after;
            let body = tokio::time::timeout(self.request_timeout, response.bytes())
                .await
                .map_err(|_| common::timeout_error(&self.name, self.request_timeout))?
                .map_err(|e| from_transport(&e, &self.name))?;
            return Err(common::name_404_url(
                self.upstream_error(status, &body, key, wait),
                status,
                &target,
            ));
        }
        let pieces = common::idle_limited(
            response.into_stream(),
            self.stream_idle_timeout,
            self.name.clone(),
        );
        Ok(translate_stream(
            pieces,
            self.name.clone(),
            model_id(&resource).to_owned(),
        ))
    }

    /// Lists the provider's models as OpenAI model objects (`id` without Google's `models/`
    /// prefix, `object: "model"`, `created: 0` since Google gives no date, `owned_by:
    /// "google"`), with `display_name`, the token limits and the supported methods kept beside
    /// them. Pages are followed up to [`MAX_MODEL_PAGES`].
    pub async fn list_models(
        &self,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        let mut models = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_MODEL_PAGES {
            let query = match &token {
                Some(t) => format!("?pageSize={MODELS_PAGE_SIZE}&pageToken={}", query_escape(t)),
                None => format!("?pageSize={MODELS_PAGE_SIZE}"),
            };
            let target = self.target("list_models", "models", &query)?;
            let body = self
                .exchange(
                    Method::GET,
                    &target,
                    self.headers(key, &HeaderMap::new()),
                    Bytes::new(),
                    key,
                )
                .await?;
            let page: ListModelsResponse =
                serde_json::from_slice(&body).map_err(|e| self.malformed(&e))?;
            models.extend(page.models.into_iter().map(|m| {
                let mut object = serde_json::json!({
                    "id": model_id(&m.name),
                    "object": "model",
                    "created": 0,
                    "owned_by": "google",
                });
                if let Some(map) = object.as_object_mut() {
                    let fields = [
                        ("display_name", m.display_name.map(serde_json::Value::from)),
                        (
                            "context_length",
                            m.input_token_limit.map(serde_json::Value::from),
                        ),
                        (
                            "max_output_tokens",
                            m.output_token_limit.map(serde_json::Value::from),
                        ),
                        (
                            "supported_methods",
                            m.supported_generation_methods.map(serde_json::Value::from),
                        ),
                    ];
                    for (name, value) in fields {
                        if let Some(value) = value {
                            map.insert(name.to_owned(), value);
                        }
                    }
                }
                object
            }));
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        Ok(models)
    }

    async fn exchange(
        &self,
        method: Method,
        target: &Target,
        headers: HeaderMap,
        body: Bytes,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Bytes, GatewayError> {
        let request = common::Request {
            method,
            target,
            headers,
            body,
        };
        common::exchange_bytes(
            &self.client,
            &self.name,
            self.request_timeout,
            request,
            |status, body, wait| self.upstream_error(status, body, key, wait),
        )
        .await
    }

    /// Google's error body as the gateway error: status and `status` name kept, the message with
    /// the key used scrubbed (Google does not echo keys, but a proxy in front of it might), and
    /// the retry hint from `google.rpc.RetryInfo`, else from a `Retry-After` header.
    fn upstream_error(
        &self,
        status: u16,
        body: &[u8],
        key: Option<(usize, &KeyConfig)>,
        header_wait: Option<Duration>,
    ) -> GatewayError {
        let secret = key.map(|(_, k)| k.value.expose_secret());
        google_error(&self.name, status, body, secret, header_wait)
    }

    /// The provider answered 2xx with a body that is not what the API promises.
    pub fn malformed(&self, err: &dyn std::fmt::Display) -> GatewayError {
        malformed(&self.name, err)
    }
}

/// The Gemini `generateContent` body for a unified chat request: shared with Vertex AI, which
/// serves Gemini models with the same body. A request Gemini cannot express is the client's
/// error (400).
pub(crate) fn request_body(request: &ChatRequest, provider: &str) -> Result<Bytes, GatewayError> {
    let options = RequestOptions {
        // Histories from other providers carry no signatures, which Gemini 3 refuses on
        // function calls; Google documents this placeholder for exactly that case.
        fill_missing_signatures: true,
        ..RequestOptions::default()
    };
    let upstream =
        to_gemini(request, &options).map_err(|e| GatewayError::from(e).with_provider(provider))?;
    serde_json::to_vec(&upstream)
        .map(Bytes::from)
        .map_err(|e| GatewayError::internal(format!("serializing the Gemini request: {e}")))
}

/// A `generateContent` answer as an OpenAI `chat.completion` body; `model` names the answer
/// when Google left `modelVersion` out.
pub(crate) fn chat_answer(
    answer: &[u8],
    model: &str,
    provider: &str,
) -> Result<Bytes, GatewayError> {
    let response: GenerateContentResponse =
        serde_json::from_slice(answer).map_err(|e| malformed(provider, &e))?;
    let mut unified =
        from_gemini(&response, common::unix_now()).map_err(|e| e.with_provider(provider))?;
    if unified.model.is_empty() {
        model.clone_into(&mut unified.model);
    }
    serde_json::to_vec(&unified)
        .map(Bytes::from)
        .map_err(|e| GatewayError::internal(format!("serializing the response: {e}")))
}

/// Google's error body as the gateway error: status and `status` name kept, the message with
/// `secret` scrubbed, and the retry hint from `google.rpc.RetryInfo`, else `header_wait`.
pub(crate) fn google_error(
    provider: &str,
    status: u16,
    body: &[u8],
    secret: Option<&str>,
    header_wait: Option<Duration>,
) -> GatewayError {
    let error = error_from_gemini(status, body);
    let wait = error.retry_after().or(header_wait);
    scrub_error(error, secret)
        .with_retry_after(wait)
        .with_provider(provider)
}

/// The provider answered 2xx with a body that is not what the API promises.
fn malformed(provider: &str, err: &dyn std::fmt::Display) -> GatewayError {
    GatewayError::upstream_unreachable(format!(
        "provider '{provider}' returned a malformed response: {err}"
    ))
    .with_code("malformed_upstream_response")
    .with_provider(provider)
}

/// Whether a base URL already names an API version (`…/v1beta`, `…/v1`, `…/v1alpha`).
fn has_version(base: &str) -> bool {
    let last = base.rsplit('/').next().unwrap_or(base);
    last.strip_prefix('v').is_some_and(|rest| {
        let digits = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        digits.len() < rest.len() && matches!(digits, "" | "beta" | "alpha")
    })
}

/// The model resource a URL names: `models/{model}` for a bare id, the name as given when it
/// already is a resource (`models/…`, `tunedModels/…`). Characters that would change the URL's
/// meaning (`?`, `#`, `:`, spaces, `..`) and dot or empty segments (`.`, `a//b`, a leading or
/// trailing `/`, which a custom path's `{model}` could resolve away) are refused, naming the model.
fn model_resource(model: &str) -> Result<String, GatewayError> {
    let safe = !model.is_empty()
        && !model.contains("..")
        && model.split('/').all(|segment| !matches!(segment, "" | "."))
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'@'));
    if !safe {
        return Err(GatewayError::invalid_request(
            format!("model {model:?} is not a valid Gemini model name"),
            Some("model"),
        ));
    }
    Ok(if model.contains('/') {
        model.to_owned()
    } else {
        format!("models/{model}")
    })
}

/// The model id without Google's `models/` prefix.
fn model_id(resource: &str) -> &str {
    resource.strip_prefix("models/").unwrap_or(resource)
}

/// Percent-encodes a page token for a query string (tokens are opaque and may hold `=`, `+`…).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Turns Gemini's `alt=sse` stream into OpenAI SSE bytes through the shared driver
/// ([`translated`]).
///
/// Gemini has no end-of-stream event: the chunk carrying a `finishReason` is the last with
/// content, and the body ends after it (possibly after a usage-only chunk). So the usage chunk
/// and `[DONE]` are written when the body ends, and only if a candidate finished; a body that
/// ends earlier was cut, and the client gets an error instead.
pub(crate) fn translate_stream(pieces: ByteStream, provider: String, model: String) -> ByteStream {
    let frames = Frames {
        converter: StreamToUnified::new(common::unix_now()),
        provider: provider.clone(),
        model,
    };
    translated::translate(pieces, translated::Sse::new(frames, provider), false)
}

/// Gemini's events for the shared driver.
struct Frames {
    converter: StreamToUnified,
    provider: String,
    /// The model asked for, for chunks whose `modelVersion` Gemini left out.
    model: String,
}

impl Frames {
    fn fill_model(&self, chunks: Vec<ChatChunk>, out: &mut Vec<ChatChunk>) {
        out.extend(chunks.into_iter().map(|mut chunk| {
            if chunk.model.is_empty() {
                chunk.model.clone_from(&self.model);
            }
            chunk
        }));
    }
}

impl translated::FrameConvert for Frames {
    fn frame(&mut self, frame: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        let chunks = self
            .converter
            .push_frame(frame)
            .map_err(|e| e.into_gateway_error().with_provider(&self.provider))?;
        self.fill_model(chunks, out);
        Ok(())
    }

    fn complete(&self) -> bool {
        false
    }

    fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        let chunks = self
            .converter
            .finish()
            .map_err(|e| e.into_gateway_error().with_provider(&self.provider))?;
        self.fill_model(chunks, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_in_base_urls_are_recognised() {
        assert!(has_version(
            "https://generativelanguage.googleapis.com/v1beta"
        ));
        assert!(has_version("http://127.0.0.1:9/proxy/v1"));
        assert!(has_version("http://x/v1alpha"));
        assert!(!has_version("https://generativelanguage.googleapis.com"));
        assert!(!has_version("http://x/vertex"));
        assert!(!has_version("http://x/v"));
    }

    #[test]
    fn model_resources() {
        assert_eq!(
            model_resource("gemini-2.5-flash").unwrap(),
            "models/gemini-2.5-flash"
        );
        assert_eq!(
            model_resource("models/gemini-2.5-flash").unwrap(),
            "models/gemini-2.5-flash"
        );
        assert_eq!(
            model_resource("tunedModels/mine-1").unwrap(),
            "tunedModels/mine-1"
        );
        for bad in [
            "", "a?b", "a:b", "a#b", "a b", "../x", "..", ".", "models/.", "a//b", "/a", "a/",
        ] {
            assert_eq!(model_resource(bad).unwrap_err().status(), 400, "{bad}");
        }
        assert_eq!(query_escape("a+b=/c"), "a%2Bb%3D%2Fc");
    }

    fn collect(events: &[&str]) -> Vec<Result<String, GatewayError>> {
        translated::testing::run_text(events, |p| {
            translate_stream(p, "gemini".to_owned(), "gemini-2.5-flash".to_owned())
        })
    }

    const FIRST: &str = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hel\"}]},\"index\":0}],\"responseId\":\"r1\",\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n";
    const LAST: &str = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"lo\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":2,\"totalTokenCount\":5},\"responseId\":\"r1\"}\r\n\r\n";

    #[test]
    fn a_complete_stream_ends_with_usage_then_done() {
        let out = collect(&[FIRST, LAST]);
        let text: String = out.iter().map(|r| r.as_ref().unwrap().as_str()).collect();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert_eq!(text.matches("[DONE]").count(), 1);
        assert!(text.contains("\"role\":\"assistant\""), "{text}");
        assert!(text.contains("\"content\":\"Hel\""), "{text}");
        assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
        assert!(
            text.contains("\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5"),
            "{text}"
        );
        assert!(!text.contains("\"model\":\"\""), "{text}");

        // Split anywhere, and without the final blank line: the same text.
        let whole = [FIRST, LAST.trim_end()].concat();
        let cut = whole.len() / 3;
        let split: String = collect(&[&whole[..cut], &whole[cut..]])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(split, text);
    }

    #[test]
    fn cut_streams_and_error_payloads_end_with_an_error_not_done() {
        let out = collect(&[FIRST]);
        assert_eq!(out.len(), 2);
        assert!(out[0].as_ref().unwrap().contains("Hel"));
        assert_eq!(out[1].as_ref().unwrap_err().status(), 502);

        let error = "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n";
        let out = collect(&[&[FIRST, error].concat()]);
        assert_eq!(out.len(), 2);
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.status(), 503);
        assert_eq!(e.error_type(), Some("UNAVAILABLE"));
        assert_eq!(e.message(), "The model is overloaded.");
        assert!(e.is_retryable());

        // An error as the very first payload: the stream's first item, so the engine can retry.
        let out = collect(&[error]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap_err().status(), 503);

        let malformed = "data: {\"candidates\":[{\"finishReason\":\"MALFORMED_FUNCTION_CALL\",\"finishMessage\":\"bad\"}]}\r\n\r\n";
        let out = collect(&[FIRST, malformed]);
        let e = out.last().unwrap().as_ref().unwrap_err();
        assert_eq!(e.error_type(), Some("MALFORMED_FUNCTION_CALL"));
        assert!(
            out.iter()
                .filter_map(|r| r.as_ref().ok())
                .all(|t| !t.contains("[DONE]"))
        );
    }
}
