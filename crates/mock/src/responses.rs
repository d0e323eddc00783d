//! OpenAI's Responses API (`POST …/v1/responses`) as the mock serves it.
//!
//! Requests are validated as OpenAI validates them, each failure a 400 in OpenAI's error shape
//! naming the `param` at fault: `model` and `input` present and typed, input items well formed
//! (roles, `function_call` fields, a `function_call_output` answering a `function_call` earlier
//! in the input), function tools named, `tool_choice` naming a tool that exists,
//! `max_output_tokens` at least 16. The answer is the `response` object, or with `stream: true`
//! the typed event stream (`event:` names, `sequence_number`s, no `[DONE]`).
//!
//! What it holds is scripted by the request: one `function_call` item — to the function
//! `tool_choice` names, else the first function tool, with arguments generated from its
//! `parameters` schema (streamed in several fragments) — when `tool_choice` is `"required"` or
//! names a function and the input does not end with a `function_call_output`; otherwise an
//! assistant message with the mock's content, cut to `max_output_tokens` words (the response is
//! then `incomplete`, as OpenAI reports it).

use crate::openai::{ApiError, json_bytes};
use crate::script::{first_words, sample, split};
use crate::state::{Shared, count_words};
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// OpenAI's lower bound on `max_output_tokens`.
const MIN_OUTPUT_TOKENS: u64 = 16;
const ROLES: [&str; 4] = ["user", "assistant", "system", "developer"];

/// How an answer is delivered.
pub(crate) enum Answer {
    Json(Bytes),
    Events(Vec<Bytes>),
}

/// A validated request.
struct Request<'a> {
    body: &'a Value,
    model: &'a str,
    stream: bool,
    input_tokens: u64,
    max_output_tokens: Option<u64>,
    /// The function to call, with its parameter schema.
    call: Option<(&'a str, &'a Value)>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn missing(param: &str) -> ApiError {
    ApiError::invalid(
        format!("Missing required parameter: '{param}'."),
        Some(param),
        Some("missing_required_parameter"),
    )
}

fn wrong_type(param: &str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            type_name(got)
        ),
        Some(param),
        Some("invalid_type"),
    )
}

fn string_field<'a>(item: &'a Value, at: &str, name: &str) -> Result<&'a str, ApiError> {
    match item.get(name) {
        None | Some(Value::Null) => Err(missing(&format!("{at}.{name}"))),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type(&format!("{at}.{name}"), "a string", other)),
    }
}

/// Validates a request and answers it.
pub(crate) fn answer(
    shared: &Shared,
    body: &Value,
    seq: u64,
    created: u64,
) -> Result<Answer, ApiError> {
    let req = parse(body)?;
    let reply = plan(shared, &req);
    Ok(if req.stream {
        Answer::Events(events(&req, &reply, seq, created))
    } else {
        Answer::Json(json_bytes(&response(
            &req,
            &reply,
            seq,
            created,
            "completed",
        )))
    })
}

fn parse(body: &Value) -> Result<Request<'_>, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid(
            format!(
                "Invalid type for request body: expected an object, but got {} instead.",
                type_name(body)
            ),
            None,
            Some("invalid_type"),
        ));
    }
    let model = match body.get("model") {
        None | Some(Value::Null) => return Err(missing("model")),
        Some(Value::String(m)) => m.as_str(),
        Some(other) => return Err(wrong_type("model", "a string", other)),
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(wrong_type("stream", "a boolean", other)),
    };
    let mut input_tokens = match body.get("instructions") {
        None | Some(Value::Null) => 0,
        Some(Value::String(text)) => count_words(text),
        Some(other) => return Err(wrong_type("instructions", "a string", other)),
    };
    let mut ends_with_output = false;
    match body.get("input") {
        None | Some(Value::Null) => return Err(missing("input")),
        Some(Value::String(text)) => input_tokens += count_words(text),
        Some(Value::Array(items)) => {
            let mut calls: Vec<&str> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let at = format!("input[{i}]");
                input_tokens += input_item(item, &at, &mut calls)?;
            }
            ends_with_output = items
                .last()
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str)
                == Some("function_call_output");
        }
        Some(other) => {
            return Err(wrong_type(
                "input",
                "one of a string or array of input items",
                other,
            ));
        }
    }
    let max_output_tokens = match body.get("max_output_tokens") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_u64().is_some() => {
            let n = n.as_u64().unwrap_or_default();
            if n < MIN_OUTPUT_TOKENS {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid 'max_output_tokens': integer below minimum value. Expected a \
                         value >= {MIN_OUTPUT_TOKENS}, but got {n} instead."
                    ),
                    Some("max_output_tokens"),
                    Some("integer_below_min_value"),
                ));
            }
            Some(n)
        }
        Some(other) => return Err(wrong_type("max_output_tokens", "an integer", other)),
    };
    let functions = tools(body)?;
    let call = tool_choice(body, &functions)?.filter(|_| !ends_with_output);
    Ok(Request {
        body,
        model,
        stream,
        input_tokens,
        max_output_tokens,
        call,
    })
}

/// Checks one input item; returns its words. `calls` collects the `call_id`s of the
/// `function_call` items so far, which a `function_call_output` must answer.
fn input_item<'a>(item: &'a Value, at: &str, calls: &mut Vec<&'a str>) -> Result<u64, ApiError> {
    if !item.is_object() {
        return Err(wrong_type(at, "an object", item));
    }
    let kind = match item.get("type") {
        None | Some(Value::Null) => "message",
        Some(Value::String(t)) => t.as_str(),
        Some(other) => return Err(wrong_type(&format!("{at}.type"), "a string", other)),
    };
    match kind {
        "message" => {
            let role = string_field(item, at, "role")?;
            if !ROLES.contains(&role) {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid value: '{role}'. Supported values are: 'user', 'assistant', \
                         'system', and 'developer'."
                    ),
                    Some(&format!("{at}.role")),
                    Some("invalid_value"),
                ));
            }
            match item.get("content") {
                Some(Value::String(text)) => Ok(count_words(text)),
                Some(Value::Array(parts)) => Ok(parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .map(count_words)
                    .sum()),
                None | Some(Value::Null) => Err(missing(&format!("{at}.content"))),
                Some(other) => Err(wrong_type(
                    &format!("{at}.content"),
                    "one of a string or array of content parts",
                    other,
                )),
            }
        }
        "function_call" => {
            let call_id = string_field(item, at, "call_id")?;
            string_field(item, at, "name")?;
            let arguments = string_field(item, at, "arguments")?;
            calls.push(call_id);
            Ok(count_words(arguments))
        }
        "function_call_output" => {
            let call_id = string_field(item, at, "call_id")?;
            if !calls.contains(&call_id) {
                return Err(ApiError::invalid(
                    format!("No tool call found for function call output with call_id {call_id}."),
                    Some("input"),
                    None,
                ));
            }
            match item.get("output") {
                Some(Value::String(text)) => Ok(count_words(text)),
                Some(Value::Array(_)) => Ok(1),
                None | Some(Value::Null) => Err(missing(&format!("{at}.output"))),
                Some(other) => Err(wrong_type(&format!("{at}.output"), "a string", other)),
            }
        }
        "reasoning" | "item_reference" => Ok(0),
        other => Err(ApiError::invalid(
            format!(
                "Invalid value: '{other}'. This mock supports input items of type 'message', 'function_call', 'function_call_output', 'reasoning' and 'item_reference'."
            ),
            Some(&format!("{at}.type")),
            Some("invalid_value"),
        )),
    }
}

/// The function tools, as (name, parameter schema).
fn tools(body: &Value) -> Result<Vec<(&str, &Value)>, ApiError> {
    let tools = match body.get("tools") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(tools)) => tools,
        Some(other) => return Err(wrong_type("tools", "an array", other)),
    };
    let mut functions = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        match tool.get("type").and_then(Value::as_str) {
            None => return Err(missing(&format!("{at}.type"))),
            Some("function") => {
                let name = string_field(tool, &at, "name")?;
                functions.push((name, tool.get("parameters").unwrap_or(&Value::Null)));
            }
            // Built-in tools are accepted and never called.
            Some(_) => {}
        }
    }
    Ok(functions)
}

/// The function `tool_choice` makes the model call, if any.
fn tool_choice<'a>(
    body: &Value,
    functions: &[(&'a str, &'a Value)],
) -> Result<Option<(&'a str, &'a Value)>, ApiError> {
    match body.get("tool_choice") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" | "none" => Ok(None),
            "required" => match functions.first() {
                Some(f) => Ok(Some(*f)),
                None => Err(ApiError::invalid(
                    "Tool choice 'required' must be specified with 'tools' parameter.",
                    Some("tool_choice"),
                    None,
                )),
            },
            other => Err(ApiError::invalid(
                format!(
                    "Invalid value: '{other}'. Supported values are: 'none', 'auto', and 'required'."
                ),
                Some("tool_choice"),
                Some("invalid_value"),
            )),
        },
        Some(Value::Object(choice)) => {
            if choice.get("type").and_then(Value::as_str) != Some("function") {
                return Ok(None);
            }
            let name = match choice.get("name") {
                Some(Value::String(n)) => n.as_str(),
                None | Some(Value::Null) => return Err(missing("tool_choice.name")),
                Some(other) => return Err(wrong_type("tool_choice.name", "a string", other)),
            };
            functions
                .iter()
                .find(|(n, _)| *n == name)
                .copied()
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(
                        format!("Tool choice '{name}' not found in 'tools' parameter."),
                        Some("tool_choice"),
                        None,
                    )
                })
        }
        Some(other) => Err(wrong_type("tool_choice", "a string or an object", other)),
    }
}

/// What the answer holds.
enum Reply {
    Text { text: String, cut: bool },
    Call { name: String, arguments: String },
}

fn plan(shared: &Shared, req: &Request<'_>) -> Reply {
    if let Some((name, schema)) = req.call {
        let arguments = match sample(schema, 0) {
            Value::Object(fields) => Value::Object(fields),
            _ => Value::Object(Map::new()),
        };
        return Reply::Call {
            name: name.to_owned(),
            arguments: arguments.to_string(),
        };
    }
    let content = shared.opts.content.as_str();
    let budget = req.max_output_tokens.unwrap_or(u64::MAX);
    let cut = count_words(content) > budget;
    let text = if cut {
        first_words(content, budget)
    } else {
        content
    };
    Reply::Text {
        text: text.to_owned(),
        cut,
    }
}

fn ids(seq: u64) -> (String, String, String, String) {
    (
        format!("resp_mock{seq:012}"),
        format!("msg_mock{seq:012}"),
        format!("fc_mock{seq:012}"),
        format!("call_mock{seq:012}"),
    )
}

/// The output item of a reply, in its final form.
fn item(reply: &Reply, seq: u64) -> Value {
    let (_, msg, fc, call) = ids(seq);
    match reply {
        Reply::Text { text, cut } => json!({
            "type": "message", "id": msg, "role": "assistant",
            "status": if *cut { "incomplete" } else { "completed" },
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        }),
        Reply::Call { name, arguments } => json!({
            "type": "function_call", "id": fc, "call_id": call, "name": name,
            "arguments": arguments, "status": "completed"
        }),
    }
}

fn output_tokens(reply: &Reply) -> u64 {
    match reply {
        Reply::Text { text, .. } => count_words(text),
        Reply::Call { arguments, .. } => 1 + count_words(arguments),
    }
}

/// The `response` object; `status` `in_progress` for the stream's first events (no output, no
/// usage yet).
fn response(req: &Request<'_>, reply: &Reply, seq: u64, created: u64, status: &str) -> Value {
    let (id, ..) = ids(seq);
    let echo = |name: &str, default: Value| {
        req.body
            .get(name)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    };
    let finished = status != "in_progress";
    let cut = matches!(reply, Reply::Text { cut: true, .. });
    let status = if finished && cut {
        "incomplete"
    } else {
        status
    };
    let output_tokens = output_tokens(reply);
    json!({
        "id": id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": if finished && cut { json!({"reason": "max_output_tokens"}) } else { Value::Null },
        "instructions": echo("instructions", Value::Null),
        "max_output_tokens": echo("max_output_tokens", Value::Null),
        "model": req.model,
        "output": if finished { json!([item(reply, seq)]) } else { json!([]) },
        "parallel_tool_calls": echo("parallel_tool_calls", Value::Bool(true)),
        "previous_response_id": null,
        "reasoning": echo("reasoning", json!({"effort": null, "summary": null})),
        "store": echo("store", Value::Bool(true)),
        "temperature": echo("temperature", json!(1.0)),
        "text": echo("text", json!({"format": {"type": "text"}})),
        "tool_choice": echo("tool_choice", json!("auto")),
        "tools": echo("tools", json!([])),
        "top_p": echo("top_p", json!(1.0)),
        "truncation": echo("truncation", json!("disabled")),
        "usage": if finished {
            json!({
                "input_tokens": req.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": req.input_tokens + output_tokens,
            })
        } else {
            Value::Null
        },
        "user": echo("user", Value::Null),
        "metadata": echo("metadata", json!({})),
    })
}

/// One named event, numbered.
fn event(frames: &mut Vec<Bytes>, kind: &str, mut fields: Value) {
    fields["type"] = Value::String(kind.to_owned());
    fields["sequence_number"] = Value::from(frames.len());
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    out.extend_from_slice(&json_bytes(&fields));
    out.extend_from_slice(b"\n\n");
    frames.push(Bytes::from(out));
}

/// The typed event stream, in the order OpenAI sends it.
fn events(req: &Request<'_>, reply: &Reply, seq: u64, created: u64) -> Vec<Bytes> {
    let (_, msg, fc, _) = ids(seq);
    let mut frames = Vec::new();
    let started = response(req, reply, seq, created, "in_progress");
    event(
        &mut frames,
        "response.created",
        json!({"response": started.clone()}),
    );
    event(
        &mut frames,
        "response.in_progress",
        json!({"response": started}),
    );
    let done = item(reply, seq);
    match reply {
        Reply::Text { text, .. } => {
            let mut added = done.clone();
            added["status"] = json!("in_progress");
            added["content"] = json!([]);
            event(
                &mut frames,
                "response.output_item.added",
                json!({"output_index": 0, "item": added}),
            );
            let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
            event(
                &mut frames,
                "response.content_part.added",
                json!({"item_id": msg, "output_index": 0, "content_index": 0, "part": part("")}),
            );
            for piece in split(text, 4) {
                event(
                    &mut frames,
                    "response.output_text.delta",
                    json!({"item_id": msg, "output_index": 0, "content_index": 0,
                           "delta": piece, "logprobs": []}),
                );
            }
            event(
                &mut frames,
                "response.output_text.done",
                json!({"item_id": msg, "output_index": 0, "content_index": 0, "text": text,
                       "logprobs": []}),
            );
            event(
                &mut frames,
                "response.content_part.done",
                json!({"item_id": msg, "output_index": 0, "content_index": 0,
                       "part": part(text)}),
            );
        }
        Reply::Call { arguments, .. } => {
            let mut added = done.clone();
            added["status"] = json!("in_progress");
            added["arguments"] = json!("");
            event(
                &mut frames,
                "response.output_item.added",
                json!({"output_index": 0, "item": added}),
            );
            for piece in split(arguments, 3) {
                event(
                    &mut frames,
                    "response.function_call_arguments.delta",
                    json!({"item_id": fc, "output_index": 0, "delta": piece}),
                );
            }
            event(
                &mut frames,
                "response.function_call_arguments.done",
                json!({"item_id": fc, "output_index": 0, "arguments": arguments}),
            );
        }
    }
    event(
        &mut frames,
        "response.output_item.done",
        json!({"output_index": 0, "item": done}),
    );
    let finished = response(req, reply, seq, created, "completed");
    let kind = if finished["status"] == "incomplete" {
        "response.incomplete"
    } else {
        "response.completed"
    };
    event(&mut frames, kind, json!({"response": finished}));
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockOptions;

    fn shared() -> Shared {
        Shared::new(MockOptions {
            content: "One two three four five.".into(),
            ..MockOptions::default()
        })
    }

    fn json_answer(body: Value) -> Value {
        match answer(&shared(), &body, 1, 100).unwrap() {
            Answer::Json(b) => serde_json::from_slice(&b).unwrap(),
            Answer::Events(_) => panic!("expected JSON"),
        }
    }

    fn stream_answer(body: Value) -> Vec<Value> {
        match answer(&shared(), &body, 1, 100).unwrap() {
            Answer::Events(frames) => frames
                .iter()
                .map(|f| {
                    let text = std::str::from_utf8(f).unwrap();
                    let data = text.split("\ndata: ").nth(1).unwrap().trim_end();
                    serde_json::from_str(data).unwrap()
                })
                .collect(),
            Answer::Json(_) => panic!("expected events"),
        }
    }

    const WEATHER: &str = r#"{"type": "function", "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}"#;

    fn weather() -> Value {
        serde_json::from_str(WEATHER).unwrap()
    }

    #[test]
    fn a_plain_request_gets_the_content() {
        let r = json_answer(
            json!({"model": "gpt-4.1", "input": "Say hello.", "instructions": "Be kind."}),
        );
        assert_eq!(r["object"], "response");
        assert_eq!(r["status"], "completed");
        assert_eq!(
            r["output"][0]["content"][0]["text"],
            "One two three four five."
        );
        assert_eq!(r["usage"]["input_tokens"], 4);
        assert_eq!(r["usage"]["output_tokens"], 5);
        assert_eq!(r["instructions"], "Be kind.");
    }

    #[test]
    fn forced_tools_are_called_until_the_input_ends_with_their_output() {
        let r = json_answer(
            json!({"model": "m", "input": "Weather?", "tools": [weather()],
                                   "tool_choice": "required"}),
        );
        let call = &r["output"][0];
        assert_eq!(call["type"], "function_call");
        assert_eq!(call["name"], "get_weather");
        let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        assert!(args["city"].is_string());

        let r = json_answer(json!({"model": "m", "tools": [weather()],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "input": [
                {"role": "user", "content": "Weather?"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}]}));
        assert_eq!(r["output"][0]["type"], "message");

        let r = json_answer(json!({"model": "m", "input": "Weather?", "tools": [weather()]}));
        assert_eq!(r["output"][0]["type"], "message");
    }

    #[test]
    fn streams_are_numbered_typed_events() {
        let events = stream_answer(json!({"model": "m", "input": "hi", "stream": true}));
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds[..4],
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added"
            ]
        );
        assert_eq!(
            kinds[kinds.len() - 4..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed"
            ]
        );
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e["sequence_number"], i);
        }
        let text: String = events
            .iter()
            .filter(|e| e["type"] == "response.output_text.delta")
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        assert_eq!(text, "One two three four five.");

        let events = stream_answer(json!({"model": "m", "input": "hi", "stream": true,
                                          "tools": [weather()], "tool_choice": "required"}));
        let fragments: Vec<&str> = events
            .iter()
            .filter(|e| e["type"] == "response.function_call_arguments.delta")
            .map(|e| e["delta"].as_str().unwrap())
            .collect();
        assert!(fragments.len() >= 2, "{fragments:?}");
        let args: Value = serde_json::from_str(&fragments.concat()).unwrap();
        assert!(args["city"].is_string());
    }

    #[test]
    fn a_small_budget_cuts_the_answer_incomplete() {
        let r = json_answer(json!({"model": "m", "input": "hi", "max_output_tokens": 16}));
        assert_eq!(r["status"], "completed");
        let shared = Shared::new(MockOptions {
            content: "word ".repeat(20),
            ..MockOptions::default()
        });
        let Answer::Json(b) = answer(
            &shared,
            &json!({"model": "m", "input": "hi", "max_output_tokens": 16}),
            1,
            1,
        )
        .unwrap() else {
            panic!()
        };
        let r: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(r["status"], "incomplete");
        assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
    }

    #[test]
    fn validation_names_the_param() {
        let cases = [
            (json!({"input": "hi"}), "model"),
            (json!({"model": "m"}), "input"),
            (json!({"model": "m", "input": 3}), "input"),
            (
                json!({"model": "m", "input": "hi", "stream": "yes"}),
                "stream",
            ),
            (
                json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
                "input[0].role",
            ),
            (
                json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f"}]}),
                "input[0].arguments",
            ),
            (
                json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}),
                "input",
            ),
            (
                json!({"model": "m", "input": "hi", "tools": [{"type": "function"}]}),
                "tools[0].name",
            ),
            (
                json!({"model": "m", "input": "hi", "tool_choice": "required"}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "input": "hi", "tools": [weather()],
                    "tool_choice": {"type": "function", "name": "nope"}}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "input": "hi", "max_output_tokens": 5}),
                "max_output_tokens",
            ),
        ];
        for (body, param) in cases {
            let Err(e) = answer(&shared(), &body, 1, 1) else {
                panic!("accepted {body}")
            };
            assert_eq!(e.param.as_deref(), Some(param), "{body}: {}", e.message);
            assert_eq!(e.status, 400);
        }
    }
}
