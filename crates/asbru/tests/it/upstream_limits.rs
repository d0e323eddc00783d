//! Limits on the providers' answers asbru buffers: `--max-upstream-response-mb` per answer and
//! `--max-buffered-upstream-mb` over all requests (issue 11, finding 5).

use crate::cli::serve;
use crate::harness::TestGateway;
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

/// An embeddings request whose (legitimate) answer is about 1.5 MB of JSON floats.
fn big_embeddings() -> Value {
    let inputs: Vec<String> = (0..50).map(|i| format!("input number {i}")).collect();
    json!({"model": "openai/text-embedding-3-large", "input": inputs, "dimensions": 3072})
}

async fn post(client: &reqwest::Client, url: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(format!("{url}{path}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_too_large(status: u16, body: &Value) {
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        body["error"]["code"], "upstream_response_too_large",
        "{body}"
    );
    assert_eq!(body["extra_fields"]["provider"], "openai", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("1 MB"), "{message}");
    assert!(message.contains("--max-upstream-response-mb"), "{message}");
}

#[tokio::test]
async fn oversized_answers_get_a_specific_error_without_being_downloaded_and_the_flag_sets_the_limit()
 {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    // Announces 512 MB by Content-Length: refused from the header, nothing is downloaded.
    mock.set_model_fault(
        "huge-announced",
        Some(Fault::Oversized {
            bytes: 512 * MIB,
            chunked: false,
        }),
    );
    // No length: read until the cap is passed, then dropped.
    mock.set_model_fault(
        "huge-chunked",
        Some(Fault::Oversized {
            bytes: 512 * MIB,
            chunked: true,
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": "sk-test", "weight": 1}],
        "network_config": {"base_url": mock.base_url(), "max_retries": 3}
    }}});
    std::fs::write(&path, config.to_string()).unwrap();
    let served = serve(
        &[
            "--config",
            path.to_str().unwrap(),
            "--max-upstream-response-mb",
            "1",
        ],
        &[],
    )
    .await;
    let client = reqwest::Client::new();

    for model in ["huge-announced", "huge-chunked"] {
        let sent_before = mock.oversized_bytes_sent();
        let (status, body) = post(
            &client,
            &served.url,
            "/v1/chat/completions",
            &json!({"model": format!("openai/{model}"), "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
        assert_too_large(status, &body);
        // The gateway stopped reading at the cap (or at the header): of the 512 MB, no more
        // reached the socket than the cap plus what the kernel's socket buffers hold.
        let sent = mock.oversized_bytes_sent() - sent_before;
        assert!(sent < 64 * MIB as u64, "{model}: {sent} bytes were sent");
    }
    // A legitimate answer over the flag's limit is refused too (with its Content-Length)…
    let (status, body) = post(&client, &served.url, "/v1/embeddings", &big_embeddings()).await;
    assert_too_large(status, &body);
    // …and none of them was retried (max_retries is 3): one request each reached the mock.
    assert_eq!(mock.requests().len(), 3);

    // The gateway keeps serving.
    let (status, body) = post(
        &client,
        &served.url,
        "/v1/chat/completions",
        &json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let metrics = client
        .get(format!("{}/metrics", served.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("asbru_upstream_response_too_large_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("asbru_upstream_buffered_bytes 0"),
        "{metrics}"
    );
    // The provider is not marked unhealthy for answers refused for their size.
    let health: Value = client
        .get(format!("{}/api/providers/health", served.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = health.to_string();
    assert!(text.contains("\"failures\":0"), "{health}");
    assert!(!text.contains("\"failures\":1"), "{health}");
    served.stop().await;

    // The same answer is well within the default limit (32 MB).
    let gw = TestGateway::start_with(mock, config).await;
    let (status, body) = gw.post("/v1/embeddings", big_embeddings()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 50);
    assert_eq!(gw.gateway.response_limits().buffered_bytes(), 0);
}

#[tokio::test]
async fn zero_limits_are_refused_with_a_clear_message() {
    for flag in ["--max-upstream-response-mb", "--max-buffered-upstream-mb"] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_asbru"))
            .args(["serve", flag, "0"])
            .env_clear()
            .output()
            .await
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(flag) && stderr.contains("at least 1"),
            "{stderr}"
        );
    }
}
