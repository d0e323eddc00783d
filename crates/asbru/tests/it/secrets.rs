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

/// `openai`, `anthropic` and `gemini` on one mock, all with the key [`SECRET`].
async fn three_providers() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let key = json!([{"name": "main", "value": SECRET, "weight": 1}]);
    let config = json!({"providers": {
        "openai": {"keys": key, "network_config": {"base_url": base}},
        "anthropic": {"keys": key, "network_config": {"base_url": base}},
        "gemini": {"keys": key, "network_config": {"base_url": base}}
    }});
    TestGateway::start_with(mock, config).await
}

/// The mock answers 400 with `body` (the key in it); the client's answer on `path` must quote
/// no form of the key. Returns the answer.
async fn assert_scrubbed(
    gw: &TestGateway,
    path: &str,
    request: serde_json::Value,
    body: String,
) -> String {
    gw.mock.push_fault(Fault::Body {
        status: 400,
        content_type: "application/json".into(),
        body,
    });
    let response = gw
        .client
        .post(format!("{}{path}", gw.url))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "{path}");
    let text = response.text().await.unwrap();
    assert!(
        !text.to_ascii_lowercase().contains("topsecret"),
        "key leaked on {path}: {text}"
    );
    text
}

/// [`assert_scrubbed`], and the answer shows the quoted key was replaced.
async fn assert_redacted(gw: &TestGateway, path: &str, request: serde_json::Value, body: String) {
    let text = assert_scrubbed(gw, path, request, body).await;
    assert!(text.contains("[REDACTED]"), "{path}: {text}");
}

fn anthropic_body(model: &str) -> serde_json::Value {
    json!({"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]})
}

#[tokio::test]
async fn openai_error_param_and_type_quoting_the_key_are_redacted() {
    let gw = three_providers().await;
    let upper = SECRET.to_ascii_uppercase();
    let param = format!(r#"{{"error":{{"message":"x","param":"Bearer {SECRET}"}}}}"#);
    let kind = format!(r#"{{"error":{{"message":"x","type":"{SECRET}"}}}}"#);
    let code = format!(r#"{{"error":{{"message":"x","code":"bearer {upper}"}}}}"#);
    let shouted = format!(r#"{{"error":{{"message":"bad key {upper}","param":"{upper}"}}}}"#);
    for (path, model) in [
        ("/v1/chat/completions", "openai/gpt-4o"),
        ("/openai/v1/chat/completions", "gpt-4o"),
    ] {
        for body in [&param, &kind, &code, &shouted] {
            assert_redacted(&gw, path, chat_body(model), body.clone()).await;
        }
    }
}

#[tokio::test]
async fn anthropic_error_type_and_message_quoting_the_key_are_redacted() {
    let gw = three_providers().await;
    let kind = format!(r#"{{"type":"error","error":{{"type":"Bearer {SECRET}","message":"x"}}}}"#);
    let upper = SECRET.to_ascii_uppercase();
    let message = format!(r#"{{"type":"error","error":{{"type":"x","message":"key {upper}"}}}}"#);
    for body in [&kind, &message] {
        assert_redacted(
            &gw,
            "/v1/chat/completions",
            chat_body("anthropic/claude-sonnet-4-5"),
            body.clone(),
        )
        .await;
    }
    // The Anthropic route answers with one of Anthropic's own error types, so only the
    // message can show the redaction there.
    assert_scrubbed(
        &gw,
        "/anthropic/v1/messages",
        anthropic_body("claude-sonnet-4-5"),
        kind,
    )
    .await;
    assert_redacted(
        &gw,
        "/anthropic/v1/messages",
        anthropic_body("claude-sonnet-4-5"),
        message,
    )
    .await;
}

#[tokio::test]
async fn gemini_error_status_quoting_the_key_is_redacted() {
    let gw = three_providers().await;
    let status = format!(r#"{{"error":{{"code":400,"message":"x","status":"{SECRET}"}}}}"#);
    let escaped = SECRET.replace('-', "\\u002d");
    let message = format!(r#"{{"error":{{"code":400,"message":"key={escaped}"}}}}"#);
    for body in [status, message] {
        assert_redacted(
            &gw,
            "/v1/chat/completions",
            chat_body("gemini/gemini-2.5-flash"),
            body,
        )
        .await;
    }
}

#[tokio::test]
async fn an_error_event_inside_an_openai_stream_is_redacted() {
    let gw = three_providers().await;
    gw.mock.push_fault(Fault::StreamEvent {
        after_chunks: 1,
        event: format!(
            "data: {{\"error\":{{\"message\":\"quota of {SECRET} exceeded\",\"type\":\"Bearer {}\"}}}}\n\n",
            SECRET.to_ascii_uppercase()
        ),
    });
    let mut body = chat_body("openai/gpt-4o");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        !text.to_ascii_lowercase().contains("topsecret"),
        "key leaked in stream: {text}"
    );
    assert!(text.contains("quota of [REDACTED] exceeded"), "{text}");
    assert!(text.contains("Bearer [REDACTED]"), "{text}");
}

#[tokio::test]
async fn a_non_json_error_body_cut_through_the_key_leaks_no_prefix() {
    let gw = three_providers().await;
    // The key starts 6 bytes before the 512-byte quoting limit.
    let body = format!("{} {SECRET} and the rest of the page", "e".repeat(505));
    for (path, model) in [
        ("/v1/chat/completions", "openai/gpt-4o"),
        ("/v1/chat/completions", "anthropic/claude-sonnet-4-5"),
        ("/v1/chat/completions", "gemini/gemini-2.5-flash"),
    ] {
        gw.mock.push_fault(Fault::Body {
            status: 400,
            content_type: "text/html".into(),
            body: body.clone(),
        });
        let (status, answer) = gw.post(path, chat_body(model)).await;
        assert_eq!(status, 400, "{model}: {answer}");
        let text = answer.to_string();
        assert!(!text.contains("sk-"), "{model}: key prefix leaked: {text}");
        assert!(text.contains("eeee"), "{model}: {text}");
    }
}

#[tokio::test]
async fn a_pinned_key_that_is_missing_or_unusable_answers_alike() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {"openai": {
        "keys": [
            {"name": "team-alpha", "value": SECRET, "models": ["gpt-4o"], "weight": 1},
            {"name": "team-beta", "value": "sk-other-key-987654", "weight": 1}
        ],
        "network_config": {"base_url": mock.base_url()}
    }}});
    let gw = TestGateway::start_with(mock, config).await;
    for header in ["x-bf-api-key", "x-bf-api-key-id"] {
        let body = chat_body("openai/gpt-4o-mini");
        let (s1, unusable) = gw
            .post_with(
                "/v1/chat/completions",
                body.clone(),
                &[(header, "team-alpha")],
            )
            .await;
        let (s2, unknown) = gw
            .post_with("/v1/chat/completions", body, &[(header, "team-gamma")])
            .await;
        assert_eq!((s1, s2), (400, 400));
        assert_eq!(unusable, unknown, "{header}");
        let text = unknown.to_string();
        assert!(
            !text.contains("team-"),
            "{header}: key names listed: {text}"
        );
    }
    assert!(gw.mock.requests().is_empty());
}
