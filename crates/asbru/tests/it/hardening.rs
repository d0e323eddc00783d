//! Issue 11: the holes an attacker finds in twenty minutes, each kept closed by a test through the
//! real binary.

use crate::cli::serve;
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn write_config(dir: &Path, config: &Value) -> String {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    path.display().to_string()
}

fn two_keys(mock: &MockServer) -> Value {
    json!({"providers": {"openai": {
        "keys": [
            {"name": "a", "value": "sk-a", "weight": 1},
            {"name": "b", "value": "sk-b", "weight": 1}
        ],
        "network_config": {"base_url": mock.base_url()}
    }}})
}

/// Serves `config` with `args`; the temporary directory lives as long as the returned value.
async fn serve_config(config: &Value, args: &[&str]) -> (crate::cli::Served, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), config);
    let mut all = vec!["--config", path.as_str()];
    all.extend_from_slice(args);
    (serve(&all, &[]).await, dir)
}

/// The minimal chat body every test here sends.
fn chat_body() -> Value {
    json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
}

fn host_of(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Reads until the peer closes; `None` if it is still open after `wait`.
async fn read_to_close(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut out = Vec::new();
    match tokio::time::timeout(wait, stream.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

/// Finding 3: a connection that sends nothing, and a body that stops arriving, are closed.
#[tokio::test]
async fn silent_connections_and_stalled_bodies_are_closed() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = serve_config(&two_keys(&mock), &["--client-read-timeout", "1"]).await;
    let addr = host_of(&served.url);

    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let closed = read_to_close(&mut silent, Duration::from_secs(10)).await;
    assert_eq!(
        closed.as_deref(),
        Some(""),
        "a silent connection stays open"
    );

    let mut stalled = TcpStream::connect(&addr).await.unwrap();
    stalled
        .write_all(
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut stalled, Duration::from_secs(10))
        .await
        .expect("a stalled body keeps its connection open");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(mock.requests().is_empty());

    // The gateway keeps serving.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    served.stop().await;
}

/// A connection the gateway has accepted and answered once on, and keeps open.
async fn served_connection(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET /health HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head))
        .await
        .expect("no answer on a connection under the cap")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    stream
}

/// Finding 3: past `--max-connections` a new connection is told 503 and closed at once, and a
/// freed slot serves again.
#[tokio::test]
async fn connections_past_the_cap_are_shed_with_a_503() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = serve_config(&two_keys(&mock), &["--max-connections", "2"]).await;
    let addr = host_of(&served.url);
    let first = served_connection(&addr).await;
    let _second = served_connection(&addr).await;

    let mut third = TcpStream::connect(&addr).await.unwrap();
    let answer = read_to_close(&mut third, Duration::from_secs(5))
        .await
        .expect("a connection over the cap is left open");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");

    drop(first);
    let mut served_again = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut probe = TcpStream::connect(&addr).await.unwrap();
        probe
            .write_all(
                format!("GET /health HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let answer = read_to_close(&mut probe, Duration::from_secs(5))
            .await
            .unwrap();
        if answer.starts_with("HTTP/1.1 200") {
            served_again = true;
            break;
        }
    }
    assert!(served_again, "a freed connection slot was never reused");
    let log = served.stop().await;
    assert!(log.contains("max_connections=2"), "{log}");
}

/// Finding 4: a session TTL that would overflow the clock is refused with a 400, and stickiness
/// keeps working for everyone afterwards.
#[tokio::test]
async fn an_overflowing_session_ttl_is_refused_and_stickiness_survives() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = serve_config(&two_keys(&mock), &[]).await;
    let client = reqwest::Client::new();
    let chat = |ttl: Option<&'static str>| {
        let mut request = client
            .post(format!("{}/v1/chat/completions", served.url))
            .header("x-bf-session-id", "P")
            .json(&chat_body());
        if let Some(ttl) = ttl {
            request = request.header("x-bf-session-ttl", ttl);
        }
        request.send()
    };
    let response = chat(Some("18446744073709551615")).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["param"], "x-bf-session-ttl");
    assert!(mock.requests().is_empty(), "the provider was called");

    for _ in 0..6 {
        assert_eq!(chat(Some("1h")).await.unwrap().status(), 200);
    }
    let keys: std::collections::BTreeSet<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(keys.len(), 1, "the session did not stick: {keys:?}");
    let log = served.stop().await;
    assert!(!log.contains("panicked"), "{log}");
}

/// Finding 6: a body that is not JSON is refused with 415 in the route's own error shape, before
/// any provider is called.
#[tokio::test]
async fn non_json_bodies_are_refused_with_415() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = serve_config(&two_keys(&mock), &[]).await;
    let client = reqwest::Client::new();
    let body = r#"{"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for path in ["/v1/chat/completions", "/openai/v1/chat/completions"] {
            let mut request = client.post(format!("{}{path}", served.url)).body(body);
            if let Some(t) = content_type {
                request = request.header("content-type", t);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 415, "{path} {content_type:?}");
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["error"]["code"], "unsupported_media_type");
        }
        let mut request = client
            .post(format!("{}/anthropic/v1/messages", served.url))
            .body(r#"{"model": "openai/gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}"#);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 415);
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["type"], "error", "Anthropic's error shape: {error}");
    }
    assert!(mock.requests().is_empty());
    // `application/json` with a charset is JSON.
    let response = client
        .post(format!("{}/v1/chat/completions", served.url))
        .header("content-type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    served.stop().await;
}

/// Finding 6: on loopback, a request naming a foreign host (DNS rebinding) or coming from a
/// foreign browser origin is refused; localhost origins and `client.allowed_origins` get CORS.
#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let mut config = two_keys(&mock);
    config["client"] = json!({"allowed_origins": ["https://app.acme.test"]});
    let (served, _dir) = serve_config(&config, &[]).await;
    let client = reqwest::Client::new();
    let chat = |headers: &[(&'static str, &'static str)]| {
        let mut request = client
            .post(format!("{}/v1/chat/completions", served.url))
            .json(&chat_body());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        request.send()
    };
    let response = chat(&[("host", "rebound.evil.example:8080")])
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "host_not_allowed");

    let response = chat(&[("origin", "https://evil.example")]).await.unwrap();
    assert_eq!(response.status(), 403);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "origin_not_allowed");
    assert!(
        mock.requests().is_empty(),
        "a refused request reached the provider"
    );

    for origin in ["http://localhost:3000", "https://app.acme.test"] {
        let response = chat(&[("origin", origin)]).await.unwrap();
        assert_eq!(response.status(), 200, "{origin}");
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
    }
    let preflight = client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", served.url),
        )
        .header("origin", "https://app.acme.test")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization, x-evil",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "content-type, authorization"
    );
    served.stop().await;

    // `--allowed-hosts` names the hosts served when the gateway sits behind a name.
    let (served, _dir) = serve_config(&two_keys(&mock), &["--allowed-hosts", "gw.acme.test"]).await;
    let response = reqwest::Client::new()
        .get(format!("{}/health", served.url))
        .header("host", "gw.acme.test")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = reqwest::get(format!("{}/health", served.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    served.stop().await;
}

/// Finding 7: a client's model name cannot forge a log line, drive a terminal, or flood the log.
#[tokio::test]
async fn client_text_cannot_forge_or_flood_log_lines() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = serve_config(&two_keys(&mock), &[]).await;
    let client = reqwest::Client::new();
    let forged = "openai/gpt-4o\n2031-01-01T00:00:00.000000Z  INFO asbru::request: success forged=1\u{1b}[2J";
    let huge = format!("openai/{}", "m".repeat(900_000));
    for model in [forged, huge.as_str()] {
        let response = client
            .post(format!("{}/v1/chat/completions", served.url))
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{}", response.status());
    }
    let log = served.stop().await;
    assert!(
        !log.lines().any(|line| line.starts_with("2031-01-01")),
        "a forged line:\n{log}"
    );
    assert!(!log.contains('\u{1b}'), "an escape code reached the log");
    assert!(log.contains("gpt-4o\\u{a}2031"), "{log}");
    assert!(log.len() < 50_000, "the log grew to {} bytes", log.len());
}

/// Finding 11: a stream kept open (here held by the provider) is cut at `--max-stream-duration`
/// with an error event in the route's dialect.
#[tokio::test]
async fn a_stream_is_cut_at_its_maximum_duration() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = serve_config(&two_keys(&mock), &["--max-stream-duration", "1"]).await;
    let client = reqwest::Client::new();

    mock.push_fault(Fault::HoldStream);
    let response = client
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&json!({"model": "openai/gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .expect("the stream was not cut")
        .unwrap();
    assert!(text.contains("max_stream_duration"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");

    mock.push_fault(Fault::HoldStream);
    let response = client
        .post(format!("{}/anthropic/v1/messages", served.url))
        .json(&json!({"model": "openai/gpt-4o", "max_tokens": 10, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let text = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .expect("the stream was not cut")
        .unwrap();
    assert!(text.contains("event: error"), "{text}");
    assert!(text.contains("--max-stream-duration"), "{text}");
    mock.release_streams();
    served.stop().await;
}

/// Finding 10: writes to other files in the config's directory (here a trace log) are not
/// watched, so they cannot feed the watcher's own logging.
#[tokio::test]
async fn other_files_beside_the_config_are_not_watched() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), &two_keys(&mock));
    let served = serve(
        &["--config", &path, "--log-level", "notify=trace,asbru=info"],
        &[],
    )
    .await;
    let other = dir.path().join("gateway-trace.log");
    for i in 0..20 {
        std::fs::write(&other, format!("line {i}\n")).unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = served.stop().await;
    assert!(
        !log.contains("gateway-trace.log"),
        "events of another file were watched:\n{log}"
    );
    assert!(!log.contains("configuration reloaded"), "{log}");
}
