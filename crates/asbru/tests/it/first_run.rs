//! Issue 17: what a newcomer trips over on a first run — SDK base URL variables, `config check`
//! telling everything at once, clear messages for a missing config, and failed model listings
//! named.

use crate::cli::serve;
use crate::harness::{TestGateway, chat_body};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::json;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_asbru");

fn write(dir: &Path, name: &str, config: &serde_json::Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    path.display().to_string()
}

async fn config_check(file: &str, env: &[(&str, &str)]) -> (bool, String) {
    let output = tokio::process::Command::new(BIN)
        .args(["config", "check", file])
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[tokio::test]
async fn openai_base_url_from_the_environment_is_where_requests_go() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    // The OpenAI SDKs' habit: the variable ends in /v1.
    let sdk_url = format!("{}/v1", mock.base_url());
    let served = serve(
        &[],
        &[("OPENAI_API_KEY", "sk-env"), ("OPENAI_BASE_URL", &sdk_url)],
    )
    .await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&chat_body("openai/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log = served.stop().await;
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert!(
        requests[0]
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer sk-env")
    );
    // The startup log names the base URL each provider uses, and where it came from.
    let line = log
        .lines()
        .find(|l| l.contains("provider base URL") && l.contains("openai"))
        .unwrap_or_else(|| panic!("no base URL line in:\n{log}"));
    assert!(line.contains(&mock.base_url()), "{line}");
    assert!(log.contains("OPENAI_BASE_URL"), "{log}");
}

#[tokio::test]
async fn config_check_tells_everything_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "config.json",
        &json!({
            "client": {"drop_excess_requests": "yes", "max_request_body_size_mb": "big"},
            "providers": {
                "openai": {"keys": [{"name": "a", "value": "sk-a", "weight": "heavy"}]},
                "antropic": {"keys": [{"name": "b", "value": "sk-b", "weight": 1}]},
                "groq": {"keys": [{"name": "g", "value": "env.GROQ_KEY_NOT_SET", "weight": 1}]}
            },
            "typo_key": 1
        }),
    );
    let (ok, text) = config_check(&file, &[]).await;
    assert!(!ok, "{text}");
    let expected = [
        format!("{file}: 4 error(s)"),
        r#"  error: client.drop_excess_requests: expected true or false, got the string "yes""#
            .to_owned(),
        r#"  error: client.max_request_body_size_mb: expected a whole number, got the string "big""#
            .to_owned(),
        r#"  error: providers.openai.keys[0].weight: expected a number, got the string "heavy""#
            .to_owned(),
        r#"  error: providers.antropic: unknown provider; did you mean "anthropic"? custom providers need custom_provider_config.base_provider_type"#
            .to_owned(),
        "  warning: typo_key: neither asbru nor Bifrost knows this key (a typo?); ignored (unknown key)"
            .to_owned(),
        "  warning: providers.groq.keys[0].value: environment variable GROQ_KEY_NOT_SET is not set; this key is left out (missing environment variable)"
            .to_owned(),
        "  warning: providers.groq.keys: no usable key: requests to this provider will fail until one is configured (no usable key)"
            .to_owned(),
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, expected, "{text}");

    // Without the errors: the doubled /v1 is a warning naming the URL really called, and only
    // providers that can serve are counted.
    let file = write(
        dir.path(),
        "good.json",
        &json!({
            "providers": {
                "openai": {"keys": [{"name": "a", "value": "sk-a", "weight": 1}],
                           "network_config": {"base_url": "https://llm.example/v1"}},
                "groq": {"keys": [{"name": "g", "value": "env.GROQ_KEY_NOT_SET", "weight": 1}]}
            }
        }),
    );
    let (ok, text) = config_check(&file, &[]).await;
    assert!(ok, "{text}");
    assert!(
        text.contains(
            "warning: providers.openai.network_config.base_url: ends in /v1, and this provider's \
             request paths already start with /v1: chat requests would go to \
             https://llm.example/v1/v1/chat/completions"
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("ok: 1 provider(s) [openai], ")),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_config_file_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json").display().to_string();
    let output = tokio::process::Command::new(BIN)
        .args(["serve", "--config", &missing, "--port", "0"])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(log.matches("does not exist").count(), 1, "{log}");
    assert_eq!(log.matches(&missing).count(), 1, "{log}");
    assert!(!log.contains("invalid configuration"), "{log}");
}

#[tokio::test]
async fn an_app_dir_without_config_json_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(&["--app-dir", dir.path().to_str().unwrap()], &[]).await;
    // One request first, as the other binary tests do: the signal handler is then in place.
    let health = reqwest::get(format!("{}/health", served.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let log = served.stop().await;
    assert!(log.contains("no config.json there"), "{log}");
    assert!(log.contains(dir.path().to_str().unwrap()), "{log}");
}

#[tokio::test]
async fn listing_models_names_the_provider_that_failed() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_key_fault("sk-groq-bad", Some(Fault::status(500)));
    let config = json!({
        "providers": {
            "openai": {"keys": [{"name": "o", "value": "sk-test-1", "weight": 1}],
                       "network_config": {"base_url": mock.base_url()}},
            "groq": {"keys": [{"name": "g", "value": "sk-groq-bad", "weight": 1}],
                     "network_config": {"base_url": mock.base_url(), "max_retries": 0}}
        }
    });
    let gw = TestGateway::start_with(mock, config).await;
    let response = gw
        .client
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("x-asbru-failed-providers")
            .and_then(|v| v.to_str().ok()),
        Some("groq")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().unwrap();
    assert!(!data.is_empty(), "{body}");
    assert!(
        data.iter()
            .all(|m| m["id"].as_str().unwrap().starts_with("openai/")),
        "{body}"
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["provider"], "groq");
    assert_eq!(errors[0]["status"], 500);
    assert!(errors[0]["message"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn an_upstream_404_names_the_url_it_came_from() {
    let gw = TestGateway::start().await;
    gw.mock.push_fault(Fault::status(404));
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 404, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!(
            "(HTTP 404 from {}/v1/chat/completions)",
            gw.mock.base_url()
        )),
        "{message}"
    );
}

/// The same for the translating adapters, which read their own dialect's error.
#[tokio::test]
async fn a_404_from_a_translating_provider_names_its_url_too() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let config = serde_json::json!({"providers": {
        "anthropic": {"keys": [{"name": "a", "value": "sk-ant", "weight": 1}], "network_config": {"base_url": base}},
        "gemini": {"keys": [{"name": "g", "value": "g-key", "weight": 1}], "network_config": {"base_url": base}}
    }});
    let gw = TestGateway::start_with(mock, config).await;
    for (model, path) in [
        ("anthropic/claude-3-5-haiku", "/v1/messages"),
        (
            "gemini/gemini-2.0-flash",
            "/v1beta/models/gemini-2.0-flash:generateContent",
        ),
    ] {
        gw.mock.push_fault(Fault::status(404));
        let (status, body) = gw.post("/v1/chat/completions", chat_body(model)).await;
        assert_eq!(status, 404, "{model}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.ends_with(&format!("(HTTP 404 from {base}{path})")),
            "{model}: {message}"
        );
    }
}
