//! The Anthropic drop-in route (`/anthropic/v1/messages`, `/v1/messages`): Messages in and out,
//! through the engine like every other route — fallbacks, errors in Anthropic's shape, and
//! streams translated into Anthropic's event order whichever provider serves them.

use crate::harness::{TestGateway, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let config = json!({"providers": {
        "anthropic": {"keys": [{"name": "a", "value": "sk-ant", "weight": 1}],
                      "network_config": {"base_url": base}},
        "openai": {"keys": [{"name": "o", "value": "sk-openai", "weight": 1}],
                   "network_config": {"base_url": base}}
    }});
    TestGateway::start_with(mock, config).await
}

fn ask(model: &str) -> Value {
    json!({"model": model, "max_tokens": 100,
           "messages": [{"role": "user", "content": "Say hello."}]})
}

#[tokio::test]
async fn fallbacks_apply_and_the_answer_stays_anthropic() {
    let gw = start().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "primary down".into(),
    });
    let mut body = ask("claude-sonnet-4-5");
    body["fallbacks"] = json!(["openai/gpt-4o-mini"]);
    let (status, answer) = gw.post("/anthropic/v1/messages", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["type"], "text");
    assert_eq!(answer["stop_reason"], "end_turn");
    let paths: Vec<String> = gw.mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/messages", "/v1/chat/completions"]);
}

#[tokio::test]
async fn errors_have_anthropics_shape_and_status() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/v1/messages",
            json!({"model": "claude-sonnet-4-5", "max_tokens": 10}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["error"]["type"], "invalid_request_error");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages")
    );

    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, answer) = gw.post("/v1/messages", ask("openai/gpt-4o-mini")).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["type"], "rate_limit_error");
}

#[tokio::test]
async fn an_openai_stream_becomes_anthropics_event_sequence() {
    let gw = start().await;
    let mut body = ask("openai/gpt-4o-mini");
    body["stream"] = json!(true);
    let response = gw.post_stream("/anthropic/v1/messages", &body).await;
    assert_eq!(response.status(), 200);
    let events: Vec<Value> = sse_data(response)
        .await
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"message_start"));
    assert_eq!(kinds.iter().filter(|k| **k == "message_start").count(), 1);
    assert_eq!(kinds[kinds.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(kinds[1], "content_block_start");
    let delta = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert!(
        delta["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "{delta}"
    );

    // Cut mid-stream: an `error` event, never `message_stop`.
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let response = gw.post_stream("/anthropic/v1/messages", &body).await;
    let events = sse_data(response).await;
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["type"], "error", "{events:?}");
    assert!(events.iter().all(|e| !e.contains("message_stop")));
}

#[tokio::test]
async fn models_are_listed_and_paged_as_anthropic_does() {
    let gw = start().await;
    let (status, all) = gw.get("/anthropic/v1/models?limit=1000").await;
    assert_eq!(status, 200, "{all}");
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= 2, "{all}");
    assert_eq!(all["has_more"], false);
    assert_eq!(all["data"][0]["type"], "model");
    assert!(
        all["data"][0]["created_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );

    let (_, page) = gw
        .get(&format!("/anthropic/v1/models?limit=1&after_id={}", ids[0]))
        .await;
    assert_eq!(page["data"][0]["id"], ids[1]);
    assert_eq!(page["first_id"], ids[1]);
    assert_eq!(page["has_more"], ids.len() > 2);
}

#[tokio::test]
async fn count_tokens_goes_to_the_providers_counting_endpoint() {
    let gw = start().await;
    let body = json!({"model": "claude-sonnet-4-5", "system": "Be terse.",
                      "messages": [{"role": "user", "content": "Count these words please."}]});
    let (status, answer) = gw
        .post("/anthropic/v1/messages/count_tokens", body.clone())
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["input_tokens"].as_u64().unwrap() > 0, "{answer}");
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert!(sent.json().unwrap().get("max_tokens").is_none());

    // An OpenAI model behind the same route: counted by OpenAI's input_tokens.
    let mut other = body;
    other["model"] = json!("openai/gpt-4.1");
    let (status, answer) = gw.post("/v1/messages/count_tokens", other).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["input_tokens"].as_u64().unwrap() > 0, "{answer}");
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/responses/input_tokens");
    assert_eq!(sent.json().unwrap()["instructions"], "Be terse.");
}
