//! Chat requests: unified (OpenAI-shaped) to Cohere's `POST /v2/chat` body and back.
//!
//! Cohere v2's chat is close to OpenAI's: the same four roles (`developer` becomes `system`),
//! content as a string or blocks, `tools` of `type: function`, tool calls with ids that tool
//! results quote in `tool_call_id`. The differences are mapped here:
//!
//! * `top_p` is `p`, `stop` is `stop_sequences`, `max_completion_tokens`/`max_tokens` is
//!   `max_tokens`; `seed`, `frequency_penalty`, `presence_penalty` and `top_k` (as `k`) keep
//!   their meaning.
//! * `tool_choice` `required` is `REQUIRED`, `none` is `NONE`, `auto` is the default (absent);
//!   a named function is `REQUIRED` with only that tool offered, since Cohere cannot name one.
//! * `response_format` `json_object` is `{"type": "json_object"}`, `json_schema` is
//!   `{"type": "json_object", "json_schema": <schema>}`.
//! * Reasoning: `reasoning_effort: "none"` or `reasoning.enabled: false` is
//!   `thinking: {"type": "disabled"}`; any other effort, or a `reasoning.max_tokens` budget, is
//!   `{"type": "enabled", "token_budget"?}`. Replayed reasoning becomes a `thinking` block.
//! * An assistant turn that calls tools carries its text as `tool_plan` (how Cohere's own
//!   answers carry it); without calls, as `content`.
//! * Audio and file parts, `n > 1` and non-function tools have no Cohere form and are refused.
//!   OpenAI parameters Cohere has no field for (`user`, `parallel_tool_calls`, `logprobs`,
//!   `metadata`, …) are not sent, since Cohere's v2 body has no place for them.

use super::error::ConvertError;
use super::types::{
    AssistantMessage, Block, ChatRequest as CohereRequest, Content, Function, FunctionCall,
    ImageUrl, Message as CohereMessage, ResponseFormat as CohereFormat, SystemMessage, Thinking,
    Tool as CohereTool, ToolCall as CohereToolCall, ToolMessage, UserMessage,
};
use asbru_schema::chat::{
    self, AssistantMessage as UAssistant, ChatRequest, ContentPart, FunctionDefinition,
    JsonSchemaFormat, Message, NamedFunction, NamedToolChoice, Nullable, ReasoningConfig,
    ReasoningDetail, ResponseFormat, Stop, StreamOptions, Tool, ToolCall, ToolChoice,
    ToolChoiceMode, reasoning_detail_type,
};
use serde_json::{Map, Value};

/// The Cohere request for a unified one. `stream` is left unset; the caller decides.
pub fn to_cohere(req: &ChatRequest) -> Result<CohereRequest, ConvertError> {
    if let Some(n) = req.extra.get("n").and_then(Value::as_u64)
        && n > 1
    {
        return Err(ConvertError::Unsupported("`n` greater than 1".to_owned()));
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for message in &req.messages {
        messages.push(message_to_cohere(message)?);
    }
    let mut out = CohereRequest {
        model: req.model.clone(),
        messages,
        max_tokens: req.output_limit(),
        stop_sequences: req.stop.as_ref().map(Stop::to_vec),
        temperature: req.temperature.clone(),
        p: req.top_p.clone(),
        k: req
            .extra
            .get("top_k")
            .and_then(Value::as_u64)
            .and_then(|k| u32::try_from(k).ok()),
        seed: req.extra.get("seed").and_then(Value::as_i64),
        frequency_penalty: number(req.extra.get("frequency_penalty")),
        presence_penalty: number(req.extra.get("presence_penalty")),
        thinking: thinking(req),
        ..CohereRequest::default()
    };
    let (tools, choice) = tools_to_cohere(req)?;
    out.tools = tools;
    out.tool_choice = choice;
    if let Some(strict) = req
        .tools
        .iter()
        .flatten()
        .find_map(|t| t.function.as_ref()?.strict)
    {
        out.strict_tools = Some(strict);
    }
    out.response_format = match &req.response_format {
        None | Some(ResponseFormat::Text { .. }) => None,
        Some(ResponseFormat::JsonObject { .. }) => Some(CohereFormat {
            kind: "json_object".to_owned(),
            json_schema: None,
            extra: Map::new(),
        }),
        Some(ResponseFormat::JsonSchema { json_schema, .. }) => Some(CohereFormat {
            kind: "json_object".to_owned(),
            json_schema: json_schema.schema.clone(),
            extra: Map::new(),
        }),
    };
    Ok(out)
}

fn number(v: Option<&Value>) -> Option<serde_json::Number> {
    match v {
        Some(Value::Number(n)) => Some(n.clone()),
        _ => None,
    }
}

fn thinking(req: &ChatRequest) -> Option<Thinking> {
    let config = req.reasoning.as_ref();
    let disabled = config.and_then(|r| r.enabled) == Some(false) || req.effort() == Some("none");
    if disabled {
        return Some(Thinking {
            kind: "disabled".to_owned(),
            token_budget: None,
        });
    }
    let budget = config.and_then(|r| r.max_tokens);
    let enabled = config.and_then(|r| r.enabled) == Some(true);
    (budget.is_some() || enabled || req.effort().is_some()).then(|| Thinking {
        kind: "enabled".to_owned(),
        token_budget: budget,
    })
}

fn tools_to_cohere(
    req: &ChatRequest,
) -> Result<(Option<Vec<CohereTool>>, Option<String>), ConvertError> {
    let Some(tools) = &req.tools else {
        return Ok((None, None));
    };
    let mut named = None;
    let choice = match &req.tool_choice {
        None | Some(ToolChoice::Mode(ToolChoiceMode::Auto)) => None,
        Some(ToolChoice::Mode(ToolChoiceMode::Required)) => Some("REQUIRED".to_owned()),
        Some(ToolChoice::Mode(ToolChoiceMode::None)) => Some("NONE".to_owned()),
        Some(ToolChoice::Named(n)) => {
            named = Some(n.function.name.as_str());
            Some("REQUIRED".to_owned())
        }
        Some(ToolChoice::Other(_)) => {
            return Err(ConvertError::Unsupported(
                "this form of `tool_choice`".to_owned(),
            ));
        }
    };
    let mut out = Vec::with_capacity(tools.len());
    for tool in tools {
        let Some(f) = tool.function.as_ref().filter(|_| tool.kind == "function") else {
            return Err(ConvertError::Unsupported(format!(
                "a tool of type `{}`",
                tool.kind
            )));
        };
        if named.is_some_and(|n| n != f.name) {
            continue;
        }
        out.push(CohereTool {
            kind: "function".to_owned(),
            function: Function {
                name: f.name.clone(),
                description: f.description.clone(),
                parameters: f.parameters.clone(),
                extra: Map::new(),
            },
            extra: Map::new(),
        });
    }
    Ok((Some(out), choice))
}

fn message_to_cohere(message: &Message) -> Result<CohereMessage, ConvertError> {
    Ok(match message {
        Message::System(m) | Message::Developer(m) => CohereMessage::System(SystemMessage {
            content: content_to_cohere(&m.content)?,
            extra: Map::new(),
        }),
        Message::User(m) => CohereMessage::User(UserMessage {
            content: content_to_cohere(&m.content)?,
            extra: Map::new(),
        }),
        Message::Assistant(m) => CohereMessage::Assistant(assistant_to_cohere(m)),
        Message::Tool(m) => CohereMessage::Tool(ToolMessage {
            tool_call_id: m.tool_call_id.clone(),
            content: content_to_cohere(&m.content)?,
            extra: Map::new(),
        }),
        Message::Function(_) => {
            return Err(ConvertError::Unsupported(
                "a legacy `function` role message".to_owned(),
            ));
        }
    })
}

fn content_to_cohere(content: &chat::Content) -> Result<Content, ConvertError> {
    let parts = match content {
        chat::Content::Text(s) => return Ok(Content::Text(s.clone())),
        chat::Content::Parts(parts) => parts,
    };
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        blocks.push(match part {
            ContentPart::Text(t) => Block::Text {
                text: t.text.clone(),
                extra: Map::new(),
            },
            ContentPart::ImageUrl(i) => Block::ImageUrl {
                image_url: ImageUrl {
                    url: i.image_url.url.clone(),
                    detail: i.image_url.detail.clone(),
                },
                extra: Map::new(),
            },
            ContentPart::InputAudio(_) => {
                return Err(ConvertError::Unsupported("audio input".to_owned()));
            }
            ContentPart::File(_) => {
                return Err(ConvertError::Unsupported("a file part".to_owned()));
            }
            ContentPart::Other(v) => {
                let kind = v.get("type").and_then(Value::as_str).unwrap_or("unknown");
                return Err(ConvertError::Unsupported(format!(
                    "a `{kind}` content part"
                )));
            }
        });
    }
    Ok(Content::Blocks(blocks))
}

fn assistant_to_cohere(m: &UAssistant) -> AssistantMessage {
    let text = m.text().filter(|t| !t.is_empty());
    let calls: Vec<CohereToolCall> = m
        .tool_calls
        .iter()
        .flatten()
        .map(|c| CohereToolCall {
            id: Some(c.id.clone()),
            kind: "function".to_owned(),
            function: FunctionCall {
                name: Some(c.function.name.clone()),
                arguments: c.function.arguments.clone(),
            },
        })
        .collect();
    let reasoning = m.reasoning_text().map(str::to_owned).or_else(|| {
        let joined: String = m
            .reasoning_details
            .iter()
            .flatten()
            .filter_map(|d| d.text.as_deref())
            .collect();
        (!joined.is_empty()).then_some(joined)
    });
    let mut out = AssistantMessage::default();
    if calls.is_empty() {
        out.content = match reasoning {
            Some(thinking) => Some(Content::Blocks(
                [
                    Some(Block::Thinking {
                        thinking,
                        extra: Map::new(),
                    }),
                    text.map(|text| Block::Text {
                        text,
                        extra: Map::new(),
                    }),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )),
            None => Some(Content::Text(text.unwrap_or_default())),
        };
    } else {
        out.tool_plan = text;
        out.tool_calls = Some(calls);
        if let Some(thinking) = reasoning {
            out.content = Some(Content::Blocks(vec![Block::Thinking {
                thinking,
                extra: Map::new(),
            }]));
        }
    }
    out
}

/// Cohere chat fields with no unified form and no effect elsewhere; they are not carried into
/// the unified request, which an OpenAI-compatible provider would receive verbatim.
const COHERE_ONLY_FIELDS: [&str; 5] = [
    "documents",
    "citation_options",
    "safety_mode",
    "priority",
    "logprobs",
];

/// The unified request for a Cohere one (the `/cohere/v2/chat` drop-in route).
///
/// * `k` is `top_k`; `seed` and the penalties keep their names; fields this module does not
///   know (Bifrost's `fallbacks`, …) are kept in `extra`.
/// * `documents` (grounding for the answer) become a system message after the leading system
///   messages, each document as its text, so every provider's model reads them; Cohere's
///   citations of them are not produced.
/// * `citation_options`, `safety_mode`, `priority` and `logprobs` have no unified form and are
///   left out ([`COHERE_ONLY_FIELDS`]).
/// * A stream asks for usage (`stream_options.include_usage`), since Cohere's `message-end`
///   always carries it.
pub fn from_cohere(req: &CohereRequest) -> ChatRequest {
    let mut messages: Vec<Message> = req.messages.iter().map(message_from_cohere).collect();
    if let Some(documents) = req.extra.get("documents").and_then(documents_message) {
        let at = messages
            .iter()
            .position(|m| !matches!(m, Message::System(_)))
            .unwrap_or(messages.len());
        messages.insert(at, documents);
    }
    let mut out = ChatRequest::new(req.model.clone(), messages);
    out.temperature = req.temperature.clone();
    out.top_p = req.p.clone();
    out.max_tokens = req.max_tokens;
    out.stop = req.stop_sequences.clone().map(Stop::Many);
    out.stream = req.stream;
    out.stream_options = (req.stream == Some(true)).then(|| StreamOptions {
        include_usage: Some(true),
        extra: Map::new(),
    });
    out.extra = req
        .extra
        .iter()
        .filter(|(key, _)| !COHERE_ONLY_FIELDS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if let Some(k) = req.k {
        out.extra.insert("top_k".to_owned(), Value::from(k));
    }
    if let Some(seed) = req.seed {
        out.extra.insert("seed".to_owned(), Value::from(seed));
    }
    for (key, value) in [
        ("frequency_penalty", &req.frequency_penalty),
        ("presence_penalty", &req.presence_penalty),
    ] {
        if let Some(v) = value {
            out.extra.insert(key.to_owned(), Value::Number(v.clone()));
        }
    }
    out.tools = req.tools.as_ref().map(|tools| {
        tools
            .iter()
            .map(|t| Tool {
                kind: "function".to_owned(),
                function: Some(FunctionDefinition {
                    name: t.function.name.clone(),
                    description: t.function.description.clone(),
                    parameters: t.function.parameters.clone(),
                    strict: req.strict_tools,
                    extra: Map::new(),
                }),
                extra: Map::new(),
            })
            .collect()
    });
    out.tool_choice = match req.tool_choice.as_deref() {
        Some("REQUIRED") => match req.tools.as_deref() {
            // One tool, required: the named choice it was made from.
            Some([only]) => Some(ToolChoice::Named(NamedToolChoice {
                kind: "function".to_owned(),
                function: NamedFunction {
                    name: only.function.name.clone(),
                    extra: Map::new(),
                },
                extra: Map::new(),
            })),
            _ => Some(ToolChoice::Mode(ToolChoiceMode::Required)),
        },
        Some("NONE") => Some(ToolChoice::Mode(ToolChoiceMode::None)),
        Some("AUTO") => Some(ToolChoice::Mode(ToolChoiceMode::Auto)),
        _ => None,
    };
    out.response_format =
        req.response_format
            .as_ref()
            .and_then(|f| match (f.kind.as_str(), &f.json_schema) {
                ("json_object", Some(schema)) => Some(ResponseFormat::JsonSchema {
                    json_schema: JsonSchemaFormat {
                        name: "response".to_owned(),
                        description: None,
                        schema: Some(schema.clone()),
                        strict: None,
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                }),
                ("json_object", None) => Some(ResponseFormat::JsonObject { extra: Map::new() }),
                _ => None,
            });
    if let Some(t) = &req.thinking {
        if t.kind == "disabled" {
            out.reasoning_effort = Some("none".to_owned());
        } else {
            out.reasoning = Some(ReasoningConfig {
                enabled: Some(true),
                max_tokens: t.token_budget,
                ..ReasoningConfig::default()
            });
        }
    }
    out
}

/// Cohere's `documents` (strings, or `{"id"?, "data"}` objects) as one system message:
/// `Document <id or position>:` then its text, documents apart by a blank line. `None` when
/// there are none.
fn documents_message(documents: &Value) -> Option<Message> {
    let documents = documents.as_array().filter(|d| !d.is_empty())?;
    let text = documents
        .iter()
        .enumerate()
        .map(|(i, doc)| {
            let id = doc
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| i.to_string(), str::to_owned);
            let body = match doc.get("data").unwrap_or(doc) {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            format!("Document {id}:\n{body}")
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    Some(Message::System(chat::SystemMessage {
        content: chat::Content::Text(text),
        name: None,
        extra: Map::new(),
    }))
}

fn message_from_cohere(m: &CohereMessage) -> Message {
    match m {
        CohereMessage::System(s) => Message::System(chat::SystemMessage {
            content: content_from_cohere(&s.content),
            name: None,
            extra: Map::new(),
        }),
        CohereMessage::User(u) => Message::User(chat::UserMessage {
            content: content_from_cohere(&u.content),
            name: None,
            extra: Map::new(),
        }),
        CohereMessage::Tool(t) => Message::Tool(chat::ToolMessage {
            content: content_from_cohere(&t.content),
            tool_call_id: t.tool_call_id.clone(),
            is_error: None,
            extra: Map::new(),
        }),
        CohereMessage::Assistant(a) => Message::Assistant(assistant_from_cohere(a)),
    }
}

/// A Cohere assistant message as the unified one: text (or the tool plan) as `content`,
/// thinking blocks as `reasoning` plus a `reasoning.text` entry, tool calls with their ids.
pub(crate) fn assistant_from_cohere(a: &AssistantMessage) -> UAssistant {
    let mut text = a.content.as_ref().map(Content::text).unwrap_or_default();
    if text.is_empty()
        && let Some(plan) = &a.tool_plan
    {
        text.clone_from(plan);
    }
    let thinking: String = match &a.content {
        Some(Content::Blocks(blocks)) => blocks
            .iter()
            .filter_map(|b| match b {
                Block::Thinking { thinking, .. } => Some(thinking.as_str()),
                _ => None,
            })
            .collect(),
        _ => String::new(),
    };
    let calls: Vec<ToolCall> = a
        .tool_calls
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            ToolCall::function(
                c.id.clone().unwrap_or_else(|| format!("call_{i}")),
                c.function.name.clone().unwrap_or_default(),
                c.function.arguments.clone(),
            )
        })
        .collect();
    let mut out = UAssistant {
        content: if text.is_empty() && !calls.is_empty() {
            Nullable::Null
        } else {
            Nullable::Value(chat::Content::Text(text))
        },
        ..UAssistant::default()
    };
    if !calls.is_empty() {
        out.tool_calls = Some(calls);
    }
    if !thinking.is_empty() {
        out.reasoning_details = Some(vec![ReasoningDetail {
            kind: reasoning_detail_type::TEXT.to_owned(),
            index: Some(0),
            text: Some(thinking.clone()),
            ..ReasoningDetail::default()
        }]);
        out.reasoning = Some(thinking);
    }
    out
}

fn content_from_cohere(c: &Content) -> chat::Content {
    match c {
        Content::Text(s) => chat::Content::Text(s.clone()),
        Content::Blocks(blocks) => chat::Content::Parts(
            blocks
                .iter()
                .filter_map(|b| match b {
                    Block::Text { text, .. } => Some(ContentPart::text(text.clone())),
                    Block::ImageUrl { image_url, .. } => {
                        let mut part = ContentPart::image_url(image_url.url.clone());
                        if let ContentPart::ImageUrl(p) = &mut part {
                            p.image_url.detail.clone_from(&image_url.detail);
                        }
                        Some(part)
                    }
                    // A document becomes its text: `data` as given when it is a string (tool
                    // results usually are), else its JSON, which is what the model reads.
                    Block::Document { document, .. } => {
                        let data = document.get("data").unwrap_or(document);
                        Some(ContentPart::text(match data {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        }))
                    }
                    Block::Thinking { .. } => None,
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_tool_choice_offers_only_that_tool() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "command-a-03-2025",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [
                {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
                {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}}
            ],
            "tool_choice": {"type": "function", "function": {"name": "b"}}
        }))
        .unwrap();
        let out = to_cohere(&req).unwrap();
        assert_eq!(out.tool_choice.as_deref(), Some("REQUIRED"));
        let tools = out.tools.unwrap();
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].function.name, "b");
    }

    #[test]
    fn documents_become_a_system_message_and_cohere_only_fields_stay_behind() {
        let req: CohereRequest = serde_json::from_value(json!({
            "model": "command-a-03-2025",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Who wrote it?"}
            ],
            "documents": ["Plain text.", {"id": "b", "data": {"author": "Ann"}}],
            "citation_options": {"mode": "FAST"},
            "safety_mode": "STRICT",
            "fallbacks": ["openai/gpt-4o-mini"]
        }))
        .unwrap();
        let out = serde_json::to_value(from_cohere(&req)).unwrap();
        assert_eq!(out["messages"][0]["content"], "Be brief.");
        assert_eq!(out["messages"][1]["role"], "system");
        assert_eq!(
            out["messages"][1]["content"],
            "Document 0:\nPlain text.\n\nDocument b:\n{\"author\":\"Ann\"}"
        );
        assert_eq!(out["messages"][2]["role"], "user");
        assert_eq!(out["fallbacks"], json!(["openai/gpt-4o-mini"]));
        for field in ["documents", "citation_options", "safety_mode"] {
            assert!(out.get(field).is_none(), "{field}: {out}");
        }
    }

    #[test]
    fn audio_and_n_are_refused() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "m", "n": 2, "messages": [{"role": "user", "content": "hi"}]
        }))
        .unwrap();
        assert!(to_cohere(&req).is_err());
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "m", "messages": [{"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}}
            ]}]
        }))
        .unwrap();
        assert!(to_cohere(&req).is_err());
    }
}
