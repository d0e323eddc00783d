//! The mock's answer to a validated Converse request, as the JSON response or as the
//! ConverseStream event-stream messages.
//!
//! The answer is scripted by the request, so tests drive it through a gateway without any side
//! channel:
//! - the text is [`crate::MockOptions::content`];
//! - thinking requested (`additionalModelRequestFields.thinking` enabled, or Nova's
//!   `reasoningConfig`) puts a `reasoningContent` block with a `signature` first;
//! - an `inferenceConfig.stopSequences` entry found in the text cuts it there (`stop_sequence`,
//!   the matched sequence in `additionalModelResponseFields.stop_sequence` as Anthropic models
//!   report it);
//! - `maxTokens` smaller than the answer cuts it to that many words (`max_tokens`);
//! - with tools, `toolChoice` `any` or `tool` answers with a `toolUse` block alone, `auto` (the
//!   default) with the text then a `toolUse` block — unless the last user turn carries
//!   `toolResult` blocks, then it answers in text (`tool_use` or `end_turn`). The tool called is
//!   the named one, else the first; its input is generated from its schema;
//! - `asbru-mock:error=TYPE` in the last user turn fails the answer (mid-stream, as an exception
//!   message after the first delta).
//!
//! A token is a whitespace word, as everywhere in the mock.

use super::validate::{Choice, ConverseReq};
use super::{BedrockError, event_frame};
use crate::openai::json_bytes;
use crate::script::{first_words, sample, signature, split};
use crate::state::{Shared, count_words};
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// The reasoning the mock shows when thinking is on.
const THINKING: &str = "The user asked a question; I will answer with the configured reply.";

/// Bedrock pads stream events with a random-length `p` field so sizes do not leak tokens; the
/// mock pads with a deterministic slice of this.
const PADDING: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// One block of the answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    Reasoning {
        text: String,
        signature: String,
    },
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// The whole answer, before it is framed.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) blocks: Vec<Block>,
    pub(crate) stop_reason: &'static str,
    pub(crate) stop_sequence: Option<String>,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) latency_ms: u64,
    pub(crate) fail_with: Option<BedrockError>,
}

/// Decides the answer; `seq` makes the `toolUse` id unique per server.
pub(crate) fn plan(shared: &Shared, req: &ConverseReq, seq: u64) -> Reply {
    let mut blocks = Vec::with_capacity(3);
    let mut output_tokens = 0;
    if req.thinking {
        output_tokens += count_words(THINKING);
        blocks.push(Block::Reasoning {
            text: THINKING.to_owned(),
            signature: signature(&req.model, THINKING),
        });
    }
    let content = shared.opts.content.as_str();
    let stop = req
        .stop_sequences
        .iter()
        .filter_map(|s| content.find(s.as_str()).map(|at| (at, s.as_str())))
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
    let tool = if truncated || stop.is_some() || req.answers_tool_result {
        None
    } else {
        match &req.tool_choice {
            Choice::Auto => req.tools.first().map(|t| (t, false)),
            Choice::Any => req.tools.first().map(|t| (t, true)),
            Choice::Tool(name) => req
                .tools
                .iter()
                .find(|t| &t.name == name)
                .map(|t| (t, true)),
        }
    };
    let forced = tool.is_some_and(|(_, forced)| forced);
    if !text.is_empty() && !forced {
        output_tokens += count_words(text);
        blocks.push(Block::Text(text.to_owned()));
    }
    let stop_reason = if let Some((t, _)) = tool {
        let input = match sample(&t.schema, 0) {
            Value::Object(fields) => Value::Object(fields),
            _ => Value::Object(Map::new()),
        };
        output_tokens += 1 + input.as_object().map_or(0, Map::len) as u64;
        blocks.push(Block::ToolUse {
            id: format!("tooluse_mock{seq:012}"),
            name: t.name.clone(),
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
        stop_sequence: (stop_reason == "stop_sequence")
            .then(|| stop.map(|(_, s)| s.to_owned()))
            .flatten(),
        input_tokens: req.input_tokens,
        output_tokens,
        latency_ms: u64::try_from(shared.opts.latency.as_millis()).unwrap_or(u64::MAX),
        fail_with: req.fail_with.clone(),
    }
}

fn usage(reply: &Reply) -> Value {
    json!({
        "inputTokens": reply.input_tokens,
        "outputTokens": reply.output_tokens,
        "totalTokens": reply.input_tokens + reply.output_tokens,
    })
}

fn block_json(block: &Block) -> Value {
    match block {
        Block::Reasoning { text, signature } => {
            json!({"reasoningContent": {"reasoningText": {"text": text, "signature": signature}}})
        }
        Block::Text(t) => json!({"text": t}),
        Block::ToolUse { id, name, input } => {
            json!({"toolUse": {"toolUseId": id, "name": name, "input": input}})
        }
    }
}

fn additional_fields(reply: &Reply) -> Option<Value> {
    reply
        .stop_sequence
        .as_ref()
        .map(|s| json!({"stop_sequence": s}))
}

/// The Converse JSON response.
pub(crate) fn response(reply: &Reply) -> Bytes {
    let mut body = json!({
        "output": {"message": {"role": "assistant", "content": reply.blocks.iter().map(block_json).collect::<Vec<_>>()}},
        "stopReason": reply.stop_reason,
        "usage": usage(reply),
        "metrics": {"latencyMs": reply.latency_ms},
    });
    if let (Some(fields), Some(obj)) = (additional_fields(reply), body.as_object_mut()) {
        obj.insert("additionalModelResponseFields".to_owned(), fields);
    }
    json_bytes(&body)
}

/// Adds the `p` padding field, its length varying with the event's position.
fn padded(mut payload: Value, n: usize) -> Value {
    if let Some(obj) = payload.as_object_mut() {
        let len = 1 + (n * 7) % PADDING.len();
        obj.insert("p".to_owned(), Value::String(PADDING[..len].to_owned()));
    }
    payload
}

/// The ConverseStream messages: `messageStart`; per block its deltas (text split into
/// [`crate::MockOptions::stream_chunks`] pieces; a `toolUse` block announced by
/// `contentBlockStart`; reasoning text then its signature) and `contentBlockStop`;
/// `messageStop`; `metadata`. A requested failure replaces everything after the first delta
/// with an exception message.
pub(crate) fn stream(shared: &Shared, reply: &Reply) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(16);
    let mut n = 0;
    let mut push = |frames: &mut Vec<Bytes>, event: &str, payload: Value| {
        n += 1;
        frames.push(event_frame(event, &padded(payload, n)));
    };
    push(&mut frames, "messageStart", json!({"role": "assistant"}));
    for (index, block) in reply.blocks.iter().enumerate() {
        match block {
            Block::Reasoning { text, signature } => {
                for piece in split(text, shared.opts.stream_chunks) {
                    push(
                        &mut frames,
                        "contentBlockDelta",
                        json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"text": piece}}}),
                    );
                }
                push(
                    &mut frames,
                    "contentBlockDelta",
                    json!({"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": signature}}}),
                );
            }
            Block::Text(text) => {
                for piece in split(text, shared.opts.stream_chunks) {
                    push(
                        &mut frames,
                        "contentBlockDelta",
                        json!({"contentBlockIndex": index, "delta": {"text": piece}}),
                    );
                }
            }
            Block::ToolUse { id, name, input } => {
                push(
                    &mut frames,
                    "contentBlockStart",
                    json!({"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": id, "name": name}}}),
                );
                let text = input.to_string();
                for piece in split(&text, 2) {
                    push(
                        &mut frames,
                        "contentBlockDelta",
                        json!({"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}),
                    );
                }
            }
        }
        push(
            &mut frames,
            "contentBlockStop",
            json!({"contentBlockIndex": index}),
        );
    }
    let mut stop = json!({"stopReason": reply.stop_reason});
    if let (Some(fields), Some(obj)) = (additional_fields(reply), stop.as_object_mut()) {
        obj.insert("additionalModelResponseFields".to_owned(), fields);
    }
    push(&mut frames, "messageStop", stop);
    push(
        &mut frames,
        "metadata",
        json!({"usage": usage(reply), "metrics": {"latencyMs": reply.latency_ms}}),
    );
    if let Some(err) = &reply.fail_with {
        // After messageStart and the first delta, as a model failing mid-answer would.
        frames.truncate(2.min(frames.len()));
        frames.push(err.frame());
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_the_text() {
        assert_eq!(split("héllo world", 3).concat(), "héllo world");
        assert_eq!(split("ab", 5), vec!["a", "b"]);
        assert!(split("", 3).is_empty());
    }

    #[test]
    fn samples_follow_schemas() {
        let s = json!({"type": "object", "properties": {"sign": {"type": "string"}, "n": {"type": "integer"}}, "required": ["sign"]});
        assert_eq!(sample(&s, 0), json!({"sign": "mock"}));
    }
}
