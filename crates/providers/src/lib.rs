//! Provider adapters: how each provider is reached — base URL, paths, authentication, quirks —
//! and how its failures map onto [`GatewayError`].
//!
//! OpenAI-compatible providers (OpenAI, Groq, Mistral, Ollama, …) are presets of one adapter,
//! [`OpenAiCompatible`], not copies. [`Anthropic`] (the Messages API), [`Gemini`] (the Gemini
//! API) and [`Bedrock`] (the Converse API) translate inside, so they take and return the OpenAI
//! dialect like the others ([`OpenAiFacing`] is the one view the engine needs of any of them).
//! [`Azure`] forwards the OpenAI dialect too, to a URL and with credentials chosen per key and
//! model. Providers whose adapter does not exist yet are built as
//! [`Adapter::NotSupported`], so the gateway starts and answers their requests with a clear error.
//! Must not: know about plugins, routes, queues or key selection.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod bedrock_auth;
pub mod cohere;
mod common;
mod error_map;
pub mod gemini;
mod http;
pub mod oauth;
mod openai_compatible;
mod operation;
mod presets;
pub mod redact;
mod responses;
mod translated;
pub mod vertex;

pub use anthropic::Anthropic;
pub use azure::Azure;
pub use bedrock::Bedrock;
pub use cohere::Cohere;
pub use gemini::Gemini;
pub use http::{
    DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_BUFFERED_MB, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RESPONSE_MB, ResponseLimits, UpstreamClient,
};
pub use openai_compatible::{ByteStream, OpenAiCompatible};
pub use operation::Operation;
pub use presets::{Preset, markdown_table as presets_markdown_table, preset};
pub use redact::Redactor;
pub use vertex::Vertex;

use ::http::HeaderMap;
use asbru_config::{Config, KeyConfig, Notice, NoticeKind, ProviderConfig};
use asbru_schema::{GatewayError, KnownProvider};
use bytes::Bytes;

/// One configured provider's adapter.
#[derive(Debug)]
pub enum Adapter {
    OpenAiCompatible(Box<OpenAiCompatible>),
    /// Anthropic's Messages API (and custom providers based on it).
    Anthropic(Box<Anthropic>),
    /// The Gemini API (and custom providers based on it).
    Gemini(Box<Gemini>),
    /// Azure OpenAI (and custom providers based on it).
    Azure(Box<Azure>),
    /// AWS Bedrock's Converse API (and custom providers based on it).
    Bedrock(Box<Bedrock>),
    /// Cohere's v2 API (and custom providers based on it).
    Cohere(Box<Cohere>),
    /// Google Cloud Vertex AI: Gemini and Claude models, Google's embeddings.
    Vertex(Box<Vertex>),
    /// A provider asbru accepts in config but cannot call yet.
    NotSupported {
        name: String,
        base: KnownProvider,
    },
}

impl Adapter {
    /// Builds the adapter for one provider entry; its client buffers answers within `limits`
    /// (one [`ResponseLimits`] shared by every adapter, so its budget is global).
    pub fn build(provider: &ProviderConfig, limits: &ResponseLimits) -> Result<Self, GatewayError> {
        if provider.base == KnownProvider::Anthropic {
            return Ok(Self::Anthropic(Box::new(Anthropic::new(provider, limits)?)));
        }
        if provider.base == KnownProvider::Gemini {
            return Ok(Self::Gemini(Box::new(Gemini::new(provider, limits)?)));
        }
        if provider.base == KnownProvider::Azure {
            return Ok(Self::Azure(Box::new(Azure::new(provider, limits)?)));
        }
        if provider.base == KnownProvider::Bedrock {
            return Ok(Self::Bedrock(Box::new(Bedrock::new(provider, limits)?)));
        }
        if provider.base == KnownProvider::Cohere {
            return Ok(Self::Cohere(Box::new(Cohere::new(provider, limits)?)));
        }
        if provider.base == KnownProvider::Vertex {
            return Ok(Self::Vertex(Box::new(Vertex::new(provider, limits)?)));
        }
        match preset(provider.base) {
            Some(preset) => Ok(Self::OpenAiCompatible(Box::new(OpenAiCompatible::new(
                provider, preset, limits,
            )?))),
            None => Ok(Self::NotSupported {
                name: provider.name.clone(),
                base: provider.base,
            }),
        }
    }

    /// The adapter as the engine's OpenAI-dialect pipeline uses it, or the 501 of a provider
    /// asbru cannot call yet.
    pub fn openai_facing(&self) -> Result<OpenAiFacing<'_>, GatewayError> {
        match self {
            Self::OpenAiCompatible(a) => Ok(OpenAiFacing::OpenAiCompatible(a)),
            Self::Anthropic(a) => Ok(OpenAiFacing::Anthropic(a)),
            Self::Gemini(a) => Ok(OpenAiFacing::Gemini(a)),
            Self::Azure(a) => Ok(OpenAiFacing::Azure(a)),
            Self::Bedrock(a) => Ok(OpenAiFacing::Bedrock(a)),
            Self::Cohere(a) => Ok(OpenAiFacing::Cohere(a)),
            Self::Vertex(a) => Ok(OpenAiFacing::Vertex(a)),
            Self::NotSupported { name, base } => Err(Self::not_supported_error(name, *base)),
        }
    }

    /// The error every request to an unsupported provider gets.
    pub fn not_supported_error(name: &str, base: KnownProvider) -> GatewayError {
        GatewayError::not_supported(format!(
            "provider '{name}' ({base}) is configured but asbru does not support it yet; \
             OpenAI-compatible providers, anthropic, gemini, azure, bedrock, cohere and vertex are supported today"
        ))
        .with_provider(name)
    }
}

/// Whether asbru can call providers of this type today.
pub fn is_supported(base: KnownProvider) -> bool {
    matches!(
        base,
        KnownProvider::Anthropic
            | KnownProvider::Gemini
            | KnownProvider::Azure
            | KnownProvider::Bedrock
            | KnownProvider::Cohere
            | KnownProvider::Vertex
    ) || preset(base).is_some()
}

/// An adapter that takes OpenAI-dialect request bodies and returns OpenAI-dialect answers (JSON
/// bodies, SSE streams ending in `[DONE]`): what the engine's retry, health, fallback and stream
/// forwarding work on. The OpenAI-compatible adapter forwards bytes untouched; the Anthropic and
/// Gemini and Bedrock ones translate inside. A borrowed enum, so dispatch is one match and no allocation.
#[derive(Debug, Clone, Copy)]
pub enum OpenAiFacing<'a> {
    OpenAiCompatible(&'a OpenAiCompatible),
    Anthropic(&'a Anthropic),
    Gemini(&'a Gemini),
    Azure(&'a Azure),
    Bedrock(&'a Bedrock),
    Cohere(&'a Cohere),
    Vertex(&'a Vertex),
}

impl OpenAiFacing<'_> {
    /// Whether the provider can serve `op`: at an endpoint of its own, or — for Responses-API
    /// requests — through its chat endpoint.
    pub fn supports(self, op: Operation) -> bool {
        if op == Operation::Responses && !self.native_responses() {
            return self.has_endpoint(Operation::ChatCompletion);
        }
        self.has_endpoint(op)
    }

    /// Whether the provider serves the Responses API itself (OpenAI, and custom providers based
    /// on it or given a `responses` path override); the others serve it through chat.
    pub fn native_responses(self) -> bool {
        matches!(self, Self::OpenAiCompatible(a) if a.supports(Operation::Responses))
    }

    /// Whether the provider has an endpoint of its own for `op`.
    fn has_endpoint(self, op: Operation) -> bool {
        match self {
            Self::OpenAiCompatible(a) => a.supports(op),
            Self::Anthropic(a) => a.supports(op),
            Self::Gemini(a) => a.supports(op),
            Self::Azure(a) => a.supports(op),
            Self::Bedrock(a) => a.supports(op),
            Self::Cohere(a) => a.supports(op),
            Self::Vertex(a) => a.supports(op),
        }
    }

    /// Whether the provider is sent the OpenAI-dialect body as the client wrote it (OpenAI-
    /// compatible providers and Azure), rather than a translation that picks the fields it knows.
    pub fn takes_openai_body(self) -> bool {
        matches!(self, Self::OpenAiCompatible(_) | Self::Azure(_))
    }

    /// Whether streams from this adapter always end with a usage-only chunk (the gateway asks
    /// for it, or, for Anthropic, Gemini and Bedrock, the translation always emits it), so the engine must drop that
    /// chunk for clients that did not ask for `stream_options.include_usage`.
    pub fn stream_usage(self) -> bool {
        match self {
            Self::OpenAiCompatible(a) => a.preset().stream_usage,
            // Azure has accepted `stream_options.include_usage` since api-version
            // 2024-09-01-preview; the default (2024-10-21) is newer.
            Self::Anthropic(_)
            | Self::Gemini(_)
            | Self::Azure(_)
            | Self::Bedrock(_)
            | Self::Cohere(_) => true,
            Self::Vertex(_) => true,
        }
    }

    /// Sends one request and returns the whole OpenAI-dialect JSON answer. `model` is the
    /// upstream model (already in the body); adapters whose URL depends on it (Azure's
    /// deployments) read it here rather than parse the body again. `forward` holds the client's
    /// headers meant for the provider (see `asbru_engine::forwarded_headers`), added last; the
    /// Anthropic adapter merges `anthropic-beta` with its configured betas instead.
    pub async fn send(
        self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        if op == Operation::Responses && !self.native_responses() {
            let via = responses::via_chat(&body, false, false)?;
            let answer = self
                .send_direct(Operation::ChatCompletion, key, model, via.chat, forward)
                .await?;
            return responses::answer(&answer, &via.echo).map_err(|e| self.malformed(&e));
        }
        self.send_direct(op, key, model, body, forward).await
    }

    /// [`OpenAiFacing::send`] to the provider's own endpoint for `op`.
    async fn send_direct(
        self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        match self {
            Self::OpenAiCompatible(a) => a.send(op, key, body, forward).await,
            Self::Anthropic(a) => a.send(op, key, body, forward).await,
            Self::Gemini(a) => a.send(op, key, body, forward).await,
            Self::Azure(a) => a.send(op, key, model, body, forward).await,
            Self::Bedrock(a) => a.send(op, key, body, forward).await,
            Self::Cohere(a) => a.send(op, key, body, forward).await,
            Self::Vertex(a) => a.send(op, key, model, body, forward).await,
        }
    }

    /// Starts a stream of OpenAI-dialect SSE bytes (for Responses-API requests, that API's
    /// typed events); `model` as for [`OpenAiFacing::send`].
    pub async fn send_stream(
        self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        if op == Operation::Responses && !self.native_responses() {
            let via = responses::via_chat(&body, true, self.stream_usage())?;
            let chat = self
                .send_stream_direct(Operation::ChatCompletion, key, model, via.chat, forward)
                .await?;
            return Ok(responses::stream(chat, via.echo));
        }
        self.send_stream_direct(op, key, model, body, forward).await
    }

    /// [`OpenAiFacing::send_stream`] to the provider's own endpoint for `op`.
    async fn send_stream_direct(
        self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        match self {
            Self::OpenAiCompatible(a) => a.send_stream(op, key, body, forward).await,
            Self::Anthropic(a) => a.send_stream(op, key, body, forward).await,
            Self::Gemini(a) => a.send_stream(op, key, body, forward).await,
            Self::Azure(a) => a.send_stream(op, key, model, body, forward).await,
            Self::Bedrock(a) => a.send_stream(op, key, body, forward).await,
            Self::Cohere(a) => a.send_stream(op, key, body, forward).await,
            Self::Vertex(a) => a.send_stream(op, key, model, body, forward).await,
        }
    }

    /// The provider's models as OpenAI model objects.
    pub async fn list_models(
        self,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        match self {
            Self::OpenAiCompatible(a) => a.list_models(key).await,
            Self::Anthropic(a) => a.list_models(key).await,
            Self::Gemini(a) => a.list_models(key).await,
            Self::Azure(a) => a.list_models(key).await,
            Self::Bedrock(a) => a.list_models(key).await,
            Self::Cohere(a) => a.list_models(key).await,
            Self::Vertex(a) => a.list_models(key).await,
        }
    }

    /// The error for a 2xx answer that is not what the API promises.
    pub fn malformed(self, err: &dyn std::fmt::Display) -> GatewayError {
        match self {
            Self::OpenAiCompatible(a) => a.malformed(err),
            Self::Anthropic(a) => a.malformed(err),
            Self::Gemini(a) => a.malformed(err),
            Self::Azure(a) => a.malformed(err),
            Self::Bedrock(a) => a.malformed(err),
            Self::Cohere(a) => a.malformed(err),
            Self::Vertex(a) => a.malformed(err),
        }
    }
}

/// One "not supported yet" notice per configured provider whose adapter does not exist yet, and
/// one per `base_url` that would double `/v1` (see [`doubled_v1`]).
pub fn support_notices(config: &Config) -> Vec<Notice> {
    let unsupported = config
        .providers
        .iter()
        .filter(|p| !is_supported(p.base))
        .map(|p| Notice {
            kind: NoticeKind::NotSupportedYet,
            path: format!("providers.{}", p.name),
            message: format!(
                "provider type '{}' has no adapter yet; it is accepted and its requests fail with 501",
                p.base
            ),
        });
    let doubled = config.providers.iter().filter_map(|p| {
        let url = doubled_v1(p.base, p.network.base_url.as_deref()?)?;
        Some(Notice {
            kind: NoticeKind::Suspicious,
            path: format!("providers.{}.network_config.base_url", p.name),
            message: format!(
                "ends in /v1, and this provider's request paths already start with /v1: chat \
                 requests would go to {url}; drop the /v1 (the OpenAI SDKs' habit)"
            ),
        })
    });
    unsupported.chain(doubled).collect()
}

/// The base URL a provider's requests go to: its `base_url`, or the default of its type; `None`
/// where the address is built per request (Azure, Bedrock, Vertex) or there is no default.
pub fn effective_base_url(p: &ProviderConfig) -> Option<String> {
    if let Some(url) = &p.network.base_url {
        return Some(url.clone());
    }
    let default = match p.base {
        KnownProvider::Anthropic => Some(anthropic::DEFAULT_BASE_URL),
        KnownProvider::Gemini => Some(gemini::DEFAULT_BASE_URL),
        KnownProvider::Cohere => Some(cohere::DEFAULT_BASE_URL),
        other => presets::preset(other).and_then(|p| p.default_base_url),
    };
    default.map(str::to_owned)
}

/// The chat URL a `base_url` ending in `/v1` would really call, when the provider's paths already
/// start with `/v1` (`https://x/v1` + `/v1/chat/completions`); `None` when the URL is fine.
pub fn doubled_v1(provider: KnownProvider, base_url: &str) -> Option<String> {
    let base_url = base_url.trim_end_matches('/');
    if !base_url.ends_with("/v1") {
        return None;
    }
    let chat_path = match provider {
        KnownProvider::Anthropic => "/v1/messages",
        other => presets::preset(other)?.chat_path,
    };
    chat_path
        .starts_with("/v1/")
        .then(|| format!("{base_url}{chat_path}"))
}

#[cfg(test)]
mod base_url_tests {
    use super::*;

    #[test]
    fn a_trailing_v1_is_doubled_only_where_paths_start_with_v1() {
        assert_eq!(
            doubled_v1(KnownProvider::OpenAi, "https://x/v1/").as_deref(),
            Some("https://x/v1/v1/chat/completions")
        );
        assert_eq!(
            doubled_v1(KnownProvider::Anthropic, "https://x/v1").as_deref(),
            Some("https://x/v1/v1/messages")
        );
        assert_eq!(doubled_v1(KnownProvider::OpenAi, "https://x"), None);
        // Perplexity's paths have no /v1: its base URL may end in one.
        assert_eq!(doubled_v1(KnownProvider::Perplexity, "https://x/v1"), None);
    }
}
