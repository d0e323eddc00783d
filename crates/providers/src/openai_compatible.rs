//! The adapter for every provider that speaks the OpenAI API.

use crate::common::{self, Upstream};
use crate::http::Target;
use crate::{Operation, Preset};
use asbru_config::{KeyConfig, ProviderConfig};
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
    urls: Urls,
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
}

impl OpenAiCompatible {
    pub fn new(provider: &ProviderConfig, preset: Preset) -> Result<Self, GatewayError> {
        let base = common::base_url(provider, preset.default_base_url)?;
        let url_for = |op: Operation| common::target(provider, &base, op, preset.path(op));
        let urls = Urls {
            chat: url_for(Operation::ChatCompletion)?,
            text: url_for(Operation::TextCompletion)?,
            embedding: url_for(Operation::Embedding)?,
            models: url_for(Operation::ListModels)?,
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
            upstream: Upstream::new(provider)?,
            preset,
            urls,
            headers: common::base_headers(provider)?,
            auth,
        })
    }

    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    /// Whether the provider has an endpoint for `op`.
    pub fn supports(&self, op: Operation) -> bool {
        self.url(op).is_some()
    }

    fn url(&self, op: Operation) -> Option<&Target> {
        match op {
            Operation::ChatCompletion => self.urls.chat.as_ref(),
            Operation::TextCompletion => self.urls.text.as_ref(),
            Operation::Embedding => self.urls.embedding.as_ref(),
            Operation::ListModels => self.urls.models.as_ref(),
            Operation::Rerank => None,
        }
    }

    /// The target of `op` and the headers for `key`.
    fn prepare(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<(&Target, HeaderMap), GatewayError> {
        let target = self.url(op).ok_or_else(|| self.upstream.unsupported(op))?;
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
    ) -> Result<Bytes, GatewayError> {
        let (target, headers) = self.prepare(op, key)?;
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
    ) -> Result<ByteStream, GatewayError> {
        let (target, headers) = self.prepare(op, key)?;
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
