//! The adapter for every provider that speaks the OpenAI API.

use crate::common::{self, Upstream};
use crate::http::{ResponseLimits, Target};
use crate::{Operation, Preset};
use asbru_config::{KeyConfig, ProviderConfig, ProviderKeyConfig};
use asbru_schema::GatewayError;
use bytes::Bytes;
use futures_util::Stream;
use http::Method;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use std::pin::Pin;

/// Raw pieces of a provider's streaming body; each item arrives as soon as the provider sent it.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, GatewayError>> + Send>>;

/// Reaches one OpenAI-compatible provider: its URLs, headers and per-key authorisation are
/// prepared once when the config is loaded, so a request only clones what it must.
#[derive(Debug)]
pub struct OpenAiCompatible {
    upstream: Upstream,
    preset: Preset,
    /// The provider's URLs; empty when every key names its own server.
    urls: Urls,
    /// A key's own URLs (`vllm_key_config.url`), in the order of `ProviderConfig::keys`; `None`
    /// for keys served at the provider's URLs.
    key_urls: Vec<Option<Urls>>,
    /// `content-type` plus `network_config.extra_headers`.
    headers: HeaderMap,
    /// `Authorization: Bearer …` per key, in the order of `ProviderConfig::keys`; marked sensitive
    /// so hyper and tracing never print them.
    auth: Vec<HeaderValue>,
}

#[derive(Debug, Default)]
struct Urls {
    chat: Option<Target>,
    text: Option<Target>,
    embedding: Option<Target>,
    models: Option<Target>,
    count_tokens: Option<Target>,
    /// The native Responses endpoint; `None` where the provider serves that API through chat.
    responses: Option<Target>,
}

impl Urls {
    /// Every operation's URL below `base`, `request_path_overrides` applied.
    fn below(base: &str, provider: &ProviderConfig, preset: &Preset) -> Result<Self, GatewayError> {
        let url_for = |op: Operation| common::target(provider, base, op, preset.path(op));
        Ok(Self {
            chat: url_for(Operation::ChatCompletion)?,
            text: url_for(Operation::TextCompletion)?,
            embedding: url_for(Operation::Embedding)?,
            models: url_for(Operation::ListModels)?,
            count_tokens: url_for(Operation::CountTokens)?,
            responses: url_for(Operation::Responses)?,
        })
    }

    fn get(&self, op: Operation) -> Option<&Target> {
        match op {
            Operation::ChatCompletion => self.chat.as_ref(),
            Operation::TextCompletion => self.text.as_ref(),
            Operation::Embedding => self.embedding.as_ref(),
            Operation::ListModels => self.models.as_ref(),
            Operation::CountTokens => self.count_tokens.as_ref(),
            Operation::Responses => self.responses.as_ref(),
            Operation::Rerank => None,
        }
    }
}

impl OpenAiCompatible {
    pub fn new(
        provider: &ProviderConfig,
        preset: Preset,
        limits: &ResponseLimits,
    ) -> Result<Self, GatewayError> {
        // vLLM keys may each name their own server (Bifrost's `vllm_key_config.url`); the
        // provider-wide base URL is then only needed for keys that do not.
        let key_urls = provider
            .keys
            .iter()
            .map(|k| match &k.provider_config {
                ProviderKeyConfig::Vllm(v) if !v.url.is_empty() => {
                    Urls::below(v.url.trim_end_matches('/'), provider, &preset).map(Some)
                }
                _ => Ok(None),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let every_key_has_a_server = !key_urls.is_empty() && key_urls.iter().all(Option::is_some);
        let urls = match common::base_url(provider, preset.default_base_url) {
            Ok(base) => Urls::below(&base, provider, &preset)?,
            Err(_) if every_key_has_a_server => Urls::default(),
            Err(e) => return Err(e),
        };
        let auth = provider
            .keys
            .iter()
            .map(|k| {
                let value = format!("Bearer {}", k.value.expose_secret());
                common::secret_header(&value, k, &provider.name)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            upstream: Upstream::new(provider, limits)?,
            preset,
            urls,
            key_urls,
            headers: common::base_headers(provider)?,
            auth,
        })
    }

    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    /// Whether the provider has an endpoint for `op` (at its own URL or at a key's).
    pub fn supports(&self, op: Operation) -> bool {
        self.urls.get(op).is_some() || self.key_urls.iter().flatten().any(|u| u.get(op).is_some())
    }

    /// The URL of `op` for `key`: the key's own server if it names one, else the provider's.
    fn url(&self, op: Operation, key: Option<usize>) -> Option<&Target> {
        match key
            .and_then(|i| self.key_urls.get(i))
            .and_then(Option::as_ref)
        {
            Some(own) => own.get(op),
            None => self.urls.get(op),
        }
    }

    /// The target of `op` and the headers for `key`.
    fn prepare(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<(&Target, HeaderMap), GatewayError> {
        let target = self
            .url(op, key.map(|(i, _)| i))
            .ok_or_else(|| self.upstream.unsupported(op))?;
        let mut headers = self.headers.clone();
        if let Some(auth) = key.and_then(|(i, _)| self.auth.get(i)) {
            headers.insert(AUTHORIZATION, auth.clone());
        }
        Ok((target, headers))
    }

    /// Sends a JSON body and returns the provider's full JSON answer; non-2xx answers become the
    /// provider's error. The whole exchange is bounded by `default_request_timeout_in_seconds`.
    pub async fn send(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        let (target, mut headers) = self.prepare(op, key)?;
        common::add_forwarded(&mut headers, forward);
        self.upstream
            .exchange(Method::POST, target, headers, body, secret(key))
            .await
    }

    /// Lists the provider's models (`data` of its `/models` answer).
    pub async fn list_models(
        &self,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        #[derive(serde::Deserialize)]
        struct List {
            data: Vec<serde_json::Value>,
        }
        let (target, headers) = self.prepare(Operation::ListModels, key)?;
        let body = self
            .upstream
            .exchange(Method::GET, target, headers, Bytes::new(), secret(key))
            .await?;
        serde_json::from_slice::<List>(&body)
            .map(|l| l.data)
            .map_err(|e| self.malformed(&e))
    }

    /// Starts a streaming request. Returns once the provider answered with a success status;
    /// the stream then yields body pieces as they arrive, failing if the provider stays silent
    /// longer than `stream_idle_timeout_in_seconds`.
    pub async fn send_stream(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        let (target, mut headers) = self.prepare(op, key)?;
        common::add_forwarded(&mut headers, forward);
        self.upstream
            .stream(target, headers, body, secret(key))
            .await
    }

    /// The provider answered 2xx with a body that is not what the API promises.
    pub fn malformed(&self, err: &dyn std::fmt::Display) -> GatewayError {
        self.upstream.malformed(err)
    }
}

/// The key's value, scrubbed from anything quoted back in errors.
fn secret(key: Option<(usize, &KeyConfig)>) -> Option<&str> {
    key.map(|(_, k)| k.value.expose_secret())
}
