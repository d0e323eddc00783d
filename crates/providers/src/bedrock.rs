//! The adapter for AWS Bedrock's Converse API (`POST {base}/model/{modelId}/converse` and
//! `/converse-stream`), and for custom providers whose `base_provider_type` is `bedrock`.
//!
//! Like [`crate::Anthropic`], it takes and returns the OpenAI dialect and translates inside: the
//! OpenAI-dialect body is parsed into the unified [`ChatRequest`], converted with
//! [`asbru_dialects::bedrock`], signed (SigV4, or a Bedrock API key as a bearer token, see
//! [`crate::bedrock_auth`]) and sent; the answer comes back as a `chat.completion` body or as
//! OpenAI SSE chunks ending in `data: [DONE]`. So retries, key health, fallbacks and stream
//! forwarding work on Bedrock as on every other provider.
//!
//! What differs from the other adapters, and why:
//! * **The target is per key.** Bedrock's endpoint is regional and the region belongs to the key
//!   (`bedrock_key_config.region`), so the URL is built per request from the key, unless
//!   `network_config.base_url` pins one endpoint for all keys (a VPC endpoint, a proxy, tests).
//! * **The model is in the path**, percent-encoded by [`converse_path`]; a key's `deployments`
//!   map the requested model to a model id or inference profile, and its `arn` prefixes that id
//!   (`{arn}/{id}`) as Bifrost does, so account-scoped inference-profile ARNs are built for you.
//! * **Every request is signed after its body is final**: SigV4 covers a hash of the body bytes.
//! * Chat goes through Converse; embeddings through `InvokeModel` (`/model/{id}/invoke`) in the
//!   Titan or Cohere format the model id names. There are no OpenAI-style text completions (400
//!   `unsupported_operation`) and no model listing on the runtime endpoint, so `/v1/models` lists
//!   the models the configuration names (deployments and key allow-lists).

use crate::bedrock_auth::{AwsSigV4, BedrockAuth, runtime_base_url};
use crate::error_map::{from_transport, scrub_error};
use crate::http::{ResponseLimits, Target};
use crate::openai_compatible::ByteStream;
use crate::{Operation, UpstreamClient, common, translated};
use asbru_config::{DEFAULT_BEDROCK_REGION, KeyConfig, ProviderConfig, ProviderKeyConfig};
use asbru_dialects::bedrock::embed::{
    CohereResponse as CohereEmbedResponse, EmbedFamily, INPUT_TOKENS_HEADER, TitanResponse,
    from_cohere, from_titan, invoke_path, to_cohere, to_titan,
};
use asbru_dialects::bedrock::error::ERROR_TYPE_HEADER;
use asbru_dialects::bedrock::{
    ConverseResponse, ConvertError, FrameDecoder, RequestOptions, ResponseOptions, StreamToUnified,
    converse_path, error_from_bedrock, request::to_bedrock, response::from_bedrock,
    structured_output_tool,
};
use asbru_schema::GatewayError;
use asbru_schema::chat::{ChatChunk, ChatRequest};
use asbru_schema::openai::EmbeddingRequest;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use http::Method;
use http::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

/// The header Bedrock names each request with; reported as the response id, so a client's id
/// can be looked up in AWS's logs.
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// Reaches one Bedrock provider.
#[derive(Debug)]
pub struct Bedrock {
    name: String,
    client: UpstreamClient,
    /// `network_config.base_url`, which wins over every key's regional endpoint.
    base_override: Option<String>,
    /// `content-type`, `user-agent`, then `network_config.extra_headers`; all signed.
    headers: HeaderMap,
    /// How each key authenticates, in the order of `ProviderConfig::keys`.
    keys: Vec<KeyAuth>,
    /// The models the configuration names, for `/v1/models`.
    models: Vec<String>,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
}

/// One key's credentials and endpoint, prepared when the config is loaded.
#[derive(Debug)]
struct KeyAuth {
    /// `None` for a key with neither an API key nor an access key (Bifrost would fall back to
    /// the AWS default credential chain, which asbru does not implement): its requests fail with
    /// a clear error instead of going out unsigned.
    auth: Option<BedrockAuth>,
    region: String,
}

/// Embedding calls one request may have in flight at once (Titan takes one input per call).
const MAX_PARALLEL_INVOKES: usize = 4;

/// A successful answer and the headers read from it.
struct Answer {
    body: Bytes,
    request_id: Option<String>,
    /// `X-Amzn-Bedrock-Input-Token-Count`, which InvokeModel answers carry.
    input_tokens: Option<u64>,
}

/// Everything one request needs that depends on the key.
struct Prepared {
    target: Target,
    headers: HeaderMap,
    auth: Option<BedrockAuth>,
}

impl Bedrock {
    pub fn new(provider: &ProviderConfig, limits: &ResponseLimits) -> Result<Self, GatewayError> {
        let base_override = provider
            .network
            .base_url
            .as_deref()
            .filter(|b| !b.is_empty())
            .map(|b| b.trim_end_matches('/').to_owned());
        let keys = provider.keys.iter().map(key_auth).collect();
        let mut models = BTreeSet::new();
        for key in &provider.keys {
            models.extend(key.models.iter().cloned());
            if let ProviderKeyConfig::Bedrock(b) = &key.provider_config {
                models.extend(b.deployments.keys().cloned());
            }
        }
        Ok(Self {
            name: provider.name.clone(),
            client: UpstreamClient::new(&provider.network, &provider.proxy, limits)?,
            base_override,
            headers: common::base_headers(provider)?,
            keys,
            models: models.into_iter().collect(),
            request_timeout: provider.network.request_timeout,
            stream_idle_timeout: provider.network.stream_idle_timeout,
        })
    }

    /// Whether `op` can be served: chat, embeddings (Titan and Cohere models) and (from the
    /// configuration) model listing.
    pub fn supports(&self, op: Operation) -> bool {
        matches!(
            op,
            Operation::ChatCompletion | Operation::Embedding | Operation::ListModels
        )
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

    /// The Bedrock model id for `model` with this key: its deployment if one is mapped, then
    /// prefixed by the key's `arn` unless it already is an ARN.
    fn model_id(model: &str, key: Option<&KeyConfig>) -> String {
        let Some(ProviderKeyConfig::Bedrock(config)) = key.map(|k| &k.provider_config) else {
            return model.to_owned();
        };
        let id = config.deployments.get(model).map_or(model, String::as_str);
        match config.arn.as_deref().filter(|a| !a.is_empty()) {
            Some(arn) if !id.starts_with("arn:") => {
                format!("{}/{id}", arn.trim_end_matches('/'))
            }
            _ => id.to_owned(),
        }
    }

    /// [`Self::model_id`] for a request path, refusing (400, naming `model`) the ids that would
    /// not stay one path segment once percent-encoded: empty, `.` and `..` (`/model/../converse`
    /// would resolve to another path). Everything else is percent-encoded by [`converse_path`],
    /// so ARNs keep their `:` and `/`.
    fn path_model_id(&self, model: &str, key: Option<&KeyConfig>) -> Result<String, GatewayError> {
        let id = Self::model_id(model, key);
        if !is_path_safe_model_id(&id) {
            return Err(GatewayError::invalid_request(
                format!("model {model:?} is not a valid Bedrock model id"),
                Some("model"),
            )
            .with_provider(&self.name));
        }
        Ok(id)
    }

    /// The target, headers and signer of one request to `path` (`/model/{id}/…`) with `key`.
    fn prepare(
        &self,
        key: Option<(usize, &KeyConfig)>,
        path: &str,
        forward: &HeaderMap,
    ) -> Result<Prepared, GatewayError> {
        let key_auth = key.and_then(|(i, _)| self.keys.get(i));
        let region = key_auth.map_or(DEFAULT_BEDROCK_REGION, |k| k.region.as_str());
        let auth = match (key, key_auth) {
            (None, _) => None,
            (Some(_), Some(KeyAuth { auth: Some(a), .. })) => Some(a.clone()),
            (Some((_, k)), _) => {
                return Err(GatewayError::invalid_request(
                    format!(
                        "providers.{}: key '{}' has no credentials: set its `value` (a Bedrock \
                         API key) or bedrock_key_config.access_key and secret_key (the AWS \
                         default credential chain is not supported)",
                        self.name, k.id
                    ),
                    None,
                )
                .with_code("missing_credentials")
                .with_provider(&self.name));
            }
        };
        let base = self
            .base_override
            .clone()
            .unwrap_or_else(|| runtime_base_url(region));
        let url = format!("{base}{path}");
        let target = Target::parse(&url).map_err(|e| {
            GatewayError::invalid_request(
                format!("providers.{}: invalid upstream URL {url:?}: {e}", self.name),
                None,
            )
            .with_provider(&self.name)
        })?;
        // Forwarded headers are added before signing, so they are signed too.
        let mut headers = self.headers.clone();
        common::add_forwarded(&mut headers, forward);
        Ok(Prepared {
            target,
            headers,
            auth,
        })
    }

    /// The Converse path for a chat request with `key`, or the 400 of another operation.
    fn converse_target(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        stream: bool,
        forward: &HeaderMap,
    ) -> Result<Prepared, GatewayError> {
        if op != Operation::ChatCompletion {
            return Err(self.unsupported(op));
        }
        let id = self.path_model_id(model, key.map(|(_, k)| k))?;
        self.prepare(key, &converse_path(&id, stream), forward)
    }

    /// Parses the OpenAI-dialect body; a body that is not a chat request is the client's error
    /// (400, naming the field).
    fn parse(body: &[u8]) -> Result<ChatRequest, GatewayError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path.is_empty() || path == "." {
                GatewayError::invalid_request(format!("invalid chat request: {inner}"), None)
            } else {
                GatewayError::invalid_request(
                    format!("invalid chat request at `{path}`: {inner}"),
                    Some(&path),
                )
            }
        })
    }

    /// The Converse body for a unified request; a request Converse cannot express (URL images,
    /// audio, `n > 1`) is the client's error.
    fn convert(&self, request: &ChatRequest) -> Result<Bytes, GatewayError> {
        let upstream = to_bedrock(request, &RequestOptions::default())
            .map_err(|e| GatewayError::from(e).with_provider(&self.name))?;
        serde_json::to_vec(&upstream)
            .map(Bytes::from)
            .map_err(|e| GatewayError::internal(format!("serializing the Bedrock request: {e}")))
    }

    /// Signs the final request and sends it; returns the answer whatever its status.
    async fn dispatch(
        &self,
        prepared: Prepared,
        body: Bytes,
    ) -> Result<crate::http::UpstreamResponse, GatewayError> {
        let mut request = http::Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = prepared.target.as_str().parse().map_err(|e| {
            GatewayError::internal(format!("the Bedrock URL is not a valid URI: {e}"))
        })?;
        *request.headers_mut() = prepared.headers;
        if let Some(auth) = &prepared.auth {
            auth.apply(&mut request, SystemTime::now())
                .map_err(|e| e.with_provider(&self.name))?;
        }
        let (parts, body) = request.into_parts();
        self.client
            .send(Method::POST, &prepared.target, parts.headers, body)
            .await
            .map_err(|e| from_transport(&e, &self.name))
    }

    fn response_options(&self, request: &ChatRequest, id: Option<&str>) -> ResponseOptions {
        let created = common::unix_now();
        ResponseOptions {
            id: id.map_or_else(|| format!("chatcmpl-bedrock-{created}"), str::to_owned),
            model: request.model.clone(),
            created,
            structured_output_tool: structured_output_tool(request).map(str::to_owned),
        }
    }

    /// Sends an OpenAI-dialect chat body and returns the answer as an OpenAI `chat.completion`
    /// JSON body; non-2xx answers become Bedrock's error (status, exception type and message).
    pub async fn send(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        if op == Operation::Embedding {
            return self.embed(key, &body, forward).await;
        }
        let request = Self::parse(&body)?;
        let prepared = self.converse_target(op, key, &request.model, false, forward)?;
        let upstream = self.convert(&request)?;
        let answer = tokio::time::timeout(self.request_timeout, self.call(prepared, upstream, key))
            .await
            .map_err(|_| common::timeout_error(&self.name, self.request_timeout))??;
        let response: ConverseResponse =
            serde_json::from_slice(&answer.body).map_err(|e| self.malformed(&e))?;
        let opts = self.response_options(&request, answer.request_id.as_deref());
        let unified = from_bedrock(&response, &opts)
            .map_err(|e| GatewayError::from(e).with_provider(&self.name))?;
        common::json_body(&unified)
    }

    /// Sends one signed request and reads the whole answer; a non-2xx answer is Bedrock's error
    /// (status, exception type and message, secrets scrubbed, `Retry-After` kept).
    async fn call(
        &self,
        prepared: Prepared,
        body: Bytes,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Answer, GatewayError> {
        let response = self.dispatch(prepared, body).await?;
        let status = response.status;
        let wait = response.retry_after;
        let error_type = response.header(ERROR_TYPE_HEADER).map(str::to_owned);
        let request_id = response.header(REQUEST_ID_HEADER).map(str::to_owned);
        let input_tokens = response
            .header(INPUT_TOKENS_HEADER)
            .and_then(|t| t.trim().parse().ok());
        let body = response
            .bytes()
            .await
            .map_err(|e| from_transport(&e, &self.name))?;
        if status.is_success() {
            Ok(Answer {
                body,
                request_id,
                input_tokens,
            })
        } else {
            Err(self
                .upstream_error(status.as_u16(), error_type.as_deref(), &body, key)
                .with_retry_after(wait))
        }
    }

    /// Embeddings through `InvokeModel` in the model family's own format (see
    /// [`asbru_dialects::bedrock::embed`]): Titan embeds one input per call, Cohere up to 96, so
    /// a long input list becomes several calls, at most [`MAX_PARALLEL_INVOKES`] at a time, all
    /// inside one request timeout; the first failure fails the request (the engine retries it
    /// whole).
    async fn embed(
        &self,
        key: Option<(usize, &KeyConfig)>,
        body: &[u8],
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let request: EmbeddingRequest = common::parse_body(body, "embeddings request")?;
        let id = self.path_model_id(&request.model, key.map(|(_, k)| k))?;
        let family = EmbedFamily::of(&id).ok_or_else(|| {
            GatewayError::invalid_request(
                format!(
                    "model {:?} is not a Bedrock embedding model asbru can call (Amazon Titan \
                     Text Embeddings or Cohere Embed)",
                    request.model
                ),
                Some("model"),
            )
            .with_code("unsupported_model")
            .with_provider(&self.name)
        })?;
        let path = invoke_path(&id);
        let convert_error = |e: ConvertError| GatewayError::from(e).with_provider(&self.name);
        let bodies: Vec<Bytes> = match family {
            EmbedFamily::Cohere => to_cohere(&request)
                .map_err(convert_error)?
                .iter()
                .map(common::json_body)
                .collect::<Result<_, _>>()?,
            EmbedFamily::TitanV1 | EmbedFamily::TitanV2 => to_titan(&request, family)
                .map_err(convert_error)?
                .iter()
                .map(common::json_body)
                .collect::<Result<_, _>>()?,
        };
        let calls = futures_util::stream::iter(bodies)
            .map(|upstream| async {
                let prepared = self.prepare(key, &path, forward)?;
                self.call(prepared, upstream, key).await
            })
            .buffered(MAX_PARALLEL_INVOKES)
            .try_collect::<Vec<Answer>>();
        let answers = tokio::time::timeout(self.request_timeout, calls)
            .await
            .map_err(|_| common::timeout_error(&self.name, self.request_timeout))??;
        let unified = match family {
            EmbedFamily::Cohere => {
                let sent = to_cohere(&request).map_err(convert_error)?;
                let parsed = answers
                    .iter()
                    .map(|a| {
                        serde_json::from_slice::<CohereEmbedResponse>(&a.body)
                            .map(|r| (r, a.input_tokens.unwrap_or(0)))
                            .map_err(|e| self.malformed(&e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                from_cohere(&parsed, &sent, &request.model).map_err(convert_error)?
            }
            EmbedFamily::TitanV1 | EmbedFamily::TitanV2 => {
                let parsed = answers
                    .iter()
                    .map(|a| serde_json::from_slice::<TitanResponse>(&a.body))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| self.malformed(&e))?;
                from_titan(parsed, &request.model)
            }
        };
        common::embeddings_body(&unified, &request)
    }

    /// Starts a streaming chat request (ConverseStream). Returns once Bedrock answered with a
    /// success status; the stream then yields OpenAI SSE events, the usage-only chunk of the
    /// `metadata` event last, and `data: [DONE]` once the body ended after `messageStop`. An
    /// exception event, a malformed frame or a body that ends early ends the stream with an error
    /// item instead (never `[DONE]`).
    pub async fn send_stream(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        let request = Self::parse(&body)?;
        let prepared = self.converse_target(op, key, &request.model, true, forward)?;
        let upstream = self.convert(&request)?;
        let response =
            tokio::time::timeout(self.request_timeout, self.dispatch(prepared, upstream))
                .await
                .map_err(|_| common::timeout_error(&self.name, self.request_timeout))??;
        if !response.status.is_success() {
            let status = response.status.as_u16();
            let wait = response.retry_after;
            let error_type = response.header(ERROR_TYPE_HEADER).map(str::to_owned);
            let body = tokio::time::timeout(self.request_timeout, response.bytes())
                .await
                .map_err(|_| common::timeout_error(&self.name, self.request_timeout))?
                .map_err(|e| from_transport(&e, &self.name))?;
            return Err(self
                .upstream_error(status, error_type.as_deref(), &body, key)
                .with_retry_after(wait));
        }
        let opts = self.response_options(&request, response.header(REQUEST_ID_HEADER));
        let pieces = common::idle_limited(
            response.into_stream(),
            self.stream_idle_timeout,
            self.name.clone(),
        );
        Ok(translate_stream(pieces, opts, self.name.clone()))
    }

    /// The models the configuration names (every key's `deployments` and `models`), as OpenAI
    /// model objects: Bedrock's runtime endpoint has no model listing (that is the control-plane
    /// `ListFoundationModels`, another host and another permission), and the configured names
    /// are the ones a request can use.
    pub async fn list_models(
        &self,
        _key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        Ok(self
            .models
            .iter()
            .map(|id| {
                serde_json::json!({
                    "id": id,
                    "object": "model",
                    "created": 0,
                    "owned_by": "bedrock",
                })
            })
            .collect())
    }

    /// Bedrock's error answer as the gateway error, with every secret of the key scrubbed from
    /// every field (Bedrock does not echo them, but a proxy in front of it might).
    fn upstream_error(
        &self,
        status: u16,
        error_type: Option<&str>,
        body: &[u8],
        key: Option<(usize, &KeyConfig)>,
    ) -> GatewayError {
        let error = error_from_bedrock(status, error_type, body);
        let mut secrets = Vec::new();
        if let Some((_, k)) = key {
            secrets.push(k.value.expose_secret());
            if let ProviderKeyConfig::Bedrock(b) = &k.provider_config {
                for secret in [&b.secret_key, &b.session_token].into_iter().flatten() {
                    secrets.push(secret.expose_secret());
                }
            }
        }
        scrub_error(error, secrets).with_provider(&self.name)
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

/// A key's authentication, as Bifrost chooses it: a non-empty `value` is a Bedrock API key
/// (bearer); otherwise `access_key` + `secret_key` (+ `session_token`) sign with SigV4.
fn key_auth(key: &KeyConfig) -> KeyAuth {
    let config = match &key.provider_config {
        ProviderKeyConfig::Bedrock(b) => Some(b),
        _ => None,
    };
    let region = config
        .map(|b| b.region.as_str())
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_BEDROCK_REGION)
        .to_owned();
    let value = key.value.expose_secret();
    let auth = if !value.is_empty() {
        Some(BedrockAuth::ApiKey(SecretString::from(value.to_owned())))
    } else {
        config.and_then(|b| {
            let access_key_id = b.access_key.clone().filter(|a| !a.is_empty())?;
            let secret_access_key = b.secret_key.clone()?;
            Some(BedrockAuth::SigV4(AwsSigV4 {
                access_key_id,
                secret_access_key,
                session_token: b.session_token.clone(),
                region: region.clone(),
            }))
        })
    };
    KeyAuth { auth, region }
}

/// Turns ConverseStream's event-stream body into OpenAI SSE bytes through the shared driver
/// ([`translated`]).
///
/// Frames are decoded one message at a time (not with [`StreamToUnified::push_bytes`]), so the
/// chunks of the events before an exception in the same piece still reach the client before the
/// error. The role-only chunk of `messageStart` is held back, as for Anthropic. `[DONE]` is
/// written only when the body ended after `messageStop` (the `metadata` event with the usage
/// follows `messageStop`, so the end of the body is the only sure end).
fn translate_stream(pieces: ByteStream, opts: ResponseOptions, provider: String) -> ByteStream {
    let messages = Messages {
        decoder: FrameDecoder::new(),
        converter: StreamToUnified::new(opts),
        provider,
    };
    translated::translate(pieces, messages, true)
}

/// ConverseStream's event-stream messages for the shared driver.
struct Messages {
    decoder: FrameDecoder,
    converter: StreamToUnified,
    provider: String,
}

impl translated::Decode for Messages {
    fn piece(
        &mut self,
        piece: &[u8],
        out: &mut Vec<ChatChunk>,
    ) -> Result<translated::Progress, GatewayError> {
        self.decoder.push(piece);
        loop {
            let message = match self.decoder.next_message() {
                Ok(Some(message)) => message,
                Ok(None) => return Ok(translated::Progress::More),
                Err(e) => {
                    return Err(GatewayError::upstream(
                        502,
                        format!("malformed Bedrock event stream: {e}"),
                        Some("InternalServerException".to_owned()),
                        None,
                        None,
                    )
                    .with_provider(&self.provider));
                }
            };
            let chunks = self
                .converter
                .push_message(&message)
                .map_err(|e| e.into_gateway_error().with_provider(&self.provider))?;
            out.extend(chunks);
        }
    }

    /// The body ended: fine only after `messageStop` and with no partial message left.
    fn end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        if self.decoder.buffered() > 0 {
            return Err(GatewayError::upstream(
                502,
                format!(
                    "the Bedrock stream ended inside an event-stream message ({} bytes left over)",
                    self.decoder.buffered()
                ),
                Some("InternalServerException".to_owned()),
                None,
                None,
            )
            .with_provider(&self.provider));
        }
        self.converter
            .finish()
            .map_err(|e| e.into_gateway_error().with_provider(&self.provider))
    }
}

/// Whether a Bedrock model id stays one path segment once [`converse_path`] percent-encoded it:
/// not empty and not a dot segment (`.` and `..` are the only ids it leaves as they are and a URL
/// resolves away).
fn is_path_safe_model_id(id: &str) -> bool {
    !matches!(id, "" | "." | "..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use asbru_config::BedrockKeyConfig;
    use asbru_dialects::bedrock::encode_event;
    use asbru_dialects::bedrock::types::{
        BlockDelta, ContentBlockDeltaEvent, MessageStartEvent, MessageStopEvent, MetadataEvent,
        Role, StreamEvent, StreamException, TokenUsage,
    };
    use serde_json::Map;

    fn event(event: &StreamEvent) -> Bytes {
        encode_event(event).unwrap()
    }

    fn collect(pieces: Vec<Bytes>) -> Vec<Result<String, GatewayError>> {
        translated::testing::run(pieces, |p| {
            translate_stream(p, ResponseOptions::default(), "bedrock".to_owned())
        })
    }

    fn key(config: BedrockKeyConfig) -> KeyConfig {
        KeyConfig {
            id: "k".to_owned(),
            name: "k".to_owned(),
            value: SecretString::from(String::new()),
            models: Vec::new(),
            blacklisted_models: Vec::new(),
            weight: 1.0,
            provider_config: ProviderKeyConfig::Bedrock(config),
        }
    }

    #[test]
    fn deployments_and_arns_make_the_model_id() {
        let mut config = BedrockKeyConfig::default();
        assert_eq!(
            Bedrock::model_id("claude", Some(&key(config.clone()))),
            "claude"
        );
        config
            .deployments
            .insert("claude".to_owned(), "us.anthropic.claude-v1:0".to_owned());
        assert_eq!(
            Bedrock::model_id("claude", Some(&key(config.clone()))),
            "us.anthropic.claude-v1:0"
        );
        config.arn = Some("arn:aws:bedrock:us-east-1:123:inference-profile".to_owned());
        assert_eq!(
            Bedrock::model_id("claude", Some(&key(config.clone()))),
            "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-v1:0"
        );
        assert_eq!(
            Bedrock::model_id("arn:aws:bedrock:x", Some(&key(config))),
            "arn:aws:bedrock:x"
        );
    }

    #[test]
    fn dot_segments_and_empty_ids_are_refused_and_arns_kept() {
        for bad in ["", ".", ".."] {
            assert!(!is_path_safe_model_id(bad), "{bad:?}");
        }
        for good in [
            "anthropic.claude-3-haiku-20240307-v1:0",
            "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-v1:0",
            "...",
            "a/..",
            "../x",
        ] {
            assert!(is_path_safe_model_id(good), "{good:?}");
            let path = converse_path(good, false);
            let segment = path
                .strip_prefix("/model/")
                .and_then(|p| p.strip_suffix("/converse"))
                .unwrap();
            assert!(!segment.contains('/'), "{path}");
            assert_ne!(segment, "..");
        }
    }

    #[test]
    fn an_api_key_value_wins_over_access_keys() {
        let mut k = key(BedrockKeyConfig {
            access_key: Some("AKID".to_owned()),
            secret_key: Some(SecretString::from("secret".to_owned())),
            region: "eu-west-1".to_owned(),
            ..BedrockKeyConfig::default()
        });
        let auth = key_auth(&k);
        assert!(matches!(auth.auth, Some(BedrockAuth::SigV4(_))));
        assert_eq!(auth.region, "eu-west-1");
        k.value = SecretString::from("api-key".to_owned());
        assert!(matches!(key_auth(&k).auth, Some(BedrockAuth::ApiKey(_))));
        k.value = SecretString::from(String::new());
        k.provider_config = ProviderKeyConfig::Bedrock(BedrockKeyConfig::default());
        assert!(key_auth(&k).auth.is_none());
    }

    fn start() -> Bytes {
        event(&StreamEvent::MessageStart(MessageStartEvent {
            role: Role::Assistant,
            extra: Map::new(),
        }))
    }
    fn delta(text: &str) -> Bytes {
        event(&StreamEvent::ContentBlockDelta(ContentBlockDeltaEvent {
            delta: BlockDelta::Text(text.to_owned()),
            content_block_index: 0,
            extra: Map::new(),
        }))
    }
    fn stop() -> Bytes {
        event(&StreamEvent::MessageStop(MessageStopEvent {
            stop_reason: "end_turn".to_owned(),
            additional_model_response_fields: None,
            extra: Map::new(),
        }))
    }
    fn metadata() -> Bytes {
        event(&StreamEvent::Metadata(MetadataEvent {
            usage: TokenUsage {
                input_tokens: 3,
                output_tokens: 2,
                total_tokens: 5,
                ..TokenUsage::default()
            },
            ..MetadataEvent::default()
        }))
    }
    fn exception() -> Bytes {
        event(&StreamEvent::Exception(StreamException {
            kind: "throttlingException".to_owned(),
            message: "Slow down".to_owned(),
            extra: Map::new(),
        }))
    }

    #[test]
    fn a_complete_stream_ends_with_usage_then_done() {
        let out = collect(vec![start(), delta("Hi"), stop(), metadata()]);
        let text: String = out.iter().map(|r| r.as_ref().unwrap().as_str()).collect();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert_eq!(text.matches("[DONE]").count(), 1);
        let usage_at = text.find("\"usage\":{").unwrap();
        assert!(usage_at > text.find("finish_reason\":\"stop").unwrap());

        // The same bytes cut anywhere give the same output.
        let whole: Vec<u8> = [start(), delta("Hi"), stop(), metadata()].concat();
        let cut = whole.len() / 3;
        let split: String = collect(vec![
            Bytes::copy_from_slice(&whole[..cut]),
            Bytes::copy_from_slice(&whole[cut..]),
        ])
        .into_iter()
        .map(Result::unwrap)
        .collect();
        assert_eq!(split, text);
    }

    #[test]
    fn exceptions_and_truncation_end_with_an_error_not_done() {
        // After output: the output, then the error.
        let piece = [start(), delta("Hi"), exception()].concat();
        let out = collect(vec![Bytes::from(piece)]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].as_ref().unwrap().contains("\"Hi\""));
        let e = out[1].as_ref().unwrap_err();
        assert_eq!(e.status(), 429);
        assert_eq!(e.error_type(), Some("ThrottlingException"));

        // Right after messageStart: the error alone, so the engine may still fall back.
        let out = collect(vec![start(), exception()]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap_err().status(), 429);

        // Ended before messageStop.
        let out = collect(vec![start(), delta("Hi")]);
        assert!(out.last().unwrap().is_err());
        assert!(out.iter().flatten().all(|t| !t.contains("[DONE]")));

        // Ended inside a frame.
        let whole = [start(), delta("Hi"), stop()].concat();
        let out = collect(vec![Bytes::copy_from_slice(&whole[..whole.len() - 3])]);
        assert!(out.last().unwrap().is_err());
    }
}
