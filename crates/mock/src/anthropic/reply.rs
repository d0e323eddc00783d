//! The mock's answer to a validated request, as a message object or as the documented event
//! stream, and the token count.
//!
//! The answer is scripted by the request, so that tests drive it through a gateway without any
//! side channel:
//! - the text is [`crate::MockOptions::content`], as in the OpenAI dialect;
//! - `thinking` enabled (or adaptive) puts a `thinking` block with a `signature` first;
//! - a `stop_sequences` entry found in the text cuts it there (`stop_reason: "stop_sequence"`);
//! - `max_tokens` smaller than the answer cuts it to that many words (`"max_tokens"`);
//! - with tools, `tool_choice` `any` or `tool` answers with a `tool_use` block alone, `auto` (the
//!   default) with the text then a `tool_use` block, unless the last user turn carries
//!   `tool_result` blocks (then it answers in text), and `none` in text (`"tool_use"` or
//!   `"end_turn"`). The tool called is the named one, else the first custom tool; its input is
//!   generated from its `input_schema`.
//!
//! A token is a whitespace word, as everywhere in the mock.

use super::validate::{InputTokens, MessagesRequest, ToolChoice};
use super::{AnthropicError, sse_event};
use crate::openai::json_bytes;
use crate::script::{first_words, sample, signature, split};
use crate::state::{Shared, count_words};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

/// The reasoning the mock shows when thinking is on.
const THINKING: &str = "The user asked a question; I will answer with the configured reply.";

/// One block of the answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Thinking {
        thinking: String,
        signature: String,
    },
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// The whole answer, before it is framed as JSON or as a stream.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) blocks: Vec<Block>,
    pub(crate) stop_reason: &'static str,
    pub(crate) stop_sequence: Option<String>,
    pub(crate) input: InputTokens,
    pub(crate) output_tokens: u64,
    /// An error the request asked for, sent mid-stream after the first delta.
    pub(crate) fail_with: Option<AnthropicError>,
}

/// Decides the answer; `seq` makes the `tool_use` id unique per server.
pub(crate) fn plan(shared: &Shared, req: &MessagesRequest<'_>, seq: u64) -> Reply {
    let mut blocks = Vec::with_capacity(3);
    let mut output_tokens = 0;
    if req.thinking {
        output_tokens += count_words(THINKING);
        blocks.push(Block::Thinking {
            thinking: THINKING.to_owned(),
            signature: signature(req.model, THINKING),
        });
    }

    let content = shared.opts.content.as_str();
    // The earliest stop sequence wins; the sequence itself is not part of the text.
    let stop = req
        .stop_sequences
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| content.find(*s).map(|at| (at, *s)))
        .min_by_key(|(at, _)| *at);
    let mut text = stop.map_or(content, |(at, _)| &content[..at]);
    let budget = req
        .max_tokens
        .unwrap_or(u64::MAX)
        .saturating_sub(output_tokens);
    let truncated = count_words(text) > budget;
    if truncated {
        text = first_words(text, budget);
    }
    output_tokens += count_words(text);

    let tool = if truncated || stop.is_some() || req.answers_tool_result {
        None
    } else {
        match req.tool_choice {
            ToolChoice::None => None,
            ToolChoice::Auto | ToolChoice::Any => req.tools.iter().find_map(|t| {
                t.input_schema
                    .map(|schema| (t.name, schema, req.tool_choice == ToolChoice::Any))
            }),
            ToolChoice::Tool(name) => req
                .tools
                .iter()
                .find(|t| t.name == name)
                .map(|t| (t.name, t.input_schema.unwrap_or(&Value::Null), true)),
        }
    };
    let forced = tool.is_some_and(|(_, _, forced)| forced);
    // A forced tool call comes without text before it, as the tool-use guide says.
    if !text.is_empty() && !forced {
        blocks.push(Block::Text(text.to_owned()));
    } else if forced {
        output_tokens -= count_words(text);
    }
    let stop_reason = if let Some((name, schema, _)) = tool {
        // Tools without a schema (server tools) still take an object.
        let input = match sample(schema, 0) {
            Value::Object(fields) => Value::Object(fields),
            _ => Value::Object(Map::new()),
        };
        output_tokens += 1 + input.as_object().map_or(0, Map::len) as u64;
        blocks.push(Block::ToolUse {
            id: format!("toolu_mock{seq:014}"),
            name: name.to_owned(),
            input,
        });
        "tool_use"
    } else if truncated {
        "max_tokens"
    } else if stop.is_some() {
        "stop_sequence"
    } else {
        "end_turn"
    };
    Reply {
        blocks,
        stop_reason,
        stop_sequence: if stop_reason == "stop_sequence" {
            stop.map(|(_, s)| s.to_owned())
        } else {
            None
        },
        input: req.input,
        output_tokens,
        fail_with: req.fail_with.clone(),
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentBlock<'a> {
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
}

impl<'a> From<&'a Block> for ContentBlock<'a> {
    fn from(block: &'a Block) -> Self {
        match block {
            Block::Thinking {
                thinking,
                signature,
            } => ContentBlock::Thinking {
                thinking,
                signature,
            },
            Block::Text(text) => ContentBlock::Text { text },
            Block::ToolUse { id, name, input } => ContentBlock::ToolUse { id, name, input },
        }
    }
}

#[derive(Serialize)]
struct CacheCreation {
    ephemeral_5m_input_tokens: u64,
    ephemeral_1h_input_tokens: u64,
}

#[derive(Serialize)]
struct Usage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation: CacheCreation,
    output_tokens: u64,
    service_tier: &'static str,
}

impl Usage {
    /// The mock keeps no cache between requests, so every breakpoint is a cache write:
    /// the prefix up to it is reported as `cache_creation_input_tokens`, the rest as input.
    fn new(input: InputTokens, output_tokens: u64) -> Self {
        let written = input.cacheable;
        Self {
            input_tokens: input.total - written,
            cache_creation_input_tokens: written,
            cache_read_input_tokens: 0,
            cache_creation: CacheCreation {
                ephemeral_5m_input_tokens: if input.one_hour { 0 } else { written },
                ephemeral_1h_input_tokens: if input.one_hour { written } else { 0 },
            },
            output_tokens,
            service_tier: "standard",
        }
    }
}

#[derive(Serialize)]
struct Message<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<ContentBlock<'a>>,
    stop_reason: Option<&'static str>,
    stop_sequence: Option<&'a str>,
    usage: Usage,
}

/// The non-streaming answer.
pub(crate) fn message(id: &str, req: &MessagesRequest<'_>, reply: &Reply) -> Bytes {
    json_bytes(&Message {
        id,
        kind: "message",
        role: "assistant",
        model: req.model,
        content: reply.blocks.iter().map(ContentBlock::from).collect(),
        stop_reason: Some(reply.stop_reason),
        stop_sequence: reply.stop_sequence.as_deref(),
        usage: Usage::new(reply.input, reply.output_tokens),
    })
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event<'a> {
    MessageStart {
        message: Message<'a>,
    },
    ContentBlockStart {
        index: usize,
        content_block: StartBlock<'a>,
    },
    Ping,
    ContentBlockDelta {
        index: usize,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: StopDelta<'a>,
        usage: DeltaUsage,
    },
    MessageStop,
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::Ping => "ping",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
        }
    }

    fn frame(&self) -> Bytes {
        sse_event(self.name(), self)
    }
}

/// A block as `content_block_start` announces it: empty, filled by the deltas that follow.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock<'a> {
    Thinking {
        thinking: &'static str,
        signature: &'static str,
    },
    Text {
        text: &'static str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Map<String, Value>,
    },
}

/// The delta kinds of `content_block_delta`, tagged `text_delta`, `input_json_delta`, ….
#[derive(Serialize)]
#[serde(tag = "type")]
enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
}

#[derive(Serialize)]
struct StopDelta<'a> {
    stop_reason: &'static str,
    stop_sequence: Option<&'a str>,
}

/// `message_delta` usage is cumulative; the input counts are repeated as the API now does.
#[derive(Serialize)]
struct DeltaUsage {
    input_tokens: u64,
    cache_creation_input_tokens: u64,
    cache_read_input_tokens: u64,
    output_tokens: u64,
}

/// The frames of a streamed answer, in the documented order: `message_start`; per block a
/// `content_block_start`, its deltas and a `content_block_stop`, with one `ping` after the first
/// start; `message_delta`; `message_stop`. Text and thinking are split into the configured
/// number of pieces; a tool's input JSON goes out as an empty delta then several pieces.
pub(crate) fn stream(
    shared: &Shared,
    id: &str,
    req: &MessagesRequest<'_>,
    reply: &Reply,
) -> Vec<Bytes> {
    let pieces = shared.opts.stream_chunks.max(1);
    // The docs' `message_start` reports one output token already.
    let start_usage = Usage::new(reply.input, 1);
    let mut frames = vec![
        Event::MessageStart {
            message: Message {
                id,
                kind: "message",
                role: "assistant",
                model: req.model,
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: None,
                usage: start_usage,
            },
        }
        .frame(),
    ];
    let mut deltas_sent = 0usize;
    for (index, block) in reply.blocks.iter().enumerate() {
        let (start, deltas) = match block {
            Block::Thinking {
                thinking,
                signature,
            } => {
                let mut deltas: Vec<Delta<'_>> = split(thinking, pieces)
                    .into_iter()
                    .map(|thinking| Delta::Thinking { thinking })
                    .collect();
                deltas.push(Delta::Signature { signature });
                (
                    StartBlock::Thinking {
                        thinking: "",
                        signature: "",
                    },
                    deltas,
                )
            }
            Block::Text(text) => (
                StartBlock::Text { text: "" },
                split(text, pieces)
                    .into_iter()
                    .map(|text| Delta::Text { text })
                    .collect(),
            ),
            Block::ToolUse { id, name, input } => {
                let json = serde_json::to_string(input).unwrap_or_else(|_| "{}".to_owned());
                let mut deltas = vec![String::new()];
                deltas.extend(split(&json, pieces.max(2)).into_iter().map(str::to_owned));
                frames.push(
                    Event::ContentBlockStart {
                        index,
                        content_block: StartBlock::ToolUse {
                            id,
                            name,
                            input: Map::new(),
                        },
                    }
                    .frame(),
                );
                if index == 0 {
                    frames.push(Event::Ping.frame());
                }
                for partial_json in &deltas {
                    frames.push(
                        Event::ContentBlockDelta {
                            index,
                            delta: Delta::InputJson { partial_json },
                        }
                        .frame(),
                    );
                    deltas_sent += 1;
                    if let Some(err) = reply.fail_with.as_ref().filter(|_| deltas_sent == 1) {
                        frames.push(err.event());
                        return frames;
                    }
                }
                frames.push(Event::ContentBlockStop { index }.frame());
                continue;
            }
        };
        frames.push(
            Event::ContentBlockStart {
                index,
                content_block: start,
            }
            .frame(),
        );
        if index == 0 {
            frames.push(Event::Ping.frame());
        }
        for delta in deltas {
            frames.push(Event::ContentBlockDelta { index, delta }.frame());
            deltas_sent += 1;
            if let Some(err) = reply.fail_with.as_ref().filter(|_| deltas_sent == 1) {
                frames.push(err.event());
                return frames;
            }
        }
        frames.push(Event::ContentBlockStop { index }.frame());
    }
    if let Some(err) = &reply.fail_with {
        // No delta to fail after (an empty answer): fail before the end.
        frames.push(err.event());
        return frames;
    }
    let usage = Usage::new(reply.input, reply.output_tokens);
    frames.push(
        Event::MessageDelta {
            delta: StopDelta {
                stop_reason: reply.stop_reason,
                stop_sequence: reply.stop_sequence.as_deref(),
            },
            usage: DeltaUsage {
                input_tokens: usage.input_tokens,
                cache_creation_input_tokens: usage.cache_creation_input_tokens,
                cache_read_input_tokens: usage.cache_read_input_tokens,
                output_tokens: usage.output_tokens,
            },
        }
        .frame(),
    );
    frames.push(Event::MessageStop.frame());
    frames
}

#[derive(Serialize)]
struct TokenCount {
    input_tokens: u64,
}

/// `POST /v1/messages/count_tokens`: every input token, cached prefix included, so that it
/// equals the sum of the three input counts a message reports for the same request.
pub(crate) fn count_tokens(req: &MessagesRequest<'_>) -> Bytes {
    json_bytes(&TokenCount {
        input_tokens: req.input.total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockOptions;
    use crate::anthropic::parse_messages;

    fn reply(body: &str) -> Reply {
        let shared = Shared::new(MockOptions::default());
        let v: Value = serde_json::from_str(body).unwrap();
        let req = parse_messages(&v).unwrap();
        plan(&shared, &req, 7)
    }

    #[test]
    fn words_and_pieces() {
        assert_eq!(first_words("Hello from the mock.", 2), "Hello from");
        assert_eq!(first_words("Hello from", 5), "Hello from");
        assert_eq!(first_words("a b", 0), "");
        assert_eq!(split("abcdef", 4).concat(), "abcdef");
        assert_eq!(split("ab", 5), ["a", "b"]);
        assert!(split("", 3).is_empty());
    }

    #[test]
    fn scripted_answers() {
        let plain =
            reply(r#"{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(plain.blocks, [Block::Text("Hello from the mock.".into())]);
        assert_eq!(plain.stop_reason, "end_turn");
        assert_eq!(plain.output_tokens, 4);

        let short =
            reply(r#"{"model":"m","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(short.blocks, [Block::Text("Hello from".into())]);
        assert_eq!((short.stop_reason, short.output_tokens), ("max_tokens", 2));

        let stopped = reply(
            r#"{"model":"m","max_tokens":100,"stop_sequences":["mock","the"],"messages":[{"role":"user","content":"hi"}]}"#,
        );
        assert_eq!(stopped.blocks, [Block::Text("Hello from ".into())]);
        assert_eq!(stopped.stop_reason, "stop_sequence");
        assert_eq!(stopped.stop_sequence.as_deref(), Some("the"));

        let tools = r#""tools":[{"name":"get_weather","input_schema":{"type":"object",
            "properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},
            "required":["location","unit"]}}]"#;
        let auto = reply(&format!(
            r#"{{"model":"m","max_tokens":100,{tools},"messages":[{{"role":"user","content":"hi"}}]}}"#
        ));
        assert_eq!(auto.stop_reason, "tool_use");
        assert_eq!(auto.blocks.len(), 2);
        assert_eq!(
            auto.blocks[1],
            Block::ToolUse {
                id: "toolu_mock00000000000007".into(),
                name: "get_weather".into(),
                input: serde_json::json!({"location": "mock", "unit": "celsius"}),
            }
        );
        let forced = reply(&format!(
            r#"{{"model":"m","max_tokens":100,{tools},"tool_choice":{{"type":"any"}},"messages":[{{"role":"user","content":"hi"}}]}}"#
        ));
        assert_eq!(forced.blocks.len(), 1);
        assert_eq!(forced.output_tokens, 3);
        let none = reply(&format!(
            r#"{{"model":"m","max_tokens":100,{tools},"tool_choice":{{"type":"none"}},"messages":[{{"role":"user","content":"hi"}}]}}"#
        ));
        assert_eq!(none.stop_reason, "end_turn");

        let thinking = reply(
            r#"{"model":"m","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}"#,
        );
        let Block::Thinking { signature, .. } = &thinking.blocks[0] else {
            panic!("{thinking:?}");
        };
        assert!(!signature.is_empty());
        assert_eq!(thinking.output_tokens, count_words(THINKING) + 4);
    }
}
