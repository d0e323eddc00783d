//! The admin API on a real binary with an SQLite config store (`--app-dir`): changes are served
//! at once, kept across restarts, validated like `config.json`, and their secrets never stored
//! or shown in clear.

use crate::cli::{Served, serve};
use asbru_mock::{MockOptions, MockServer};
use serde_json::{Value, json};
use std::path::Path;

pub(crate) struct Admin {
    pub url: String,
    client: reqwest::Client,
}

impl Admin {
    pub(crate) fn of(served: &Served) -> Self {
        Self {
            url: served.url.clone(),
            client: reqwest::Client::new(),
        }
    }

    pub(crate) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A chat request through `/v1`; returns the status.
    pub(crate) async fn chat(&self, model: &str) -> u16 {
        self.client
            .post(format!("{}/v1/chat/completions", self.url))
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// The bearer keys the mock saw, in order.
pub(crate) fn keys_seen(mock: &MockServer) -> Vec<String> {
    mock.requests()
        .iter()
        .filter_map(|r| {
            r.header("authorization")
                .map(|a| a.trim_start_matches("Bearer ").to_owned())
        })
        .collect()
}

pub(crate) fn openai_entry(mock: &MockServer, key: &str) -> Value {
    json!({
        "keys": [{"name": "main", "value": key, "weight": 1}],
        "network_config": {"base_url": mock.base_url()},
    })
}

fn app_dir_args(dir: &Path) -> Vec<String> {
    vec!["--app-dir".into(), dir.display().to_string()]
}

pub(crate) async fn serve_in(dir: &Path, env: &[(&str, &str)]) -> Served {
    let args = app_dir_args(dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serve(&args, env).await
}

/// Writes `config` as the app dir's `config.json` and starts asbru on that app dir.
pub(crate) async fn serve_config(dir: &Path, config: &Value) -> Served {
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    serve_in(dir, &[]).await
}

/// Every file of the app dir, as bytes (the database, its WAL and shared memory).
fn app_dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_provider_added_through_the_api_is_served_at_once_and_kept_across_restarts() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    assert_eq!(admin.chat("openai/gpt-4o").await, 400, "no provider yet");

    let mut body = openai_entry(&mock, "sk-added-through-the-api-0001");
    body["provider"] = json!("openai");
    let (status, created) = admin
        .call("POST", "/api/providers", Some(body.clone()))
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["name"], "openai");
    assert_eq!(created["provider_status"], "active");
    assert_eq!(admin.chat("openai/gpt-4o").await, 200, "served at once");
    assert_eq!(keys_seen(&mock), ["sk-added-through-the-api-0001"]);

    let (status, again) = admin.call("POST", "/api/providers", Some(body)).await;
    assert_eq!(status, 409, "{again}");

    served.stop().await;
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    assert_eq!(
        admin.chat("openai/gpt-4o").await,
        200,
        "kept across the restart"
    );
    let (_, list) = admin.call("GET", "/api/providers", None).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["providers"][0]["name"], "openai");

    let (status, _) = admin.call("DELETE", "/api/providers/openai", None).await;
    assert_eq!(status, 200);
    assert_eq!(admin.chat("openai/gpt-4o").await, 400, "removed at once");
    let (status, _) = admin.call("DELETE", "/api/providers/openai", None).await;
    assert_eq!(status, 404);
    served.stop().await;
}

#[tokio::test]
async fn a_key_rotated_through_the_api_is_the_only_one_used_afterwards() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"providers": {"openai": openai_entry(&mock, "sk-old-key-000000000001")}});
    let served = serve_config(dir.path(), &config).await;
    let admin = Admin::of(&served);
    assert_eq!(admin.chat("openai/gpt-4o").await, 200);

    let (_, keys) = admin.call("GET", "/api/providers/openai/keys", None).await;
    assert_eq!(keys["total"], 1);
    let key = keys["keys"][0].clone();
    let id = key["id"].as_str().unwrap().to_owned();
    assert!(
        !key.to_string().contains("sk-old-key-000000000001"),
        "shown masked: {key}"
    );
    let mut rotated = key.clone();
    rotated["value"] = json!("sk-new-key-000000000002");
    let (status, answer) = admin
        .call(
            "PUT",
            &format!("/api/providers/openai/keys/{id}"),
            Some(rotated),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], id.as_str(), "the key keeps its id");

    mock.clear_requests();
    for _ in 0..5 {
        assert_eq!(admin.chat("openai/gpt-4o").await, 200);
    }
    assert_eq!(keys_seen(&mock), vec!["sk-new-key-000000000002"; 5]);

    // Restarted with the same (unchanged) config.json: the store's rotation stands.
    served.stop().await;
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    mock.clear_requests();
    assert_eq!(admin.chat("openai/gpt-4o").await, 200);
    assert_eq!(keys_seen(&mock), ["sk-new-key-000000000002"]);

    // Sending the masked key back unchanged (as a UI does) keeps the stored value.
    let (_, shown) = admin
        .call("GET", &format!("/api/providers/openai/keys/{id}"), None)
        .await;
    let mut edited = shown.clone();
    edited["weight"] = json!(2);
    let (status, _) = admin
        .call(
            "PUT",
            &format!("/api/providers/openai/keys/{id}"),
            Some(edited),
        )
        .await;
    assert_eq!(status, 200);
    mock.clear_requests();
    assert_eq!(admin.chat("openai/gpt-4o").await, 200);
    assert_eq!(keys_seen(&mock), ["sk-new-key-000000000002"]);
    served.stop().await;
}

#[tokio::test]
async fn invalid_payloads_are_refused_with_the_field_and_change_nothing() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"providers": {"openai": openai_entry(&mock, "sk-valid-key-0000000001")}});
    let served = serve_config(dir.path(), &config).await;
    let admin = Admin::of(&served);
    let (_, before) = admin.call("GET", "/api/providers/openai", None).await;
    let (_, keys_before) = admin.call("GET", "/api/providers/openai/keys", None).await;
    let id = keys_before["keys"][0]["id"].as_str().unwrap().to_owned();

    let cases = [
        (
            "PUT",
            format!("/api/providers/openai/keys/{id}"),
            json!({"name": "main", "value": "sk-x", "weight": -1}),
            "providers.openai.keys[0].weight",
        ),
        (
            "PUT",
            "/api/providers/openai".to_owned(),
            json!({"concurrency_and_buffer_size": {"concurrency": 0, "buffer_size": 10}}),
            "providers.openai.concurrency_and_buffer_size.concurrency",
        ),
        (
            "PUT",
            "/api/providers/openai".to_owned(),
            json!({"network_config": {"base_url": "not a url"}}),
            "providers.openai.network_config.base_url",
        ),
        (
            "POST",
            "/api/providers".to_owned(),
            json!({"keys": []}),
            "provider",
        ),
        (
            "PUT",
            "/api/config".to_owned(),
            json!({"client_config": {"max_request_body_size_mb": 0}}),
            "client.max_request_body_size_mb",
        ),
    ];
    for (method, path, body, field) in cases {
        let (status, answer) = admin.call(method, &path, Some(body)).await;
        assert_eq!(status, 400, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["param"], field, "{answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    // Not JSON at all.
    let response = reqwest::Client::new()
        .put(format!("{}/api/providers/openai", served.url))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let (_, after) = admin.call("GET", "/api/providers/openai", None).await;
    let (_, keys_after) = admin.call("GET", "/api/providers/openai/keys", None).await;
    assert_eq!(before, after, "nothing changed in memory");
    assert_eq!(keys_before, keys_after);
    assert_eq!(admin.chat("openai/gpt-4o").await, 200, "still serving");
    served.stop().await;

    // Nor in the store.
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    let (_, keys_restarted) = admin.call("GET", "/api/providers/openai/keys", None).await;
    assert_eq!(keys_before, keys_restarted);
    served.stop().await;
}

#[tokio::test]
async fn concurrent_writes_do_not_lose_updates() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"providers": {"openai": openai_entry(&mock, "sk-first-key-00000000001")}});
    let served = serve_config(dir.path(), &config).await;
    let url = served.url.clone();
    let writes: Vec<_> = (0..16)
        .map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(format!("{url}/api/providers/openai/keys"))
                    .json(&json!({"name": format!("k{i}"), "value": format!("sk-concurrent-{i:04}-abcdef"), "weight": 1}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for w in writes {
        assert_eq!(w.await.unwrap(), 200);
    }
    let admin = Admin::of(&served);
    let (_, keys) = admin.call("GET", "/api/providers/openai/keys", None).await;
    assert_eq!(keys["total"], 17, "{keys}");
    served.stop().await;
}

#[tokio::test]
async fn secrets_are_neither_stored_nor_shown_nor_logged_in_clear() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret = "sk-very-distinctive-secret-7f3a9c";
    let proxy_password = "proxy-password-distinctive-42";
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    let mut body = openai_entry(&mock, secret);
    body["provider"] = json!("openai");
    body["keys"][0]["azure_key_config"] = json!(null);
    body["proxy_config"] =
        json!({"type": "http", "url": "http://127.0.0.1:3128", "password": proxy_password});
    let header_secret = "header-secret-distinctive-77";
    body["network_config"]["extra_headers"] = json!({"X-Upstream-Token": header_secret});
    let (status, created) = admin.call("POST", "/api/providers", Some(body)).await;
    assert_eq!(status, 200, "{created}");
    for path in [
        "/api/providers",
        "/api/providers/openai",
        "/api/providers/openai/keys",
        "/api/keys",
        "/api/config",
    ] {
        let (_, shown) = admin.call("GET", path, None).await;
        let text = shown.to_string();
        assert!(
            !text.contains(secret)
                && !text.contains(proxy_password)
                && !text.contains(header_secret),
            "{path} shows a secret: {text}"
        );
    }
    let log = served.stop().await;
    assert!(
        !log.contains(secret) && !log.contains(proxy_password),
        "logged"
    );
    let files = app_dir_bytes(dir.path());
    assert!(files.iter().any(|(name, _)| name == "config.db"));
    for (name, bytes) in &files {
        assert!(!contains(bytes, secret), "{name} holds the key in clear");
        assert!(
            !contains(bytes, header_secret),
            "{name} holds a header secret in clear"
        );
        assert!(
            !contains(bytes, proxy_password),
            "{name} holds the proxy password in clear"
        );
    }
}

#[tokio::test]
async fn encryption_key_set_later_reseals_the_store_and_is_then_required() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    let mut body = openai_entry(&mock, "sk-sealed-first-by-key-file");
    body["provider"] = json!("openai");
    assert_eq!(
        admin.call("POST", "/api/providers", Some(body)).await.0,
        200
    );
    served.stop().await;
    assert!(
        dir.path().join("config.db.key").exists(),
        "sealed with a key file first"
    );

    let key = [("BIFROST_ENCRYPTION_KEY", "a long passphrase for the store")];
    let served = serve_in(dir.path(), &key).await;
    assert_eq!(
        Admin::of(&served).chat("openai/gpt-4o").await,
        200,
        "re-sealed and serving"
    );
    served.stop().await;
    assert!(
        !dir.path().join("config.db.key").exists(),
        "the key file is no longer needed"
    );

    // Without the key now, or with another one, it refuses to start, naming the setting.
    for env in [
        vec![],
        vec![("BIFROST_ENCRYPTION_KEY", "another passphrase")],
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_asbru"))
            .args(["serve", "--host", "127.0.0.1", "--port", "0", "--app-dir"])
            .arg(dir.path())
            .env_clear()
            .envs(env)
            .output()
            .await
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("encryption_key"), "{stderr}");
    }
}

#[tokio::test]
async fn the_file_seeds_the_store_and_an_entry_changed_in_the_file_wins() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |config: &Value| {
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap()
    };
    let mut config = json!({"providers": {
        "openai": openai_entry(&mock, "sk-openai-from-file-0001"),
        "groq": openai_entry(&mock, "gsk-groq-from-file-00001"),
    }});
    write(&config);
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    // Both changed through the API.
    for provider in ["openai", "groq"] {
        let (_, keys) = admin
            .call("GET", &format!("/api/providers/{provider}/keys"), None)
            .await;
        let id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
        let body = json!({"name": "main", "value": format!("{provider}-from-the-api-000001"), "weight": 1});
        let (status, _) = admin
            .call(
                "PUT",
                &format!("/api/providers/{provider}/keys/{id}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200);
    }
    served.stop().await;

    // The file's openai entry is edited; groq's is not.
    config["providers"]["openai"] = openai_entry(&mock, "sk-openai-edited-in-file-02");
    write(&config);
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    mock.clear_requests();
    assert_eq!(admin.chat("openai/gpt-4o").await, 200);
    assert_eq!(admin.chat("groq/llama").await, 200);
    assert_eq!(
        keys_seen(&mock),
        ["sk-openai-edited-in-file-02", "groq-from-the-api-000001"],
        "the edited file entry wins; the untouched one keeps the API's change"
    );
    served.stop().await;
}

#[tokio::test]
async fn without_a_store_the_admin_api_reads_and_refuses_changes() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let config = json!({"providers": {"openai": openai_entry(&mock, "sk-file-only-0000000001")}});
    std::fs::write(&path, config.to_string()).unwrap();
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    let admin = Admin::of(&served);
    let (status, list) = admin.call("GET", "/api/providers", None).await;
    assert_eq!((status, list["total"].clone()), (200, json!(1)));
    let (status, answer) = admin
        .call(
            "PUT",
            "/api/providers/openai",
            Some(json!({"send_back_raw_response": true})),
        )
        .await;
    assert_eq!(status, 405, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--app-dir")
    );
    let (status, health) = admin.call("GET", "/health", None).await;
    assert_eq!(
        (status, health["components"]["db_pings"].clone()),
        (200, json!("disabled"))
    );
    served.stop().await;
}

#[tokio::test]
async fn version_models_health_and_config_answer_in_bifrost_shapes() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut entry = openai_entry(&mock, "sk-shapes-00000000000001");
    entry["keys"][0]["models"] = json!(["gpt-4o", "gpt-4o-mini"]);
    let config = json!({"providers": {"openai": entry}, "client": {"drop_excess_requests": true}});
    let served = serve_config(dir.path(), &config).await;
    let admin = Admin::of(&served);
    let (status, version) = admin.call("GET", "/api/version", None).await;
    assert_eq!(status, 200);
    assert!(version.as_str().unwrap().starts_with('v'));
    let (_, models) = admin
        .call("GET", "/api/models?provider=openai&query=MINI", None)
        .await;
    assert_eq!(models["total"], 1, "{models}");
    assert_eq!(models["models"][0]["name"], "gpt-4o-mini");
    let (status, health) = admin.call("GET", "/health", None).await;
    assert_eq!(
        (status, health["components"]["db_pings"].clone()),
        (200, json!("ok"))
    );

    let (_, config) = admin.call("GET", "/api/config", None).await;
    assert_eq!(config["client_config"]["drop_excess_requests"], true);
    assert_eq!(config["is_db_connected"], true);
    let mut client = config["client_config"].clone();
    client["max_request_body_size_mb"] = json!(1);
    let (status, answer) = admin
        .call("PUT", "/api/config", Some(json!({"client_config": client})))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "success");
    // In force at once: a 2 MiB body is now too large.
    let big = "x".repeat(2 * 1024 * 1024);
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": big}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    served.stop().await;
}

/// The store is never queried while requests are served: `asbru_store_queries_total` does not
/// move over 1,000 requests.
#[tokio::test]
async fn serving_requests_runs_no_store_query() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"providers": {"openai": openai_entry(&mock, "sk-no-store-io-000000001")}});
    let served = serve_config(dir.path(), &config).await;
    let admin = Admin::of(&served);
    let queries = || async {
        let text = reqwest::get(format!("{}/metrics", served.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("asbru_store_queries_total"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .expect("asbru_store_queries_total is exported")
    };
    let before = queries().await;
    assert!(before > 0.0, "startup read the store");
    for _ in 0..1000 {
        assert_eq!(admin.chat("openai/gpt-4o").await, 200);
    }
    assert_eq!(queries().await, before, "requests queried the store");
    served.stop().await;
}

/// A `config.json` edited while asbru runs with a store goes through the same seeding: the
/// edited entry replaces the stored one, an untouched one keeps the API's change.
#[tokio::test]
async fn a_file_reloaded_while_running_is_seeded_into_the_store() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let mut config = json!({"providers": {
        "openai": openai_entry(&mock, "sk-openai-before-reload-1"),
        "groq": openai_entry(&mock, "gsk-groq-before-reload-01"),
    }});
    std::fs::write(&path, config.to_string()).unwrap();
    let served = serve(
        &[
            "--app-dir",
            dir.path().to_str().unwrap(),
            "--watch-config",
            "false",
        ],
        &[],
    )
    .await;
    let admin = Admin::of(&served);
    let (_, keys) = admin.call("GET", "/api/providers/groq/keys", None).await;
    let id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
    let body = json!({"name": "main", "value": "gsk-groq-from-the-api-001", "weight": 1});
    assert_eq!(
        admin
            .call("PUT", &format!("/api/providers/groq/keys/{id}"), Some(body))
            .await
            .0,
        200
    );

    config["providers"]["openai"] = openai_entry(&mock, "sk-openai-after-reload-02");
    std::fs::write(&path, config.to_string()).unwrap();
    let pid = served.child.id().unwrap();
    let hup = tokio::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status();
    assert!(hup.await.unwrap().success());
    let started = std::time::Instant::now();
    loop {
        mock.clear_requests();
        assert_eq!(admin.chat("openai/gpt-4o").await, 200);
        if keys_seen(&mock) == ["sk-openai-after-reload-02"] {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "never reloaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    mock.clear_requests();
    assert_eq!(admin.chat("groq/llama").await, 200);
    assert_eq!(
        keys_seen(&mock),
        ["gsk-groq-from-the-api-001"],
        "the API's change stands"
    );
    served.stop().await;
}

/// CORS on `/api` follows `client.allowed_origins`, localhost always allowed, as on `/v1`.
#[tokio::test]
async fn the_admin_api_follows_allowed_origins() {
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"client": {"allowed_origins": ["https://ops.example.com"]}});
    let served = serve_config(dir.path(), &config).await;
    let client = reqwest::Client::new();
    for (origin, allowed) in [
        ("https://ops.example.com", true),
        ("http://localhost:3000", true),
        ("https://evil.example.net", false),
    ] {
        let response = client
            .get(format!("{}/api/providers", served.url))
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status() == 200, allowed, "{origin}");
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_some(),
            allowed,
            "{origin}"
        );
    }
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/providers", served.url),
        )
        .header("origin", "https://ops.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    served.stop().await;
}

/// Virtual keys through `/api/governance/virtual-keys`: made with a value shown once, enforced
/// at once on inference (rate limit included), deactivated, deleted, kept across restarts.
#[tokio::test]
async fn virtual_keys_are_managed_through_the_admin_api() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({
        "providers": {"openai": openai_entry(&mock, "sk-provider-key-00000001")},
        "client": {"enforce_auth_on_inference": true},
    });
    let served = serve_config(dir.path(), &config).await;
    let admin = Admin::of(&served);
    let chat_with = |vk: String, url: String| async move {
        reqwest::Client::new()
            .post(format!("{url}/v1/chat/completions"))
            .bearer_auth(vk)
            .json(
                &json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        admin.chat("openai/gpt-4o").await,
        401,
        "a virtual key is required"
    );

    let body = json!({
        "name": "team-a",
        "provider_configs": [{"provider": "openai", "allowed_models": ["gpt-4o"]}],
        "rate_limit": {"request_max_limit": 2, "request_reset_duration": "1h"},
    });
    let (status, created) = admin
        .call("POST", "/api/governance/virtual-keys", Some(body))
        .await;
    assert_eq!(status, 200, "{created}");
    let vk = created["virtual_key"]["value"].as_str().unwrap().to_owned();
    let id = created["virtual_key"]["id"].as_str().unwrap().to_owned();
    assert!(vk.starts_with("sk-bf-"), "{vk}");
    assert_eq!(created["virtual_key"]["rate_limit"]["request_max_limit"], 2);

    // Shown whole only once.
    let (_, list) = admin
        .call("GET", "/api/governance/virtual-keys", None)
        .await;
    assert_eq!(list["total_count"], 1);
    assert!(!list.to_string().contains(&vk), "{list}");
    let (_, one) = admin
        .call("GET", &format!("/api/governance/virtual-keys/{id}"), None)
        .await;
    assert_eq!(one["virtual_key"]["name"], "team-a");

    // Served at once, with its rate limit.
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 200);
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 200);
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 429);

    // A team that does not exist is refused with its path, and nothing changes.
    let (status, answer) = admin
        .call(
            "PUT",
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"team_id": "nope"})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"]["param"],
        "governance.virtual_keys[0].team_id"
    );
    assert_eq!(
        chat_with(vk.clone(), served.url.clone()).await,
        429,
        "the counter is intact"
    );

    // Raised limit: served again; deactivated: 403.
    let (status, _) = admin
        .call(
            "PUT",
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"rate_limit": {"request_max_limit": 10, "request_reset_duration": "1h"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 200);
    let (status, _) = admin
        .call(
            "PUT",
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 403);
    let (status, _) = admin
        .call(
            "PUT",
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(status, 200);
    // A budget smaller than one request: the first is served (there was headroom), then 402.
    let (status, answer) = admin
        .call(
            "PUT",
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"budget": {"max_limit": 0.000001, "reset_duration": "1h"}})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["virtual_key"]["budget"]["max_limit"], 0.000001);
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 200);
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 402);
    let (status, _) = admin
        .call(
            "PUT",
            &format!("/api/governance/virtual-keys/{id}"),
            Some(json!({"budget": null})),
        )
        .await;
    assert_eq!(status, 200);
    served.stop().await;

    // Kept across a restart (the file's governance section is unchanged, so the store wins).
    let served = serve_in(dir.path(), &[]).await;
    let admin = Admin::of(&served);
    assert_eq!(chat_with(vk.clone(), served.url.clone()).await, 200);
    let (status, _) = admin
        .call(
            "DELETE",
            &format!("/api/governance/virtual-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        chat_with(vk.clone(), served.url.clone()).await,
        401,
        "deleted"
    );
    let (status, _) = admin
        .call(
            "DELETE",
            &format!("/api/governance/virtual-keys/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    served.stop().await;
    for (name, bytes) in app_dir_bytes(dir.path()) {
        assert!(
            !contains(&bytes, &vk),
            "{name} holds the virtual key in clear"
        );
    }
}
