//! The container image, as far as it can be tested without building it (these machines reach no
//! image registry): the binary is started exactly as the `Dockerfile` starts it — its
//! `ENTRYPOINT`, its `ENV`, an app dir holding `config.json` — and its `HEALTHCHECK` command is
//! run against it. Read from the `Dockerfile` itself, so the test follows any change to it.

use asbru_mock::{MockOptions, MockServer};
use serde_json::json;
use std::collections::HashMap;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_asbru");

/// The parts of the Dockerfile that decide how the gateway runs.
struct Image {
    entrypoint: Vec<String>,
    env: HashMap<String, String>,
    healthcheck: String,
}

fn image() -> Image {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Dockerfile");
    let text = std::fs::read_to_string(path).unwrap();
    let mut image = Image {
        entrypoint: Vec::new(),
        env: HashMap::new(),
        healthcheck: String::new(),
    };
    for line in text.lines() {
        if let Some(array) = line.strip_prefix("ENTRYPOINT ") {
            image.entrypoint = serde_json::from_str(array).unwrap();
        } else if let Some(pairs) = line.strip_prefix("ENV ") {
            for pair in pairs.split_whitespace() {
                let (k, v) = pair.split_once('=').unwrap();
                image.env.insert(k.to_owned(), v.to_owned());
            }
        } else if let Some(rest) = line.strip_prefix("HEALTHCHECK ") {
            image.healthcheck = rest.split_once(" CMD ").unwrap().1.to_owned();
        }
    }
    assert_eq!(image.entrypoint.first().map(String::as_str), Some("asbru"));
    image
}

#[tokio::test]
async fn the_binary_runs_as_the_image_starts_it() {
    let image = image();
    assert_eq!(
        image.env["ASBRU_HOST"], "0.0.0.0",
        "the image must listen beyond loopback"
    );
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    // The volume: an app dir with Bifrost's config.json, the key from the environment.
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("config.json"),
        json!({"providers": {"openai": {
            "keys": [{"name": "k", "value": "env.OPENAI_API_KEY", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }}})
        .to_string(),
    )
    .unwrap();
    let mut env = image.env.clone();
    // Only what a test must change: a free port, and the volume's place on this machine.
    env.insert("ASBRU_PORT".into(), "0".into());
    env.insert("ASBRU_APP_DIR".into(), data.path().display().to_string());
    env.insert("OPENAI_API_KEY".into(), "sk-from-docker-env".into());
    let mut command = Command::new(BIN);
    command.args(&image.entrypoint[1..]).env_clear().envs(&env);
    let served = crate::cli::start(command).await;
    let port = served
        .url
        .strip_prefix("http://0.0.0.0:")
        .unwrap_or_else(|| panic!("not listening on 0.0.0.0: {}", served.url))
        .to_owned();

    // The image's health check, pointed at the port the test got.
    let check = image.healthcheck.replace(":8080", &format!(":{port}"));
    let status = Command::new("sh")
        .arg("-c")
        .arg(&check)
        .status()
        .await
        .unwrap();
    assert!(status.success(), "HEALTHCHECK failed: {check}");

    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/v1/chat/completions"))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        mock.requests()[0].header("authorization"),
        Some("Bearer sk-from-docker-env")
    );
    // LOG_STYLE=json: every line is a JSON object, as log collectors expect.
    let log = served.stop().await;
    assert!(log.lines().all(|line| line.starts_with('{')), "{log}");
    assert!(log.contains("config.json"), "{log}");
}
