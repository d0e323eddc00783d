//! `POST /v1/responses/input_tokens`: OpenAI counts the Responses request itself; Anthropic and
//! Gemini count it through their own endpoints after translation; the answer is OpenAI's
//! `response.input_tokens` object whichever provider counted.

use crate::harness::TestGateway;
use asbru_mock::{MockOptions, MockServer};
use serde_json::{Value, json};

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let provider = |key: &str| {
        json!({"keys": [{"name": "k", "value": key, "weight": 1}],
               "network_config": {"base_url": base}})
    };
    let config = json!({"providers": {
        "openai": provider("sk-openai"),
        "anthropic": provider("sk-ant"),
        "gemini": provider("AIza-gemini"),
        "bedrock": provider("bedrock-api-key"),
    }});
    TestGateway::start_with(mock, config).await
}

fn request(model: &str) -> Value {
    json!({
        "model": model,
        "instructions": "You are terse.",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "What is the weather in Paris?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18 degrees"}
        ],
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather now",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    })
}

fn counted(answer: &Value) -> u64 {
    assert_eq!(answer["object"], "response.input_tokens", "{answer}");
    let n = answer["input_tokens"].as_u64().unwrap();
    assert!(n > 0, "{answer}");
    n
}

#[tokio::test]
async fn openai_counts_the_request_as_sent() {
    let gw = start().await;
    let (status, answer) = gw
        .post("/v1/responses/input_tokens", request("openai/gpt-4.1"))
        .await;
    assert_eq!(status, 200, "{answer}");
    counted(&answer);
    assert_eq!(answer["extra_fields"]["provider"], "openai");
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/responses/input_tokens");
    let body = sent.json().unwrap();
    assert_eq!(body["model"], "gpt-4.1");
    assert_eq!(body["input"], request("x")["input"]);
}

#[tokio::test]
async fn anthropic_counts_through_count_tokens_without_generation_fields() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/v1/responses/input_tokens",
            request("anthropic/claude-sonnet-4-5"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    counted(&answer);
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    let body = sent.json().unwrap();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert!(body.get("max_tokens").is_none(), "{body}");
    let system = &body["system"];
    assert!(
        system == "You are terse." || system[0]["text"] == "You are terse.",
        "{body}"
    );
    // The call and its result became tool_use / tool_result blocks with the same id.
    assert_eq!(body["messages"][1]["content"][0]["id"], "call_1");
    assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "call_1");
    assert_eq!(body["tools"][0]["name"], "get_weather");

    // What a chat API cannot take is refused, naming the field, without calling Anthropic.
    gw.mock.clear_requests();
    let mut bad = request("anthropic/claude-sonnet-4-5");
    bad["input"] = json!([{"type": "input_file", "file_id": "file_1"}]);
    let (status, answer) = gw.post("/v1/responses/input_tokens", bad).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "input[0].type");
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn gemini_counts_the_whole_generate_content_request() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/v1/responses/input_tokens",
            request("gemini/gemini-2.5-flash"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    counted(&answer);
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:countTokens");
    let body = sent.json().unwrap();
    let inner = &body["generateContentRequest"];
    assert_eq!(inner["model"], "models/gemini-2.5-flash");
    assert_eq!(
        inner["systemInstruction"]["parts"][0]["text"],
        "You are terse."
    );
    assert!(inner["contents"].as_array().unwrap().len() >= 3, "{body}");
}

#[tokio::test]
async fn providers_without_counting_answer_400() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/v1/responses/input_tokens",
            request("bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0"),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "unsupported_operation");
    assert!(gw.mock.requests().is_empty());
}
