//! The adapter for every provider that speaks the OpenAI API.

use crate::error_map::{from_error_body, from_transport};
use crate::http::Target;
use crate::{Operation, Preset, UpstreamClient, common};
use asbru_config::{KeyConfig, ProviderConfig};
use asbru_schema::GatewayError;
use bytes::Bytes;
use futures_util::Stream;
use http::Method;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::ExposeSecret;
use std::pin::Pin;
use std::time::Duration;

/// Raw pieces of a provider's streaming body; each item arrives as soon as the provider sent it.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, GatewayError>> + Send>>;

/// Reaches one OpenAI-compatible provider: its URLs, headers and per-key authorisation are
/// prepared once when the config is loaded, so a request only clones what it must.
#[derive(Debug)]
pub struct OpenAiCompatible {
    name: String,
    preset: Preset,
    client: UpstreamClient,
    urls: Urls,
    /// `content-type` plus `network_config.extra_headers`.
    headers: HeaderMap,
    /// `Authorization: Bearer …` per key, in the order of `ProviderConfig::keys`; marked sensitive
    /// so hyper and tracing never print them.
    auth: Vec<HeaderValue>,
    request_timeout: Duration,
    stream_idle_timeout: Duration,
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
            name: provider.name.clone(),
            preset,
            client: UpstreamClient::new(&provider.network, &provider.proxy)?,
            urls,
            headers: common::base_headers(provider)?,
            auth,
            request_timeout: provider.network.request_timeout,
            stream_idle_timeout: provider.network.stream_idle_timeout,
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
        }
    }

    /// The target of `op` and the headers for `key`.
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
        self.exchange(Method::POST, op, key, body).await
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
        let body = self
            .exchange(Method::GET, Operation::ListModels, key, Bytes::new())
            .await?;
        serde_json::from_slice::<List>(&body)
            .map(|l| l.data)
            .map_err(|e| self.malformed(&e))
    }

    async fn exchange(
        &self,
        method: Method,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        body: Bytes,
    ) -> Result<Bytes, GatewayError> {
        let (target, headers) = self.prepare(op, key)?;
        let exchange = async {
            let response = self
                .client
                .send(method, target, headers, body)
                .await
                .map_err(|e| from_transport(&e, &self.name))?;
            let status = response.status;
            let wait = response.retry_after;
            let body = response
                .bytes()
                .await
                .map_err(|e| from_transport(&e, &self.name))?;
            if status.is_success() {
                Ok(body)
            } else {
                Err(self
                    .upstream_error(status.as_u16(), &body, key)
                    .with_retry_after(wait))
            }
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .map_err(|_| self.timeout_error())?
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
                .upstream_error(status.as_u16(), &body, key)
                .with_retry_after(wait));
        }
        Ok(common::idle_limited(
            response.into_stream(),
            self.stream_idle_timeout,
            self.name.clone(),
        ))
    }

    fn upstream_error(
        &self,
        status: u16,
        body: &[u8],
        key: Option<(usize, &KeyConfig)>,
    ) -> GatewayError {
        let secret = key.map(|(_, k)| k.value.expose_secret());
        from_error_body(status, body, secret).with_provider(&self.name)
    }

    fn timeout_error(&self) -> GatewayError {
        common::timeout_error(&self.name, self.request_timeout)
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
