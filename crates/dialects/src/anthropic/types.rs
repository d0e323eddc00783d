//! Anthropic Messages API wire types (`POST /v1/messages`, its stream events and error body).
//!
//! Written from Anthropic's documented examples (kept as fixtures under
//! `crates/dialects/tests/fixtures/anthropic/`). Like the unified types, every object keeps
//! unknown fields in `extra`, and unknown content-block and delta types are kept whole, because
//! Anthropic adds both regularly and says clients must tolerate them.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// A Messages API request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    pub model: String,
    pub messages: Vec<InputMessage>,
    /// Required by Anthropic; includes thinking tokens.
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemPrompt>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<ThinkingConfig>,
    /// Structured outputs (`output_config.format`) and other output settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system`: a string or text blocks (blocks can carry `cache_control`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SystemPrompt {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

/// `metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who speaks a message; Anthropic has only these two (system prompts are top-level, tool results
/// are user content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    pub role: Role,
    pub content: MessageContent,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a string (shorthand for one text block) or blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

impl MessageContent {
    /// The content as blocks (a string becomes one text block).
    pub fn into_blocks(self) -> Vec<ContentBlock> {
        match self {
            Self::Text(text) => vec![ContentBlock::text(text)],
            Self::Blocks(blocks) => blocks,
        }
    }
}

/// A content block, selected by `type`; unknown types are kept whole in `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentBlock {
    Text(TextBlock),
    Image(MediaBlock),
    Document(MediaBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    Thinking(ThinkingBlock),
    RedactedThinking(RedactedThinkingBlock),
    /// `server_tool_use`, `web_search_tool_result`, `search_result`, … exactly as they came.
    Other(Value),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(TextBlock {
            text: text.into(),
            extra: Map::new(),
        })
    }

    /// The block's `type` as Anthropic spells it.
    pub fn kind(&self) -> &str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Document(_) => "document",
            Self::ToolUse(_) => "tool_use",
            Self::ToolResult(_) => "tool_result",
            Self::Thinking(_) => "thinking",
            Self::RedactedThinking(_) => "redacted_thinking",
            Self::Other(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }
}

/// `{"type": "text", "text": …}` (`citations`, `cache_control` in `extra`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    pub text: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `image` or `document` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaBlock {
    pub source: Source,
    /// `title`, `context`, `citations`, `cache_control`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where an image or document comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// `base64`, `url`, `file` or `text`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Source {
    /// A base64 source.
    pub fn base64(media_type: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            kind: "base64".to_owned(),
            media_type: Some(media_type.into()),
            data: Some(data.into()),
            url: None,
            file_id: None,
            extra: Map::new(),
        }
    }

    /// A URL source.
    pub fn url(url: impl Into<String>) -> Self {
        Self {
            kind: "url".to_owned(),
            media_type: None,
            data: None,
            url: Some(url.into()),
            file_id: None,
            extra: Map::new(),
        }
    }
}

/// The model calls a client tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    pub id: String,
    pub name: String,
    /// The arguments as a JSON object.
    #[serde(default)]
    pub input: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool's result, in a user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Extended-thinking output; `signature` must be replayed unchanged in later turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    #[serde(default)]
    pub thinking: String,
    /// Absent in a stream's `content_block_start` (it arrives as a `signature_delta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Thinking the safety systems encrypted; only `data` travels, and it must be replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    pub data: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool definition: client tools have `input_schema`; Anthropic's server tools have a versioned
/// `type` (`web_search_20250305`, …) and their own parameters in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tool_choice`: `auto`, `any`, `tool` (with `name`) or `none`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// At most one tool call per turn (`any`/`tool`: exactly one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ToolChoice {
    /// A choice of the given type with no name.
    pub fn of(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            name: None,
            disable_parallel_tool_use: None,
            extra: Map::new(),
        }
    }
}

/// `thinking`: `{"type": "enabled", "budget_tokens": N}` or `{"type": "disabled"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingConfig {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `output_config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputConfig {
    /// `{"type": "json_schema", "schema": …}`: constrain the text answer to the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A structured-output format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Messages API response (`type: "message"`); also the skeleton in `message_start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    /// Defaulted because Anthropic's documentation shows responses without it.
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "message_type")]
    pub kind: String,
    #[serde(default = "assistant_role")]
    pub role: Role,
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// Defaulted (and then left out) for the same reason as `id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `pause_turn`, `refusal`,
    /// `model_context_window_exceeded`; `null` in `message_start`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub usage: Usage,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn message_type() -> String {
    "message".to_owned()
}

fn assistant_role() -> Role {
    Role::Assistant
}

/// Token counts. `input_tokens` excludes cache reads and writes, which are counted separately.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// `cache_creation` breakdown, `service_tier`, `server_tool_use`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A streamed event (the SSE `data:` payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: MessagesResponse,
    },
    ContentBlockStart {
        index: u32,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        /// Cumulative counts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<Usage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorObject,
    },
}

impl StreamEvent {
    /// The SSE `event:` name, which Anthropic sets equal to the data's `type`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageStart { .. } => "message_start",
            Self::ContentBlockStart { .. } => "content_block_start",
            Self::ContentBlockDelta { .. } => "content_block_delta",
            Self::ContentBlockStop { .. } => "content_block_stop",
            Self::MessageDelta { .. } => "message_delta",
            Self::MessageStop => "message_stop",
            Self::Ping => "ping",
            Self::Error { .. } => "error",
        }
    }

    /// The event framed for the wire: `event: <name>\ndata: <json>\n\n`.
    pub fn to_sse(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(self.name().as_bytes());
        out.extend_from_slice(b"\ndata: ");
        serde_json::to_writer(&mut out, self)?;
        out.extend_from_slice(b"\n\n");
        Ok(out)
    }

    /// Parses one event's data. Event types this module does not know yield `None`: Anthropic
    /// documents that new event types may appear and must be tolerated.
    pub fn parse(data: &[u8]) -> Result<Option<Self>, serde_json::Error> {
        Self::from_value(serde_json::from_slice(data)?)
    }

    /// Like [`StreamEvent::parse`], from an already parsed value.
    pub fn from_value(value: Value) -> Result<Option<Self>, serde_json::Error> {
        let known = matches!(
            value.get("type").and_then(Value::as_str),
            Some(
                "message_start"
                    | "content_block_start"
                    | "content_block_delta"
                    | "content_block_stop"
                    | "message_delta"
                    | "message_stop"
                    | "ping"
                    | "error"
            )
        );
        if known {
            serde_json::from_value(value).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// `message_delta.delta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `content_block_delta.delta`, selected by `type`; unknown types (`citations_delta`, …) are
/// kept whole.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockDelta {
    TextDelta { text: String },
    InputJsonDelta { partial_json: String },
    ThinkingDelta { thinking: String },
    SignatureDelta { signature: String },
    Other(Value),
}

/// The error object of an error body or `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorObject {
    /// `invalid_request_error`, `overloaded_error`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An error response body: `{"type": "error", "error": {…}, "request_id": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default = "error_type")]
    pub kind: String,
    pub error: ErrorObject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn error_type() -> String {
    "error".to_owned()
}

// ---- tagged unions with a catch-all ------------------------------------------------------------
//
// serde's internally tagged enums cannot keep an unknown variant's data, so these two unions
// dispatch on `type` by hand: known types deserialize into their struct (with `type` removed so
// it does not land in `extra`), anything else is kept as the raw value.

/// Removes `type` from an object, returning it and the rest.
fn split_type<E: serde::de::Error>(value: Value) -> Result<(String, Value), E> {
    let Value::Object(mut map) = value else {
        return Err(E::custom("expected an object"));
    };
    match map.remove("type") {
        Some(Value::String(kind)) => Ok((kind, Value::Object(map))),
        _ => Err(E::custom("object has no string `type`")),
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockRef<'a> {
    Text(&'a TextBlock),
    Image(&'a MediaBlock),
    Document(&'a MediaBlock),
    ToolUse(&'a ToolUseBlock),
    ToolResult(&'a ToolResultBlock),
    Thinking(&'a ThinkingBlock),
    RedactedThinking(&'a RedactedThinkingBlock),
}

impl Serialize for ContentBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(b) => BlockRef::Text(b).serialize(serializer),
            Self::Image(b) => BlockRef::Image(b).serialize(serializer),
            Self::Document(b) => BlockRef::Document(b).serialize(serializer),
            Self::ToolUse(b) => BlockRef::ToolUse(b).serialize(serializer),
            Self::ToolResult(b) => BlockRef::ToolResult(b).serialize(serializer),
            Self::Thinking(b) => BlockRef::Thinking(b).serialize(serializer),
            Self::RedactedThinking(b) => BlockRef::RedactedThinking(b).serialize(serializer),
            Self::Other(v) => v.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        if !matches!(
            kind,
            "text"
                | "image"
                | "document"
                | "tool_use"
                | "tool_result"
                | "thinking"
                | "redacted_thinking"
        ) {
            return Ok(Self::Other(value));
        }
        let (kind, rest) = split_type::<D::Error>(value)?;
        let block = match kind.as_str() {
            "text" => serde_json::from_value(rest).map(Self::Text),
            "image" => serde_json::from_value(rest).map(Self::Image),
            "document" => serde_json::from_value(rest).map(Self::Document),
            "tool_use" => serde_json::from_value(rest).map(Self::ToolUse),
            "tool_result" => serde_json::from_value(rest).map(Self::ToolResult),
            "thinking" => serde_json::from_value(rest).map(Self::Thinking),
            _ => serde_json::from_value(rest).map(Self::RedactedThinking),
        };
        block.map_err(|e| D::Error::custom(format_args!("invalid `{kind}` block: {e}")))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[expect(
    clippy::enum_variant_names,
    reason = "the variant names spell Anthropic's delta types"
)]
enum KnownDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
}

impl Serialize for BlockDelta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let known = match self {
            Self::TextDelta { text } => KnownDelta::TextDelta { text: text.clone() },
            Self::InputJsonDelta { partial_json } => KnownDelta::InputJsonDelta {
                partial_json: partial_json.clone(),
            },
            Self::ThinkingDelta { thinking } => KnownDelta::ThinkingDelta {
                thinking: thinking.clone(),
            },
            Self::SignatureDelta { signature } => KnownDelta::SignatureDelta {
                signature: signature.clone(),
            },
            Self::Other(v) => return v.serialize(serializer),
        };
        known.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BlockDelta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        if !matches!(
            kind,
            "text_delta" | "input_json_delta" | "thinking_delta" | "signature_delta"
        ) {
            return Ok(Self::Other(value));
        }
        let known: KnownDelta = serde_json::from_value(value).map_err(D::Error::custom)?;
        Ok(match known {
            KnownDelta::TextDelta { text } => Self::TextDelta { text },
            KnownDelta::InputJsonDelta { partial_json } => Self::InputJsonDelta { partial_json },
            KnownDelta::ThinkingDelta { thinking } => Self::ThinkingDelta { thinking },
            KnownDelta::SignatureDelta { signature } => Self::SignatureDelta { signature },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_round_trip_and_unknown_blocks_survive() {
        let input = json!([
            {"type": "text", "text": "hi", "citations": null},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "15 degrees", "is_error": false},
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "enc"},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
        ]);
        let blocks: Vec<ContentBlock> = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(blocks[6].kind(), "server_tool_use");
        assert!(matches!(blocks[6], ContentBlock::Other(_)));
        assert!(matches!(blocks[5], ContentBlock::RedactedThinking(_)));
        assert_eq!(serde_json::to_value(&blocks).unwrap(), input);
    }

    #[test]
    fn unknown_events_are_skipped_and_deltas_kept() {
        assert_eq!(
            StreamEvent::parse(br#"{"type": "brand_new_event"}"#).unwrap(),
            None
        );
        let e = StreamEvent::parse(
            br#"{"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": {}}}"#,
        )
        .unwrap()
        .unwrap();
        let StreamEvent::ContentBlockDelta { index, delta } = e else {
            panic!("delta expected")
        };
        assert_eq!(index, 2);
        assert!(matches!(delta, BlockDelta::Other(_)));
    }

    #[test]
    fn sse_framing_names_the_event() {
        let bytes = StreamEvent::MessageStop.to_sse().unwrap();
        assert_eq!(
            bytes,
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_vec()
        );
    }
}
