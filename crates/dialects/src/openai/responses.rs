//! The request side of OpenAI's Responses API (`POST /v1/responses`,
//! `/v1/responses/input_tokens`) as a unified chat request, for providers that only have a chat
//! API.
//!
//! What maps: `instructions` (a system message first), `input` as a string (one user message) or
//! as items — messages with `input_text` / `output_text` / `input_image` parts, `function_call`
//! items (assistant tool calls, consecutive ones joined into one assistant turn) and
//! `function_call_output` items (tool results) — plus function `tools`, `tool_choice`,
//! `text.format` (JSON schema / JSON object), `reasoning.effort`, `max_output_tokens`,
//! `temperature`, `top_p`. `reasoning` items carry no text a chat API could take and are skipped.
//! Anything else (file inputs, built-in tools such as web search, stored conversations,
//! background responses) is refused naming the field, rather than dropped.

use asbru_schema::chat::ChatRequest;
use serde_json::{Map, Value, json};

/// A Responses body that has no chat form, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ResponsesError {
    pub message: String,
    pub param: String,
}

fn refuse(param: impl Into<String>, message: impl Into<String>) -> ResponsesError {
    ResponsesError {
        message: message.into(),
        param: param.into(),
    }
}

/// The unified chat request a Responses request stands for.
pub fn responses_to_chat(body: &Value) -> Result<ChatRequest, ResponsesError> {
    let fields = body
        .as_object()
        .ok_or_else(|| refuse("", "the request body must be a JSON object"))?;
    let model = fields
        .get("model")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("model", "`model` is required"))?;
    for unsupported in ["previous_response_id", "conversation", "prompt"] {
        if fields.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(refuse(
                unsupported,
                format!("`{unsupported}` needs stored responses, which this provider has not"),
            ));
        }
    }
    if fields.get("background") == Some(&Value::Bool(true)) {
        return Err(refuse(
            "background",
            "`background: true` needs stored responses, which this provider has not",
        ));
    }
    let mut messages: Vec<Value> = Vec::new();
    if let Some(instructions) = fields.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    match fields.get("input") {
        Some(Value::String(text)) => messages.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                input_item(item, &format!("input[{i}]"), &mut messages)?;
            }
        }
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(refuse(
                "input",
                "`input` must be a string or a list of items",
            ));
        }
    }
    let mut chat = Map::new();
    chat.insert("model".into(), Value::String(model.to_owned()));
    chat.insert("messages".into(), Value::Array(messages));
    for (from, to) in [
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("max_output_tokens", "max_tokens"),
        ("parallel_tool_calls", "parallel_tool_calls"),
        ("user", "user"),
    ] {
        if let Some(v) = fields.get(from).filter(|v| !v.is_null()) {
            chat.insert(to.into(), v.clone());
        }
    }
    if let Some(tools) = fields.get("tools").and_then(Value::as_array) {
        let converted = tools
            .iter()
            .enumerate()
            .map(|(i, t)| tool(t, &format!("tools[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if !converted.is_empty() {
            chat.insert("tools".into(), Value::Array(converted));
        }
    }
    if let Some(choice) = fields.get("tool_choice").filter(|v| !v.is_null()) {
        chat.insert("tool_choice".into(), tool_choice(choice)?);
    }
    if let Some(format) = fields.get("text").and_then(|t| t.get("format"))
        && let Some(rf) = response_format(format)?
    {
        chat.insert("response_format".into(), rf);
    }
    if let Some(effort) = fields
        .get("reasoning")
        .and_then(|r| r.get("effort"))
        .and_then(Value::as_str)
    {
        chat.insert("reasoning_effort".into(), Value::String(effort.to_owned()));
    }
    serde_json::from_value(Value::Object(chat)).map_err(|e| refuse("input", e.to_string()))
}

fn input_item(item: &Value, at: &str, messages: &mut Vec<Value>) -> Result<(), ResponsesError> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    match kind {
        "message" => {
            let role = item
                .get("role")
                .and_then(Value::as_str)
                .ok_or_else(|| refuse(format!("{at}.role"), "a message needs a `role`"))?;
            if !matches!(role, "user" | "assistant" | "system" | "developer") {
                return Err(refuse(
                    format!("{at}.role"),
                    format!("unknown role {role:?}"),
                ));
            }
            let content = match item.get("content") {
                Some(Value::String(s)) => Value::String(s.clone()),
                Some(Value::Array(parts)) => {
                    let converted = parts
                        .iter()
                        .enumerate()
                        .map(|(i, p)| content_part(p, &format!("{at}.content[{i}]")))
                        .collect::<Result<Vec<_>, _>>()?;
                    if role == "assistant" {
                        // Assistant turns are text in chat.
                        let text: String = converted
                            .iter()
                            .filter_map(|p| p.get("text").and_then(Value::as_str))
                            .collect();
                        Value::String(text)
                    } else {
                        Value::Array(converted)
                    }
                }
                _ => {
                    return Err(refuse(
                        format!("{at}.content"),
                        "a message needs `content` (a string or a list of parts)",
                    ));
                }
            };
            messages.push(json!({"role": role, "content": content}));
        }
        "function_call" => {
            let field = |name: &str| {
                item.get(name)
                    .and_then(Value::as_str)
                    .ok_or_else(|| refuse(format!("{at}.{name}"), format!("`{name}` is required")))
            };
            let call = json!({
                "id": field("call_id")?,
                "type": "function",
                "function": {"name": field("name")?, "arguments": field("arguments")?}
            });
            // Parallel calls arrive as consecutive items: one assistant turn in chat.
            let joined = messages.last_mut().and_then(|last| {
                let open = last.get("role").and_then(Value::as_str) == Some("assistant")
                    && last.get("tool_calls").is_some();
                open.then(|| last.get_mut("tool_calls").and_then(Value::as_array_mut))
                    .flatten()
            });
            match joined {
                Some(calls) => calls.push(call),
                None => messages
                    .push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
            }
        }
        "function_call_output" => {
            let call_id = item
                .get("call_id")
                .and_then(Value::as_str)
                .ok_or_else(|| refuse(format!("{at}.call_id"), "`call_id` is required"))?;
            let output = match item.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
        }
        "reasoning" => {}
        other => {
            return Err(refuse(
                format!("{at}.type"),
                format!("input items of type {other:?} cannot be sent to this provider"),
            ));
        }
    }
    Ok(())
}

fn content_part(part: &Value, at: &str) -> Result<Value, ResponsesError> {
    match part.get("type").and_then(Value::as_str) {
        Some("input_text" | "output_text" | "text") => {
            let text = part.get("text").and_then(Value::as_str).unwrap_or_default();
            Ok(json!({"type": "text", "text": text}))
        }
        Some("input_image") => {
            let url = part
                .get("image_url")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    refuse(
                        format!("{at}.image_url"),
                        "only images given by `image_url` (a URL or data: URL) can be sent",
                    )
                })?;
            let mut image = json!({"url": url});
            if let Some(detail) = part.get("detail").and_then(Value::as_str) {
                image["detail"] = Value::String(detail.to_owned());
            }
            Ok(json!({"type": "image_url", "image_url": image}))
        }
        other => Err(refuse(
            format!("{at}.type"),
            format!("content parts of type {other:?} cannot be sent to this provider"),
        )),
    }
}

fn tool(t: &Value, at: &str) -> Result<Value, ResponsesError> {
    match t.get("type").and_then(Value::as_str) {
        Some("function") => {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| refuse(format!("{at}.name"), "a function tool needs a `name`"))?;
            let mut function = json!({"name": name});
            for field in ["description", "parameters", "strict"] {
                if let Some(v) = t.get(field).filter(|v| !v.is_null()) {
                    function[field] = v.clone();
                }
            }
            Ok(json!({"type": "function", "function": function}))
        }
        other => Err(refuse(
            format!("{at}.type"),
            format!("tools of type {other:?} are built into OpenAI and cannot be sent here"),
        )),
    }
}

fn tool_choice(choice: &Value) -> Result<Value, ResponsesError> {
    match choice {
        Value::String(mode) if matches!(mode.as_str(), "auto" | "none" | "required") => {
            Ok(choice.clone())
        }
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o.get("name").and_then(Value::as_str).ok_or_else(|| {
                refuse("tool_choice.name", "a function tool choice needs a `name`")
            })?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(refuse("tool_choice", "unsupported `tool_choice`")),
    }
}

fn response_format(format: &Value) -> Result<Option<Value>, ResponsesError> {
    match format.get("type").and_then(Value::as_str) {
        Some("text") | None => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let mut schema = Map::new();
            for field in ["name", "description", "schema", "strict"] {
                if let Some(v) = format.get(field).filter(|v| !v.is_null()) {
                    schema.insert(field.into(), v.clone());
                }
            }
            schema
                .entry("name")
                .or_insert_with(|| Value::String("response".into()));
            Ok(Some(json!({"type": "json_schema", "json_schema": schema})))
        }
        Some(other) => Err(refuse(
            "text.format.type",
            format!("unknown text format {other:?}"),
        )),
    }
}

/// The Responses request a unified chat request stands for — the inverse of
/// [`responses_to_chat`], for counting a chat-shaped request (Anthropic's `count_tokens`) with
/// the Responses-API counting every provider serves: system and developer messages become
/// `instructions`, user text and images `input_text` / `input_image` parts, assistant text an
/// assistant message, tool calls `function_call` items and tool results `function_call_output`
/// items; function tools and `tool_choice` are kept.
pub fn chat_to_responses(chat: &ChatRequest) -> Value {
    let value = serde_json::to_value(chat).unwrap_or(Value::Null);
    let mut instructions: Vec<String> = Vec::new();
    let mut input: Vec<Value> = Vec::new();
    for message in value["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or_default();
        match role {
            "system" | "developer" => instructions.push(text_of(&message["content"])),
            "user" => {
                let content = match &message["content"] {
                    Value::String(s) => json!([{"type": "input_text", "text": s}]),
                    Value::Array(parts) => Value::Array(
                        parts
                            .iter()
                            .filter_map(|p| match p["type"].as_str() {
                                Some("text") => Some(json!({"type": "input_text", "text": p["text"]})),
                                Some("image_url") => Some(
                                    json!({"type": "input_image", "image_url": p["image_url"]["url"]}),
                                ),
                                _ => None,
                            })
                            .collect(),
                    ),
                    _ => json!([]),
                };
                input.push(json!({"role": "user", "content": content}));
            }
            "assistant" => {
                let text = text_of(&message["content"]);
                if !text.is_empty() {
                    input.push(json!({"role": "assistant", "content": text}));
                }
                for call in message["tool_calls"].as_array().into_iter().flatten() {
                    input.push(json!({
                        "type": "function_call",
                        "call_id": call["id"],
                        "name": call["function"]["name"],
                        "arguments": call["function"]["arguments"],
                    }));
                }
            }
            "tool" => input.push(json!({
                "type": "function_call_output",
                "call_id": message["tool_call_id"],
                "output": text_of(&message["content"]),
            })),
            _ => {}
        }
    }
    let mut out = json!({"model": chat.model, "input": input});
    if !instructions.is_empty() {
        out["instructions"] = Value::String(instructions.join("\n\n"));
    }
    let tools: Vec<Value> = value["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["type"] == "function")
        .map(|t| {
            let mut tool = json!({"type": "function", "name": t["function"]["name"]});
            for field in ["description", "parameters", "strict"] {
                if !t["function"][field].is_null() {
                    tool[field] = t["function"][field].clone();
                }
            }
            tool
        })
        .collect();
    if !tools.is_empty() {
        out["tools"] = Value::Array(tools);
    }
    match &value["tool_choice"] {
        Value::Null => {}
        Value::String(mode) => out["tool_choice"] = Value::String(mode.clone()),
        choice => {
            if let Some(name) = choice["function"]["name"].as_str() {
                out["tool_choice"] = json!({"type": "function", "name": name});
            }
        }
    }
    out
}

/// The text of a chat `content`: the string, or its text parts joined.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: Value) -> Value {
        serde_json::to_value(responses_to_chat(&body).unwrap()).unwrap()
    }

    #[test]
    fn a_string_input_with_instructions() {
        let out = chat(json!({
            "model": "gpt-4.1", "instructions": "Be brief.", "input": "Tell me a joke.",
            "max_output_tokens": 50, "reasoning": {"effort": "low"}
        }));
        assert_eq!(
            out["messages"],
            json!([{"role": "system", "content": "Be brief."},
                   {"role": "user", "content": "Tell me a joke."}])
        );
        assert_eq!(out["max_tokens"], 50);
        assert_eq!(out["reasoning_effort"], "low");
    }

    #[test]
    fn items_with_parallel_calls_and_their_outputs() {
        // The shape of OpenAI's function-calling guide: the model's calls and the outputs
        // appended to the input.
        let out = chat(json!({
            "model": "gpt-4.1",
            "input": [
                {"role": "user", "content": [
                    {"type": "input_text", "text": "Weather in Paris and Bogotá?"},
                    {"type": "input_image", "image_url": "https://example.com/map.png"}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                 "arguments": "{\"location\":\"Paris\"}"},
                {"type": "function_call", "call_id": "call_2", "name": "get_weather",
                 "arguments": "{\"location\":\"Bogotá\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "15°C"},
                {"type": "function_call_output", "call_id": "call_2", "output": "20°C"},
                {"type": "reasoning", "id": "rs_1", "summary": []}
            ],
            "tools": [{"type": "function", "name": "get_weather",
                       "parameters": {"type": "object"}, "strict": true}],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}}
        }));
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 4);
        assert_eq!(
            messages[0]["content"][1]["image_url"]["url"],
            "https://example.com/map.png"
        );
        assert_eq!(messages[1]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(
            messages[2],
            json!({"role": "tool", "tool_call_id": "call_1", "content": "15°C"})
        );
        assert_eq!(out["tools"][0]["function"]["name"], "get_weather");
        assert_eq!(out["tool_choice"]["function"]["name"], "get_weather");
        assert_eq!(out["response_format"]["json_schema"]["name"], "w");
    }

    #[test]
    fn chat_requests_round_trip_through_the_responses_form() {
        let responses = json!({
            "model": "m",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                 "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
            ],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            "tool_choice": "required"
        });
        let chat = responses_to_chat(&responses).unwrap();
        assert_eq!(chat_to_responses(&chat), responses);
    }

    #[test]
    fn what_has_no_chat_form_is_refused_naming_the_field() {
        let cases = [
            (json!({"input": "x"}), "model"),
            (json!({"model": "m", "input": 3}), "input"),
            (
                json!({"model": "m", "previous_response_id": "resp_1"}),
                "previous_response_id",
            ),
            (
                json!({"model": "m", "input": [{"type": "input_file"}]}),
                "input[0].type",
            ),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"model": "m", "tools": [{"type": "web_search"}]}),
                "tools[0].type",
            ),
            (json!({"model": "m", "background": true}), "background"),
        ];
        for (body, param) in cases {
            assert_eq!(responses_to_chat(&body).unwrap_err().param, param, "{body}");
        }
    }
}
