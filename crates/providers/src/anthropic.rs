//! The adapter for Anthropic's Messages API (`POST {base}/v1/messages`), and for custom providers
//! whose `base_provider_type` is `anthropic`.
//!
//! It takes and returns the OpenAI dialect, translating inside: the OpenAI-dialect body the
//! engine rewrote is parsed into the unified [`ChatRequest`], converted with
//! [`asbru_dialects::anthropic`], sent with `x-api-key` and `anthropic-version`, and the answer
//! comes back as a `chat.completion` body or as OpenAI SSE chunks ending in `data: [DONE]`. So the
//! engine's retries, key health, fallbacks and stream forwarding work on Anthropic exactly as on
//! OpenAI-compatible providers, and only requests routed here pay for parsing (DESIGN principle 1).

use crate::error_map::{from_transport, scrub_error};
use crate::http::{ResponseLimits, Target};
use crate::openai_compatible::ByteStream;
use crate::{Operation, UpstreamClient, common, translated};
use asbru_config::{KeyConfig, ProviderConfig};
use asbru_dialects::anthropic::{
    MessagesRequest, MessagesResponse, RequestOptions, StreamToUnified, error_from_anthropic,
    request::to_anthropic, response::from_anthropic,
};
use asbru_schema::GatewayError;
use asbru_schema::chat::{ChatChunk, ChatRequest};
use bytes::Bytes;
use http::Method;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use std::time::Duration;

/// Anthropic's public endpoint, Bifrost's default for the `anthropic` provider.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The Messages endpoint, appended to the base URL as Bifrost appends it.
pub const MESSAGES_PATH: &str = "/v1/messages";

/// The token-counting endpoint.
pub const COUNT_TOKENS_PATH: &str = "/v1/messages/count_tokens";

/// The fields of a Messages request that `count_tokens` takes; the others (`max_tokens`,
/// sampling, `stream`, `metadata`) are refused there.
const COUNT_TOKENS_FIELDS: [&str; 7] = [
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
];

/// The models endpoint; `limit=1000` (the documented maximum) so one page lists every model.
pub const MODELS_PATH: &str = "/v1/models?limit=1000";

/// The API version asbru speaks: the one every Messages feature it maps is documented for, and
/// the one Bifrost sends.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Reaches one Anthropic provider. Like [`crate::OpenAiCompatible`], everything that does not
/// depend on the request (URLs, headers, key headers) is prepared when the config is loaded.
#[derive(Debug)]
pub struct Anthropic {
    name: String,
    client: UpstreamClient,
    messages: Option<Target>,
    count_tokens: Option<Target>,
    models: Option<Target>,
    /// `content-type`, `user-agent`, `anthropic-version`, then `network_config.extra_headers`.
    headers: HeaderMap,
    /// `x-api-key` per key, in the order of `ProviderConfig::keys`; marked sensitive.
    keys: Vec<HeaderValue>,
    /// `network_config.beta_header_overrides`: beta prefixes allowed or stripped.
    beta_overrides: Vec<(String, bool)>,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
}

impl Anthropic {
    pub fn new(provider: &ProviderConfig, limits: &ResponseLimits) -> Result<Self, GatewayError> {
        let base = common::base_url(provider, Some(DEFAULT_BASE_URL))?;
        let messages = common::target(
            provider,
            &base,
            Operation::ChatCompletion,
            Some(MESSAGES_PATH),
        )?;
        let models = common::target(provider, &base, Operation::ListModels, Some(MODELS_PATH))?;
        let count_tokens = common::target(
            provider,
            &base,
            Operation::CountTokens,
            Some(COUNT_TOKENS_PATH),
        )?;
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("anthropic-version"),
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        // Extra headers come last so an operator can pin another `anthropic-version`.
        headers.extend(common::base_headers(provider)?);
        let keys = provider
            .keys
            .iter()
            .map(|k| common::secret_header(k.value.expose_secret(), k, &provider.name))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            name: provider.name.clone(),
            client: UpstreamClient::new(&provider.network, &provider.proxy, limits)?,
            messages,
            count_tokens,
            models,
            headers,
            keys,
            beta_overrides: provider.network.beta_header_overrides.clone(),
            request_timeout: provider.network.request_timeout,
            stream_idle_timeout: provider.network.stream_idle_timeout,
        })
    }

    /// Whether `op` can be served: chat and model listing; Anthropic has no OpenAI-style text
    /// completions or embeddings.
    pub fn supports(&self, op: Operation) -> bool {
        self.url(op).is_some()
    }

    fn url(&self, op: Operation) -> Option<&Target> {
        match op {
            Operation::ChatCompletion => self.messages.as_ref(),
            Operation::ListModels => self.models.as_ref(),
            Operation::CountTokens => self.count_tokens.as_ref(),
            // Responses requests are served through chat by `OpenAiFacing`.
            Operation::TextCompletion
            | Operation::Embedding
            | Operation::Rerank
            | Operation::Responses => None,
        }
    }

    fn prepare(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        forward: &HeaderMap,
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
        common::add_forwarded(&mut headers, forward);
        self.set_betas(&mut headers, forward);
        if let Some(value) = key.and_then(|(i, _)| self.keys.get(i)) {
            headers.insert(HeaderName::from_static("x-api-key"), value.clone());
        }
        Ok((target, headers))
    }

    /// `anthropic-beta`: the configured betas (`network_config.extra_headers`) and the client's,
    /// merged in order without repeats, minus those `beta_header_overrides` strips; no header
    /// when none is left.
    fn set_betas(&self, headers: &mut HeaderMap, forward: &HeaderMap) {
        let tokens = common::anthropic_betas(&self.headers, forward, &self.beta_overrides);
        let name = HeaderName::from_static(common::ANTHROPIC_BETA);
        match HeaderValue::from_str(&tokens.join(",")) {
            Ok(value) if !tokens.is_empty() => {
                headers.insert(name, value);
            }
            _ => {
                headers.remove(name);
            }
        }
    }

    /// The Anthropic request for an OpenAI-dialect body (already carrying the upstream model).
    /// A body that is not a valid chat request is the client's error (400, naming the field);
    /// so is a request Anthropic cannot express (audio input, `n > 1`).
    fn convert(&self, body: &[u8], stream: bool) -> Result<Bytes, GatewayError> {
        let request: ChatRequest = common::parse_body(body, "chat request")?;
        let upstream = request_for(&request, stream, &self.name)?;
        serde_json::to_vec(&upstream)
            .map(Bytes::from)
            .map_err(|e| GatewayError::internal(format!("serializing the Anthropic request: {e}")))
    }

    /// Sends an OpenAI-dialect chat body and returns the answer as an OpenAI `chat.completion`
    /// JSON body; non-2xx answers become Anthropic's error (status, type and message kept).
    pub async fn send(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let (target, headers) = self.prepare(op, key, forward)?;
        if op == Operation::CountTokens {
            return self.count(target, headers, &body, key).await;
        }
        let upstream = self.convert(&body, false)?;
        let answer = self
            .exchange(Method::POST, target, headers, upstream, key)
            .await?;
        chat_answer(&answer, &self.name)
    }

    /// Counts a Responses-API request's input tokens with `count_tokens`: the request is
    /// converted like a chat request and sent without the fields that endpoint refuses.
    async fn count(
        &self,
        target: &Target,
        headers: HeaderMap,
        body: &[u8],
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Bytes, GatewayError> {
        #[derive(serde::Deserialize)]
        struct Count {
            input_tokens: u64,
        }
        let request = common::responses_as_chat(body)?;
        let upstream = to_anthropic(&request, &RequestOptions::default())
            .map_err(|e| GatewayError::from(e).with_provider(&self.name))?;
        let mut value = serde_json::to_value(&upstream).map_err(|e| {
            GatewayError::internal(format!("serializing the Anthropic request: {e}"))
        })?;
        if let Some(fields) = value.as_object_mut() {
            fields.retain(|k, _| COUNT_TOKENS_FIELDS.contains(&k.as_str()));
        }
        let answer = self
            .exchange(
                Method::POST,
                target,
                headers,
                common::json_body(&value)?,
                key,
            )
            .await?;
        let count: Count = serde_json::from_slice(&answer).map_err(|e| self.malformed(&e))?;
        common::input_tokens_body(count.input_tokens)
    }

    /// Starts a streaming chat request. Returns once Anthropic answered with a success status;
    /// the stream then yields OpenAI SSE events (`data: {chunk}`), the usage-only chunk after
    /// `message_stop` and then `data: [DONE]`. An `error` event, a malformed event or a body that
    /// ends before `message_stop` ends the stream with an error item instead (never `[DONE]`).
    pub async fn send_stream(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        let (target, headers) = self.prepare(op, key, forward)?;
        let upstream = self.convert(&body, true)?;
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
        Ok(translate_stream(pieces, self.name.clone()))
    }

    /// Lists the provider's models as OpenAI model objects (`id`, `object: "model"`, `created`,
    /// `owned_by`), Anthropic's `display_name` kept beside them.
    pub async fn list_models(
        &self,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        #[derive(serde::Deserialize)]
        struct Page {
            data: Vec<Model>,
        }
        #[derive(serde::Deserialize)]
        struct Model {
            id: String,
            #[serde(default)]
            display_name: Option<String>,
            #[serde(default)]
            created_at: Option<String>,
        }
        let (target, headers) = self.prepare(Operation::ListModels, key, &HeaderMap::new())?;
        let body = self
            .exchange(Method::GET, target, headers, Bytes::new(), key)
            .await?;
        let page: Page = serde_json::from_slice(&body).map_err(|e| self.malformed(&e))?;
        Ok(page
            .data
            .into_iter()
            .map(|m| {
                let mut object = serde_json::json!({
                    "id": m.id,
                    "object": "model",
                    "created": m.created_at.as_deref().and_then(rfc3339_to_unix).unwrap_or(0),
                    "owned_by": "anthropic",
                });
                if let (Some(name), Some(map)) = (m.display_name, object.as_object_mut()) {
                    map.insert("display_name".to_owned(), serde_json::Value::String(name));
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

    /// Anthropic's error body as the gateway error, with the key used scrubbed from the message
    /// (Anthropic does not echo keys, but a proxy in front of it might).
    fn upstream_error(
        &self,
        status: u16,
        body: &[u8],
        key: Option<(usize, &KeyConfig)>,
    ) -> GatewayError {
        let secret = key.map(|(_, k)| k.value.expose_secret());
        anthropic_error(&self.name, status, body, secret)
    }

    /// The provider answered 2xx with a body that is not what the API promises.
    pub fn malformed(&self, err: &dyn std::fmt::Display) -> GatewayError {
        malformed(&self.name, err)
    }
}

/// The Messages request for a unified chat request (`stream: true` when `stream`): shared with
/// Vertex AI, which serves Claude with the same body minus `model`. A request Anthropic cannot
/// express (audio input, `n > 1`) is the client's error (400).
pub(crate) fn request_for(
    request: &ChatRequest,
    stream: bool,
    provider: &str,
) -> Result<MessagesRequest, GatewayError> {
    let mut upstream = to_anthropic(request, &RequestOptions::default())
        .map_err(|e| GatewayError::from(e).with_provider(provider))?;
    upstream.stream = stream.then_some(true);
    Ok(upstream)
}

/// A Messages answer as an OpenAI `chat.completion` body.
pub(crate) fn chat_answer(answer: &[u8], provider: &str) -> Result<Bytes, GatewayError> {
    let response: MessagesResponse =
        serde_json::from_slice(answer).map_err(|e| malformed(provider, &e))?;
    let unified = from_anthropic(&response, common::unix_now());
    serde_json::to_vec(&unified)
        .map(Bytes::from)
        .map_err(|e| GatewayError::internal(format!("serializing the response: {e}")))
}

/// Anthropic's error body as the gateway error, with `secret` scrubbed from every field
/// (Anthropic does not echo keys, but a proxy in front of it might).
pub(crate) fn anthropic_error(
    provider: &str,
    status: u16,
    body: &[u8],
    secret: Option<&str>,
) -> GatewayError {
    scrub_error(error_from_anthropic(status, body), secret).with_provider(provider)
}

/// The provider answered 2xx with a body that is not what the API promises.
fn malformed(provider: &str, err: &dyn std::fmt::Display) -> GatewayError {
    GatewayError::upstream_unreachable(format!(
        "provider '{provider}' returned a malformed response: {err}"
    ))
    .with_code("malformed_upstream_response")
    .with_provider(provider)
}

/// Turns Anthropic's event stream into OpenAI SSE bytes through the shared driver
/// ([`translated`]): `[DONE]` after `message_stop`, an `error` event or a body that ends before
/// it ends the stream with an error item, and the role-only chunk of `message_start` is held
/// back, since Anthropic reports overload as an `error` event right after it.
pub(crate) fn translate_stream(pieces: ByteStream, provider: String) -> ByteStream {
    let frames = Frames {
        converter: StreamToUnified::new(common::unix_now()),
        provider: provider.clone(),
    };
    translated::translate(pieces, translated::Sse::new(frames, provider), true)
}

/// Anthropic's events for the shared driver.
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

/// Seconds since the epoch for an RFC 3339 timestamp (`2025-05-14T00:00:00Z`, offsets and
/// fractions allowed), as Anthropic reports a model's `created_at`; `None` if it is not one.
fn rfc3339_to_unix(s: &str) -> Option<u64> {
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from 1970-01-01 to the date (Howard Hinnant's `days_from_civil`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // The offset after the seconds and any fraction: `Z`, or `±HH:MM`.
    let rest = s.get(19..)?;
    let rest = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match rest.as_bytes().first() {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            let secs = h * 3600 + m * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        Some(_) => return None,
    };
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates_become_unix_seconds() {
        assert_eq!(rfc3339_to_unix("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_to_unix("2025-05-14T00:00:00Z"), Some(1_747_180_800));
        assert_eq!(
            rfc3339_to_unix("2025-05-14T02:00:00.123+02:00"),
            Some(1_747_180_800)
        );
        assert_eq!(rfc3339_to_unix("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(rfc3339_to_unix("yesterday"), None);
    }

    fn collect(events: &[&str]) -> Vec<Result<String, GatewayError>> {
        translated::testing::run_text(events, |p| translate_stream(p, "anthropic".to_owned()))
    }

    const START: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-x\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n";
    const BLOCK: &str = "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    const DELTA: &str = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n";
    const END: &str = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":2}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    #[test]
    fn a_complete_stream_ends_with_usage_then_done() {
        let out = collect(&[
            START,
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            BLOCK,
            DELTA,
            END,
        ]);
        let text: String = out.iter().map(|r| r.as_ref().unwrap().as_str()).collect();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert_eq!(text.matches("[DONE]").count(), 1);
        assert!(text.contains("\"content\":\"Hi\""), "{text}");
        assert!(text.contains("\"finish_reason\":\"stop\""), "{text}");
        assert!(
            text.contains("\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}"),
            "{text}"
        );
        // Nothing is yielded for a piece that only held a ping.
        assert!(out.iter().all(|r| !r.as_ref().unwrap().is_empty()));
    }

    #[test]
    fn events_split_anywhere_give_the_same_output() {
        let whole = [START, BLOCK, DELTA, END].concat();
        let expected: String = collect(&[&whole]).into_iter().map(Result::unwrap).collect();
        let cut = whole.len() / 3;
        let split: String = collect(&[&whole[..cut], &whole[cut..]])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let strip = |s: &str| s.replace(char::is_numeric, "");
        assert_eq!(strip(&expected), strip(&split));
    }

    #[test]
    fn error_events_and_truncation_end_with_an_error_not_done() {
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        let out = collect(&[&[START, BLOCK, DELTA, error].concat()]);
        assert_eq!(out.len(), 2);
        assert!(out[0].as_ref().unwrap().contains("\"Hi\""));
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.status(), 529);
        assert_eq!(e.error_type(), Some("overloaded_error"));
        assert_eq!(e.message(), "Overloaded");

        // Right after `message_start`: the error alone, so the engine may still fall back.
        let joined = [START, error].concat();
        for pieces in [vec![START, error], vec![joined.as_str()]] {
            let out = collect(&pieces);
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].as_ref().unwrap_err().status(), 529);
        }

        let out = collect(&[START, BLOCK, DELTA]);
        let last = out.last().unwrap().as_ref().unwrap_err();
        assert!(last.message().contains("message_stop"), "{last}");
        assert!(
            out.iter()
                .filter_map(|r| r.as_ref().ok())
                .all(|t| !t.contains("[DONE]"))
        );
    }
}
