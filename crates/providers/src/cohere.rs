//! The adapter for Cohere's v2 API (`POST {base}/v2/chat`, `/v2/embed`, `/v2/rerank`,
//! `GET /v1/models`), and for custom providers whose `base_provider_type` is `cohere`.
//!
//! Like [`crate::Anthropic`], it takes and returns the OpenAI dialect and translates inside with
//! [`asbru_dialects::cohere`]: chat bodies become Cohere's, answers come back as a
//! `chat.completion` body or as OpenAI SSE chunks ending in the usage chunk and `data: [DONE]`;
//! embeddings go through `/v2/embed`; `/v1/rerank` bodies (Bifrost's shape) through `/v2/rerank`.
//! The key is sent as `Authorization: Bearer`. The default base URL is Bifrost's,
//! `https://api.cohere.ai`; `network_config.base_url` and `request_path_overrides` override it.

use crate::error_map::{from_transport, scrub_error};
use crate::http::{ResponseLimits, Target};
use crate::openai_compatible::ByteStream;
use crate::{Operation, UpstreamClient, common, translated};
use asbru_config::{KeyConfig, ProviderConfig};
use asbru_dialects::cohere::embed::{from_cohere_embed, to_cohere_embed};
use asbru_dialects::cohere::rerank::{from_cohere_rerank, to_cohere_rerank};
use asbru_dialects::cohere::types::{EmbedResponse, RerankResponse as CohereRanked};
use asbru_dialects::cohere::{
    ChatResponse as CohereResponse, StreamToUnified, error_from_cohere, request::to_cohere,
    response::from_cohere,
};
use asbru_schema::GatewayError;
use asbru_schema::chat::{ChatChunk, ChatRequest};
use asbru_schema::openai::EmbeddingRequest;
use asbru_schema::rerank::RerankRequest;
use bytes::Bytes;
use http::Method;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use std::time::Duration;

/// Cohere's public endpoint, Bifrost's default for the `cohere` provider.
pub const DEFAULT_BASE_URL: &str = "https://api.cohere.ai";

/// The chat endpoint.
pub const CHAT_PATH: &str = "/v2/chat";
/// The embed endpoint.
pub const EMBED_PATH: &str = "/v2/embed";
/// The rerank endpoint.
pub const RERANK_PATH: &str = "/v2/rerank";
/// The models endpoint (v1 is where Cohere lists models); `page_size=1000` so one page usually
/// lists them all.
pub const MODELS_PATH: &str = "/v1/models?page_size=1000";

/// Reaches one Cohere provider; URLs, headers and key headers are prepared at load time.
#[derive(Debug)]
pub struct Cohere {
    name: String,
    client: UpstreamClient,
    chat: Option<Target>,
    embed: Option<Target>,
    rerank: Option<Target>,
    models: Option<Target>,
    /// `content-type`, `user-agent`, then `network_config.extra_headers`.
    headers: HeaderMap,
    /// `Bearer {key}` per key, in the order of `ProviderConfig::keys`; marked sensitive.
    keys: Vec<HeaderValue>,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
}

impl Cohere {
    pub fn new(provider: &ProviderConfig, limits: &ResponseLimits) -> Result<Self, GatewayError> {
        let base = common::base_url(provider, Some(DEFAULT_BASE_URL))?;
        let target = |op, path| common::target(provider, &base, op, Some(path));
        let keys = provider
            .keys
            .iter()
            .map(|k| {
                common::secret_header(
                    &format!("Bearer {}", k.value.expose_secret()),
                    k,
                    &provider.name,
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: provider.name.clone(),
            client: UpstreamClient::new(&provider.network, &provider.proxy, limits)?,
            chat: target(Operation::ChatCompletion, CHAT_PATH)?,
            embed: target(Operation::Embedding, EMBED_PATH)?,
            rerank: target(Operation::Rerank, RERANK_PATH)?,
            models: target(Operation::ListModels, MODELS_PATH)?,
            headers: common::base_headers(provider)?,
            keys,
            request_timeout: provider.network.request_timeout,
            stream_idle_timeout: provider.network.stream_idle_timeout,
        })
    }

    /// Chat, embeddings, rerank and model listing; Cohere has no OpenAI-style text completions.
    pub fn supports(&self, op: Operation) -> bool {
        self.url(op).is_some()
    }

    fn url(&self, op: Operation) -> Option<&Target> {
        match op {
            Operation::ChatCompletion => self.chat.as_ref(),
            Operation::Embedding => self.embed.as_ref(),
            Operation::Rerank => self.rerank.as_ref(),
            Operation::ListModels => self.models.as_ref(),
            Operation::TextCompletion | Operation::CountTokens | Operation::Responses => None,
        }
    }

    fn prepare(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<(&Target, HeaderMap), GatewayError> {
        let target = self.url(op).ok_or_else(|| {
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
        })?;
        let mut headers = self.headers.clone();
        if let Some(value) = key.and_then(|(i, _)| self.keys.get(i)) {
            headers.insert(AUTHORIZATION, value.clone());
        }
        Ok((target, headers))
    }

    /// The Cohere chat request for an OpenAI-dialect body (already carrying the upstream model),
    /// and that model. A body that is not a valid chat request, or asks for what Cohere cannot
    /// do (audio input, `n > 1`), is the client's error (400).
    fn convert(&self, body: &[u8], stream: bool) -> Result<(Bytes, String), GatewayError> {
        let request: ChatRequest = common::parse_body(body, "chat request")?;
        let mut upstream =
            to_cohere(&request).map_err(|e| GatewayError::from(e).with_provider(&self.name))?;
        upstream.stream = stream.then_some(true);
        let bytes = serde_json::to_vec(&upstream)
            .map(Bytes::from)
            .map_err(|e| GatewayError::internal(format!("serializing the Cohere request: {e}")))?;
        Ok((bytes, request.model))
    }

    /// Sends an OpenAI-dialect body and returns the OpenAI-dialect JSON answer: a
    /// `chat.completion`, an embedding list, or a rerank answer. Non-2xx answers become Cohere's
    /// error (status and message kept, type from the status, the key scrubbed).
    pub async fn send(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let (target, mut headers) = self.prepare(op, key)?;
        common::add_forwarded(&mut headers, forward);
        let answer = match op {
            Operation::ChatCompletion => {
                let (upstream, model) = self.convert(&body, false)?;
                let answer = self
                    .exchange(Method::POST, target, headers, upstream, key)
                    .await?;
                let response: CohereResponse =
                    serde_json::from_slice(&answer).map_err(|e| self.malformed(&e))?;
                let unified = from_cohere(&response, &model, common::unix_now())
                    .map_err(|e| self.scrub(e, key))?;
                serde_json::to_vec(&unified)
            }
            Operation::Embedding => {
                let request: EmbeddingRequest = common::parse_body(&body, "embeddings request")?;
                let upstream = to_cohere_embed(&request)
                    .map_err(|e| GatewayError::from(e).with_provider(&self.name))?;
                let upstream = to_bytes(&upstream)?;
                let answer = self
                    .exchange(Method::POST, target, headers, upstream, key)
                    .await?;
                let response: EmbedResponse =
                    serde_json::from_slice(&answer).map_err(|e| self.malformed(&e))?;
                let unified =
                    from_cohere_embed(&response, &request.model).map_err(|e| self.malformed(&e))?;
                return common::embeddings_body(&unified, &request);
            }
            Operation::Rerank => {
                let request: RerankRequest = common::parse_body(&body, "rerank request")?;
                let upstream = to_bytes(&to_cohere_rerank(&request))?;
                let answer = self
                    .exchange(Method::POST, target, headers, upstream, key)
                    .await?;
                let response: CohereRanked =
                    serde_json::from_slice(&answer).map_err(|e| self.malformed(&e))?;
                serde_json::to_vec(&from_cohere_rerank(&response, &request, &request.model))
            }
            Operation::TextCompletion
            | Operation::ListModels
            | Operation::CountTokens
            | Operation::Responses => {
                return Err(GatewayError::internal(format!(
                    "{} is not sent with a body",
                    op.request_type(false)
                )));
            }
        };
        answer
            .map(Bytes::from)
            .map_err(|e| GatewayError::internal(format!("serializing the response: {e}")))
    }

    /// Starts a streaming chat request. Returns once Cohere answered with a success status; the
    /// stream then yields OpenAI SSE events, the usage-only chunk after `message-end` and then
    /// `data: [DONE]`. A `message-end` with `ERROR`, a malformed event or a body that ends before
    /// `message-end` ends the stream with an error item instead (never `[DONE]`).
    pub async fn send_stream(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        if op != Operation::ChatCompletion {
            return Err(GatewayError::invalid_request(
                format!("{} cannot be streamed", op.request_type(false)),
                Some("stream"),
            )
            .with_provider(&self.name));
        }
        let (target, mut headers) = self.prepare(op, key)?;
        common::add_forwarded(&mut headers, forward);
        let (upstream, model) = self.convert(&body, true)?;
        let response = tokio::time::timeout(
            self.request_timeout,
            self.client.send(Method::POST, target, headers, upstream),
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
                self.upstream_error(status, &body, key)
                    .with_retry_after(wait),
                status,
                target,
            ));
        }
        let pieces = common::idle_limited(
            response.into_stream(),
            self.stream_idle_timeout,
            self.name.clone(),
        );
        Ok(translate_stream(pieces, self.name.clone(), model))
    }

    /// Lists the provider's models as OpenAI model objects (`id` = Cohere's `name`, `object:
    /// "model"`, `created: 0` since Cohere gives no date, `owned_by: "cohere"`), with
    /// `context_length` and `endpoints` kept beside them.
    pub async fn list_models(
        &self,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            models: Vec<Model>,
        }
        #[derive(serde::Deserialize)]
        struct Model {
            name: String,
            #[serde(default)]
            endpoints: Option<serde_json::Value>,
            #[serde(default)]
            context_length: Option<serde_json::Value>,
        }
        let (target, headers) = self.prepare(Operation::ListModels, key)?;
        let body = self
            .exchange(Method::GET, target, headers, Bytes::new(), key)
            .await?;
        let page: Page = serde_json::from_slice(&body).map_err(|e| self.malformed(&e))?;
        Ok(page
            .models
            .into_iter()
            .map(|m| {
                let mut object = serde_json::json!({
                    "id": m.name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "cohere",
                });
                if let Some(map) = object.as_object_mut() {
                    for (k, v) in [
                        ("endpoints", m.endpoints),
                        ("context_length", m.context_length),
                    ] {
                        if let Some(v) = v {
                            map.insert(k.to_owned(), v);
                        }
                    }
                }
                object
            })
            .collect())
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
            |status, body, wait| {
                self.upstream_error(status, body, key)
                    .with_retry_after(wait)
            },
        )
        .await
    }

    /// Cohere's error body as the gateway error, with the key used scrubbed from the message.
    fn upstream_error(
        &self,
        status: u16,
        body: &[u8],
        key: Option<(usize, &KeyConfig)>,
    ) -> GatewayError {
        self.scrub(error_from_cohere(status, body), key)
    }

    /// `error` with the key's value removed from every field, naming this provider.
    fn scrub(&self, error: GatewayError, key: Option<(usize, &KeyConfig)>) -> GatewayError {
        let secret = key.map(|(_, k)| k.value.expose_secret());
        scrub_error(error, secret).with_provider(&self.name)
    }

    /// The provider answered 2xx with a body that is not what the API promises.
    pub fn malformed(&self, err: &dyn std::fmt::Display) -> GatewayError {
        GatewayError::upstream_unreachable(format!(
            "provider '{}' returned a malformed response: {err}",
            self.name
        ))
        .with_code("malformed_upstream_response")
        .with_provider(&self.name)
    }
}

fn to_bytes<T: serde::Serialize>(value: &T) -> Result<Bytes, GatewayError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| GatewayError::internal(format!("serializing the Cohere request: {e}")))
}

/// Turns Cohere's event stream into OpenAI SSE bytes through the shared driver
/// ([`translated`]): `[DONE]` after `message-end`, a failed or cut stream ends with an error
/// item, and the role-only chunk of `message-start` is held back so a failure right after it
/// (`message-end` with `ERROR`) is the stream's first item, as for Anthropic.
fn translate_stream(pieces: ByteStream, provider: String, model: String) -> ByteStream {
    let frames = Frames {
        converter: StreamToUnified::new(common::unix_now(), model),
        provider: provider.clone(),
    };
    translated::translate(pieces, translated::Sse::new(frames, provider), true)
}

/// Cohere's events for the shared driver.
struct Frames {
    converter: StreamToUnified,
    provider: String,
}

impl translated::FrameConvert for Frames {
    fn frame(&mut self, frame: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        let chunks = self
            .converter
            .push_frame(frame)
            .map_err(|e| e.into_gateway_error().with_provider(&self.provider))?;
        out.extend(chunks);
        Ok(())
    }

    fn complete(&self) -> bool {
        self.converter.finish().is_ok()
    }

    fn end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        self.converter
            .finish()
            .map_err(|e| e.into_gateway_error().with_provider(&self.provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(events: &[&str]) -> Vec<Result<String, GatewayError>> {
        translated::testing::run_text(events, |p| {
            translate_stream(p, "cohere".to_owned(), "command-a-03-2025".to_owned())
        })
    }

    const START: &str = "event: message-start\ndata: {\"id\":\"m1\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n";
    const BLOCK: &str = "event: content-start\ndata: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}\n\n";
    const DELTA: &str = "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"Hi\"}}}}\n\n";
    const END: &str = "event: content-end\ndata: {\"type\":\"content-end\",\"index\":0}\n\nevent: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":5,\"output_tokens\":2},\"tokens\":{\"input_tokens\":5,\"output_tokens\":2}}}}\n\n";

    #[test]
    fn a_complete_stream_ends_with_usage_then_done() {
        let out = collect(&[START, BLOCK, DELTA, END]);
        let text: String = out.iter().map(|r| r.as_ref().unwrap().as_str()).collect();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert_eq!(text.matches("[DONE]").count(), 1);
        assert!(text.contains("\"content\":\"Hi\""), "{text}");
        assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
        assert!(
            text.contains("\"prompt_tokens\":5,\"completion_tokens\":2"),
            "{text}"
        );
        assert!(out.iter().all(|r| !r.as_ref().unwrap().is_empty()));
    }

    #[test]
    fn error_end_and_truncation_end_with_an_error_not_done() {
        let error = "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"ERROR\",\"error\":\"boom\"}}\n\n";
        let out = collect(&[&[START, BLOCK, DELTA, error].concat()]);
        assert_eq!(out.len(), 2);
        assert!(out[0].as_ref().unwrap().contains("\"Hi\""));
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.status(), 500);
        assert!(e.message().contains("boom"));

        // Right after `message-start`: the error alone, so the engine may still fall back.
        let out = collect(&[START, error]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap_err().status(), 500);

        let out = collect(&[START, BLOCK, DELTA]);
        let last = out.last().unwrap().as_ref().unwrap_err();
        assert!(last.message().contains("message-end"), "{last}");
        assert!(
            out.iter()
                .filter_map(|r| r.as_ref().ok())
                .all(|t| !t.contains("[DONE]"))
        );
    }
}
