//! Admin authentication on the real binary: the whole matrix (auth on or off × `/api` and
//! inference × no, wrong and right credentials × session and HTTP Basic), `disable_auth_on_inference`,
//! login throttling, sessions kept across restarts and ended by a credentials change.

use crate::admin_api::openai_entry;
use crate::cli::{Served, serve};
use asbru_mock::{MockOptions, MockServer};
use base64::Engine;
use serde_json::{Value, json};
use std::path::Path;

const USER: &str = "admin";
const PASSWORD: &str = "correct horse battery";

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

async fn start(dir: &Path, mock: &MockServer, auth: Value) -> Served {
    let config = json!({
        "providers": {"openai": openai_entry(mock, "sk-auth-tests-0000000001")},
        "governance": {"auth_config": auth},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    serve(
        &["--app-dir", dir.to_str().unwrap()],
        &[("ADMIN_PASSWORD", PASSWORD)],
    )
    .await
}

/// Status of `/api/providers` and of a chat request, each with `authorization` (if any).
async fn statuses(url: &str, authorization: Option<&str>) -> (u16, u16) {
    let client = reqwest::Client::new();
    let with = |r: reqwest::RequestBuilder| match authorization {
        Some(a) => r.header("authorization", a),
        None => r,
    };
    let admin = with(client.get(format!("{url}/api/providers")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    let inference = with(client.post(format!("{url}/v1/chat/completions")))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    (admin, inference)
}

async fn login(url: &str, user: &str, password: &str) -> (u16, Value, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("{url}/api/session/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().to_owned());
    (status, response.json().await.unwrap(), cookie)
}

#[tokio::test]
async fn the_auth_matrix() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    for (enabled, disable_on_inference) in [(false, false), (true, false), (true, true)] {
        let dir = tempfile::tempdir().unwrap();
        let auth = json!({"is_enabled": enabled, "admin_username": USER,
            "admin_password": "env.ADMIN_PASSWORD", "disable_auth_on_inference": disable_on_inference});
        let served = start(dir.path(), &mock, auth).await;
        let url = served.url.as_str();
        let open = |protected: bool| if protected { 401 } else { 200 };
        let inference_protected = enabled && !disable_on_inference;
        let case = format!("enabled={enabled} disable_auth_on_inference={disable_on_inference}");

        // No credentials, wrong credentials.
        let wrong_basic = basic(USER, "wrong");
        let wrong_user = basic("someone", PASSWORD);
        for authorization in [
            None,
            Some(wrong_basic.as_str()),
            Some(wrong_user.as_str()),
            Some("Bearer not-a-session"),
        ] {
            assert_eq!(
                statuses(url, authorization).await,
                (open(enabled), open(inference_protected)),
                "{case}, {authorization:?}"
            );
        }
        // Right credentials: HTTP Basic, twice (the second is remembered), and a session.
        let right = basic(USER, PASSWORD);
        for _ in 0..2 {
            assert_eq!(
                statuses(url, Some(&right)).await,
                (200, 200),
                "{case}, basic"
            );
        }
        let (status, body, cookie) = login(url, USER, PASSWORD).await;
        if enabled {
            assert_eq!(status, 200, "{case}: {body}");
            let token = body["token"].as_str().unwrap().to_owned();
            let cookie = cookie.unwrap();
            assert!(
                cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
                "{cookie}"
            );
            assert_eq!(
                statuses(url, Some(&format!("Bearer {token}"))).await,
                (200, 200)
            );
            // The cookie works as well as the bearer token.
            let with_cookie = reqwest::Client::new()
                .get(format!("{url}/api/providers"))
                .header("cookie", format!("token={token}"))
                .send()
                .await
                .unwrap();
            assert_eq!(with_cookie.status(), 200);
            let state: Value = reqwest::Client::new()
                .get(format!("{url}/api/session/is-auth-enabled"))
                .header("authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(state["is_auth_enabled"], true);
            assert_eq!(state["has_valid_token"], true);
            assert_eq!(state["inference_auth_enforced"], inference_protected);
            // Logged out, the token no longer works.
            let out = reqwest::Client::new()
                .post(format!("{url}/api/session/logout"))
                .header("authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap();
            assert_eq!(out.status(), 200);
            assert_eq!(
                statuses(url, Some(&format!("Bearer {token}"))).await,
                (401, open(inference_protected))
            );
        } else {
            assert_eq!(status, 403, "login when auth is off: {body}");
        }
        // The open paths stay open.
        for path in ["/health", "/metrics", "/api/session/is-auth-enabled"] {
            let status = reqwest::get(format!("{url}{path}")).await.unwrap().status();
            assert_eq!(status, 200, "{case}: {path}");
        }
        let log = served.stop().await;
        assert!(!log.contains(PASSWORD), "the password was logged");
    }
}

#[tokio::test]
async fn failed_logins_are_slowed_down() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A password written in clear in the file: the store keeps its hash, and it still works.
    let auth = json!({"is_enabled": true, "admin_username": USER, "admin_password": PASSWORD});
    let served = start(dir.path(), &mock, auth).await;
    assert_eq!(login(&served.url, USER, PASSWORD).await.0, 200);
    for _ in 0..10 {
        assert_eq!(login(&served.url, USER, "guess").await.0, 401);
    }
    let response = reqwest::Client::new()
        .post(format!("{}/api/session/login", served.url))
        .json(&json!({"username": USER, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        429,
        "locked out, even with the right password"
    );
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&wait), "{wait}");
    served.stop().await;
}

#[tokio::test]
async fn sessions_survive_a_restart_and_end_when_the_password_changes() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let auth =
        json!({"is_enabled": true, "admin_username": USER, "admin_password": "env.ADMIN_PASSWORD"});
    let served = start(dir.path(), &mock, auth).await;
    let (_, body, _) = login(&served.url, USER, PASSWORD).await;
    let bearer = format!("Bearer {}", body["token"].as_str().unwrap());
    served.stop().await;

    let served = serve(
        &["--app-dir", dir.path().to_str().unwrap()],
        &[("ADMIN_PASSWORD", PASSWORD)],
    )
    .await;
    assert_eq!(
        statuses(&served.url, Some(&bearer)).await,
        (200, 200),
        "the session is kept"
    );

    // A new password through the API: stored hashed, every session ended, the new one works.
    let client = reqwest::Client::new();
    let config: Value = client
        .get(format!("{}/api/config", served.url))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["auth_config"]["admin_password"], "<redacted>");
    let update = json!({"auth_config": {"is_enabled": true, "admin_username": USER, "admin_password": "a brand new password"}});
    let response = client
        .put(format!("{}/api/config", served.url))
        .header("authorization", &bearer)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        statuses(&served.url, Some(&bearer)).await,
        (401, 401),
        "sessions ended"
    );
    assert_eq!(
        statuses(&served.url, Some(&basic(USER, PASSWORD))).await,
        (401, 401)
    );
    assert_eq!(
        statuses(&served.url, Some(&basic(USER, "a brand new password"))).await,
        (200, 200)
    );
    served.stop().await;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(20).any(|w| w == b"a brand new password"),
            "the password is stored in clear"
        );
    }
}

/// Bifrost's published config at `path` (a fixture copied from its repository), its store paths
/// pointed into `dir`.
fn published(name: &str, dir: &Path) -> Value {
    let path = format!(
        "{}/tests/fixtures/bifrost/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut config: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for store in ["config_store", "logs_store"] {
        if let Some(config) = config[store]["config"].as_object_mut() {
            config.insert(
                "path".into(),
                json!(dir.join(format!("{store}.db")).to_str().unwrap()),
            );
        }
    }
    config
}

/// Bifrost's `example-withauth.json` and `example-encryptionmigration.json` run unchanged: admin
/// auth from the environment, and a store written before the key was set is re-sealed with it.
#[tokio::test]
async fn bifrosts_published_auth_and_encryption_examples_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        published("example-withauth.json", dir.path()).to_string(),
    )
    .unwrap();
    let env = [
        ("BIFROST_ADMIN_USERNAME", "ops"),
        ("BIFROST_ADMIN_PASSWORD", PASSWORD),
    ];
    let served = serve(&["--config", path.to_str().unwrap()], &env).await;
    assert_eq!(statuses(&served.url, None).await.0, 401);
    assert_eq!(
        statuses(&served.url, Some(&basic("ops", PASSWORD))).await.0,
        200
    );
    assert_eq!(login(&served.url, "ops", PASSWORD).await.0, 200);
    served.stop().await;

    // The encryption-migration example: a store first written without a key …
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let mut config = published("example-encryptionmigration.json", dir.path());
    let key = config
        .as_object_mut()
        .unwrap()
        .remove("encryption_key")
        .unwrap();
    assert_eq!(key, "<REPLACE_WITH_BASE64_KEY>");
    std::fs::write(&path, config.to_string()).unwrap();
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let mut body = openai_entry(&mock, "sk-written-before-the-key-1");
    body["provider"] = json!("openai");
    let response = reqwest::Client::new()
        .post(format!("{}/api/providers", served.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    served.stop().await;
    // … then given the example's key: re-sealed, and still serving what it held.
    config["encryption_key"] = json!("c2VjcmV0LWtleS1mb3ItdGhlLWV4YW1wbGUtMzItYnl0ZXM=");
    std::fs::write(&path, config.to_string()).unwrap();
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    assert_eq!(statuses(&served.url, None).await.1, 200);
    let log = served.stop().await;
    assert!(log.contains("re-sealed with encryption_key"), "{log}");
}

/// This machine's address on its network (not loopback), as another machine would reach it.
fn network_address() -> std::net::IpAddr {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    // No packet is sent: connecting a UDP socket only picks the route and its source address.
    socket.connect("192.0.2.1:9").unwrap();
    let ip = socket.local_addr().unwrap().ip();
    assert!(
        !ip.is_loopback() && !ip.is_unspecified(),
        "no network address: {ip}"
    );
    ip
}

/// Without admin auth, `/api` answers only clients on this machine: whoever can change a
/// provider's base URL can have its keys sent anywhere. Auth on, or the explicit flag, opens it.
#[tokio::test]
async fn without_admin_auth_the_admin_api_answers_only_this_machine() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let ip = network_address();
    for (auth, flag, remote_status) in [
        (json!({"is_enabled": false}), false, 403),
        (json!({"is_enabled": false}), true, 200),
        (
            json!({"is_enabled": true, "admin_username": USER, "admin_password": "env.ADMIN_PASSWORD"}),
            false,
            200,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = json!({
            "providers": {"openai": openai_entry(&mock, "sk-remote-admin-00000001")},
            "governance": {"auth_config": auth},
        });
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_asbru"));
        command
            .args(["serve", "--host", "0.0.0.0", "--port", "0", "--app-dir"])
            .arg(dir.path())
            .env_clear()
            .env("ADMIN_PASSWORD", PASSWORD);
        if flag {
            command.arg("--admin-api-without-auth");
        }
        let served = crate::cli::start(command).await;
        let port = served.url.rsplit(':').next().unwrap().to_owned();
        let remote = format!("http://{ip}:{port}");
        let local = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let get = |base: String| {
            let client = client.clone();
            async move {
                client
                    .get(format!("{base}/api/providers"))
                    .header("authorization", basic(USER, PASSWORD))
                    .send()
                    .await
                    .unwrap()
            }
        };
        let answer = get(remote.clone()).await;
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        assert_eq!(status, remote_status, "{auth} flag={flag}: {text}");
        if status == 403 {
            assert!(text.contains("auth_config"), "{text}");
        }
        assert_eq!(
            get(local).await.status(),
            200,
            "this machine is always answered"
        );
        // Inference is not affected.
        assert_eq!(statuses(&remote, Some(&basic(USER, PASSWORD))).await.1, 200);
        served.stop().await;
    }
}
