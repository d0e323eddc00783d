//! The provider names Bifrost knows, spelled exactly as its `config.json` spells them.

use std::fmt;

/// A provider type asbru recognises by name. Custom providers (any other name) pick one of these as
/// their `base_provider_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KnownProvider {
    OpenAi,
    Azure,
    Anthropic,
    Bedrock,
    Cohere,
    Vertex,
    Mistral,
    Ollama,
    Groq,
    Sgl,
    Parasail,
    Perplexity,
    Cerebras,
    Gemini,
    OpenRouter,
    Elevenlabs,
    HuggingFace,
    Nebius,
    Xai,
    Replicate,
    Vllm,
    Runway,
    Fireworks,
    DeepSeek,
    Together,
}

impl KnownProvider {
    /// Every known provider, in Bifrost's order (then the OpenAI-compatible additions).
    pub const ALL: [KnownProvider; 25] = [
        Self::OpenAi,
        Self::Azure,
        Self::Anthropic,
        Self::Bedrock,
        Self::Cohere,
        Self::Vertex,
        Self::Mistral,
        Self::Ollama,
        Self::Groq,
        Self::Sgl,
        Self::Parasail,
        Self::Perplexity,
        Self::Cerebras,
        Self::Gemini,
        Self::OpenRouter,
        Self::Elevenlabs,
        Self::HuggingFace,
        Self::Nebius,
        Self::Xai,
        Self::Replicate,
        Self::Vllm,
        Self::Runway,
        Self::Fireworks,
        Self::DeepSeek,
        Self::Together,
    ];

    /// The name used in `config.json`, in `provider/model` strings and in API output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Azure => "azure",
            Self::Anthropic => "anthropic",
            Self::Bedrock => "bedrock",
            Self::Cohere => "cohere",
            Self::Vertex => "vertex",
            Self::Mistral => "mistral",
            Self::Ollama => "ollama",
            Self::Groq => "groq",
            Self::Sgl => "sgl",
            Self::Parasail => "parasail",
            Self::Perplexity => "perplexity",
            Self::Cerebras => "cerebras",
            Self::Gemini => "gemini",
            Self::OpenRouter => "openrouter",
            Self::Elevenlabs => "elevenlabs",
            Self::HuggingFace => "huggingface",
            Self::Nebius => "nebius",
            Self::Xai => "xai",
            Self::Replicate => "replicate",
            Self::Vllm => "vllm",
            Self::Runway => "runway",
            Self::Fireworks => "fireworks",
            Self::DeepSeek => "deepseek",
            Self::Together => "together",
        }
    }

    /// Looks a name up exactly as Bifrost does (case-sensitive, lower-case names).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for KnownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in KnownProvider::ALL {
            assert_eq!(KnownProvider::from_name(p.as_str()), Some(p));
        }
        assert_eq!(KnownProvider::from_name("OpenAI"), None);
        assert_eq!(KnownProvider::from_name("my-llamacpp"), None);
    }
}
