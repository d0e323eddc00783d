//! Chat completions: the request checked as OpenAI checks it, the scripted answer, and that
//! answer as a `chat.completion` object or as `chat.completion.chunk` frames.
//!
//! The answer is scripted by the request, like the other dialects' mocks, so that tests drive
//! it through a gateway without any side channel:
//! - the text is [`crate::MockOptions::content`] (`finish_reason: "stop"`);
//! - a `stop` sequence found in the text cuts it there (`"stop"`, the sequence left out);
//! - `max_tokens` (or `max_completion_tokens`) smaller than the answer cuts it to that many
//!   words (`"length"`);
//! - with `tools` and a `tool_choice` that forces a call (`"required"`, a named function, or
//!   `allowed_tools` in mode `"required"`), unless the last message is a tool result, the
//!   answer is one call (`"tool_calls"`, `content: null`) of the named function, else of the
//!   first one, with arguments generated from its `parameters` schema. `"auto"`, `"none"` or no
//!   choice answers in text, as a model that chose not to call would: many tests and the
//!   benchmark send tools without wanting a call back.
//!
//! A token is a whitespace word, as everywhere in the mock. The common request (no tools, no
//! limits) takes the precomputed content and stream pieces, as it did before any scripting.

use super::tools::{self, Forced, Turns};
use super::{
    ApiError, ChatUsage, Common, FINGERPRINT, Meta, SSE_DONE, bounded_int, common, json_bytes,
    require_object, sse_frame,
};
use crate::script::{first_words, sample, split};
use crate::state::{Shared, count_words};
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

const ROLES: [&str; 6] = [
    "system",
    "assistant",
    "user",
    "function",
    "tool",
    "developer",
];

/// How many stop sequences OpenAI takes.
const MAX_STOP: usize = 4;

/// A validated chat request.
pub(crate) struct ChatRequest<'a> {
    pub(crate) common: Common<'a>,
    pub(crate) prompt_tokens: u64,
    /// The function the answer calls: a forced choice, unless the last message is a tool
    /// result (then the model answers the result in text).
    pub(crate) call: Option<Forced<'a>>,
    /// `stop`, one entry per sequence.
    pub(crate) stop: Vec<&'a str>,
    /// The smaller of `max_tokens` and `max_completion_tokens`.
    pub(crate) max_tokens: Option<u64>,
}

pub(crate) fn parse_chat(body: &Value) -> Result<ChatRequest<'_>, ApiError> {
    require_object(body)?;
    let common = common(body)?;
    let messages = match body.get("messages") {
        None | Some(Value::Null) => return Err(ApiError::missing("messages")),
        Some(Value::Array(m)) => m,
        Some(other) => {
            return Err(ApiError::wrong_type(
                "messages",
                "an array of objects",
                other,
            ));
        }
    };
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            Some("messages"),
            Some("empty_array"),
        ));
    }
    let mut prompt_tokens = 0;
    let mut turns = Turns::default();
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(fields) = message else {
            return Err(ApiError::wrong_type(
                &format!("messages[{i}]"),
                "an object",
                message,
            ));
        };
        let role = match fields.get("role") {
            None | Some(Value::Null) => {
                return Err(ApiError::missing(&format!("messages[{i}].role")));
            }
            Some(Value::String(role)) if ROLES.contains(&role.as_str()) => role.as_str(),
            Some(Value::String(role)) => {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'."
                    ),
                    Some(&format!("messages[{i}].role")),
                    Some("invalid_value"),
                ));
            }
            Some(other) => {
                return Err(ApiError::wrong_type(
                    &format!("messages[{i}].role"),
                    "a string",
                    other,
                ));
            }
        };
        turns.see(i, role, fields)?;
        prompt_tokens += match fields.get("content") {
            Some(Value::String(text)) => count_words(text),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .map(count_words)
                .sum(),
            _ => 0,
        };
    }
    let answers_tool_result = turns.finish()?;
    let call = tools::forced_call(body)?.filter(|_| !answers_tool_result);
    let max_tokens = [
        limit(body, "max_tokens")?,
        limit(body, "max_completion_tokens")?,
    ]
    .into_iter()
    .flatten()
    .min();
    Ok(ChatRequest {
        common,
        prompt_tokens,
        call,
        stop: stop_sequences(body)?,
        max_tokens,
    })
}

/// An optional token limit (at least 1).
fn limit(body: &Value, field: &str) -> Result<Option<u64>, ApiError> {
    if body.get(field).is_none_or(Value::is_null) {
        return Ok(None);
    }
    bounded_int(body, field, usize::MAX, u64::MAX).map(|n| Some(n as u64))
}

/// `stop`: a string or up to four strings.
fn stop_sequences(body: &Value) -> Result<Vec<&str>, ApiError> {
    match body.get("stop") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) if items.len() > MAX_STOP => Err(ApiError::invalid(
            format!(
                "Invalid 'stop': array too long. Expected an array with maximum length {MAX_STOP}, but got an array with length {} instead.",
                items.len()
            ),
            Some("stop"),
            Some("array_above_max_length"),
        )),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str()
                    .ok_or_else(|| ApiError::wrong_type(&format!("stop[{i}]"), "a string", item))
            })
            .collect(),
        Some(other) => Err(ApiError::wrong_type(
            "stop",
            "a string or an array of strings",
            other,
        )),
    }
}

/// The answer of every choice, before it is framed as JSON or as chunks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer<'a> {
    /// The configured content, whole: the precomputed stream pieces serve it.
    Whole,
    /// The content cut short, at a stop sequence (`"stop"`) or at the token limit
    /// (`"length"`).
    Cut {
        text: &'a str,
        finish: &'static str,
        tokens: u64,
    },
    /// One call of a function; `arguments` is the JSON text a model would write.
    Call {
        name: &'a str,
        arguments: String,
        tokens: u64,
    },
}

impl Answer<'_> {
    fn finish_reason(&self) -> &'static str {
        match self {
            Answer::Whole => "stop",
            Answer::Cut { finish, .. } => finish,
            Answer::Call { .. } => "tool_calls",
        }
    }

    /// Completion tokens of one choice.
    fn tokens(&self, shared: &Shared) -> u64 {
        match self {
            Answer::Whole => shared.content_tokens,
            Answer::Cut { tokens, .. } | Answer::Call { tokens, .. } => *tokens,
        }
    }
}

/// Decides the answer (see the module's doc for the rules).
pub(crate) fn plan<'a>(shared: &'a Shared, req: &ChatRequest<'a>) -> Answer<'a> {
    if let Some(call) = req.call {
        // A schema-less function still takes an object.
        let arguments = match sample(call.parameters, 0) {
            Value::Object(fields) => fields,
            _ => Map::new(),
        };
        return Answer::Call {
            name: call.name,
            tokens: 1 + arguments.len() as u64,
            arguments: serde_json::to_string(&arguments).unwrap_or_else(|_| "{}".to_owned()),
        };
    }
    if req.stop.is_empty() && req.max_tokens.is_none_or(|m| m >= shared.content_tokens) {
        return Answer::Whole;
    }
    let content = shared.opts.content.as_str();
    // The earliest stop sequence wins; the sequence itself is not part of the text.
    let stop_at = req
        .stop
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| content.find(*s))
        .min();
    let mut text = stop_at.map_or(content, |at| &content[..at]);
    let budget = req.max_tokens.unwrap_or(u64::MAX);
    let truncated = count_words(text) > budget;
    if truncated {
        text = first_words(text, budget);
    }
    if !truncated && stop_at.is_none() {
        return Answer::Whole;
    }
    Answer::Cut {
        text,
        finish: if truncated { "length" } else { "stop" },
        tokens: count_words(text),
    }
}

/// The id of choice `index`'s call in the answer to request number `seq`.
fn call_id(seq: u64, index: usize) -> String {
    format!("call_mock{seq:012}{index:03}")
}

#[derive(Serialize)]
struct ChatCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: Vec<ChatChoice<'a>>,
    usage: ChatUsage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct ChatChoice<'a> {
    index: usize,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'static str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    /// `null` when the answer is a tool call.
    content: Option<&'a str>,
    refusal: Option<()>,
    annotations: [(); 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
}

/// A call as a message carries it, and as the first chunk of a streamed call announces it
/// (with `index` and empty `arguments`).
#[derive(Serialize)]
struct ToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

/// The non-streaming answer; `seq` makes call ids unique per server.
pub(crate) fn chat_completion(
    shared: &Shared,
    meta: &Meta<'_>,
    req: &ChatRequest<'_>,
    answer: &Answer<'_>,
    seq: u64,
) -> Bytes {
    let n = req.common.n;
    let choices = (0..n)
        .map(|index| {
            let (content, tool_calls) = match answer {
                Answer::Whole => (Some(shared.opts.content.as_str()), None),
                Answer::Cut { text, .. } => (Some(*text), None),
                Answer::Call {
                    name, arguments, ..
                } => (
                    None,
                    Some([ToolCall {
                        index: None,
                        id: Some(call_id(seq, index)),
                        kind: Some("function"),
                        function: FunctionCall {
                            name: Some(name),
                            arguments,
                        },
                    }]),
                ),
            };
            ChatChoice {
                index,
                message: AssistantMessage {
                    role: "assistant",
                    content,
                    refusal: None,
                    annotations: [],
                    tool_calls,
                },
                logprobs: None,
                finish_reason: answer.finish_reason(),
            }
        })
        .collect();
    json_bytes(&ChatCompletion {
        id: meta.id,
        object: "chat.completion",
        created: meta.created,
        model: meta.model,
        choices,
        usage: ChatUsage::new(req.prompt_tokens, answer.tokens(shared) * n as u64),
        service_tier: "default",
        system_fingerprint: FINGERPRINT,
    })
}

#[derive(Serialize)]
struct ChatChunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    service_tier: &'static str,
    system_fingerprint: &'static str,
    choices: Vec<ChunkChoice<'a>>,
    /// Absent unless usage was requested; then `null` on every chunk but the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<ChatUsage>>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: usize,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    /// `Some(None)` is an explicit `null` (the first chunk of a tool call).
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<Option<()>>,
}

/// The data frames of a streamed chat completion, `[DONE]` included, in OpenAI's order: per
/// choice a first chunk with the role; then the content pieces (or the call's argument
/// fragments, at least two, after a first chunk that names the call with empty arguments);
/// per choice a `finish_reason` chunk; then the usage chunk if requested.
pub(crate) fn chat_stream(
    shared: &Shared,
    meta: &Meta<'_>,
    req: &ChatRequest<'_>,
    answer: &Answer<'_>,
    seq: u64,
) -> Vec<Bytes> {
    let n = req.common.n;
    let include_usage = req.common.include_usage;
    let chunk = |index: usize, delta: Delta<'_>, finish_reason: Option<&'static str>| {
        sse_frame(&ChatChunk {
            id: meta.id,
            object: "chat.completion.chunk",
            created: meta.created,
            model: meta.model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices: vec![ChunkChoice {
                index,
                delta,
                logprobs: None,
                finish_reason,
            }],
            usage: include_usage.then_some(None),
        })
    };
    let pieces: Vec<&str> = match answer {
        Answer::Whole => shared.pieces.iter().map(String::as_str).collect(),
        Answer::Cut { text, .. } => split(text, shared.opts.stream_chunks.max(1)),
        Answer::Call { arguments, .. } => split(arguments, shared.opts.stream_chunks.max(2)),
    };
    let mut frames = Vec::with_capacity((pieces.len() + 2) * n + 2);
    for index in 0..n {
        let first = match answer {
            Answer::Call { name, .. } => Delta {
                role: Some("assistant"),
                content: Some(None),
                tool_calls: Some([ToolCall {
                    index: Some(0),
                    id: Some(call_id(seq, index)),
                    kind: Some("function"),
                    function: FunctionCall {
                        name: Some(name),
                        arguments: "",
                    },
                }]),
                refusal: Some(None),
            },
            Answer::Whole | Answer::Cut { .. } => Delta {
                role: Some("assistant"),
                content: Some(Some("")),
                refusal: Some(None),
                ..Delta::default()
            },
        };
        frames.push(chunk(index, first, None));
    }
    let is_call = matches!(answer, Answer::Call { .. });
    for piece in &pieces {
        for index in 0..n {
            let delta = if is_call {
                Delta {
                    tool_calls: Some([ToolCall {
                        index: Some(0),
                        id: None,
                        kind: None,
                        function: FunctionCall {
                            name: None,
                            arguments: piece,
                        },
                    }]),
                    ..Delta::default()
                }
            } else {
                Delta {
                    content: Some(Some(piece)),
                    ..Delta::default()
                }
            };
            frames.push(chunk(index, delta, None));
        }
    }
    for index in 0..n {
        frames.push(chunk(index, Delta::default(), Some(answer.finish_reason())));
    }
    if include_usage {
        frames.push(sse_frame(&ChatChunk {
            id: meta.id,
            object: "chat.completion.chunk",
            created: meta.created,
            model: meta.model,
            service_tier: "default",
            system_fingerprint: FINGERPRINT,
            choices: Vec::new(),
            usage: Some(Some(ChatUsage::new(
                req.prompt_tokens,
                answer.tokens(shared) * n as u64,
            ))),
        }));
    }
    frames.push(Bytes::from_static(SSE_DONE));
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockOptions;
    use http::StatusCode;

    fn parse(body: &str) -> Result<ChatRequest<'static>, ApiError> {
        let v: &'static Value = Box::leak(Box::new(serde_json::from_str(body).unwrap()));
        parse_chat(v)
    }

    fn answer(body: &str) -> Answer<'static> {
        let shared: &'static Shared = Box::leak(Box::new(Shared::new(MockOptions::default())));
        plan(shared, &parse(body).unwrap())
    }

    fn param_of(body: &str) -> String {
        let err = parse(body).err().unwrap();
        assert_eq!(err.status, StatusCode::BAD_REQUEST, "{body}");
        err.param.unwrap_or_default()
    }

    const WEATHER: &str = r#"[{"type":"function","function":{"name":"get_weather",
        "parameters":{"type":"object","properties":{"city":{"type":"string"},
        "days":{"type":"integer"}},"required":["city","days"]}}},
        {"type":"function","function":{"name":"get_time"}}]"#;

    #[test]
    fn chat_validation_names_param() {
        let cases = [
            (r#"{"messages":[{"role":"user","content":"x"}]}"#, "model"),
            (r#"{"model":"m"}"#, "messages"),
            (r#"{"model":"m","messages":[]}"#, "messages"),
            (r#"{"model":"m","messages":"hi"}"#, "messages"),
            (r#"{"model":"m","messages":["hi"]}"#, "messages[0]"),
            (
                r#"{"model":"m","messages":[{"role":"user"},{"content":"x"}]}"#,
                "messages[1].role",
            ),
            (
                r#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"stream_options":{"include_usage":true}}"#,
                "stream_options",
            ),
            (r#"{"model":"m","messages":[{"role":"user"}],"n":0}"#, "n"),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"max_tokens":0}"#,
                "max_tokens",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"stop":["a","b","c","d","e"]}"#,
                "stop",
            ),
            (
                r#"{"model":"m","messages":[{"role":"user"}],"stop":[1]}"#,
                "stop[0]",
            ),
        ];
        for (body, param) in cases {
            assert_eq!(param_of(body), param, "{body}");
        }
    }

    #[test]
    fn tool_validation_names_param() {
        let user = r#"{"role":"user","content":"hi"}"#;
        let cases = [
            (r#""tool_choice":"required""#.to_owned(), "tool_choice"),
            (r#""tools":[]"#.to_owned(), "tools"),
            (
                r#""parallel_tool_calls":false"#.to_owned(),
                "parallel_tool_calls",
            ),
            (r#""tools":{}"#.to_owned(), "tools"),
            (r#""tools":[{"type":"web"}]"#.to_owned(), "tools[0].type"),
            (
                r#""tools":[{"type":"function"}]"#.to_owned(),
                "tools[0].function",
            ),
            (
                r#""tools":[{"type":"function","function":{"name":"a b"}}]"#.to_owned(),
                "tools[0].function.name",
            ),
            (
                format!(r#""tools":{WEATHER},"tool_choice":"always""#),
                "tool_choice",
            ),
            (
                format!(
                    r#""tools":{WEATHER},"tool_choice":{{"type":"function","function":{{"name":"nope"}}}}"#
                ),
                "tool_choice",
            ),
            (
                format!(r#""tools":{WEATHER},"tool_choice":{{"type":"function"}}"#),
                "tool_choice.function.name",
            ),
        ];
        for (extra, param) in cases {
            let body = format!(r#"{{"model":"m","messages":[{user}],{extra}}}"#);
            assert_eq!(param_of(&body), param, "{body}");
        }
        // `"none"` without tools asks for nothing a request without tools lacks.
        assert!(
            parse(&format!(
                r#"{{"model":"m","messages":[{user}],"tool_choice":"none"}}"#
            ))
            .is_ok()
        );
    }

    #[test]
    fn tool_messages_answer_the_previous_calls() {
        let call = |id: &str| {
            format!(
                r#"{{"id":"{id}","type":"function","function":{{"name":"get_weather","arguments":"{{}}"}}}}"#
            )
        };
        let assistant = format!(
            r#"{{"role":"assistant","content":null,"tool_calls":[{},{}]}}"#,
            call("call_1"),
            call("call_2")
        );
        let result =
            |id: &str| format!(r#"{{"role":"tool","tool_call_id":"{id}","content":"ok"}}"#);
        let user = r#"{"role":"user","content":"hi"}"#;
        let body =
            |messages: &[&str]| format!(r#"{{"model":"m","messages":[{}]}}"#, messages.join(","));

        let good = body(&[user, &assistant, &result("call_2"), &result("call_1"), user]);
        assert!(parse(&good).is_ok());

        let orphan = parse(&body(&[user, &result("call_1")])).err().unwrap();
        assert_eq!(orphan.param.as_deref(), Some("messages.[1].role"));
        assert!(
            orphan
                .message
                .contains("must be a response to a preceeding message")
        );

        let unknown = parse(&body(&[
            user,
            &assistant,
            &result("call_1"),
            &result("call_9"),
        ]))
        .err()
        .unwrap();
        assert_eq!(unknown.param.as_deref(), Some("messages.[3].tool_call_id"));
        assert!(
            unknown
                .message
                .contains("'call_9' not found in 'tool_calls'")
        );

        let unanswered = parse(&body(&[user, &assistant, &result("call_1"), user]))
            .err()
            .unwrap();
        assert_eq!(unanswered.param.as_deref(), Some("messages.[1].role"));
        assert!(
            unanswered.message.ends_with(": call_2"),
            "{}",
            unanswered.message
        );

        // A tool message after a user turn answers nothing, even if an earlier call matches.
        let late = parse(&body(&[
            user,
            &assistant,
            &result("call_1"),
            &result("call_2"),
            user,
            &result("call_1"),
        ]))
        .err()
        .unwrap();
        assert_eq!(late.param.as_deref(), Some("messages.[5].role"));

        let missing_id = parse(&body(&[
            user,
            &assistant,
            r#"{"role":"tool","content":"x"}"#,
        ]))
        .err()
        .unwrap();
        assert_eq!(
            missing_id.param.as_deref(),
            Some("messages.[2].tool_call_id")
        );
    }

    #[test]
    fn scripted_answers() {
        let user = r#"{"role":"user","content":"hi"}"#;
        assert_eq!(
            answer(&format!(r#"{{"model":"m","messages":[{user}]}}"#)),
            Answer::Whole
        );
        assert_eq!(
            answer(&format!(
                r#"{{"model":"m","messages":[{user}],"max_tokens":100,"stop":["zzz"]}}"#
            )),
            Answer::Whole
        );
        assert_eq!(
            answer(&format!(
                r#"{{"model":"m","messages":[{user}],"max_tokens":2}}"#
            )),
            Answer::Cut {
                text: "Hello from",
                finish: "length",
                tokens: 2
            }
        );
        assert_eq!(
            answer(&format!(
                r#"{{"model":"m","messages":[{user}],"max_completion_tokens":3,"stop":"mock"}}"#
            )),
            Answer::Cut {
                text: "Hello from the ",
                finish: "stop",
                tokens: 3
            }
        );

        let with = |choice: &str| {
            answer(&format!(
                r#"{{"model":"m","messages":[{user}],"tools":{WEATHER},"tool_choice":{choice}}}"#
            ))
        };
        assert_eq!(with(r#""auto""#), Answer::Whole);
        assert_eq!(with(r#""none""#), Answer::Whole);
        assert_eq!(
            with(r#""required""#),
            Answer::Call {
                name: "get_weather",
                arguments: r#"{"city":"mock","days":1}"#.to_owned(),
                tokens: 3
            }
        );
        assert_eq!(
            with(r#"{"type":"function","function":{"name":"get_time"}}"#),
            Answer::Call {
                name: "get_time",
                arguments: "{}".to_owned(),
                tokens: 1
            }
        );
        assert_eq!(
            with(
                r#"{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"get_time"}}]}}"#
            ),
            Answer::Call {
                name: "get_time",
                arguments: "{}".to_owned(),
                tokens: 1
            }
        );

        // The result of a call is answered in text, even with the choice still forcing one.
        let answered = answer(&format!(
            r#"{{"model":"m","tools":{WEATHER},"tool_choice":"required","messages":[{user},
            {{"role":"assistant","tool_calls":[{{"id":"c1","type":"function","function":{{"name":"get_weather","arguments":"{{}}"}}}}]}},
            {{"role":"tool","tool_call_id":"c1","content":"sunny"}}]}}"#
        ));
        assert_eq!(answered, Answer::Whole);
    }

    #[test]
    fn prompt_tokens_count_words() {
        let req = parse(
            r#"{"model":"m","messages":[{"role":"system","content":"be nice"},
                {"role":"user","content":[{"type":"text","text":"one two three"}]},
                {"role":"assistant","content":null}]}"#,
        )
        .unwrap();
        assert_eq!(req.prompt_tokens, 5);
    }
}
