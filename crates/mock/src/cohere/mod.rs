//! Cohere's v2 API: `POST …/v2/chat` (JSON, or with `stream: true` the documented event
//! stream), `POST …/v2/embed`, `POST …/v2/rerank` and `GET …/v1/models?page_size=…`, with the
//! key as `Authorization: Bearer` and errors as `{"id", "message"}`.
//!
//! Sources: the API reference (`docs.cohere.com/reference/chat`, `…/chat-stream`, `…/embed`,
//! `…/rerank`, `…/list-models`, `…/errors`) and the streaming guides (`…/v2/docs/streaming`,
//! `…/v2/docs/tool-use-streaming`); `crates/dialects/tests/fixtures/cohere/SOURCES.md` lists
//! the examples. Where the docs give no wording for a validation message, it is the mock's.
//!
//! The chat answer is scripted by the request, like the other dialects' mocks:
//! - the text is [`crate::MockOptions::content`]; `thinking: {"type": "enabled"}` puts a
//!   `thinking` block first;
//! - a `stop_sequences` entry found in the text cuts it there (`STOP_SEQUENCE`), a `max_tokens`
//!   smaller than the answer cuts it to that many words (`MAX_TOKENS`);
//! - with tools and `tool_choice` not `NONE`, unless the last message is a tool result, the
//!   answer is a `tool_plan` and one call to the first tool, arguments generated from its
//!   schema (`TOOL_CALL`);
//! - `response_format` `json_object` answers JSON (a sample of `json_schema` when given);
//! - `asbru-mock:error=STATUS` in the last user turn fails with that status (mid-stream, as a
//!   `message-end` with `finish_reason: ERROR` after the first delta), and
//!   `asbru-mock:finish=REASON` finishes with that Cohere reason.
//!
//! A token is a whitespace word, as everywhere in the mock.

use crate::openai::{embed, json_bytes};
use crate::script::{first_words, sample, split};
use crate::state::{Shared, count_words};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

/// Put in the last user turn's text, fails the answer with that HTTP status.
pub(crate) const ERROR_DIRECTIVE: &str = "asbru-mock:error=";
/// Put in the last user turn's text, finishes with that Cohere finish reason.
pub(crate) const FINISH_DIRECTIVE: &str = "asbru-mock:finish=";

/// The frame a `MalformedJson` fault puts into a Cohere stream.
pub(crate) const MALFORMED_FRAME: &[u8] =
    b"event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":\n\n";

/// The reasoning the mock shows when thinking is on.
const THINKING: &str = "The user asked a question; I will answer with the configured reply.";

/// Dimensions of the mock's embeddings unless `output_dimension` asks for others.
const DEFAULT_DIMENSIONS: usize = 8;

/// Finish reasons Cohere documents.
const FINISH_REASONS: [&str; 6] = [
    "COMPLETE",
    "STOP_SEQUENCE",
    "MAX_TOKENS",
    "TOOL_CALL",
    "ERROR",
    "TIMEOUT",
];

/// The Cohere routes, recognised by path suffix so any base-URL prefix works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Chat,
    Embed,
    Rerank,
    /// `GET …/v1/models` with Cohere's `page_size` query parameter.
    Models,
}

impl Route {
    pub(crate) fn of(post: bool, get: bool, path: &str, query: Option<&str>) -> Option<Self> {
        let path = path.trim_end_matches('/');
        if post && path.ends_with("/v2/chat") {
            Some(Self::Chat)
        } else if post && path.ends_with("/v2/embed") {
            Some(Self::Embed)
        } else if post && path.ends_with("/v2/rerank") {
            Some(Self::Rerank)
        } else if get
            && path.ends_with("/v1/models")
            && query.is_some_and(|q| q.split('&').any(|p| p.starts_with("page_size=")))
        {
            Some(Self::Models)
        } else {
            None
        }
    }

    pub(crate) fn takes_json(self) -> bool {
        self != Self::Models
    }
}

/// A Cohere error: status plus `{"id", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CohereError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
}

impl CohereError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: format!("invalid request: {}", message.into()),
        }
    }

    /// The error for an injected status, with the wording Cohere uses for it.
    pub(crate) fn from_status(status: u16, message: &str) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let stock = match status.as_u16() {
            401 => "invalid api token",
            403 => "forbidden",
            404 => "model not found",
            429 => "You are using a Trial key, which is limited to 10 API calls / minute.",
            503 => "service unavailable",
            s if s >= 500 => "internal server error, this has been reported to our developers",
            _ => "invalid request (injected by asbru-mock)",
        };
        Self {
            status,
            message: if message.is_empty() {
                stock.to_owned()
            } else {
                message.to_owned()
            },
        }
    }

    pub(crate) fn body(&self, id: &str) -> Bytes {
        json_bytes(&json!({"id": id, "message": self.message}))
    }
}

/// The bearer key, checked like the OpenAI routes check theirs: missing is a 401 when auth is
/// required, unknown a 401 that echoes the key (on purpose: tests check the gateway redacts it).
pub(crate) fn check_auth(shared: &Shared, headers: &HeaderMap) -> Result<(), CohereError> {
    let key = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key.trim())
        .filter(|k| !k.is_empty());
    let Some(key) = key else {
        if !shared.opts.require_auth {
            return Ok(());
        }
        return Err(CohereError {
            status: StatusCode::UNAUTHORIZED,
            message: "no api key supplied".to_owned(),
        });
    };
    if let Some(valid) = &shared.opts.valid_keys
        && !valid.iter().any(|k| k == key)
    {
        return Err(CohereError {
            status: StatusCode::UNAUTHORIZED,
            message: format!("invalid api token: {key}"),
        });
    }
    Ok(())
}

pub(crate) fn unparsable_body() -> CohereError {
    CohereError::invalid("the request body is not valid JSON")
}

pub(crate) fn not_found() -> CohereError {
    CohereError {
        status: StatusCode::NOT_FOUND,
        message: "not found".to_owned(),
    }
}

/// What the chat answer will be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    thinking: Option<String>,
    text: String,
    tool_plan: Option<String>,
    tool_call: Option<(String, String, String)>,
    finish: String,
    input_tokens: u64,
    output_tokens: u64,
    /// A failure the request asked for: the whole answer, or mid-stream.
    fail_with: Option<CohereError>,
}

fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// Validates a `/v2/chat` body and plans the answer.
pub(crate) fn plan_chat(shared: &Shared, body: &Value, seq: u64) -> Result<Reply, CohereError> {
    let Value::Object(req) = body else {
        return Err(CohereError::invalid(
            "the request body must be a JSON object",
        ));
    };
    let model = req.get("model").and_then(Value::as_str).unwrap_or("");
    if model.is_empty() {
        return Err(CohereError::invalid("model is required"));
    }
    let messages = match req.get("messages") {
        Some(Value::Array(m)) if !m.is_empty() => m,
        _ => return Err(CohereError::invalid("messages must be a non-empty list")),
    };
    let mut call_ids: Vec<&str> = Vec::new();
    let mut input_tokens = 0;
    let mut last_user = String::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let text = text_of(m.get("content"));
        input_tokens += count_words(&text);
        match role {
            "system" => {}
            "user" => last_user = text,
            "assistant" => {
                for call in m
                    .get("tool_calls")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if call
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .is_none()
                    {
                        return Err(CohereError::invalid(format!(
                            "messages[{i}].tool_calls: function name is required"
                        )));
                    }
                    if let Some(id) = call.get("id").and_then(Value::as_str) {
                        call_ids.push(id);
                    }
                }
            }
            "tool" => {
                let id = m.get("tool_call_id").and_then(Value::as_str).unwrap_or("");
                if !call_ids.contains(&id) {
                    return Err(CohereError::invalid(format!(
                        "messages[{i}]: tool_call_id '{id}' does not match any tool call of a previous assistant message"
                    )));
                }
            }
            other => {
                return Err(CohereError::invalid(format!(
                    "messages[{i}].role '{other}' must be one of 'system', 'user', 'assistant', 'tool'"
                )));
            }
        }
    }
    let answers_tool = messages
        .last()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        == Some("tool");
    if let Some(p) = req.get("p").and_then(Value::as_f64)
        && !(0.01..=0.99).contains(&p)
    {
        return Err(CohereError::invalid(format!(
            "p must be between 0.01 and 0.99, got {p}"
        )));
    }
    if let Some(t) = req.get("temperature").and_then(Value::as_f64)
        && t < 0.0
    {
        return Err(CohereError::invalid(format!(
            "temperature must be at least 0, got {t}"
        )));
    }
    let tools = req.get("tools").and_then(Value::as_array);
    for (i, t) in tools.into_iter().flatten().enumerate() {
        if t.get("type").and_then(Value::as_str) != Some("function")
            || t.pointer("/function/name")
                .and_then(Value::as_str)
                .is_none()
        {
            return Err(CohereError::invalid(format!(
                "tools[{i}] must be {{\"type\": \"function\", \"function\": {{\"name\", …}}}}"
            )));
        }
    }
    let tool_choice = req.get("tool_choice").and_then(Value::as_str);
    if let Some(c) = tool_choice
        && c != "REQUIRED"
        && c != "NONE"
    {
        return Err(CohereError::invalid(format!(
            "tool_choice '{c}' must be one of 'REQUIRED', 'NONE'"
        )));
    }
    let format = req.get("response_format");
    let format_kind = format.and_then(|f| f.get("type")).and_then(Value::as_str);
    if let Some(k) = format_kind
        && k != "text"
        && k != "json_object"
    {
        return Err(CohereError::invalid(format!(
            "response_format.type '{k}' must be one of 'text', 'json_object'"
        )));
    }
    let thinking = match req
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
    {
        None | Some("disabled") => false,
        Some("enabled") => true,
        Some(other) => {
            return Err(CohereError::invalid(format!(
                "thinking.type '{other}' must be one of 'enabled', 'disabled'"
            )));
        }
    };

    let directive = |prefix: &str| {
        last_user.find(prefix).map(|at| {
            last_user[at + prefix.len()..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned()
        })
    };
    let fail_with = directive(ERROR_DIRECTIVE)
        .and_then(|s| s.parse::<u16>().ok())
        .map(|status| CohereError::from_status(status, ""));
    let forced_finish =
        directive(FINISH_DIRECTIVE).filter(|r| FINISH_REASONS.contains(&r.as_str()));

    let mut output_tokens = 0;
    let thinking = thinking.then(|| {
        output_tokens += count_words(THINKING);
        THINKING.to_owned()
    });
    let content = match (format_kind, format.and_then(|f| f.get("json_schema"))) {
        (Some("json_object"), Some(schema)) => sample(schema, 0).to_string(),
        (Some("json_object"), None) => json!({"answer": shared.opts.content}).to_string(),
        _ => shared.opts.content.clone(),
    };
    let stop = req
        .get("stop_sequences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|s| !s.is_empty())
        .filter_map(|s| content.find(s))
        .min();
    let mut text = stop
        .map_or(content.as_str(), |at| &content[..at])
        .to_owned();
    let budget = req
        .get("max_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    let truncated = count_words(&text) > budget;
    if truncated {
        text = first_words(&text, budget).to_owned();
    }
    let tool = (!truncated && stop.is_none() && !answers_tool && tool_choice != Some("NONE"))
        .then(|| tools.and_then(|t| t.first()))
        .flatten();
    let (mut tool_plan, mut tool_call) = (None, None);
    let mut finish = if let Some(t) = tool {
        let name = t
            .pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let args = match sample(t.pointer("/function/parameters").unwrap_or(&Value::Null), 0) {
            Value::Object(o) => Value::Object(o),
            _ => Value::Object(Map::new()),
        };
        let plan = format!("I will use {name}.");
        output_tokens += count_words(&plan) + 1;
        tool_plan = Some(plan);
        tool_call = Some((
            format!("{name}_mock{seq:012}"),
            name.to_owned(),
            args.to_string(),
        ));
        text.clear();
        "TOOL_CALL"
    } else if truncated {
        "MAX_TOKENS"
    } else if stop.is_some() {
        "STOP_SEQUENCE"
    } else {
        "COMPLETE"
    }
    .to_owned();
    output_tokens += count_words(&text);
    if let Some(f) = forced_finish {
        finish = f;
    }
    Ok(Reply {
        thinking,
        text,
        tool_plan,
        tool_call,
        finish,
        input_tokens,
        output_tokens,
        fail_with,
    })
}

fn usage(reply: &Reply) -> Value {
    let units = json!({"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens});
    json!({"billed_units": units, "tokens": units})
}

/// The chat answer as JSON; a requested failure is the error instead.
pub(crate) fn chat(id: &str, reply: &Reply) -> Result<Bytes, CohereError> {
    if let Some(err) = &reply.fail_with {
        return Err(err.clone());
    }
    let mut message = Map::new();
    message.insert("role".to_owned(), json!("assistant"));
    let mut content = Vec::new();
    if let Some(t) = &reply.thinking {
        content.push(json!({"type": "thinking", "thinking": t}));
    }
    if !reply.text.is_empty() {
        content.push(json!({"type": "text", "text": reply.text}));
    }
    if !content.is_empty() {
        message.insert("content".to_owned(), Value::Array(content));
    }
    if let Some(plan) = &reply.tool_plan {
        message.insert("tool_plan".to_owned(), json!(plan));
    }
    if let Some((call_id, name, args)) = &reply.tool_call {
        message.insert(
            "tool_calls".to_owned(),
            json!([{"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}]),
        );
    }
    Ok(json_bytes(&json!({
        "id": id,
        "finish_reason": reply.finish,
        "message": message,
        "usage": usage(reply),
    })))
}

fn frame(event: &Value) -> Bytes {
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    let mut out = format!("event: {kind}\ndata: ").into_bytes();
    out.extend_from_slice(&json_bytes(event));
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The chat answer as Cohere's event stream, in the documented order.
pub(crate) fn chat_stream(shared: &Shared, id: &str, reply: &Reply) -> Vec<Bytes> {
    let pieces = shared.opts.stream_chunks.max(1);
    let mut events = vec![json!({
        "id": id, "type": "message-start",
        "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}
    })];
    let mut index = 0;
    let mut block = |events: &mut Vec<Value>, kind: &str, text: &str| {
        events.push(json!({"type": "content-start", "index": index,
            "delta": {"message": {"content": {"type": kind, kind: ""}}}}));
        for piece in split(text, pieces) {
            events.push(json!({"type": "content-delta", "index": index,
                "delta": {"message": {"content": {kind: piece}}}}));
        }
        events.push(json!({"type": "content-end", "index": index}));
        index += 1;
    };
    if let Some(t) = &reply.thinking {
        block(&mut events, "thinking", t);
    }
    if !reply.text.is_empty() {
        block(&mut events, "text", &reply.text);
    }
    if let Some(plan) = &reply.tool_plan {
        for piece in split(plan, pieces) {
            events.push(
                json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}}),
            );
        }
    }
    if let Some((call_id, name, args)) = &reply.tool_call {
        events.push(
            json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls":
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}}}}),
        );
        for piece in split(args, pieces) {
            events.push(
                json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {"tool_calls":
                {"function": {"arguments": piece}}}}}),
            );
        }
        events.push(json!({"type": "tool-call-end", "index": 0}));
    }
    if let Some(err) = &reply.fail_with {
        // The failure comes after the first delta, as a `message-end` with ERROR.
        events.truncate(3.min(events.len()));
        events.push(json!({"type": "message-end", "delta": {"finish_reason": "ERROR", "error": err.message}}));
    } else {
        events.push(json!({"type": "message-end", "delta": {"finish_reason": reply.finish, "usage": usage(reply)}}));
    }
    events.iter().map(frame).collect()
}

/// Validates a `/v2/embed` body and answers it: one deterministic vector per text.
pub(crate) fn embed_answer(body: &Value, id: &str) -> Result<Bytes, CohereError> {
    if body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        return Err(CohereError::invalid("model is required"));
    }
    if body.get("input_type").and_then(Value::as_str).is_none() {
        return Err(CohereError::invalid(
            "valid input_type must be provided with the provided model",
        ));
    }
    let texts: Vec<&str> = match body.get("texts") {
        Some(Value::Array(t)) if !t.is_empty() => t.iter().filter_map(Value::as_str).collect(),
        _ => {
            return Err(CohereError::invalid(
                "texts must be a non-empty list of strings",
            ));
        }
    };
    let types: Vec<&str> = match body.get("embedding_types") {
        None => vec!["float"],
        Some(Value::Array(t)) => t.iter().filter_map(Value::as_str).collect(),
        Some(_) => return Err(CohereError::invalid("embedding_types must be a list")),
    };
    if let Some(bad) = types.iter().find(|t| **t != "float") {
        return Err(CohereError::invalid(format!(
            "embedding type '{bad}' is not served by asbru-mock (only 'float')"
        )));
    }
    let dims = body
        .get("output_dimension")
        .and_then(Value::as_u64)
        .and_then(|d| usize::try_from(d).ok())
        .unwrap_or(DEFAULT_DIMENSIONS);
    let vectors: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| embed(t.as_bytes().iter().copied(), 0, dims))
        .collect();
    let tokens: u64 = texts.iter().map(|t| count_words(t)).sum();
    Ok(json_bytes(&json!({
        "id": id,
        "embeddings": {"float": vectors},
        "texts": texts,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
        "response_type": "embeddings_by_type",
    })))
}

/// Validates a `/v2/rerank` body and answers it: documents scored by the share of query words
/// they contain, best first, cut to `top_n`.
pub(crate) fn rerank_answer(body: &Value, id: &str) -> Result<Bytes, CohereError> {
    if body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
    {
        return Err(CohereError::invalid("model is required"));
    }
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return Err(CohereError::invalid("query is required"));
    };
    let docs: Vec<&str> = match body.get("documents") {
        Some(Value::Array(d)) if !d.is_empty() => d
            .iter()
            .map(|d| d.as_str().or_else(|| d.get("text").and_then(Value::as_str)))
            .collect::<Option<_>>()
            .ok_or_else(|| CohereError::invalid("documents must be strings"))?,
        _ => return Err(CohereError::invalid("documents must be a non-empty list")),
    };
    let words: Vec<String> = query
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect();
    let mut scored: Vec<(usize, f64)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let d = d.to_lowercase();
            let hits = words.iter().filter(|w| d.contains(w.as_str())).count();
            #[expect(clippy::cast_precision_loss, reason = "word counts are small")]
            let score = (hits as f64 + 1.0) / (words.len() as f64 + 2.0);
            (i, score)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if let Some(n) = body.get("top_n").and_then(Value::as_u64) {
        scored.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    }
    let results: Vec<Value> = scored
        .iter()
        .map(|(i, s)| json!({"index": i, "relevance_score": s}))
        .collect();
    Ok(json_bytes(&json!({
        "id": id,
        "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    })))
}

/// `GET …/v1/models`: the configured models, each serving chat, embed and rerank.
pub(crate) fn model_list(models: &[String]) -> Bytes {
    let models: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({"name": m, "endpoints": ["chat", "embed", "rerank"], "finetuned": false,
                   "context_length": 128000, "features": ["tools", "json_schema"]})
        })
        .collect();
    json_bytes(&json!({"models": models}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockOptions;

    fn shared() -> Shared {
        Shared::new(MockOptions::default())
    }

    fn msg(role: &str, content: &str) -> Value {
        json!({"role": role, "content": content})
    }

    #[test]
    fn validation_follows_the_api() {
        let s = shared();
        let cases = [
            json!({"messages": [msg("user", "hi")]}),
            json!({"model": "m", "messages": []}),
            json!({"model": "m", "messages": [msg("robot", "hi")]}),
            json!({"model": "m", "messages": [msg("user", "hi"),
                {"role": "tool", "tool_call_id": "nope", "content": "x"}]}),
            json!({"model": "m", "messages": [msg("user", "hi")], "tool_choice": "AUTO_MAYBE"}),
            json!({"model": "m", "messages": [msg("user", "hi")], "response_format": {"type": "yaml"}}),
            json!({"model": "m", "messages": [msg("user", "hi")], "p": 1.0}),
        ];
        for body in cases {
            let e = plan_chat(&s, &body, 1).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(e.message.starts_with("invalid request: "), "{}", e.message);
        }
    }

    #[test]
    fn tools_bring_a_call_and_results_bring_text() {
        let s = shared();
        let tools = json!([{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}]);
        let r = plan_chat(
            &s,
            &json!({"model": "m", "messages": [msg("user", "weather?")], "tools": tools}),
            3,
        )
        .unwrap();
        assert_eq!(r.finish, "TOOL_CALL");
        let (id, name, args) = r.tool_call.clone().unwrap();
        assert_eq!(name, "get_weather");
        assert_eq!(args, "{\"location\":\"mock\"}");
        let body = json!({"model": "m", "tools": tools, "messages": [msg("user", "weather?"),
            {"role": "assistant", "tool_calls": [{"id": id, "type": "function", "function": {"name": "get_weather", "arguments": args}}]},
            {"role": "tool", "tool_call_id": id, "content": "20C"}]});
        let r = plan_chat(&s, &body, 4).unwrap();
        assert_eq!(r.finish, "COMPLETE");
        assert!(r.tool_call.is_none());
    }

    #[test]
    fn directives_limits_and_streams() {
        let s = shared();
        let r = plan_chat(
            &s,
            &json!({"model": "m", "messages": [msg("user", "x asbru-mock:finish=MAX_TOKENS")]}),
            1,
        )
        .unwrap();
        assert_eq!(r.finish, "MAX_TOKENS");
        let r = plan_chat(
            &s,
            &json!({"model": "m", "max_tokens": 1, "messages": [msg("user", "x")]}),
            1,
        )
        .unwrap();
        assert_eq!((r.finish.as_str(), r.output_tokens), ("MAX_TOKENS", 1));
        let r = plan_chat(
            &s,
            &json!({"model": "m", "messages": [msg("user", "asbru-mock:error=429")]}),
            1,
        )
        .unwrap();
        assert_eq!(
            chat("id", &r).unwrap_err().status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let frames = chat_stream(&s, "id", &r);
        let last = String::from_utf8(frames.last().unwrap().to_vec()).unwrap();
        assert!(last.contains("\"finish_reason\":\"ERROR\""), "{last}");

        let r = plan_chat(
            &s,
            &json!({"model": "m", "messages": [msg("user", "x")]}),
            1,
        )
        .unwrap();
        let frames: Vec<String> = chat_stream(&s, "id", &r)
            .iter()
            .map(|f| String::from_utf8(f.to_vec()).unwrap())
            .collect();
        assert!(frames[0].starts_with("event: message-start\ndata: "));
        assert!(frames[1].starts_with("event: content-start\n"));
        assert!(frames.last().unwrap().starts_with("event: message-end\n"));
    }

    #[test]
    fn embed_and_rerank() {
        let e = embed_answer(&json!({"model": "embed-v4.0", "texts": ["a"]}), "x").unwrap_err();
        assert!(e.message.contains("input_type"));
        let ok: Value = serde_json::from_slice(
            &embed_answer(&json!({"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_document", "output_dimension": 4}), "x").unwrap(),
        )
        .unwrap();
        assert_eq!(ok["embeddings"]["float"].as_array().unwrap().len(), 2);
        assert_eq!(ok["embeddings"]["float"][0].as_array().unwrap().len(), 4);
        let ranked: Value = serde_json::from_slice(
            &rerank_answer(
                &json!({"model": "rerank-v3.5", "query": "capital of France",
                "documents": ["bananas", "Paris is the capital of France"], "top_n": 1}),
                "x",
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(ranked["results"].as_array().unwrap().len(), 1);
        assert_eq!(ranked["results"][0]["index"], 1);
    }
}
