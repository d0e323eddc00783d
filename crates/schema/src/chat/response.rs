//! The chat-completion response, its stream chunks, and token usage.

use super::message::{AssistantMessage, Message, ReasoningDetail};
use super::nullable::Nullable;
use crate::Usage;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A complete chat completion (`object: "chat.completion"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub id: String,
    #[serde(default = "completion_object")]
    pub object: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<ChatUsage>,
    /// `system_fingerprint`, `service_tier`, Bifrost's `extra_fields`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn completion_object() -> String {
    ChatResponse::OBJECT.to_owned()
}

impl ChatResponse {
    /// The `object` value of a complete response.
    pub const OBJECT: &'static str = "chat.completion";

    /// The first choice's assistant message, where single-choice callers find the answer.
    pub fn first_message(&self) -> Option<&AssistantMessage> {
        self.choices.first().and_then(Choice::assistant)
    }
}

/// One alternative of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub index: u32,
    /// Always an assistant message in practice; typed as [`Message`] so the `role` travels with it.
    pub message: Message,
    /// Serialized as `null` when unknown, as OpenAI does.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    /// `logprobs` and provider extras.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Choice {
    /// The message when it is an assistant message.
    pub fn assistant(&self) -> Option<&AssistantMessage> {
        match &self.message {
            Message::Assistant(a) => Some(a),
            _ => None,
        }
    }
}

/// Why the model stopped.
///
/// OpenAI's values are variants; anything else a provider reports is kept in `Other` so it is
/// passed on rather than guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// The output-token limit was reached.
    Length,
    /// The model called tools and waits for their results.
    ToolCalls,
    /// Output withheld by a content filter or a refusal.
    ContentFilter,
    /// Legacy `function_call`.
    FunctionCall,
    Other(String),
}

impl FinishReason {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
            Self::ToolCalls => "tool_calls",
            Self::ContentFilter => "content_filter",
            Self::FunctionCall => "function_call",
            Self::Other(s) => s,
        }
    }

    /// Reads a wire spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "stop" => Self::Stop,
            "length" => Self::Length,
            "tool_calls" => Self::ToolCalls,
            "content_filter" => Self::ContentFilter,
            "function_call" => Self::FunctionCall,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Ok(Self::parse(&s))
    }
}

/// One stream chunk (`object: "chat.completion.chunk"`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    pub id: String,
    #[serde(default = "chunk_object")]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    pub model: String,
    /// Empty in the final usage-only chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// `null` on every chunk but the last when `stream_options.include_usage` is set.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub usage: Nullable<ChatUsage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn chunk_object() -> String {
    ChatChunk::OBJECT.to_owned()
}

impl ChatChunk {
    /// The `object` value of a stream chunk.
    pub const OBJECT: &'static str = "chat.completion.chunk";
}

/// One choice's piece of a chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    /// `null` until the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a chunk adds to the assistant message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant`, in the first chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<String>,
    /// A fragment of reasoning text (Bifrost's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Fragments of reasoning blocks; a block's signature arrives in its own entry once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Vec<ReasoningDetail>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// `refusal`, `reasoning_content`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A piece of a tool call: the first piece of call `index` carries `id`, `type` and the name,
/// later pieces only argument text to append.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A piece of a function call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token usage with OpenAI's detail objects.
///
/// `prompt_tokens` counts *all* input, cached or not, as OpenAI does; dialects whose providers
/// count cache reads and writes separately (Anthropic) add them in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatUsage {
    /// The counts the engine, logs and cost record.
    pub fn totals(&self) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            total_tokens: self.total_tokens,
            cached_read_tokens: self.cached_tokens(),
            cache_write_tokens: self.cache_write_tokens(),
            reasoning_tokens: self.reasoning_tokens(),
        }
    }

    /// Tokens read from the prompt cache (0 when not reported).
    pub fn cached_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0)
    }

    /// Tokens written to the prompt cache (0 when not reported).
    pub fn cache_write_tokens(&self) -> u64 {
        self.prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cache_write_tokens)
            .unwrap_or(0)
    }

    /// Reasoning tokens inside `completion_tokens` (0 when not reported).
    pub fn reasoning_tokens(&self) -> u64 {
        self.completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens)
            .unwrap_or(0)
    }
}

/// `prompt_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens served from the provider's cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache (OpenAI's Responses-API name, which Bifrost
    /// also emits; Anthropic's `cache_creation_input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    /// `audio_tokens`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `completion_tokens_details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// `audio_tokens`, `accepted_prediction_tokens`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_response_round_trips() {
        let input = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4.1", "system_fingerprint": null, "service_tier": "default",
            "choices": [{
                "index": 0, "logprobs": null, "finish_reason": "tool_calls",
                "message": {"role": "assistant", "content": null, "refusal": null, "annotations": [],
                    "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": "{\"location\":\"Paris\"}"}}]}
            }],
            "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                    "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
        });
        let r: ChatResponse = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
        let m = r.first_message().unwrap();
        assert_eq!(m.tool_calls.as_ref().unwrap()[0].id, "call_1");
        assert_eq!(r.usage.as_ref().unwrap().totals().total_tokens, 29);
        assert_eq!(serde_json::to_value(&r).unwrap(), input);
    }

    #[test]
    fn chunks_round_trip() {
        let chunks = json!([
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null},
                          "logprobs": null, "finish_reason": null}], "usage": null},
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                 "function": {"name": "f", "arguments": ""}}]}, "finish_reason": null}]},
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
                          "finish_reason": null}]},
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
             "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
        ]);
        let parsed: Vec<ChatChunk> = serde_json::from_value(chunks.clone()).unwrap();
        assert_eq!(parsed[0].usage, Nullable::Null);
        assert_eq!(parsed[1].usage, Nullable::Absent);
        assert_eq!(parsed[4].usage.value().unwrap().completion_tokens, 2);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), chunks);
    }

    #[test]
    fn unknown_finish_reason_is_kept() {
        let f: FinishReason = serde_json::from_value(json!("pause_turn")).unwrap();
        assert_eq!(f, FinishReason::Other("pause_turn".into()));
        assert_eq!(serde_json::to_value(&f).unwrap(), json!("pause_turn"));
    }
}
