//! Client headers meant for the provider: `x-bf-eh-<name>` arrives upstream as `<name>`,
//! `anthropic-beta` is merged with the configured betas and filtered by
//! `beta_header_overrides`, `client.header_filter_config` applies, and credentials can never be
//! replaced this way.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{MockOptions, MockServer};
use serde_json::json;

const ANTHROPIC_KEY: &str = "sk-ant-forwarding";
const OPENAI_KEY: &str = "sk-openai-forwarding";
const ACCESS_KEY: &str = "AKIDFORWARDING";
const SECRET_KEY: &str = "forwarding/secret+key";

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions {
        aws_credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let config = json!({
        "client": {"header_filter_config": {"denylist": ["x-internal"]}},
        "providers": {
            "anthropic": {
                "keys": [{"name": "ant", "value": ANTHROPIC_KEY, "weight": 1}],
                "network_config": {
                    "base_url": base,
                    "extra_headers": {"anthropic-beta": "interleaved-thinking-2025-05-14"},
                    "beta_header_overrides": {"files-api-": false}
                }
            },
            "openai": {
                "keys": [{"name": "main", "value": OPENAI_KEY, "weight": 1}],
                "network_config": {"base_url": base}
            },
            "bedrock": {
                "keys": [{"name": "aws", "value": "", "weight": 1, "bedrock_key_config": {
                    "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "region": "us-east-1"}}],
                "network_config": {"base_url": base}
            }
        }
    });
    TestGateway::start_with(mock, config).await
}

#[tokio::test]
async fn anthropic_betas_merge_with_the_configured_ones_and_overrides_strip() {
    let gw = start().await;
    let (status, answer) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("anthropic/claude-sonnet-4-5"),
            &[
                (
                    "anthropic-beta",
                    "prompt-caching-2024-07-31, interleaved-thinking-2025-05-14",
                ),
                ("x-bf-eh-anthropic-beta", "files-api-2025-04-14"),
                ("x-bf-eh-x-trace-id", "trace-7"),
                ("x-bf-eh-x-api-key", "sk-ant-stolen"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(
        sent.header("anthropic-beta").unwrap(),
        "interleaved-thinking-2025-05-14,prompt-caching-2024-07-31"
    );
    assert_eq!(sent.header("x-trace-id").unwrap(), "trace-7");
    assert_eq!(sent.header("x-api-key").unwrap(), ANTHROPIC_KEY);

    // Without client betas, the configured one is still sent.
    gw.post(
        "/v1/chat/completions",
        chat_body("anthropic/claude-sonnet-4-5"),
    )
    .await;
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(
        sent.header("anthropic-beta").unwrap(),
        "interleaved-thinking-2025-05-14"
    );
}

#[tokio::test]
async fn prefixed_headers_reach_openai_but_credentials_and_denied_names_do_not() {
    let gw = start().await;
    let body = chat_body("openai/gpt-4o-mini");
    let (status, answer) = gw
        .post_with(
            "/v1/chat/completions",
            body,
            &[
                ("x-bf-eh-openai-organization", "org-42"),
                ("x-bf-eh-authorization", "Bearer sk-stolen"),
                ("x-bf-eh-x-internal", "secret-routing"),
                ("anthropic-beta", "prompt-caching-2024-07-31"),
                ("x-unprefixed", "stays"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.header("openai-organization").unwrap(), "org-42");
    assert_eq!(
        sent.header("authorization").unwrap(),
        format!("Bearer {OPENAI_KEY}")
    );
    for absent in ["x-internal", "anthropic-beta", "x-unprefixed"] {
        assert!(sent.header(absent).is_none(), "{absent} was forwarded");
    }

    // Streams forward them too.
    let mut stream = body_stream();
    stream["model"] = json!("openai/gpt-4o-mini");
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-bf-eh-openai-organization", "org-43")
        .json(&stream)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.bytes().await.unwrap();
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.header("openai-organization").unwrap(), "org-43");
}

fn body_stream() -> serde_json::Value {
    json!({"messages": [{"role": "user", "content": "Hello"}], "stream": true})
}

#[tokio::test]
async fn forwarded_headers_are_signed_for_bedrock() {
    let gw = start().await;
    let (status, answer) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0"),
            &[("x-bf-eh-x-trace-id", "trace-9")],
        )
        .await;
    // The mock recomputes the signature over what it received: a header added after signing
    // would be refused.
    assert_eq!(status, 200, "{answer}");
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.header("x-trace-id").unwrap(), "trace-9");
    assert!(sent.header("authorization").unwrap().contains("x-trace-id"));
}

/// `accept-encoding: gzip` used to reach the provider, whose gzipped answer then came back as a
/// 502 quoting raw gzip bytes (and lowered the key's health). Headers that shape the answer, tell
/// proxies who is asking, or override the method or URL never go upstream.
#[tokio::test]
async fn answer_shaping_proxy_and_override_headers_never_reach_the_provider() {
    let gw = start().await;
    let risky = [
        ("x-bf-eh-accept-encoding", "gzip"),
        ("x-bf-eh-range", "bytes=0-10"),
        ("x-bf-eh-x-forwarded-for", "10.0.0.1"),
        ("x-bf-eh-forwarded", "for=10.0.0.1"),
        ("x-bf-eh-x-real-ip", "10.0.0.1"),
        ("x-bf-eh-x-http-method-override", "DELETE"),
        ("x-bf-eh-x-original-url", "/admin"),
        ("x-bf-eh-via", "1.1 evil"),
    ];
    let mut headers = risky.to_vec();
    headers.push(("x-bf-eh-x-trace-id", "trace-8"));
    for model in ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"] {
        let (status, answer) = gw
            .post_with("/v1/chat/completions", chat_body(model), &headers)
            .await;
        assert_eq!(status, 200, "{model}: {answer}");
        assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
        let sent = gw.mock.requests().pop().unwrap();
        assert_eq!(sent.header("x-trace-id").unwrap(), "trace-8");
        for (name, _) in risky {
            let name = name.trim_start_matches("x-bf-eh-");
            assert!(
                sent.header(name).is_none(),
                "{model}: {name} was forwarded as {:?}",
                sent.header(name)
            );
        }
    }
}
