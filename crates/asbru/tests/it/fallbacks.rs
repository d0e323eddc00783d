//! `fallbacks: ["provider/model", …]`: tried in order after the primary fails.

use crate::harness::{TestGateway, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};

/// `openai` on the harness's mock, `groq` on a second mock returned alongside.
async fn two_providers() -> (TestGateway, MockServer) {
    let primary = MockServer::start(MockOptions::default()).await.unwrap();
    let backup = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {
        "openai": {"keys": [{"name": "a", "value": "sk-a", "weight": 1}], "network_config": {"base_url": primary.base_url()}},
        "groq": {"keys": [{"name": "g", "value": "gsk-g", "weight": 1}], "network_config": {"base_url": backup.base_url()}}
    }});
    (TestGateway::start_with(primary, config).await, backup)
}

fn body(stream: bool) -> Value {
    json!({
        "model": "openai/gpt-4o",
        "fallbacks": ["groq/llama-3.1-8b-instant"],
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}]
    })
}

#[tokio::test]
async fn a_failed_primary_falls_back_to_the_next_model() {
    let (gw, backup) = two_providers().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "down".into(),
    });
    let (status, answer) = gw.post("/v1/chat/completions", body(false)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "groq");
    assert_eq!(
        answer["extra_fields"]["model_requested"],
        "llama-3.1-8b-instant"
    );
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    assert_eq!(gw.mock.requests().len(), 1);
    let sent = backup.requests()[0].json().unwrap();
    assert_eq!(sent["model"], "llama-3.1-8b-instant");
    assert!(sent.get("fallbacks").is_none());
    assert_eq!(
        backup.requests()[0].header("authorization"),
        Some("Bearer gsk-g")
    );
}

#[tokio::test]
async fn when_everything_fails_the_primary_error_comes_back_with_every_attempt() {
    let (gw, backup) = two_providers().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "primary down".into(),
    });
    backup.push_fault(Fault::Status {
        status: 500,
        message: "backup down".into(),
    });
    let mut request = body(false);
    request["fallbacks"] = json!(["groq/llama-3.1-8b-instant", "nosuch/model"]);
    let (status, answer) = gw.post("/v1/chat/completions", request).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["message"], "primary down");
    let attempts = answer["extra_fields"]["attempts"].as_array().unwrap();
    let summary: Vec<(String, u64)> = attempts
        .iter()
        .map(|a| {
            (
                a["target"].as_str().unwrap().to_owned(),
                a["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("openai/gpt-4o".to_owned(), 503),
            ("groq/llama-3.1-8b-instant".to_owned(), 500),
            ("nosuch/model".to_owned(), 400)
        ]
    );
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_chunk_falls_back() {
    let (gw, backup) = two_providers().await;
    gw.mock.push_fault(Fault::Reset);
    let response = gw.post_stream("/v1/chat/completions", &body(true)).await;
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["extra_fields"]["provider"], "groq");
    assert_eq!(first["extra_fields"]["fallback_index"], 1);
    assert_eq!(backup.requests().len(), 1);
}

#[tokio::test]
async fn a_stream_that_breaks_after_its_first_chunk_does_not_switch_provider() {
    let (gw, backup) = two_providers().await;
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let response = gw.post_stream("/v1/chat/completions", &body(true)).await;
    let events = sse_data(response).await;
    assert!(!events.iter().any(|e| e == "[DONE]"), "{events:?}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
    assert!(
        backup.requests().is_empty(),
        "committed stream must not fall back"
    );
}
