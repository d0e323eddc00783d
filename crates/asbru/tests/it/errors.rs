//! Every failure gives a clear error in the compatibility shape, and the gateway keeps serving.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::json;
use std::time::Duration;

fn assert_error_shape(body: &serde_json::Value, status: u16) {
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["status_code"], status, "{body}");
    assert!(body["error"].get("type").is_some(), "{body}");
}

#[tokio::test]
async fn malformed_requests_are_400_saying_where() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .post_raw(
            "/v1/chat/completions",
            b"{\"model\": \"openai/gpt-4o\",\n \"messages\": [}".to_vec(),
        )
        .await;
    assert_eq!(status, 400);
    assert_error_shape(&body, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 2 column"), "{message}");

    let (status, body) = gw
        .post("/v1/chat/completions", json!({"messages": []}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "model");

    let (status, body) = gw.post("/v1/chat/completions", chat_body("gpt-4o")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("provider/model"),
        "{body}"
    );

    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("nosuch/gpt-4o"))
        .await;
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("'nosuch'") && message.contains("openai"),
        "{message}"
    );

    let (status, body) = gw.get("/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_error_shape(&body, 404);

    assert!(gw.mock.requests().is_empty());
    // Still serving.
    assert_eq!(
        gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({
        "client": {"max_request_body_size_mb": 1},
        "providers": {"openai": {"keys": [{"name": "k", "value": "sk-k", "weight": 1}], "network_config": {"base_url": mock.base_url()}}}
    });
    let gw = TestGateway::start_with(mock, config).await;
    let big = "x".repeat(1024 * 1024 + 10);
    let (status, body) = gw
        .post(
            "/v1/chat/completions",
            json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": big}]}),
        )
        .await;
    assert_eq!(status, 413);
    assert_error_shape(&body, 413);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_request_body_size_mb")
    );
    // Chunked bodies without a content-length are cut off at the limit too.
    let chunks = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 100 * 1024]))),
    );
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn provider_errors_keep_status_type_and_message() {
    let gw = TestGateway::start().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "The engine is currently overloaded".into(),
    });
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 503);
    assert_eq!(
        body["error"]["message"],
        "The engine is currently overloaded"
    );
    assert_eq!(body["error"]["type"], "server_error");
    assert_eq!(body["is_bifrost_error"], false);
    assert_eq!(body["extra_fields"]["provider"], "openai");
    assert_eq!(body["extra_fields"]["model_requested"], "gpt-4o");

    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 7,
    });
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    gw.mock.push_fault(Fault::Status {
        status: 400,
        message: "Invalid 'messages': empty".into(),
    });
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "Invalid 'messages': empty");
    assert_eq!(body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn unreachable_reset_and_malformed_upstreams_are_502() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {
        "openai": {"keys": [{"name": "k", "value": "sk-k", "weight": 1}], "network_config": {"base_url": mock.base_url()}},
        "groq": {"keys": [{"name": "g", "value": "gsk", "weight": 1}], "network_config": {"base_url": dead}}
    }});
    let gw = TestGateway::start_with(mock, config).await;

    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("groq/llama"))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_error_shape(&body, 502);
    assert_eq!(body["extra_fields"]["provider"], "groq");

    gw.mock.push_fault(Fault::Reset);
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 502, "{body}");

    gw.mock.push_fault(Fault::MalformedJson);
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed")
    );

    assert_eq!(
        gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn slow_upstream_is_504_after_the_configured_timeout() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": "sk-k", "weight": 1}],
        "network_config": {"base_url": mock.base_url(), "default_request_timeout_in_seconds": 1}
    }}});
    let gw = TestGateway::start_with(mock, config).await;
    // Waiting out the delay would answer 200; the 504 naming the setting is the timeout's.
    gw.mock.push_fault(Fault::Delay(Duration::from_secs(5)));
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 504, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default_request_timeout_in_seconds")
    );
}

#[tokio::test]
async fn providers_without_an_adapter_answer_501_and_the_rest_still_work() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {
        "openai": {"keys": [{"name": "k", "value": "sk-k", "weight": 1}], "network_config": {"base_url": mock.base_url()}},
        "replicate": {"keys": [{"name": "r", "value": "r8-key", "weight": 1}]}
    }});
    let gw = TestGateway::start_with(mock, config).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("replicate/meta-llama-3"))
        .await;
    assert_eq!(status, 501, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not support"),
        "{body}"
    );
    assert_eq!(
        gw.post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await
            .0,
        200
    );
}
