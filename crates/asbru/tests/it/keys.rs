//! Key choice: weights, model filters, pinning by header.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{MockOptions, MockServer};
use serde_json::json;
use std::collections::HashMap;

async fn gateway_with_keys(keys: serde_json::Value, env: HashMap<String, String>) -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {"openai": {
        "keys": keys,
        "network_config": {"base_url": mock.base_url()}
    }}});
    TestGateway::start_with_env(mock, config, env).await
}

fn used_keys(gw: &TestGateway) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in gw.mock.requests() {
        let key = r
            .header("authorization")
            .unwrap()
            .trim_start_matches("Bearer ")
            .to_owned();
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn requests_spread_over_keys_by_weight() {
    let gw = gateway_with_keys(
        json!([
            {"name": "heavy", "value": "sk-heavy", "weight": 3},
            {"name": "light", "value": "sk-light", "weight": 1},
            {"name": "off", "value": "sk-off", "weight": 5, "enabled": false}
        ]),
        HashMap::new(),
    )
    .await;
    let n = 800;
    let calls = (0..n).map(|_| gw.post("/v1/chat/completions", chat_body("openai/gpt-4o")));
    for (status, body) in futures_util::future::join_all(calls).await {
        assert_eq!(status, 200, "{body}");
    }
    let counts = used_keys(&gw);
    assert_eq!(counts.get("sk-off"), None, "a disabled key was used");
    let heavy = counts["sk-heavy"];
    // Expected 600 with a standard deviation of about 12; 60 is five deviations.
    assert!((540..=660).contains(&heavy), "heavy key got {heavy} of {n}");
    assert_eq!(heavy + counts["sk-light"], n);
}

#[tokio::test]
async fn models_and_blacklists_decide_which_key_serves() {
    let gw = gateway_with_keys(
        json!([
            {"name": "mini-only", "value": "sk-mini", "models": ["gpt-4o-mini"], "weight": 1},
            {"name": "no-mini", "value": "sk-big", "blacklisted_models": ["gpt-4o-mini"], "weight": 1}
        ]),
        HashMap::new(),
    )
    .await;
    for _ in 0..20 {
        assert_eq!(
            gw.post("/v1/chat/completions", chat_body("openai/gpt-4o-mini"))
                .await
                .0,
            200
        );
        assert_eq!(
            gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
                .await
                .0,
            200
        );
    }
    let counts = used_keys(&gw);
    assert_eq!(counts["sk-mini"], 20);
    assert_eq!(counts["sk-big"], 20);
    let requests = gw.mock.requests();
    for r in &requests {
        let model = r.json().unwrap()["model"].as_str().unwrap().to_owned();
        let key = r.header("authorization").unwrap();
        assert_eq!(model == "gpt-4o-mini", key == "Bearer sk-mini");
    }
}

#[tokio::test]
async fn no_key_for_the_model_is_a_400_naming_provider_and_model() {
    let gw = gateway_with_keys(
        json!([{"name": "k", "value": "sk-k", "models": ["gpt-4o"], "weight": 1}]),
        HashMap::new(),
    )
    .await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/o3-pro"))
        .await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'openai'") && message.contains("'o3-pro'"),
        "{message}"
    );
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn headers_pin_a_key_by_name_or_id() {
    let gw = gateway_with_keys(
        json!([
            {"id": "id-a", "name": "alpha", "value": "env.TEST_KEY_A", "weight": 1000},
            {"id": "id-b", "name": "beta", "value": "sk-beta", "weight": 0.001}
        ]),
        HashMap::from([("TEST_KEY_A".to_owned(), "sk-alpha".to_owned())]),
    )
    .await;
    let body = chat_body("openai/gpt-4o");
    for _ in 0..10 {
        assert_eq!(
            gw.post_with(
                "/v1/chat/completions",
                body.clone(),
                &[("x-bf-api-key", "beta")]
            )
            .await
            .0,
            200
        );
        assert_eq!(
            gw.post_with(
                "/v1/chat/completions",
                body.clone(),
                &[("x-bf-api-key-id", "id-b")]
            )
            .await
            .0,
            200
        );
    }
    // The id wins over the name when both are sent.
    let (status, _) = gw
        .post_with(
            "/v1/chat/completions",
            body.clone(),
            &[("x-bf-api-key-id", "id-a"), ("x-bf-api-key", "beta")],
        )
        .await;
    assert_eq!(status, 200);
    let counts = used_keys(&gw);
    assert_eq!(counts["sk-beta"], 20);
    assert_eq!(
        counts["sk-alpha"], 1,
        "env.TEST_KEY_A resolves to the key value"
    );

    let (status, body) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("openai/gpt-4o"),
            &[("x-bf-api-key", "gamma")],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "x-bf-api-key");
}
