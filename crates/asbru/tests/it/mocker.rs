//! The `mocker` plugin through the real router: its OpenAI-dialect answers reach every route in
//! that route's shape, errors keep their status, fallbacks and passthrough reach real providers.

use crate::harness::{TestGateway, sse_data};
use asbru_mock::{MockOptions, MockServer};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `openai` at an address nothing listens on (so only the mocker can answer it), `groq` on the
/// harness's mock, and the mocker configured with `mocker`.
async fn gateway(mocker: Value) -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({
        "providers": {
            "openai": {"keys": [{"name": "a", "value": "sk-a", "weight": 1}],
                       "network_config": {"base_url": "http://127.0.0.1:9", "max_retries": 0}},
            "groq": {"keys": [{"name": "g", "value": "gsk-g", "weight": 1}],
                     "network_config": {"base_url": mock.base_url()}}
        },
        "plugins": [{"name": "mocker", "enabled": true, "config": mocker}]
    });
    TestGateway::start_with(mock, config).await
}

fn hello_rule() -> Value {
    json!({"rules": [
        {"name": "hello", "priority": 10, "conditions": {"providers": ["openai"], "message_regex": "(?i)hello"},
         "responses": [{"type": "success", "content": {
             "message_template": "Hi from {{provider}} {{model}}",
             "usage": {"prompt_tokens": 4, "completion_tokens": 6}}}]},
        {"name": "limited", "priority": 5, "conditions": {"message_regex": "(?i)limit"},
         "responses": [{"type": "error", "allow_fallbacks": false, "error": {
             "message": "Rate limit exceeded", "type": "rate_limit_error", "code": "rate_limited",
             "status_code": 429}}]}
    ]})
}

fn chat(content: &str, stream: bool) -> Value {
    json!({"model": "openai/gpt-4o", "stream": stream,
           "messages": [{"role": "user", "content": content}]})
}

fn events(data: &[String]) -> Vec<Value> {
    data.iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn chat_completions_json_and_stream() {
    let gw = gateway(hello_rule()).await;
    let (status, answer) = gw.post("/v1/chat/completions", chat("Hello!", false)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hi from openai gpt-4o"
    );
    assert_eq!(answer["usage"]["total_tokens"], 10);
    assert_eq!(answer["extra_fields"]["provider"], "openai");

    let response = gw
        .post_stream("/v1/chat/completions", &chat("Hello!", true))
        .await;
    assert_eq!(response.status(), 200);
    let data = sse_data(response).await;
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks = events(&data);
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hi from openai gpt-4o");
    assert!(chunks.len() > 3, "{data:?}");
    assert!(
        chunks.iter().any(|c| c["usage"]["total_tokens"] == 10),
        "{data:?}"
    );
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn responses_json_and_stream() {
    let gw = gateway(hello_rule()).await;
    let body = json!({"model": "openai/gpt-4o", "input": "Hello!"});
    let (status, answer) = gw.post("/v1/responses", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["status"], "completed");
    assert_eq!(
        answer["output"][0]["content"][0]["text"],
        "Hi from openai gpt-4o"
    );
    assert_eq!(answer["usage"]["total_tokens"], 10);

    let mut body = body;
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/responses", &body).await;
    assert_eq!(response.status(), 200);
    let evs = events(&sse_data(response).await);
    assert_eq!(evs.first().unwrap()["type"], "response.created");
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "response.completed");
    assert_eq!(last["response"]["usage"]["total_tokens"], 10);
    let text: String = evs
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert_eq!(text, "Hi from openai gpt-4o");
}

#[tokio::test]
async fn anthropic_route_gets_the_anthropic_shape() {
    let gw = gateway(hello_rule()).await;
    let body = json!({"model": "openai/gpt-4o", "max_tokens": 100,
                      "messages": [{"role": "user", "content": "Hello!"}]});
    let (status, answer) = gw.post("/anthropic/v1/messages", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["role"], "assistant");
    assert_eq!(answer["content"][0]["text"], "Hi from openai gpt-4o");
    assert_eq!(answer["usage"]["input_tokens"], 4);
    assert_eq!(answer["usage"]["output_tokens"], 6);

    let mut stream = body.clone();
    stream["stream"] = json!(true);
    let response = gw.post_stream("/anthropic/v1/messages", &stream).await;
    assert_eq!(response.status(), 200);
    let evs = events(&sse_data(response).await);
    assert_eq!(evs.first().unwrap()["type"], "message_start");
    assert_eq!(evs.last().unwrap()["type"], "message_stop");
    let text: String = evs
        .iter()
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hi from openai gpt-4o");

    let mut limited = body;
    limited["messages"][0]["content"] = json!("limit me");
    let (status, answer) = gw.post("/anthropic/v1/messages", limited).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["error"]["message"], "Rate limit exceeded");
}

#[tokio::test]
async fn genai_route_gets_the_gemini_shape() {
    let gw = gateway(hello_rule()).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "Hello!"}]}]});
    let (status, answer) = gw
        .post(
            "/genai/v1beta/models/openai/gpt-4o:generateContent",
            body.clone(),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["candidates"][0]["content"]["parts"][0]["text"],
        "Hi from openai gpt-4o"
    );
    assert_eq!(answer["usageMetadata"]["totalTokenCount"], 10);

    let response = gw
        .post_stream(
            "/genai/v1beta/models/openai/gpt-4o:streamGenerateContent?alt=sse",
            &body,
        )
        .await;
    assert_eq!(response.status(), 200);
    // Gemini separates events with CRLF pairs.
    let raw = response.text().await.unwrap();
    let evs: Vec<Value> = raw
        .split("\r\n\r\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect();
    let text: String = evs
        .iter()
        .filter_map(|e| e["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "Hi from openai gpt-4o", "{evs:#?}");
    assert!(
        evs.iter()
            .any(|e| e["usageMetadata"]["totalTokenCount"] == 10),
        "{evs:?}"
    );

    let limited = json!({"contents": [{"role": "user", "parts": [{"text": "limit"}]}]});
    let (status, answer) = gw
        .post(
            "/genai/v1beta/models/openai/gpt-4o:generateContent",
            limited,
        )
        .await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], 429);
    assert_eq!(answer["error"]["message"], "Rate limit exceeded");
}

#[tokio::test]
async fn an_error_rule_answers_with_its_status_in_the_openai_shape() {
    let gw = gateway(hello_rule()).await;
    let (status, answer) = gw
        .post("/v1/chat/completions", chat("over the limit", false))
        .await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["message"], "Rate limit exceeded");
    assert_eq!(answer["error"]["type"], "rate_limit_error");
    assert_eq!(answer["error"]["code"], "rate_limited");
    let (status, _) = gw
        .post(
            "/v1/responses",
            json!({"model": "openai/gpt-4o", "input": "limit"}),
        )
        .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn an_error_that_allows_fallbacks_reaches_the_fallback_provider() {
    let gw = gateway(
        json!({"rules": [{"name": "down", "conditions": {"providers": ["openai"]},
        "responses": [{"type": "error", "allow_fallbacks": true,
                       "error": {"message": "primary down", "status_code": 503}}]}]}),
    )
    .await;
    let mut body = chat("Hello", false);
    body["fallbacks"] = json!(["groq/llama-3.1-8b-instant"]);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "groq");
    assert_eq!(gw.mock.requests().len(), 1);
}

#[tokio::test]
async fn passthrough_reaches_the_provider_when_no_rule_matches() {
    let gw = gateway(json!({"default_behavior": "passthrough", "rules": [
        {"name": "only-openai", "conditions": {"providers": ["openai"]},
         "responses": [{"type": "success", "content": {"message": "mocked"}}]}]}))
    .await;
    let (status, answer) = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "groq/llama-3.1-8b-instant",
            "messages": [{"role": "user", "content": "Hello"}]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "groq");
    assert_ne!(answer["choices"][0]["message"]["content"], "mocked");
    assert_eq!(gw.mock.requests().len(), 1);
}

#[tokio::test]
async fn default_behavior_error_answers_unmatched_requests() {
    let gw = gateway(json!({"default_behavior": "error", "rules": [
        {"name": "never", "conditions": {"models": ["nothing"]},
         "responses": [{"type": "success", "content": {"message": "x"}}]}]}))
    .await;
    let (status, answer) = gw.post("/v1/chat/completions", chat("Hello", false)).await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["error"]["message"], "Mock plugin default error");
}

#[tokio::test]
async fn a_rules_latency_is_waited() {
    let gw = gateway(
        json!({"rules": [{"name": "slow", "latency": {"type": "fixed", "min": 300},
        "responses": [{"type": "success", "content": {"message": "late"}}]}]}),
    )
    .await;
    let started = Instant::now();
    let (status, answer) = gw.post("/v1/chat/completions", chat("Hello", false)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        answer["extra_fields"]["latency"].as_f64().unwrap() >= 300.0,
        "{answer}"
    );
}

#[tokio::test]
async fn custom_fields_and_the_model_override_reach_the_openai_answer() {
    let gw = gateway(json!({"rules": [{"name": "c", "responses": [{"type": "success", "content": {
        "message": "x", "model": "mock-1", "custom_fields": {"mocked": true, "id": "not-mine"}}}]}]}))
    .await;
    let (status, answer) = gw.post("/v1/chat/completions", chat("Hello", false)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["mocked"], true);
    assert_ne!(answer["id"], "not-mine");
    assert_eq!(answer["model"], "mock-1");
}
