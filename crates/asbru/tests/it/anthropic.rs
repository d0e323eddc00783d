//! OpenAI-dialect requests served by an `anthropic` provider, end to end: the gateway translates
//! to the Messages API, the mock answers as Anthropic documents, and the client gets OpenAI JSON
//! and SSE back. The mock's recorded requests show what reached "Anthropic".

use crate::harness::{TestGateway, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "sk-ant-test-key-123";
const MODEL: &str = "anthropic/claude-sonnet-4-5";
/// A 1×1 PNG.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// `anthropic` and `openai` on one mock (it speaks both); `network` is merged into anthropic's
/// `network_config`.
fn config(mock: &MockServer, network: Value) -> Value {
    let mut network_config = json!({"base_url": mock.base_url()});
    if let (Some(into), Some(from)) = (network_config.as_object_mut(), network.as_object()) {
        into.extend(from.clone());
    }
    json!({"providers": {
        "anthropic": {
            "keys": [{"name": "ant", "value": KEY, "weight": 1}],
            "network_config": network_config
        },
        "openai": {
            "keys": [{"name": "main", "value": "sk-test-1", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }
    }})
}

async fn start_with(opts: MockOptions, network: Value) -> TestGateway {
    let mock = MockServer::start(opts).await.unwrap();
    let config = config(&mock, network);
    TestGateway::start_with(mock, config).await
}

async fn start() -> TestGateway {
    start_with(MockOptions::default(), json!({})).await
}

fn ask(text: &str) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}]})
}

/// The requests that reached the Messages endpoint.
fn messages_requests(gw: &TestGateway) -> Vec<RecordedRequest> {
    gw.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/v1/messages"))
        .collect()
}

fn last_sent(gw: &TestGateway) -> Value {
    messages_requests(gw).last().unwrap().json().unwrap()
}

/// Streams `body` and returns the parsed chunks (without `[DONE]`) and whether `[DONE]` was last.
async fn stream(gw: &TestGateway, body: &Value) -> (Vec<Value>, bool) {
    let response = gw.post_stream("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse_data(response).await;
    let done_last = events.last().map(String::as_str) == Some("[DONE]");
    assert!(
        events[..events.len() - usize::from(done_last)]
            .iter()
            .all(|e| e != "[DONE]"),
        "[DONE] before the end: {events:?}"
    );
    let chunks = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    (chunks, done_last)
}

fn weather_tool() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"]
            }
        }
    }])
}

#[tokio::test]
async fn plain_chat_is_translated_both_ways() {
    let gw = start().await;
    let mut body = ask("Hello there");
    body["messages"] = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "A long shared prefix worth caching.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Hello there"}
        ]}
    ]);
    body["max_tokens"] = json!(300);
    body["temperature"] = json!(0.5);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    let choice = &answer["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello from the mock.");
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(answer["extra_fields"]["provider"], "anthropic");
    assert_eq!(
        answer["extra_fields"]["model_requested"],
        "claude-sonnet-4-5"
    );
    assert_eq!(answer["extra_fields"]["request_type"], "chat.completion");

    // Usage: prompt tokens include the cache write, which is reported apart.
    let usage = &answer["usage"];
    let details = &usage["prompt_tokens_details"];
    let written = details["cache_write_tokens"].as_u64().unwrap();
    assert!(written > 0, "{usage}");
    assert_eq!(details["cached_tokens"], 0);
    assert!(usage["prompt_tokens"].as_u64().unwrap() > written);
    assert_eq!(usage["completion_tokens"], 4);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + 4
    );

    let sent = messages_requests(&gw);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("x-api-key"), Some(KEY));
    assert_eq!(sent[0].header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent[0].header("authorization"), None);
    let json = sent[0].json().unwrap();
    assert_eq!(json["model"], "claude-sonnet-4-5");
    assert_eq!(json["max_tokens"], 300);
    assert_eq!(json["system"], "Be brief.");
    assert_eq!(
        json["messages"][0]["content"][0]["cache_control"]["type"],
        "ephemeral"
    );
    assert!(json.get("stream").is_none());
}

#[tokio::test]
async fn a_stream_has_ordered_deltas_one_finish_reason_and_done_last() {
    let gw = start_with(
        MockOptions {
            stream_chunks: 4,
            ..MockOptions::default()
        },
        json!({}),
    )
    .await;
    let mut body = ask("Tell me a story");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock.");
    let deltas = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .count();
    assert!(deltas >= 2, "{chunks:?}");
    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("stop")]);
    // The client did not ask for usage: the usage-only chunk is the gateway's alone.
    assert!(
        chunks
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null))
    );
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["extra_fields"]["chunk_index"], i);
        assert_eq!(chunk["extra_fields"]["provider"], "anthropic");
    }
    assert_eq!(last_sent(&gw)["stream"], true);
    assert!(last_sent(&gw).get("stream_options").is_none());
}

#[tokio::test]
async fn stream_usage_comes_last_when_asked() {
    let gw = start().await;
    let mut body = ask("Tell me a story");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 4);
    assert!(last["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        chunks
            .iter()
            .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
            .count(),
        1
    );
}

#[tokio::test]
async fn tool_calls_round_trip_with_their_ids() {
    let gw = start().await;
    let mut body = ask("What is the weather in Paris?");
    body["tools"] = weather_tool();
    let (status, first) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let choice = &first["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let id = call["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("toolu_"), "{id}");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(
        arguments["city"].is_string() && arguments["days"].is_i64(),
        "{arguments}"
    );
    let sent = last_sent(&gw);
    assert_eq!(sent["tools"][0]["name"], "get_weather");
    assert_eq!(
        sent["tools"][0]["input_schema"]["required"],
        json!(["city", "days"])
    );

    // The tool's result goes back; the model answers in text.
    let mut messages = body["messages"].as_array().unwrap().clone();
    messages.push(choice["message"].clone());
    messages.push(json!({"role": "tool", "tool_call_id": id, "content": "18°C and sunny"}));
    body["messages"] = Value::Array(messages);
    let (status, second) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        second["choices"][0]["message"]["content"],
        "Hello from the mock."
    );

    let sent = last_sent(&gw);
    let turns = sent["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "{sent}");
    let tool_use = turns[1]["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap();
    assert_eq!(tool_use["id"], id.as_str());
    assert_eq!(tool_use["input"], arguments);
    assert_eq!(turns[2]["role"], "user");
    assert_eq!(turns[2]["content"][0]["type"], "tool_result");
    assert_eq!(turns[2]["content"][0]["tool_use_id"], id.as_str());
}

#[tokio::test]
async fn streamed_tool_arguments_reassemble_to_json() {
    let gw = start().await;
    let mut body = ask("What is the weather in Paris?");
    body["tools"] = weather_tool();
    body["tool_choice"] = json!("required");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert!(
        calls.len() >= 2,
        "arguments should come in fragments: {calls:?}"
    );
    assert!(calls[0]["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls.iter().all(|c| c["index"] == 0));
    let arguments: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    let arguments: Value = serde_json::from_str(&arguments).unwrap();
    assert!(arguments["city"].is_string(), "{arguments}");
    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("tool_calls")]);
    assert_eq!(last_sent(&gw)["tool_choice"]["type"], "any");
}

#[tokio::test]
async fn image_parts_reach_anthropic_as_image_blocks() {
    let gw = start().await;
    let mut body = ask("");
    body["messages"] = json!([{"role": "user", "content": [
        {"type": "text", "text": "What is in these images?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_BASE64}")}}
    ]}]);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = last_sent(&gw);
    let blocks = &sent["messages"][0]["content"];
    assert_eq!(
        blocks[0],
        json!({"type": "text", "text": "What is in these images?"})
    );
    assert_eq!(
        blocks[1],
        json!({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}})
    );
    assert_eq!(
        blocks[2],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}})
    );
}

#[tokio::test]
async fn json_schema_response_format_becomes_output_config() {
    let gw = start().await;
    let schema = json!({
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": false
    });
    let mut body = ask("Answer in JSON");
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": schema}});
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = last_sent(&gw);
    assert_eq!(sent["output_config"]["format"]["type"], "json_schema");
    assert_eq!(sent["output_config"]["format"]["schema"], schema);
    assert!(sent.get("response_format").is_none());
}

#[tokio::test]
async fn reasoning_round_trips_with_its_signature() {
    let gw = start().await;
    let mut body = ask("Think first, then answer.");
    body["reasoning_effort"] = json!("low");
    body["max_tokens"] = json!(8000);
    let (status, first) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let sent = last_sent(&gw);
    assert_eq!(sent["thinking"]["type"], "enabled");
    assert_eq!(sent["thinking"]["budget_tokens"], 2000);

    let message = &first["choices"][0]["message"];
    assert_eq!(message["content"], "Hello from the mock.");
    let reasoning = message["reasoning"].as_str().unwrap();
    assert!(!reasoning.is_empty());
    let detail = &message["reasoning_details"][0];
    assert_eq!(detail["type"], "reasoning.text");
    assert_eq!(detail["text"], reasoning);
    let signature = detail["signature"].as_str().unwrap().to_owned();
    assert!(!signature.is_empty());

    // The next turn replays the assistant message; its reasoning goes back as a thinking block.
    let mut messages = body["messages"].as_array().unwrap().clone();
    messages.push(message.clone());
    messages.push(json!({"role": "user", "content": "And now?"}));
    body["messages"] = Value::Array(messages);
    let (status, second) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{second}");
    let sent = last_sent(&gw);
    let replayed = &sent["messages"][1]["content"][0];
    assert_eq!(replayed["type"], "thinking");
    assert_eq!(replayed["thinking"], reasoning);
    assert_eq!(replayed["signature"], signature.as_str());
}

#[tokio::test]
async fn reasoning_streams_with_its_signature() {
    let gw = start().await;
    let mut body = ask("Think first, then answer.");
    body["reasoning_effort"] = json!("medium");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning"].as_str())
        .collect();
    assert!(!reasoning.is_empty());
    let signature = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_details"].as_array())
        .flatten()
        .find_map(|d| d["signature"].as_str());
    assert!(signature.is_some_and(|s| !s.is_empty()), "{chunks:?}");
}

#[tokio::test]
async fn finish_reasons_map_from_stop_reasons() {
    let gw = start().await;
    // A tiny limit: cut by length.
    let mut body = ask("Hello");
    body["max_tokens"] = json!(2);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from");

    // A stop sequence: `stop`, with the sequence named.
    let mut body = ask("Hello");
    body["stop"] = json!(["mock"]);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the "
    );
    assert_eq!(answer["choices"][0]["stop"], "mock");
    assert_eq!(last_sent(&gw)["stop_sequences"], json!(["mock"]));

    // A forced tool call.
    let mut body = ask("Weather?");
    body["tools"] = weather_tool();
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");

    // Length in a stream too.
    let mut body = ask("Hello");
    body["max_tokens"] = json!(2);
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let finishes: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("length")]);
}

#[tokio::test]
async fn anthropic_errors_keep_status_type_and_message() {
    let gw = start().await;
    // Anthropic's own validation.
    let mut body = ask("Hello");
    body["temperature"] = json!(1.5);
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("temperature"),
        "{error}"
    );
    assert_eq!(error["extra_fields"]["provider"], "anthropic");

    // Overloaded.
    gw.mock.push_fault(Fault::Status {
        status: 529,
        message: String::new(),
    });
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 529, "{error}");
    assert_eq!(error["error"]["type"], "overloaded_error");
    assert_eq!(error["error"]["message"], "Overloaded");

    // Rate limited, without retries configured.
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["type"], "rate_limit_error");

    // A body that is not a chat request is the client's error, naming the field.
    let mut body = ask("Hello");
    body["messages"] = json!([{"role": "user", "content": 42}]);
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages"),
        "{error}"
    );

    // Text completions and embeddings do not exist for Anthropic.
    let (status, error) = gw
        .post(
            "/v1/embeddings",
            json!({"model": MODEL, "input": "embed me"}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not support"),
        "{error}"
    );
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after() {
    let gw = start_with(
        MockOptions::default(),
        json!({"max_retries": 1, "retry_backoff_initial_ms": 10, "retry_backoff_max_ms": 5000}),
    )
    .await;
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let started = Instant::now();
    let (status, answer) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 200, "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(answer["extra_fields"]["retries"], 1);
    assert_eq!(messages_requests(&gw).len(), 2);
}

#[tokio::test]
async fn an_error_event_mid_stream_ends_the_stream_with_an_error() {
    let gw = start().await;
    let mut body = ask("Hello asbru-mock:error=overloaded_error");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(!done_last, "{chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["type"], "overloaded_error", "{last}");
    assert_eq!(last["error"]["message"], "Overloaded");
    assert_eq!(last["extra_fields"]["provider"], "anthropic");
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("error").is_none())
    );

    // A stream cut by the connection after the first text: an error as well, never [DONE].
    // (`message_start`, `content_block_start`, `ping`, then a delta.)
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 5 });
    let mut body = ask("Hello");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(!done_last);
    assert!(chunks.iter().any(|c| {
        c["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    }));
    assert!(chunks.last().unwrap()["error"]["message"].is_string());
}

#[tokio::test]
async fn the_key_goes_in_x_api_key_and_a_wrong_one_is_not_echoed() {
    let gw = start_with(
        MockOptions {
            valid_keys: Some(vec!["sk-ant-the-right-one".to_owned()]),
            ..MockOptions::default()
        },
        json!({}),
    )
    .await;
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 401, "{error}");
    assert_eq!(error["error"]["type"], "authentication_error");
    assert!(!error.to_string().contains(KEY), "{error}");
    assert_eq!(messages_requests(&gw)[0].header("x-api-key"), Some(KEY));

    let mut body = ask("Hello");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 401);
    assert!(!response.text().await.unwrap().contains(KEY));
}

#[tokio::test]
async fn models_are_listed_as_openai_models() {
    let gw = start_with(
        MockOptions {
            models: vec![
                "claude-sonnet-4-5".to_owned(),
                "claude-haiku-4-5".to_owned(),
            ],
            ..MockOptions::default()
        },
        json!({}),
    )
    .await;
    let (status, list) = gw.get("/v1/models?provider=anthropic").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["anthropic/claude-sonnet-4-5", "anthropic/claude-haiku-4-5"]
    );
    assert_eq!(list["data"][0]["object"], "model");
    assert!(list["data"][0]["created"].as_u64().unwrap() > 1_700_000_000);
    let sent = gw.mock.requests();
    let models = sent
        .iter()
        .find(|r| r.path.ends_with("/v1/models"))
        .unwrap();
    assert_eq!(models.header("x-api-key"), Some(KEY));
}

#[tokio::test]
async fn fallbacks_go_from_anthropic_to_openai_and_back() {
    let gw = start().await;
    gw.mock.set_model_fault(
        "claude-sonnet-4-5",
        Some(Fault::Status {
            status: 529,
            message: String::new(),
        }),
    );
    let mut body = ask("Hello");
    body["fallbacks"] = json!(["openai/gpt-4o"]);
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "openai");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    let sent = gw.mock.requests();
    assert!(sent[0].path.ends_with("/v1/messages"));
    assert!(sent[1].path.ends_with("/v1/chat/completions"));
    assert!(sent[1].json().unwrap().get("fallbacks").is_none());

    // Streams fall back too, before anything was sent to the client.
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert_eq!(chunks[0]["extra_fields"]["provider"], "openai");
    gw.mock.set_model_fault("claude-sonnet-4-5", None);

    // And the other way round.
    gw.mock.set_model_fault(
        "gpt-4o",
        Some(Fault::Status {
            status: 503,
            message: String::new(),
        }),
    );
    let body = json!({
        "model": "openai/gpt-4o",
        "fallbacks": [MODEL],
        "messages": [{"role": "user", "content": "Hello"}]
    });
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "anthropic");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the mock."
    );
    let sent = last_sent(&gw);
    assert_eq!(sent["model"], "claude-sonnet-4-5");
    assert!(sent.get("fallbacks").is_none());
}

#[tokio::test]
async fn a_custom_provider_based_on_anthropic_works_too() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {
        "claude-proxy": {
            "keys": [{"name": "p", "value": KEY, "weight": 1}],
            "network_config": {
                "base_url": format!("{}/proxy", mock.base_url()),
                "extra_headers": {"x-team": "research"}
            },
            "custom_provider_config": {"base_provider_type": "anthropic"}
        }
    }});
    let gw = TestGateway::start_with(mock, config).await;
    let mut body = ask("Hello");
    body["model"] = json!("claude-proxy/claude-sonnet-4-5");
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "claude-proxy");
    let sent = &gw.mock.requests()[0];
    assert_eq!(sent.path, "/proxy/v1/messages");
    assert_eq!(sent.header("x-team"), Some("research"));
    assert_eq!(sent.header("x-api-key"), Some(KEY));
}

#[tokio::test]
async fn a_stream_failing_right_after_message_start_can_still_fall_back() {
    let gw = start().await;
    // Only `message_start`, then the connection drops: nothing the client could use was sent,
    // so the attempt counts as failed before the stream started.
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 1 });
    let mut body = ask("Hello");
    body["stream"] = json!(true);
    body["fallbacks"] = json!(["openai/gpt-4o"]);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert!(
        chunks
            .iter()
            .all(|c| c["extra_fields"]["provider"] == "openai"),
        "{chunks:?}"
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");

    // Without a fallback the client gets an error status, not a 200 stream.
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 1 });
    let response = gw
        .post_stream("/v1/chat/completions", &json!({"model": MODEL, "stream": true, "messages": [{"role": "user", "content": "Hello"}]}))
        .await;
    assert_eq!(response.status(), 502);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "upstream_unreachable", "{error}");
    assert_eq!(error["extra_fields"]["provider"], "anthropic");
}
