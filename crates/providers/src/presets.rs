//! The OpenAI-compatible providers as presets of one adapter: default base URL and paths.
//!
//! Values follow Bifrost (`core/providers/<name>/<name>.go`): the path is appended to the base URL,
//! whether the default or `network_config.base_url`, exactly as Bifrost appends it.

use crate::Operation;
use asbru_schema::KnownProvider;

/// How one OpenAI-compatible provider is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub provider: KnownProvider,
    /// Used when `network_config.base_url` is not set; `None` means the user must set it.
    pub default_base_url: Option<&'static str>,
    pub chat_path: &'static str,
    /// `None` where the provider has no such endpoint.
    pub text_completion_path: Option<&'static str>,
    pub embedding_path: Option<&'static str>,
    pub list_models_path: Option<&'static str>,
    /// Whether the provider accepts `stream_options.include_usage`, so the gateway may ask for
    /// usage at the end of every stream.
    pub stream_usage: bool,
}

/// OpenAI's token-counting endpoint for Responses-API requests.
pub const RESPONSES_INPUT_TOKENS_PATH: &str = "/v1/responses/input_tokens";

/// OpenAI's Responses endpoint.
pub const RESPONSES_PATH: &str = "/v1/responses";

impl Preset {
    /// The path of `op`, if the provider offers it.
    pub fn path(&self, op: Operation) -> Option<&'static str> {
        match op {
            Operation::ChatCompletion => Some(self.chat_path),
            Operation::TextCompletion => self.text_completion_path,
            Operation::Embedding => self.embedding_path,
            Operation::ListModels => self.list_models_path,
            // Only OpenAI itself counts Responses-API input.
            Operation::CountTokens => {
                (self.provider == KnownProvider::OpenAi).then_some(RESPONSES_INPUT_TOKENS_PATH)
            }
            // No OpenAI-compatible preset has a rerank endpoint in the OpenAI dialect.
            Operation::Rerank => None,
            // Only OpenAI itself (and custom providers based on it) is known to serve the
            // Responses API; the other presets serve it through chat.
            Operation::Responses => {
                (self.provider == KnownProvider::OpenAi).then_some(RESPONSES_PATH)
            }
        }
    }
}

const fn openai_like(
    provider: KnownProvider,
    base: Option<&'static str>,
    text: bool,
    embed: bool,
    stream_usage: bool,
) -> Preset {
    Preset {
        provider,
        default_base_url: base,
        chat_path: "/v1/chat/completions",
        text_completion_path: if text { Some("/v1/completions") } else { None },
        embedding_path: if embed { Some("/v1/embeddings") } else { None },
        list_models_path: Some("/v1/models"),
        stream_usage,
    }
}

/// The preset for a provider type, or `None` when it is not OpenAI-compatible (its own adapter
/// is needed and does not exist yet).
pub fn preset(provider: KnownProvider) -> Option<Preset> {
    use KnownProvider as P;
    Some(match provider {
        P::OpenAi => openai_like(provider, Some("https://api.openai.com"), true, true, true),
        P::Mistral => openai_like(provider, Some("https://api.mistral.ai"), false, true, false),
        P::Groq => openai_like(
            provider,
            Some("https://api.groq.com/openai"),
            false,
            false,
            true,
        ),
        P::Ollama => openai_like(provider, None, true, true, true),
        P::Sgl => openai_like(provider, None, true, true, true),
        P::Vllm => openai_like(provider, None, true, true, true),
        P::Cerebras => openai_like(provider, Some("https://api.cerebras.ai"), true, false, true),
        P::OpenRouter => openai_like(
            provider,
            Some("https://openrouter.ai/api"),
            true,
            true,
            true,
        ),
        P::Xai => openai_like(provider, Some("https://api.x.ai"), true, false, true),
        P::Nebius => openai_like(
            provider,
            Some("https://api.tokenfactory.nebius.com"),
            true,
            true,
            true,
        ),
        P::Parasail => openai_like(provider, Some("https://api.parasail.io"), false, true, true),
        P::Perplexity => Preset {
            chat_path: "/chat/completions",
            ..openai_like(
                provider,
                Some("https://api.perplexity.ai"),
                false,
                false,
                false,
            )
        },
        P::Fireworks => openai_like(
            provider,
            Some("https://api.fireworks.ai/inference"),
            false,
            false,
            true,
        ),
        P::DeepSeek => Preset {
            chat_path: "/chat/completions",
            text_completion_path: Some("/beta/completions"),
            list_models_path: Some("/models"),
            ..openai_like(
                provider,
                Some("https://api.deepseek.com"),
                false,
                false,
                true,
            )
        },
        // Not a Bifrost provider; asbru adds it as one more OpenAI-compatible preset.
        P::Together => openai_like(provider, Some("https://api.together.xyz"), true, true, true),
        P::HuggingFace => openai_like(
            provider,
            Some("https://router.huggingface.co"),
            false,
            false,
            true,
        ),
        P::Azure
        | P::Anthropic
        | P::Bedrock
        | P::Cohere
        | P::Vertex
        | P::Gemini
        | P::Elevenlabs
        | P::Replicate
        | P::Runway => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_compatible_presets_exist_and_others_do_not() {
        assert!(preset(KnownProvider::Groq).is_some());
        assert!(preset(KnownProvider::Anthropic).is_none());
        let p = preset(KnownProvider::OpenAi).unwrap();
        assert_eq!(
            p.path(Operation::ChatCompletion),
            Some("/v1/chat/completions")
        );
        assert_eq!(p.default_base_url, Some("https://api.openai.com"));
        assert_eq!(
            preset(KnownProvider::Ollama).unwrap().default_base_url,
            None
        );
        let p = preset(KnownProvider::Perplexity).unwrap();
        assert_eq!(p.path(Operation::ChatCompletion), Some("/chat/completions"));
        assert_eq!(p.path(Operation::Embedding), None);
        let p = preset(KnownProvider::DeepSeek).unwrap();
        assert_eq!(p.path(Operation::TextCompletion), Some("/beta/completions"));
    }
}

/// The preset table as Markdown, for `docs/providers.md` (a test keeps the two identical).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| provider | default base URL | chat | text completion | embeddings | models | stream usage requested |\n|---|---|---|---|---|---|---|\n",
    );
    let cell = |p: Option<&str>| p.map_or_else(|| "—".to_owned(), |p| format!("`{p}`"));
    for provider in KnownProvider::ALL {
        let Some(p) = preset(provider) else { continue };
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} | {} | {} |\n",
            provider,
            p.default_base_url.map_or_else(
                || "required (`network_config.base_url`)".to_owned(),
                |u| format!("`{u}`")
            ),
            p.chat_path,
            cell(p.text_completion_path),
            cell(p.embedding_path),
            cell(p.list_models_path),
            if p.stream_usage { "yes" } else { "no" },
        ));
    }
    out
}

#[cfg(test)]
mod docs_tests {
    /// docs/providers.md must show the presets as the code has them.
    #[test]
    fn providers_doc_matches_the_presets() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/providers.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let table = super::markdown_table();
        assert!(
            doc.contains(&table),
            "docs/providers.md is out of date; replace its preset table with:\n{table}"
        );
    }
}
