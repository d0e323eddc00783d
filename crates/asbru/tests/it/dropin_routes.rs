//! How the drop-in route sets are mounted and how they name providers: `/openai/…` (with and
//! without `/v1`, Azure deployment paths), the same sets joined under `/litellm` and
//! `/langchain`, and the rule that a bare model takes the route's provider while `/v1` keeps
//! requiring `provider/model`.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::json;

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let config = json!({"providers": {
        "openai": {"keys": [{"name": "o", "value": "sk-openai", "weight": 1}],
                   "network_config": {"base_url": base}},
        "anthropic": {"keys": [{"name": "a", "value": "sk-ant", "weight": 1}],
                      "network_config": {"base_url": base}},
        "azure": {"keys": [{"name": "z", "value": "az-key", "weight": 1,
                            "azure_key_config": {"endpoint": base,
                                                 "deployments": {"gpt-4o": "gpt-4o-prod"}}}]}
    }});
    TestGateway::start_with(mock, config).await
}

fn upstream_paths(gw: &TestGateway) -> Vec<String> {
    gw.mock.requests().into_iter().map(|r| r.path).collect()
}

#[tokio::test]
async fn a_bare_model_takes_the_routes_provider_but_not_on_v1() {
    let gw = start().await;
    for path in [
        "/openai/v1/chat/completions",
        "/openai/chat/completions",
        "/litellm/v1/chat/completions",
        "/langchain/chat/completions",
    ] {
        let (status, answer) = gw.post(path, chat_body("gpt-4o-mini")).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer["extra_fields"]["provider"], "openai", "{path}");
    }
    let (status, answer) = gw
        .post("/v1/chat/completions", chat_body("gpt-4o-mini"))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "model");
}

#[tokio::test]
async fn a_prefix_that_is_no_provider_stays_in_the_model_name() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/openai/v1/chat/completions",
            chat_body("meta-llama/Llama-3.3-70B"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = gw.mock.requests().pop().unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["model"], "meta-llama/Llama-3.3-70B");
}

#[tokio::test]
async fn a_provider_prefix_on_a_drop_in_route_picks_that_provider() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/openai/v1/chat/completions",
            chat_body("anthropic/claude-sonnet-4-5"),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(upstream_paths(&gw), ["/v1/messages"]);
}

#[tokio::test]
async fn fallbacks_apply_on_drop_in_routes() {
    let gw = start().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "down".into(),
    });
    let mut body = chat_body("gpt-4o-mini");
    body["fallbacks"] = json!(["anthropic/claude-sonnet-4-5"]);
    let (status, answer) = gw.post("/openai/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        upstream_paths(&gw),
        ["/v1/chat/completions", "/v1/messages"]
    );
}

#[tokio::test]
async fn azure_deployment_paths_name_the_azure_model() {
    let gw = start().await;
    for path in [
        "/openai/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
        "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
    ] {
        let (status, answer) = gw.post(path, chat_body("ignored-by-azure")).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer["extra_fields"]["provider"], "azure");
    }
    let paths = upstream_paths(&gw);
    assert!(
        paths
            .iter()
            .all(|p| p == "/openai/deployments/gpt-4o-prod/chat/completions"),
        "{paths:?}"
    );
}

#[tokio::test]
async fn every_sdk_set_is_mounted_under_litellm_and_langchain() {
    let gw = start().await;
    let messages = json!({"model": "claude-sonnet-4-5", "max_tokens": 50,
                          "messages": [{"role": "user", "content": "hi"}]});
    for prefix in ["/litellm", "/langchain", "/anthropic", ""] {
        let (status, answer) = gw
            .post(&format!("{prefix}/v1/messages"), messages.clone())
            .await;
        assert_eq!(status, 200, "{prefix}: {answer}");
        assert_eq!(answer["type"], "message", "{prefix}");
    }
    let (status, _) = gw.post("/litellm/v1/nothing-here", json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_dialects_fields_reach_only_providers_that_know_them() {
    let gw = start().await;
    let ask = |model: &str| {
        json!({"model": model, "max_tokens": 50, "top_k": 5,
               "messages": [{"role": "user", "content": "hi"}]})
    };
    let (status, answer) = gw
        .post("/anthropic/v1/messages", ask("openai/gpt-4o-mini"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = gw
        .post("/anthropic/v1/messages", ask("claude-sonnet-4-5"))
        .await;
    assert_eq!(status, 200, "{answer}");
    let bodies: Vec<(String, serde_json::Value)> = gw
        .mock
        .requests()
        .into_iter()
        .map(|r| (r.path, serde_json::from_slice(&r.body).unwrap()))
        .collect();
    assert_eq!(bodies[0].0, "/v1/chat/completions");
    assert!(bodies[0].1.get("top_k").is_none(), "{}", bodies[0].1);
    assert_eq!(bodies[1].0, "/v1/messages");
    assert_eq!(bodies[1].1["top_k"], 5);
}
