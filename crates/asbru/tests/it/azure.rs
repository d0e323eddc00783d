//! OpenAI-dialect requests served by an `azure` provider, end to end through the router: the
//! gateway forwards the body to `{endpoint}/openai/deployments/{deployment}/…?api-version=…` of the
//! chosen key, with `api-key` or an Entra ID bearer token; the mock checks the API version and
//! records which deployment was addressed.

use crate::harness::{TestGateway, chat_body, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};
use std::collections::HashMap;

const KEY: &str = "az-key-0123456789";
const TENANT: &str = "contoso-tenant";
const CLIENT_ID: &str = "app-client-id";
const CLIENT_SECRET: &str = "entra-secret-value-42";

async fn mock_with_keys(keys: &[&str]) -> MockServer {
    MockServer::start(MockOptions {
        valid_keys: Some(keys.iter().map(|k| (*k).to_owned()).collect()),
        ..MockOptions::default()
    })
    .await
    .unwrap()
}

/// An `azure` key on `endpoint` with `extra` merged into its `azure_key_config`.
fn azure_key(name: &str, value: &str, endpoint: &str, extra: Value) -> Value {
    let mut config = json!({"endpoint": endpoint});
    if let (Some(into), Some(from)) = (config.as_object_mut(), extra.as_object()) {
        into.extend(from.clone());
    }
    json!({"name": name, "value": value, "weight": 1, "azure_key_config": config})
}

/// `azure` with `keys` (no retries unless `network` says so) and `openai` on the same mock.
fn config(mock: &MockServer, keys: Vec<Value>, network: Value) -> Value {
    json!({"providers": {
        "azure": {"keys": keys, "network_config": network},
        "openai": {
            "keys": [{"name": "main", "value": "sk-test-1", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }
    }})
}

/// One azure key with deployments `gpt-4o → gpt4o-prod`, `text-embedding-3-small → embed-prod`
/// and `gpt-3.5-turbo-instruct → instruct-prod`.
async fn start() -> TestGateway {
    let mock = mock_with_keys(&[KEY, "sk-test-1"]).await;
    let key = azure_key(
        "az",
        KEY,
        &mock.base_url(),
        json!({"deployments": {
            "gpt-4o": "gpt4o-prod",
            "text-embedding-3-small": "embed-prod",
            "gpt-3.5-turbo-instruct": "instruct-prod"
        }}),
    );
    let config = config(&mock, vec![key], json!({}));
    TestGateway::start_with(mock, config).await
}

fn azure_requests(mock: &MockServer) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path.contains("/openai/"))
        .collect()
}

#[tokio::test]
async fn chat_goes_to_the_deployment_with_api_version_and_api_key() {
    let gw = start().await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the mock."
    );
    assert_eq!(body["extra_fields"]["provider"], "azure");
    assert_eq!(body["extra_fields"]["model_requested"], "gpt-4o");

    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(sent.azure_deployment().as_deref(), Some("gpt4o-prod"));
    assert_eq!(
        sent.query_param("api-version").as_deref(),
        Some("2024-10-21")
    );
    assert_eq!(sent.header("api-key"), Some(KEY));
    assert_eq!(sent.header("authorization"), None);
    // The body is the client's, `model` without the provider prefix (Azure does not read it).
    let json = sent.json().unwrap();
    assert_eq!(json["model"], "gpt-4o");
    assert_eq!(json["messages"][0]["content"], "Hello there");
}

#[tokio::test]
async fn streams_are_forwarded_with_usage_asked_for() {
    let gw = start().await;
    let mut body = chat_body("azure/gpt-4o");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the mock.");
    assert!(
        chunks
            .iter()
            .all(|c| c["extra_fields"]["provider"] == "azure")
    );
    // The usage-only chunk the gateway asked for is not shown to a client that did not.
    assert!(
        chunks
            .iter()
            .all(|c| c.get("usage").is_none_or(Value::is_null))
    );

    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert_eq!(sent.path, "/openai/deployments/gpt4o-prod/chat/completions");
    assert_eq!(
        sent.query_param("api-version").as_deref(),
        Some("2024-10-21")
    );
    let json = sent.json().unwrap();
    assert_eq!(json["stream"], true);
    assert_eq!(json["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn embeddings_and_text_completions_use_their_deployments() {
    let gw = start().await;
    let (status, body) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "azure/text-embedding-3-small", "input": ["a", "b"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    let (status, body) = gw
        .post(
            "/v1/completions",
            json!({"model": "azure/gpt-3.5-turbo-instruct", "prompt": "Say hi"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "text_completion");

    let sent = azure_requests(&gw.mock);
    let paths: Vec<&str> = sent.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/openai/deployments/embed-prod/embeddings",
            "/openai/deployments/instruct-prod/completions"
        ]
    );
    assert!(
        sent.iter()
            .all(|r| r.query_param("api-version").as_deref() == Some("2024-10-21"))
    );
}

#[tokio::test]
async fn the_key_api_version_is_sent_and_an_unknown_one_is_azures_400() {
    let mock = mock_with_keys(&[KEY]).await;
    let keys = vec![azure_key(
        "new",
        KEY,
        &mock.base_url(),
        json!({"api_version": "2024-06-01"}),
    )];
    let gw = TestGateway::start_with(mock, config_with(keys)).await;
    let (status, _) = gw
        .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
        .await;
    assert_eq!(status, 200);
    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert_eq!(
        sent.query_param("api-version").as_deref(),
        Some("2024-06-01")
    );
    // Without deployments, the model is the deployment.
    assert_eq!(sent.azure_deployment().as_deref(), Some("gpt-4o"));

    let mock = mock_with_keys(&[KEY]).await;
    let keys = vec![azure_key(
        "old",
        KEY,
        &mock.base_url(),
        json!({"api_version": "1999-01-01"}),
    )];
    let gw = TestGateway::start_with(mock, config_with(keys)).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["message"], "API version not supported");
}

/// A config with only `azure` and `keys`.
fn config_with(keys: Vec<Value>) -> Value {
    json!({"providers": {"azure": {"keys": keys}}})
}

#[tokio::test]
async fn a_key_without_the_models_deployment_is_never_used() {
    let mock = mock_with_keys(&["key-a", "key-b"]).await;
    let url = mock.base_url();
    let keys = vec![
        azure_key(
            "a",
            "key-a",
            &url,
            json!({"deployments": {"gpt-4o": "a-4o"}}),
        ),
        azure_key(
            "b",
            "key-b",
            &url,
            json!({"deployments": {"gpt-4o-mini": "b-mini"}}),
        ),
    ];
    let gw = TestGateway::start_with(mock, config_with(keys)).await;
    for _ in 0..12 {
        let (status, body) = gw
            .post("/v1/chat/completions", chat_body("azure/gpt-4o-mini"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let sent = azure_requests(&gw.mock);
    assert_eq!(sent.len(), 12);
    assert!(sent.iter().all(|r| r.header("api-key") == Some("key-b")));
    assert!(
        sent.iter()
            .all(|r| r.azure_deployment().as_deref() == Some("b-mini"))
    );

    // A model no key has a deployment for is refused before anything is sent.
    gw.mock.clear_requests();
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("azure/gpt-4.1"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "no_key_for_model");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("azure_key_config.deployments")
    );
    assert!(azure_requests(&gw.mock).is_empty());
}

#[tokio::test]
async fn keys_on_two_endpoints_share_the_traffic() {
    let first = mock_with_keys(&["key-1"]).await;
    let second = mock_with_keys(&["key-2"]).await;
    let keys = vec![
        azure_key("east", "key-1", &first.base_url(), json!({})),
        azure_key("west", "key-2", &second.base_url(), json!({})),
    ];
    let gw = TestGateway::start_with(first, config_with(keys)).await;
    for _ in 0..40 {
        let (status, body) = gw
            .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let east = azure_requests(&gw.mock);
    let west = azure_requests(&second);
    assert_eq!(east.len() + west.len(), 40);
    assert!(
        east.len() >= 5 && west.len() >= 5,
        "{} / {}",
        east.len(),
        west.len()
    );
    assert!(east.iter().all(|r| r.header("api-key") == Some("key-1")));
    assert!(west.iter().all(|r| r.header("api-key") == Some("key-2")));
}

#[tokio::test]
async fn a_refused_key_is_401_and_never_echoed() {
    let mock = mock_with_keys(&["some-other-key"]).await;
    let keys = vec![azure_key("az", KEY, &mock.base_url(), json!({}))];
    let gw = TestGateway::start_with(mock, config_with(keys)).await;
    let response = gw
        .post_stream("/v1/chat/completions", &chat_body("azure/gpt-4o"))
        .await;
    assert_eq!(response.status(), 401);
    let text = response.text().await.unwrap();
    assert!(!text.contains(KEY), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert_eq!(sent.header("api-key"), Some(KEY));
}

fn entra_config(mock: &MockServer, secret: &str) -> Value {
    config_with(vec![azure_key(
        "entra",
        "",
        &mock.base_url(),
        json!({"client_id": CLIENT_ID, "client_secret": secret, "tenant_id": TENANT}),
    )])
}

fn authority_env(mock: &MockServer) -> HashMap<String, String> {
    HashMap::from([("AZURE_AUTHORITY_HOST".to_owned(), mock.base_url())])
}

#[tokio::test]
async fn entra_tokens_are_fetched_once_and_sent_as_bearer() {
    // The mock accepts only the tokens it issued.
    let mock = mock_with_keys(&[]).await;
    mock.set_entra_app(TENANT, CLIENT_ID, CLIENT_SECRET);
    let config = entra_config(&mock, CLIENT_SECRET);
    let env = authority_env(&mock);
    let gw = TestGateway::start_with_env(mock, config, env).await;
    for _ in 0..3 {
        let (status, body) = gw
            .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let mut body = chat_body("azure/gpt-4o");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    sse_data(response).await;
    assert_eq!(gw.mock.tokens_issued(), 1);

    let requests = gw.mock.requests();
    let token_requests: Vec<&RecordedRequest> = requests
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .collect();
    let [token_request] = token_requests.try_into().unwrap();
    assert_eq!(token_request.path, format!("/{TENANT}/oauth2/v2.0/token"));
    let form = token_request.body_text();
    assert!(form.contains("grant_type=client_credentials"), "{form}");
    assert!(
        form.contains("scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default"),
        "{form}"
    );
    let sent = azure_requests(&gw.mock);
    assert_eq!(sent.len(), 4);
    for r in &sent {
        assert_eq!(r.header("authorization"), Some("Bearer eyJ0.mock-entra-1"));
        assert_eq!(r.header("api-key"), None);
    }
}

#[tokio::test]
async fn a_refused_entra_secret_is_a_clear_401() {
    let mock = mock_with_keys(&[]).await;
    mock.set_entra_app(TENANT, CLIENT_ID, CLIENT_SECRET);
    let config = entra_config(&mock, "not-the-secret-at-all");
    let env = authority_env(&mock);
    let gw = TestGateway::start_with_env(mock, config, env).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
        .await;
    assert_eq!(status, 401, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("could not get an access token"),
        "{message}"
    );
    assert!(message.contains("AADSTS7000215"), "{message}");
    assert!(!body.to_string().contains("not-the-secret-at-all"));
    assert_eq!(body["extra_fields"]["provider"], "azure");
    assert!(
        azure_requests(&gw.mock).is_empty(),
        "nothing sent without a token"
    );
}

#[tokio::test]
async fn network_base_url_replaces_the_key_endpoint() {
    let mock = mock_with_keys(&[KEY]).await;
    let keys = vec![azure_key(
        "az",
        KEY,
        "https://unreachable.openai.azure.com",
        json!({}),
    )];
    let config = config(
        &mock,
        keys,
        json!({"base_url": format!("{}/", mock.base_url())}),
    );
    let gw = TestGateway::start_with(mock, config).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{body}");
    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert_eq!(sent.path, "/openai/deployments/gpt-4o/chat/completions");
}

#[tokio::test]
async fn a_model_name_stays_one_path_segment() {
    let mock = mock_with_keys(&[KEY]).await;
    let keys = vec![azure_key("az", KEY, &mock.base_url(), json!({}))];
    let gw = TestGateway::start_with(mock, config_with(keys)).await;
    let (status, body) = gw
        .post(
            "/v1/chat/completions",
            chat_body("azure/team/../../models?x=1"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert!(
        sent.path
            .starts_with("/openai/deployments/team%2F..%2F..%2Fmodels%3Fx=1/"),
        "{}",
        sent.path
    );
    assert_eq!(
        sent.azure_deployment().as_deref(),
        Some("team/../../models?x=1")
    );
    assert_eq!(sent.query_param("x"), None);
}

#[tokio::test]
async fn retries_and_fallbacks_work() {
    let mock = mock_with_keys(&[KEY, "sk-test-1"]).await;
    let keys = vec![azure_key("az", KEY, &mock.base_url(), json!({}))];
    let config = config(
        &mock,
        keys,
        json!({"max_retries": 1, "retry_backoff_initial_ms": 10, "retry_backoff_max_ms": 20}),
    );
    let gw = TestGateway::start_with(mock, config).await;

    gw.mock.push_fault(Fault::status(503));
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("azure/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["extra_fields"]["retries"], 1);
    assert_eq!(azure_requests(&gw.mock).len(), 2);

    gw.mock.clear_requests();
    gw.mock.set_model_fault(
        "gpt-4o",
        Some(Fault::Status {
            status: 500,
            message: "azure is down".to_owned(),
        }),
    );
    let mut body = chat_body("azure/gpt-4o");
    body["fallbacks"] = json!(["openai/gpt-4o-mini"]);
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "openai");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    assert_eq!(azure_requests(&gw.mock).len(), 2, "azure tried, retried");

    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["extra_fields"]["provider"], "openai");
}

#[tokio::test]
async fn models_come_from_the_deployments_or_the_resource() {
    let gw = start().await;
    let (status, body) = gw.get("/v1/models?provider=azure").await;
    assert_eq!(status, 200, "{body}");
    let mut listed: Vec<(String, String)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["deployment"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            (
                "azure/gpt-3.5-turbo-instruct".to_owned(),
                "instruct-prod".to_owned()
            ),
            ("azure/gpt-4o".to_owned(), "gpt4o-prod".to_owned()),
            (
                "azure/text-embedding-3-small".to_owned(),
                "embed-prod".to_owned()
            ),
        ]
    );
    assert!(
        azure_requests(&gw.mock).is_empty(),
        "listed from the config"
    );

    // Without deployments, the resource is asked.
    let mock = mock_with_keys(&[KEY]).await;
    let keys = vec![azure_key("az", KEY, &mock.base_url(), json!({}))];
    let gw = TestGateway::start_with(mock, config_with(keys)).await;
    let (status, body) = gw.get("/v1/models?provider=azure").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"azure/gpt-4o"), "{ids:?}");
    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.path, "/openai/models");
    assert_eq!(
        sent.query_param("api-version").as_deref(),
        Some("2024-10-21")
    );
    assert_eq!(sent.header("api-key"), Some(KEY));
}

#[tokio::test]
async fn a_custom_provider_based_on_azure_works_too() {
    let mock = mock_with_keys(&[KEY]).await;
    let config = json!({"providers": {"my-azure": {
        "keys": [azure_key("az", KEY, &mock.base_url(), json!({"deployments": {"gpt-4o": "dep"}}))],
        "custom_provider_config": {"base_provider_type": "azure"}
    }}});
    let gw = TestGateway::start_with(mock, config).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("my-azure/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{body}");
    let [sent] = azure_requests(&gw.mock).try_into().unwrap();
    assert_eq!(sent.azure_deployment().as_deref(), Some("dep"));
}
