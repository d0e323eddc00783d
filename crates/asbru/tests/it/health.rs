//! Adaptive load balancing and circuit breaking, driven by per-key and per-model mock faults and
//! a hand-moved clock.

use crate::cli::serve;
use crate::harness::{TestGateway, chat_body};
use asbru_engine::{GatewayOptions, ManualClock};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

fn two_keys(mock: &MockServer, max_retries: u32) -> Value {
    json!({"providers": {"openai": {
        "keys": [
            {"name": "good", "value": "sk-good", "weight": 1},
            {"name": "bad", "value": "sk-bad", "weight": 1}
        ],
        "network_config": {
            "base_url": mock.base_url(),
            "max_retries": max_retries,
            "retry_backoff_initial_ms": 1,
            "retry_backoff_max_ms": 5
        }
    }}})
}

async fn gateway_with_clock(mock: MockServer, config: Value) -> (TestGateway, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::default());
    let options = GatewayOptions {
        clock: Some(clock.clone()),
        seed: Some(7),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start_with_options(mock, config, HashMap::new(), options).await;
    (gw, clock)
}

fn requests_with_key(mock: &MockServer, key: &str) -> usize {
    let auth = format!("Bearer {key}");
    mock.requests()
        .iter()
        .filter(|r| r.header("authorization") == Some(auth.as_str()))
        .count()
}

fn key_health<'a>(report: &'a Value, provider: &str, key: &str) -> &'a Value {
    report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == provider)
        .and_then(|p| {
            p["keys"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["name"] == key)
        })
        .unwrap_or_else(|| panic!("no key {provider}/{key} in {report}"))
}

#[tokio::test]
async fn a_failing_key_is_taken_out_probed_and_restored() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_key_fault("sk-bad", Some(Fault::status(500)));
    let config = two_keys(&mock, 1);
    let (gw, clock) = gateway_with_clock(mock, config).await;

    for i in 0..100 {
        let (status, body) = gw
            .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    // Five failures in a row open the bad key; after that it gets nothing.
    assert_eq!(requests_with_key(&gw.mock, "sk-bad"), 5);
    assert_eq!(requests_with_key(&gw.mock, "sk-good"), 100);

    let (status, report) = gw.get("/api/providers/health").await;
    assert_eq!(status, 200);
    let bad = key_health(&report, "openai", "bad");
    assert_eq!(bad["state"], "open", "{report}");
    assert_eq!(bad["failures"], 5);
    assert_eq!(bad["effective_weight"], 0.0);
    assert_eq!(bad["open_remaining_ms"], 5000);
    assert!(
        !report.to_string().contains("sk-bad"),
        "key values never shown"
    );
    let good = key_health(&report, "openai", "good");
    assert_eq!(good["state"], "closed");
    assert_eq!(good["successes"], 100);
    assert_eq!(good["effective_weight"], 1.0);

    // The cool-down passes while the key is still failing: one probe, and it is out again for
    // twice as long.
    clock.advance(Duration::from_secs(5));
    let (_, report) = gw.get("/api/providers/health").await;
    assert_eq!(key_health(&report, "openai", "bad")["state"], "half_open");
    for _ in 0..40 {
        assert_eq!(
            gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
                .await
                .0,
            200
        );
    }
    assert_eq!(
        requests_with_key(&gw.mock, "sk-bad"),
        6,
        "exactly one probe"
    );
    let (_, report) = gw.get("/api/providers/health").await;
    assert_eq!(
        key_health(&report, "openai", "bad")["open_remaining_ms"],
        10_000
    );

    // It heals; the next probe restores it and it gets its share again.
    gw.mock.set_key_fault("sk-bad", None);
    clock.advance(Duration::from_secs(10));
    for _ in 0..200 {
        assert_eq!(
            gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
                .await
                .0,
            200
        );
    }
    let (_, report) = gw.get("/api/providers/health").await;
    assert_eq!(
        key_health(&report, "openai", "bad")["state"],
        "closed",
        "{report}"
    );
    let bad_share = requests_with_key(&gw.mock, "sk-bad") - 6;
    assert!(bad_share > 40, "restored key got only {bad_share} of 200");
}

#[tokio::test]
async fn retry_after_cools_a_key_down_and_the_retry_moves_to_its_sibling() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_key_fault(
        "sk-bad",
        Some(Fault::RateLimited {
            retry_after_secs: 30,
        }),
    );
    let config = two_keys(&mock, 1);
    let (gw, clock) = gateway_with_clock(mock, config).await;
    for _ in 0..50 {
        let (status, body) = gw
            .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        requests_with_key(&gw.mock, "sk-bad"),
        1,
        "one 429 cools the key down"
    );
    let (_, report) = gw.get("/api/providers/health").await;
    let bad = key_health(&report, "openai", "bad");
    assert_eq!(bad["state"], "closed", "a rate limit opens nothing");
    assert_eq!(bad["cooldown_remaining_ms"], 30_000);

    gw.mock.set_key_fault("sk-bad", None);
    clock.advance(Duration::from_secs(30));
    for _ in 0..100 {
        assert_eq!(
            gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
                .await
                .0,
            200
        );
    }
    assert!(requests_with_key(&gw.mock, "sk-bad") > 20);
}

#[tokio::test]
async fn when_every_key_is_out_the_configured_weights_apply() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_default_fault(Some(Fault::status(503)));
    let config = two_keys(&mock, 0);
    let (gw, _clock) = gateway_with_clock(mock, config).await;
    for _ in 0..20 {
        assert_eq!(
            gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
                .await
                .0,
            503
        );
    }
    let (_, report) = gw.get("/api/providers/health").await;
    assert_eq!(key_health(&report, "openai", "good")["state"], "open");
    assert_eq!(key_health(&report, "openai", "bad")["state"], "open");
    // Both open: requests still reach the provider rather than being refused by the gateway.
    gw.mock.set_default_fault(None);
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gw.mock.requests().len(), 21);
}

#[tokio::test]
async fn a_session_leaves_a_key_that_fails_and_stays_on_the_new_one() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = two_keys(&mock, 1);
    let (gw, _clock) = gateway_with_clock(mock, config).await;
    let session = [("x-bf-session-id", "chat-42")];
    let (status, _) = gw
        .post_with("/v1/chat/completions", chat_body("openai/gpt-4o"), &session)
        .await;
    assert_eq!(status, 200);
    let first_key = gw.mock.requests()[0]
        .header("authorization")
        .unwrap()
        .to_owned();
    let other_key = if first_key.ends_with("sk-good") {
        "Bearer sk-bad"
    } else {
        "Bearer sk-good"
    };
    gw.mock.set_key_fault(
        first_key.trim_start_matches("Bearer "),
        Some(Fault::status(502)),
    );
    for _ in 0..10 {
        let (status, body) = gw
            .post_with("/v1/chat/completions", chat_body("openai/gpt-4o"), &session)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    gw.mock.clear_faults();
    for _ in 0..10 {
        gw.post_with("/v1/chat/completions", chat_body("openai/gpt-4o"), &session)
            .await;
    }
    let keys: Vec<String> = gw
        .mock
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    // First request, one failure on the old key, then 19 on the new key only.
    assert_eq!(keys.len(), 22, "{keys:?}");
    assert_eq!(keys[1], first_key);
    assert!(keys[2..].iter().all(|k| k == other_key), "{keys:?}");
}

#[tokio::test]
async fn an_open_provider_is_skipped_while_a_fallback_remains() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_model_fault("gpt-down", Some(Fault::status(500)));
    let config = json!({"providers": {
        "openai": {
            "keys": [{"name": "k", "value": "sk-1", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        },
        "groq": {
            "keys": [{"name": "k", "value": "sk-2", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }
    }});
    let (gw, clock) = gateway_with_clock(mock, config).await;
    let body = json!({
        "model": "openai/gpt-down",
        "fallbacks": ["groq/llama-3.3-70b"],
        "messages": [{"role": "user", "content": "hi"}]
    });
    for _ in 0..30 {
        let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    }
    let to_primary = |mock: &MockServer| {
        mock.requests()
            .iter()
            .filter(|r| r.json().unwrap()["model"] == "gpt-down")
            .count()
    };
    assert_eq!(
        to_primary(&gw.mock),
        10,
        "skipped once open (ten failures in a row)"
    );
    let (_, report) = gw.get("/api/providers/health").await;
    let openai = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "openai")
        .unwrap();
    assert_eq!(openai["state"], "open", "{report}");

    // Without a fallback left, the open provider is still tried (and its error returned).
    let (status, answer) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-down"))
        .await;
    assert_eq!(status, 500, "{answer}");

    // Healed and probed: the primary serves again.
    gw.mock.clear_faults();
    clock.advance(Duration::from_secs(60));
    for _ in 0..5 {
        let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(answer["extra_fields"]["provider"], "openai", "{answer}");
        assert!(
            answer["extra_fields"]["fallback_index"].is_null(),
            "{answer}"
        );
    }
}

#[tokio::test]
async fn circuit_state_is_exported_as_metrics() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_key_fault("sk-bad", Some(Fault::status(500)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, two_keys(&mock, 1).to_string()).unwrap();
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    let client = reqwest::Client::new();
    // Unseeded here: the failing key loses weight with each failure, so it takes a while to be
    // picked the five times that open it.
    for _ in 0..200 {
        let status = client
            .post(format!("{}/v1/chat/completions", served.url))
            .json(&chat_body("openai/gpt-4o"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let metrics = client
        .get(format!("{}/metrics", served.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
            .to_owned()
    };
    let bad_key_id = key_id_of(&served.url, &client, "bad").await;
    assert!(
        line(&format!(
            "asbru_circuit_state{{provider=\"openai\",key=\"{bad_key_id}\"}}"
        ))
        .ends_with(" 2"),
        "{metrics}"
    );
    assert!(
        line(&format!(
            "asbru_circuit_transitions_total{{provider=\"openai\",key=\"{bad_key_id}\",to=\"open\"}}"
        ))
        .ends_with(" 1"),
        "{metrics}"
    );
    served.stop().await;
}

async fn key_id_of(url: &str, client: &reqwest::Client, name: &str) -> String {
    let report: Value = client
        .get(format!("{url}/api/providers/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    key_health(&report, "openai", name)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
