//! The answer side of OpenAI's Responses API for providers that only have a chat API: a unified
//! chat completion as a Responses `response` object.
//!
//! A `response` repeats much of its request (`instructions`, `tools`, `tool_choice`, sampling,
//! `text`, `reasoning`, …), so the conversion takes the request's [`Echo`]. The chat answer's
//! first choice becomes the `output` items in the order a Responses model produces them:
//! reasoning (its text as one `summary_text` part), then the assistant message (one
//! `output_text` part), then one `function_call` item per tool call, keeping the call's id as
//! `call_id` so the client's `function_call_output` can answer it. `finish_reason: "length"`
//! (and `"content_filter"`) makes the response `incomplete`, as OpenAI reports a response cut by
//! `max_output_tokens`. Usage is renamed to `input_tokens` / `output_tokens` with their details.

use asbru_schema::chat::{ChatResponse, ChatUsage, FinishReason};
use serde_json::{Map, Value, json};

/// The request fields a `response` object repeats, with OpenAI's defaults for those the request
/// left out; built once per request, shared by the JSON answer and the stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Echo {
    fields: Map<String, Value>,
}

impl Echo {
    /// The echo of a Responses request body.
    pub fn of_request(request: &Value) -> Self {
        let given = |name: &str| request.get(name).filter(|v| !v.is_null()).cloned();
        let mut fields = Map::new();
        let mut put = |name: &str, default: Value| {
            fields.insert(name.to_owned(), given(name).unwrap_or(default));
        };
        put("instructions", Value::Null);
        put("max_output_tokens", Value::Null);
        put("metadata", json!({}));
        put("parallel_tool_calls", Value::Bool(true));
        put("temperature", json!(1.0));
        put("text", json!({"format": {"type": "text"}}));
        put("tool_choice", Value::String("auto".into()));
        put("tools", json!([]));
        put("top_p", json!(1.0));
        put("truncation", Value::String("disabled".into()));
        put("user", Value::Null);
        let reasoning = request.get("reasoning");
        let setting = |name: &str| {
            reasoning
                .and_then(|r| r.get(name))
                .cloned()
                .unwrap_or(Value::Null)
        };
        fields.insert(
            "reasoning".into(),
            json!({"effort": setting("effort"), "summary": setting("summary")}),
        );
        // Nothing is stored: the provider behind a translation keeps no response to continue.
        fields.insert("store".into(), Value::Bool(false));
        fields.insert("previous_response_id".into(), Value::Null);
        fields.insert("background".into(), Value::Bool(false));
        Self { fields }
    }
}

/// The identity of one response: its id (items' ids derive from it), creation time and model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub id: String,
    pub created_at: u64,
    pub model: String,
}

impl Identity {
    /// A response's identity from the chat completion's (`resp_` + the chat id).
    pub fn from_chat(chat_id: &str, created: u64, model: &str) -> Self {
        let id = if chat_id.starts_with("resp_") {
            chat_id.to_owned()
        } else if chat_id.is_empty() {
            "resp_asbru".to_owned()
        } else {
            format!("resp_{chat_id}")
        };
        Self {
            id,
            created_at: created,
            model: model.to_owned(),
        }
    }

    /// The id of output item `index`, with OpenAI's prefix for its kind (`msg`, `fc`, `rs`).
    pub fn item_id(&self, prefix: &str, index: usize) -> String {
        let base = self.id.strip_prefix("resp_").unwrap_or(&self.id);
        format!("{prefix}_{base}_{index}")
    }

    /// The `response` object: identity, `status`, the echoed request, `output`, `usage`, and
    /// `error` / `incomplete_details` when set.
    pub fn response(
        &self,
        echo: &Echo,
        status: &str,
        output: Vec<Value>,
        usage: Option<&ChatUsage>,
        ending: &Ending,
    ) -> Value {
        let mut response = Map::new();
        response.insert("id".into(), Value::String(self.id.clone()));
        response.insert("object".into(), Value::String("response".into()));
        response.insert("created_at".into(), Value::from(self.created_at));
        response.insert("status".into(), Value::String(status.to_owned()));
        response.insert("error".into(), ending.error.clone().unwrap_or(Value::Null));
        response.insert(
            "incomplete_details".into(),
            ending
                .incomplete
                .map_or(Value::Null, |reason| json!({"reason": reason})),
        );
        response.insert("model".into(), Value::String(self.model.clone()));
        response.insert("output".into(), Value::Array(output));
        for (name, value) in &echo.fields {
            response.insert(name.clone(), value.clone());
        }
        response.insert(
            "usage".into(),
            usage.map_or(Value::Null, usage_to_responses),
        );
        Value::Object(response)
    }
}

/// How a response ended, beyond its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ending {
    /// `incomplete_details.reason` (`max_output_tokens`, `content_filter`).
    pub incomplete: Option<&'static str>,
    /// The `error` object of a failed response.
    pub error: Option<Value>,
}

/// The response `status` and [`Ending`] a chat finish reason stands for.
pub fn status_for(finish: Option<&FinishReason>) -> (&'static str, Ending) {
    let incomplete = |reason| {
        (
            "incomplete",
            Ending {
                incomplete: Some(reason),
                error: None,
            },
        )
    };
    match finish {
        Some(FinishReason::Length) => incomplete("max_output_tokens"),
        Some(FinishReason::ContentFilter) => incomplete("content_filter"),
        _ => ("completed", Ending::default()),
    }
}

/// Chat usage as the Responses API reports it.
pub fn usage_to_responses(usage: &ChatUsage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_tokens(),
            "cache_write_tokens": usage.cache_write_tokens(),
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens()},
        "total_tokens": usage.total_tokens,
    })
}

/// A reasoning item whose text is one summary part.
pub(crate) fn reasoning_item(id: &str, text: &str, status: &str) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    };
    json!({"type": "reasoning", "id": id, "summary": summary, "status": status})
}

/// An `output_text` content part.
pub(crate) fn text_part(text: &str) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
}

/// An assistant message item with its content parts.
pub(crate) fn message_item(id: &str, content: Vec<Value>, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
           "content": content})
}

/// A `function_call` item.
pub(crate) fn call_item(
    id: &str,
    call_id: &str,
    name: &str,
    arguments: &str,
    status: &str,
) -> Value {
    json!({"type": "function_call", "id": id, "call_id": call_id, "name": name,
           "arguments": arguments, "status": status})
}

/// The `response` object a unified chat completion stands for (its first choice; the Responses
/// API has no `n`).
pub fn chat_to_response(chat: &ChatResponse, echo: &Echo) -> Value {
    let identity = Identity::from_chat(&chat.id, chat.created, &chat.model);
    let choice = chat.choices.first();
    let (status, ending) = status_for(choice.and_then(|c| c.finish_reason.as_ref()));
    let item_status = if status == "completed" {
        "completed"
    } else {
        "incomplete"
    };
    let mut output = Vec::new();
    if let Some(message) = choice.and_then(|c| c.assistant()) {
        let reasoning = match &message.reasoning_details {
            Some(details) if !details.is_empty() => details
                .iter()
                .filter_map(|d| d.text.as_deref().or(d.summary.as_deref()))
                .collect::<String>(),
            _ => message.reasoning_text().unwrap_or_default().to_owned(),
        };
        if !reasoning.is_empty() {
            let id = identity.item_id("rs", output.len());
            output.push(reasoning_item(&id, &reasoning, "completed"));
        }
        let text = message.text().unwrap_or_default();
        if !text.is_empty() {
            let id = identity.item_id("msg", output.len());
            output.push(message_item(&id, vec![text_part(&text)], item_status));
        }
        for call in message.tool_calls.iter().flatten() {
            let id = identity.item_id("fc", output.len());
            output.push(call_item(
                &id,
                &call.id,
                &call.function.name,
                &call.function.arguments,
                "completed",
            ));
        }
    }
    identity.response(echo, status, output, chat.usage.as_ref(), &ending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(value: Value) -> ChatResponse {
        serde_json::from_value(value).unwrap()
    }

    fn usage() -> Value {
        json!({"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19,
               "prompt_tokens_details": {"cached_tokens": 4},
               "completion_tokens_details": {"reasoning_tokens": 2}})
    }

    #[test]
    fn the_echo_repeats_the_request_with_openais_defaults() {
        let echo = Echo::of_request(&json!({
            "model": "m", "input": "hi", "instructions": "Be brief.", "temperature": 0.2,
            "tools": [{"type": "function", "name": "f"}], "reasoning": {"effort": "low"}
        }));
        let response = Identity::from_chat("c1", 5, "m").response(
            &echo,
            "completed",
            vec![],
            None,
            &Ending::default(),
        );
        assert_eq!(response["instructions"], "Be brief.");
        assert_eq!(response["temperature"], 0.2);
        assert_eq!(response["top_p"], 1.0);
        assert_eq!(response["tool_choice"], "auto");
        assert_eq!(response["tools"][0]["name"], "f");
        assert_eq!(
            response["reasoning"],
            json!({"effort": "low", "summary": null})
        );
        assert_eq!(response["text"]["format"]["type"], "text");
        assert_eq!(response["store"], false);
        assert_eq!(response["id"], "resp_c1");
        assert_eq!(response["object"], "response");
        assert!(response["usage"].is_null());
    }

    #[test]
    fn answers_become_output_items_in_order() {
        // Table: (chat message and finish reason, expected item types, status, incomplete reason).
        let cases = [
            (
                json!({"role": "assistant", "content": "Hello."}),
                "stop",
                vec!["message"],
                "completed",
                Value::Null,
            ),
            (
                json!({"role": "assistant", "content": null, "reasoning": "Think.",
                       "tool_calls": [
                           {"id": "call_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                           {"id": "call_2", "type": "function",
                            "function": {"name": "get_time", "arguments": "{}"}}]}),
                "tool_calls",
                vec!["reasoning", "function_call", "function_call"],
                "completed",
                Value::Null,
            ),
            (
                json!({"role": "assistant", "content": "Cut sh"}),
                "length",
                vec!["message"],
                "incomplete",
                json!({"reason": "max_output_tokens"}),
            ),
            (
                json!({"role": "assistant", "content": ""}),
                "content_filter",
                vec![],
                "incomplete",
                json!({"reason": "content_filter"}),
            ),
        ];
        for (message, finish, kinds, status, incomplete) in cases {
            let response = chat_to_response(
                &chat(
                    json!({"id": "chatcmpl-9", "created": 3, "model": "claude-x",
                             "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                             "usage": usage()}),
                ),
                &Echo::default(),
            );
            let got: Vec<&str> = response["output"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["type"].as_str().unwrap())
                .collect();
            assert_eq!(got, kinds, "{finish}");
            assert_eq!(response["status"], status, "{finish}");
            assert_eq!(response["incomplete_details"], incomplete, "{finish}");
        }
    }

    #[test]
    fn items_carry_text_calls_and_usage() {
        let response = chat_to_response(
            &chat(
                json!({"id": "chatcmpl-9", "created": 3, "model": "claude-x",
                         "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                             "role": "assistant", "content": "Let me check.",
                             "tool_calls": [{"id": "call_1", "type": "function",
                                 "function": {"name": "get_weather", "arguments": "{}"}}]}}],
                         "usage": usage()}),
            ),
            &Echo::default(),
        );
        assert_eq!(response["id"], "resp_chatcmpl-9");
        assert_eq!(response["model"], "claude-x");
        assert_eq!(response["created_at"], 3);
        let output = &response["output"];
        assert_eq!(output[0]["id"], "msg_chatcmpl-9_0");
        assert_eq!(output[0]["role"], "assistant");
        assert_eq!(output[0]["status"], "completed");
        assert_eq!(output[0]["content"][0]["type"], "output_text");
        assert_eq!(output[0]["content"][0]["text"], "Let me check.");
        assert_eq!(
            output[1],
            json!({"type": "function_call", "id": "fc_chatcmpl-9_1", "call_id": "call_1",
                   "name": "get_weather", "arguments": "{}", "status": "completed"})
        );
        assert_eq!(
            response["usage"],
            json!({"input_tokens": 12,
                   "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                   "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 2},
                   "total_tokens": 19})
        );
    }

    #[test]
    fn reasoning_details_give_the_summary_text() {
        let response = chat_to_response(
            &chat(
                json!({"id": "c", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Hi",
                    "reasoning_details": [
                        {"type": "reasoning.text", "text": "First, ", "signature": "sig"},
                        {"type": "reasoning.text", "text": "then."}]}}]}),
            ),
            &Echo::default(),
        );
        assert_eq!(
            response["output"][0]["summary"],
            json!([{"type": "summary_text", "text": "First, then."}])
        );
    }
}
