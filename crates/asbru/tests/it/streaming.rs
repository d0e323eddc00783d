//! Streams are forwarded chunk by chunk as they arrive, with usage and `extra_fields`.

use crate::harness::{TestGateway, sse_data};
use asbru_mock::Fault;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

fn stream_body(include_usage: Option<bool>) -> Value {
    let mut body = json!({
        "model": "openai/gpt-4o-mini",
        "stream": true,
        "messages": [{"role": "user", "content": "Tell me a story"}]
    });
    if let Some(u) = include_usage {
        body["stream_options"] = json!({"include_usage": u});
    }
    body
}

#[tokio::test]
async fn first_chunk_arrives_while_the_provider_still_holds_the_rest() {
    let gw = TestGateway::start().await;
    gw.mock.push_fault(Fault::HoldStream);
    let response = gw
        .post_stream("/v1/chat/completions", &stream_body(None))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    // The mock sent one chunk and now waits for release: the gateway must already have passed
    // it on.
    while !received.windows(2).any(|w| w == b"\n\n") {
        let piece = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect("first chunk did not arrive while the provider held the stream")
            .unwrap()
            .unwrap();
        received.extend_from_slice(&piece);
    }
    let first = String::from_utf8(received.clone()).unwrap();
    assert!(first.starts_with("data: {"), "{first}");
    assert!(!first.contains("[DONE]"));

    gw.mock.release_streams();
    while let Some(piece) = body.next().await {
        received.extend_from_slice(&piece.unwrap());
    }
    let all = String::from_utf8(received).unwrap();
    assert!(all.ends_with("data: [DONE]\n\n"), "{all}");
    assert!(all.matches("data: {").count() >= 3);
}

#[tokio::test]
async fn usage_is_requested_upstream_but_only_returned_when_asked() {
    let gw = TestGateway::start().await;
    let response = gw
        .post_stream("/v1/chat/completions", &stream_body(None))
        .await;
    let events = sse_data(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(
        chunks
            .iter()
            .all(|c| !c["choices"].as_array().unwrap().is_empty()),
        "usage-only chunk leaked to a client that did not ask"
    );
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["extra_fields"]["chunk_index"], i);
        assert_eq!(chunk["extra_fields"]["provider"], "openai");
        assert_eq!(
            chunk["extra_fields"]["request_type"],
            "chat.completion.chunk"
        );
    }
    let upstream = gw.mock.requests()[0].json().unwrap();
    assert_eq!(upstream["stream_options"]["include_usage"], true);

    let response = gw
        .post_stream("/v1/chat/completions", &stream_body(Some(true)))
        .await;
    let events = sse_data(response).await;
    let usage_chunk: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert!(usage_chunk["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(usage_chunk["choices"], json!([]));
}

#[tokio::test]
async fn a_stream_cut_by_the_provider_ends_with_an_error_not_done() {
    let gw = TestGateway::start().await;
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let response = gw
        .post_stream("/v1/chat/completions", &stream_body(None))
        .await;
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    assert!(!events.iter().any(|e| e == "[DONE]"), "{events:?}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert!(last["error"]["message"].is_string(), "{last}");
    assert_eq!(last["extra_fields"]["provider"], "openai");
    // The content chunks before the cut were delivered.
    assert!(events.len() >= 3, "{events:?}");
}

#[tokio::test]
async fn text_completion_streams_too() {
    let gw = TestGateway::start().await;
    let response = gw
        .post_stream(
            "/v1/completions",
            &json!({"model": "openai/gpt-3.5-turbo-instruct", "prompt": "hi", "stream": true}),
        )
        .await;
    let events = sse_data(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["object"], "text_completion");
}

#[tokio::test]
async fn a_provider_silent_mid_stream_is_cut_after_the_idle_timeout() {
    let mock = asbru_mock::MockServer::start(asbru_mock::MockOptions::default())
        .await
        .unwrap();
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": "sk-k", "weight": 1}],
        // 5 s is the smallest value Bifrost's schema allows.
        "network_config": {"base_url": mock.base_url(), "stream_idle_timeout_in_seconds": 5}
    }}});
    let gw = TestGateway::start_with(mock, config).await;
    // The mock sends one chunk and then never continues.
    gw.mock.push_fault(Fault::HoldStream);
    let started = std::time::Instant::now();
    let response = gw
        .post_stream("/v1/chat/completions", &stream_body(None))
        .await;
    let events = tokio::time::timeout(Duration::from_secs(15), sse_data(response))
        .await
        .expect("the gateway kept waiting on a silent provider");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(5),
        "cut too early: {elapsed:?}"
    );
    assert!(!events.iter().any(|e| e == "[DONE]"), "{events:?}");
    let last: Value = serde_json::from_str(events.last().unwrap()).unwrap();
    assert_eq!(last["status_code"], 504, "{last}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stream_idle_timeout_in_seconds"),
        "{last}"
    );
    gw.mock.release_streams();
}
