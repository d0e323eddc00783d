//! API keys never appear in responses, logs or debug output.

use crate::cli::serve;
use crate::harness::{TestGateway, chat_body};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::json;

const SECRET: &str = "sk-live-TOPSECRET-0123456789";

#[tokio::test]
async fn provider_errors_that_echo_the_key_are_redacted() {
    let mock = MockServer::start(MockOptions {
        valid_keys: Some(vec!["sk-some-other-key".into()]),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": SECRET, "weight": 1}],
        "network_config": {"base_url": mock.base_url()}
    }}});
    let gw = TestGateway::start_with(mock, config).await;
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&chat_body("openai/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let text = response.text().await.unwrap();
    assert!(!text.contains(SECRET), "key leaked in error: {text}");
    assert!(text.contains("[REDACTED]"), "{text}");
    // The mock really did echo it, so the test would catch a leak.
    assert_eq!(
        gw.mock.requests()[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[tokio::test]
async fn debug_output_of_config_and_gateway_hides_keys() {
    let loaded = asbru_config::load_str(
        &json!({"providers": {"openai": {"keys": [{"name": "k", "value": SECRET, "weight": 1}]}}})
            .to_string(),
        &|_| None,
    )
    .unwrap();
    let config_debug = format!("{:?}", loaded.config);
    assert!(!config_debug.contains(SECRET), "{config_debug}");
    let gateway = asbru_engine::Gateway::new(loaded.config).unwrap();
    let gateway_debug = format!("{gateway:?}");
    assert!(!gateway_debug.contains(SECRET), "{gateway_debug}");
    assert!(gateway_debug.contains("openai"));
}

#[tokio::test]
async fn logs_at_debug_level_never_contain_keys() {
    let mock = MockServer::start(MockOptions {
        valid_keys: Some(vec![SECRET.to_owned()]),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        json!({"providers": {"openai": {
            "keys": [{"name": "k", "value": "env.TEST_SECRET", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }}})
        .to_string(),
    )
    .unwrap();
    let served = serve(
        &[
            "--config",
            path.to_str().unwrap(),
            "--log-level",
            "trace",
            "--log-style",
            "json",
        ],
        &[("TEST_SECRET", SECRET)],
    )
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/chat/completions", served.url);
    assert_eq!(
        client
            .post(&url)
            .json(&chat_body("openai/gpt-4o"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut streaming = chat_body("openai/gpt-4o");
    streaming["stream"] = json!(true);
    let text = client
        .post(&url)
        .json(&streaming)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("[DONE]"));
    mock.push_fault(Fault::Status {
        status: 500,
        message: format!("internal error for {SECRET}"),
    });
    let text = client
        .post(&url)
        .json(&chat_body("openai/gpt-4o"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains(SECRET), "{text}");
    // A request refused before it reaches the provider is logged as an error, not as a client
    // that went away.
    let refused = client
        .post(&url)
        .header("x-bf-api-key", "no-such-key")
        .json(&chat_body("openai/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let log = served.stop().await;
    assert!(
        log.contains("asbru::request"),
        "request lines are logged: {log}"
    );
    assert!(log.contains(r#""status":400"#), "{log}");
    assert!(!log.contains("client_closed"), "{log}");
    assert!(!log.contains(SECRET), "key leaked into logs:\n{log}");
    assert!(!log.contains("TOPSECRET"), "key leaked into logs:\n{log}");
}
