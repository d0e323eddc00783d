//! The `asbru` binary as a user runs it.

use asbru_mock::{MockOptions, MockServer};
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_asbru");

/// A running `asbru serve`, its address and everything it logged so far.
pub struct Served {
    pub child: Child,
    pub url: String,
    pub log: Arc<Mutex<String>>,
}

impl Served {
    /// Stops the process (SIGTERM) and returns the whole log.
    pub async fn stop(mut self) -> String {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("asbru did not exit after SIGTERM")
            .unwrap();
        assert!(status.success(), "asbru exited with {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.log.lock().unwrap().clone()
    }
}

/// Starts the binary with `args` (plus `--port 0 --host 127.0.0.1`) and an environment of exactly
/// `env`; waits for its "listening on" line.
pub async fn serve(args: &[&str], env: &[(&str, &str)]) -> Served {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .args(args)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env_clear()
        .envs(env.iter().copied());
    start(command).await
}

/// Spawns `command` (an `asbru serve` with its arguments and environment set) and waits for its
/// "listening on" line.
pub async fn start(mut command: Command) -> Served {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let (found_tx, found_rx) = tokio::sync::oneshot::channel::<String>();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let sink = Arc::clone(&log);
    tokio::spawn(async move {
        let mut found = Some(found_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.split("listening on http://").nth(1)
                && let Some(tx) = found.take()
            {
                let addr: String = rest
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                let _ = tx.send(addr);
            }
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(20), found_rx)
        .await
        .unwrap_or_else(|_| panic!("asbru did not start; log:\n{}", log.lock().unwrap()))
        .unwrap_or_else(|_| panic!("asbru exited early; log:\n{}", log.lock().unwrap()));
    Served {
        child,
        url: format!("http://{addr}"),
        log,
    }
}

fn write_config(dir: &Path, config: &serde_json::Value) -> String {
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn serve_with_a_bifrost_config_file() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({
        "$schema": "https://www.getbifrost.ai/schema",
        "client": {"drop_excess_requests": false, "enable_logging": true},
        "providers": {
            "openai": {"keys": [{"name": "k", "value": "env.TEST_OPENAI_KEY", "weight": 1}], "network_config": {"base_url": mock.base_url()}},
            "replicate": {"keys": [{"name": "r", "value": "r8-key", "weight": 1}]}
        },
        "governance": {"routing_rules": [{"id": "r", "name": "r", "cel_expression": "true", "targets": [{"weight": 1}]}]}
    });
    let path = write_config(dir.path(), &config);
    let served = serve(&["--config", &path], &[("TEST_OPENAI_KEY", "sk-from-env")]).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        mock.requests()[0].header("authorization"),
        Some("Bearer sk-from-env")
    );
    let log = served.stop().await;
    // Unimplemented parts are reported, not dropped.
    assert!(log.contains("not supported yet"), "{log}");
    assert!(log.contains("client.enable_logging"), "{log}");
    assert!(log.contains("providers.replicate"), "{log}");
}

#[tokio::test]
async fn serve_without_any_config_starts_and_says_how_to_add_providers() {
    let served = serve(&[], &[]).await;
    let response = reqwest::get(format!("{}/health", served.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({"model": "openai/gpt-4o", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let log = served.stop().await;
    assert!(log.contains("no providers configured"), "{log}");
    assert!(log.contains("OPENAI_API_KEY"), "{log}");
}

#[tokio::test]
async fn serve_takes_providers_from_the_environment_and_app_dir() {
    let served = serve(&[], &[("GROQ_API_KEY", "gsk-env")]).await;
    let models = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({"model": "mistral/x", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    // Only groq was configured from the environment.
    assert_eq!(models.status(), 400);
    let body: serde_json::Value = models.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("groq"),
        "{body}"
    );
    served.stop().await;

    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_config(
        dir.path(),
        &json!({"providers": {"openai": {"keys": [{"name": "k", "value": "sk-dir", "weight": 1}], "network_config": {"base_url": mock.base_url()}}}}),
    );
    let served = serve(&["--app-dir", dir.path().to_str().unwrap()], &[]).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    served.stop().await;
}

#[tokio::test]
async fn config_check_reports_every_problem_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_config(
        dir.path(),
        &json!({"providers": {
            "openai": {"keys": [{"name": "a", "value": "sk-a", "weight": -1}], "network_config": {"base_url": "not a url"}},
            "mystery": {"keys": [{"name": "m", "value": "x", "weight": 1}]}
        }}),
    );
    let output = tokio::process::Command::new(BIN)
        .args(["config", "check", &bad])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("providers.openai.keys[0].weight"), "{text}");
    assert!(
        text.contains("providers.openai.network_config.base_url"),
        "{text}"
    );
    assert!(text.contains("providers.mystery"), "{text}");

    let good = write_config(
        dir.path(),
        &json!({
            "providers": {
                "openai": {"keys": [{"name": "a", "value": "env.NOT_SET_ANYWHERE", "weight": 1}]},
                "bedrock": {"keys": [{"name": "b", "value": "", "weight": 1, "bedrock_key_config": {"region": "us-east-1"}}]},
                "replicate": {"keys": [{"name": "r", "value": "r8-key", "weight": 1}]}
            },
            "plugins": [{"enabled": true, "name": "semantic_cache", "config": {}}],
            "typo_key": 1
        }),
    );
    let output = tokio::process::Command::new(BIN)
        .args(["config", "check", &good])
        .env_clear()
        .output()
        .await
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{text}");
    assert!(text.contains("NOT_SET_ANYWHERE"), "{text}");
    // Bedrock is served now; a provider without an adapter is still reported.
    assert!(text.contains("providers.replicate"), "{text}");
    assert!(text.contains("semantic_cache"), "{text}");
    assert!(text.contains("typo_key"), "{text}");
}

/// Issue 11, finding 1: a config that asks for protection asbru does not enforce yet must not
/// run open. `serve` refuses to start naming each setting, and `config check` reports errors.
#[tokio::test]
async fn protection_asked_for_and_not_enforced_refuses_to_start() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        &json!({
            "client": {"required_headers": ["x-team"]},
            "governance": {
                "auth_config": {"is_enabled": true, "admin_username": "admin", "admin_password": "pw"},
                "rate_limits": [{"id": "r", "request_max_limit": 1, "request_reset_duration": "1m"}],
                "model_configs": [{"id": "m", "model_name": "gpt-4o", "rate_limit_id": "r"}],
                "virtual_keys": [{"id": "vk", "name": "vk", "value": "sk-bf-1"}]
            },
            "providers": {
                "openai": {"keys": [{"name": "k", "value": "sk-1", "weight": 1}], "network_config": {"base_url": mock.base_url()}}
            }
        }),
    );
    let serve = tokio::process::Command::new(BIN)
        .args([
            "serve",
            "--config",
            &path,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .env_clear()
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), serve)
        .await
        .expect("asbru must refuse to start, not serve")
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("client.required_headers"),
        "client.required_headers not named in:\n{log}"
    );
    // Model limits are enforced now: not a reason to refuse.
    assert!(!log.contains("governance.model_configs"), "{log}");
    assert!(!log.contains("listening on"), "{log}");
    assert!(mock.requests().is_empty());

    let check = tokio::process::Command::new(BIN)
        .args(["config", "check", &path])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(!check.status.success());
    let text = String::from_utf8(check.stdout).unwrap();
    assert!(text.contains("error: client.required_headers"), "{text}");
    assert!(!text.contains("governance.model_configs"), "{text}");
}
