//! Client disconnects and shutdown: nothing keeps running for a request nobody waits for, and
//! nothing in flight is cut off by a graceful stop.

use crate::cli::serve;
use crate::harness::{TestGateway, chat_body};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_request() {
    let gw = TestGateway::start().await;
    gw.mock.push_fault(Fault::Delay(Duration::from_secs(10)));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&chat_body("openai/gpt-4o"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout());
    assert_eq!(gw.mock.requests().len(), 1);
    // The gateway drops its upstream connection instead of waiting 10 s for the answer.
    let started = Instant::now();
    while gw.mock.open_connections() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "upstream connection still open after the client left"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_client_that_goes_away_frees_its_queue_slot() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": "sk-k", "weight": 1}],
        "network_config": {"base_url": mock.base_url()},
        "concurrency_and_buffer_size": {"concurrency": 1, "buffer_size": 1}
    }}, "client": {"drop_excess_requests": true}});
    let gw = TestGateway::start_with(mock, config).await;
    gw.mock.push_fault(Fault::Delay(Duration::from_secs(30)));
    for round in 0..3 {
        // The only slot is taken by a request whose client leaves.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let gone = client
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&chat_body("openai/gpt-4o"))
            .send()
            .await;
        assert!(gone.is_err(), "round {round}");
        // The slot comes back as soon as the gateway sees the disconnect (a few ms), not when
        // the 30 s upstream answer would have come.
        let started = Instant::now();
        loop {
            let (status, body) = gw
                .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
                .await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 429, "round {round}: {body}");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "round {round}: slot still taken"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        gw.mock.push_fault(Fault::Delay(Duration::from_secs(30)));
    }
}

/// A config file with one openai provider on `mock` (the directory lives as long as the guard).
fn config_file(mock: &MockServer) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": "sk-k", "weight": 1}],
        "network_config": {"base_url": mock.base_url()}
    }}});
    std::fs::write(&path, config.to_string()).unwrap();
    (dir, path)
}

/// Sends one chat request in the background; its status, or the error if the connection broke.
fn chat_in_background(url: &str) -> tokio::task::JoinHandle<Result<u16, reqwest::Error>> {
    let url = format!("{url}/v1/chat/completions");
    tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&chat_body("openai/gpt-4o"))
            .send()
            .await
            .map(|r| r.status().as_u16())
    })
}

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.push_fault(Fault::Delay(Duration::from_millis(800)));
    let (_dir, path) = config_file(&mock);
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    let in_flight = chat_in_background(&served.url);
    while mock.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // `stop` sends SIGTERM and asserts a clean exit.
    let log = served.stop().await;
    assert_eq!(in_flight.await.unwrap().unwrap(), 200, "{log}");
    assert!(log.contains("shutting down"), "{log}");
}

#[tokio::test]
async fn sigterm_closes_what_outlives_the_drain_deadline() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    // Held until released, which never comes: only the drain deadline can end it.
    mock.push_fault(Fault::HoldStream);
    let (_dir, path) = config_file(&mock);
    let served = serve(
        &["--config", path.to_str().unwrap(), "--drain-timeout", "1"],
        &[],
    )
    .await;
    let in_flight = chat_in_background(&served.url);
    while mock.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stopping = std::time::Instant::now();
    let log = served.stop().await;
    let took = stopping.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "exit before the drain deadline, after {took:?}; {log}"
    );
    assert!(
        in_flight.await.unwrap().is_err(),
        "the stuck request is cut off"
    );
    assert!(log.contains("still open after 1s of draining"), "{log}");
}
