//! Token usage as OpenAI reports it.

use serde::{Deserialize, Serialize};

/// Token counts of one request; read from the provider's response or the stream chunk that carries
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}
