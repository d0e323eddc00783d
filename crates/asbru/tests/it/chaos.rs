//! The chaos test: three providers behind the gateway, the mock failing 30 % of requests at
//! random (500, 429 with Retry-After, connection resets, answers slower than the timeout) and one
//! key failing every time. With fallbacks configured, every one of 5,000 requests — a third of
//! them streamed — must succeed, no stream may end with a `[DONE]` it did not earn, and the sick
//! key must get far less traffic than its healthy siblings.

use crate::harness::TestGateway;
use asbru_mock::{Fault, MockOptions, MockServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::Duration;

const REQUESTS: usize = 5_000;
const CONCURRENCY: usize = 48;
const CONTENT: &str = "Hello from the mock.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_succeeds_while_providers_fail_at_random() {
    let mock = MockServer::start(MockOptions {
        max_recorded: 100_000,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    mock.set_random_faults(
        0.3,
        vec![
            Fault::status(500),
            Fault::RateLimited {
                retry_after_secs: 1,
            },
            Fault::Reset,
            Fault::Delay(Duration::from_millis(1500)),
        ],
        2026,
    );
    mock.set_key_fault("sk-sick", Some(Fault::status(503)));

    let network = json!({
        "base_url": mock.base_url(),
        "default_request_timeout_in_seconds": 1,
        "max_retries": 4,
        "retry_backoff_initial_ms": 5,
        "retry_backoff_max_ms": 20
    });
    let config = json!({"providers": {
        "openai": {
            "keys": [
                {"name": "a", "value": "sk-a", "weight": 1},
                {"name": "b", "value": "sk-b", "weight": 1},
                {"name": "sick", "value": "sk-sick", "weight": 1}
            ],
            "network_config": network
        },
        "groq": {
            "keys": [{"name": "g", "value": "sk-g", "weight": 1}],
            "network_config": network
        },
        "mistral": {
            "keys": [{"name": "m", "value": "sk-m", "weight": 1}],
            "network_config": network
        }
    }});
    let gw = TestGateway::start_with(mock, config).await;

    let outcomes: Vec<Result<(), String>> = futures_util::stream::iter(0..REQUESTS)
        .map(|i| one_request(&gw, i))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {REQUESTS} requests failed; first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    let per_key = |key: &str| {
        let auth = format!("Bearer {key}");
        gw.mock
            .requests()
            .iter()
            .filter(|r| r.header("authorization") == Some(auth.as_str()))
            .count()
    };
    let (a, b, sick) = (per_key("sk-a"), per_key("sk-b"), per_key("sk-sick"));
    assert!(
        sick * 10 < a.min(b),
        "the sick key got {sick} requests, its siblings {a} and {b}"
    );
    // The random faults really happened: more upstream calls than client requests.
    assert!(
        gw.mock.requests().len() > REQUESTS * 13 / 10,
        "{} upstream calls",
        gw.mock.requests().len()
    );

    let (_, report) = gw.get("/api/providers/health").await;
    let openai = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "openai")
        .unwrap();
    let sick_health = openai["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "sick")
        .unwrap();
    assert_ne!(sick_health["state"], "closed", "{report}");
    assert_eq!(sick_health["successes"], 0, "{report}");
}

/// Sends request `i` (every third one streamed) and checks the answer is whole.
async fn one_request(gw: &TestGateway, i: usize) -> Result<(), String> {
    let stream = i.is_multiple_of(3);
    let body = json!({
        "model": "openai/gpt-4o",
        "fallbacks": ["groq/llama-3.3-70b", "mistral/mistral-small"],
        "messages": [{"role": "user", "content": format!("request {i}")}],
        "stream": stream
    });
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("request {i}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| format!("request {i}: body: {e}"))?;
    if status != 200 {
        return Err(format!("request {i}: {status} {text}"));
    }
    if !stream {
        let answer: Value =
            serde_json::from_str(&text).map_err(|e| format!("request {i}: {e}: {text}"))?;
        return match answer["choices"][0]["message"]["content"].as_str() {
            Some(CONTENT) => Ok(()),
            _ => Err(format!("request {i}: incomplete answer {text}")),
        };
    }
    let data: Vec<&str> = text
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .collect();
    if data.last() != Some(&"[DONE]") {
        return Err(format!("stream {i} did not end with [DONE]: {text}"));
    }
    let mut content = String::new();
    for payload in &data[..data.len() - 1] {
        let chunk: Value =
            serde_json::from_str(payload).map_err(|e| format!("stream {i}: {e}: {payload}"))?;
        if chunk.get("error").is_some() {
            return Err(format!("stream {i} carried an error: {text}"));
        }
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(piece);
        }
    }
    if content != CONTENT {
        return Err(format!(
            "stream {i} ended with [DONE] but its content is {content:?}"
        ));
    }
    Ok(())
}
