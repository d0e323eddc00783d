//! Validation of `POST /v1/messages` and `POST /v1/messages/count_tokens` bodies, refusing what
//! the real API refuses with the messages it gives (`path: problem`, paths dotted with indexes
//! as in `messages.2.content.0`), and the input-token accounting both answers share.

use super::AnthropicError;
use crate::state::count_words;
use serde_json::{Map, Value};

/// Top-level fields `POST /v1/messages` accepts (the API reference's body parameters); any other
/// is refused as the API refuses extra inputs.
const MESSAGE_FIELDS: [&str; 20] = [
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "context_management",
    "mcp_servers",
    "output_config",
    "output_format",
    "inference_geo",
];

/// Top-level fields `POST /v1/messages/count_tokens` accepts: no `max_tokens`, no sampling.
const COUNT_FIELDS: [&str; 10] = [
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "context_management",
    "mcp_servers",
    "output_config",
    "output_format",
];

/// Content block types the API knows; those past `tool_result` are server-tool results and
/// other blocks the mock accepts without looking inside.
const BLOCK_TYPES: [&str; 17] = [
    "text",
    "image",
    "document",
    "search_result",
    "thinking",
    "redacted_thinking",
    "tool_use",
    "tool_result",
    "server_tool_use",
    "web_search_tool_result",
    "web_fetch_tool_result",
    "code_execution_tool_result",
    "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result",
    "mcp_tool_use",
    "mcp_tool_result",
    "container_upload",
];

const IMAGE_MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The documented minimum of `thinking.budget_tokens`.
pub(crate) const MIN_THINKING_BUDGET: u64 = 1024;

/// The most `cache_control` breakpoints one request may carry.
const MAX_CACHE_BREAKPOINTS: usize = 4;

/// What an image or a non-text document costs in the mock's token accounting: any fixed value
/// serves, as long as both routes agree.
const MEDIA_TOKENS: u64 = 100;

/// In a user message's text, asks the mock to fail with this error type: a non-streaming
/// request gets it as an HTTP error, a stream gets it as an `event: error` frame after the first
/// text delta. The only way to script a mid-stream error, since it travels through a gateway
/// inside the conversation.
pub(crate) const ERROR_DIRECTIVE: &str = "asbru-mock:error=";

/// A validated request: what the answer depends on.
pub(crate) struct MessagesRequest<'a> {
    pub(crate) model: &'a str,
    /// Absent for `count_tokens`, which has none.
    pub(crate) max_tokens: Option<u64>,
    pub(crate) stream: bool,
    pub(crate) tools: Vec<Tool<'a>>,
    pub(crate) tool_choice: ToolChoice<'a>,
    pub(crate) thinking: bool,
    pub(crate) stop_sequences: Vec<&'a str>,
    pub(crate) input: InputTokens,
    /// The last message is a user turn carrying `tool_result` blocks: the client is answering a
    /// tool call, so the mock answers in text rather than calling a tool again.
    pub(crate) answers_tool_result: bool,
    /// The error the last user turn asks for with [`ERROR_DIRECTIVE`].
    pub(crate) fail_with: Option<AnthropicError>,
}

/// A tool the request offers. Server and versioned client tools carry no `input_schema`; the mock
/// only ever calls custom tools.
pub(crate) struct Tool<'a> {
    pub(crate) name: &'a str,
    pub(crate) input_schema: Option<&'a Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ToolChoice<'a> {
    Auto,
    Any,
    Tool(&'a str),
    None,
}

/// Input tokens, counted as whitespace words over tools, then system, then messages (the order
/// in which the prompt cache sees the prompt), with images and non-text documents at a fixed
/// cost and earlier thinking blocks free, as the docs say they are stripped from the context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InputTokens {
    pub(crate) total: u64,
    /// Tokens up to and including the last `cache_control` breakpoint: what a first request
    /// writes to the cache.
    pub(crate) cacheable: u64,
    /// Whether that last breakpoint asked for the one-hour cache.
    pub(crate) one_hour: bool,
}

struct Counter {
    tokens: InputTokens,
    breakpoints: usize,
}

impl Counter {
    fn add(&mut self, n: u64) {
        self.tokens.total += n;
    }

    /// Checks a `cache_control` field, and records a breakpoint at the current count.
    fn cache_control(&mut self, path: &str, v: Option<&Value>) -> Result<(), AnthropicError> {
        let Some(cc) = v.filter(|v| !v.is_null()) else {
            return Ok(());
        };
        let path = format!("{path}.cache_control");
        let cc = object(&path, cc)?;
        match cc.get("type") {
            Some(Value::String(t)) if t == "ephemeral" => {}
            None => return Err(required(&format!("{path}.type"))),
            Some(_) => return Err(expected(&format!("{path}.type"), "'ephemeral'")),
        }
        let one_hour = match cc.get("ttl") {
            None | Some(Value::Null) => false,
            Some(Value::String(t)) if t == "5m" => false,
            Some(Value::String(t)) if t == "1h" => true,
            Some(_) => return Err(expected(&format!("{path}.ttl"), "'5m' or '1h'")),
        };
        self.breakpoints += 1;
        if self.breakpoints > MAX_CACHE_BREAKPOINTS {
            return Err(AnthropicError::invalid(format!(
                "A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. \
                 Found {}.",
                self.breakpoints
            )));
        }
        self.tokens.cacheable = self.tokens.total;
        self.tokens.one_hour = one_hour;
        Ok(())
    }
}

fn required(path: &str) -> AnthropicError {
    AnthropicError::invalid(format!("{path}: Field required"))
}

fn expected(path: &str, what: &str) -> AnthropicError {
    AnthropicError::invalid(format!("{path}: Input should be {what}"))
}

fn object<'v>(path: &str, v: &'v Value) -> Result<&'v Map<String, Value>, AnthropicError> {
    v.as_object()
        .ok_or_else(|| expected(path, "a valid dictionary"))
}

fn string<'v>(path: &str, v: Option<&'v Value>) -> Result<&'v str, AnthropicError> {
    match v {
        None | Some(Value::Null) => Err(required(path)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(expected(path, "a valid string")),
    }
}

fn optional_bool(path: &str, v: Option<&Value>) -> Result<bool, AnthropicError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(expected(path, "a valid boolean")),
    }
}

/// An optional number within `0..=1`, refused with the API's range message.
fn unit_range(body: &Map<String, Value>, field: &str) -> Result<Option<f64>, AnthropicError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(Some(x)),
            _ => Err(AnthropicError::invalid(format!("{field}: range: 0..1"))),
        },
        Some(_) => Err(expected(field, "a valid number")),
    }
}

fn tag_error(path: &str, tag: &str, tags: &[&str]) -> AnthropicError {
    let expected: Vec<String> = tags.iter().map(|t| format!("'{t}'")).collect();
    AnthropicError::invalid(format!(
        "{path}: Input tag '{tag}' found using 'type' does not match any of the expected tags: {}",
        expected.join(", ")
    ))
}

fn extra_fields(
    path: Option<&str>,
    fields: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), AnthropicError> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(k) => Err(AnthropicError::invalid(match path {
            Some(p) => format!("{p}.{k}: Extra inputs are not permitted"),
            None => format!("{k}: Extra inputs are not permitted"),
        })),
    }
}

/// Validates a `POST /v1/messages` body.
pub(crate) fn parse_messages(body: &Value) -> Result<MessagesRequest<'_>, AnthropicError> {
    parse(body, true)
}

/// Validates a `POST /v1/messages/count_tokens` body: the same checks, without `max_tokens` and
/// the sampling parameters, which that route does not take.
pub(crate) fn parse_count_tokens(body: &Value) -> Result<MessagesRequest<'_>, AnthropicError> {
    parse(body, false)
}

fn parse(body: &Value, generate: bool) -> Result<MessagesRequest<'_>, AnthropicError> {
    let Value::Object(fields) = body else {
        return Err(AnthropicError::invalid(
            "Input should be a valid dictionary or object to extract fields from",
        ));
    };
    extra_fields(
        None,
        fields,
        if generate {
            &MESSAGE_FIELDS
        } else {
            &COUNT_FIELDS
        },
    )?;
    let model = match fields.get("model") {
        None | Some(Value::Null) => return Err(required("model")),
        Some(Value::String(m)) if !m.is_empty() => m.as_str(),
        Some(Value::String(_)) => {
            return Err(AnthropicError::invalid(
                "model: String should have at least 1 character",
            ));
        }
        Some(_) => return Err(expected("model", "a valid string")),
    };
    let max_tokens = if generate {
        match fields.get("max_tokens") {
            None | Some(Value::Null) => return Err(required("max_tokens")),
            Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
                (Some(0), _) | (None, Some(_)) => {
                    return Err(expected("max_tokens", "greater than or equal to 1"));
                }
                (Some(n), _) => Some(n),
                (None, None) => return Err(expected("max_tokens", "a valid integer")),
            },
            Some(_) => return Err(expected("max_tokens", "a valid integer")),
        }
    } else {
        None
    };
    let stream = optional_bool("stream", fields.get("stream"))?;
    let temperature = unit_range(fields, "temperature")?;
    unit_range(fields, "top_p")?;
    match fields.get("top_k") {
        None | Some(Value::Null) => {}
        Some(v) if v.as_u64().is_some() => {}
        Some(v) if v.as_i64().is_some() => {
            return Err(expected("top_k", "greater than or equal to 0"));
        }
        Some(_) => return Err(expected("top_k", "a valid integer")),
    }
    let stop_sequences = match fields.get("stop_sequences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(k, s)| string(&format!("stop_sequences.{k}"), Some(s)))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(expected("stop_sequences", "a valid list")),
    };
    match fields.get("metadata") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let meta = object("metadata", v)?;
            extra_fields(Some("metadata"), meta, &["user_id"])?;
            match meta.get("user_id") {
                None | Some(Value::Null) | Some(Value::String(_)) => {}
                Some(_) => return Err(expected("metadata.user_id", "a valid string")),
            }
        }
    }
    match fields.get("service_tier") {
        None | Some(Value::Null) => {}
        Some(Value::String(t)) if t == "auto" || t == "standard_only" => {}
        Some(_) => return Err(expected("service_tier", "'auto' or 'standard_only'")),
    }

    let mut counter = Counter {
        tokens: InputTokens::default(),
        breakpoints: 0,
    };
    let tools = tools(fields.get("tools"), &mut counter)?;
    let tool_choice = tool_choice(fields.get("tool_choice"), &tools)?;
    system(fields.get("system"), &mut counter)?;
    let conversation = messages(fields.get("messages"), &mut counter)?;

    let thinking = match fields.get("thinking") {
        None | Some(Value::Null) => false,
        Some(v) => {
            let cfg = object("thinking", v)?;
            match cfg.get("type") {
                None => return Err(required("thinking.type")),
                Some(Value::String(t)) if t == "enabled" => {
                    let budget = match cfg.get("budget_tokens") {
                        None | Some(Value::Null) => {
                            return Err(required("thinking.enabled.budget_tokens"));
                        }
                        Some(b) => {
                            b.as_u64()
                                .or_else(|| b.as_i64().map(|_| 0))
                                .ok_or_else(|| {
                                    expected("thinking.enabled.budget_tokens", "a valid integer")
                                })?
                        }
                    };
                    if budget < MIN_THINKING_BUDGET {
                        return Err(expected(
                            "thinking.enabled.budget_tokens",
                            "greater than or equal to 1024",
                        ));
                    }
                    if let Some(max) = max_tokens
                        && max <= budget
                    {
                        return Err(AnthropicError::invalid(
                            "`max_tokens` must be greater than `thinking.budget_tokens`. Please \
                             consult our documentation at https://docs.claude.com/en/docs/\
                             build-with-claude/extended-thinking#max-tokens-and-context-window-size",
                        ));
                    }
                    true
                }
                Some(Value::String(t)) if t == "adaptive" => true,
                Some(Value::String(t)) if t == "disabled" => false,
                Some(Value::String(t)) => {
                    return Err(tag_error(
                        "thinking",
                        t,
                        &["enabled", "disabled", "adaptive"],
                    ));
                }
                Some(_) => return Err(expected("thinking.type", "a valid string")),
            }
        }
    };
    if thinking {
        if matches!(tool_choice, ToolChoice::Any | ToolChoice::Tool(_)) {
            return Err(AnthropicError::invalid(
                "Thinking may not be enabled when tool_choice forces tool use.",
            ));
        }
        if temperature.is_some_and(|t| t != 1.0) {
            return Err(AnthropicError::invalid(
                "`temperature` may only be set to 1 when thinking is enabled. Please consult our \
                 documentation at https://docs.claude.com/en/docs/build-with-claude/\
                 extended-thinking#important-considerations-when-using-extended-thinking",
            ));
        }
    }

    Ok(MessagesRequest {
        model,
        max_tokens,
        stream,
        tools,
        tool_choice,
        thinking,
        stop_sequences,
        input: counter.tokens,
        answers_tool_result: conversation.answers_tool_result,
        fail_with: conversation.fail_with,
    })
}

fn tools<'a>(v: Option<&'a Value>, counter: &mut Counter) -> Result<Vec<Tool<'a>>, AnthropicError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(expected("tools", "a valid list")),
    };
    let mut tools: Vec<Tool<'a>> = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let tool = object(&format!("tools.{k}"), item)?;
        let custom = match tool.get("type") {
            None | Some(Value::Null) => true,
            Some(Value::String(t)) => t == "custom",
            Some(_) => return Err(expected(&format!("tools.{k}.type"), "a valid string")),
        };
        let path = if custom {
            format!("tools.{k}.custom")
        } else {
            format!("tools.{k}")
        };
        let name = string(&format!("{path}.name"), tool.get("name"))?;
        let input_schema = if custom {
            let valid_name = (1..=128).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid_name {
                return Err(AnthropicError::invalid(format!(
                    "{path}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
                )));
            }
            let schema = match tool.get("input_schema") {
                None | Some(Value::Null) => return Err(required(&format!("{path}.input_schema"))),
                Some(s) => s,
            };
            let fields = object(&format!("{path}.input_schema"), schema)?;
            match fields.get("type") {
                Some(Value::String(t)) if t == "object" => {}
                None => return Err(required(&format!("{path}.input_schema.type"))),
                Some(_) => {
                    return Err(expected(&format!("{path}.input_schema.type"), "'object'"));
                }
            }
            let description = match tool.get("description") {
                None | Some(Value::Null) => "",
                Some(Value::String(d)) => d,
                Some(_) => return Err(expected(&format!("{path}.description"), "a valid string")),
            };
            let properties = fields
                .get("properties")
                .and_then(Value::as_object)
                .map_or(0, Map::len);
            counter.add(count_words(name) + count_words(description) + properties as u64);
            Some(schema)
        } else {
            counter.add(count_words(name));
            None
        };
        counter.cache_control(&path, tool.get("cache_control"))?;
        if tools.iter().any(|t| t.name == name) {
            return Err(AnthropicError::invalid("tools: Tool names must be unique."));
        }
        tools.push(Tool { name, input_schema });
    }
    Ok(tools)
}

fn tool_choice<'a>(
    v: Option<&'a Value>,
    tools: &[Tool<'_>],
) -> Result<ToolChoice<'a>, AnthropicError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(ToolChoice::Auto);
    };
    let choice = object("tool_choice", v)?;
    let kind = string("tool_choice.type", choice.get("type"))?;
    let parsed = match kind {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Any,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Tool(string("tool_choice.tool.name", choice.get("name"))?),
        other => {
            return Err(tag_error(
                "tool_choice",
                other,
                &["auto", "any", "tool", "none"],
            ));
        }
    };
    if kind != "none" {
        optional_bool(
            &format!("tool_choice.{kind}.disable_parallel_tool_use"),
            choice.get("disable_parallel_tool_use"),
        )?;
    }
    // The docs give no wording for these two; the mock's own, in the API's style.
    match parsed {
        ToolChoice::Any | ToolChoice::Tool(_) if tools.is_empty() => Err(AnthropicError::invalid(
            "tool_choice: tool_choice may only be specified while providing tools",
        )),
        ToolChoice::Tool(name) if !tools.iter().any(|t| t.name == name) => {
            Err(AnthropicError::invalid(format!(
                "tool_choice.tool.name: tool '{name}' was not found in `tools`"
            )))
        }
        _ => Ok(parsed),
    }
}

fn system(v: Option<&Value>, counter: &mut Counter) -> Result<(), AnthropicError> {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => {
            counter.add(count_words(s));
            Ok(())
        }
        Some(Value::Array(blocks)) => {
            for (j, block) in blocks.iter().enumerate() {
                let path = format!("system.{j}");
                let fields = object(&path, block)?;
                match fields.get("type") {
                    Some(Value::String(t)) if t == "text" => {}
                    None => return Err(required(&format!("{path}.type"))),
                    Some(_) => return Err(expected(&format!("{path}.type"), "'text'")),
                }
                let text = string(&format!("{path}.text"), fields.get("text"))?;
                if text.is_empty() {
                    return Err(AnthropicError::invalid(
                        "system: text content blocks must be non-empty",
                    ));
                }
                counter.add(count_words(text));
                counter.cache_control(&path, fields.get("cache_control"))?;
            }
            Ok(())
        }
        Some(_) => Err(expected("system", "a valid string")),
    }
}

/// What the answer needs to know about the conversation.
struct Conversation {
    answers_tool_result: bool,
    fail_with: Option<AnthropicError>,
}

fn messages(v: Option<&Value>, counter: &mut Counter) -> Result<Conversation, AnthropicError> {
    let messages = match v {
        None | Some(Value::Null) => return Err(required("messages")),
        Some(Value::Array(m)) => m,
        Some(_) => return Err(expected("messages", "a valid list")),
    };
    if messages.is_empty() {
        return Err(AnthropicError::invalid(
            "messages: at least one message is required",
        ));
    }
    let last = messages.len() - 1;
    // `tool_use` ids of the previous message, which the next one must answer.
    let mut pending: Vec<&str> = Vec::new();
    let mut conversation = Conversation {
        answers_tool_result: false,
        fail_with: None,
    };
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages.{i}");
        let fields = object(&path, message)?;
        extra_fields(Some(&path), fields, &["role", "content"])?;
        let assistant = match fields.get("role") {
            None | Some(Value::Null) => return Err(required(&format!("{path}.role"))),
            Some(Value::String(r)) if r == "user" => false,
            Some(Value::String(r)) if r == "assistant" => true,
            Some(Value::String(r)) if r == "system" => {
                return Err(AnthropicError::invalid(
                    "messages: Unexpected role \"system\". The Messages API accepts a top-level \
                     `system` parameter, not \"system\" as an input message role.",
                ));
            }
            Some(_) => return Err(expected(&format!("{path}.role"), "'user' or 'assistant'")),
        };
        if i == 0 && assistant {
            return Err(AnthropicError::invalid(
                "messages: first message must use the \"user\" role",
            ));
        }
        let empty_content = || {
            AnthropicError::invalid(format!(
                "{path}: all messages must have non-empty content except for the optional final \
                 assistant message"
            ))
        };
        let may_be_empty = assistant && i == last;
        let mut tool_uses: Vec<&str> = Vec::new();
        let mut tool_results: Vec<&str> = Vec::new();
        let mut text: Vec<&str> = Vec::new();
        match fields.get("content") {
            None | Some(Value::Null) => return Err(required(&format!("{path}.content"))),
            Some(Value::String(s)) => {
                if s.is_empty() && !may_be_empty {
                    return Err(empty_content());
                }
                counter.add(count_words(s));
                text.push(s);
            }
            Some(Value::Array(blocks)) => {
                if blocks.is_empty() && !may_be_empty {
                    return Err(empty_content());
                }
                for (j, block) in blocks.iter().enumerate() {
                    let seen = content_block(&format!("{path}.content.{j}"), block, counter)?;
                    match seen {
                        Seen::ToolUse(id) => tool_uses.push(id),
                        Seen::ToolResult(id) => {
                            if !pending.contains(&id) {
                                return Err(AnthropicError::invalid(format!(
                                    "{path}.content.{j}: unexpected `tool_use_id` found in \
                                     `tool_result` blocks: {id}. Each `tool_result` block must \
                                     have a corresponding `tool_use` block in the previous \
                                     message."
                                )));
                            }
                            tool_results.push(id);
                        }
                        Seen::Text(t) => text.push(t),
                        Seen::Other => {}
                    }
                }
            }
            Some(_) => {
                return Err(expected(
                    &format!("{path}.content"),
                    "a valid string or a list of content blocks",
                ));
            }
        }
        let unanswered: Vec<&str> = pending
            .iter()
            .copied()
            .filter(|id| !tool_results.contains(id))
            .collect();
        if !unanswered.is_empty() {
            return Err(AnthropicError::invalid(format!(
                "messages.{}: `tool_use` ids were found without `tool_result` blocks immediately \
                 after: {}. Each `tool_use` block must have a corresponding `tool_result` block \
                 in the next message.",
                i - 1,
                unanswered.join(", ")
            )));
        }
        pending = tool_uses;
        if i == last && !assistant {
            conversation.answers_tool_result = !tool_results.is_empty();
            conversation.fail_with = text.iter().find_map(|t| directive(t));
        }
    }
    Ok(conversation)
}

/// The error an [`ERROR_DIRECTIVE`] in `text` asks for, if it names a documented error type.
fn directive(text: &str) -> Option<AnthropicError> {
    let at = text.find(ERROR_DIRECTIVE)? + ERROR_DIRECTIVE.len();
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let err = AnthropicError::of_kind(&rest[..end], None);
    (err.kind == &rest[..end]).then_some(err)
}

/// What a content block contributes beyond its tokens.
enum Seen<'a> {
    ToolUse(&'a str),
    ToolResult(&'a str),
    Text(&'a str),
    Other,
}

fn content_block<'a>(
    path: &str,
    block: &'a Value,
    counter: &mut Counter,
) -> Result<Seen<'a>, AnthropicError> {
    let fields = object(path, block)?;
    let kind = match fields.get("type") {
        None | Some(Value::Null) => return Err(required(&format!("{path}.type"))),
        Some(Value::String(t)) => t.as_str(),
        Some(_) => return Err(expected(&format!("{path}.type"), "a valid string")),
    };
    let seen = match kind {
        "text" => {
            let text = string(&format!("{path}.text"), fields.get("text"))?;
            if text.is_empty() {
                return Err(AnthropicError::invalid(
                    "messages: text content blocks must be non-empty",
                ));
            }
            counter.add(count_words(text));
            Seen::Text(text)
        }
        "image" => {
            media_source(path, fields, &IMAGE_MEDIA_TYPES, false)?;
            counter.add(MEDIA_TOKENS);
            Seen::Other
        }
        "document" => {
            let text = media_source(path, fields, &["application/pdf"], true)?;
            counter.add(text.map_or(MEDIA_TOKENS, count_words));
            Seen::Other
        }
        "tool_use" => {
            let id = string(&format!("{path}.id"), fields.get("id"))?;
            let name = string(&format!("{path}.name"), fields.get("name"))?;
            let input = match fields.get("input") {
                None | Some(Value::Null) => return Err(required(&format!("{path}.input"))),
                Some(v) => object(&format!("{path}.input"), v)?,
            };
            counter.add(count_words(name) + input.len() as u64);
            Seen::ToolUse(id)
        }
        "tool_result" => {
            let id = string(&format!("{path}.tool_use_id"), fields.get("tool_use_id"))?;
            optional_bool(&format!("{path}.is_error"), fields.get("is_error"))?;
            match fields.get("content") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => counter.add(count_words(s)),
                Some(Value::Array(parts)) => {
                    for (k, part) in parts.iter().enumerate() {
                        let part_path = format!("{path}.content.{k}");
                        let part_type = object(&part_path, part)?.get("type");
                        match part_type.and_then(Value::as_str) {
                            Some("text" | "image" | "document" | "search_result") => {
                                content_block(&part_path, part, counter)?;
                            }
                            Some(other) => {
                                return Err(tag_error(
                                    &part_path,
                                    other,
                                    &["text", "image", "document", "search_result"],
                                ));
                            }
                            None => return Err(required(&format!("{part_path}.type"))),
                        }
                    }
                }
                Some(_) => {
                    return Err(expected(
                        &format!("{path}.content"),
                        "a valid string or a list of content blocks",
                    ));
                }
            }
            Seen::ToolResult(id)
        }
        "thinking" => {
            string(&format!("{path}.thinking"), fields.get("thinking"))?;
            string(&format!("{path}.signature"), fields.get("signature"))?;
            Seen::Other
        }
        "redacted_thinking" => {
            string(&format!("{path}.data"), fields.get("data"))?;
            Seen::Other
        }
        other if BLOCK_TYPES.contains(&other) => Seen::Other,
        other => return Err(tag_error(path, other, &BLOCK_TYPES)),
    };
    counter.cache_control(path, fields.get("cache_control"))?;
    Ok(seen)
}

/// Checks the `source` of an image or document; returns the text of a plain-text document.
fn media_source<'a>(
    path: &str,
    fields: &'a Map<String, Value>,
    media_types: &[&str],
    document: bool,
) -> Result<Option<&'a str>, AnthropicError> {
    let path = format!("{path}.source");
    let source = match fields.get("source") {
        None | Some(Value::Null) => return Err(required(&path)),
        Some(s) => object(&path, s)?,
    };
    let kind = string(&format!("{path}.type"), source.get("type"))?;
    let tags: &[&str] = if document {
        &["base64", "text", "content", "url", "file"]
    } else {
        &["base64", "url", "file"]
    };
    match kind {
        "base64" => {
            let media_type = string(
                &format!("{path}.base64.media_type"),
                source.get("media_type"),
            )?;
            if !media_types.contains(&media_type) {
                let quoted: Vec<String> = media_types.iter().map(|m| format!("'{m}'")).collect();
                let list = match quoted.split_last() {
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                };
                return Err(expected(&format!("{path}.base64.media_type"), &list));
            }
            let data = string(&format!("{path}.base64.data"), source.get("data"))?;
            let base64ish = data
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            if data.is_empty() || !base64ish {
                return Err(AnthropicError::invalid(format!(
                    "{path}.base64.data: The {} data is not valid base64.",
                    if document { "document" } else { "image" }
                )));
            }
            Ok(None)
        }
        "url" => {
            let url = string(&format!("{path}.url.url"), source.get("url"))?;
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(AnthropicError::invalid(format!(
                    "{path}.url.url: Input should be a valid URL"
                )));
            }
            Ok(None)
        }
        "file" => {
            string(&format!("{path}.file.file_id"), source.get("file_id"))?;
            Ok(None)
        }
        "text" if document => {
            let media_type = string(&format!("{path}.text.media_type"), source.get("media_type"))?;
            if media_type != "text/plain" {
                return Err(expected(&format!("{path}.text.media_type"), "'text/plain'"));
            }
            Ok(Some(string(
                &format!("{path}.text.data"),
                source.get("data"),
            )?))
        }
        "content" if document => Ok(None),
        other => Err(tag_error(&path, other, tags)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> String {
        let v: Value = serde_json::from_str(body).unwrap();
        parse_messages(&v).err().unwrap().message
    }

    #[test]
    fn tokens_and_cache_prefix() {
        let v: Value = serde_json::from_str(
            r#"{"model":"m","max_tokens":10,
                "tools":[{"name":"get_weather","description":"Get the weather",
                          "input_schema":{"type":"object","properties":{"location":{"type":"string"}}}}],
                "system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral","ttl":"1h"}}],
                "messages":[{"role":"user","content":"one two three"},
                            {"role":"assistant","content":[{"type":"thinking","thinking":"hidden words","signature":"s"},
                                                          {"type":"text","text":"four"}]},
                            {"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://x/y.png"}}]}]}"#,
        )
        .unwrap();
        let req = parse_messages(&v).unwrap();
        // tool: 1 (name) + 3 (description) + 1 (property); system 2; messages 3 + 1 + 100.
        assert_eq!(
            req.input,
            InputTokens {
                total: 111,
                cacheable: 7,
                one_hour: true
            }
        );
    }

    #[test]
    fn messages_from_the_api() {
        assert_eq!(
            err(r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#),
            "max_tokens: Field required"
        );
        assert_eq!(
            err(r#"{"model":"m","max_tokens":1,"messages":[],"fallbacks":[]}"#),
            "fallbacks: Extra inputs are not permitted"
        );
        assert_eq!(
            err(r#"{"model":"m","max_tokens":1,"messages":[]}"#),
            "messages: at least one message is required"
        );
        assert!(
            err(r#"{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}"#)
                .starts_with("messages: Unexpected role \"system\"")
        );
        assert_eq!(
            err(r#"{"model":"m","max_tokens":1,"messages":[{"role":"assistant","content":"x"}]}"#),
            "messages: first message must use the \"user\" role"
        );
        assert_eq!(
            err(
                r#"{"model":"m","max_tokens":1,"temperature":1.5,"messages":[{"role":"user","content":"x"}]}"#
            ),
            "temperature: range: 0..1"
        );
        assert_eq!(
            err(
                r#"{"model":"m","max_tokens":4096,"thinking":{"type":"enabled","budget_tokens":512},"messages":[{"role":"user","content":"x"}]}"#
            ),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        );
        assert!(
            err(r#"{"model":"m","max_tokens":1024,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"x"}]}"#)
                .starts_with("`max_tokens` must be greater than `thinking.budget_tokens`")
        );
    }

    #[test]
    fn tool_pairing() {
        let use_then = |result_id: &str| {
            format!(
                r#"{{"model":"m","max_tokens":5,"messages":[
                    {{"role":"user","content":"weather?"}},
                    {{"role":"assistant","content":[{{"type":"tool_use","id":"toolu_1","name":"w","input":{{}}}}]}},
                    {{"role":"user","content":[{{"type":"tool_result","tool_use_id":"{result_id}","content":"sunny"}}]}}]}}"#
            )
        };
        let ok: Value = serde_json::from_str(&use_then("toolu_1")).unwrap();
        let req = parse_messages(&ok).unwrap();
        assert!(req.answers_tool_result);
        assert!(err(&use_then("toolu_2")).starts_with(
            "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_2."
        ));
        assert!(
            err(r#"{"model":"m","max_tokens":5,"messages":[
                {"role":"user","content":"weather?"},
                {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"w","input":{}}]},
                {"role":"user","content":"well?"}]}"#)
            .starts_with("messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1.")
        );
    }

    #[test]
    fn directives_name_known_types() {
        assert_eq!(
            directive("please asbru-mock:error=overloaded_error now")
                .unwrap()
                .status
                .as_u16(),
            529
        );
        assert!(directive("asbru-mock:error=made_up").is_none());
        assert!(directive("nothing here").is_none());
    }
}
