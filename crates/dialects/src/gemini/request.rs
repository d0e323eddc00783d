//! Requests: unified (OpenAI-shaped) to Gemini `generateContent` and back.

use super::error::ConvertError;
use super::parts::{
    assistant_from_parts, assistant_to_parts, generated_call_id, is_generated_id, text_part,
    user_part, user_part_from_gemini,
};
use super::schema::to_openapi;
use super::types::{
    Content as GeminiContent, FunctionCallingConfig, FunctionDeclaration, FunctionResponse,
    GenerateContentRequest, GenerationConfig, Part, ThinkingConfig, Tool as GeminiTool, ToolConfig,
};
use asbru_schema::chat::{
    ChatRequest, Content, ContentPart, FunctionDefinition, JsonSchemaFormat, Message,
    NamedToolChoice, ReasoningConfig, ResponseFormat, Stop, StreamOptions, SystemMessage, Tool,
    ToolChoice, ToolChoiceMode, ToolMessage, UserMessage,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// How tool parameters and response schemas are sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SchemaMode {
    /// `parametersJsonSchema` / `responseJsonSchema`: JSON Schema as the client wrote it.
    #[default]
    JsonSchema,
    /// `parameters` / `responseSchema`, converted to Google's OpenAPI subset by
    /// [`super::schema::to_openapi`] (for models or proxies without the JSON-Schema fields).
    OpenApi,
}

/// How a reasoning effort becomes a `thinkingConfig`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ThinkingStyle {
    /// `thinkingLevel` for Gemini 3 models (their recommended control), `thinkingBudget` for
    /// the others (Gemini 2.5 refuses levels); decided from the model name.
    #[default]
    Auto,
    Budget,
    Level,
}

/// Choices the conversion cannot take from the request itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestOptions {
    pub schema_mode: SchemaMode,
    pub thinking_style: ThinkingStyle,
    /// Put Google's documented placeholder signature on function calls that have none (a
    /// history from another provider continued on Gemini 3, which otherwise refuses it).
    pub fill_missing_signatures: bool,
}

/// Request fields Gemini has and OpenAI lacks, forwarded from the unified request's `extra`
/// (either spelling). Every other unknown field is dropped: Gemini refuses fields it does not
/// know.
const GEMINI_PASSTHROUGH: [(&str, &str); 2] = [
    ("safety_settings", "safetySettings"),
    ("cached_content", "cachedContent"),
];

/// `thinkingBudget` per reasoning effort, for [`ThinkingStyle::Budget`].
///
/// | effort | budget | why |
/// |---|---|---|
/// | `none` | 0 | turns thinking off where the model allows it (2.5 Flash, Flash-Lite) |
/// | `minimal` | 512 | the smallest budget every 2.5 model accepts (Flash-Lite's floor) |
/// | `low` | 1024 | |
/// | `medium` | 8192 | |
/// | `high` and above | 24576 | the largest budget every 2.5 model accepts (Flash's ceiling) |
///
/// Fixed budgets rather than shares of `maxOutputTokens`, because Gemini's limits are per model
/// and absolute, and the limit is often unset.
pub fn budget_for_effort(effort: &str) -> i32 {
    match effort {
        "none" => 0,
        "minimal" => 512,
        "low" => 1024,
        "medium" => 8192,
        _ => 24576,
    }
}

/// The effort a budget stands for: the inverse of [`budget_for_effort`] (`-1`, dynamic, has
/// none).
pub fn effort_for_budget(budget: i32) -> Option<&'static str> {
    Some(match budget {
        i32::MIN..=-1 => return None,
        0 => "none",
        1..=512 => "minimal",
        513..=2048 => "low",
        2049..=12288 => "medium",
        _ => "high",
    })
}

/// `thinkingLevel` per reasoning effort, for [`ThinkingStyle::Level`]: the same names, except
/// `none`, which Gemini 3 cannot honour (its thinking cannot be turned off), becomes `minimal`,
/// and levels above `high` become `high`. Gemini 3 Pro accepts only `low` and `high`; the API
/// judges.
pub fn level_for_effort(effort: &str) -> &'static str {
    match effort {
        "none" | "minimal" => "minimal",
        "low" => "low",
        "medium" => "medium",
        _ => "high",
    }
}

/// Whether a model takes `thinkingLevel` (Gemini 3 and later, by name).
fn takes_levels(model: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model);
    name.strip_prefix("gemini-")
        .and_then(|rest| rest.split(['-', '.']).next())
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 3)
}

/// The `thinkingConfig` for a request.
///
/// * `reasoning.enabled: false` or effort `none`: budget 0 (or level `minimal`), no thoughts.
/// * `reasoning.max_tokens`: that budget exactly (Gemini 3 still accepts budgets).
/// * an effort: [`budget_for_effort`] or [`level_for_effort`], by [`ThinkingStyle`].
/// * `reasoning.enabled: true` alone: budget `-1` (the model decides).
///
/// Whenever thinking is asked for, `includeThoughts` is set so the thought summaries come back
/// as `reasoning` (unless `reasoning.exclude` is true). No reasoning parameter: no
/// `thinkingConfig`, the model's default.
pub fn thinking_config(req: &ChatRequest, opts: &RequestOptions) -> Option<ThinkingConfig> {
    let reasoning = req.reasoning.as_ref();
    let levels = match opts.thinking_style {
        ThinkingStyle::Auto => takes_levels(&req.model),
        ThinkingStyle::Budget => false,
        ThinkingStyle::Level => true,
    };
    let off = reasoning.and_then(|r| r.enabled) == Some(false) || req.effort() == Some("none");
    let mut config = ThinkingConfig::default();
    if off {
        if levels {
            config.thinking_level = Some(level_for_effort("none").to_owned());
        } else {
            config.thinking_budget = Some(0);
        }
        return Some(config);
    }
    if let Some(budget) = reasoning.and_then(|r| r.max_tokens) {
        config.thinking_budget = Some(i32::try_from(budget).unwrap_or(i32::MAX));
    } else if let Some(effort) = req.effort() {
        if levels {
            config.thinking_level = Some(level_for_effort(effort).to_owned());
        } else {
            config.thinking_budget = Some(budget_for_effort(effort));
        }
    } else if reasoning.and_then(|r| r.enabled) == Some(true) {
        config.thinking_budget = Some(-1);
    } else {
        return None;
    }
    let exclude = reasoning
        .and_then(|r| r.extra.get("exclude"))
        .and_then(Value::as_bool)
        == Some(true);
    config.include_thoughts = Some(!exclude);
    Some(config)
}

/// Converts a unified request into a Gemini `generateContent` body (the model goes in the URL).
///
/// * `system` and `developer` messages, wherever they are, become `systemInstruction` text
///   parts, in order.
/// * `user` → `user`, `assistant` → `model`; tool results become `functionResponse` parts of a
///   `user` turn; consecutive turns of the same role are merged (Gemini wants alternation, and a
///   step's function responses in one turn).
/// * A tool result names its call only by `tool_call_id`; Gemini wants the function's `name`,
///   taken from the assistant turn that made the call (a result for a call the conversation
///   does not contain is refused). The call's id goes along as `id` unless asbru made it up.
///   The result text becomes `response`: a JSON object as is, anything else as
///   `{"output": …}`, or `{"error": …}` when `is_error` is set, as Google's reference describes.
/// * Assistant turns replay their thought signatures (see [`super::parts`]).
/// * Images: `data:` URLs → `inlineData`, http(s) URLs → `fileData` with a media type guessed
///   from the extension; audio → `inlineData`; files → `inlineData` or `fileData`.
/// * Function tools → one `tools[].functionDeclarations`; parameters by [`SchemaMode`]. A tool
///   of another `type` is sent as Google's built-in tool of that name (`{"type":
///   "googleSearch"}` → `{"googleSearch": {}}`, its other fields as the tool's config).
/// * `tool_choice`: `none` → `NONE`, `auto` → `AUTO`, `required` → `ANY`, a named function →
///   `ANY` + `allowedFunctionNames: [name]`. `parallel_tool_calls` has no Gemini switch and is
///   dropped.
/// * `stop`, `temperature`, `top_p`, `max_completion_tokens`/`max_tokens`, `n`, `seed`,
///   `top_k`, `presence_penalty`, `frequency_penalty`, `logprobs`/`top_logprobs` →
///   `generationConfig`; `response_format` `json_object` → `responseMimeType:
///   application/json`, `json_schema` → that plus the schema (by [`SchemaMode`]).
/// * reasoning → `thinkingConfig` (see [`thinking_config`]).
/// * `user`, `stream` (a URL choice in Gemini), `stream_options` and other OpenAI-only fields
///   are dropped; `safety_settings` and `cached_content` in `extra` are forwarded.
pub fn to_gemini(
    req: &ChatRequest,
    opts: &RequestOptions,
) -> Result<GenerateContentRequest, ConvertError> {
    let mut names: HashMap<&str, &str> = HashMap::new();
    for m in &req.messages {
        if let Message::Assistant(a) = m {
            for call in a.tool_calls.iter().flatten() {
                names.insert(&call.id, &call.function.name);
            }
        }
    }

    let mut system: Vec<Part> = Vec::new();
    let mut contents: Vec<GeminiContent> = Vec::new();
    for message in &req.messages {
        match message {
            Message::System(m) | Message::Developer(m) => match &m.content {
                Content::Text(t) if t.is_empty() => {}
                Content::Text(t) => system.push(Part::text(t.clone())),
                Content::Parts(parts) => {
                    for part in parts {
                        match part {
                            ContentPart::Text(t) => system.push(Part::text(t.text.clone())),
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
                let parts = match &m.content {
                    Content::Text(t) => vec![Part::text(t.clone())],
                    Content::Parts(parts) => {
                        parts.iter().map(user_part).collect::<Result<Vec<_>, _>>()?
                    }
                };
                push_merged(&mut contents, "user", parts);
            }
            Message::Assistant(m) => {
                let parts = assistant_to_parts(m, opts.fill_missing_signatures)?;
                if !parts.is_empty() {
                    push_merged(&mut contents, "model", parts);
                }
            }
            Message::Tool(m) => {
                let name = names
                    .get(m.tool_call_id.as_str())
                    .ok_or_else(|| ConvertError::UnknownToolCall(m.tool_call_id.clone()))?;
                let id = (!is_generated_id(&m.tool_call_id)).then(|| m.tool_call_id.clone());
                let parts = tool_result_parts(name, id, &m.content, m.is_error == Some(true))?;
                push_merged(&mut contents, "user", parts);
            }
            Message::Function(m) => {
                let content = m.content.value().cloned().unwrap_or_default();
                let parts = tool_result_parts(&m.name, None, &Content::Text(content), false)?;
                push_merged(&mut contents, "user", parts);
            }
        }
    }

    let mut tools: Vec<GeminiTool> = Vec::new();
    let mut declarations = Vec::new();
    for tool in req.tools.iter().flatten() {
        match (&tool.function, tool.kind.as_str()) {
            (Some(f), "function") => declarations.push(declaration(f, opts.schema_mode)),
            (None, kind) if kind != "function" => {
                let mut extra = Map::new();
                extra.insert(kind.to_owned(), Value::Object(tool.extra.clone()));
                tools.push(GeminiTool {
                    function_declarations: None,
                    extra,
                });
            }
            _ => {
                return Err(ConvertError::Unsupported(format!(
                    "a `{}` tool without a function definition",
                    tool.kind
                )));
            }
        }
    }
    if !declarations.is_empty() {
        tools.insert(
            0,
            GeminiTool {
                function_declarations: Some(declarations),
                extra: Map::new(),
            },
        );
    }

    let calling = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Mode(mode)) => Some(FunctionCallingConfig {
            mode: Some(
                match mode {
                    ToolChoiceMode::None => "NONE",
                    ToolChoiceMode::Auto => "AUTO",
                    ToolChoiceMode::Required => "ANY",
                }
                .to_owned(),
            ),
            ..FunctionCallingConfig::default()
        }),
        Some(ToolChoice::Named(named)) => Some(FunctionCallingConfig {
            mode: Some("ANY".to_owned()),
            allowed_function_names: Some(vec![named.function.name.clone()]),
            extra: Map::new(),
        }),
        Some(ToolChoice::Other(v)) => {
            return Err(ConvertError::Unsupported(format!("tool_choice {v}")));
        }
    };

    let generation_config = generation_config(req, opts);

    let mut extra = Map::new();
    let mut safety_settings = None;
    let mut cached_content = None;
    for (snake, camel) in GEMINI_PASSTHROUGH {
        let Some(v) = req.extra.get(snake).or_else(|| req.extra.get(camel)) else {
            continue;
        };
        match (snake, v) {
            ("safety_settings", Value::Array(items)) => safety_settings = Some(items.clone()),
            ("cached_content", Value::String(s)) => cached_content = Some(s.clone()),
            _ => {
                extra.insert(camel.to_owned(), v.clone());
            }
        }
    }

    Ok(GenerateContentRequest {
        model: None,
        contents,
        system_instruction: (!system.is_empty()).then(|| GeminiContent {
            role: None,
            parts: system,
            extra: Map::new(),
        }),
        tools: (!tools.is_empty()).then_some(tools),
        tool_config: calling.map(|c| ToolConfig {
            function_calling_config: Some(c),
            extra: Map::new(),
        }),
        safety_settings,
        generation_config,
        cached_content,
        extra,
    })
}

fn generation_config(req: &ChatRequest, opts: &RequestOptions) -> Option<GenerationConfig> {
    let number = |key: &str| match req.extra.get(key) {
        Some(Value::Number(n)) => Some(n.clone()),
        _ => None,
    };
    let mut config = GenerationConfig {
        stop_sequences: req.stop.as_ref().map(Stop::to_vec),
        max_output_tokens: req.output_limit(),
        temperature: req.temperature.clone(),
        top_p: req.top_p.clone(),
        top_k: number("top_k"),
        seed: req.extra.get("seed").and_then(Value::as_i64),
        presence_penalty: number("presence_penalty"),
        frequency_penalty: number("frequency_penalty"),
        candidate_count: req
            .extra
            .get("n")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
        thinking_config: thinking_config(req, opts),
        ..GenerationConfig::default()
    };
    if req.extra.get("logprobs").and_then(Value::as_bool) == Some(true) {
        config
            .extra
            .insert("responseLogprobs".to_owned(), Value::Bool(true));
        if let Some(k) = number("top_logprobs") {
            config.extra.insert("logprobs".to_owned(), Value::Number(k));
        }
    }
    match &req.response_format {
        Some(ResponseFormat::JsonObject { .. }) => {
            config.response_mime_type = Some("application/json".to_owned());
        }
        Some(ResponseFormat::JsonSchema { json_schema, .. }) => {
            config.response_mime_type = Some("application/json".to_owned());
            let schema = json_schema
                .schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"}));
            match opts.schema_mode {
                SchemaMode::JsonSchema => config.response_json_schema = Some(schema),
                SchemaMode::OpenApi => config.response_schema = Some(to_openapi(&schema)),
            }
        }
        Some(ResponseFormat::Text { .. }) | None => {}
    }
    (config != GenerationConfig::default()).then_some(config)
}

fn declaration(f: &FunctionDefinition, mode: SchemaMode) -> FunctionDeclaration {
    let (parameters, parameters_json_schema) = match (&f.parameters, mode) {
        (None, _) => (None, None),
        (Some(p), SchemaMode::JsonSchema) => (None, Some(p.clone())),
        (Some(p), SchemaMode::OpenApi) => (Some(to_openapi(p)), None),
    };
    FunctionDeclaration {
        name: f.name.clone(),
        description: f.description.clone(),
        parameters,
        parameters_json_schema,
        extra: Map::new(),
    }
}

/// A tool result as a `functionResponse` part (plus `inlineData` parts for any images in it).
fn tool_result_parts(
    name: &str,
    id: Option<String>,
    content: &Content,
    is_error: bool,
) -> Result<Vec<Part>, ConvertError> {
    let text = content.text();
    let mut media = Vec::new();
    if let Content::Parts(parts) = content {
        for part in parts {
            if !matches!(part, ContentPart::Text(_)) {
                media.push(user_part(part)?);
            }
        }
    }
    let parsed = serde_json::from_str::<Value>(&text).ok();
    let response = match (is_error, parsed) {
        (true, Some(v)) => json!({ "error": v }),
        (true, None) => json!({ "error": text }),
        (false, Some(v @ Value::Object(_))) => v,
        (false, _) => json!({ "output": text }),
    };
    let mut parts = vec![Part {
        function_response: Some(FunctionResponse {
            id,
            name: name.to_owned(),
            response,
            extra: Map::new(),
        }),
        ..Part::default()
    }];
    parts.extend(media);
    Ok(parts)
}

/// Appends parts as a new turn, or to the previous turn when it has the same role.
fn push_merged(contents: &mut Vec<GeminiContent>, role: &str, parts: Vec<Part>) {
    if let Some(last) = contents.last_mut()
        && last.role.as_deref() == Some(role)
    {
        last.parts.extend(parts);
        return;
    }
    contents.push(GeminiContent::new(role, parts));
}

/// Converts a Gemini request (from a client of the `/genai` drop-in routes) into a unified one.
/// `model` comes from the URL (`models/{model}:generateContent`), and so does `stream`
/// (`:streamGenerateContent`).
///
/// The inverse of [`to_gemini`]: `systemInstruction` becomes one leading system message;
/// `model` turns become assistant messages (tool calls get Google's ids, or stable generated
/// ones — see [`super::parts::generated_call_id`] — seeded by the turn's position);
/// `functionResponse` parts become `tool` messages answering the call of that id, else the
/// earliest unanswered call of that name in the turn before, placed before the rest of their
/// turn; `{"output": text}` responses become that text and `{"error": …}` ones set `is_error`.
/// Schemas come back as JSON Schema (OpenAPI-subset type names lowercased).
/// `thinkingConfig` becomes `reasoning` (`max_tokens` for a budget) and `reasoning_effort`.
/// Streams ask for usage, because Gemini streams always carry it.
pub fn from_gemini(
    req: &GenerateContentRequest,
    model: &str,
    stream: bool,
) -> Result<ChatRequest, ConvertError> {
    let mut messages = Vec::new();
    if let Some(system) = &req.system_instruction {
        let texts: Vec<ContentPart> = system
            .parts
            .iter()
            .filter_map(|p| p.text.as_deref())
            .map(text_part)
            .collect();
        let content = match texts.as_slice() {
            [ContentPart::Text(one)] => Content::Text(one.text.clone()),
            _ => Content::Parts(texts),
        };
        messages.push(Message::System(SystemMessage {
            content,
            name: None,
            extra: Map::new(),
        }));
    }

    // Calls of the latest model turn not answered yet: (id, name).
    let mut pending: Vec<(String, String)> = Vec::new();
    for (turn, content) in req.contents.iter().enumerate() {
        if content.role.as_deref() == Some("model") {
            let m = assistant_from_parts(&content.parts, &format!("turn-{turn}"));
            pending = m
                .tool_calls
                .iter()
                .flatten()
                .map(|c| (c.id.clone(), c.function.name.clone()))
                .collect();
            messages.push(Message::Assistant(m));
            continue;
        }
        let mut parts = Vec::new();
        for (k, part) in content.parts.iter().enumerate() {
            if let Some(r) = &part.function_response {
                let by_id =
                    r.id.as_ref()
                        .and_then(|id| pending.iter().position(|(p, _)| p == id));
                let by_name = || pending.iter().position(|(_, n)| *n == r.name);
                let id = match by_id.or_else(by_name) {
                    Some(i) => pending.remove(i).0,
                    None => {
                        r.id.clone()
                            .unwrap_or_else(|| generated_call_id(&format!("turn-{turn}-{k}"), 0))
                    }
                };
                let (text, is_error) = response_text(&r.response);
                messages.push(Message::Tool(ToolMessage {
                    content: Content::Text(text),
                    tool_call_id: id,
                    is_error: is_error.then_some(true),
                    extra: Map::new(),
                }));
            } else if let Some(p) = user_part_from_gemini(part) {
                parts.push(p);
            }
        }
        if parts.is_empty() {
            continue;
        }
        let content = match parts.as_slice() {
            [ContentPart::Text(one)] if one.extra.is_empty() => Content::Text(one.text.clone()),
            _ => Content::Parts(parts),
        };
        messages.push(Message::User(UserMessage {
            content,
            name: None,
            extra: Map::new(),
        }));
    }

    let mut tools: Vec<Tool> = Vec::new();
    for tool in req.tools.iter().flatten() {
        for d in tool.function_declarations.iter().flatten() {
            let parameters = d
                .parameters_json_schema
                .clone()
                .or_else(|| d.parameters.as_ref().map(lowercase_types));
            tools.push(Tool::function(
                d.name.clone(),
                d.description.clone(),
                parameters,
            ));
        }
        for (kind, config) in &tool.extra {
            tools.push(Tool {
                kind: kind.clone(),
                function: None,
                extra: config.as_object().cloned().unwrap_or_default(),
            });
        }
    }

    let tool_choice = req
        .tool_config
        .as_ref()
        .and_then(|c| c.function_calling_config.as_ref())
        .and_then(|c| {
            let allowed = c.allowed_function_names.as_deref().unwrap_or(&[]);
            Some(match c.mode.as_deref()? {
                "NONE" => ToolChoice::Mode(ToolChoiceMode::None),
                "ANY" => match allowed {
                    [one] => ToolChoice::Named(NamedToolChoice::function(one.clone())),
                    _ => ToolChoice::Mode(ToolChoiceMode::Required),
                },
                _ => ToolChoice::Mode(ToolChoiceMode::Auto),
            })
        });

    let config = req.generation_config.clone().unwrap_or_default();
    let mut extra = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            extra.insert(key.to_owned(), v);
        }
    };
    put("top_k", config.top_k.clone().map(Value::Number));
    put("seed", config.seed.map(Value::from));
    put(
        "presence_penalty",
        config.presence_penalty.clone().map(Value::Number),
    );
    put(
        "frequency_penalty",
        config.frequency_penalty.clone().map(Value::Number),
    );
    put("n", config.candidate_count.map(Value::from));
    put(
        "safety_settings",
        req.safety_settings.clone().map(Value::Array),
    );
    put(
        "cached_content",
        req.cached_content.clone().map(Value::String),
    );
    if config
        .extra
        .get("responseLogprobs")
        .and_then(Value::as_bool)
        == Some(true)
    {
        put("logprobs", Some(Value::Bool(true)));
        put("top_logprobs", config.extra.get("logprobs").cloned());
    }

    let json = config.response_mime_type.as_deref() == Some("application/json");
    let schema = config
        .response_json_schema
        .clone()
        .or_else(|| config.response_schema.as_ref().map(lowercase_types));
    let response_format = match (json, schema) {
        (true, Some(schema)) => Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: "response".to_owned(),
                description: None,
                schema: Some(schema),
                strict: None,
                extra: Map::new(),
            },
            extra: Map::new(),
        }),
        (true, None) => Some(ResponseFormat::JsonObject { extra: Map::new() }),
        _ => None,
    };

    let (reasoning, reasoning_effort) = match &config.thinking_config {
        None => (None, None),
        Some(t) => {
            let mut r = ReasoningConfig::default();
            let mut effort = t.thinking_level.clone();
            match t.thinking_budget {
                Some(-1) => r.enabled = Some(true),
                Some(0) => {
                    r.enabled = Some(false);
                    effort = Some("none".to_owned());
                }
                Some(b) => {
                    r.max_tokens = u32::try_from(b).ok();
                    effort = effort.or_else(|| effort_for_budget(b).map(str::to_owned));
                }
                None => {}
            }
            if t.include_thoughts == Some(false) && r.enabled != Some(false) {
                r.extra.insert("exclude".to_owned(), Value::Bool(true));
            }
            let r = (r != ReasoningConfig::default()).then_some(r);
            (r, effort)
        }
    };

    Ok(ChatRequest {
        model: model.to_owned(),
        messages,
        temperature: config.temperature.clone(),
        top_p: config.top_p.clone(),
        max_tokens: config.max_output_tokens,
        max_completion_tokens: None,
        stop: config.stop_sequences.clone().map(Stop::Many),
        stream: stream.then_some(true),
        stream_options: stream.then(|| StreamOptions {
            include_usage: Some(true),
            extra: Map::new(),
        }),
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        parallel_tool_calls: None,
        response_format,
        reasoning_effort,
        reasoning,
        user: None,
        extra,
    })
}

/// A `functionResponse.response` as tool-message text, and whether it reports an error:
/// `{"output": "text"}` is the text, `{"error": x}` is `x` (as text) with the error flag, any
/// other object its JSON.
fn response_text(response: &Value) -> (String, bool) {
    let as_text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match response.as_object() {
        Some(o) if o.len() == 1 && o.contains_key("output") => {
            (o.get("output").map(as_text).unwrap_or_default(), false)
        }
        Some(o) if o.len() == 1 && o.contains_key("error") => {
            (o.get("error").map(as_text).unwrap_or_default(), true)
        }
        _ => (as_text(response), false),
    }
}

/// An OpenAPI-subset schema as JSON Schema: Google's upper-case type names (`OBJECT`) lowered,
/// recursively; other keywords are already JSON Schema's.
fn lowercase_types(schema: &Value) -> Value {
    match schema {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("type", Value::String(t)) => Value::String(t.to_ascii_lowercase()),
                        ("properties", Value::Object(props)) => Value::Object(
                            props
                                .iter()
                                .map(|(name, sub)| (name.clone(), lowercase_types(sub)))
                                .collect(),
                        ),
                        ("items", sub) => lowercase_types(sub),
                        ("anyOf", Value::Array(alts)) => {
                            Value::Array(alts.iter().map(lowercase_types).collect())
                        }
                        (_, other) => other.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asbru_schema::chat::{AssistantMessage, ToolCall};

    #[test]
    fn effort_tables() {
        for effort in ["none", "minimal", "low", "medium", "high"] {
            assert_eq!(effort_for_budget(budget_for_effort(effort)), Some(effort));
        }
        assert_eq!(effort_for_budget(-1), None);
        assert_eq!(level_for_effort("none"), "minimal");
        assert_eq!(level_for_effort("xhigh"), "high");
        assert!(takes_levels("gemini-3-pro-preview"));
        assert!(takes_levels("models/gemini-3.1-flash"));
        assert!(!takes_levels("gemini-2.5-flash"));
        assert!(!takes_levels("gemini-flash-latest"));
    }

    #[test]
    fn thinking_by_model() {
        let mut req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("x")]);
        req.reasoning_effort = Some("low".into());
        let t = thinking_config(&req, &RequestOptions::default()).unwrap();
        assert_eq!(
            (t.thinking_budget, t.include_thoughts),
            (Some(1024), Some(true))
        );
        req.model = "gemini-3-pro-preview".into();
        let t = thinking_config(&req, &RequestOptions::default()).unwrap();
        assert_eq!(t.thinking_level.as_deref(), Some("low"));
        req.reasoning_effort = Some("none".into());
        let t = thinking_config(&req, &RequestOptions::default()).unwrap();
        assert_eq!(t.thinking_level.as_deref(), Some("minimal"));
        assert_eq!(t.include_thoughts, None);
        req.reasoning_effort = None;
        assert!(thinking_config(&req, &RequestOptions::default()).is_none());
    }

    #[test]
    fn unknown_tool_results_are_refused() {
        let req = ChatRequest::new(
            "m",
            vec![
                Message::user("x"),
                Message::Tool(ToolMessage {
                    content: Content::Text("1".into()),
                    tool_call_id: "call_missing".into(),
                    is_error: None,
                    extra: Map::new(),
                }),
            ],
        );
        assert!(matches!(
            to_gemini(&req, &RequestOptions::default()),
            Err(ConvertError::UnknownToolCall(id)) if id == "call_missing"
        ));
    }

    #[test]
    fn arguments_must_be_objects() {
        let a = AssistantMessage {
            tool_calls: Some(vec![ToolCall::function("call_1", "f", "[1]")]),
            ..AssistantMessage::default()
        };
        let req = ChatRequest::new("m", vec![Message::user("x"), Message::Assistant(a)]);
        assert!(matches!(
            to_gemini(&req, &RequestOptions::default()),
            Err(ConvertError::InvalidToolArguments { .. })
        ));
    }

    #[test]
    fn responses_to_text() {
        assert_eq!(
            response_text(&json!({"output": "15 C"})),
            ("15 C".into(), false)
        );
        assert_eq!(
            response_text(&json!({"error": "boom"})),
            ("boom".into(), true)
        );
        assert_eq!(
            response_text(&json!({"temp": 15})),
            ("{\"temp\":15}".into(), false)
        );
    }
}
