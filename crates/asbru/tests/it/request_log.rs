//! Every request leaves exactly one `asbru::request` line: refused before routing, failed,
//! served after a fallback, streamed, or on a drop-in route; WARN for failures, INFO otherwise.

use crate::cli::{Served, serve};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::time::Duration;

/// `openai` on the mock, without retries, so one failed try fails the attempt.
async fn gateway(mock: &MockServer) -> (Served, tempfile::TempDir) {
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "a", "value": "sk-a", "weight": 1}],
        "network_config": {"base_url": mock.base_url(), "max_retries": 0}
    }}});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    let path = path.display().to_string();
    let served = serve(&["--config", &path, "--log-style", "json"], &[]).await;
    (served, dir)
}

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// Sends `request`, reads its whole answer, and returns its status and the `asbru::request`
/// lines (parsed) the gateway wrote for it.
async fn request_lines(served: &Served, request: reqwest::RequestBuilder) -> (u16, Vec<Value>) {
    let before = served.log.lock().unwrap().len();
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let _ = response.text().await.unwrap();
    let new_lines = || -> Vec<Value> {
        served.log.lock().unwrap()[before..]
            .lines()
            .filter(|line| line.contains("asbru::request"))
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    for _ in 0..100 {
        if !new_lines().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Room for a second line, which must not come.
    tokio::time::sleep(Duration::from_millis(200)).await;
    (status, new_lines())
}

/// The one line of a request; fails the test unless there is exactly one.
fn only(lines: Vec<Value>, what: &str) -> Value {
    assert_eq!(lines.len(), 1, "{what}: {lines:#?}");
    lines.into_iter().next().unwrap()
}

fn level(line: &Value) -> &str {
    line["level"].as_str().unwrap()
}

#[tokio::test]
async fn each_refused_request_leaves_one_warn_line() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = gateway(&mock).await;
    let client = reqwest::Client::new();
    let chat_url = format!("{}/v1/chat/completions", served.url);
    let cases = [
        (
            "bad JSON",
            client
                .post(&chat_url)
                .header("content-type", "application/json")
                .body("{not json"),
            400,
        ),
        (
            "unknown provider",
            client.post(&chat_url).json(&chat("nosuch/gpt-4o")),
            400,
        ),
        (
            "missing provider prefix",
            client.post(&chat_url).json(&chat("gpt-4o")),
            400,
        ),
        (
            "unknown route",
            client
                .post(format!("{}/v1/nope", served.url))
                .json(&chat("openai/gpt-4o")),
            404,
        ),
        (
            "not JSON",
            client
                .post(&chat_url)
                .header("content-type", "text/plain")
                .body(chat("openai/gpt-4o").to_string()),
            415,
        ),
        (
            "origin not allowed",
            client
                .post(&chat_url)
                .header("origin", "https://evil.example")
                .json(&chat("openai/gpt-4o")),
            403,
        ),
        (
            "drop-in route, bad JSON",
            client
                .post(format!("{}/anthropic/v1/messages", served.url))
                .header("content-type", "application/json")
                .body("{not json"),
            400,
        ),
    ];
    for (what, request, expected) in cases {
        let (status, lines) = request_lines(&served, request).await;
        assert_eq!(status, expected, "{what}");
        let line = only(lines, what);
        assert_eq!(level(&line), "WARN", "{what}: {line}");
        assert_eq!(line["fields"]["status"], expected, "{what}: {line}");
        assert_ne!(line["fields"]["error"], "", "{what}: {line}");
    }
    assert!(mock.requests().is_empty(), "nothing reached the provider");
    served.stop().await;
}

#[tokio::test]
async fn a_failed_request_leaves_one_warn_line() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = gateway(&mock).await;
    mock.push_fault(Fault::status(500));
    let request = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&chat("openai/gpt-4o"));
    let (status, lines) = request_lines(&served, request).await;
    assert_eq!(status, 500);
    let line = only(lines, "provider 500");
    assert_eq!(level(&line), "WARN", "{line}");
    assert_eq!(line["fields"]["status"], 500, "{line}");
    assert_eq!(line["fields"]["provider"], "openai", "{line}");
    served.stop().await;
}

#[tokio::test]
async fn a_request_served_after_a_fallback_leaves_one_line_listing_its_attempts() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = gateway(&mock).await;
    mock.push_fault(Fault::status(500));
    let mut body = chat("openai/gpt-4o");
    body["fallbacks"] = json!(["openai/gpt-4o-mini"]);
    let request = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&body);
    let (status, lines) = request_lines(&served, request).await;
    assert_eq!(status, 200);
    let line = only(lines, "served by the fallback");
    assert_eq!(level(&line), "INFO", "{line}");
    let fields = &line["fields"];
    assert_eq!(fields["status"], 200, "{line}");
    assert_eq!(fields["fallback_index"], 1, "{line}");
    assert_eq!(fields["model"], "gpt-4o-mini", "{line}");
    assert_eq!(
        fields["attempts"], "openai/gpt-4o:500,openai/gpt-4o-mini:200",
        "{line}"
    );
    served.stop().await;
}

#[tokio::test]
async fn a_streamed_request_leaves_one_info_line_when_it_ends() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = gateway(&mock).await;
    let mut body = chat("openai/gpt-4o");
    body["stream"] = json!(true);
    let request = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", served.url))
        .json(&body);
    let (status, lines) = request_lines(&served, request).await;
    assert_eq!(status, 200);
    let line = only(lines, "stream");
    assert_eq!(level(&line), "INFO", "{line}");
    assert_eq!(line["fields"]["stream"], true, "{line}");
    assert_eq!(line["fields"]["attempts"], "-", "{line}");
    assert!(line["fields"]["chunks"].as_u64().unwrap() > 0, "{line}");
    served.stop().await;
}

#[tokio::test]
async fn a_drop_in_route_request_leaves_one_line() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = gateway(&mock).await;
    let client = reqwest::Client::new();
    let body = json!({
        "model": "openai/gpt-4o",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}]
    });
    let url = format!("{}/anthropic/v1/messages", served.url);
    let request = client
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .json(&body);
    let (status, lines) = request_lines(&served, request).await;
    assert_eq!(status, 200);
    let line = only(lines, "anthropic route");
    assert_eq!(level(&line), "INFO", "{line}");
    assert_eq!(line["fields"]["provider"], "openai", "{line}");

    // A failure there is one WARN line too.
    mock.push_fault(Fault::status(500));
    let request = client
        .post(&url)
        .header("anthropic-version", "2023-06-01")
        .json(&body);
    let (status, lines) = request_lines(&served, request).await;
    assert!(status >= 500, "{status}");
    let line = only(lines, "anthropic route, provider 500");
    assert_eq!(level(&line), "WARN", "{line}");
    served.stop().await;
}

/// The value of the metric line starting with `series` (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn an_unknown_route_is_not_counted_as_an_invalid_request() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = gateway(&mock).await;
    let client = reqwest::Client::new();
    let metrics = || async {
        client
            .get(format!("{}/metrics", served.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let invalid = r#"asbru_errors_total{kind="invalid_request"}"#;
    let unknown = r#"asbru_errors_total{kind="unknown_route"}"#;
    let before = metrics().await;
    for path in ["/v1/nope", "/wp-login.php"] {
        let response = client
            .post(format!("{}{path}", served.url))
            .json(&chat("openai/gpt-4o"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    }
    let after = metrics().await;
    assert_eq!(metric(&after, invalid), metric(&before, invalid), "{after}");
    assert_eq!(
        metric(&after, unknown) - metric(&before, unknown),
        2.0,
        "{after}"
    );
    served.stop().await;
}

/// A client that sends half its body and goes away still leaves its one line.
#[tokio::test]
async fn a_client_gone_while_sending_its_body_leaves_one_line() {
    use tokio::io::AsyncWriteExt;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let (served, _dir) = gateway(&mock).await;
    let addr = served.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: 1000\r\n\r\n{{\"model\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);
    for _ in 0..100 {
        if served.log.lock().unwrap().contains("asbru::request") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = served.stop().await;
    let lines: Vec<Value> = log
        .lines()
        .filter(|line| line.contains("asbru::request"))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let line = only(lines, "client gone");
    // Either the body read fails (400) or the request is dropped (499); one line either way.
    let status = line["fields"]["status"].as_u64().unwrap();
    assert!(matches!(status, 400 | 499), "{line}");
}
