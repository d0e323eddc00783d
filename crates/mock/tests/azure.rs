//! The mock standing in for Azure OpenAI: deployment routes require a known `api-version` and
//! accept the key in `api-key`; the recorded request says which deployment was addressed.

#![expect(clippy::unwrap_used, reason = "tests")]

use asbru_mock::{MockOptions, MockServer};
use serde_json::{Value, json};

async fn start() -> MockServer {
    MockServer::start(MockOptions {
        valid_keys: Some(vec!["az-key".to_owned()]),
        ..MockOptions::default()
    })
    .await
    .unwrap()
}

async fn call(
    server: &MockServer,
    method: reqwest::Method,
    path_and_query: &str,
    key: &str,
) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut request = client
        .request(
            method.clone(),
            format!("{}{path_and_query}", server.base_url()),
        )
        .header("api-key", key);
    if method == reqwest::Method::POST {
        request = request
            .header("content-type", "application/json")
            .body(json!({"messages": [{"role": "user", "content": "hi"}]}).to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn deployment_routes_need_a_known_api_version() {
    let mock = start().await;
    let path = "/openai/deployments/my%20gpt/chat/completions";

    let (status, body) = call(&mock, reqwest::Method::POST, path, "az-key").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["message"], "Resource not found");
    assert_eq!(body["error"]["code"], "404");

    let (status, body) = call(
        &mock,
        reqwest::Method::POST,
        &format!("{path}?api-version=1999-01-01"),
        "az-key",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["message"], "API version not supported");

    let (status, body) = call(
        &mock,
        reqwest::Method::POST,
        &format!("{path}?api-version=2024-10-21"),
        "az-key",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");

    let (status, _) = call(
        &mock,
        reqwest::Method::POST,
        &format!("{path}?api-version=2024-10-21"),
        "wrong",
    )
    .await;
    assert_eq!(status, 401);

    let recorded = mock.requests();
    let last = recorded.last().unwrap();
    assert_eq!(last.azure_deployment().as_deref(), Some("my gpt"));
    assert_eq!(
        last.query_param("api-version").as_deref(),
        Some("2024-10-21")
    );
    assert_eq!(last.header("api-key"), Some("wrong"));
}

#[tokio::test]
async fn models_route_needs_the_api_version_too_and_others_do_not() {
    let mock = start().await;
    let (status, _) = call(&mock, reqwest::Method::GET, "/openai/models", "az-key").await;
    assert_eq!(status, 404);
    let (status, body) = call(
        &mock,
        reqwest::Method::GET,
        "/openai/models?api-version=2024-10-21",
        "az-key",
    )
    .await;
    assert_eq!(status, 200);
    assert!(!body["data"].as_array().unwrap().is_empty());
    // The OpenAI routes (and Azure's v1 API under /openai/v1) take no api-version.
    let (status, _) = call(&mock, reqwest::Method::GET, "/openai/v1/models", "az-key").await;
    assert_eq!(status, 200);
    let (status, _) = call(&mock, reqwest::Method::GET, "/v1/models", "az-key").await;
    assert_eq!(status, 200);
    assert_eq!(mock.requests()[0].azure_deployment(), None);
}
