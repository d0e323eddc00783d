//! Token usage as OpenAI reports it.

use serde::{Deserialize, Serialize};

/// Token counts of one request; read from the provider's response or the stream chunk that carries
/// them. The cache and reasoning counts are part of the prompt and completion counts (as OpenAI
/// reports them); cost needs them apart because providers price them differently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WireUsage")]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    /// Prompt tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cached_read_tokens: u64,
    /// Prompt tokens written to the provider's prompt cache.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
    /// Completion tokens spent on reasoning.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reasoning_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `usage` as OpenAI-compatible APIs send it: the details nested
/// (`prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens`), and the
/// cache write count as Anthropic-style providers add it at the top level.
#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: u64,
    #[serde(default)]
    cached_read_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<Details>,
    #[serde(default)]
    completion_tokens_details: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    cache_write_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<WireUsage> for Usage {
    fn from(w: WireUsage) -> Self {
        let prompt = w.prompt_tokens_details.as_ref();
        let completion = w.completion_tokens_details.as_ref();
        Usage {
            prompt_tokens: w.prompt_tokens,
            completion_tokens: w.completion_tokens,
            total_tokens: w.total_tokens,
            cached_read_tokens: w
                .cached_read_tokens
                .or_else(|| prompt.and_then(|d| d.cached_tokens))
                .unwrap_or(0),
            cache_write_tokens: w
                .cache_write_tokens
                .or(w.cache_creation_input_tokens)
                .or_else(|| prompt.and_then(|d| d.cache_write_tokens))
                .unwrap_or(0),
            reasoning_tokens: w
                .reasoning_tokens
                .or_else(|| completion.and_then(|d| d.reasoning_tokens))
                .unwrap_or(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Usage;

    #[test]
    fn details_are_read_from_openai_usage() {
        let u: Usage = serde_json::from_str(
            r#"{"prompt_tokens":100,"completion_tokens":50,"total_tokens":150,
                "prompt_tokens_details":{"cached_tokens":40,"audio_tokens":0},
                "completion_tokens_details":{"reasoning_tokens":30}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                u.cached_read_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens
            ),
            (40, 0, 30)
        );
        assert_eq!(u.total_tokens, 150);
    }

    #[test]
    fn a_plain_usage_has_no_details() {
        let u: Usage =
            serde_json::from_str(r#"{"prompt_tokens":1,"completion_tokens":2}"#).unwrap();
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 1,
                completion_tokens: 2,
                ..Usage::default()
            }
        );
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            r#"{"prompt_tokens":1,"completion_tokens":2,"total_tokens":0}"#
        );
    }
}
