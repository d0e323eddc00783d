//! Provider adapters: how each provider is reached — base URL, paths, authentication, quirks —
//! and how its failures map onto [`GatewayError`].
//!
//! OpenAI-compatible providers (OpenAI, Groq, Mistral, Ollama, …) are presets of one adapter,
//! [`OpenAiCompatible`], not copies. Providers whose adapter does not exist yet are built as
//! [`Adapter::NotSupported`], so the gateway starts and answers their requests with a clear error.
//! Must not: know about plugins, routes, queues or key selection.

pub mod bedrock_auth;
mod error_map;
mod http;
mod openai_compatible;
mod operation;
mod presets;

pub use http::UpstreamClient;
pub use openai_compatible::{ByteStream, OpenAiCompatible};
pub use operation::Operation;
pub use presets::{Preset, markdown_table as presets_markdown_table, preset};

use asbru_config::{Config, Notice, NoticeKind, ProviderConfig};
use asbru_schema::{GatewayError, KnownProvider};

/// One configured provider's adapter.
#[derive(Debug)]
pub enum Adapter {
    OpenAiCompatible(Box<OpenAiCompatible>),
    /// A provider asbru accepts in config but cannot call yet.
    NotSupported {
        name: String,
        base: KnownProvider,
    },
}

impl Adapter {
    /// Builds the adapter for one provider entry.
    pub fn build(provider: &ProviderConfig) -> Result<Self, GatewayError> {
        match preset(provider.base) {
            Some(preset) => Ok(Self::OpenAiCompatible(Box::new(OpenAiCompatible::new(
                provider, preset,
            )?))),
            None => Ok(Self::NotSupported {
                name: provider.name.clone(),
                base: provider.base,
            }),
        }
    }

    /// The error every request to an unsupported provider gets.
    pub fn not_supported_error(name: &str, base: KnownProvider) -> GatewayError {
        GatewayError::not_supported(format!(
            "provider '{name}' ({base}) is configured but asbru does not support it yet; \
             OpenAI-compatible providers are supported today"
        ))
        .with_provider(name)
    }
}

/// Whether asbru can call providers of this type today.
pub fn is_supported(base: KnownProvider) -> bool {
    preset(base).is_some()
}

/// One "not supported yet" notice per configured provider whose adapter does not exist yet.
pub fn support_notices(config: &Config) -> Vec<Notice> {
    config
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
        })
        .collect()
}
