//! The OpenAI routes end to end: what the client gets and what the provider receives.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{MockOptions, MockServer};
use serde_json::json;

#[tokio::test]
async fn chat_completion_round_trip() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .post(
            "/v1/chat/completions",
            json!({
                "model": "openai/gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hello there"}],
                "temperature": 0.25,
                "fallbacks": ["groq/llama-3.1-8b-instant"],
                "metadata": {"nested": [1, 2, {"x": "é"}]}
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);
    assert_eq!(body["extra_fields"]["provider"], "openai");
    assert_eq!(body["extra_fields"]["model_requested"], "gpt-4o-mini");
    assert_eq!(body["extra_fields"]["request_type"], "chat.completion");
    assert!(body["extra_fields"]["latency"].is_u64());
    // gpt-4o-mini at the built-in prices: $0.15 / 1M input, $0.60 / 1M output.
    let prompt = body["usage"]["prompt_tokens"].as_f64().unwrap();
    let completion = body["usage"]["completion_tokens"].as_f64().unwrap();
    let cost = body["extra_fields"]["cost"].as_f64().unwrap();
    let expected = prompt * 0.15e-6 + completion * 0.6e-6;
    assert!((cost - expected).abs() < 1e-12, "{cost} != {expected}");

    let requests = gw.mock.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-1"));
    let upstream = sent.json().unwrap();
    assert_eq!(upstream["model"], "gpt-4o-mini");
    assert!(
        upstream.get("fallbacks").is_none(),
        "gateway-only field leaked: {upstream}"
    );
    assert_eq!(upstream["temperature"], 0.25);
    assert_eq!(upstream["metadata"], json!({"nested": [1, 2, {"x": "é"}]}));
}

#[tokio::test]
async fn text_completions_and_embeddings() {
    let gw = TestGateway::start().await;
    let (status, body) = gw
        .post(
            "/v1/completions",
            json!({"model": "openai/gpt-3.5-turbo-instruct", "prompt": "Say hi"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "text_completion");
    assert!(body["choices"][0]["text"].is_string());
    assert_eq!(body["extra_fields"]["request_type"], "text.completion");

    let (status, body) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "openai/text-embedding-3-small", "input": ["a", "b"], "dimensions": 4}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["embedding"].as_array().unwrap().len(), 4);
    assert_eq!(body["extra_fields"]["request_type"], "embedding");
    let paths: Vec<String> = gw.mock.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1/completions", "/v1/embeddings"]);
}

#[tokio::test]
async fn models_are_listed_with_provider_prefix_and_filtered() {
    let first = MockServer::start(MockOptions {
        models: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let second = MockServer::start(MockOptions {
        models: vec!["llama-3.1-8b-instant".into()],
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let config = json!({"providers": {
        // A key limited to some models still lists them all.
        "openai": {"keys": [{"name": "a", "value": "sk-a", "models": ["gpt-4o"], "weight": 1}], "network_config": {"base_url": first.base_url()}},
        "groq": {"keys": [{"name": "b", "value": "sk-b", "weight": 1}], "network_config": {"base_url": second.base_url()}}
    }});
    let gw = TestGateway::start_with(first, config).await;
    let (status, body) = gw.get("/v1/models").await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "groq/llama-3.1-8b-instant",
            "openai/gpt-4o",
            "openai/gpt-4o-mini"
        ]
    );

    let (status, body) = gw.get("/v1/models?provider=groq").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        second.requests()[0].header("authorization"),
        Some("Bearer sk-b")
    );

    let (status, body) = gw.get("/v1/models?provider=nope").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn health_answers() {
    let gw = TestGateway::start().await;
    let (status, body) = gw.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn extra_headers_presets_and_custom_providers() {
    let mock = MockServer::start(MockOptions {
        require_auth: false,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let config = json!({"providers": {
        "groq": {
            "keys": [{"name": "g", "value": "gsk-1", "weight": 1}],
            "network_config": {"base_url": format!("{base}/openai/"), "extra_headers": {"X-Team": "ml", "OpenAI-Organization": "org-1"}}
        },
        "perplexity": {"keys": [{"name": "p", "value": "pplx-1", "weight": 1}], "network_config": {"base_url": base}},
        "my-llamacpp": {
            "keys": [],
            "network_config": {"base_url": format!("{base}/llama")},
            "custom_provider_config": {"base_provider_type": "openai", "is_key_less": true,
                "allowed_requests": {"chat_completion": true, "chat_completion_stream": true, "list_models": true}}
        }
    }});
    let gw = TestGateway::start_with(mock, config).await;
    for model in [
        "groq/llama-3.1-8b-instant",
        "perplexity/sonar",
        "my-llamacpp/qwen",
    ] {
        let (status, body) = gw.post("/v1/chat/completions", chat_body(model)).await;
        assert_eq!(status, 200, "{model}: {body}");
    }
    let requests = gw.mock.requests();
    assert_eq!(requests[0].path, "/openai/v1/chat/completions");
    assert_eq!(requests[0].header("x-team"), Some("ml"));
    assert_eq!(requests[0].header("openai-organization"), Some("org-1"));
    assert_eq!(requests[0].header("authorization"), Some("Bearer gsk-1"));
    assert_eq!(requests[1].path, "/chat/completions");
    assert_eq!(requests[2].path, "/llama/v1/chat/completions");
    assert_eq!(requests[2].header("authorization"), None);
    assert_eq!(requests[2].json().unwrap()["model"], "qwen");

    // The custom provider allows chat only.
    let (status, body) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "my-llamacpp/qwen", "input": "x"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("embedding")
    );
    // Groq has no embeddings endpoint.
    let (status, _) = gw
        .post("/v1/embeddings", json!({"model": "groq/x", "input": "x"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        gw.mock.requests().len(),
        3,
        "refused requests must not reach the provider"
    );
}

#[tokio::test]
async fn model_names_with_slashes_keep_everything_after_the_provider() {
    let gw = TestGateway::start().await;
    let (status, _) = gw
        .post("/v1/chat/completions", chat_body("openai/org/custom-model"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        gw.mock.requests()[0].json().unwrap()["model"],
        "org/custom-model"
    );
}
