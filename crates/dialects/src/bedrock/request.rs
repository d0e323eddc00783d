//! Requests: unified (OpenAI-shaped) to Bedrock Converse and back.

use super::error::ConvertError;
use super::types::{
    ContentBlock, ConverseRequest, DocumentBlock, ImageBlock, InferenceConfig, InputSchema,
    MediaSource, Message as BedrockMessage, ReasoningContent, ReasoningText, Role, S3Location,
    SystemBlock, Tool as BedrockTool, ToolChoice as BedrockToolChoice, ToolConfig, ToolResultBlock,
    ToolResultContent, ToolSpec, ToolUseBlock,
};
use crate::anthropic::request::{MIN_THINKING_BUDGET, effort_for_budget, thinking_budget};
use asbru_schema::chat::{
    AssistantMessage, ChatRequest, Content, ContentPart, FilePart, FileRef, FunctionDefinition,
    ImagePart, ImageUrl, Message, NamedToolChoice, Nullable, ReasoningConfig, ReasoningDetail,
    ResponseFormat, Stop, StreamOptions, SystemMessage, TextPart, Tool, ToolCall, ToolChoice,
    ToolChoiceMode, ToolMessage, UserMessage, reasoning_detail_type,
};
use serde_json::{Map, Value, json};

/// `maxTokens` sent when thinking is on and the client gave no limit: Anthropic models on
/// Bedrock need room for the thinking budget *and* the answer, and 4096 is what every current
/// Claude model accepts (the same default as the Anthropic dialect).
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Top-level request fields Bedrock has and OpenAI lacks, forwarded from the unified request's
/// `extra` when a client (a Bifrost client, or the `/bedrock` route) put them there. Every other
/// unknown field is dropped: Bedrock rejects fields it does not know.
const BEDROCK_PASSTHROUGH: [&str; 6] = [
    "guardrailConfig",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
];

/// Whether a reasoning entry was signed by a provider other than Claude (Bedrock's own entries
/// are untagged; Anthropic's are tagged as Anthropic's).
fn is_foreign(detail: &ReasoningDetail) -> bool {
    crate::signature::format_of(detail).is_some_and(|f| f != crate::anthropic::REASONING_FORMAT)
}

/// Choices the conversion cannot take from the request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOptions {
    /// `maxTokens` when thinking needs one and the client set no limit.
    pub default_max_tokens: u32,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// Whether a Bedrock model id (or inference-profile id / ARN) names an Anthropic model, whose
/// thinking parameters Bedrock passes through `additionalModelRequestFields`.
pub fn is_anthropic_model(model: &str) -> bool {
    model.contains("anthropic.") || model.contains("claude")
}

/// Whether a model id names an Amazon Nova model (reasoning via `reasoningConfig`).
fn is_nova_model(model: &str) -> bool {
    model.contains("amazon.nova")
}

/// The name of the tool that carries a `json_schema` response format, if the request has one.
///
/// Converse has no structured-output parameter that works across models, so a `json_schema`
/// response format becomes a tool whose input schema is the requested schema, and the model is
/// made to call it; the tool call's input *is* the JSON answer. The response and stream
/// conversions need this name to turn that call back into message content (see
/// [`super::ResponseOptions`]).
pub fn structured_output_tool(req: &ChatRequest) -> Option<&str> {
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema, .. }) => Some(&json_schema.name),
        _ => None,
    }
}

/// Converts a unified request into a Converse request body. The model id goes in the path, not
/// the body (see [`super::converse_path`]); `req.model` must already be the provider's id.
///
/// * `system` and `developer` messages, wherever they are, become `system` text blocks, in
///   order.
/// * Tool results become `toolResult` blocks (`status: error` when `is_error`) in a user turn;
///   consecutive turns of the same Bedrock role are merged (Bedrock requires alternation), and
///   within a merged user turn the `toolResult` blocks go first, as Anthropic models require.
/// * Assistant `tool_calls` become `toolUse` blocks with the same ids; `reasoning_details` with a
///   signature become `reasoningContent.reasoningText` and encrypted ones `redactedContent`,
///   placed first, so a tool conversation can continue with thinking on. Reasoning without a
///   signature is dropped: Anthropic models reject thinking they cannot verify.
/// * Images: base64 `data:` URLs become `image.source.bytes` with the format from the media type
///   (png, jpeg, gif, webp; others are refused). `s3://` URLs become `image.source.s3Location`.
///   **http(s) URLs are refused**: Converse takes only inline bytes or S3 objects, and this
///   module does no IO to fetch them. Files with base64 data become `document` blocks. Audio is
///   refused. A text part's `cache_control` becomes a `cachePoint` block after it.
/// * `max_tokens`/`max_completion_tokens`, `temperature`, `top_p` and `stop` go to
///   `inferenceConfig`; `top_k` to `additionalModelRequestFields.top_k`.
/// * Tools become `toolConfig.tools[].toolSpec{name, description, inputSchema.json}`.
///   `tool_choice`: `auto` → `{"auto":{}}`, `required` → `{"any":{}}`, a named function →
///   `{"tool":{"name"}}`. Converse has no `none`: with `none` the tools are left out — unless the
///   conversation already holds tool calls or results, which Bedrock only accepts beside a
///   `toolConfig`; then the tools are sent with no choice (the model *may* call one).
///   `parallel_tool_calls` has no equivalent and is dropped.
/// * Reasoning, for Anthropic models: `reasoning.max_tokens` is the thinking budget when given;
///   otherwise `reasoning_effort` maps through the Anthropic dialect's budget table
///   ([`thinking_budget`]: minimal → 1024, low → 25 %, medium → 50 %, high → 80 % of
///   `maxTokens`), sent as `additionalModelRequestFields.thinking = {"type": "enabled",
///   "budget_tokens": N}`; `maxTokens` is raised when the budget needs room. For Amazon Nova
///   models the effort becomes `reasoningConfig.maxReasoningEffort`. Other models get no
///   reasoning parameter (their Converse reasoning switches differ per model).
/// * `response_format: json_schema` becomes a forced tool (see [`structured_output_tool`]);
///   `json_object` has no Converse equivalent and is dropped.
/// * Bedrock-only top-level fields in `extra` (`guardrailConfig`, `performanceConfig`, …, and
///   `additionalModelRequestFields`, merged) are forwarded. `n > 1` is refused; `user`, `seed`,
///   penalties and the other OpenAI-only parameters are dropped.
pub fn to_bedrock(
    req: &ChatRequest,
    opts: &RequestOptions,
) -> Result<ConverseRequest, ConvertError> {
    if let Some(n) = req.extra.get("n").and_then(Value::as_u64)
        && n > 1
    {
        return Err(ConvertError::Unsupported(format!("n = {n}")));
    }

    let mut system = Vec::new();
    let mut messages: Vec<BedrockMessage> = Vec::new();
    let mut has_tool_blocks = false;

    for message in &req.messages {
        match message {
            Message::System(m) | Message::Developer(m) => match &m.content {
                Content::Text(t) if t.is_empty() => {}
                Content::Text(t) => system.push(SystemBlock::Text(t.clone())),
                Content::Parts(parts) => {
                    for part in parts {
                        match part {
                            ContentPart::Text(t) if t.text.is_empty() => {}
                            ContentPart::Text(t) => {
                                system.push(SystemBlock::Text(t.text.clone()));
                                if t.extra.contains_key("cache_control") {
                                    system
                                        .push(SystemBlock::CachePoint(json!({"type": "default"})));
                                }
                            }
                            _ => {
                                return Err(ConvertError::Unsupported(
                                    "a non-text part in a system message".to_owned(),
                                ));
                            }
                        }
                    }
                }
            },
            Message::User(m) => {
                let blocks = user_blocks(&m.content)?;
                push_merged(&mut messages, Role::User, blocks);
            }
            Message::Assistant(m) => {
                let blocks = assistant_blocks(m)?;
                if blocks.is_empty() {
                    continue;
                }
                has_tool_blocks |= blocks.iter().any(|b| matches!(b, ContentBlock::ToolUse(_)));
                push_merged(&mut messages, Role::Assistant, blocks);
            }
            Message::Tool(m) => {
                has_tool_blocks = true;
                let block = ContentBlock::ToolResult(ToolResultBlock {
                    tool_use_id: m.tool_call_id.clone(),
                    content: tool_result_content(&m.content)?,
                    status: m
                        .is_error
                        .map(|e| if e { "error" } else { "success" }.to_owned()),
                    extra: Map::new(),
                });
                push_merged(&mut messages, Role::User, vec![block]);
            }
            Message::Function(_) => {
                return Err(ConvertError::Unsupported(
                    "a legacy `function` role message".to_owned(),
                ));
            }
        }
    }
    for message in &mut messages {
        if message.role == Role::User {
            // Stable: tool results keep their order, other content keeps its order after them.
            message
                .content
                .sort_by_key(|b| !matches!(b, ContentBlock::ToolResult(_)));
        }
    }

    let mut additional = match req.extra.get("additionalModelRequestFields") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    if let Some(k) = req.extra.get("top_k") {
        additional
            .entry("top_k".to_owned())
            .or_insert_with(|| k.clone());
    }

    let mut max_tokens = req.output_limit();
    reasoning_fields(req, opts, &mut max_tokens, &mut additional);

    let inference = InferenceConfig {
        max_tokens,
        temperature: req.temperature.clone(),
        top_p: req.top_p.clone(),
        stop_sequences: req.stop.as_ref().map(Stop::to_vec),
        extra: Map::new(),
    };

    let tool_config = tool_config(req, has_tool_blocks)?;

    let mut extra = Map::new();
    for key in BEDROCK_PASSTHROUGH {
        if let Some(v) = req.extra.get(key) {
            extra.insert(key.to_owned(), v.clone());
        }
    }

    Ok(ConverseRequest {
        messages,
        system: (!system.is_empty()).then_some(system),
        inference_config: (!inference.is_empty()).then_some(inference),
        tool_config,
        additional_model_request_fields: (!additional.is_empty()).then_some(additional),
        extra,
    })
}

/// The thinking (Anthropic) or reasoning (Nova) parameters, raising `maxTokens` when the budget
/// needs room.
fn reasoning_fields(
    req: &ChatRequest,
    opts: &RequestOptions,
    max_tokens: &mut Option<u32>,
    additional: &mut Map<String, Value>,
) {
    let reasoning = req.reasoning.as_ref();
    if reasoning.and_then(|r| r.enabled) == Some(false) {
        return;
    }
    let enabled = reasoning.and_then(|r| r.enabled) == Some(true);
    let explicit = reasoning.and_then(|r| r.max_tokens);
    let effort = req.effort();
    if explicit.is_none() && effort.is_none() && !enabled {
        return;
    }
    if is_anthropic_model(&req.model) {
        let mut limit = max_tokens.unwrap_or(opts.default_max_tokens);
        let budget = match explicit {
            Some(b) => b.max(MIN_THINKING_BUDGET),
            None => match thinking_budget(effort.unwrap_or("medium"), limit) {
                Some(b) => b,
                None => return,
            },
        };
        if budget >= limit {
            limit = limit.saturating_add(budget);
        }
        *max_tokens = Some(limit);
        additional.insert(
            "thinking".to_owned(),
            json!({"type": "enabled", "budget_tokens": budget}),
        );
    } else if is_nova_model(&req.model) {
        let level = match effort.unwrap_or("medium") {
            "none" => return,
            "minimal" | "low" => "low",
            "medium" => "medium",
            _ => "high",
        };
        additional.insert(
            "reasoningConfig".to_owned(),
            json!({"type": "enabled", "maxReasoningEffort": level}),
        );
    }
}

fn tool_config(
    req: &ChatRequest,
    has_tool_blocks: bool,
) -> Result<Option<ToolConfig>, ConvertError> {
    let mut tools = match &req.tools {
        Some(tools) => tools
            .iter()
            .map(tool_to_bedrock)
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let mut choice = match &req.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => {
            (!tools.is_empty()).then_some(BedrockToolChoice::Auto)
        }
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => {
            if !has_tool_blocks {
                tools.clear();
            }
            None
        }
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => Some(BedrockToolChoice::Any),
        Some(ToolChoice::Named(named)) => {
            Some(BedrockToolChoice::Tool(named.function.name.clone()))
        }
        Some(ToolChoice::Other(v)) => {
            return Err(ConvertError::Unsupported(format!("tool_choice {v}")));
        }
    };
    if let Some(ResponseFormat::JsonSchema { json_schema, .. }) = &req.response_format {
        let had_tools = !tools.is_empty();
        tools.push(BedrockTool::ToolSpec(ToolSpec {
            name: json_schema.name.clone(),
            description: Some(json_schema.description.clone().unwrap_or_else(|| {
                "Answer by calling this tool; its input is the response.".to_owned()
            })),
            input_schema: InputSchema {
                json: json_schema
                    .schema
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object"})),
            },
            extra: Map::new(),
        }));
        // Alone, the answer tool is forced. Beside the client's own tools the client's choice
        // stands (the model may call a real tool first); `none` still forces the answer.
        if !had_tools
            || matches!(
                req.tool_choice,
                Some(ToolChoice::Mode(ToolChoiceMode::None))
            )
        {
            choice = Some(BedrockToolChoice::Tool(json_schema.name.clone()));
        }
    }
    if tools.is_empty() {
        return Ok(None);
    }
    // Bedrock rejects `toolChoice` that names a tool not in `tools`; that is the client's error
    // to see, so it is passed on rather than fixed here.
    Ok(Some(ToolConfig {
        tools,
        tool_choice: choice,
        extra: Map::new(),
    }))
}

/// Appends blocks as a new turn, or to the previous turn when it has the same role.
fn push_merged(messages: &mut Vec<BedrockMessage>, role: Role, blocks: Vec<ContentBlock>) {
    if let Some(last) = messages.last_mut()
        && last.role == role
    {
        last.content.extend(blocks);
        return;
    }
    messages.push(BedrockMessage {
        role,
        content: blocks,
        extra: Map::new(),
    });
}

/// The Converse `format` of an image media type.
pub fn image_format(media_type: &str) -> Option<&'static str> {
    match media_type.to_ascii_lowercase().as_str() {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

/// The Converse `format` of a document media type.
pub fn document_format(media_type: &str) -> Option<&'static str> {
    match media_type.to_ascii_lowercase().as_str() {
        "application/pdf" => Some("pdf"),
        "text/csv" => Some("csv"),
        "application/msword" => Some("doc"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => Some("docx"),
        "application/vnd.ms-excel" => Some("xls"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => Some("xlsx"),
        "text/html" => Some("html"),
        "text/plain" => Some("txt"),
        "text/markdown" => Some("md"),
        _ => None,
    }
}

/// The media type of a Converse image or document `format` (the inverse of the two above).
pub fn media_type_of_format(format: &str) -> &'static str {
    match format {
        "png" => "image/png",
        "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "html" => "text/html",
        "txt" => "text/plain",
        "md" => "text/markdown",
        _ => "application/octet-stream",
    }
}

/// A document name Bedrock accepts: the file name without its extension, with characters other
/// than letters, digits, single spaces, hyphens, parentheses and brackets replaced by hyphens.
pub fn document_name(filename: Option<&str>, index: usize) -> String {
    let stem = filename
        .map(|f| f.rsplit_once('.').map_or(f, |(stem, _)| stem))
        .unwrap_or("");
    let mut out = String::with_capacity(stem.len());
    for c in stem.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']');
        if keep {
            out.push(c);
        } else if c.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push('-');
        }
    }
    let out = out.trim().to_owned();
    if out.is_empty() {
        format!("document-{}", index + 1)
    } else {
        out
    }
}

fn user_blocks(content: &Content) -> Result<Vec<ContentBlock>, ConvertError> {
    match content {
        Content::Text(t) => Ok(vec![ContentBlock::Text(t.clone())]),
        Content::Parts(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            let mut documents = 0;
            for part in parts {
                match part {
                    ContentPart::Text(t) => {
                        blocks.push(ContentBlock::Text(t.text.clone()));
                        if t.extra.contains_key("cache_control") {
                            blocks.push(ContentBlock::cache_point());
                        }
                    }
                    ContentPart::ImageUrl(img) => {
                        blocks.push(ContentBlock::Image(image_block(img)?))
                    }
                    ContentPart::File(f) => {
                        blocks.push(ContentBlock::Document(document_block(f, documents)?));
                        documents += 1;
                    }
                    ContentPart::InputAudio(_) => {
                        return Err(ConvertError::Unsupported("audio input".to_owned()));
                    }
                    ContentPart::Other(v) => blocks.push(other_block(v)?),
                }
            }
            Ok(blocks)
        }
    }
}

/// A part asbru does not know: forwarded when it is already a Bedrock block (a one-member
/// object such as `{"cachePoint": {…}}` or `{"video": {…}}`), refused when it is some other
/// dialect's typed part.
fn other_block(v: &Value) -> Result<ContentBlock, ConvertError> {
    match v.as_object() {
        Some(map) if map.len() == 1 && !map.contains_key("type") => {
            serde_json::from_value(v.clone()).map_err(|e| {
                ConvertError::Unsupported(format!(
                    "a content part that is not a Bedrock block ({e})"
                ))
            })
        }
        _ => {
            let kind = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
            Err(ConvertError::Unsupported(format!(
                "a `{kind}` content part"
            )))
        }
    }
}

fn image_block(img: &ImagePart) -> Result<ImageBlock, ConvertError> {
    let url = &img.image_url.url;
    if let Some((media_type, data)) = img.image_url.as_base64_data() {
        let format = image_format(media_type).ok_or_else(|| {
            ConvertError::Unsupported(format!(
                "an image of type `{media_type}` (Bedrock takes png, jpeg, gif and webp)"
            ))
        })?;
        return Ok(ImageBlock {
            format: format.to_owned(),
            source: MediaSource {
                bytes: Some(data.to_owned()),
                ..MediaSource::default()
            },
            extra: Map::new(),
        });
    }
    if url.starts_with("s3://") {
        let format = url
            .rsplit_once('.')
            .and_then(|(_, ext)| image_format(&format!("image/{ext}")))
            .ok_or_else(|| {
                ConvertError::Unsupported(format!(
                    "an S3 image whose format cannot be told from its name ({url})"
                ))
            })?;
        return Ok(ImageBlock {
            format: format.to_owned(),
            source: MediaSource {
                s3_location: Some(S3Location {
                    uri: url.clone(),
                    bucket_owner: None,
                }),
                ..MediaSource::default()
            },
            extra: Map::new(),
        });
    }
    Err(ConvertError::Unsupported(
        "an image given by URL (Converse takes only base64 data or s3:// locations; send the \
         image as a data: URL)"
            .to_owned(),
    ))
}

fn document_block(f: &FilePart, index: usize) -> Result<DocumentBlock, ConvertError> {
    let Some((media_type, data)) = f.file.as_base64_data() else {
        return Err(ConvertError::Unsupported(
            "a file part without base64 data (file ids and URLs are not supported)".to_owned(),
        ));
    };
    let format = document_format(media_type)
        .ok_or_else(|| ConvertError::Unsupported(format!("a document of type `{media_type}`")))?;
    Ok(DocumentBlock {
        format: Some(format.to_owned()),
        name: document_name(f.file.filename.as_deref(), index),
        source: MediaSource {
            bytes: Some(data.to_owned()),
            ..MediaSource::default()
        },
        extra: Map::new(),
    })
}

fn tool_result_content(content: &Content) -> Result<Vec<ToolResultContent>, ConvertError> {
    match content {
        Content::Text(t) => Ok(vec![ToolResultContent::Text(t.clone())]),
        Content::Parts(parts) => parts
            .iter()
            .map(|part| match part {
                ContentPart::Text(t) => Ok(ToolResultContent::Text(t.text.clone())),
                ContentPart::ImageUrl(img) => Ok(ToolResultContent::Image(image_block(img)?)),
                ContentPart::File(f) => Ok(ToolResultContent::Document(document_block(f, 0)?)),
                _ => Err(ConvertError::Unsupported(
                    "a tool result part other than text, image or file".to_owned(),
                )),
            })
            .collect(),
    }
}

/// An assistant turn as blocks: replayable reasoning first, then text, then tool calls.
fn assistant_blocks(m: &AssistantMessage) -> Result<Vec<ContentBlock>, ConvertError> {
    let mut blocks = Vec::new();
    for detail in m.reasoning_details.iter().flatten() {
        match detail.kind.as_str() {
            // Another provider's signed reasoning (a Gemini thought signature) would be refused.
            reasoning_detail_type::TEXT if is_foreign(detail) => {}
            reasoning_detail_type::TEXT => {
                if let Some(signature) = &detail.signature {
                    blocks.push(ContentBlock::ReasoningContent(
                        ReasoningContent::ReasoningText(ReasoningText {
                            text: detail.text.clone().unwrap_or_default(),
                            signature: Some(signature.clone()),
                            extra: Map::new(),
                        }),
                    ));
                }
            }
            reasoning_detail_type::ENCRYPTED => {
                if let Some(data) = &detail.data {
                    blocks.push(ContentBlock::ReasoningContent(
                        ReasoningContent::RedactedContent(data.clone()),
                    ));
                }
            }
            _ => {}
        }
    }
    match m.content.value() {
        Some(Content::Text(t)) if !t.is_empty() => blocks.push(ContentBlock::Text(t.clone())),
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part {
                    // Bedrock rejects blank text blocks; OpenAI clients send `""` beside tool calls.
                    ContentPart::Text(t) if t.text.is_empty() => {}
                    ContentPart::Text(t) => blocks.push(ContentBlock::Text(t.text.clone())),
                    ContentPart::Other(v) => blocks.push(other_block(v)?),
                    _ => {
                        return Err(ConvertError::Unsupported(
                            "media in an assistant message".to_owned(),
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    for call in m.tool_calls.iter().flatten() {
        blocks.push(ContentBlock::ToolUse(ToolUseBlock {
            tool_use_id: call.id.clone(),
            name: call.function.name.clone(),
            input: parse_arguments(call)?,
            extra: Map::new(),
        }));
    }
    Ok(blocks)
}

/// A tool call's arguments text as the JSON value Bedrock wants (`""` is `{}`).
pub(crate) fn parse_arguments(call: &ToolCall) -> Result<Value, ConvertError> {
    let text = call.function.arguments.trim();
    if text.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(text).map_err(|source| ConvertError::InvalidToolArguments {
        id: call.id.clone(),
        source,
    })
}

fn tool_to_bedrock(tool: &Tool) -> Result<BedrockTool, ConvertError> {
    match (&tool.function, tool.kind.as_str()) {
        (Some(f), "function") => Ok(BedrockTool::ToolSpec(ToolSpec {
            name: f.name.clone(),
            description: f.description.clone(),
            input_schema: InputSchema {
                json: f
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            },
            extra: Map::new(),
        })),
        _ => Err(ConvertError::Unsupported(format!(
            "a `{}` tool (Converse takes function tools only)",
            tool.kind
        ))),
    }
}

/// Converts a Converse request (from a client of the `/bedrock` drop-in route) into a unified
/// request for `model` (the path's `{modelId}`); `stream` tells whether it came to
/// `/converse-stream`.
///
/// The inverse of [`to_bedrock`]: `system` text blocks become one leading system message;
/// `toolResult` blocks become `tool` messages (before the rest of their user turn), their `json`
/// content serialized to text; `toolUse` blocks become `tool_calls`; `reasoningContent` becomes
/// `reasoning` + `reasoning_details` with signatures; images and documents with bytes become
/// `data:` URLs (`s3Location` images become `s3://` URLs); a `cachePoint` marks the text part
/// before it with `cache_control`. `additionalModelRequestFields.thinking.budget_tokens` becomes
/// `reasoning.max_tokens` plus the `reasoning_effort` [`effort_for_budget`] derives; the rest of
/// `additionalModelRequestFields` and the other Bedrock-only fields stay in `extra`. Streams ask
/// for usage, because ConverseStream always ends with it.
pub fn from_bedrock(
    req: &ConverseRequest,
    model: &str,
    stream: bool,
) -> Result<ChatRequest, ConvertError> {
    let mut messages = Vec::new();
    if let Some(system) = &req.system {
        let mut parts: Vec<ContentPart> = Vec::new();
        for block in system {
            match block {
                SystemBlock::Text(t) => parts.push(ContentPart::text(t.clone())),
                SystemBlock::CachePoint(_) => mark_cached(&mut parts),
                SystemBlock::Other(_) => {}
            }
        }
        let content = match parts.as_slice() {
            [ContentPart::Text(t)] if t.extra.is_empty() => Content::Text(t.text.clone()),
            _ => Content::Parts(parts),
        };
        if !matches!(&content, Content::Parts(p) if p.is_empty()) {
            messages.push(Message::System(SystemMessage {
                content,
                name: None,
                extra: Map::new(),
            }));
        }
    }

    for m in &req.messages {
        match m.role {
            Role::User => {
                let mut parts = Vec::new();
                for block in &m.content {
                    match block {
                        ContentBlock::ToolResult(r) => messages.push(Message::Tool(ToolMessage {
                            content: tool_result_to_content(&r.content),
                            tool_call_id: r.tool_use_id.clone(),
                            is_error: r.status.as_deref().map(|s| s == "error"),
                            extra: Map::new(),
                        })),
                        ContentBlock::CachePoint(_) => mark_cached(&mut parts),
                        other => parts.push(block_to_part(other)),
                    }
                }
                if !parts.is_empty() {
                    let content = match parts.as_slice() {
                        [ContentPart::Text(t)] if t.extra.is_empty() => {
                            Content::Text(t.text.clone())
                        }
                        _ => Content::Parts(parts),
                    };
                    messages.push(Message::User(UserMessage {
                        content,
                        name: None,
                        extra: Map::new(),
                    }));
                }
            }
            Role::Assistant => messages.push(Message::Assistant(assistant_from_blocks(&m.content))),
        }
    }

    let mut additional = req
        .additional_model_request_fields
        .clone()
        .unwrap_or_default();
    let thinking = additional.remove("thinking");
    let budget = thinking
        .as_ref()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("enabled"))
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64)
        .and_then(|b| u32::try_from(b).ok());
    if let (Some(t), None) = (&thinking, budget) {
        // Not a budget this mapping understands (`adaptive`, `disabled`): kept for the provider.
        additional.insert("thinking".to_owned(), t.clone());
    }
    let inference = req.inference_config.clone().unwrap_or_default();
    let max_tokens = inference.max_tokens;
    let reasoning = budget.map(|b| ReasoningConfig {
        max_tokens: Some(b),
        ..ReasoningConfig::default()
    });
    let reasoning_effort =
        budget.map(|b| effort_for_budget(b, max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)).to_owned());

    let mut tools = Vec::new();
    let mut tool_choice = None;
    if let Some(config) = &req.tool_config {
        for tool in &config.tools {
            if let BedrockTool::ToolSpec(spec) = tool {
                tools.push(Tool {
                    kind: "function".to_owned(),
                    function: Some(FunctionDefinition {
                        name: spec.name.clone(),
                        description: spec.description.clone(),
                        parameters: Some(spec.input_schema.json.clone()),
                        strict: None,
                        extra: Map::new(),
                    }),
                    extra: Map::new(),
                });
            }
        }
        tool_choice = config.tool_choice.as_ref().map(|c| match c {
            BedrockToolChoice::Auto => ToolChoice::Mode(ToolChoiceMode::Auto),
            BedrockToolChoice::Any => ToolChoice::Mode(ToolChoiceMode::Required),
            BedrockToolChoice::Tool(name) => {
                ToolChoice::Named(NamedToolChoice::function(name.clone()))
            }
        });
    }

    let mut extra = req.extra.clone();
    if !additional.is_empty() {
        extra.insert(
            "additionalModelRequestFields".to_owned(),
            Value::Object(additional),
        );
    }

    Ok(ChatRequest {
        model: model.to_owned(),
        messages,
        temperature: inference.temperature,
        top_p: inference.top_p,
        max_tokens,
        max_completion_tokens: None,
        stop: inference.stop_sequences.map(Stop::Many),
        stream: stream.then_some(true),
        stream_options: stream.then(|| StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        tool_choice: if tools.is_empty() { None } else { tool_choice },
        tools: (!tools.is_empty()).then_some(tools),
        parallel_tool_calls: None,
        // A client's own forced tool is a tool call, not a response format: the client reads
        // the `toolUse` as it would from Bedrock.
        response_format: None,
        reasoning_effort,
        reasoning,
        user: None,
        extra,
    })
}

/// Puts `cache_control` on the last text part, the part a `cachePoint` closes.
fn mark_cached(parts: &mut [ContentPart]) {
    if let Some(ContentPart::Text(t)) = parts.last_mut() {
        t.extra
            .insert("cache_control".to_owned(), json!({"type": "ephemeral"}));
    }
}

fn data_url(format: &str, data: &str) -> String {
    format!("data:{};base64,{data}", media_type_of_format(format))
}

/// A Bedrock user-content block as a unified part.
fn block_to_part(block: &ContentBlock) -> ContentPart {
    match block {
        ContentBlock::Text(t) => ContentPart::text(t.clone()),
        ContentBlock::Image(img) => {
            let url = match (&img.source.bytes, &img.source.s3_location) {
                (Some(bytes), _) => data_url(&img.format, bytes),
                (None, Some(s3)) => s3.uri.clone(),
                (None, None) => {
                    return ContentPart::Other(serde_json::to_value(block).unwrap_or(Value::Null));
                }
            };
            ContentPart::ImageUrl(ImagePart {
                image_url: ImageUrl {
                    url,
                    detail: None,
                    extra: Map::new(),
                },
                extra: Map::new(),
            })
        }
        ContentBlock::Document(doc) => match &doc.source.bytes {
            Some(bytes) => ContentPart::File(FilePart {
                file: FileRef {
                    file_data: Some(data_url(doc.format.as_deref().unwrap_or(""), bytes)),
                    file_id: None,
                    filename: Some(doc.name.clone()),
                    extra: Map::new(),
                },
                extra: Map::new(),
            }),
            None => ContentPart::Other(serde_json::to_value(block).unwrap_or(Value::Null)),
        },
        other => ContentPart::Other(serde_json::to_value(other).unwrap_or(Value::Null)),
    }
}

fn tool_result_to_content(content: &[ToolResultContent]) -> Content {
    let all_text = content
        .iter()
        .all(|c| matches!(c, ToolResultContent::Text(_) | ToolResultContent::Json(_)));
    let text_of = |c: &ToolResultContent| match c {
        ToolResultContent::Text(t) => t.clone(),
        ToolResultContent::Json(v) => serde_json::to_string(v).unwrap_or_default(),
        _ => String::new(),
    };
    if all_text {
        return Content::Text(content.iter().map(text_of).collect());
    }
    Content::Parts(
        content
            .iter()
            .map(|c| match c {
                ToolResultContent::Text(_) | ToolResultContent::Json(_) => {
                    ContentPart::Text(TextPart {
                        text: text_of(c),
                        extra: Map::new(),
                    })
                }
                ToolResultContent::Image(img) => block_to_part(&ContentBlock::Image(img.clone())),
                ToolResultContent::Document(d) => block_to_part(&ContentBlock::Document(d.clone())),
                ToolResultContent::Other(v) => ContentPart::Other(v.clone()),
            })
            .collect(),
    )
}

/// A Bedrock assistant turn (request or response content) as a unified assistant message.
pub(crate) fn assistant_from_blocks(blocks: &[ContentBlock]) -> AssistantMessage {
    let mut text = String::new();
    let mut has_text = false;
    let mut reasoning = String::new();
    let mut details = Vec::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block {
            ContentBlock::Text(t) => {
                has_text = true;
                text.push_str(t);
            }
            ContentBlock::ReasoningContent(ReasoningContent::ReasoningText(r)) => {
                reasoning.push_str(&r.text);
                // A `/bedrock` client may send back another provider's signature, wrapped.
                let (extra, signature) =
                    crate::signature::from_client(r.signature.as_deref(), Map::new());
                details.push(ReasoningDetail {
                    kind: reasoning_detail_type::TEXT.to_owned(),
                    index: Some(u32::try_from(details.len()).unwrap_or(u32::MAX)),
                    text: Some(r.text.clone()),
                    signature,
                    extra,
                    ..ReasoningDetail::default()
                });
            }
            ContentBlock::ReasoningContent(ReasoningContent::RedactedContent(data)) => {
                details.push(ReasoningDetail {
                    kind: reasoning_detail_type::ENCRYPTED.to_owned(),
                    index: Some(u32::try_from(details.len()).unwrap_or(u32::MAX)),
                    data: Some(data.clone()),
                    ..ReasoningDetail::default()
                });
            }
            ContentBlock::ToolUse(t) => tool_calls.push(ToolCall::function(
                t.tool_use_id.clone(),
                t.name.clone(),
                serde_json::to_string(&t.input).unwrap_or_else(|_| "{}".to_owned()),
            )),
            // Citations, guard content, … have no OpenAI form.
            _ => {}
        }
    }
    let has_reasoning = !details.is_empty();
    AssistantMessage {
        content: if has_text || tool_calls.is_empty() {
            Nullable::Value(Content::Text(text))
        } else {
            Nullable::Null
        },
        name: None,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        reasoning: has_reasoning.then_some(reasoning),
        reasoning_details: has_reasoning.then_some(details),
        extra: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_providers_signature_is_not_replayed_to_bedrock() {
        let message: AssistantMessage = serde_json::from_value(json!({
            "role": "assistant", "content": "ok",
            "reasoning_details": [
                {"type": "reasoning.text", "text": "gemini thought", "signature": "CiQB",
                 "format": "google-gemini-v1"},
                {"type": "reasoning.text", "text": "claude thought", "signature": "EqQB"}
            ]
        }))
        .unwrap();
        let blocks = assistant_blocks(&message).unwrap();
        let signatures: Vec<_> = blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ReasoningContent(ReasoningContent::ReasoningText(r)) => {
                    r.signature.as_deref()
                }
                _ => None,
            })
            .collect();
        assert_eq!(signatures, ["EqQB"]);
    }

    #[test]
    fn document_names_are_sanitized() {
        assert_eq!(document_name(Some("Q3 report.v2.pdf"), 0), "Q3 report-v2");
        assert_eq!(document_name(Some("a  b_c.txt"), 0), "a b-c");
        assert_eq!(document_name(None, 2), "document-3");
        assert_eq!(document_name(Some(".pdf"), 0), "document-1");
    }

    #[test]
    fn formats_map_both_ways() {
        for m in ["image/png", "image/jpeg", "image/gif", "image/webp"] {
            assert_eq!(media_type_of_format(image_format(m).unwrap()), m);
        }
        assert_eq!(image_format("image/jpg"), Some("jpeg"));
        assert_eq!(image_format("image/tiff"), None);
        assert_eq!(document_format("application/pdf"), Some("pdf"));
    }

    #[test]
    fn thinking_for_anthropic_models_only() {
        let mut req = ChatRequest::new(
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
            vec![Message::user("x")],
        );
        req.max_tokens = Some(500);
        req.reasoning_effort = Some("low".into());
        let out = to_bedrock(&req, &RequestOptions::default()).unwrap();
        let extra = out.additional_model_request_fields.unwrap();
        assert_eq!(
            extra["thinking"],
            json!({"type": "enabled", "budget_tokens": 1024})
        );
        assert_eq!(out.inference_config.unwrap().max_tokens, Some(1524));

        req.model = "meta.llama3-70b-instruct-v1:0".into();
        let out = to_bedrock(&req, &RequestOptions::default()).unwrap();
        assert!(out.additional_model_request_fields.is_none());

        req.model = "amazon.nova-pro-v1:0".into();
        let out = to_bedrock(&req, &RequestOptions::default()).unwrap();
        assert_eq!(
            out.additional_model_request_fields.unwrap()["reasoningConfig"],
            json!({"type": "enabled", "maxReasoningEffort": "low"})
        );
    }
}
