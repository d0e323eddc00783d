//! Bedrock Converse wire types (`POST /model/{modelId}/converse` and `/converse-stream`), the
//! stream events, and the error body.
//!
//! Written from the Bedrock API reference (`API_runtime_Converse`, `API_runtime_ConverseStream`,
//! `API_runtime_ContentBlock`, `API_runtime_ConverseStreamOutput`) and its documented examples,
//! kept as fixtures under `crates/dialects/tests/fixtures/bedrock/`.
//!
//! Bedrock's unions (a content block, a tool choice, a delta) are JSON objects with exactly one
//! member whose *name* says the kind (`{"text": …}`, `{"toolUse": {…}}`), not a `type` tag. The
//! enums here read and write that shape. As everywhere in asbru, objects keep unknown fields in
//! `extra` and unknown union members whole in `Other`: AWS adds members regularly, and stream
//! events carry a random-length `p` padding field that must be tolerated.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// A Converse or ConverseStream request body. The model id is not in the body: it is the
/// `{modelId}` of the path (see [`super::converse_path`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest {
    /// Optional in the API only for prompt-management resources; chat requests always carry it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Vec<SystemBlock>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_config: Option<InferenceConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    /// Model-specific parameters (Anthropic's `thinking`, `top_k`, …), passed to the model as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Map<String, Value>>,
    /// `guardrailConfig`, `promptVariables`, `additionalModelResponseFieldPaths`,
    /// `requestMetadata`, `performanceConfig`, `serviceTier`, … kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who speaks a message: Bedrock has only these two (system prompts are top-level, tool results
/// are user content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One conversation turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentBlock>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A member of the `ContentBlock` union.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentBlock {
    Text(String),
    Image(ImageBlock),
    Document(DocumentBlock),
    ToolUse(ToolUseBlock),
    ToolResult(ToolResultBlock),
    ReasoningContent(ReasoningContent),
    /// `{"cachePoint": {"type": "default"}}`: a prompt-cache checkpoint after the preceding
    /// blocks.
    CachePoint(Value),
    /// `guardContent`, `video`, `citationsContent`, `searchResult`, … exactly as they came
    /// (the whole one-member object).
    Other(Value),
}

impl ContentBlock {
    /// The union member name, as Bedrock spells it.
    pub fn kind(&self) -> &str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Document(_) => "document",
            Self::ToolUse(_) => "toolUse",
            Self::ToolResult(_) => "toolResult",
            Self::ReasoningContent(_) => "reasoningContent",
            Self::CachePoint(_) => "cachePoint",
            Self::Other(v) => v
                .as_object()
                .and_then(|m| m.keys().next())
                .map_or("", String::as_str),
        }
    }

    /// A default cache point.
    pub fn cache_point() -> Self {
        Self::CachePoint(serde_json::json!({"type": "default"}))
    }
}

/// `{"image": {"format", "source": {"bytes" | "s3Location"}}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: String,
    pub source: MediaSource,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"document": {"format", "name", "source"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentBlock {
    /// `pdf`, `csv`, `doc`, `docx`, `xls`, `xlsx`, `html`, `txt` or `md`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Required by Bedrock; only letters, digits, spaces, hyphens, parentheses and brackets.
    pub name: String,
    pub source: MediaSource,
    /// `context`, `citations`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where an image or document's bytes are. The HTTP API carries blobs as base64 text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSource {
    /// Base64 of the raw bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// `{"uri": "s3://bucket/key", "bucketOwner"?}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_location: Option<S3Location>,
    /// `text`, `content` (documents), …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An object in S3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_owner: Option<String>,
}

/// The model calls a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseBlock {
    pub tool_use_id: String,
    pub name: String,
    /// The arguments as a JSON value (an object for every documented model).
    pub input: Value,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool's result, in a user turn, answering the `toolUse` with the same id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResultBlock {
    pub tool_use_id: String,
    pub content: Vec<ToolResultContent>,
    /// `success` or `error` (only some models, Anthropic's among them, read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A member of the `ToolResultContentBlock` union.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolResultContent {
    Text(String),
    Json(Value),
    Image(ImageBlock),
    Document(DocumentBlock),
    /// `video`, `searchResult`, … as they came.
    Other(Value),
}

/// The `ReasoningContentBlock` union: reasoning text with its signature, or encrypted reasoning.
#[derive(Debug, Clone, PartialEq)]
pub enum ReasoningContent {
    ReasoningText(ReasoningText),
    /// Base64 of reasoning the provider encrypted for safety; must be sent back unchanged.
    RedactedContent(String),
    Other(Value),
}

/// `{"text", "signature"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningText {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A member of the `SystemContentBlock` union.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemBlock {
    Text(String),
    CachePoint(Value),
    /// `guardContent`, … as they came.
    Other(Value),
}

/// `inferenceConfig`: the parameters every model shares.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Kept as a JSON number so `1` is not rewritten as `1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InferenceConfig {
    /// True when no field is set, so the whole object can be left out.
    pub fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_none()
            && self.extra.is_empty()
    }
}

/// `toolConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    pub tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A member of the `Tool` union.
#[derive(Debug, Clone, PartialEq)]
pub enum Tool {
    ToolSpec(ToolSpec),
    /// `cachePoint`, `systemTool`, … as they came.
    Other(Value),
}

/// A client tool's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub input_schema: InputSchema,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"json": <JSON Schema>}` (the `ToolInputSchema` union has only this member).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSchema {
    pub json: Value,
}

/// The `ToolChoice` union.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolChoice {
    /// `{"auto": {}}`: the model decides.
    Auto,
    /// `{"any": {}}`: the model must call some tool.
    Any,
    /// `{"tool": {"name"}}`: the model must call this tool.
    Tool(String),
}

/// A Converse response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    pub output: ConverseOutput,
    pub stop_reason: String,
    /// Always sent by Bedrock; optional here because documented excerpts leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_response_fields: Option<Value>,
    /// `trace`, `performanceConfig`, `serviceTier`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `ConverseOutput` union; `message` is its only member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConverseOutput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Token counts. `inputTokens` does not include the tokens read from or written to the prompt
/// cache, which are reported apart (as Anthropic does).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_input_tokens: Option<u64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The JSON body of every Bedrock error: `{"message": …}`. The error's *type* is not in the body
/// but in the `x-amzn-errortype` header (see [`super::error`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Bedrock spells it `message`; some AWS front ends answer `Message`.
    #[serde(alias = "Message")]
    pub message: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---- stream events ----------------------------------------------------------------------------

/// One ConverseStream event: the `:event-type` (or `:exception-type`) header of an event-stream
/// message and its JSON payload.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    MessageStart(MessageStartEvent),
    ContentBlockStart(ContentBlockStartEvent),
    ContentBlockDelta(ContentBlockDeltaEvent),
    ContentBlockStop(ContentBlockStopEvent),
    MessageStop(MessageStopEvent),
    Metadata(MetadataEvent),
    /// An exception message (`:message-type: exception`), or an `error` message with
    /// `:error-code`/`:error-message` headers.
    Exception(StreamException),
    /// An event type this module does not know; its payload as it came.
    Unknown {
        event_type: String,
        payload: Value,
    },
}

impl StreamEvent {
    /// The `:event-type` (or `:exception-type`) header value.
    pub fn event_type(&self) -> &str {
        match self {
            Self::MessageStart(_) => "messageStart",
            Self::ContentBlockStart(_) => "contentBlockStart",
            Self::ContentBlockDelta(_) => "contentBlockDelta",
            Self::ContentBlockStop(_) => "contentBlockStop",
            Self::MessageStop(_) => "messageStop",
            Self::Metadata(_) => "metadata",
            Self::Exception(e) => &e.kind,
            Self::Unknown { event_type, .. } => event_type,
        }
    }
}

/// `messageStart`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageStartEvent {
    pub role: Role,
    /// `p` (padding), …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `contentBlockStart`: only tool-use (and a few newer kinds of) blocks are announced; text and
/// reasoning blocks begin with their first delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStartEvent {
    pub start: BlockStart,
    pub content_block_index: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `ContentBlockStart` union.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockStart {
    ToolUse(ToolUseStart),
    Other(Value),
}

/// `{"toolUseId", "name"}` of a starting tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUseStart {
    pub tool_use_id: String,
    pub name: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `contentBlockDelta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockDeltaEvent {
    pub delta: BlockDelta,
    pub content_block_index: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `ContentBlockDelta` union.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockDelta {
    Text(String),
    /// A fragment of the tool call's input JSON text.
    ToolUse {
        input: String,
    },
    ReasoningContent(ReasoningDelta),
    /// `citation`, `image`, … as they came.
    Other(Value),
}

/// The `ReasoningContentBlockDelta` union.
#[derive(Debug, Clone, PartialEq)]
pub enum ReasoningDelta {
    Text(String),
    Signature(String),
    RedactedContent(String),
    Other(Value),
}

/// `contentBlockStop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentBlockStopEvent {
    pub content_block_index: u32,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `messageStop`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageStopEvent {
    pub stop_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_model_response_fields: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `metadata`: usage and latency, after `messageStop`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataEvent {
    #[serde(default)]
    pub usage: TokenUsage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// `trace`, `performanceConfig`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An exception inside a stream: its type (`throttlingException`, …) and message.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamException {
    /// The `:exception-type` header (lower camel case, as the stream spells it) or, for an
    /// `error` message, the `:error-code` header.
    pub kind: String,
    pub message: String,
    /// `originalStatusCode`, `originalMessage` (`modelStreamErrorException`), …
    pub extra: Map<String, Value>,
}

// ---- union (de)serialization ------------------------------------------------------------------

/// Splits a union object into its one member name and value.
fn single_member<E: serde::de::Error>(value: Value, what: &str) -> Result<(String, Value), E> {
    let Value::Object(map) = value else {
        return Err(E::custom(format_args!("{what} must be an object")));
    };
    if map.len() != 1 {
        // Bedrock's union members are exclusive; more than one is a malformed block.
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        return Err(E::custom(format_args!(
            "{what} must have exactly one member, got {keys:?}"
        )));
    }
    let mut iter = map.into_iter();
    match iter.next() {
        Some(pair) => Ok(pair),
        None => Err(E::custom(format_args!("{what} is empty"))),
    }
}

fn member(name: &str, value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert(name.to_owned(), value);
    Value::Object(map)
}

fn to_value<T: Serialize, E: serde::ser::Error>(v: &T) -> Result<Value, E> {
    serde_json::to_value(v).map_err(E::custom)
}

fn from_value<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    v: Value,
    what: &str,
) -> Result<T, E> {
    serde_json::from_value(v).map_err(|e| E::custom(format_args!("invalid `{what}`: {e}")))
}

impl Serialize for ContentBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::Text(t) => member("text", Value::String(t.clone())),
            Self::Image(b) => member("image", to_value(b)?),
            Self::Document(b) => member("document", to_value(b)?),
            Self::ToolUse(b) => member("toolUse", to_value(b)?),
            Self::ToolResult(b) => member("toolResult", to_value(b)?),
            Self::ReasoningContent(r) => member("reasoningContent", to_value(r)?),
            Self::CachePoint(v) => member("cachePoint", v.clone()),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "a content block")?;
        Ok(match name.as_str() {
            "text" => match inner {
                Value::String(s) => Self::Text(s),
                _ => return Err(D::Error::custom("`text` must be a string")),
            },
            "image" => Self::Image(from_value(inner, "image")?),
            "document" => Self::Document(from_value(inner, "document")?),
            "toolUse" => Self::ToolUse(from_value(inner, "toolUse")?),
            "toolResult" => Self::ToolResult(from_value(inner, "toolResult")?),
            "reasoningContent" => Self::ReasoningContent(from_value(inner, "reasoningContent")?),
            "cachePoint" => Self::CachePoint(inner),
            _ => Self::Other(member(&name, inner)),
        })
    }
}

impl Serialize for ToolResultContent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::Text(t) => member("text", Value::String(t.clone())),
            Self::Json(j) => member("json", j.clone()),
            Self::Image(b) => member("image", to_value(b)?),
            Self::Document(b) => member("document", to_value(b)?),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ToolResultContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "a tool result content block")?;
        Ok(match name.as_str() {
            "text" => match inner {
                Value::String(s) => Self::Text(s),
                _ => return Err(D::Error::custom("`text` must be a string")),
            },
            "json" => Self::Json(inner),
            "image" => Self::Image(from_value(inner, "image")?),
            "document" => Self::Document(from_value(inner, "document")?),
            _ => Self::Other(member(&name, inner)),
        })
    }
}

impl Serialize for ReasoningContent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::ReasoningText(t) => member("reasoningText", to_value(t)?),
            Self::RedactedContent(d) => member("redactedContent", Value::String(d.clone())),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ReasoningContent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "reasoningContent")?;
        Ok(match name.as_str() {
            "reasoningText" => Self::ReasoningText(from_value(inner, "reasoningText")?),
            "redactedContent" => match inner {
                Value::String(s) => Self::RedactedContent(s),
                _ => return Err(D::Error::custom("`redactedContent` must be a string")),
            },
            _ => Self::Other(member(&name, inner)),
        })
    }
}

impl Serialize for SystemBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::Text(t) => member("text", Value::String(t.clone())),
            Self::CachePoint(v) => member("cachePoint", v.clone()),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SystemBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "a system block")?;
        Ok(match name.as_str() {
            "text" => match inner {
                Value::String(s) => Self::Text(s),
                _ => return Err(D::Error::custom("`text` must be a string")),
            },
            "cachePoint" => Self::CachePoint(inner),
            _ => Self::Other(member(&name, inner)),
        })
    }
}

impl Serialize for Tool {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::ToolSpec(t) => member("toolSpec", to_value(t)?),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Tool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "a tool")?;
        Ok(match name.as_str() {
            "toolSpec" => Self::ToolSpec(from_value(inner, "toolSpec")?),
            _ => Self::Other(member(&name, inner)),
        })
    }
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::Auto => member("auto", Value::Object(Map::new())),
            Self::Any => member("any", Value::Object(Map::new())),
            Self::Tool(name) => member("tool", member("name", Value::String(name.clone()))),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "toolChoice")?;
        match name.as_str() {
            "auto" => Ok(Self::Auto),
            "any" => Ok(Self::Any),
            "tool" => match inner.get("name").and_then(Value::as_str) {
                Some(n) => Ok(Self::Tool(n.to_owned())),
                None => Err(D::Error::custom("`toolChoice.tool` needs a `name`")),
            },
            other => Err(D::Error::custom(format_args!(
                "unknown toolChoice `{other}` (expected auto, any or tool)"
            ))),
        }
    }
}

impl Serialize for BlockStart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::ToolUse(t) => member("toolUse", to_value(t)?),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BlockStart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "a block start")?;
        Ok(match name.as_str() {
            "toolUse" => Self::ToolUse(from_value(inner, "toolUse")?),
            _ => Self::Other(member(&name, inner)),
        })
    }
}

impl Serialize for BlockDelta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::Text(t) => member("text", Value::String(t.clone())),
            Self::ToolUse { input } => member("toolUse", member("input", input.clone().into())),
            Self::ReasoningContent(r) => member("reasoningContent", to_value(r)?),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BlockDelta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "a block delta")?;
        Ok(match name.as_str() {
            "text" => match inner {
                Value::String(s) => Self::Text(s),
                _ => return Err(D::Error::custom("`text` must be a string")),
            },
            "toolUse" => match inner.get("input") {
                Some(Value::String(s)) => Self::ToolUse { input: s.clone() },
                _ => return Err(D::Error::custom("`toolUse.input` must be a string")),
            },
            "reasoningContent" => Self::ReasoningContent(from_value(inner, "reasoningContent")?),
            _ => Self::Other(member(&name, inner)),
        })
    }
}

impl Serialize for ReasoningDelta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = match self {
            Self::Text(t) => member("text", Value::String(t.clone())),
            Self::Signature(s) => member("signature", Value::String(s.clone())),
            Self::RedactedContent(d) => member("redactedContent", Value::String(d.clone())),
            Self::Other(v) => v.clone(),
        };
        v.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ReasoningDelta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let (name, inner) = single_member::<D::Error>(value, "a reasoning delta")?;
        let text = |inner: Value| match inner {
            Value::String(s) => Ok(s),
            _ => Err(D::Error::custom(format_args!("`{name}` must be a string"))),
        };
        Ok(match name.as_str() {
            "text" => Self::Text(text(inner)?),
            "signature" => Self::Signature(text(inner)?),
            "redactedContent" => Self::RedactedContent(text(inner)?),
            _ => Self::Other(member(&name, inner)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unions_round_trip_and_unknown_members_survive() {
        let blocks = json!([
            {"text": "hi"},
            {"image": {"format": "png", "source": {"bytes": "iVBOR"}}},
            {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}},
            {"toolResult": {"toolUseId": "t1", "content": [{"json": {"x": 1}}, {"text": "ok"}], "status": "success"}},
            {"reasoningContent": {"reasoningText": {"text": "hm", "signature": "sig"}}},
            {"reasoningContent": {"redactedContent": "ZW5j"}},
            {"cachePoint": {"type": "default"}},
            {"guardContent": {"text": {"text": "x"}}}
        ]);
        let parsed: Vec<ContentBlock> = serde_json::from_value(blocks.clone()).unwrap();
        assert_eq!(parsed[0], ContentBlock::Text("hi".into()));
        assert_eq!(parsed[7].kind(), "guardContent");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), blocks);
    }

    #[test]
    fn two_members_are_an_error() {
        let r: Result<ContentBlock, _> = serde_json::from_value(json!({"text": "a", "image": {}}));
        assert!(r.is_err());
        let r: Result<ToolChoice, _> = serde_json::from_value(json!({"none": {}}));
        assert!(r.is_err());
    }

    #[test]
    fn tool_choice_forms() {
        for (json, choice) in [
            (json!({"auto": {}}), ToolChoice::Auto),
            (json!({"any": {}}), ToolChoice::Any),
            (json!({"tool": {"name": "f"}}), ToolChoice::Tool("f".into())),
        ] {
            assert_eq!(
                serde_json::from_value::<ToolChoice>(json.clone()).unwrap(),
                choice
            );
            assert_eq!(serde_json::to_value(&choice).unwrap(), json);
        }
    }
}
