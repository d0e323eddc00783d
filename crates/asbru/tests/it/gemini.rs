//! OpenAI-dialect requests served by a `gemini` provider, end to end: the gateway translates to
//! the Gemini API (`models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:batchEmbedContents`, `GET models`), the mock answers as Google documents, and the client gets
//! OpenAI JSON and SSE back. The mock's recorded requests show what reached "Google".

use crate::harness::{TestGateway, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "AIza-gemini-test-key-123";
const MODEL: &str = "gemini/gemini-2.5-flash";
const GENERATE_PATH: &str = "/v1beta/models/gemini-2.5-flash:generateContent";
const STREAM_PATH: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent";
/// A 1×1 PNG.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// `gemini`, `openai` and `anthropic` on one mock (it speaks all three); `network` is merged
/// into gemini's `network_config`.
fn config(mock: &MockServer, network: Value) -> Value {
    let mut network_config = json!({"base_url": mock.base_url()});
    if let (Some(into), Some(from)) = (network_config.as_object_mut(), network.as_object()) {
        into.extend(from.clone());
    }
    json!({"providers": {
        "gemini": {
            "keys": [{"name": "google", "value": KEY, "weight": 1}],
            "network_config": network_config
        },
        "openai": {
            "keys": [{"name": "main", "value": "sk-test-1", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        },
        "anthropic": {
            "keys": [{"name": "ant", "value": "sk-ant-test", "weight": 1}],
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

/// The requests that reached a Gemini generate endpoint (streaming or not).
fn generate_requests(gw: &TestGateway) -> Vec<RecordedRequest> {
    gw.mock
        .requests()
        .into_iter()
        .filter(|r| {
            r.path.ends_with(":generateContent") || r.path.ends_with(":streamGenerateContent")
        })
        .collect()
}

fn last_sent(gw: &TestGateway) -> Value {
    generate_requests(gw).last().unwrap().json().unwrap()
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

fn finishes(chunks: &[Value]) -> Vec<&Value> {
    chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect()
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
        {"role": "user", "content": "Hello there"}
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
    assert!(!answer["model"].as_str().unwrap().is_empty());
    assert_eq!(answer["extra_fields"]["provider"], "gemini");
    assert_eq!(
        answer["extra_fields"]["model_requested"],
        "gemini-2.5-flash"
    );
    assert_eq!(answer["extra_fields"]["request_type"], "chat.completion");
    // Gemini 2.5 thinks by default; its thought tokens count as completion tokens, as
    // OpenAI counts reasoning tokens, and are reported apart.
    let usage = &answer["usage"];
    let completion = usage["completion_tokens"].as_u64().unwrap();
    let reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap();
    assert_eq!(completion - reasoning, 4, "{usage}");
    let prompt = usage["prompt_tokens"].as_u64().unwrap();
    assert!(prompt > 0);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        prompt + completion,
        "{usage}"
    );

    let sent = generate_requests(&gw);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, GENERATE_PATH);
    assert_eq!(sent[0].header("x-goog-api-key"), Some(KEY));
    assert_eq!(sent[0].header("authorization"), None);
    assert!(sent[0].query.as_deref().is_none_or(|q| !q.contains("key=")));
    let json = sent[0].json().unwrap();
    assert_eq!(json["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(json["contents"][0]["role"], "user");
    assert_eq!(json["contents"][0]["parts"][0]["text"], "Hello there");
    assert_eq!(json["generationConfig"]["maxOutputTokens"], 300);
    assert_eq!(json["generationConfig"]["temperature"], 0.5);
    assert!(json.get("model").is_none() && json.get("messages").is_none());
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
    let pieces: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert!(pieces.len() >= 2, "{chunks:?}");
    assert_eq!(pieces.concat(), "Hello from the mock.");
    assert_eq!(finishes(&chunks), [&json!("stop")]);
    // The client did not ask for usage: the usage-only chunk is the gateway's alone.
    assert!(
        chunks
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null))
    );
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["extra_fields"]["chunk_index"], i);
        assert_eq!(chunk["extra_fields"]["provider"], "gemini");
    }
    let sent = generate_requests(&gw);
    assert_eq!(sent[0].path, STREAM_PATH);
    assert_eq!(sent[0].query.as_deref(), Some("alt=sse"));
    assert!(sent[0].json().unwrap().get("stream").is_none());
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
    let usage = &last["usage"];
    let reasoning = &usage["completion_tokens_details"]["reasoning_tokens"];
    assert_eq!(
        usage["completion_tokens"].as_u64().unwrap() - reasoning.as_u64().unwrap(),
        4,
        "{usage}"
    );
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
async fn tool_calls_round_trip_with_ids_and_thought_signatures() {
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
    assert!(!id.is_empty());
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(
        arguments["city"].is_string() && arguments["days"].is_i64(),
        "{arguments}"
    );
    // The thinking model signed its call; the signature rides in reasoning_details.
    let details = choice["message"]["reasoning_details"].as_array().unwrap();
    let signed = details
        .iter()
        .find(|d| d["id"] == id.as_str())
        .unwrap_or_else(|| panic!("no signature for the call: {details:?}"));
    let signature = signed["data"].as_str().unwrap().to_owned();
    assert!(!signature.is_empty());

    let sent = last_sent(&gw);
    let declaration = &sent["tools"][0]["functionDeclarations"][0];
    assert_eq!(declaration["name"], "get_weather");
    assert_eq!(
        declaration["parametersJsonSchema"]["required"],
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
    let turns = sent["contents"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "{sent}");
    assert_eq!(turns[1]["role"], "model");
    let call_part = turns[1]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p.get("functionCall").is_some())
        .unwrap();
    assert_eq!(call_part["functionCall"]["name"], "get_weather");
    assert_eq!(call_part["functionCall"]["args"], arguments);
    assert_eq!(call_part["thoughtSignature"], signature.as_str());
    assert_eq!(turns[2]["role"], "user");
    let response = &turns[2]["parts"][0]["functionResponse"];
    assert_eq!(response["name"], "get_weather");
    assert_eq!(response["response"]["output"], "18°C and sunny");
}

#[tokio::test]
async fn tool_calls_stream_whole_with_their_id() {
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
    // Gemini sends a call whole: one delta with id, name and all the arguments.
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(!calls[0]["id"].as_str().unwrap().is_empty());
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let arguments: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(arguments["city"].is_string(), "{arguments}");
    assert_eq!(finishes(&chunks), [&json!("tool_calls")]);
    assert_eq!(
        last_sent(&gw)["toolConfig"]["functionCallingConfig"]["mode"],
        "ANY"
    );
}

#[tokio::test]
async fn image_parts_reach_gemini_as_inline_data_and_file_data() {
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
    let parts = &sent["contents"][0]["parts"];
    assert_eq!(parts[0], json!({"text": "What is in these images?"}));
    assert_eq!(
        parts[1]["fileData"],
        json!({"mimeType": "image/png", "fileUri": "https://example.com/cat.png"})
    );
    assert_eq!(
        parts[2]["inlineData"],
        json!({"mimeType": "image/png", "data": PNG_BASE64})
    );
}

#[tokio::test]
async fn json_schema_response_format_becomes_a_response_schema() {
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
    let content: Value =
        serde_json::from_str(answer["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(content["answer"].is_string(), "{content}");
    let sent = last_sent(&gw);
    let config = &sent["generationConfig"];
    assert_eq!(config["responseMimeType"], "application/json");
    assert_eq!(config["responseJsonSchema"], schema);
    assert!(sent.get("response_format").is_none());
}

#[tokio::test]
async fn reasoning_effort_becomes_a_thinking_budget_and_thoughts_come_back() {
    let gw = start().await;
    let mut body = ask("Think first, then answer.");
    body["reasoning_effort"] = json!("low");
    let (status, first) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        last_sent(&gw)["generationConfig"]["thinkingConfig"],
        json!({"thinkingBudget": 1024, "includeThoughts": true})
    );
    let message = &first["choices"][0]["message"];
    assert_eq!(message["content"], "Hello from the mock.");
    let reasoning = message["reasoning"].as_str().unwrap();
    assert!(!reasoning.is_empty());
    let detail = &message["reasoning_details"][0];
    assert_eq!(detail["type"], "reasoning.text");
    assert_eq!(detail["text"], reasoning);
    let signature = detail["signature"].as_str().unwrap().to_owned();
    assert!(!signature.is_empty());
    assert!(
        first["usage"]["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0,
        "{}",
        first["usage"]
    );

    // The next turn replays the thought with its signature.
    let mut messages = body["messages"].as_array().unwrap().clone();
    messages.push(message.clone());
    messages.push(json!({"role": "user", "content": "And now?"}));
    body["messages"] = Value::Array(messages);
    let (status, second) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{second}");
    let sent = last_sent(&gw);
    let replayed = &sent["contents"][1]["parts"][0];
    assert_eq!(replayed["thought"], true);
    assert_eq!(replayed["text"], reasoning);
    assert_eq!(replayed["thoughtSignature"], signature.as_str());

    // Streams carry the thoughts as reasoning deltas.
    let mut body = ask("Think first, then answer.");
    body["reasoning_effort"] = json!("medium");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning"].as_str())
        .collect();
    assert!(!reasoning.is_empty(), "{chunks:?}");
    assert_eq!(
        last_sent(&gw)["generationConfig"]["thinkingConfig"]["thinkingBudget"],
        8192
    );
}

#[tokio::test]
async fn finish_reasons_map_and_failures_are_errors() {
    let gw = start().await;
    // A tiny limit: cut by length.
    let mut body = ask("Hello");
    body["max_tokens"] = json!(2);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from");

    // A stop sequence.
    let mut body = ask("Hello");
    body["stop"] = json!(["mock"]);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the "
    );
    assert_eq!(
        last_sent(&gw)["generationConfig"]["stopSequences"],
        json!(["mock"])
    );

    // A forced tool call.
    let mut body = ask("Weather?");
    body["tools"] = weather_tool();
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");

    // Blocked for safety: content_filter, in JSON and in a stream.
    let (status, answer) = gw
        .post(
            "/v1/chat/completions",
            ask("Hello asbru-mock:finish=SAFETY"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "content_filter");
    let mut body = ask("Hello asbru-mock:finish=SAFETY");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert_eq!(finishes(&chunks), [&json!("content_filter")]);

    // Length in a stream too.
    let mut body = ask("Hello");
    body["max_tokens"] = json!(2);
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert_eq!(finishes(&chunks), [&json!("length")]);

    // A malformed function call is an error, never an empty "stop".
    let (status, error) = gw
        .post(
            "/v1/chat/completions",
            ask("Weather? asbru-mock:finish=MALFORMED_FUNCTION_CALL"),
        )
        .await;
    assert_eq!(status, 502, "{error}");
    assert_eq!(error["error"]["type"], "MALFORMED_FUNCTION_CALL");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed function call"),
        "{error}"
    );
    assert_eq!(error["extra_fields"]["provider"], "gemini");
    // In a stream it is the first thing Gemini sends, so the client gets the error status.
    let mut body = ask("Weather? asbru-mock:finish=MALFORMED_FUNCTION_CALL");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 502);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["type"], "MALFORMED_FUNCTION_CALL", "{error}");
}

#[tokio::test]
async fn embeddings_go_through_batch_embed_contents() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/v1/embeddings",
            json!({
                "model": "gemini/gemini-embedding-001",
                "input": ["first text", "second text"],
                "dimensions": 8
            }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["model"], "gemini-embedding-001");
    let data = answer["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(item["embedding"].as_array().unwrap().len(), 8);
    }
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert!(answer["usage"].is_object(), "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "gemini");

    let sent = gw
        .mock
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(":batchEmbedContents"))
        .unwrap();
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));
    let json = sent.json().unwrap();
    let requests = json["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["model"], "models/gemini-embedding-001");
    assert_eq!(requests[1]["content"]["parts"][0]["text"], "second text");
    assert_eq!(requests[0]["outputDimensionality"], 8);

    // Token-id inputs have no Gemini form.
    let (status, error) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "gemini/gemini-embedding-001", "input": [[1, 2, 3]]}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
}

#[tokio::test]
async fn gemini_errors_keep_status_and_message() {
    let gw = start().await;
    // Google's own validation.
    let mut body = ask("Hello");
    body["temperature"] = json!(2.5);
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "INVALID_ARGUMENT");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("temperature"),
        "{error}"
    );
    assert_eq!(error["extra_fields"]["provider"], "gemini");

    for (status, name) in [(403, "PERMISSION_DENIED"), (503, "UNAVAILABLE")] {
        gw.mock.push_fault(Fault::Status {
            status,
            message: format!("injected {status}"),
        });
        let (got, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
        assert_eq!(got, status, "{error}");
        assert_eq!(error["error"]["type"], name);
        assert_eq!(error["error"]["message"], format!("injected {status}"));
    }

    // Rate limited, without retries configured.
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["type"], "RESOURCE_EXHAUSTED");

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

    // Text completions do not exist for Gemini.
    let (status, error) = gw
        .post(
            "/v1/completions",
            json!({"model": MODEL, "prompt": "Once upon"}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "unsupported_operation", "{error}");
    // The refused body and the text completion never reached Google.
    assert_eq!(generate_requests(&gw).len(), 4);
}

#[tokio::test]
async fn rate_limits_are_retried_after_googles_retry_delay() {
    let gw = start_with(
        MockOptions::default(),
        json!({"max_retries": 2, "retry_backoff_initial_ms": 10, "retry_backoff_max_ms": 5000}),
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

    // 503 UNAVAILABLE is retried too, streams included.
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: String::new(),
    });
    let mut body = ask("Hello");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert_eq!(chunks[0]["extra_fields"]["retries"], 1, "{:?}", chunks[0]);
    assert_eq!(generate_requests(&gw).len(), 4);
}

#[tokio::test]
async fn an_error_mid_stream_ends_the_stream_with_an_error() {
    let gw = start().await;
    let mut body = ask("Hello asbru-mock:error=UNAVAILABLE");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(!done_last, "{chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(chunks.iter().any(|c| {
        c["choices"][0]["delta"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    }));
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["type"], "UNAVAILABLE", "{last}");
    assert!(last["error"]["message"].is_string());
    assert_eq!(last["extra_fields"]["provider"], "gemini");
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("error").is_none())
    );

    // A stream cut by the connection before its finishing chunk: an error as well, never [DONE].
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let mut body = ask("Hello");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(!done_last);
    assert!(chunks.last().unwrap()["error"]["message"].is_string());

    // So does a malformed chunk.
    gw.mock.push_fault(Fault::MalformedJson);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(!done_last);
    assert!(chunks.last().unwrap()["error"]["message"].is_string());
}

#[tokio::test]
async fn the_key_goes_in_x_goog_api_key_and_a_wrong_one_is_not_echoed() {
    let gw = start_with(
        MockOptions {
            valid_keys: Some(vec!["AIza-the-right-one".to_owned()]),
            ..MockOptions::default()
        },
        json!({}),
    )
    .await;
    // Google answers a wrong key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID).
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API key not valid"),
        "{error}"
    );
    assert!(!error.to_string().contains(KEY), "{error}");
    assert_eq!(error["error"]["code"], "API_KEY_INVALID");
    assert_eq!(
        generate_requests(&gw)[0].header("x-goog-api-key"),
        Some(KEY)
    );
    // Refused, the key's circuit opens at once, as for a 401.
    let (_, health) = gw.get("/api/providers/health").await;
    let gemini = health["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "gemini")
        .unwrap();
    assert_eq!(gemini["keys"][0]["state"], "open", "{health}");

    let mut body = ask("Hello");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 400);
    assert!(!response.text().await.unwrap().contains(KEY));
}

#[tokio::test]
async fn models_are_listed_as_openai_models() {
    let gw = start_with(
        MockOptions {
            models: vec![
                "gemini-2.5-flash".to_owned(),
                "gemini-embedding-001".to_owned(),
            ],
            ..MockOptions::default()
        },
        json!({}),
    )
    .await;
    let (status, list) = gw.get("/v1/models?provider=gemini").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["gemini/gemini-2.5-flash", "gemini/gemini-embedding-001"]
    );
    let first = &list["data"][0];
    assert_eq!(first["object"], "model");
    assert_eq!(first["owned_by"], "google");
    assert_eq!(first["display_name"], "gemini-2.5-flash");
    let sent = gw.mock.requests();
    let models = sent
        .iter()
        .find(|r| r.path.ends_with("/v1beta/models"))
        .unwrap();
    assert_eq!(models.header("x-goog-api-key"), Some(KEY));
    assert_eq!(models.query.as_deref(), Some("pageSize=1000"));
}

#[tokio::test]
async fn fallbacks_go_from_gemini_to_openai_and_from_anthropic_to_gemini() {
    let gw = start().await;
    gw.mock.set_model_fault(
        "gemini-2.5-flash",
        Some(Fault::Status {
            status: 503,
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
    assert_eq!(sent[0].path, GENERATE_PATH);
    assert!(sent[1].path.ends_with("/v1/chat/completions"));
    assert!(sent[1].json().unwrap().get("fallbacks").is_none());

    // Streams fall back too, before anything was sent to the client.
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert!(
        chunks
            .iter()
            .all(|c| c["extra_fields"]["provider"] == "openai")
    );
    gw.mock.set_model_fault("gemini-2.5-flash", None);

    // Anthropic down: Gemini answers, in a stream as well.
    gw.mock.set_model_fault(
        "claude-sonnet-4-5",
        Some(Fault::Status {
            status: 529,
            message: String::new(),
        }),
    );
    let mut body = json!({
        "model": "anthropic/claude-sonnet-4-5",
        "fallbacks": [MODEL],
        "messages": [{"role": "user", "content": "Hello"}]
    });
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "gemini");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the mock."
    );
    let sent = generate_requests(&gw);
    assert_eq!(sent.last().unwrap().path, GENERATE_PATH);
    assert!(last_sent(&gw).get("fallbacks").is_none());
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert!(
        chunks
            .iter()
            .all(|c| c["extra_fields"]["provider"] == "gemini")
    );
    assert_eq!(finishes(&chunks), [&json!("stop")]);
}

#[tokio::test]
async fn a_custom_provider_based_on_gemini_works_with_a_versioned_base_url() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {
        "google-proxy": {
            "keys": [{"name": "p", "value": KEY, "weight": 1}],
            "network_config": {
                // As Bifrost users often write it: the version is part of the base URL.
                "base_url": format!("{}/proxy/v1beta", mock.base_url()),
                "extra_headers": {"x-team": "research"}
            },
            "custom_provider_config": {"base_provider_type": "gemini"}
        }
    }});
    let gw = TestGateway::start_with(mock, config).await;
    let mut body = ask("Hello");
    body["model"] = json!("google-proxy/gemini-2.5-flash");
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "google-proxy");
    let sent = &gw.mock.requests()[0];
    assert_eq!(
        sent.path,
        "/proxy/v1beta/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.header("x-team"), Some("research"));
    assert_eq!(sent.header("x-goog-api-key"), Some(KEY));

    // A model name that would change the URL is refused before anything is sent.
    let mut body = ask("Hello");
    body["model"] = json!("google-proxy/gemini?alt=x");
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(gw.mock.requests().len(), 1);
}
