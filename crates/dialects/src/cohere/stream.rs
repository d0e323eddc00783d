//! Streams: Cohere's chat events to unified chunks, and unified chunks to Cohere's events.
//!
//! Both directions are state machines fed one event (or chunk) at a time, so text reaches the
//! client as soon as the provider sends it. The caller frames SSE (see
//! [`crate::sse::SseFramer`]) and writes what these return.

use super::error::{StreamError, finish_failure};
use super::response::{
    finish_reason_from_cohere, finish_reason_to_cohere, usage_from_cohere, usage_to_cohere,
};
use super::types::{EventDelta, EventMessage, StreamEvent, Usage};
use asbru_schema::chat::{
    ChatChunk, ChatUsage, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Nullable,
    ReasoningDetail, ToolCallDelta, reasoning_detail_type,
};
use serde_json::{Map, Value, json};

/// Turns Cohere's chat events into unified chunks.
///
/// * `message-start` gives the first chunk (`role: assistant`, empty content).
/// * `content-delta` text is `content`; thinking is `reasoning` plus a `reasoning_details`
///   fragment; `tool-plan-delta` is `content` too (it is what the model says before calling).
/// * `tool-call-start` gives a tool-call delta with `index`, `id`, `type` and the name (and any
///   arguments already there), `tool-call-delta` the argument fragments.
/// * `message-end` gives the chunk with `finish_reason`, then a last chunk with no choices and
///   the whole usage (drop it if the client did not ask); `ERROR` and `TIMEOUT` are
///   [`StreamError::Upstream`] instead.
/// * `content-start`, `content-end`, `tool-call-end`, citations and `debug` give nothing.
#[derive(Debug)]
pub struct StreamToUnified {
    created: u64,
    id: String,
    model: String,
    started: bool,
    ended: bool,
    /// Unified tool index per Cohere tool-call `index`.
    tools: Vec<(u32, u32)>,
    next_tool: u32,
}

impl StreamToUnified {
    /// `created` is reported in every chunk; `model` too (Cohere's events do not name it).
    pub fn new(created: u64, model: impl Into<String>) -> Self {
        Self {
            created,
            id: String::new(),
            model: model.into(),
            started: false,
            ended: false,
            tools: Vec::new(),
            next_tool: 0,
        }
    }

    /// Handles one complete SSE frame (`event: …\ndata: …\n\n`). Frames without data give
    /// nothing; the payload's `type` decides, the `event:` name is used when it has none.
    pub fn push_frame(&mut self, frame: &[u8]) -> Result<Vec<ChatChunk>, StreamError> {
        let mut name = None;
        let mut data: Vec<u8> = Vec::new();
        let mut has_data = false;
        for line in frame.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(rest) = line.strip_prefix(b"event:") {
                let rest = rest.strip_prefix(b" ").unwrap_or(rest);
                name = std::str::from_utf8(rest).ok();
            } else if let Some(rest) = line.strip_prefix(b"data:") {
                if has_data {
                    data.push(b'\n');
                }
                data.extend_from_slice(rest.strip_prefix(b" ").unwrap_or(rest));
                has_data = true;
            }
        }
        if !has_data || data.trim_ascii() == b"[DONE]" {
            return Ok(Vec::new());
        }
        let mut value: Value =
            serde_json::from_slice(&data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        if let (Value::Object(map), Some(name)) = (&mut value, name)
            && !map.contains_key("type")
        {
            map.insert("type".to_owned(), Value::String(name.to_owned()));
        }
        let event: StreamEvent =
            serde_json::from_value(value).map_err(|e| StreamError::Malformed(e.to_string()))?;
        self.push_event(&event)
    }

    /// Handles one parsed event.
    pub fn push_event(&mut self, event: &StreamEvent) -> Result<Vec<ChatChunk>, StreamError> {
        if self.ended {
            return Ok(Vec::new());
        }
        let message = event.delta.as_ref().and_then(|d| d.message.as_ref());
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            if let Some(id) = &event.id {
                self.id.clone_from(id);
            }
            out.push(self.chunk(
                Delta {
                    role: Some("assistant".to_owned()),
                    content: Nullable::Value(String::new()),
                    ..Delta::default()
                },
                None,
            ));
            if event.kind == "message-start" {
                return Ok(out);
            }
        }
        match event.kind.as_str() {
            "content-delta" => {
                let content = message.and_then(|m| m.content.as_ref());
                if let Some(text) = content.and_then(|c| c.get("text")).and_then(Value::as_str) {
                    out.push(self.text(text));
                }
                if let Some(thinking) = content
                    .and_then(|c| c.get("thinking"))
                    .and_then(Value::as_str)
                {
                    out.push(self.chunk(
                        Delta {
                            reasoning: Some(thinking.to_owned()),
                            reasoning_details: Some(vec![ReasoningDetail {
                                kind: reasoning_detail_type::TEXT.to_owned(),
                                index: Some(0),
                                text: Some(thinking.to_owned()),
                                ..ReasoningDetail::default()
                            }]),
                            ..Delta::default()
                        },
                        None,
                    ));
                }
            }
            "tool-plan-delta" => {
                if let Some(plan) = message.and_then(|m| m.tool_plan.as_deref())
                    && !plan.is_empty()
                {
                    out.push(self.text(plan));
                }
            }
            "tool-call-start" => {
                let call = message.and_then(|m| m.tool_calls.as_ref());
                let call = match call {
                    Some(Value::Array(calls)) => calls.first(),
                    other => other,
                };
                let index = self.next_tool;
                self.next_tool += 1;
                self.tools.push((event.index.unwrap_or(index), index));
                let field = |k: &str| {
                    call.and_then(|c| c.get("function"))
                        .and_then(|f| f.get(k))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                out.push(
                    self.tool_delta(ToolCallDelta {
                        index,
                        id: call
                            .and_then(|c| c.get("id"))
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        kind: Some("function".to_owned()),
                        function: Some(FunctionCallDelta {
                            name: field("name"),
                            arguments: Some(field("arguments").unwrap_or_default()),
                            extra: Map::new(),
                        }),
                        extra: Map::new(),
                    }),
                );
            }
            "tool-call-delta" => {
                let arguments = message
                    .and_then(|m| m.tool_calls.as_ref())
                    .and_then(|c| c.get("function"))
                    .and_then(|f| f.get("arguments"))
                    .and_then(Value::as_str);
                if let Some(arguments) = arguments {
                    let index = event
                        .index
                        .and_then(|i| self.tools.iter().find(|(c, _)| *c == i))
                        .or(self.tools.last())
                        .map_or(0, |(_, u)| *u);
                    out.push(self.tool_delta(ToolCallDelta {
                        index,
                        id: None,
                        kind: None,
                        function: Some(FunctionCallDelta {
                            name: None,
                            arguments: Some(arguments.to_owned()),
                            extra: Map::new(),
                        }),
                        extra: Map::new(),
                    }));
                }
            }
            "message-end" => {
                self.ended = true;
                let delta = event.delta.as_ref();
                let reason = delta
                    .and_then(|d| d.finish_reason.as_deref())
                    .unwrap_or("COMPLETE");
                if let Some(err) = finish_failure(reason, delta.and_then(|d| d.error.as_deref())) {
                    return Err(StreamError::Upstream(err));
                }
                out.push(self.chunk(Delta::default(), Some(finish_reason_from_cohere(reason))));
                let usage = delta
                    .and_then(|d| d.usage.as_ref())
                    .map_or_else(ChatUsage::default, usage_from_cohere);
                let mut last = self.chunk(Delta::default(), None);
                last.choices.clear();
                last.usage = Nullable::Value(usage);
                out.push(last);
            }
            _ => {}
        }
        Ok(out)
    }

    /// Ok once `message-end` was seen; [`StreamError::Truncated`] before.
    pub fn finish(&self) -> Result<(), StreamError> {
        if self.ended {
            Ok(())
        } else {
            Err(StreamError::Truncated)
        }
    }

    fn text(&self, text: &str) -> ChatChunk {
        self.chunk(
            Delta {
                content: Nullable::Value(text.to_owned()),
                ..Delta::default()
            },
            None,
        )
    }

    fn tool_delta(&self, call: ToolCallDelta) -> ChatChunk {
        self.chunk(
            Delta {
                tool_calls: Some(vec![call]),
                ..Delta::default()
            },
            None,
        )
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: ChatChunk::OBJECT.to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                extra: Map::new(),
            }],
            usage: Nullable::Absent,
            extra: Map::new(),
        }
    }
}

/// What block is open on the Cohere side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    /// A content block (`text` or `thinking`) at this index.
    Content(u32, bool),
    /// A tool call at this Cohere index, for this unified index.
    Tool(u32, u32),
}

/// Turns unified chunks into Cohere's chat events, for the `/cohere/v2/chat` drop-in route.
///
/// The first chunk gives `message-start`; content and reasoning open a `content-start` (text or
/// thinking) and stream as `content-delta`; a tool-call delta with an id opens `tool-call-start`
/// (closing what was open) and argument fragments are `tool-call-delta`. The finish reason and
/// usage are remembered, and [`StreamFromUnified::finish`] closes the open block and sends
/// `message-end` with both; [`StreamFromUnified::fail`] ends the message the way Cohere ends a
/// failed generation (`finish_reason: ERROR` and the `error` text).
///
/// Text is content unless the converter was made [`StreamFromUnified::with_tool_plan`]: then it
/// is the plan of the tool calls that follow, sent as `tool-plan-delta` as Cohere does. Which
/// one it is cannot be seen from the text itself (it comes before the calls), so the caller
/// decides from the request: a request that forces a tool call (`tool_choice: REQUIRED`)
/// gets a plan.
#[derive(Debug)]
pub struct StreamFromUnified {
    started: bool,
    open: Open,
    next_content: u32,
    next_tool: u32,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
    /// Text is `tool-plan-delta`, not content.
    tool_plan: bool,
}

impl Default for StreamFromUnified {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamFromUnified {
    pub fn new() -> Self {
        Self {
            started: false,
            open: Open::None,
            next_content: 0,
            next_tool: 0,
            finish_reason: None,
            usage: None,
            tool_plan: false,
        }
    }

    /// The same converter with text sent as `tool-plan-delta` (see the type's doc).
    #[must_use]
    pub fn with_tool_plan(mut self) -> Self {
        self.tool_plan = true;
        self
    }

    /// The events for one chunk.
    pub fn push(&mut self, chunk: &ChatChunk) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        self.start(&mut out, &chunk.id);
        if let Some(usage) = chunk.usage.value() {
            self.usage = Some(usage_to_cohere(usage));
        }
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            let d = &choice.delta;
            if let Some(thinking) = d.reasoning.as_deref().filter(|t| !t.is_empty()) {
                let index = self.content(&mut out, true);
                out.push(content_delta(index, json!({"thinking": thinking})));
            }
            if let Some(text) = d.content.value().filter(|t| !t.is_empty()) {
                if self.tool_plan {
                    self.close(&mut out);
                    out.push(StreamEvent {
                        kind: "tool-plan-delta".to_owned(),
                        id: None,
                        index: None,
                        delta: Some(message_delta(EventMessage {
                            tool_plan: Some(text.clone()),
                            ..EventMessage::default()
                        })),
                    });
                } else {
                    let index = self.content(&mut out, false);
                    out.push(content_delta(index, json!({"text": text})));
                }
            }
            for call in d.tool_calls.iter().flatten() {
                let function = call.function.as_ref();
                let same = matches!(self.open, Open::Tool(_, u) if u == call.index);
                if !same || call.id.is_some() {
                    self.close(&mut out);
                    let index = self.next_tool;
                    self.next_tool += 1;
                    self.open = Open::Tool(index, call.index);
                    out.push(StreamEvent {
                        kind: "tool-call-start".to_owned(),
                        id: None,
                        index: Some(index),
                        delta: Some(message_delta(EventMessage {
                            tool_calls: Some(json!({
                                "id": call.id.clone().unwrap_or_default(),
                                "type": "function",
                                "function": {
                                    "name": function.and_then(|f| f.name.clone()).unwrap_or_default(),
                                    "arguments": ""
                                }
                            })),
                            ..EventMessage::default()
                        })),
                    });
                }
                if let (Open::Tool(index, _), Some(args)) = (
                    self.open,
                    function
                        .and_then(|f| f.arguments.as_deref())
                        .filter(|a| !a.is_empty()),
                ) {
                    out.push(StreamEvent {
                        kind: "tool-call-delta".to_owned(),
                        id: None,
                        index: Some(index),
                        delta: Some(message_delta(EventMessage {
                            tool_calls: Some(json!({"function": {"arguments": args}})),
                            ..EventMessage::default()
                        })),
                    });
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason.clone_from(&choice.finish_reason);
            }
        }
        out
    }

    /// Closes what is open and ends the message.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if !self.started {
            return out;
        }
        self.close(&mut out);
        out.push(StreamEvent {
            kind: "message-end".to_owned(),
            id: None,
            index: None,
            delta: Some(EventDelta {
                finish_reason: Some(finish_reason_to_cohere(self.finish_reason.as_ref())),
                usage: self.usage.take(),
                ..EventDelta::default()
            }),
        });
        self.started = false;
        out
    }

    /// Ends the message as a failed generation, as Cohere's own stream does: what is open is
    /// closed and `message-end` says `finish_reason: ERROR` with `error` (Cohere's SDKs read it
    /// as `delta.error`). A stream that failed before its first chunk still starts, so the
    /// client gets a whole message. Nothing more is sent after it.
    pub fn fail(&mut self, error: &str) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        self.start(&mut out, "");
        self.close(&mut out);
        out.push(StreamEvent {
            kind: "message-end".to_owned(),
            id: None,
            index: None,
            delta: Some(EventDelta {
                finish_reason: Some("ERROR".to_owned()),
                usage: self.usage.take(),
                error: Some(error.to_owned()),
                ..EventDelta::default()
            }),
        });
        self.started = false;
        out
    }

    /// `message-start` with the message's `id`, once.
    fn start(&mut self, out: &mut Vec<StreamEvent>, id: &str) {
        if self.started {
            return;
        }
        self.started = true;
        out.push(StreamEvent {
            kind: "message-start".to_owned(),
            id: Some(id.to_owned()),
            index: None,
            delta: Some(message_delta(EventMessage {
                role: Some("assistant".to_owned()),
                content: Some(json!([])),
                tool_plan: Some(String::new()),
                tool_calls: Some(json!([])),
                citations: Some(json!([])),
            })),
        });
    }

    /// The index of the open content block of this kind, opening one if needed.
    fn content(&mut self, out: &mut Vec<StreamEvent>, thinking: bool) -> u32 {
        if let Open::Content(index, t) = self.open
            && t == thinking
        {
            return index;
        }
        self.close(out);
        let index = self.next_content;
        self.next_content += 1;
        self.open = Open::Content(index, thinking);
        let content = if thinking {
            json!({"type": "thinking", "thinking": ""})
        } else {
            json!({"type": "text", "text": ""})
        };
        out.push(StreamEvent {
            kind: "content-start".to_owned(),
            id: None,
            index: Some(index),
            delta: Some(message_delta(EventMessage {
                content: Some(content),
                ..EventMessage::default()
            })),
        });
        index
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        let (kind, index) = match self.open {
            Open::None => return,
            Open::Content(i, _) => ("content-end", i),
            Open::Tool(i, _) => ("tool-call-end", i),
        };
        self.open = Open::None;
        out.push(StreamEvent {
            kind: kind.to_owned(),
            id: None,
            index: Some(index),
            delta: None,
        });
    }
}

fn message_delta(message: EventMessage) -> EventDelta {
    EventDelta {
        message: Some(message),
        ..EventDelta::default()
    }
}

fn content_delta(index: u32, content: Value) -> StreamEvent {
    StreamEvent {
        kind: "content-delta".to_owned(),
        id: None,
        index: Some(index),
        delta: Some(message_delta(EventMessage {
            content: Some(content),
            ..EventMessage::default()
        })),
    }
}

/// One event as an SSE frame: `event: {type}\ndata: {json}\n\n`, as Cohere sends them.
pub fn write_event(out: &mut Vec<u8>, event: &StreamEvent) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing plain data structures into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, event);
    out.extend_from_slice(b"\n\n");
}
