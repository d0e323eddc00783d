//! Per-provider concurrency and the bounded wait queue, both ways.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::json;
use std::time::{Duration, Instant};

async fn gateway(drop_excess: bool) -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_default_fault(Some(Fault::Delay(Duration::from_millis(400))));
    let config = json!({
        "client": {"drop_excess_requests": drop_excess},
        "providers": {"openai": {
            "keys": [{"name": "k", "value": "sk-k", "weight": 1}],
            "network_config": {"base_url": mock.base_url()},
            "concurrency_and_buffer_size": {"concurrency": 1, "buffer_size": 1}
        }}
    });
    TestGateway::start_with(mock, config).await
}

async fn wait_for_upstream_requests(gw: &TestGateway, n: usize) {
    let started = Instant::now();
    while gw.mock.requests().len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "upstream never saw {n} request(s)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until the provider's queue holds `n` requests (in flight plus waiting).
async fn wait_for_admitted(gw: &TestGateway, n: usize) {
    let started = Instant::now();
    loop {
        let admitted = gw.gateway.queue_admitted();
        if admitted
            .iter()
            .any(|(name, held)| name == "openai" && *held == n)
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the queue never held {n} request(s): {admitted:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn full_queue_with_drop_excess_answers_429_at_once() {
    let gw = std::sync::Arc::new(gateway(true).await);
    // The first request is held upstream until released, so nothing frees room on its own.
    gw.mock.set_default_fault(None);
    gw.mock.push_fault(Fault::HoldStream);
    let in_flight = tokio::spawn({
        let gw = std::sync::Arc::clone(&gw);
        async move { gw.post("/v1/chat/completions", chat_body("openai/a")).await }
    });
    wait_for_upstream_requests(&gw, 1).await;
    let queued = tokio::spawn({
        let gw = std::sync::Arc::clone(&gw);
        async move { gw.post("/v1/chat/completions", chat_body("openai/b")).await }
    });
    wait_for_admitted(&gw, 2).await;

    // Answered while the queue is still full: the gateway did not wait for room.
    let (status, body) = gw.post("/v1/chat/completions", chat_body("openai/c")).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "queue_full");
    assert!(body["error"]["message"].as_str().unwrap().contains("queue"));
    assert!(!in_flight.is_finished() && !queued.is_finished());
    // Never more than `concurrency` requests upstream at once: the queued one waits.
    assert_eq!(gw.mock.requests().len(), 1);

    gw.mock.release_streams();
    assert_eq!(in_flight.await.unwrap().0, 200);
    assert_eq!(queued.await.unwrap().0, 200);
    assert_eq!(gw.mock.requests().len(), 2);
}

#[tokio::test]
async fn full_queue_without_drop_excess_waits_for_room() {
    let gw = std::sync::Arc::new(gateway(false).await);
    let started = Instant::now();
    let calls = (0..3).map(|i| {
        let gw = std::sync::Arc::clone(&gw);
        tokio::spawn(async move {
            gw.post("/v1/chat/completions", chat_body(&format!("openai/m{i}")))
                .await
        })
    });
    for call in futures_util::future::join_all(calls).await {
        let (status, body) = call.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // One at a time, 400 ms each.
    assert!(
        started.elapsed() >= Duration::from_millis(1150),
        "requests overlapped: {:?}",
        started.elapsed()
    );
}
