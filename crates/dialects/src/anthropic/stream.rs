//! Streams: Anthropic SSE events to unified chunks, and unified chunks to Anthropic events.
//!
//! Both directions are state machines fed one event (or chunk) at a time; neither buffers the
//! stream, so text reaches the client as soon as the provider sends it. The caller frames SSE
//! (see [`crate::sse::SseFramer`]) and writes what these return.

use super::error::ConvertError;
use super::error::{StreamError, error_from_stream_event};
use super::response::{
    finish_reason_from_anthropic, stop_reason_to_anthropic, usage_from_anthropic,
    usage_to_anthropic,
};
use super::types::{
    BlockDelta, ContentBlock, MessageDeltaBody, MessagesResponse, RedactedThinkingBlock, Role,
    StreamEvent, TextBlock, ThinkingBlock, ToolUseBlock, Usage as AnthropicUsage,
};
use asbru_schema::chat::{
    ChatChunk, ChatUsage, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Nullable,
    ReasoningDetail, ToolCallDelta, reasoning_detail_type,
};
use serde_json::{Map, Value, json};

/// What an Anthropic content block turned into on the unified side.
#[derive(Debug, Clone, Copy)]
enum Block {
    Text,
    /// A `tool_use` block: the unified `tool_calls[].index` it streams into.
    Tool(u32),
    /// A `thinking` or `redacted_thinking` block: its `reasoning_details[].index`.
    Reasoning(u32),
    /// A block with no unified form (server tools, search results): its deltas are skipped.
    Skipped,
}

/// Turns an Anthropic event stream into unified chunks.
///
/// * `message_start` gives the first chunk (`role: assistant`, empty content).
/// * Text deltas become `content`; `tool_use` blocks become tool-call deltas (the first with
///   `index`, `id`, `type` and the name, then argument fragments as they come); thinking deltas
///   become `reasoning` text plus a `reasoning_details` fragment, and the `signature_delta` a
///   `reasoning_details` entry with the signature, so a client can rebuild a replayable block.
/// * `message_delta` gives the chunk with `finish_reason` (mapped as in
///   [`finish_reason_from_anthropic`]); `message_stop` gives a last chunk with no choices and the
///   whole usage, as OpenAI's `include_usage` does (drop it if the client did not ask).
/// * `ping` and unknown events give nothing. An `error` event is returned as
///   [`StreamError::Upstream`], never as a finished stream, and so is a stream that ends without
///   `message_stop` (see [`StreamToUnified::finish`]).
#[derive(Debug)]
pub struct StreamToUnified {
    created: u64,
    id: String,
    model: String,
    started: bool,
    stopped: bool,
    /// Indexed by Anthropic block index.
    blocks: Vec<Option<Block>>,
    next_tool: u32,
    next_reasoning: u32,
    usage: AnthropicUsage,
}

impl StreamToUnified {
    /// `created` is the Unix time reported in every chunk.
    pub fn new(created: u64) -> Self {
        Self {
            created,
            id: String::new(),
            model: String::new(),
            started: false,
            stopped: false,
            blocks: Vec::new(),
            next_tool: 0,
            next_reasoning: 0,
            usage: AnthropicUsage::default(),
        }
    }

    /// Handles one event: the SSE `event:` name, when there was one, and the `data:` payload.
    ///
    /// The payload's own `type` decides (Anthropic sets both equal); the name is only used when
    /// the payload has no `type`.
    pub fn push(
        &mut self,
        event_name: Option<&str>,
        data: &[u8],
    ) -> Result<Vec<ChatChunk>, StreamError> {
        let mut value: Value =
            serde_json::from_slice(data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        if let (Value::Object(map), Some(name)) = (&mut value, event_name)
            && !map.contains_key("type")
        {
            map.insert("type".to_owned(), Value::String(name.to_owned()));
        }
        match StreamEvent::from_value(value) {
            Ok(Some(event)) => self.push_event(event),
            Ok(None) => Ok(Vec::new()),
            Err(e) => Err(StreamError::Malformed(e.to_string())),
        }
    }

    /// Handles one complete SSE frame (`event: …\ndata: …\n\n`), as [`crate::sse::SseFramer`]
    /// returns them. Comment-only frames give nothing.
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
        if !has_data {
            return Ok(Vec::new());
        }
        self.push(name, &data)
    }

    /// Handles one parsed event.
    pub fn push_event(&mut self, event: StreamEvent) -> Result<Vec<ChatChunk>, StreamError> {
        if let StreamEvent::Error { error } = &event {
            return Err(StreamError::Upstream(error_from_stream_event(error)));
        }
        if self.stopped {
            // Anthropic sends nothing after `message_stop`; anything else is ignored, not fatal.
            return Ok(Vec::new());
        }
        match event {
            StreamEvent::Ping | StreamEvent::Error { .. } => Ok(Vec::new()),
            StreamEvent::MessageStart { message } => {
                if self.started {
                    return Err(StreamError::OutOfOrder("second message_start".to_owned()));
                }
                self.started = true;
                self.id = message.id;
                self.model = message.model;
                self.usage = message.usage;
                Ok(vec![self.chunk(
                    Delta {
                        role: Some("assistant".to_owned()),
                        content: Nullable::Value(String::new()),
                        ..Delta::default()
                    },
                    None,
                    Map::new(),
                )])
            }
            other if !self.started => Err(StreamError::OutOfOrder(format!(
                "{} before message_start",
                other.name()
            ))),
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => Ok(self.block_start(index, content_block)),
            StreamEvent::ContentBlockDelta { index, delta } => self.block_delta(index, delta),
            StreamEvent::ContentBlockStop { .. } => Ok(Vec::new()),
            StreamEvent::MessageDelta { delta, usage } => Ok(self.message_delta(delta, usage)),
            StreamEvent::MessageStop => {
                self.stopped = true;
                let mut last = self.chunk(Delta::default(), None, Map::new());
                last.choices.clear();
                last.usage = Nullable::Value(self.usage());
                Ok(vec![last])
            }
        }
    }

    /// Call when the upstream body ends: a stream without `message_stop` is an error, so the
    /// client is never told a cut-off answer finished normally.
    pub fn finish(&self) -> Result<(), StreamError> {
        if self.stopped {
            Ok(())
        } else {
            Err(StreamError::Truncated)
        }
    }

    /// The usage so far (complete after `message_stop`).
    pub fn usage(&self) -> ChatUsage {
        usage_from_anthropic(&self.usage)
    }

    fn chunk(
        &self,
        delta: Delta,
        finish_reason: Option<FinishReason>,
        extra: Map<String, Value>,
    ) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: ChatChunk::OBJECT.to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason,
                extra,
            }],
            usage: Nullable::Absent,
            extra: Map::new(),
        }
    }

    fn set_block(&mut self, index: u32, block: Block) {
        let i = usize::try_from(index).unwrap_or(usize::MAX);
        if i >= self.blocks.len() {
            // Indexes are small and dense (one per content block). An index far beyond the
            // blocks seen so far is not recorded, so a bad upstream cannot make this allocate
            // at will; its deltas are then reported as out of order.
            if i > self.blocks.len() + 1024 {
                return;
            }
            self.blocks.resize(i + 1, None);
        }
        self.blocks[i] = Some(block);
    }

    fn block(&self, index: u32) -> Option<Block> {
        let i = usize::try_from(index).ok()?;
        self.blocks.get(i).copied().flatten()
    }

    fn block_start(&mut self, index: u32, block: ContentBlock) -> Vec<ChatChunk> {
        match block {
            ContentBlock::Text(t) => {
                self.set_block(index, Block::Text);
                if t.text.is_empty() {
                    Vec::new()
                } else {
                    vec![self.content_chunk(t.text)]
                }
            }
            ContentBlock::ToolUse(t) => {
                let tool = self.next_tool;
                self.next_tool += 1;
                self.set_block(index, Block::Tool(tool));
                // The input arrives as `input_json_delta`s; a non-empty `input` here (possible for
                // blocks that are not streamed) is sent as the first fragment instead.
                let arguments = match &t.input {
                    Value::Object(m) if !m.is_empty() => t.input.to_string(),
                    _ => String::new(),
                };
                vec![self.chunk(
                    Delta {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: tool,
                            id: Some(t.id),
                            kind: Some("function".to_owned()),
                            function: Some(FunctionCallDelta {
                                name: Some(t.name),
                                arguments: Some(arguments),
                                extra: Map::new(),
                            }),
                            extra: Map::new(),
                        }]),
                        ..Delta::default()
                    },
                    None,
                    Map::new(),
                )]
            }
            ContentBlock::Thinking(t) => {
                let r = self.next_reasoning;
                self.next_reasoning += 1;
                self.set_block(index, Block::Reasoning(r));
                let mut out = Vec::new();
                if !t.thinking.is_empty() {
                    out.push(self.reasoning_chunk(r, Some(t.thinking), None));
                }
                if let Some(sig) = t.signature.filter(|s| !s.is_empty()) {
                    out.push(self.reasoning_chunk(r, None, Some(sig)));
                }
                out
            }
            ContentBlock::RedactedThinking(r) => {
                let ri = self.next_reasoning;
                self.next_reasoning += 1;
                self.set_block(index, Block::Reasoning(ri));
                vec![self.chunk(
                    Delta {
                        reasoning_details: Some(vec![ReasoningDetail {
                            kind: reasoning_detail_type::ENCRYPTED.to_owned(),
                            index: Some(ri),
                            data: Some(r.data),
                            extra: super::tagged(),
                            ..ReasoningDetail::default()
                        }]),
                        ..Delta::default()
                    },
                    None,
                    Map::new(),
                )]
            }
            _ => {
                self.set_block(index, Block::Skipped);
                Vec::new()
            }
        }
    }

    fn block_delta(
        &mut self,
        index: u32,
        delta: BlockDelta,
    ) -> Result<Vec<ChatChunk>, StreamError> {
        let Some(block) = self.block(index) else {
            return Err(StreamError::OutOfOrder(format!(
                "content_block_delta for block {index}, which was never started"
            )));
        };
        Ok(match (block, delta) {
            (Block::Text, BlockDelta::TextDelta { text }) => {
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![self.content_chunk(text)]
                }
            }
            (Block::Tool(tool), BlockDelta::InputJsonDelta { partial_json }) => {
                if partial_json.is_empty() {
                    Vec::new()
                } else {
                    vec![self.chunk(
                        Delta {
                            tool_calls: Some(vec![ToolCallDelta {
                                index: tool,
                                function: Some(FunctionCallDelta {
                                    name: None,
                                    arguments: Some(partial_json),
                                    extra: Map::new(),
                                }),
                                ..ToolCallDelta::default()
                            }]),
                            ..Delta::default()
                        },
                        None,
                        Map::new(),
                    )]
                }
            }
            (Block::Reasoning(r), BlockDelta::ThinkingDelta { thinking }) => {
                vec![self.reasoning_chunk(r, Some(thinking), None)]
            }
            (Block::Reasoning(r), BlockDelta::SignatureDelta { signature }) => {
                vec![self.reasoning_chunk(r, None, Some(signature))]
            }
            // Citations, deltas of skipped blocks, and future delta types.
            _ => Vec::new(),
        })
    }

    fn message_delta(
        &mut self,
        delta: MessageDeltaBody,
        usage: Option<AnthropicUsage>,
    ) -> Vec<ChatChunk> {
        if let Some(u) = usage {
            // Counts are cumulative. `output_tokens` is always there; newer API versions repeat
            // the input counts, older ones leave them to `message_start`.
            self.usage.output_tokens = u.output_tokens;
            if u.input_tokens > 0 {
                self.usage.input_tokens = u.input_tokens;
            }
            if u.cache_creation_input_tokens.is_some() {
                self.usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
            }
            if u.cache_read_input_tokens.is_some() {
                self.usage.cache_read_input_tokens = u.cache_read_input_tokens;
            }
        }
        let Some(stop_reason) = delta.stop_reason else {
            return Vec::new();
        };
        let mut extra = Map::new();
        if let Some(seq) = delta.stop_sequence {
            extra.insert("stop".to_owned(), Value::String(seq));
        }
        vec![self.chunk(
            Delta::default(),
            Some(finish_reason_from_anthropic(&stop_reason)),
            extra,
        )]
    }

    fn content_chunk(&self, text: String) -> ChatChunk {
        self.chunk(
            Delta {
                content: Nullable::Value(text),
                ..Delta::default()
            },
            None,
            Map::new(),
        )
    }

    fn reasoning_chunk(
        &self,
        index: u32,
        text: Option<String>,
        signature: Option<String>,
    ) -> ChatChunk {
        self.chunk(
            Delta {
                reasoning: text.clone(),
                reasoning_details: Some(vec![ReasoningDetail {
                    kind: reasoning_detail_type::TEXT.to_owned(),
                    index: Some(index),
                    text,
                    signature,
                    extra: super::tagged(),
                    ..ReasoningDetail::default()
                }]),
                ..Delta::default()
            },
            None,
            Map::new(),
        )
    }
}

/// The block currently open on the Anthropic side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// Thinking for the unified reasoning block with this index (if the chunks said).
    Thinking(Option<u32>),
    /// The unified tool call with this index.
    Tool(u32),
}

/// Turns unified chunks into an Anthropic event sequence, for clients of the `/anthropic`
/// drop-in routes.
///
/// The output is always well formed: exactly one `message_start` (sent with the first chunk),
/// then content blocks each opened with `content_block_start`, fed with deltas and closed with
/// `content_block_stop` before the next one opens, and — from [`StreamFromUnified::finish`] —
/// one `message_delta` with the stop reason and usage followed by `message_stop`. Only choice 0
/// is used (Anthropic has no `n`).
///
/// Reasoning fragments open a `thinking` block, their signatures become `signature_delta`s, and
/// encrypted entries become `redacted_thinking` blocks. Tool calls open a `tool_use` block on
/// their first fragment and stream argument text as `input_json_delta`. OpenAI-compatible
/// providers stream one tool call after another; a fragment for a call whose block was already
/// closed cannot be expressed in Anthropic's format and is an error.
#[derive(Debug, Default)]
pub struct StreamFromUnified {
    started: bool,
    finished: bool,
    next_index: u32,
    open: Option<(u32, Open)>,
    closed_tools: Vec<u32>,
    stop_reason: Option<String>,
    stop_sequence: Option<String>,
    usage: Option<ChatUsage>,
}

impl StreamFromUnified {
    /// A converter for one stream; nothing is sent until the first chunk (or `finish`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one unified chunk, returning the events to send.
    pub fn push(&mut self, chunk: &ChatChunk) -> Result<Vec<StreamEvent>, ConvertError> {
        let mut out = Vec::new();
        if self.finished {
            return Ok(out);
        }
        if !self.started {
            self.start(&chunk.id, &chunk.model, &mut out);
        }
        if let Some(u) = chunk.usage.value() {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return Ok(out);
        };
        let delta = &choice.delta;

        match &delta.reasoning_details {
            Some(details) if !details.is_empty() => {
                for d in details {
                    self.reasoning_detail(d, &mut out);
                }
            }
            _ => {
                let text = delta
                    .reasoning
                    .as_deref()
                    .or_else(|| delta.extra.get("reasoning_content").and_then(Value::as_str));
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    let index = self.ensure(Open::Thinking(None), &mut out);
                    out.push(thinking_delta(index, text));
                }
            }
        }

        if let Some(text) = delta.content.value().filter(|t| !t.is_empty()) {
            let index = self.ensure(Open::Text, &mut out);
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta::TextDelta { text: text.clone() },
            });
        }

        for call in delta.tool_calls.iter().flatten() {
            self.tool_call(call, &mut out)?;
        }

        if let Some(finish) = &choice.finish_reason {
            self.stop_sequence = choice
                .extra
                .get("stop")
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.stop_reason = Some(stop_reason_to_anthropic(
                finish,
                self.stop_sequence.as_deref(),
            ));
            self.close(&mut out);
        }
        Ok(out)
    }

    /// Call once the unified stream has ended normally: closes the open block and sends
    /// `message_delta` (stop reason, usage) and `message_stop`. Later calls return nothing.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        if !self.started {
            self.start("", "", &mut out);
        }
        self.close(&mut out);
        self.finished = true;
        let usage = self
            .usage
            .as_ref()
            .map(usage_to_anthropic)
            .unwrap_or_default();
        out.push(StreamEvent::MessageDelta {
            delta: MessageDeltaBody {
                stop_reason: Some(
                    self.stop_reason
                        .clone()
                        .unwrap_or_else(|| "end_turn".to_owned()),
                ),
                stop_sequence: self.stop_sequence.clone(),
                extra: Map::new(),
            },
            usage: Some(usage),
        });
        out.push(StreamEvent::MessageStop);
        out
    }

    fn start(&mut self, id: &str, model: &str, out: &mut Vec<StreamEvent>) {
        self.started = true;
        let input_tokens = self
            .usage
            .as_ref()
            .map(|u| usage_to_anthropic(u).input_tokens)
            .unwrap_or(0);
        out.push(StreamEvent::MessageStart {
            message: MessagesResponse {
                id: id.to_owned(),
                kind: "message".to_owned(),
                role: Role::Assistant,
                content: Vec::new(),
                model: model.to_owned(),
                stop_reason: None,
                stop_sequence: None,
                usage: AnthropicUsage {
                    input_tokens,
                    ..AnthropicUsage::default()
                },
                extra: Map::new(),
            },
        });
    }

    /// Makes `want` the open block (closing any other), returning its Anthropic index.
    fn ensure(&mut self, want: Open, out: &mut Vec<StreamEvent>) -> u32 {
        if let Some((index, open)) = self.open {
            let same = match (open, want) {
                (Open::Thinking(a), Open::Thinking(b)) => a.is_none() || b.is_none() || a == b,
                (a, b) => a == b,
            };
            if same {
                return index;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        let block = match want {
            Open::Text => ContentBlock::Text(TextBlock {
                text: String::new(),
                extra: Map::new(),
            }),
            Open::Thinking(_) => ContentBlock::Thinking(ThinkingBlock {
                thinking: String::new(),
                signature: Some(String::new()),
                extra: Map::new(),
            }),
            // Tool blocks are opened by `tool_call`, which knows the id and name.
            Open::Tool(_) => ContentBlock::ToolUse(ToolUseBlock {
                id: String::new(),
                name: String::new(),
                input: json!({}),
                extra: Map::new(),
            }),
        };
        out.push(StreamEvent::ContentBlockStart {
            index,
            content_block: block,
        });
        self.open = Some((index, want));
        index
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, open)) = self.open.take() {
            if let Open::Tool(t) = open {
                self.closed_tools.push(t);
            }
            out.push(StreamEvent::ContentBlockStop { index });
        }
    }

    fn reasoning_detail(&mut self, d: &ReasoningDetail, out: &mut Vec<StreamEvent>) {
        if d.kind == reasoning_detail_type::ENCRYPTED {
            if let Some(data) = &d.data {
                self.close(out);
                let index = self.next_index;
                self.next_index += 1;
                out.push(StreamEvent::ContentBlockStart {
                    index,
                    content_block: ContentBlock::RedactedThinking(RedactedThinkingBlock {
                        data: data.clone(),
                        extra: Map::new(),
                    }),
                });
                out.push(StreamEvent::ContentBlockStop { index });
            }
            return;
        }
        let text = d.text.as_deref().or(d.summary.as_deref());
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            let index = self.ensure(Open::Thinking(d.index), out);
            self.open = Some((index, Open::Thinking(d.index)));
            out.push(thinking_delta(index, text));
        }
        if let Some(signature) = super::client_signature(d) {
            let index = self.ensure(Open::Thinking(d.index), out);
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta::SignatureDelta { signature },
            });
        }
    }

    fn tool_call(
        &mut self,
        call: &ToolCallDelta,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ConvertError> {
        let is_open = matches!(self.open, Some((_, Open::Tool(t))) if t == call.index);
        let index = if is_open && call.id.is_none() {
            self.open.map(|(i, _)| i).unwrap_or(0)
        } else {
            if self.closed_tools.contains(&call.index) {
                return Err(ConvertError::OutOfOrder(format!(
                    "tool call {} continued after another block started",
                    call.index
                )));
            }
            self.close(out);
            let index = self.next_index;
            self.next_index += 1;
            let function = call.function.as_ref();
            out.push(StreamEvent::ContentBlockStart {
                index,
                content_block: ContentBlock::ToolUse(ToolUseBlock {
                    id: call
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("toolu_{}", call.index)),
                    name: function.and_then(|f| f.name.clone()).unwrap_or_default(),
                    input: json!({}),
                    extra: Map::new(),
                }),
            });
            self.open = Some((index, Open::Tool(call.index)));
            index
        };
        if let Some(args) = call
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty())
        {
            out.push(StreamEvent::ContentBlockDelta {
                index,
                delta: BlockDelta::InputJsonDelta {
                    partial_json: args.to_owned(),
                },
            });
        }
        Ok(())
    }
}

fn thinking_delta(index: u32, text: &str) -> StreamEvent {
    StreamEvent::ContentBlockDelta {
        index,
        delta: BlockDelta::ThinkingDelta {
            thinking: text.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_before_message_start_are_out_of_order() {
        let mut s = StreamToUnified::new(0);
        let r = s.push(None, br#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#);
        assert!(matches!(r, Err(StreamError::OutOfOrder(_))));
    }

    #[test]
    fn event_name_fills_a_missing_type() {
        let mut s = StreamToUnified::new(0);
        let chunks = s
            .push(
                Some("message_start"),
                br#"{"message":{"id":"msg_1","model":"m","content":[]}}"#,
            )
            .unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].id, "msg_1");
    }

    #[test]
    fn a_stream_without_message_stop_is_truncated() {
        let mut s = StreamToUnified::new(0);
        s.push(
            None,
            br#"{"type":"message_start","message":{"id":"msg_1","model":"m","content":[]}}"#,
        )
        .unwrap();
        assert!(matches!(s.finish(), Err(StreamError::Truncated)));
    }

    #[test]
    fn finish_without_chunks_is_still_well_formed() {
        let mut s = StreamFromUnified::new();
        let names: Vec<_> = s.finish().iter().map(StreamEvent::name).collect();
        assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
        assert!(s.finish().is_empty());
    }
}
