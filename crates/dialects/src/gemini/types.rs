//! Gemini API (`generativelanguage.googleapis.com/v1beta`) wire types: `generateContent` and
//! `streamGenerateContent` (each SSE `data:` is one [`GenerateContentResponse`]),
//! `embedContent`, `batchEmbedContents`, `countTokens`, the models list, and the error body.
//!
//! Written from Google's REST reference and documented examples (kept as fixtures under
//! `crates/dialects/tests/fixtures/gemini/`). Field names are the REST API's lowerCamelCase;
//! Google's JSON parser also accepts the proto's snake_case names (the docs' own curl examples
//! send `system_instruction`, `inline_data`, `mime_type`), so the fields clients are seen to spell
//! that way carry snake_case aliases. Every object keeps unknown fields in `extra`, because
//! Google adds fields (new tools, part kinds, usage details) without versioning the API.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// The body of `models/{model}:generateContent` and `:streamGenerateContent`. The model is in
/// the URL path, not the body (only nested requests, as in `countTokens`, name it here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    /// `models/{model}`; only inside `countTokens.generateContentRequest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default)]
    pub contents: Vec<Content>,
    #[serde(
        default,
        alias = "system_instruction",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_instruction: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(
        default,
        alias = "tool_config",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_config: Option<ToolConfig>,
    /// Per-category block thresholds, passed through untouched.
    #[serde(
        default,
        alias = "safety_settings",
        skip_serializing_if = "Option::is_none"
    )]
    pub safety_settings: Option<Vec<Value>>,
    #[serde(
        default,
        alias = "generation_config",
        skip_serializing_if = "Option::is_none"
    )]
    pub generation_config: Option<GenerationConfig>,
    /// `cachedContents/{id}`: a prompt prefix cached with the caching API.
    #[serde(
        default,
        alias = "cached_content",
        skip_serializing_if = "Option::is_none"
    )]
    pub cached_content: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One turn: `role` is `user` or `model` (absent means `user`, and in `systemInstruction`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Left out when empty, as Google sends a candidate that produced nothing (`"content": {}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Content {
    /// A turn of the given role.
    pub fn new(role: &str, parts: Vec<Part>) -> Self {
        Self {
            role: Some(role.to_owned()),
            parts,
            extra: Map::new(),
        }
    }
}

/// One part of a turn. Gemini's part is a protobuf `oneof` (text, inline data, file, function
/// call or response, code…) beside metadata every kind can carry (`thought`,
/// `thoughtSignature`); a struct of options models both without a tagged union, and round-trips
/// whatever combination the API sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `true` on a thought summary (only returned with `includeThoughts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// Opaque signature of the model's reasoning, to be sent back on the same part in later
    /// turns (required for function calls on Gemini 3).
    #[serde(
        default,
        alias = "thought_signature",
        skip_serializing_if = "Option::is_none"
    )]
    pub thought_signature: Option<String>,
    #[serde(
        default,
        alias = "inline_data",
        skip_serializing_if = "Option::is_none"
    )]
    pub inline_data: Option<Blob>,
    #[serde(default, alias = "file_data", skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData>,
    #[serde(
        default,
        alias = "function_call",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_call: Option<FunctionCall>,
    #[serde(
        default,
        alias = "function_response",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_response: Option<FunctionResponse>,
    /// `executableCode`, `codeExecutionResult`, `videoMetadata`, `partMetadata`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            ..Self::default()
        }
    }

    /// Whether this is a thought summary.
    pub fn is_thought(&self) -> bool {
        self.thought == Some(true)
    }
}

/// Inline bytes: base64 `data` of a `mimeType`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    #[serde(default, alias = "mime_type")]
    pub mime_type: String,
    #[serde(default)]
    pub data: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A file by URI (uploaded with the Files API, or a public http(s) URL on models that fetch).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    #[serde(default, alias = "mime_type", skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, alias = "file_uri")]
    pub file_uri: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The model asks for a function call. `args` is a JSON object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Set by newer models; a `functionResponse` answering the call repeats it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function's result, in a `user` turn; matched to its call by `name` (and `id` when the call
/// had one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    /// A JSON object; by convention `{"output": …}` or `{"error": …}`.
    #[serde(default)]
    pub response: Value,
    /// `willContinue`, `scheduling`, `parts`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool: function declarations, or one of Google's built-in tools (`googleSearch`,
/// `codeExecution`, `urlContext`, …, kept in `extra`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    #[serde(
        default,
        alias = "function_declarations",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_declarations: Option<Vec<FunctionDeclaration>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function the model may call. The arguments' schema is either `parameters` (Google's OpenAPI
/// 3.0 subset) or `parametersJsonSchema` (JSON Schema); never both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(
        default,
        alias = "parameters_json_schema",
        skip_serializing_if = "Option::is_none"
    )]
    pub parameters_json_schema: Option<Value>,
    /// `response`, `responseJsonSchema`, `behavior`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `toolConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    #[serde(
        default,
        alias = "function_calling_config",
        skip_serializing_if = "Option::is_none"
    )]
    pub function_calling_config: Option<FunctionCallingConfig>,
    /// `retrievalConfig`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `functionCallingConfig`: `mode` is `AUTO`, `ANY`, `NONE` or `VALIDATED`; with `ANY`,
/// `allowedFunctionNames` limits the functions the model may call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(
        default,
        alias = "allowed_function_names",
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_function_names: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `generationConfig`. Numbers that clients write as they please (`temperature: 1`) are kept as
/// [`Number`] so they are not respelled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    #[serde(
        default,
        alias = "stop_sequences",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_sequences: Option<Vec<String>>,
    /// `text/plain` (default), `application/json`, `text/x.enum`.
    #[serde(
        default,
        alias = "response_mime_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_mime_type: Option<String>,
    /// The answer's schema in Google's OpenAPI subset.
    #[serde(
        default,
        alias = "response_schema",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_schema: Option<Value>,
    /// The answer's schema as JSON Schema (alternative to `responseSchema`).
    #[serde(
        default,
        alias = "response_json_schema",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_json_schema: Option<Value>,
    #[serde(
        default,
        alias = "candidate_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub candidate_count: Option<u32>,
    /// Includes thinking tokens on thinking models.
    #[serde(
        default,
        alias = "max_output_tokens",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(default, alias = "top_p", skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    #[serde(default, alias = "top_k", skip_serializing_if = "Option::is_none")]
    pub top_k: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(
        default,
        alias = "presence_penalty",
        skip_serializing_if = "Option::is_none"
    )]
    pub presence_penalty: Option<Number>,
    #[serde(
        default,
        alias = "frequency_penalty",
        skip_serializing_if = "Option::is_none"
    )]
    pub frequency_penalty: Option<Number>,
    #[serde(
        default,
        alias = "thinking_config",
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_config: Option<ThinkingConfig>,
    /// `responseLogprobs`, `logprobs`, `responseModalities`, `speechConfig`, `mediaResolution`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `thinkingConfig`: a token budget (Gemini 2.5; `-1` lets the model decide, `0` turns thinking
/// off where the model allows) or a level (Gemini 3: `minimal`, `low`, `medium`, `high`), and
/// whether thought summaries come back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    #[serde(
        default,
        alias = "include_thoughts",
        skip_serializing_if = "Option::is_none"
    )]
    pub include_thoughts: Option<bool>,
    #[serde(
        default,
        alias = "thinking_budget",
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_budget: Option<i32>,
    #[serde(
        default,
        alias = "thinking_level",
        skip_serializing_if = "Option::is_none"
    )]
    pub thinking_level: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `generateContent` answer, and each chunk of a stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// Set when the prompt itself was blocked (then there are no candidates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// `createTime`, `modelStatus`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One generated alternative.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// Absent when generation stopped before any output (a safety block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// `STOP`, `MAX_TOKENS`, `SAFETY`, `RECITATION`, `LANGUAGE`, `OTHER`, `BLOCKLIST`,
    /// `PROHIBITED_CONTENT`, `SPII`, `MALFORMED_FUNCTION_CALL`, `IMAGE_SAFETY`,
    /// `UNEXPECTED_TOOL_CALL`, `TOO_MANY_TOOL_CALLS`, …; absent until the last stream chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// Google leaves `index` out for candidate 0 in some answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// Why generation stopped, in words (with `MALFORMED_FUNCTION_CALL`, the bad call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_message: Option<String>,
    /// `safetyRatings`, `citationMetadata`, `groundingMetadata`, `avgLogprobs`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `promptFeedback`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    /// `SAFETY`, `OTHER`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `IMAGE_SAFETY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `usageMetadata`. `promptTokenCount` includes cached tokens; `candidatesTokenCount` excludes
/// thinking, which is `thoughtsTokenCount`; `totalTokenCount` adds all of them (and tool-use
/// prompt tokens).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_prompt_token_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_token_count: Option<u64>,
    /// `promptTokensDetails`, `candidatesTokensDetails`, `trafficType`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `models/{model}:embedContent`, and each entry of `batchEmbedContents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentRequest {
    /// `models/{model}`: optional on `embedContent`, required in each batch entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub content: Content,
    /// `RETRIEVAL_QUERY`, `RETRIEVAL_DOCUMENT`, `SEMANTIC_SIMILARITY`, `CLASSIFICATION`, …
    #[serde(default, alias = "task_type", skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(
        default,
        alias = "output_dimensionality",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_dimensionality: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of `embedContent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbedContentResponse {
    pub embedding: ContentEmbedding,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One embedding vector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentEmbedding {
    #[serde(default)]
    pub values: Vec<f64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `models/{model}:batchEmbedContents`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchEmbedContentsRequest {
    pub requests: Vec<EmbedContentRequest>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of `batchEmbedContents`, in request order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchEmbedContentsResponse {
    #[serde(default)]
    pub embeddings: Vec<ContentEmbedding>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `models/{model}:countTokens`: bare `contents`, or a whole
/// `generateContentRequest` (which then counts tools and system instruction too).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<Vec<Content>>,
    #[serde(
        default,
        alias = "generate_content_request",
        skip_serializing_if = "Option::is_none"
    )]
    pub generate_content_request: Option<GenerateContentRequest>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of `countTokens`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountTokensResponse {
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    /// `promptTokensDetails`, `cacheTokensDetails`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A model as `GET models` lists it; `name` is `models/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_token_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_token_limit: Option<u64>,
    /// `generateContent`, `countTokens`, `embedContent`, `batchEmbedContents`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_generation_methods: Option<Vec<String>>,
    /// `temperature`, `maxTemperature`, `topP`, `topK`, `thinking`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of `GET models`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListModelsResponse {
    #[serde(default)]
    pub models: Vec<Model>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Google's error body, `{"error": {"code", "message", "status", "details"}}`, used by every
/// Google API; `status` is the `google.rpc.Code` name (`INVALID_ARGUMENT`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorStatus,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `error` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorStatus {
    /// The HTTP status.
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
    /// `google.rpc.BadRequest`, `ErrorInfo`, `RetryInfo`, … each tagged by `@type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<Value>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What one `data:` payload of a Gemini stream holds: a response chunk, or (after the 200 has
/// been sent) an error object.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamPayload {
    Chunk(Box<GenerateContentResponse>),
    Error(ErrorStatus),
}

impl StreamPayload {
    /// Parses one `data:` payload.
    pub fn parse(data: &[u8]) -> Result<Self, serde_json::Error> {
        let value: Value = serde_json::from_slice(data)?;
        if value.get("error").is_some_and(Value::is_object) {
            let body: ErrorBody = serde_json::from_value(value)?;
            return Ok(Self::Error(body.error));
        }
        serde_json::from_value(value).map(|c| Self::Chunk(Box::new(c)))
    }
}

impl GenerateContentResponse {
    /// The chunk framed for a `?alt=sse` stream: `data: <json>\r\n\r\n`, with the CRLF line ends
    /// Google's servers send.
    pub fn to_sse(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"data: ");
        serde_json::to_writer(&mut out, self)?;
        out.extend_from_slice(b"\r\n\r\n");
        Ok(out)
    }
}

/// The `data:` payload of one SSE frame (lines joined with `\n`), or `None` for a frame without
/// data (comments, keep-alives).
pub fn sse_data(frame: &[u8]) -> Option<Vec<u8>> {
    let mut data: Vec<u8> = Vec::new();
    let mut has_data = false;
    for line in frame.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            if has_data {
                data.push(b'\n');
            }
            data.extend_from_slice(rest.strip_prefix(b" ").unwrap_or(rest));
            has_data = true;
        }
    }
    has_data.then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_round_trip_with_unknown_kinds() {
        let input = json!([
            {"text": "hi"},
            {"text": "hmm", "thought": true, "thoughtSignature": "c2ln"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},
            {"fileData": {"mimeType": "application/pdf", "fileUri": "https://x/y.pdf"}},
            {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"},
            {"functionResponse": {"name": "f", "response": {"output": 2}}},
            {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
        ]);
        let parts: Vec<Part> = serde_json::from_value(input.clone()).unwrap();
        assert!(parts[1].is_thought());
        assert!(parts[6].extra.contains_key("executableCode"));
        assert_eq!(serde_json::to_value(&parts).unwrap(), input);
    }

    #[test]
    fn snake_case_spellings_are_accepted() {
        let r: GenerateContentRequest = serde_json::from_value(json!({
            "system_instruction": {"parts": [{"text": "be brief"}]},
            "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/jpeg", "data": "AA"}}]}],
            "generation_config": {"max_output_tokens": 5, "thinking_config": {"thinking_budget": 0}}
        }))
        .unwrap();
        assert!(r.system_instruction.is_some());
        let blob = r.contents[0].parts[0].inline_data.as_ref().unwrap();
        assert_eq!(blob.mime_type, "image/jpeg");
        let config = r.generation_config.unwrap();
        assert_eq!(config.max_output_tokens, Some(5));
        assert_eq!(config.thinking_config.unwrap().thinking_budget, Some(0));
    }

    #[test]
    fn stream_payloads() {
        let chunk =
            StreamPayload::parse(br#"{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}"#)
                .unwrap();
        assert!(matches!(chunk, StreamPayload::Chunk(_)));
        let err = StreamPayload::parse(
            br#"{"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}"#,
        )
        .unwrap();
        assert!(matches!(err, StreamPayload::Error(e) if e.status == "UNAVAILABLE"));
        assert_eq!(
            sse_data(b"data: {\"a\":1}\r\n\r\n"),
            Some(b"{\"a\":1}".to_vec())
        );
        assert_eq!(sse_data(b": keep-alive\n\n"), None);
    }
}
