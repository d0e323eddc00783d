//! The adapter for Google Cloud Vertex AI: Gemini models (publisher `google`), Claude models
//! (publisher `anthropic`) and Google's text-embedding models, each reached through the
//! publisher-model URL of the key's project and region.
//!
//! Like [`crate::Gemini`] and [`crate::Anthropic`], it takes and returns the OpenAI dialect and
//! translates inside, with *their* conversions (no copy): a Gemini model gets the Gemini API body
//! at `…/publishers/google/models/{model}:generateContent` (or `:streamGenerateContent?alt=sse`);
//! a Claude model (its id starts with `claude`) gets the Messages body without `model` and with
//! `"anthropic_version": "vertex-2023-10-16"` at `…/publishers/anthropic/models/{model}:rawPredict`
//! (or `:streamRawPredict`); embeddings go to `…/publishers/google/models/{model}:predict` in the
//! `instances`/`predictions` shape. Errors are read in the dialect of the model that answered:
//! Google's shape for Gemini models and embeddings, Anthropic's for Claude.
//!
//! Every key names its own project and region (`vertex_key_config`), so URLs are built per
//! request: `https://{host}/v1/projects/{project}/locations/{region}/publishers/…`, with host
//! `aiplatform.googleapis.com` for region `global` and `{region}-aiplatform.googleapis.com`
//! otherwise. `network_config.base_url`, when set, replaces `https://{host}` and keeps the path
//! (private endpoints, tests). A key's `deployments` maps the model asked for to the model id
//! sent upstream.
//!
//! Keys authenticate with a service account (`auth_credentials`, its JSON key file):
//! `Authorization: Bearer <token>` from a [`TokenSource`] per key, fetched once and cached until
//! shortly before it expires. A key with a `value` instead is a Vertex AI express-mode API key:
//! sent in `x-goog-api-key` (never `?key=`, which would land in access logs) to the project-less
//! express URL `…/v1/publishers/google/models/{model}:{method}`, which serves Gemini models only.

use crate::common::{self, Request, Upstream};
use crate::http::{ResponseLimits, Target};
use crate::oauth::TokenSource;
use crate::openai_compatible::ByteStream;
use crate::{Operation, anthropic, gemini};
use asbru_config::{KeyConfig, ProviderConfig, ProviderKeyConfig};
use asbru_schema::chat::ChatRequest;
use asbru_schema::openai::{Embedding, EmbeddingRequest, EmbeddingResponse};
use asbru_schema::{GatewayError, Usage};
use bytes::Bytes;
use http::Method;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// The `anthropic_version` Claude on Vertex AI requires in the body (instead of the
/// `anthropic-version` header).
pub const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// The header express-mode API keys are sent in.
pub const KEY_HEADER: &str = gemini::KEY_HEADER;

/// The host of the `global` region; other regions are `{region}-aiplatform.googleapis.com`.
pub const GLOBAL_HOST: &str = "aiplatform.googleapis.com";

/// Reaches one Vertex AI provider. Each key's base URL, project, region, deployments and
/// credentials are prepared when the config is loaded; a request builds only its URL.
#[derive(Debug)]
pub struct Vertex {
    upstream: Upstream,
    /// `content-type`, `user-agent`, then `network_config.extra_headers`.
    headers: HeaderMap,
    /// One per `ProviderConfig::keys` entry, same order.
    keys: Vec<VertexKey>,
    /// Every key's `models` allow-list, for model listing.
    allowed: BTreeSet<String>,
    /// `network_config.beta_header_overrides`, for Claude's `anthropic_beta`.
    beta_overrides: Vec<(String, bool)>,
}

#[derive(Debug)]
struct VertexKey {
    /// `https://{host}` or `network_config.base_url`, without a trailing `/`.
    base: String,
    project: String,
    region: String,
    /// Model asked for → model id sent upstream.
    deployments: BTreeMap<String, String>,
    auth: Auth,
}

#[derive(Debug)]
enum Auth {
    /// A service account: `Authorization: Bearer <token>`.
    ServiceAccount(TokenSource),
    /// An express-mode API key in `x-goog-api-key`, marked sensitive.
    ApiKey(HeaderValue),
    /// Neither: Bifrost would fall back to Application Default Credentials, which asbru does
    /// not read. Requests through such a key fail with a message saying so.
    Missing,
}

/// Which API of Vertex a model is served by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Google's models: Gemini API bodies.
    Gemini,
    /// Anthropic's models: Messages bodies through `rawPredict`.
    Claude,
}

impl Family {
    fn of(asked: &str, upstream: &str) -> Self {
        if asked.starts_with("claude") || upstream.starts_with("claude") {
            Self::Claude
        } else {
            Self::Gemini
        }
    }

    fn publisher(self) -> &'static str {
        match self {
            Self::Gemini => "google",
            Self::Claude => "anthropic",
        }
    }
}

/// One authorized request's settings: the key, its headers and the secret to scrub.
struct Authorized<'a> {
    key: &'a VertexKey,
    headers: HeaderMap,
    secret: Option<String>,
    express: bool,
}

impl Vertex {
    /// Prepares every key. Fails on a key without `vertex_key_config` (the config layer refuses
    /// those already), with a project or region that cannot be a URL segment, or with
    /// `auth_credentials` that are not a service-account key, naming the key.
    pub fn new(provider: &ProviderConfig, limits: &ResponseLimits) -> Result<Self, GatewayError> {
        let upstream = Upstream::new(provider, limits)?;
        let token_client = Arc::new(upstream.client.clone());
        let base_url = provider
            .network
            .base_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|u| u.trim_end_matches('/').to_owned());
        let keys = provider
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let invalid = |why: String| {
                    GatewayError::invalid_request(
                        format!("providers.{}.keys[{i}]: {why}", provider.name),
                        None,
                    )
                };
                let ProviderKeyConfig::Vertex(config) = &key.provider_config else {
                    return Err(invalid(
                        "vertex_key_config is required for vertex keys".into(),
                    ));
                };
                for (field, value) in [
                    ("project_id", &config.project_id),
                    ("region", &config.region),
                ] {
                    if !is_segment(value) {
                        return Err(invalid(format!(
                            "vertex_key_config.{field} {value:?} is not a valid {field}"
                        )));
                    }
                }
                let base = match &base_url {
                    Some(b) => b.clone(),
                    None => format!("https://{}", host(&config.region)),
                };
                Target::parse(&base).map_err(|e| {
                    invalid(format!("the Vertex AI URL {base:?} is not valid: {e}"))
                })?;
                let value = key.value.expose_secret();
                let auth = match &config.auth_credentials {
                    Some(json) => Auth::ServiceAccount(TokenSource::google_service_account(
                        &provider.name,
                        json,
                        Arc::clone(&token_client),
                        provider.network.request_timeout,
                    )?),
                    None if !value.is_empty() => {
                        Auth::ApiKey(common::secret_header(value, key, &provider.name)?)
                    }
                    None => Auth::Missing,
                };
                Ok(VertexKey {
                    base,
                    project: config.project_id.clone(),
                    region: config.region.clone(),
                    deployments: config.deployments.clone(),
                    auth,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            upstream,
            headers: common::base_headers(provider)?,
            beta_overrides: provider.network.beta_header_overrides.clone(),
            keys,
            allowed: provider
                .keys
                .iter()
                .flat_map(|k| k.models.iter().cloned())
                .collect(),
        })
    }

    /// Chat, embeddings and model listing (from the configuration); Vertex has no OpenAI-style
    /// text completions.
    pub fn supports(&self, op: Operation) -> bool {
        op != Operation::TextCompletion
    }

    /// The key's prepared settings and the headers carrying its credentials (fetching a token
    /// when the cached one is stale).
    async fn authorize(
        &self,
        key: Option<usize>,
        forward: &HeaderMap,
    ) -> Result<Authorized<'_>, GatewayError> {
        let name = &self.upstream.name;
        let Some(index) = key else {
            return Err(GatewayError::invalid_request(
                format!(
                    "provider '{name}' needs a key: vertex keys carry the project, region and credentials"
                ),
                None,
            )
            .with_provider(name));
        };
        let prepared = self.keys.get(index).ok_or_else(|| {
            GatewayError::internal(format!(
                "provider '{name}': key {index} is not in the adapter"
            ))
        })?;
        let mut headers = self.headers.clone();
        common::add_forwarded(&mut headers, forward);
        let (secret, express) = match &prepared.auth {
            Auth::ServiceAccount(tokens) => {
                let bearer = tokens.authorization().await?;
                let token = bearer
                    .to_str()
                    .ok()
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::to_owned);
                headers.insert(AUTHORIZATION, bearer);
                (token, false)
            }
            Auth::ApiKey(value) => {
                headers.insert(HeaderName::from_static(KEY_HEADER), value.clone());
                (value.to_str().ok().map(str::to_owned), true)
            }
            Auth::Missing => {
                return Err(GatewayError::upstream(
                    401,
                    format!(
                        "provider '{name}': key {index} has neither vertex_key_config.auth_credentials \
                         (a service-account JSON key) nor a value (an express-mode API key); \
                         asbru does not read Application Default Credentials"
                    ),
                    Some("authentication_error".to_owned()),
                    Some("missing_credentials".to_owned()),
                    None,
                )
                .with_provider(name));
            }
        };
        Ok(Authorized {
            key: prepared,
            headers,
            secret,
            express,
        })
    }

    /// `{base}/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}:{method}`,
    /// or the express-mode `{base}/v1/publishers/google/models/{model}:{method}` for API keys.
    fn target(
        &self,
        auth: &Authorized<'_>,
        family: Family,
        model: &str,
        method: &str,
    ) -> Result<Target, GatewayError> {
        if !is_model_id(model) {
            return Err(GatewayError::invalid_request(
                format!("model {model:?} is not a valid Vertex AI model id"),
                Some("model"),
            )
            .with_provider(&self.upstream.name));
        }
        let key = auth.key;
        let publisher = family.publisher();
        let url = if auth.express {
            if family == Family::Claude {
                return Err(GatewayError::invalid_request(
                    format!(
                        "provider '{}': Claude models on Vertex AI need a service account \
                         (vertex_key_config.auth_credentials); express-mode API keys serve \
                         Google's models only",
                        self.upstream.name
                    ),
                    Some("model"),
                )
                .with_provider(&self.upstream.name));
            }
            format!(
                "{}/v1/publishers/{publisher}/models/{model}:{method}",
                key.base
            )
        } else {
            format!(
                "{}/v1/projects/{}/locations/{}/publishers/{publisher}/models/{model}:{method}",
                key.base, key.project, key.region
            )
        };
        Target::parse(&url).map_err(|e| {
            GatewayError::internal(format!(
                "provider '{}': invalid upstream URL: {e}",
                self.upstream.name
            ))
        })
    }

    /// Sends an OpenAI-dialect body for `model` through the chosen key and returns the
    /// OpenAI-dialect JSON answer (`chat.completion` or an embedding list).
    pub async fn send(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        match op {
            Operation::ChatCompletion => self.chat(key, model, &body, forward).await,
            Operation::Embedding => self.embed(key, model, &body, forward).await,
            Operation::TextCompletion
            | Operation::ListModels
            | Operation::CountTokens
            | Operation::Rerank
            | Operation::Responses => Err(self.upstream.unsupported(op)),
        }
    }

    async fn chat(
        &self,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: &[u8],
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let request: ChatRequest = common::parse_body(body, "chat request")?;
        let auth = self.authorize(key.map(|(i, _)| i), forward).await?;
        let upstream_model = auth.key.deployment(model);
        let family = Family::of(model, upstream_model);
        let name = &self.upstream.name;
        let (method, upstream) = match family {
            Family::Gemini => ("generateContent", gemini::request_body(&request, name)?),
            Family::Claude => ("rawPredict", self.claude_body(&request, false, forward)?),
        };
        let target = self.target(&auth, family, upstream_model, method)?;
        let answer = self
            .exchange(
                &target,
                auth.headers,
                upstream,
                family,
                auth.secret.as_deref(),
            )
            .await?;
        match family {
            Family::Gemini => gemini::chat_answer(&answer, upstream_model, name),
            Family::Claude => anthropic::chat_answer(&answer, name),
        }
    }

    /// The Messages body Claude on Vertex takes: Anthropic's, without `model` (the URL names
    /// it), with `anthropic_version` in the body, and the Anthropic betas (configured and the
    /// client's `anthropic-beta`) as the body's `anthropic_beta` list, where Vertex reads them.
    fn claude_body(
        &self,
        request: &ChatRequest,
        stream: bool,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let upstream = anthropic::request_for(request, stream, &self.upstream.name)?;
        let mut value = serde_json::to_value(&upstream).map_err(|e| {
            GatewayError::internal(format!("serializing the Anthropic request: {e}"))
        })?;
        if let Some(map) = value.as_object_mut() {
            map.remove("model");
            map.insert(
                "anthropic_version".to_owned(),
                Value::String(ANTHROPIC_VERSION.to_owned()),
            );
            let betas = common::anthropic_betas(&self.headers, forward, &self.beta_overrides);
            if !betas.is_empty() {
                map.insert("anthropic_beta".to_owned(), Value::from(betas));
            }
        }
        serde_json::to_vec(&value)
            .map(Bytes::from)
            .map_err(|e| GatewayError::internal(format!("serializing the Anthropic request: {e}")))
    }

    /// Embeddings through `:predict`, one instance per input, `dimensions` as
    /// `outputDimensionality`; the token counts Vertex reports per prediction become `usage`.
    /// Models that take one instance per call ([`single_instance`]) get one call per input, in
    /// order.
    async fn embed(
        &self,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: &[u8],
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let request: EmbeddingRequest = common::parse_body(body, "embeddings request")?;
        let predict = to_predict(&request)?;
        let auth = self.authorize(key.map(|(i, _)| i), forward).await?;
        let upstream_model = auth.key.deployment(model);
        if Family::of(model, upstream_model) == Family::Claude {
            return Err(self.upstream.unsupported(Operation::Embedding));
        }
        let target = self.target(&auth, Family::Gemini, upstream_model, "predict")?;
        let batches: Vec<PredictRequest> = if single_instance(upstream_model) {
            predict
                .instances
                .into_iter()
                .map(|instance| PredictRequest {
                    instances: vec![instance],
                    parameters: predict.parameters.clone(),
                })
                .collect()
        } else {
            vec![predict]
        };
        let mut predictions = Vec::new();
        for batch in batches {
            let upstream = serde_json::to_vec(&batch).map(Bytes::from).map_err(|e| {
                GatewayError::internal(format!("serializing the Vertex request: {e}"))
            })?;
            let answer = self
                .exchange(
                    &target,
                    auth.headers.clone(),
                    upstream,
                    Family::Gemini,
                    auth.secret.as_deref(),
                )
                .await?;
            let response: PredictResponse =
                serde_json::from_slice(&answer).map_err(|e| self.malformed(&e))?;
            predictions.extend(response.predictions);
        }
        let unified = from_predict(&PredictResponse { predictions }, &request.model);
        common::embeddings_body(&unified, &request)
    }

    /// Starts a streaming chat request; the stream yields OpenAI SSE chunks, the usage-only
    /// chunk and `data: [DONE]`, translated from Gemini's or Anthropic's stream by their
    /// adapters' translators.
    pub async fn send_stream(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        if op != Operation::ChatCompletion {
            return Err(self.upstream.unsupported(op));
        }
        let request: ChatRequest = common::parse_body(&body, "chat request")?;
        let auth = self.authorize(key.map(|(i, _)| i), forward).await?;
        let upstream_model = auth.key.deployment(model);
        let family = Family::of(model, upstream_model);
        let name = &self.upstream.name;
        let (method, upstream) = match family {
            Family::Gemini => (
                "streamGenerateContent?alt=sse",
                gemini::request_body(&request, name)?,
            ),
            Family::Claude => (
                "streamRawPredict",
                self.claude_body(&request, true, forward)?,
            ),
        };
        let target = self.target(&auth, family, upstream_model, method)?;
        let secret = auth.secret.clone();
        let pieces = common::open_stream(
            &self.upstream.client,
            name,
            (
                self.upstream.request_timeout,
                self.upstream.stream_idle_timeout,
            ),
            Request {
                method: Method::POST,
                target: &target,
                headers: auth.headers,
                body: upstream,
            },
            |status, body, wait| self.upstream_error(family, status, body, secret.as_deref(), wait),
        )
        .await?;
        Ok(match family {
            Family::Gemini => {
                gemini::translate_stream(pieces, name.clone(), upstream_model.to_owned())
            }
            Family::Claude => anthropic::translate_stream(pieces, name.clone()),
        })
    }

    /// The models the configuration names: every key's `deployments` (with the model id they
    /// map to) and `models` allow-lists. Vertex has no single list of the publisher models a
    /// project may call, so none is asked for.
    pub async fn list_models(
        &self,
        _key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        let mut seen = BTreeSet::new();
        let mut models = Vec::new();
        let mut push = |id: &str, deployment: Option<&str>| {
            if seen.insert(id.to_owned()) {
                let family = Family::of(id, deployment.unwrap_or(id));
                let mut object = serde_json::json!({
                    "id": id,
                    "object": "model",
                    "created": 0,
                    "owned_by": family.publisher(),
                });
                if let (Some(d), Some(map)) = (deployment, object.as_object_mut()) {
                    map.insert("deployment".to_owned(), Value::String(d.to_owned()));
                }
                models.push(object);
            }
        };
        for k in &self.keys {
            for (model, deployment) in &k.deployments {
                push(model, Some(deployment));
            }
        }
        for model in &self.allowed {
            push(model, None);
        }
        Ok(models)
    }

    async fn exchange(
        &self,
        target: &Target,
        headers: HeaderMap,
        body: Bytes,
        family: Family,
        secret: Option<&str>,
    ) -> Result<Bytes, GatewayError> {
        common::exchange_bytes(
            &self.upstream.client,
            &self.upstream.name,
            self.upstream.request_timeout,
            Request {
                method: Method::POST,
                target,
                headers,
                body,
            },
            |status, body, wait| self.upstream_error(family, status, body, secret, wait),
        )
        .await
    }

    /// A failure in the dialect of the model's publisher: Google's error shape for Google's
    /// models, Anthropic's for Claude (whose errors Vertex passes through), the credential used
    /// scrubbed from the message.
    fn upstream_error(
        &self,
        family: Family,
        status: u16,
        body: &[u8],
        secret: Option<&str>,
        wait: Option<Duration>,
    ) -> GatewayError {
        let name = &self.upstream.name;
        match family {
            Family::Gemini => gemini::google_error(name, status, body, secret, wait),
            // Errors from Google's front end (authentication, quota) reach Claude requests in
            // Google's shape; Anthropic's own errors in Anthropic's.
            Family::Claude if is_google_error(body) => {
                gemini::google_error(name, status, body, secret, wait)
            }
            Family::Claude => {
                anthropic::anthropic_error(name, status, body, secret).with_retry_after(wait)
            }
        }
    }

    /// The provider answered 2xx with a body that is not what the API promises.
    pub fn malformed(&self, err: &dyn std::fmt::Display) -> GatewayError {
        self.upstream.malformed(err)
    }
}

impl VertexKey {
    fn deployment<'a>(&'a self, model: &'a str) -> &'a str {
        self.deployments.get(model).map_or(model, String::as_str)
    }
}

/// The host of a region's endpoint.
fn host(region: &str) -> String {
    if region == "global" {
        GLOBAL_HOST.to_owned()
    } else {
        format!("{region}-{GLOBAL_HOST}")
    }
}

/// Whether an embedding model takes one instance per `:predict` call: Google documents
/// `gemini-embedding-001` (and its family) as taking a single input text per request, where
/// `text-embedding-005` and the multilingual models take up to 250.
fn single_instance(model: &str) -> bool {
    model.starts_with("gemini-embedding")
}

/// Whether a project id or region can stand as one URL path segment unchanged.
fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s != "."
        && s != ".."
}

/// Whether a model id can stand in the URL unchanged: publisher model ids are letters, digits,
/// `-`, `_`, `.` and Claude's `@` version suffix.
fn is_model_id(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && !s.contains("..")
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// Whether an error body is Google's `{"error":{"code":…,"status":…}}` rather than Anthropic's
/// `{"type":"error",…}`.
fn is_google_error(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|v| {
        v.get("type").is_none() && v.get("error").and_then(|e| e.get("status")).is_some()
    })
}

/// The `:predict` body of Google's text-embedding models.
#[derive(Debug, Serialize)]
struct PredictRequest {
    instances: Vec<Instance>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    parameters: Map<String, Value>,
}

#[derive(Debug, Serialize)]
struct Instance {
    content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    task_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PredictResponse {
    #[serde(default)]
    predictions: Vec<Prediction>,
}

#[derive(Debug, Deserialize)]
struct Prediction {
    embeddings: PredictionEmbeddings,
}

#[derive(Debug, Deserialize)]
struct PredictionEmbeddings {
    values: Vec<f64>,
    #[serde(default)]
    statistics: Option<Statistics>,
}

#[derive(Debug, Deserialize)]
struct Statistics {
    #[serde(default)]
    token_count: Option<serde_json::Number>,
}

/// An OpenAI embeddings request as Vertex's `:predict` body: one instance per text input
/// (`task_type` and `title` carried when the client set them), `dimensions` as
/// `parameters.outputDimensionality`. Token-id inputs have no Vertex equivalent (400).
fn to_predict(request: &EmbeddingRequest) -> Result<PredictRequest, GatewayError> {
    let unsupported = |what: &str| {
        GatewayError::invalid_request(
            format!("Vertex AI embeddings take text input, not {what}"),
            Some("input"),
        )
    };
    let inputs: Vec<String> = match &request.input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| unsupported("token ids"))
            })
            .collect::<Result<_, _>>()?,
        Value::Array(_) => return Err(unsupported("an empty list")),
        _ => return Err(unsupported("this input type")),
    };
    let text = |field: &str| {
        request
            .extra
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (task_type, title) = (text("task_type"), text("title"));
    let mut parameters = Map::new();
    if let Some(d) = request.extra.get("dimensions").and_then(Value::as_u64) {
        parameters.insert("outputDimensionality".to_owned(), Value::from(d));
    }
    Ok(PredictRequest {
        instances: inputs
            .into_iter()
            .map(|content| Instance {
                content,
                task_type: task_type.clone(),
                title: title.clone(),
            })
            .collect(),
        parameters,
    })
}

/// Vertex's predictions as an OpenAI embedding list, the per-prediction token counts summed
/// into `usage`.
fn from_predict(response: &PredictResponse, model: &str) -> EmbeddingResponse {
    let mut tokens = 0u64;
    let data = response
        .predictions
        .iter()
        .zip(0u32..)
        .map(|(p, index)| {
            if let Some(count) = p
                .embeddings
                .statistics
                .as_ref()
                .and_then(|s| s.token_count.as_ref())
            {
                // Whole numbers, though Vertex may send them as `3.0`.
                tokens += count
                    .as_u64()
                    .or_else(|| count.as_f64().map(|f| f.max(0.0).round() as u64))
                    .unwrap_or(0);
            }
            let mut extra = Map::new();
            extra.insert("object".to_owned(), Value::String("embedding".to_owned()));
            Embedding {
                index,
                embedding: p.embeddings.values.clone(),
                extra,
            }
        })
        .collect();
    let mut extra = Map::new();
    extra.insert("object".to_owned(), Value::String("list".to_owned()));
    EmbeddingResponse {
        data,
        model: model.to_owned(),
        usage: Some(Usage {
            prompt_tokens: tokens,
            completion_tokens: 0,
            total_tokens: tokens,
            ..Usage::default()
        }),
        extra_fields: None,
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_segments() {
        assert_eq!(host("global"), "aiplatform.googleapis.com");
        assert_eq!(host("us-central1"), "us-central1-aiplatform.googleapis.com");
        assert!(is_segment("my-project_1"));
        for bad in ["", "a/b", "a?b", "..", "a b"] {
            assert!(!is_segment(bad), "{bad}");
        }
        assert!(is_model_id("claude-sonnet-4@20250514"));
        assert!(is_model_id("gemini-2.5-flash"));
        for bad in ["", "a/b", "a:b", "../x", "a?b"] {
            assert!(!is_model_id(bad), "{bad}");
        }
    }

    #[test]
    fn families_by_model_id() {
        assert_eq!(Family::of("claude-sonnet-4", "x"), Family::Claude);
        assert_eq!(Family::of("sonnet", "claude-sonnet-4@1"), Family::Claude);
        assert_eq!(
            Family::of("gemini-2.5-flash", "gemini-2.5-flash"),
            Family::Gemini
        );
    }

    #[test]
    fn predict_bodies_and_answers() {
        let mut request = EmbeddingRequest::new("text-embedding-005", vec!["a", "b"]);
        request
            .extra
            .insert("dimensions".to_owned(), Value::from(256));
        let body = serde_json::to_value(to_predict(&request).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "instances": [{"content": "a"}, {"content": "b"}],
                "parameters": {"outputDimensionality": 256}
            })
        );
        let tokens = EmbeddingRequest::new("m", serde_json::json!([[1, 2]]));
        assert_eq!(to_predict(&tokens).unwrap_err().status(), 400);

        let answer: PredictResponse = serde_json::from_value(serde_json::json!({
            "predictions": [
                {"embeddings": {"values": [0.1, 0.2], "statistics": {"token_count": 3, "truncated": false}}},
                {"embeddings": {"values": [0.3, 0.4], "statistics": {"token_count": 4.0, "truncated": false}}}
            ],
            "metadata": {"billableCharacterCount": 2}
        }))
        .unwrap();
        let unified = serde_json::to_value(from_predict(&answer, "text-embedding-005")).unwrap();
        assert_eq!(unified["object"], "list");
        assert_eq!(unified["data"][1]["index"], 1);
        assert_eq!(
            unified["data"][1]["embedding"],
            serde_json::json!([0.3, 0.4])
        );
        assert_eq!(unified["usage"]["prompt_tokens"], 7);
        assert_eq!(unified["usage"]["total_tokens"], 7);
    }

    #[test]
    fn google_errors_are_told_from_anthropic_errors() {
        assert!(is_google_error(
            br#"{"error":{"code":401,"message":"no","status":"UNAUTHENTICATED"}}"#
        ));
        assert!(!is_google_error(
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
        ));
        assert!(!is_google_error(b"not json"));
    }
}
