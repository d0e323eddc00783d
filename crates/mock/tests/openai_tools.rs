//! The OpenAI chat mock's scripted answers over HTTP: forced tool calls as JSON and as chunks,
//! tool-turn validation, and stop sequences and token limits.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions should fail loudly too"
)]

use asbru_mock::{MockOptions, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start() -> MockServer {
    MockServer::start(MockOptions::default()).await.unwrap()
}

async fn post(server: &MockServer, body: &Value) -> (StatusCode, String) {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .bearer_auth("sk-test")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn post_json(server: &MockServer, body: &Value) -> (StatusCode, Value) {
    let (status, text) = post(server, body).await;
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, value)
}

/// The chunks of a streamed answer; asserts it ends with one `[DONE]`.
async fn chunks(server: &MockServer, body: &Value) -> Vec<Value> {
    let (status, text) = post(server, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let data: Vec<&str> = text
        .split_terminator("\n\n")
        .map(|f| f.strip_prefix("data: ").unwrap())
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"));
    data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"]}}})
}

fn ask(extra: Value) -> Value {
    let mut body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Weather?"}],
                          "tools": [{"type": "function", "function": {"name": "noop"}}, weather_tool()]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn forced_choices_answer_with_one_call() {
    let server = start().await;
    let named = json!({"type": "function", "function": {"name": "get_weather"}});
    let (status, resp) = post_json(&server, &ask(json!({"tool_choice": named}))).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    let choice = &resp["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1);
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "mock", "unit": "c"}));
    assert_eq!(resp["usage"]["completion_tokens"], 3);

    // "required" calls the first function.
    let (_, resp) = post_json(&server, &ask(json!({"tool_choice": "required", "n": 2}))).await;
    let choices = resp["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    let ids: Vec<&Value> = choices
        .iter()
        .map(|c| {
            assert_eq!(c["message"]["tool_calls"][0]["function"]["name"], "noop");
            assert_eq!(c["message"]["tool_calls"][0]["function"]["arguments"], "{}");
            &c["message"]["tool_calls"][0]["id"]
        })
        .collect();
    assert_ne!(ids[0], ids[1]);

    // "auto", "none" and no choice keep the text answer.
    for choice in [json!("auto"), json!("none"), Value::Null] {
        let (_, resp) = post_json(&server, &ask(json!({"tool_choice": choice}))).await;
        assert_eq!(resp["choices"][0]["finish_reason"], "stop", "{choice}");
        assert_eq!(
            resp["choices"][0]["message"]["content"],
            "Hello from the mock."
        );
        assert!(resp["choices"][0]["message"].get("tool_calls").is_none());
    }
}

#[tokio::test]
async fn a_streamed_call_arrives_in_fragments() {
    let server = start().await;
    let chunks = chunks(
        &server,
        &ask(json!({"tool_choice": "required", "stream": true,
                    "stream_options": {"include_usage": true},
                    "tools": [weather_tool()]})),
    )
    .await;
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert_eq!(first["content"], Value::Null);
    assert!(first.get("content").is_some());
    let call = &first["tool_calls"][0];
    assert_eq!(call["index"], 0);
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(
        call["function"],
        json!({"name": "get_weather", "arguments": ""})
    );

    let (usage, rest) = chunks[1..].split_last().unwrap();
    let (finish, fragments) = rest.split_last().unwrap();
    assert!(fragments.len() >= 2, "{fragments:?}");
    let arguments: String = fragments
        .iter()
        .map(|c| {
            let delta = &c["choices"][0]["delta"];
            assert_eq!(delta["tool_calls"][0]["index"], 0);
            assert!(delta["tool_calls"][0].get("id").is_none(), "{delta}");
            delta["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"city": "mock", "unit": "c"})
    );
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 3);
}

#[tokio::test]
async fn a_tool_result_is_answered_in_text() {
    let server = start().await;
    let (_, first) = post_json(&server, &ask(json!({"tool_choice": "required"}))).await;
    let assistant = first["choices"][0]["message"].clone();
    let id = assistant["tool_calls"][0]["id"].clone();
    let body = ask(json!({"tool_choice": "required", "messages": [
        {"role": "user", "content": "Weather?"}, assistant,
        {"role": "tool", "tool_call_id": id, "content": "sunny"}]}));
    let (status, resp) = post_json(&server, &body).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    assert_eq!(resp["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        resp["choices"][0]["message"]["content"],
        "Hello from the mock."
    );
}

#[tokio::test]
async fn tool_errors_name_the_parameter() {
    let server = start().await;
    let call = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]});
    let cases = [
        (
            json!({"tools": null, "tool_choice": "required"}),
            "tool_choice",
            "only allowed when 'tools' are specified",
        ),
        (
            json!({"tool_choice": {"type": "function", "function": {"name": "get_time"}}}),
            "tool_choice",
            "function 'get_time' not found in 'tools'",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"},
                                {"role": "tool", "tool_call_id": "call_1", "content": "x"}]}),
            "messages.[1].role",
            "must be a response to a preceeding message with 'tool_calls'",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}, call,
                                {"role": "tool", "tool_call_id": "call_2", "content": "x"}]}),
            "messages.[2].tool_call_id",
            "'tool_call_id' of 'call_2' not found in 'tool_calls' of previous message",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x"}, call,
                                {"role": "user", "content": "x"}]}),
            "messages.[1].role",
            "did not have response messages: call_1",
        ),
    ];
    for (extra, param, words) in cases {
        let body = ask(extra);
        let (status, resp) = post_json(&server, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(resp["error"]["type"], "invalid_request_error");
        assert_eq!(resp["error"]["param"], param, "{resp}");
        let message = resp["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message}");
    }
    // The server keeps serving after refusals.
    let (status, _) = post_json(&server, &ask(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn stop_sequences_and_token_limits_cut_the_text() {
    let server = start().await;
    let (_, resp) = post_json(&server, &ask(json!({"max_tokens": 2}))).await;
    assert_eq!(resp["choices"][0]["message"]["content"], "Hello from");
    assert_eq!(resp["choices"][0]["finish_reason"], "length");
    assert_eq!(resp["usage"]["completion_tokens"], 2);

    let (_, resp) = post_json(&server, &ask(json!({"stop": ["mock", "zzz"]}))).await;
    assert_eq!(resp["choices"][0]["message"]["content"], "Hello from the ");
    assert_eq!(resp["choices"][0]["finish_reason"], "stop");

    let chunks = chunks(
        &server,
        &ask(json!({"max_completion_tokens": 3, "stream": true})),
    )
    .await;
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the");
    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("length")]);
}
