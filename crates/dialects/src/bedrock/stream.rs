//! Streams: ConverseStream events to unified chunks, and unified chunks to ConverseStream events.
//!
//! Both directions are state machines fed one event (or chunk) at a time; neither buffers the
//! stream, so text reaches the client as soon as the provider sends it. Framing is
//! [`super::eventstream`]'s: [`StreamToUnified::push_bytes`] takes the raw body in any pieces,
//! and [`super::eventstream::encode_event`] frames what [`StreamFromUnified`] returns.

use super::error::{ConvertError, StreamError, error_from_stream_exception};
use super::eventstream::{FrameDecoder, parse_event};
use super::response::{
    ResponseOptions, finish_reason_from_bedrock, stop_reason_to_bedrock, usage_from_bedrock,
    usage_to_bedrock,
};
use super::types::{
    BlockDelta, BlockStart, ContentBlockDeltaEvent, ContentBlockStartEvent, ContentBlockStopEvent,
    MessageStartEvent, MessageStopEvent, MetadataEvent, Metrics, ReasoningDelta, Role, StreamEvent,
    ToolUseStart,
};
use asbru_schema::GatewayError;
use asbru_schema::chat::{
    ChatChunk, ChatUsage, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Nullable,
    ReasoningDetail, ToolCallDelta, reasoning_detail_type,
};
use aws_smithy_types::event_stream::Message as FrameMessage;
use serde_json::{Map, Value};

/// What a Bedrock content block turned into on the unified side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    /// A `toolUse` block: the unified `tool_calls[].index` it streams into.
    Tool(u32),
    /// The structured-output tool's call: its input streams as content.
    Structured,
    /// A reasoning block: its `reasoning_details[].index`.
    Reasoning(u32),
    /// A block with no unified form (citations, …): its deltas are skipped.
    Skipped,
}

/// Turns a ConverseStream into unified chunks.
///
/// * `messageStart` gives the first chunk (`role: assistant`, empty content).
/// * Text deltas become `content`. A `toolUse` `contentBlockStart` becomes the first tool-call
///   delta (`index`, `id`, `type`, name, empty arguments) and its input deltas argument
///   fragments. Reasoning text deltas become `reasoning` plus a `reasoning_details` fragment;
///   the `signature` delta a `reasoning_details` entry with the signature; `redactedContent` a
///   `reasoning.encrypted` entry — so a client can rebuild replayable blocks.
/// * `messageStop` gives the chunk with `finish_reason` ([`finish_reason_from_bedrock`]; a
///   malformed-output stop is an error); `metadata` gives a last chunk with no choices and the
///   usage, as OpenAI's `include_usage` does (drop it if the client did not ask).
/// * With a structured-output tool ([`ResponseOptions::structured_output_tool`]), that tool's
///   input streams as `content` and its `tool_use` stop becomes `stop`.
/// * Exception events are returned as [`StreamError::Upstream`], never as a finished stream;
///   so is a stream that ends without `messageStop` ([`StreamToUnified::finish`]). Unknown
///   events give nothing.
#[derive(Debug)]
pub struct StreamToUnified {
    opts: ResponseOptions,
    decoder: FrameDecoder,
    started: bool,
    stopped: bool,
    /// Indexed by Bedrock `contentBlockIndex`.
    blocks: Vec<Option<Block>>,
    next_tool: u32,
    next_reasoning: u32,
}

/// Block indexes beyond this are refused, so a hostile index cannot make the block table huge.
const MAX_BLOCKS: u32 = 4096;

impl StreamToUnified {
    /// A converter reporting `opts.id`, `opts.model` and `opts.created` in every chunk.
    pub fn new(opts: ResponseOptions) -> Self {
        Self::with_decoder(opts, FrameDecoder::new())
    }

    /// The same, with a decoder of a chosen message-size limit.
    pub fn with_decoder(opts: ResponseOptions, decoder: FrameDecoder) -> Self {
        Self {
            opts,
            decoder,
            started: false,
            stopped: false,
            blocks: Vec::new(),
            next_tool: 0,
            next_reasoning: 0,
        }
    }

    /// Feeds raw body bytes, in whatever pieces they arrived, and returns the chunks of every
    /// event completed by them.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, StreamError> {
        self.decoder.push(bytes);
        let mut out = Vec::new();
        while let Some(message) = self
            .decoder
            .next_message()
            .map_err(|e| StreamError::Malformed(e.to_string()))?
        {
            out.append(&mut self.push_message(&message)?);
        }
        Ok(out)
    }

    /// Handles one decoded event-stream message.
    pub fn push_message(&mut self, message: &FrameMessage) -> Result<Vec<ChatChunk>, StreamError> {
        let event = parse_event(message).map_err(|e| StreamError::Malformed(e.to_string()))?;
        self.push(event)
    }

    /// Handles one event.
    pub fn push(&mut self, event: StreamEvent) -> Result<Vec<ChatChunk>, StreamError> {
        if let StreamEvent::Exception(e) = &event {
            return Err(StreamError::Upstream(error_from_stream_exception(e)));
        }
        if let StreamEvent::Unknown { .. } = event {
            return Ok(Vec::new());
        }
        if !self.started && !matches!(event, StreamEvent::MessageStart(_)) {
            return Err(StreamError::OutOfOrder(format!(
                "`{}` before messageStart",
                event.event_type()
            )));
        }
        Ok(match event {
            StreamEvent::MessageStart(_) => {
                if self.started {
                    return Err(StreamError::OutOfOrder("a second messageStart".to_owned()));
                }
                self.started = true;
                vec![self.chunk(
                    Delta {
                        role: Some("assistant".to_owned()),
                        content: Nullable::Value(String::new()),
                        ..Delta::default()
                    },
                    None,
                    Map::new(),
                )]
            }
            StreamEvent::ContentBlockStart(e) => self.block_start(e)?,
            StreamEvent::ContentBlockDelta(e) => self.block_delta(e)?,
            StreamEvent::ContentBlockStop(_) => Vec::new(),
            StreamEvent::MessageStop(e) => self.message_stop(e)?,
            StreamEvent::Metadata(e) => {
                let mut chunk = self.chunk(Delta::default(), None, Map::new());
                chunk.choices.clear();
                chunk.usage = Nullable::Value(usage_from_bedrock(&e.usage));
                vec![chunk]
            }
            StreamEvent::Exception(_) | StreamEvent::Unknown { .. } => Vec::new(),
        })
    }

    /// Call when the body has ended: an error unless `messageStop` arrived and no partial
    /// message is left over.
    pub fn finish(&mut self) -> Result<(), StreamError> {
        if self.decoder.buffered() > 0 {
            return Err(StreamError::Malformed(format!(
                "the body ended inside an event-stream message ({} bytes left over)",
                self.decoder.buffered()
            )));
        }
        if self.stopped {
            Ok(())
        } else {
            Err(StreamError::Truncated)
        }
    }

    fn slot(&mut self, index: u32) -> Result<&mut Option<Block>, StreamError> {
        if index >= MAX_BLOCKS {
            return Err(StreamError::OutOfOrder(format!(
                "content block index {index} is beyond {MAX_BLOCKS}"
            )));
        }
        let i = index as usize;
        if self.blocks.len() <= i {
            self.blocks.resize(i + 1, None);
        }
        Ok(&mut self.blocks[i])
    }

    fn block_start(&mut self, e: ContentBlockStartEvent) -> Result<Vec<ChatChunk>, StreamError> {
        let BlockStart::ToolUse(start) = e.start else {
            *self.slot(e.content_block_index)? = Some(Block::Skipped);
            return Ok(Vec::new());
        };
        if self.slot(e.content_block_index)?.is_some() {
            return Err(StreamError::OutOfOrder(format!(
                "content block {} started twice",
                e.content_block_index
            )));
        }
        if self.opts.structured_output_tool.as_deref() == Some(start.name.as_str()) {
            *self.slot(e.content_block_index)? = Some(Block::Structured);
            return Ok(Vec::new());
        }
        let index = self.next_tool;
        self.next_tool += 1;
        *self.slot(e.content_block_index)? = Some(Block::Tool(index));
        Ok(vec![self.tool_chunk(ToolCallDelta {
            index,
            id: Some(start.tool_use_id),
            kind: Some("function".to_owned()),
            function: Some(FunctionCallDelta {
                name: Some(start.name),
                arguments: Some(String::new()),
                extra: Map::new(),
            }),
            extra: Map::new(),
        })])
    }

    fn block_delta(&mut self, e: ContentBlockDeltaEvent) -> Result<Vec<ChatChunk>, StreamError> {
        let known = *self.slot(e.content_block_index)?;
        let block = match (known, &e.delta) {
            (Some(b), _) => b,
            (None, BlockDelta::Text(_)) => Block::Text,
            (None, BlockDelta::ReasoningContent(_)) => {
                let r = self.next_reasoning;
                self.next_reasoning += 1;
                Block::Reasoning(r)
            }
            (None, BlockDelta::ToolUse { .. }) => {
                return Err(StreamError::OutOfOrder(format!(
                    "tool input for block {} before its contentBlockStart",
                    e.content_block_index
                )));
            }
            (None, BlockDelta::Other(_)) => Block::Skipped,
        };
        *self.slot(e.content_block_index)? = Some(block);
        Ok(match (block, e.delta) {
            (Block::Text, BlockDelta::Text(text))
            | (Block::Structured, BlockDelta::ToolUse { input: text }) => {
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![self.chunk(
                        Delta {
                            content: Nullable::Value(text),
                            ..Delta::default()
                        },
                        None,
                        Map::new(),
                    )]
                }
            }
            (Block::Tool(index), BlockDelta::ToolUse { input }) => {
                if input.is_empty() {
                    Vec::new()
                } else {
                    vec![self.tool_chunk(ToolCallDelta {
                        index,
                        function: Some(FunctionCallDelta {
                            arguments: Some(input),
                            ..FunctionCallDelta::default()
                        }),
                        ..ToolCallDelta::default()
                    })]
                }
            }
            (Block::Reasoning(index), BlockDelta::ReasoningContent(r)) => match r {
                ReasoningDelta::Text(text) => vec![self.reasoning_chunk(ReasoningDetail {
                    kind: reasoning_detail_type::TEXT.to_owned(),
                    index: Some(index),
                    text: Some(text),
                    ..ReasoningDetail::default()
                })],
                ReasoningDelta::Signature(signature) => {
                    vec![self.reasoning_chunk(ReasoningDetail {
                        kind: reasoning_detail_type::TEXT.to_owned(),
                        index: Some(index),
                        signature: Some(signature),
                        ..ReasoningDetail::default()
                    })]
                }
                ReasoningDelta::RedactedContent(data) => {
                    vec![self.reasoning_chunk(ReasoningDetail {
                        kind: reasoning_detail_type::ENCRYPTED.to_owned(),
                        index: Some(index),
                        data: Some(data),
                        ..ReasoningDetail::default()
                    })]
                }
                ReasoningDelta::Other(_) => Vec::new(),
            },
            (Block::Skipped, _) => Vec::new(),
            (block, delta) => {
                return Err(StreamError::OutOfOrder(format!(
                    "a {delta:?} delta in a {block:?} block"
                )));
            }
        })
    }

    fn message_stop(&mut self, e: MessageStopEvent) -> Result<Vec<ChatChunk>, StreamError> {
        if self.stopped {
            return Err(StreamError::OutOfOrder("a second messageStop".to_owned()));
        }
        self.stopped = true;
        let mut finish = finish_reason_from_bedrock(&e.stop_reason)
            .map_err(|err| StreamError::Upstream(GatewayError::from(err)))?;
        let structured = self.blocks.contains(&Some(Block::Structured));
        if structured && finish == FinishReason::ToolCalls && self.next_tool == 0 {
            finish = FinishReason::Stop;
        }
        let mut extra = Map::new();
        if let Some(seq) = e
            .additional_model_response_fields
            .as_ref()
            .and_then(|f| f.get("stop_sequence"))
            .and_then(Value::as_str)
        {
            extra.insert("stop".to_owned(), Value::String(seq.to_owned()));
        }
        Ok(vec![self.chunk(Delta::default(), Some(finish), extra)])
    }

    fn chunk(
        &self,
        delta: Delta,
        finish: Option<FinishReason>,
        extra: Map<String, Value>,
    ) -> ChatChunk {
        ChatChunk {
            id: self.opts.id.clone(),
            object: ChatChunk::OBJECT.to_owned(),
            created: self.opts.created,
            model: self.opts.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
                extra,
            }],
            usage: Nullable::Absent,
            extra: Map::new(),
        }
    }

    fn tool_chunk(&self, call: ToolCallDelta) -> ChatChunk {
        self.chunk(
            Delta {
                tool_calls: Some(vec![call]),
                ..Delta::default()
            },
            None,
            Map::new(),
        )
    }

    fn reasoning_chunk(&self, detail: ReasoningDetail) -> ChatChunk {
        self.chunk(
            Delta {
                reasoning: detail.text.clone(),
                reasoning_details: Some(vec![detail]),
                ..Delta::default()
            },
            None,
            Map::new(),
        )
    }
}

/// The block currently open on the Bedrock side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// Reasoning for the unified reasoning block with this index (if the chunks said).
    Reasoning(Option<u32>),
    /// The unified tool call with this index.
    Tool(u32),
}

/// Turns unified chunks into ConverseStream events, for clients of the `/bedrock` drop-in
/// route.
///
/// The output is always well formed: one `messageStart` (with the first chunk); content blocks
/// with dense indexes, each closed by `contentBlockStop` before the next opens (tool blocks
/// opened by `contentBlockStart`, text and reasoning blocks by their first delta, as Bedrock
/// does); `messageStop` when the finishing chunk comes; and from [`StreamFromUnified::finish`]
/// the `metadata` event with the usage. Only choice 0 is used.
///
/// OpenAI-compatible providers stream one tool call after another; a fragment for a call whose
/// block was already closed cannot be expressed in Bedrock's format and is an error.
#[derive(Debug, Default)]
pub struct StreamFromUnified {
    started: bool,
    finished: bool,
    stop_sent: bool,
    next_index: u32,
    open: Option<(u32, Open)>,
    closed_tools: Vec<u32>,
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
        self.start(&mut out);
        if let Some(u) = chunk.usage.value() {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return Ok(out);
        };
        if self.stop_sent {
            return Ok(out);
        }
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
                    let index = self.ensure(Open::Reasoning(None), &mut out);
                    out.push(reasoning_delta(
                        index,
                        ReasoningDelta::Text(text.to_owned()),
                    ));
                }
            }
        }
        if let Some(text) = delta.content.value().filter(|t| !t.is_empty()) {
            let index = self.ensure(Open::Text, &mut out);
            out.push(StreamEvent::ContentBlockDelta(ContentBlockDeltaEvent {
                delta: BlockDelta::Text(text.clone()),
                content_block_index: index,
                extra: Map::new(),
            }));
        }
        for call in delta.tool_calls.iter().flatten() {
            self.tool_call(call, &mut out)?;
        }
        if let Some(finish) = &choice.finish_reason {
            self.close(&mut out);
            let stop_sequence = choice.extra.get("stop").and_then(Value::as_str);
            out.push(StreamEvent::MessageStop(MessageStopEvent {
                stop_reason: stop_reason_to_bedrock(finish, stop_sequence.is_some()),
                additional_model_response_fields: stop_sequence
                    .map(|s| serde_json::json!({"stop_sequence": s})),
                extra: Map::new(),
            }));
            self.stop_sent = true;
        }
        Ok(out)
    }

    /// Call once the unified stream has ended normally: closes the open block, sends
    /// `messageStop` (`end_turn`) if no chunk finished the message, then `metadata` with the
    /// usage (zeros when the stream carried none). Later calls return nothing.
    pub fn finish(&mut self) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.start(&mut out);
        self.close(&mut out);
        if !self.stop_sent {
            out.push(StreamEvent::MessageStop(MessageStopEvent {
                stop_reason: "end_turn".to_owned(),
                additional_model_response_fields: None,
                extra: Map::new(),
            }));
            self.stop_sent = true;
        }
        self.finished = true;
        out.push(StreamEvent::Metadata(MetadataEvent {
            usage: self
                .usage
                .as_ref()
                .map(usage_to_bedrock)
                .unwrap_or_default(),
            metrics: Some(Metrics::default()),
            extra: Map::new(),
        }));
        out
    }

    fn start(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::MessageStart(MessageStartEvent {
                role: Role::Assistant,
                extra: Map::new(),
            }));
        }
    }

    /// Makes `want` the open block (closing any other), returning its Bedrock index.
    fn ensure(&mut self, want: Open, out: &mut Vec<StreamEvent>) -> u32 {
        if let Some((index, open)) = self.open {
            let same = match (open, want) {
                (Open::Reasoning(a), Open::Reasoning(b)) => a.is_none() || b.is_none() || a == b,
                (a, b) => a == b,
            };
            if same {
                if let (Open::Reasoning(None), Open::Reasoning(Some(_))) = (open, want) {
                    self.open = Some((index, want));
                }
                return index;
            }
        }
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((index, want));
        index
    }

    fn close(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, open)) = self.open.take() {
            if let Open::Tool(t) = open {
                self.closed_tools.push(t);
            }
            out.push(StreamEvent::ContentBlockStop(ContentBlockStopEvent {
                content_block_index: index,
                extra: Map::new(),
            }));
        }
    }

    fn reasoning_detail(&mut self, d: &ReasoningDetail, out: &mut Vec<StreamEvent>) {
        if d.kind == reasoning_detail_type::ENCRYPTED {
            if let Some(data) = &d.data {
                let index = self.ensure(Open::Reasoning(d.index), out);
                out.push(reasoning_delta(
                    index,
                    ReasoningDelta::RedactedContent(data.clone()),
                ));
            }
            return;
        }
        let text = d.text.as_deref().or(d.summary.as_deref());
        if let Some(text) = text.filter(|t| !t.is_empty()) {
            let index = self.ensure(Open::Reasoning(d.index), out);
            out.push(reasoning_delta(
                index,
                ReasoningDelta::Text(text.to_owned()),
            ));
        }
        if let Some(signature) = crate::signature::for_client(d, crate::anthropic::REASONING_FORMAT)
        {
            let index = self.ensure(Open::Reasoning(d.index), out);
            out.push(reasoning_delta(index, ReasoningDelta::Signature(signature)));
        }
    }

    fn tool_call(
        &mut self,
        call: &ToolCallDelta,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), ConvertError> {
        let is_open = matches!(self.open, Some((_, Open::Tool(t))) if t == call.index);
        let index = if is_open && call.id.is_none() {
            self.open.map_or(0, |(i, _)| i)
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
            out.push(StreamEvent::ContentBlockStart(ContentBlockStartEvent {
                start: BlockStart::ToolUse(ToolUseStart {
                    tool_use_id: call
                        .id
                        .clone()
                        .unwrap_or_else(|| format!("tooluse_{}", call.index)),
                    name: function.and_then(|f| f.name.clone()).unwrap_or_default(),
                    extra: Map::new(),
                }),
                content_block_index: index,
                extra: Map::new(),
            }));
            self.open = Some((index, Open::Tool(call.index)));
            index
        };
        if let Some(args) = call
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .filter(|a| !a.is_empty())
        {
            out.push(StreamEvent::ContentBlockDelta(ContentBlockDeltaEvent {
                delta: BlockDelta::ToolUse {
                    input: args.to_owned(),
                },
                content_block_index: index,
                extra: Map::new(),
            }));
        }
        Ok(())
    }
}

fn reasoning_delta(index: u32, delta: ReasoningDelta) -> StreamEvent {
    StreamEvent::ContentBlockDelta(ContentBlockDeltaEvent {
        delta: BlockDelta::ReasoningContent(delta),
        content_block_index: index,
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_before_message_start_are_out_of_order() {
        let mut s = StreamToUnified::new(ResponseOptions::default());
        let r = s.push(StreamEvent::ContentBlockStop(ContentBlockStopEvent {
            content_block_index: 0,
            extra: Map::new(),
        }));
        assert!(matches!(r, Err(StreamError::OutOfOrder(_))));
    }

    #[test]
    fn a_stream_without_message_stop_is_truncated() {
        let mut s = StreamToUnified::new(ResponseOptions::default());
        s.push(StreamEvent::MessageStart(MessageStartEvent {
            role: Role::Assistant,
            extra: Map::new(),
        }))
        .unwrap();
        assert!(matches!(s.finish(), Err(StreamError::Truncated)));
    }

    #[test]
    fn finish_without_chunks_is_still_well_formed() {
        let mut s = StreamFromUnified::new();
        let names: Vec<_> = s
            .finish()
            .iter()
            .map(|e| e.event_type().to_owned())
            .collect();
        assert_eq!(names, ["messageStart", "messageStop", "metadata"]);
        assert!(s.finish().is_empty());
    }
}
