//! Requests: unified (OpenAI-shaped) to Anthropic Messages and back.

use super::error::ConvertError;
use super::types::{
    ContentBlock, InputMessage, MediaBlock, MessageContent, MessagesRequest, Metadata,
    OutputConfig, OutputFormat, RedactedThinkingBlock, Role, Source, SystemPrompt, TextBlock,
    ThinkingBlock, ThinkingConfig, Tool as AnthropicTool, ToolChoice as AnthropicToolChoice,
    ToolResultBlock, ToolUseBlock,
};
use asbru_schema::chat::{
    AssistantMessage, ChatRequest, Content, ContentPart, FilePart, FileRef, ImagePart, ImageUrl,
    JsonSchemaFormat, Message, NamedToolChoice, Nullable, ReasoningConfig, ReasoningDetail,
    ResponseFormat, Stop, StreamOptions, TextPart, Tool, ToolCall, ToolChoice, ToolChoiceMode,
    ToolMessage, UserMessage, reasoning_detail_type,
};
use serde_json::{Map, Value, json};

/// `max_tokens` sent when the client gave no limit. Anthropic requires the field; OpenAI clients
/// usually omit it. 4096 is the output limit every current Claude model supports, so no model
/// rejects it, and it is long enough for ordinary answers.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Anthropic's smallest accepted `thinking.budget_tokens` (documented: "must be ≥1024").
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// Request fields Anthropic has and OpenAI lacks, forwarded from the unified request's `extra`
/// when present (Bifrost promotes the same knobs into its neutral request). Every other unknown
/// field is dropped: Anthropic rejects fields it does not know.
const ANTHROPIC_PASSTHROUGH: [&str; 6] = [
    "container",
    "mcp_servers",
    "context_management",
    "cache_control",
    "inference_geo",
    "speed",
];

/// Choices the conversion cannot take from the request itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOptions {
    /// `max_tokens` when the client set neither `max_tokens` nor `max_completion_tokens`.
    pub default_max_tokens: u32,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// The thinking budget for an OpenAI `reasoning_effort`, as a fraction of `max_tokens` (which in
/// both dialects includes the reasoning).
///
/// | effort | budget |
/// |---|---|
/// | `minimal` | [`MIN_THINKING_BUDGET`] |
/// | `low` | 25 % of `max_tokens` |
/// | `medium` (and `reasoning.enabled` without an effort) | 50 % |
/// | `high` and any higher level | 80 % |
/// | `none` | no thinking |
///
/// A fraction rather than fixed numbers keeps the budget below `max_tokens`, which Anthropic
/// requires, and leaves the visible answer a share of the limit the client chose. The result is
/// never below [`MIN_THINKING_BUDGET`]; when that floor reaches `max_tokens`, `max_tokens` is
/// raised to budget + the client's limit so the answer keeps the room the client asked for.
pub fn thinking_budget(effort: &str, max_tokens: u32) -> Option<u32> {
    let percent: u64 = match effort {
        "none" => return None,
        "minimal" => 0,
        "low" => 25,
        "medium" => 50,
        _ => 80,
    };
    let share = u64::from(max_tokens) * percent / 100;
    let share = u32::try_from(share).unwrap_or(u32::MAX);
    Some(share.max(MIN_THINKING_BUDGET))
}

/// The `reasoning_effort` that best describes an Anthropic budget: the inverse of
/// [`thinking_budget`] (≤ 30 % of `max_tokens` is `low`, ≤ 60 % `medium`, above that `high`).
pub fn effort_for_budget(budget: u32, max_tokens: u32) -> &'static str {
    let percent = u64::from(budget) * 100 / u64::from(max_tokens.max(1));
    match percent {
        0..=30 => "low",
        31..=60 => "medium",
        _ => "high",
    }
}

/// Converts a unified request into an Anthropic Messages request.
///
/// * `system` and `developer` messages, wherever they are, are hoisted into `system`, in order.
/// * Tool results become `tool_result` blocks in a user message; consecutive messages of the same
///   Anthropic role are merged (Anthropic requires alternation), and within a merged user message
///   the `tool_result` blocks go first, as Anthropic requires.
/// * Assistant `tool_calls` become `tool_use` blocks with the same ids; `reasoning_details` with a
///   signature become `thinking` blocks and encrypted ones `redacted_thinking`, placed first, so
///   a multi-turn tool conversation can be continued with thinking on. Reasoning without a
///   signature is dropped: Anthropic rejects thinking it cannot verify.
/// * Images: `data:` URLs become base64 sources, other URLs `url` sources; `detail` is dropped.
///   Files become `document` blocks. Audio input has no Anthropic equivalent and is refused.
/// * `response_format: json_schema` becomes `output_config.format` (Anthropic's documented
///   structured outputs, generally available without a beta header). `json_object` has no
///   Anthropic equivalent (structured outputs need a schema) and is dropped.
/// * `reasoning.max_tokens` is the thinking budget when given; otherwise `reasoning_effort` maps
///   through [`thinking_budget`].
/// * `parallel_tool_calls: false` becomes `disable_parallel_tool_use` on the tool choice;
///   `tool_choice: "required"` becomes `any`.
/// * `user` becomes `metadata.user_id`. OpenAI-only parameters (`seed`, penalties, `logprobs`,
///   `stream_options`, …) are dropped; `n > 1` is refused.
pub fn to_anthropic(
    req: &ChatRequest,
    opts: &RequestOptions,
) -> Result<MessagesRequest, ConvertError> {
    if let Some(n) = req.extra.get("n").and_then(Value::as_u64)
        && n > 1
    {
        return Err(ConvertError::Unsupported(format!("n = {n}")));
    }

    let mut system_blocks: Vec<ContentBlock> = Vec::new();
    let mut system_plain: Vec<&str> = Vec::new();
    let mut system_has_extras = false;
    let mut messages: Vec<InputMessage> = Vec::new();

    for message in &req.messages {
        match message {
            Message::System(m) | Message::Developer(m) => {
                match &m.content {
                    // Anthropic rejects empty text blocks.
                    Content::Text(t) if t.is_empty() => {}
                    Content::Text(t) => {
                        system_plain.push(t);
                        system_blocks.push(ContentBlock::text(t.clone()));
                    }
                    Content::Parts(parts) => {
                        system_has_extras = true;
                        for part in parts {
                            match part {
                                ContentPart::Text(t) => system_blocks.push(text_block(t)),
                                _ => {
                                    return Err(ConvertError::Unsupported(
                                        "a non-text part in a system message".to_owned(),
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            Message::User(m) => {
                let content = user_content(&m.content)?;
                push_merged(&mut messages, Role::User, content);
            }
            Message::Assistant(m) => {
                let mut blocks = assistant_blocks(m)?;
                // A plain-text turn stays a string, as the client wrote it.
                let plain = matches!(m.content.value(), Some(Content::Text(_)))
                    && matches!(blocks.as_slice(), [ContentBlock::Text(t)] if t.extra.is_empty());
                let content = match blocks.pop() {
                    Some(ContentBlock::Text(t)) if plain => MessageContent::Text(t.text),
                    Some(last) => {
                        blocks.push(last);
                        MessageContent::Blocks(blocks)
                    }
                    None => continue,
                };
                push_merged(&mut messages, Role::Assistant, content);
            }
            Message::Tool(m) => {
                let block = ContentBlock::ToolResult(ToolResultBlock {
                    tool_use_id: m.tool_call_id.clone(),
                    content: Some(tool_result_content(&m.content)?),
                    is_error: m.is_error,
                    extra: Map::new(),
                });
                push_merged(
                    &mut messages,
                    Role::User,
                    MessageContent::Blocks(vec![block]),
                );
            }
            Message::Function(_) => {
                return Err(ConvertError::Unsupported(
                    "a legacy `function` role message".to_owned(),
                ));
            }
        }
    }
    for message in &mut messages {
        if message.role == Role::User
            && let MessageContent::Blocks(blocks) = &mut message.content
        {
            // Stable: tool results keep their order, other content keeps its order after them.
            blocks.sort_by_key(|b| !matches!(b, ContentBlock::ToolResult(_)));
        }
    }

    let system = if system_blocks.is_empty() {
        None
    } else if !system_has_extras && system_plain.len() == 1 {
        Some(SystemPrompt::Text(system_plain.concat()))
    } else {
        Some(SystemPrompt::Blocks(system_blocks))
    };

    let mut max_tokens = req.output_limit().unwrap_or(opts.default_max_tokens);
    let thinking = thinking_config(req, &mut max_tokens);

    let tools = match &req.tools {
        Some(tools) => Some(
            tools
                .iter()
                .map(tool_to_anthropic)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => None,
    };

    let mut tool_choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => Some(AnthropicToolChoice::of("none")),
        Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => Some(AnthropicToolChoice::of("auto")),
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => Some(AnthropicToolChoice::of("any")),
        Some(ToolChoice::Named(named)) => Some(AnthropicToolChoice {
            name: Some(named.function.name.clone()),
            ..AnthropicToolChoice::of("tool")
        }),
        Some(ToolChoice::Other(v)) => {
            return Err(ConvertError::Unsupported(format!("tool_choice {v}")));
        }
    };
    if req.parallel_tool_calls == Some(false) && tools.is_some() {
        let choice = tool_choice.get_or_insert_with(|| AnthropicToolChoice::of("auto"));
        if choice.kind != "none" {
            choice.disable_parallel_tool_use = Some(true);
        }
    }

    let output_config = match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema, .. }) => Some(OutputConfig {
            format: Some(OutputFormat {
                kind: "json_schema".to_owned(),
                schema: Some(
                    json_schema
                        .schema
                        .clone()
                        .unwrap_or_else(|| json!({"type": "object"})),
                ),
                extra: Map::new(),
            }),
            extra: Map::new(),
        }),
        _ => None,
    };

    let mut extra = Map::new();
    for key in ANTHROPIC_PASSTHROUGH {
        if let Some(v) = req.extra.get(key) {
            extra.insert(key.to_owned(), v.clone());
        }
    }

    Ok(MessagesRequest {
        model: req.model.clone(),
        messages,
        max_tokens,
        system,
        stop_sequences: req.stop.as_ref().map(Stop::to_vec),
        stream: req.stream,
        temperature: req.temperature.clone(),
        top_p: req.top_p.clone(),
        top_k: req
            .extra
            .get("top_k")
            .and_then(Value::as_u64)
            .and_then(|k| u32::try_from(k).ok()),
        tools,
        tool_choice,
        thinking,
        output_config,
        metadata: req.user.as_ref().map(|u| Metadata {
            user_id: Some(u.clone()),
            extra: Map::new(),
        }),
        extra,
    })
}

/// The `thinking` parameter for a request, raising `max_tokens` when the budget needs room.
fn thinking_config(req: &ChatRequest, max_tokens: &mut u32) -> Option<ThinkingConfig> {
    let reasoning = req.reasoning.as_ref();
    if reasoning.and_then(|r| r.enabled) == Some(false) {
        return None;
    }
    let budget = match reasoning.and_then(|r| r.max_tokens) {
        Some(explicit) => explicit.max(MIN_THINKING_BUDGET),
        None => match req.effort() {
            Some(effort) => thinking_budget(effort, *max_tokens)?,
            None if reasoning.and_then(|r| r.enabled) == Some(true) => {
                thinking_budget("medium", *max_tokens)?
            }
            None => return None,
        },
    };
    if budget >= *max_tokens {
        *max_tokens = max_tokens.saturating_add(budget);
    }
    Some(ThinkingConfig {
        kind: "enabled".to_owned(),
        budget_tokens: Some(budget),
        extra: Map::new(),
    })
}

/// Appends content as a new message, or to the previous one when it has the same role.
fn push_merged(messages: &mut Vec<InputMessage>, role: Role, content: MessageContent) {
    if let Some(last) = messages.last_mut()
        && last.role == role
    {
        let previous = std::mem::replace(&mut last.content, MessageContent::Blocks(Vec::new()));
        let mut blocks = previous.into_blocks();
        blocks.extend(content.into_blocks());
        last.content = MessageContent::Blocks(blocks);
        return;
    }
    messages.push(InputMessage {
        role,
        content,
        extra: Map::new(),
    });
}

fn text_block(part: &TextPart) -> ContentBlock {
    ContentBlock::Text(TextBlock {
        text: part.text.clone(),
        extra: part.extra.clone(),
    })
}

/// A user message's content: strings stay strings, parts become blocks.
fn user_content(content: &Content) -> Result<MessageContent, ConvertError> {
    match content {
        Content::Text(t) => Ok(MessageContent::Text(t.clone())),
        Content::Parts(parts) => Ok(MessageContent::Blocks(
            parts
                .iter()
                .map(part_to_block)
                .collect::<Result<Vec<_>, _>>()?,
        )),
    }
}

/// A tool result's content: a string, or text and image blocks.
fn tool_result_content(content: &Content) -> Result<MessageContent, ConvertError> {
    user_content(content)
}

fn part_to_block(part: &ContentPart) -> Result<ContentBlock, ConvertError> {
    Ok(match part {
        ContentPart::Text(t) => text_block(t),
        ContentPart::ImageUrl(img) => ContentBlock::Image(MediaBlock {
            source: match img.image_url.as_base64_data() {
                Some((media_type, data)) => Source::base64(media_type, data),
                None => Source::url(img.image_url.url.clone()),
            },
            extra: img.extra.clone(),
        }),
        ContentPart::File(f) => {
            let source = if let Some((media_type, data)) = f.file.as_base64_data() {
                Source::base64(media_type, data)
            } else if let Some(id) = &f.file.file_id {
                Source {
                    kind: "file".to_owned(),
                    media_type: None,
                    data: None,
                    url: None,
                    file_id: Some(id.clone()),
                    extra: Map::new(),
                }
            } else if let Some(url) = f.file.extra.get("file_url").and_then(Value::as_str) {
                Source::url(url)
            } else {
                return Err(ConvertError::Unsupported(
                    "a file part without base64 data, file id or URL".to_owned(),
                ));
            };
            let mut extra = f.extra.clone();
            if let Some(name) = &f.file.filename {
                extra.insert("title".to_owned(), Value::String(name.clone()));
            }
            ContentBlock::Document(MediaBlock { source, extra })
        }
        ContentPart::InputAudio(_) => {
            return Err(ConvertError::Unsupported("audio input".to_owned()));
        }
        // Not an OpenAI part asbru knows: perhaps an Anthropic block a Bifrost client sent on
        // purpose (`document`, `search_result`). Forwarded as is; Anthropic judges it.
        ContentPart::Other(v) => ContentBlock::Other(v.clone()),
    })
}

/// An assistant turn as blocks: replayable thinking first, then text, then tool calls.
fn assistant_blocks(m: &AssistantMessage) -> Result<Vec<ContentBlock>, ConvertError> {
    let mut blocks = Vec::new();
    for detail in m.reasoning_details.iter().flatten() {
        if super::is_foreign(detail) {
            continue;
        }
        match detail.kind.as_str() {
            reasoning_detail_type::TEXT => {
                if let Some(signature) = &detail.signature {
                    blocks.push(ContentBlock::Thinking(ThinkingBlock {
                        thinking: detail.text.clone().unwrap_or_default(),
                        signature: Some(signature.clone()),
                        extra: Map::new(),
                    }));
                }
            }
            reasoning_detail_type::ENCRYPTED => {
                if let Some(data) = &detail.data {
                    blocks.push(ContentBlock::RedactedThinking(RedactedThinkingBlock {
                        data: data.clone(),
                        extra: Map::new(),
                    }));
                }
            }
            _ => {}
        }
    }
    match m.content.value() {
        Some(Content::Text(t)) if !t.is_empty() => blocks.push(ContentBlock::text(t.clone())),
        Some(Content::Parts(parts)) => {
            for part in parts {
                match part {
                    // Anthropic rejects empty text blocks; OpenAI clients send `""` beside tool calls.
                    ContentPart::Text(t) if t.text.is_empty() => {}
                    ContentPart::Text(t) => blocks.push(text_block(t)),
                    ContentPart::Other(v) => blocks.push(ContentBlock::Other(v.clone())),
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
            id: call.id.clone(),
            name: call.function.name.clone(),
            input: parse_arguments(call)?,
            extra: Map::new(),
        }));
    }
    Ok(blocks)
}

/// A tool call's arguments text as the JSON object Anthropic wants (`""` is `{}`).
fn parse_arguments(call: &ToolCall) -> Result<Value, ConvertError> {
    let text = call.function.arguments.trim();
    if text.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(text).map_err(|source| ConvertError::InvalidToolArguments {
        id: call.id.clone(),
        source,
    })
}

fn tool_to_anthropic(tool: &Tool) -> Result<AnthropicTool, ConvertError> {
    match (&tool.function, tool.kind.as_str()) {
        (Some(f), "function") => {
            let mut extra = tool.extra.clone();
            if let Some(strict) = f.strict {
                extra.insert("strict".to_owned(), Value::Bool(strict));
            }
            Ok(AnthropicTool {
                kind: None,
                name: f.name.clone(),
                description: f.description.clone(),
                input_schema: Some(
                    f.parameters
                        .clone()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                ),
                extra,
            })
        }
        // Bifrost's third tool shape: an Anthropic server tool (`web_search_20250305`, …) given
        // in Anthropic's own form, `name` and parameters at the top level.
        (None, kind) if kind != "function" => {
            let mut extra = tool.extra.clone();
            let name = match extra.remove("name") {
                Some(Value::String(name)) => name,
                _ => {
                    return Err(ConvertError::Unsupported(format!(
                        "a `{kind}` tool without a name"
                    )));
                }
            };
            Ok(AnthropicTool {
                kind: Some(kind.to_owned()),
                name,
                description: None,
                input_schema: None,
                extra,
            })
        }
        _ => Err(ConvertError::Unsupported(format!(
            "a `{}` tool without a function definition",
            tool.kind
        ))),
    }
}

/// Converts an Anthropic Messages request (from a client of the `/anthropic` drop-in route) into
/// a unified request.
///
/// The inverse of [`to_anthropic`]: the system prompt becomes one leading system message;
/// `tool_result` blocks become `tool` messages (placed before the rest of their user turn, as
/// Anthropic orders them); `tool_use` blocks become `tool_calls` with the input serialized to
/// text; `thinking`/`redacted_thinking` become `reasoning` + `reasoning_details` with their
/// signatures; images and documents become `image_url` and `file` parts (base64 as `data:` URLs).
/// `thinking.budget_tokens` becomes `reasoning.max_tokens` (exact on the way back) plus the
/// `reasoning_effort` that [`effort_for_budget`] derives, for providers that only know efforts.
/// Streams ask for usage (`stream_options.include_usage`), because Anthropic streams always carry
/// it and its clients expect it. Anthropic-only fields stay in `extra`.
pub fn from_anthropic(req: &MessagesRequest) -> Result<ChatRequest, ConvertError> {
    let mut messages = Vec::new();
    match &req.system {
        Some(SystemPrompt::Text(t)) => messages.push(Message::system(t.clone())),
        Some(SystemPrompt::Blocks(blocks)) => {
            let parts = blocks.iter().map(block_to_part).collect::<Vec<_>>();
            messages.push(Message::System(asbru_schema::chat::SystemMessage {
                content: Content::Parts(parts),
                name: None,
                extra: Map::new(),
            }));
        }
        None => {}
    }

    for m in &req.messages {
        match (m.role, &m.content) {
            (Role::User, MessageContent::Text(t)) => messages.push(Message::user(t.clone())),
            (Role::User, MessageContent::Blocks(blocks)) => {
                let mut parts = Vec::new();
                for block in blocks {
                    match block {
                        ContentBlock::ToolResult(r) => messages.push(Message::Tool(ToolMessage {
                            content: match &r.content {
                                None => Content::Text(String::new()),
                                Some(MessageContent::Text(t)) => Content::Text(t.clone()),
                                Some(MessageContent::Blocks(b)) => {
                                    Content::Parts(b.iter().map(block_to_part).collect())
                                }
                            },
                            tool_call_id: r.tool_use_id.clone(),
                            is_error: r.is_error,
                            extra: Map::new(),
                        })),
                        other => parts.push(block_to_part(other)),
                    }
                }
                if !parts.is_empty() {
                    messages.push(Message::User(UserMessage {
                        content: Content::Parts(parts),
                        name: None,
                        extra: m.extra.clone(),
                    }));
                }
            }
            (Role::Assistant, content) => {
                messages.push(Message::Assistant(assistant_from_blocks(
                    &content.clone().into_blocks(),
                )));
            }
        }
    }

    let thinking_budget = req
        .thinking
        .as_ref()
        .filter(|t| t.kind == "enabled")
        .and_then(|t| t.budget_tokens);
    let reasoning = thinking_budget.map(|budget| ReasoningConfig {
        max_tokens: Some(budget),
        ..ReasoningConfig::default()
    });
    let reasoning_effort =
        thinking_budget.map(|budget| effort_for_budget(budget, req.max_tokens).to_owned());

    let tools = req
        .tools
        .as_ref()
        .map(|tools| tools.iter().map(tool_from_anthropic).collect());

    let (tool_choice, parallel_tool_calls) = match &req.tool_choice {
        None => (None, None),
        Some(c) => {
            let choice = match c.kind.as_str() {
                "none" => ToolChoice::Mode(ToolChoiceMode::None),
                "any" => ToolChoice::Mode(ToolChoiceMode::Required),
                "tool" => ToolChoice::Named(NamedToolChoice::function(
                    c.name.clone().unwrap_or_default(),
                )),
                _ => ToolChoice::Mode(ToolChoiceMode::Auto),
            };
            let parallel = c.disable_parallel_tool_use.filter(|d| *d).map(|_| false);
            (Some(choice), parallel)
        }
    };

    let response_format = req
        .output_config
        .as_ref()
        .and_then(|c| c.format.as_ref())
        .filter(|f| f.kind == "json_schema")
        .map(|f| ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "response".to_owned(),
                description: None,
                schema: f.schema.clone(),
                strict: Some(true),
                extra: Map::new(),
            },
            extra: Map::new(),
        });

    let mut extra = req.extra.clone();
    if let Some(k) = req.top_k {
        extra.insert("top_k".to_owned(), Value::from(k));
    }

    let stream = req.stream;
    Ok(ChatRequest {
        model: req.model.clone(),
        messages,
        temperature: req.temperature.clone(),
        top_p: req.top_p.clone(),
        max_tokens: Some(req.max_tokens),
        max_completion_tokens: None,
        stop: req.stop_sequences.clone().map(Stop::Many),
        stream,
        stream_options: (stream == Some(true)).then(|| StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        tools,
        tool_choice,
        parallel_tool_calls,
        response_format,
        reasoning_effort,
        reasoning,
        user: req.metadata.as_ref().and_then(|m| m.user_id.clone()),
        extra,
    })
}

/// An Anthropic assistant turn (request or response content) as a unified assistant message.
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
                text.push_str(&t.text);
            }
            ContentBlock::Thinking(t) => {
                reasoning.push_str(&t.thinking);
                let (extra, signature) = super::from_client_signature(t.signature.as_deref());
                details.push(ReasoningDetail {
                    kind: reasoning_detail_type::TEXT.to_owned(),
                    index: Some(u32::try_from(details.len()).unwrap_or(u32::MAX)),
                    text: Some(t.thinking.clone()),
                    signature,
                    extra,
                    ..ReasoningDetail::default()
                });
            }
            ContentBlock::RedactedThinking(r) => details.push(ReasoningDetail {
                kind: reasoning_detail_type::ENCRYPTED.to_owned(),
                index: Some(u32::try_from(details.len()).unwrap_or(u32::MAX)),
                data: Some(r.data.clone()),
                extra: super::tagged(),
                ..ReasoningDetail::default()
            }),
            ContentBlock::ToolUse(t) => tool_calls.push(ToolCall::function(
                t.id.clone(),
                t.name.clone(),
                serde_json::to_string(&t.input).unwrap_or_else(|_| "{}".to_owned()),
            )),
            // Server-tool blocks and other kinds have no OpenAI equivalent.
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

/// An Anthropic content block as a unified part.
fn block_to_part(block: &ContentBlock) -> ContentPart {
    match block {
        ContentBlock::Text(t) => ContentPart::Text(TextPart {
            text: t.text.clone(),
            extra: t.extra.clone(),
        }),
        ContentBlock::Image(img) => match source_as_url(&img.source) {
            Some(url) => ContentPart::ImageUrl(ImagePart {
                image_url: ImageUrl {
                    url,
                    detail: None,
                    extra: Map::new(),
                },
                extra: img.extra.clone(),
            }),
            None => ContentPart::Other(serde_json::to_value(block).unwrap_or(Value::Null)),
        },
        ContentBlock::Document(doc) => {
            let mut extra = doc.extra.clone();
            let filename = match extra.remove("title") {
                Some(Value::String(t)) => Some(t),
                _ => None,
            };
            let mut file = FileRef {
                file_data: None,
                file_id: None,
                filename,
                extra: Map::new(),
            };
            match doc.source.kind.as_str() {
                "base64" => file.file_data = source_as_url(&doc.source),
                "file" => file.file_id = doc.source.file_id.clone(),
                "url" => {
                    if let Some(url) = &doc.source.url {
                        file.extra
                            .insert("file_url".to_owned(), Value::String(url.clone()));
                    }
                }
                _ => {
                    return ContentPart::Other(serde_json::to_value(block).unwrap_or(Value::Null));
                }
            }
            ContentPart::File(FilePart { file, extra })
        }
        other => ContentPart::Other(serde_json::to_value(other).unwrap_or(Value::Null)),
    }
}

/// A base64 or URL source as the URL OpenAI parts carry.
fn source_as_url(source: &Source) -> Option<String> {
    match source.kind.as_str() {
        "base64" => Some(format!(
            "data:{};base64,{}",
            source
                .media_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
            source.data.as_deref()?
        )),
        "url" => source.url.clone(),
        _ => None,
    }
}

fn tool_from_anthropic(tool: &AnthropicTool) -> Tool {
    match tool.kind.as_deref() {
        None | Some("custom") => {
            let mut extra = tool.extra.clone();
            let strict = match extra.remove("strict") {
                Some(Value::Bool(b)) => Some(b),
                _ => None,
            };
            Tool {
                kind: "function".to_owned(),
                function: Some(asbru_schema::chat::FunctionDefinition {
                    name: tool.name.clone(),
                    description: tool.description.clone(),
                    parameters: tool.input_schema.clone(),
                    strict,
                    extra: Map::new(),
                }),
                extra,
            }
        }
        Some(kind) => {
            let mut extra = tool.extra.clone();
            extra.insert("name".to_owned(), Value::String(tool.name.clone()));
            Tool {
                kind: kind.to_owned(),
                function: None,
                extra,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_anthropic_or_untagged_thinking_is_replayed() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "ok", "reasoning_details": [
                    {"type": "reasoning.text", "text": "gemini thought", "signature": "g-sig",
                     "format": "google-gemini-v1"},
                    {"type": "reasoning.text", "text": "claude thought", "signature": "c-sig",
                     "format": "anthropic-claude-v1"},
                    {"type": "reasoning.text", "text": "untagged", "signature": "u-sig"}
                ]},
                {"role": "user", "content": "go on"}
            ]
        }))
        .unwrap();
        let out =
            serde_json::to_value(to_anthropic(&req, &RequestOptions::default()).unwrap()).unwrap();
        let sigs: Vec<&str> = out["messages"][1]["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["signature"].as_str())
            .collect();
        assert_eq!(sigs, ["c-sig", "u-sig"]);
    }

    #[test]
    fn effort_budgets_follow_the_table() {
        assert_eq!(thinking_budget("none", 4096), None);
        assert_eq!(thinking_budget("minimal", 4096), Some(MIN_THINKING_BUDGET));
        assert_eq!(thinking_budget("low", 16000), Some(4000));
        assert_eq!(thinking_budget("medium", 16000), Some(8000));
        assert_eq!(thinking_budget("high", 16000), Some(12800));
        assert_eq!(thinking_budget("xhigh", 16000), Some(12800));
        // The floor applies below 4096 * 25 %.
        assert_eq!(thinking_budget("low", 2000), Some(MIN_THINKING_BUDGET));
    }

    #[test]
    fn effort_for_budget_inverts_the_table() {
        for effort in ["low", "medium", "high"] {
            let budget = thinking_budget(effort, 20000).unwrap();
            assert_eq!(effort_for_budget(budget, 20000), effort);
        }
    }

    #[test]
    fn small_limits_grow_to_fit_the_budget() {
        let mut req = ChatRequest::new("m", vec![Message::user("x")]);
        req.max_tokens = Some(500);
        req.reasoning_effort = Some("low".into());
        let out = to_anthropic(&req, &RequestOptions::default()).unwrap();
        let thinking = out.thinking.unwrap();
        assert_eq!(thinking.budget_tokens, Some(MIN_THINKING_BUDGET));
        assert_eq!(out.max_tokens, 500 + MIN_THINKING_BUDGET);
    }

    #[test]
    fn invalid_arguments_are_refused() {
        let a = AssistantMessage {
            tool_calls: Some(vec![ToolCall::function("call_1", "f", "{not json")]),
            ..AssistantMessage::default()
        };
        let req = ChatRequest::new("m", vec![Message::user("x"), Message::Assistant(a)]);
        let err = to_anthropic(&req, &RequestOptions::default()).unwrap_err();
        assert!(matches!(err, ConvertError::InvalidToolArguments { ref id, .. } if id == "call_1"));
    }
}
