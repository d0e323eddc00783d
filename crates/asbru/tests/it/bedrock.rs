//! OpenAI-dialect requests served by a `bedrock` provider, end to end: the gateway translates to
//! Converse / ConverseStream, signs with SigV4 (verified by the mock's own implementation) or
//! sends a Bedrock API key, and the client gets OpenAI JSON and SSE back. The mock's recorded
//! requests show what reached "Bedrock".

use crate::harness::{TestGateway, chat_body, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};

const ACCESS_KEY: &str = "AKIDASBRUTEST";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYASBRUKEY";
const SESSION_TOKEN: &str = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";
const API_KEY: &str = "bedrock-api-key-abc123";
const UPSTREAM_MODEL: &str = "anthropic.claude-3-7-sonnet-20250219-v1:0";
const MODEL: &str = "bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0";
/// A 1×1 PNG.
const PNG_BASE64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn mock_options() -> MockOptions {
    MockOptions {
        aws_credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
        valid_keys: Some(vec!["sk-test-1".to_owned(), API_KEY.to_owned()]),
        ..MockOptions::default()
    }
}

/// `bedrock` (one SigV4 key, `key` merged into it) and `openai` on one mock; `network` is merged
/// into bedrock's `network_config`.
fn config(mock: &MockServer, key: Value, network: Value) -> Value {
    let mut network_config = json!({"base_url": mock.base_url()});
    if let (Some(into), Some(from)) = (network_config.as_object_mut(), network.as_object()) {
        into.extend(from.clone());
    }
    let mut bedrock_key = json!({
        "name": "aws",
        "weight": 1,
        "bedrock_key_config": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "region": "us-east-1"}
    });
    if let (Some(into), Some(from)) = (bedrock_key.as_object_mut(), key.as_object()) {
        into.extend(from.clone());
    }
    json!({"providers": {
        "bedrock": {"keys": [bedrock_key], "network_config": network_config},
        "openai": {
            "keys": [{"name": "main", "value": "sk-test-1", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }
    }})
}

async fn start_with(opts: MockOptions, key: Value, network: Value) -> TestGateway {
    let mock = MockServer::start(opts).await.unwrap();
    let config = config(&mock, key, network);
    TestGateway::start_with(mock, config).await
}

async fn start() -> TestGateway {
    start_with(mock_options(), json!({}), json!({})).await
}

fn ask(text: &str) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}]})
}

/// The requests that reached a Converse endpoint.
fn converse_requests(gw: &TestGateway) -> Vec<RecordedRequest> {
    gw.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/model/"))
        .collect()
}

fn last_sent(gw: &TestGateway) -> Value {
    converse_requests(gw).last().unwrap().json().unwrap()
}

/// Streams `body` and returns the parsed chunks (without `[DONE]`) and whether `[DONE]` was last.
async fn stream(gw: &TestGateway, body: &Value) -> (Vec<Value>, bool) {
    let response = gw.post_stream("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
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
async fn sigv4_signed_chat_is_translated_both_ways() {
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
    assert_eq!(answer["extra_fields"]["provider"], "bedrock");
    assert_eq!(answer["usage"]["completion_tokens"], 4);
    assert!(answer["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let sent = converse_requests(&gw);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].path,
        "/model/anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"
    );
    let auth = sent[0].header("authorization").unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"))
            && auth.contains("/us-east-1/bedrock/aws4_request"),
        "{auth}"
    );
    assert!(sent[0].header("x-amz-date").is_some());
    assert!(sent[0].header("x-amz-security-token").is_none());
    let json = sent[0].json().unwrap();
    assert_eq!(json["system"], json!([{"text": "Be brief."}]));
    assert_eq!(json["inferenceConfig"]["maxTokens"], 300);
    assert_eq!(json["inferenceConfig"]["temperature"], 0.5);
    assert!(json.get("model").is_none());
}

#[tokio::test]
async fn a_wrong_secret_is_refused_without_echoing_it() {
    let wrong = "wrongSecretKeyForAsbruTestsOnly0123456789";
    let gw = start_with(
        mock_options(),
        json!({"bedrock_key_config": {"access_key": ACCESS_KEY, "secret_key": wrong, "region": "us-east-1"}}),
        json!({}),
    )
    .await;
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["type"], "InvalidSignatureException");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signature"),
        "{error}"
    );
    let text = error.to_string();
    assert!(
        !text.contains(wrong) && !text.contains(SECRET_KEY),
        "{text}"
    );

    let mut body = ask("Hello");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 403);
    assert!(!response.text().await.unwrap().contains(wrong));
}

#[tokio::test]
async fn session_tokens_are_sent_and_signed() {
    let gw = start_with(
        mock_options(),
        json!({"bedrock_key_config": {
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
            "session_token": SESSION_TOKEN, "region": "us-east-1"
        }}),
        json!({}),
    )
    .await;
    let (status, answer) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 200, "{answer}");
    let sent = &converse_requests(&gw)[0];
    assert_eq!(sent.header("x-amz-security-token"), Some(SESSION_TOKEN));
    let auth = sent.header("authorization").unwrap();
    assert!(auth.contains("x-amz-security-token"), "{auth}");
}

#[tokio::test]
async fn api_key_keys_send_a_bearer_token_and_a_wrong_one_is_not_echoed() {
    // A key with only a `value` is a Bedrock API key.
    let mock = MockServer::start(mock_options()).await.unwrap();
    let config = json!({"providers": {"bedrock": {
        "keys": [
            {"name": "good", "value": API_KEY, "weight": 1, "models": [UPSTREAM_MODEL]},
            {"name": "bad", "value": "bedrock-api-key-wrong", "weight": 1, "models": ["amazon.nova-lite-v1:0"]}
        ],
        "network_config": {"base_url": mock.base_url()}
    }}});
    let gw = TestGateway::start_with(mock, config).await;
    let (status, answer) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 200, "{answer}");
    let sent = &converse_requests(&gw)[0];
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert!(sent.header("x-amz-date").is_none());

    let mut body = ask("Hello");
    body["model"] = json!("bedrock/amazon.nova-lite-v1:0");
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["type"], "AccessDeniedException");
    assert!(!error.to_string().contains("bedrock-api-key-wrong"));
}

#[tokio::test]
async fn a_stream_has_ordered_deltas_one_finish_reason_and_done_last() {
    let gw = start_with(
        MockOptions {
            stream_chunks: 4,
            ..mock_options()
        },
        json!({}),
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
    assert_eq!(finishes(&chunks), [&json!("stop")]);
    // The client did not ask for usage: the usage-only chunk is hidden.
    assert!(
        chunks
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null))
    );
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["extra_fields"]["chunk_index"], i);
        assert_eq!(chunk["extra_fields"]["provider"], "bedrock");
    }
    let sent = converse_requests(&gw);
    assert!(
        sent[0].path.ends_with("/converse-stream"),
        "{}",
        sent[0].path
    );
    assert!(
        sent[0]
            .header("authorization")
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256")
    );

    // Asked for: one usage chunk, last.
    body["stream_options"] = json!({"include_usage": true});
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 4);
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
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(
        arguments["city"].is_string() && arguments["days"].is_i64(),
        "{arguments}"
    );
    let sent = last_sent(&gw);
    let spec = &sent["toolConfig"]["tools"][0]["toolSpec"];
    assert_eq!(spec["name"], "get_weather");
    assert_eq!(
        spec["inputSchema"]["json"]["required"],
        json!(["city", "days"])
    );

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
        .find_map(|b| b.get("toolUse"))
        .unwrap();
    assert_eq!(tool_use["toolUseId"], id.as_str());
    assert_eq!(tool_use["input"], arguments);
    assert_eq!(turns[2]["role"], "user");
    assert_eq!(
        turns[2]["content"][0]["toolResult"]["toolUseId"],
        id.as_str()
    );
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
    assert!(!calls.is_empty(), "{chunks:?}");
    assert!(calls[0]["id"].as_str().is_some_and(|i| !i.is_empty()));
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls.iter().all(|c| c["index"] == 0));
    let arguments: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    let arguments: Value = serde_json::from_str(&arguments).unwrap();
    assert!(arguments["city"].is_string(), "{arguments}");
    assert_eq!(finishes(&chunks), [&json!("tool_calls")]);
    assert_eq!(
        last_sent(&gw)["toolConfig"]["toolChoice"],
        json!({"any": {}})
    );
}

#[tokio::test]
async fn base64_images_become_image_blocks() {
    let gw = start().await;
    let mut body = ask("");
    body["messages"] = json!([{"role": "user", "content": [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG_BASE64}")}}
    ]}]);
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let sent = last_sent(&gw);
    let blocks = &sent["messages"][0]["content"];
    assert_eq!(blocks[0], json!({"text": "What is in this image?"}));
    assert_eq!(blocks[1]["image"]["format"], "png");
    assert_eq!(blocks[1]["image"]["source"]["bytes"], PNG_BASE64);

    // Converse takes no image URLs: the client's error, before anything is sent.
    body["messages"][0]["content"][1]["image_url"]["url"] = json!("https://example.com/cat.png");
    let before = converse_requests(&gw).len();
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(converse_requests(&gw).len(), before);
}

#[tokio::test]
async fn json_schema_response_format_becomes_a_forced_tool() {
    let gw = start().await;
    let schema = json!({
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": false
    });
    let mut body = ask("Answer in JSON");
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "strict": true, "schema": schema}});
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let choice = &answer["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert!(
        choice["message"]
            .get("tool_calls")
            .is_none_or(Value::is_null)
    );
    let content: Value =
        serde_json::from_str(choice["message"]["content"].as_str().unwrap()).unwrap();
    assert!(content["answer"].is_string(), "{content}");
    let sent = last_sent(&gw);
    assert_eq!(
        sent["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "answer"}})
    );
    assert_eq!(
        sent["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"],
        schema
    );

    // Streamed, the tool's input arrives as content.
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    let content: Value = serde_json::from_str(&text).unwrap();
    assert!(content["answer"].is_string(), "{content}");
    assert_eq!(finishes(&chunks), [&json!("stop")]);
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
    let thinking = &sent["additionalModelRequestFields"]["thinking"];
    assert_eq!(thinking["type"], "enabled");
    assert_eq!(thinking["budget_tokens"], 2000);

    let message = &first["choices"][0]["message"];
    assert_eq!(message["content"], "Hello from the mock.");
    let reasoning = message["reasoning"].as_str().unwrap();
    assert!(!reasoning.is_empty());
    let detail = &message["reasoning_details"][0];
    let signature = detail["signature"].as_str().unwrap().to_owned();
    assert!(!signature.is_empty());

    let mut messages = body["messages"].as_array().unwrap().clone();
    messages.push(message.clone());
    messages.push(json!({"role": "user", "content": "And now?"}));
    body["messages"] = Value::Array(messages);
    let (status, second) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{second}");
    let sent = last_sent(&gw);
    let replayed = &sent["messages"][1]["content"][0]["reasoningContent"]["reasoningText"];
    assert_eq!(replayed["text"], reasoning);
    assert_eq!(replayed["signature"], signature.as_str());

    // Streamed: reasoning deltas and the signature.
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning"].as_str())
        .collect();
    assert!(!streamed.is_empty());
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
    let mut body = ask("Hello");
    body["max_tokens"] = json!(2);
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello from");

    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert_eq!(finishes(&chunks), [&json!("length")]);

    let mut body = ask("Weather?");
    body["tools"] = weather_tool();
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        last_sent(&gw)["toolConfig"]["toolChoice"],
        json!({"tool": {"name": "get_weather"}})
    );
}

#[tokio::test]
async fn errors_keep_status_type_and_message() {
    let gw = start().await;
    let (status, error) = gw
        .post(
            "/v1/chat/completions",
            ask("Hello asbru-mock:error=validationException"),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "ValidationException");
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(error["extra_fields"]["provider"], "bedrock");

    // Throttled, without retries configured: the 429 reaches the client.
    gw.mock.push_fault(Fault::Status {
        status: 429,
        message: String::new(),
    });
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["type"], "ThrottlingException");

    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: String::new(),
    });
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 503, "{error}");
    assert_eq!(error["error"]["type"], "ServiceUnavailableException");

    // Text completions do not exist for Bedrock.
    let (status, error) = gw
        .post(
            "/v1/completions",
            json!({"model": MODEL, "prompt": "Say hi"}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "unsupported_operation", "{error}");
}

#[tokio::test]
async fn throttling_is_retried() {
    let gw = start_with(
        mock_options(),
        json!({}),
        json!({"max_retries": 1, "retry_backoff_initial_ms": 10, "retry_backoff_max_ms": 100}),
    )
    .await;
    gw.mock.push_fault(Fault::Status {
        status: 429,
        message: String::new(),
    });
    let (status, answer) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["retries"], 1);
    assert_eq!(converse_requests(&gw).len(), 2);
    // Each attempt is signed afresh.
    assert!(converse_requests(&gw).iter().all(|r| {
        r.header("authorization")
            .is_some_and(|a| a.starts_with("AWS4"))
    }));
}

#[tokio::test]
async fn an_exception_mid_stream_ends_the_stream_with_an_error() {
    let gw = start().await;
    let mut body = ask("Hello asbru-mock:error=throttlingException");
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
    assert_eq!(last["error"]["type"], "ThrottlingException", "{last}");
    assert_eq!(last["extra_fields"]["provider"], "bedrock");
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("error").is_none())
    );
}

#[tokio::test]
async fn deployments_and_the_arn_name_the_model_in_the_path() {
    let gw = start_with(
        mock_options(),
        json!({"bedrock_key_config": {
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "region": "us-west-2",
            "arn": "arn:aws:bedrock:us-west-2:123456789012:inference-profile",
            "deployments": {"claude-sonnet": "us.anthropic.claude-3-7-sonnet-20250219-v1:0"}
        }}),
        json!({}),
    )
    .await;
    let mut body = ask("Hello");
    body["model"] = json!("bedrock/claude-sonnet");
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let sent = &converse_requests(&gw)[0];
    assert_eq!(
        sent.path,
        "/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"
    );
    // Signed for the key's region.
    assert!(
        sent.header("authorization")
            .unwrap()
            .contains("/us-west-2/bedrock/aws4_request")
    );

    // The configured names are what `/v1/models` lists.
    let (status, list) = gw.get("/v1/models?provider=bedrock").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["id"], "bedrock/claude-sonnet");
}

#[tokio::test]
async fn fallbacks_go_from_bedrock_to_openai() {
    let gw = start().await;
    gw.mock.set_model_fault(
        UPSTREAM_MODEL,
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
    assert!(sent[0].path.ends_with("/converse"));
    assert!(sent[1].path.ends_with("/v1/chat/completions"));

    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert!(
        chunks
            .iter()
            .all(|c| c["extra_fields"]["provider"] == "openai")
    );
}

#[tokio::test]
async fn a_custom_provider_based_on_bedrock_works_too() {
    let mock = MockServer::start(mock_options()).await.unwrap();
    let config = json!({"providers": {
        "aws-proxy": {
            "keys": [{"name": "p", "value": API_KEY, "weight": 1}],
            "network_config": {
                "base_url": format!("{}/proxy", mock.base_url()),
                "extra_headers": {"x-team": "research"}
            },
            "custom_provider_config": {"base_provider_type": "bedrock"}
        }
    }});
    let gw = TestGateway::start_with(mock, config).await;
    let mut body = ask("Hello");
    body["model"] = json!("aws-proxy/amazon.nova-lite-v1:0");
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "aws-proxy");
    let sent = &gw.mock.requests()[0];
    assert_eq!(sent.path, "/proxy/model/amazon.nova-lite-v1%3A0/converse");
    assert_eq!(sent.header("x-team"), Some("research"));
}

/// The InvokeModel calls that reached the mock, in arrival order.
fn invoke_requests(gw: &TestGateway) -> Vec<RecordedRequest> {
    gw.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/invoke"))
        .collect()
}

#[tokio::test]
async fn titan_embeddings_take_one_signed_call_per_input() {
    let gw = start().await;
    let body = json!({
        "model": "bedrock/amazon.titan-embed-text-v2:0",
        "input": ["the first text", "second"],
        "dimensions": 256,
        "encoding_format": "float"
    });
    let (status, answer) = gw.post("/v1/embeddings", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "list");
    let data = answer["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 256);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    // Token counts of both calls, summed.
    assert_eq!(answer["usage"]["prompt_tokens"], 4);

    let sent = invoke_requests(&gw);
    assert_eq!(sent.len(), 2);
    let mut texts: Vec<Value> = sent.iter().map(|r| r.json().unwrap()).collect();
    texts.sort_by_key(|t| t["inputText"].as_str().unwrap().to_owned());
    assert_eq!(
        texts,
        vec![
            json!({"inputText": "second", "dimensions": 256}),
            json!({"inputText": "the first text", "dimensions": 256}),
        ]
    );
    for r in &sent {
        assert_eq!(r.path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
        assert!(
            r.header("authorization")
                .unwrap()
                .starts_with("AWS4-HMAC-SHA256 ")
        );
    }
}

#[tokio::test]
async fn cohere_embeddings_batch_texts_and_read_the_token_header() {
    let gw = start().await;
    let inputs: Vec<String> = (0..100).map(|i| format!("text number {i}")).collect();
    let body = json!({
        "model": "bedrock/cohere.embed-english-v3",
        "input": inputs,
        "input_type": "search_query",
        "encoding_format": "float"
    });
    let (status, answer) = gw.post("/v1/embeddings", body).await;
    assert_eq!(status, 200, "{answer}");
    let data = answer["data"].as_array().unwrap();
    assert_eq!(data.len(), 100);
    assert!(data.iter().enumerate().all(|(i, d)| d["index"] == json!(i)));
    // 3 words per text, reported per call in X-Amzn-Bedrock-Input-Token-Count.
    assert_eq!(answer["usage"]["prompt_tokens"], 300);
    let sent: Vec<Value> = invoke_requests(&gw)
        .iter()
        .map(|r| r.json().unwrap())
        .collect();
    assert_eq!(sent.len(), 2);
    let sizes: Vec<usize> = sent
        .iter()
        .map(|b| b["texts"].as_array().unwrap().len())
        .collect();
    assert!(sizes.contains(&96) && sizes.contains(&4), "{sizes:?}");
    assert!(sent.iter().all(|b| b["input_type"] == "search_query"));

    // The same vectors as base64 little-endian f32s, as OpenAI answers that format.
    let (status, b64) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "bedrock/cohere.embed-english-v3", "input": "text number 0",
                   "encoding_format": "base64"}),
        )
        .await;
    assert_eq!(status, 200, "{b64}");
    let encoded = b64["data"][0]["embedding"].as_str().unwrap();
    let decoded = base64_f32s(encoded);
    let floats: Vec<f32> = data[0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(decoded, floats);
}

fn base64_f32s(encoded: &str) -> Vec<f32> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[tokio::test]
async fn embedding_errors_name_the_model_or_keep_bedrocks_message() {
    let gw = start().await;
    // A chat model is not an embedding model: the gateway says so without calling Bedrock.
    let (status, answer) = gw
        .post(
            "/v1/embeddings",
            json!({"model": MODEL, "input": "x", "encoding_format": "float"}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "model");
    assert!(invoke_requests(&gw).is_empty());

    // Titan G1 has no `dimensions`: refused before sending.
    let (status, answer) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "bedrock/amazon.titan-embed-text-v1", "input": "x", "dimensions": 8}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");

    // What Bedrock refuses comes back with its exception type and message.
    let (status, answer) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "bedrock/cohere.embed-english-v3", "input": "x",
                   "input_type": "query"}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["type"], "ValidationException");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("input_type"),
        "{answer}"
    );

    // A throttled call comes back as Bedrock's throttling error (retries apply as to chat).
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, answer) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "bedrock/amazon.titan-embed-text-v2:0", "input": "x"}),
        )
        .await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["type"], "ThrottlingException");
}

/// `bedrock/..` used to go upstream as `POST /model/../converse`, a path that resolves to another
/// one. Ids that are dot segments are refused, naming `model`, before anything is sent; an ARN
/// (`:` and `/`) is still percent-encoded into one segment.
#[tokio::test]
async fn dot_segment_model_ids_are_refused_before_bedrock() {
    let gw = start().await;
    for model in ["bedrock/..", "bedrock/."] {
        let (status, answer) = gw.post("/v1/chat/completions", chat_body(model)).await;
        assert_eq!(status, 400, "{model}: {answer}");
        assert_eq!(answer["error"]["param"], "model", "{answer}");

        let mut stream = chat_body(model);
        stream["stream"] = json!(true);
        let (status, answer) = gw.post("/v1/chat/completions", stream).await;
        assert_eq!(status, 400, "{model} stream: {answer}");
        assert_eq!(answer["error"]["param"], "model", "{answer}");

        let (status, answer) = gw
            .post(
                "/v1/embeddings",
                json!({"model": model, "input": "x", "encoding_format": "float"}),
            )
            .await;
        assert_eq!(status, 400, "{model} embeddings: {answer}");
        assert_eq!(answer["error"]["param"], "model", "{answer}");
    }
    let sent = gw.mock.requests();
    assert!(sent.is_empty(), "reached the upstream: {sent:?}");

    // A model id that only contains dots among other characters is an ordinary id.
    let (status, answer) = gw.post("/v1/chat/completions", chat_body(MODEL)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        gw.mock.requests().pop().unwrap().path,
        "/model/anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse"
    );
}
