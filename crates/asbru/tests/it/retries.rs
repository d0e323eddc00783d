//! `network_config.max_retries`: retryable failures are retried with backoff, others are not.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn gateway(max_retries: u32, backoff_max_ms: u64) -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": "sk-k", "weight": 1}],
        "network_config": {
            "base_url": mock.base_url(),
            "max_retries": max_retries,
            "retry_backoff_initial_ms": 20,
            "retry_backoff_max_ms": backoff_max_ms
        }
    }}});
    TestGateway::start_with(mock, config).await
}

#[tokio::test]
async fn server_errors_and_resets_are_retried_and_counted() {
    let gw = gateway(3, 100).await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "overloaded".into(),
    });
    gw.mock.push_fault(Fault::Reset);
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["extra_fields"]["retries"], 2);
    assert_eq!(gw.mock.requests().len(), 3);

    // A first-attempt success carries no retries field.
    let (_, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert!(body["extra_fields"].get("retries").is_none(), "{body}");
}

#[tokio::test]
async fn the_last_error_is_returned_when_retries_run_out() {
    let gw = gateway(2, 50).await;
    gw.mock.push_faults(
        Fault::Status {
            status: 500,
            message: "boom".into(),
        },
        5,
    );
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["message"], "boom");
    assert_eq!(gw.mock.requests().len(), 3, "1 attempt + 2 retries");
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let gw = gateway(3, 50).await;
    gw.mock.push_faults(
        Fault::Status {
            status: 400,
            message: "bad request".into(),
        },
        3,
    );
    let (status, _) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(gw.mock.requests().len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_but_capped() {
    // The provider asks for a minute; the cap is 300 ms. An uncapped wait would leave the
    // request outstanding for the whole minute, far past the half minute allowed here.
    let gw = gateway(1, 300).await;
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 60,
    });
    let started = Instant::now();
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(30),
        gw.post("/v1/chat/completions", chat_body("openai/gpt-4o")),
    )
    .await
    .expect("Retry-After not capped");
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["extra_fields"]["retries"], 1);
    assert!(
        elapsed >= Duration::from_millis(290),
        "did not wait: {elapsed:?}"
    );
}

#[tokio::test]
async fn streams_are_retried_before_they_start() {
    let gw = gateway(2, 50).await;
    gw.mock.push_fault(Fault::Status {
        status: 502,
        message: "bad gateway".into(),
    });
    let mut body = chat_body("openai/gpt-4o");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let events = crate::harness::sse_data(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["extra_fields"]["retries"], 1);
    assert_eq!(gw.mock.requests().len(), 2);
}
