//! OpenAI-dialect requests served by a `vertex` provider, end to end: the gateway picks the key's
//! project and region, gets a bearer token for its service account from the mock's token
//! endpoint (or sends an express-mode API key), and translates to Gemini bodies at
//! `…/publishers/google/models/{m}:generateContent`, to Vertex-form Messages bodies at
//! `…/publishers/anthropic/models/{m}:rawPredict`, and to `:predict` for embeddings. The mock
//! checks the credentials and the bodies and records the paths.

use crate::harness::{TestGateway, chat_body, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};
use std::collections::HashMap;

const EMAIL: &str = "gateway@asbru-test.iam.gserviceaccount.com";
const PROJECT_PATH: &str = "/v1/projects/acme-ml/locations/us-central1/publishers";
const API_KEY: &str = "AQ.express-mode-key-0123456789";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../providers/tests/fixtures/oauth/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

/// A service-account key file pointing at the mock's token endpoint.
fn credentials(mock: &MockServer) -> String {
    json!({
        "type": "service_account",
        "project_id": "acme-ml",
        "private_key_id": "0123456789abcdef",
        "private_key": fixture("test-key.pem"),
        "client_email": EMAIL,
        "client_id": "1234567890",
        "token_uri": format!("{}/token", mock.base_url()),
    })
    .to_string()
}

/// A mock that accepts only the tokens it issues (and `API_KEY`), knowing the service account.
async fn vertex_mock() -> MockServer {
    let mock = MockServer::start(MockOptions {
        valid_keys: Some(vec![API_KEY.to_owned()]),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    mock.set_google_service_account(EMAIL, &fixture("test-key.pub.pem"));
    mock
}

/// `vertex` with one key whose `vertex_key_config` is `key_config` plus `project_id`, and whose
/// value is `value`; the service account comes from `env.TEST_VERTEX_CREDENTIALS`.
fn vertex_config(mock: &MockServer, value: &str, key_config: Value) -> Value {
    let mut vertex = json!({"project_id": "acme-ml", "region": "us-central1"});
    if let (Some(into), Some(from)) = (vertex.as_object_mut(), key_config.as_object()) {
        into.extend(from.clone());
    }
    json!({"providers": {
        "vertex": {
            "keys": [{"name": "gcp", "value": value, "weight": 1, "vertex_key_config": vertex}],
            "network_config": {"base_url": mock.base_url()}
        }
    }})
}

async fn start_with(key_config: Value) -> TestGateway {
    let mock = vertex_mock().await;
    let mut key_config = key_config;
    key_config["auth_credentials"] = json!("env.TEST_VERTEX_CREDENTIALS");
    let env = HashMap::from([("TEST_VERTEX_CREDENTIALS".to_owned(), credentials(&mock))]);
    let config = vertex_config(&mock, "", key_config);
    TestGateway::start_with_env(mock, config, env).await
}

/// A service-account key, with `claude-sonnet-4` deployed as `claude-sonnet-4@20250514`.
async fn start() -> TestGateway {
    start_with(json!({"deployments": {"claude-sonnet-4": "claude-sonnet-4@20250514"}})).await
}

/// The requests that reached a publisher-model route.
fn vertex_requests(gw: &TestGateway) -> Vec<RecordedRequest> {
    gw.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/publishers/"))
        .collect()
}

fn last_sent(gw: &TestGateway) -> (String, Value) {
    let last = vertex_requests(gw).pop().unwrap();
    let body = serde_json::from_slice(&last.body).unwrap();
    (last.path, body)
}

async fn stream(gw: &TestGateway, body: &Value) -> (Vec<Value>, bool) {
    let response = gw.post_stream("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    let done_last = events.last().map(String::as_str) == Some("[DONE]");
    let chunks = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    (chunks, done_last)
}

fn text_of(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

fn weather_tool() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"]
            }
        }
    }])
}

#[tokio::test]
async fn gemini_models_get_a_service_account_token_once_and_reuse_it() {
    let gw = start().await;
    for _ in 0..3 {
        let (status, body) = gw
            .post("/v1/chat/completions", chat_body("vertex/gemini-2.5-flash"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["object"], "chat.completion");
        assert!(
            body["choices"][0]["message"]["content"].is_string(),
            "{body}"
        );
        assert!(
            body["usage"]["total_tokens"].as_u64().unwrap() > 0,
            "{body}"
        );
    }
    assert_eq!(gw.mock.tokens_issued(), 1);

    let requests = gw.mock.requests();
    let tokens: Vec<&RecordedRequest> = requests.iter().filter(|r| r.path == "/token").collect();
    let [token] = tokens.try_into().unwrap();
    let form = token.body_text();
    assert!(
        form.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{form}"
    );
    let sent = vertex_requests(&gw);
    assert_eq!(sent.len(), 3);
    for r in &sent {
        assert_eq!(
            r.path,
            format!("{PROJECT_PATH}/google/models/gemini-2.5-flash:generateContent")
        );
        assert_eq!(r.header("authorization"), Some("Bearer ya29.mock-1"));
        assert_eq!(r.header("x-goog-api-key"), None);
    }
    let (_, body) = last_sent(&gw);
    assert_eq!(body["contents"][0]["parts"][0]["text"], "Hello there");
    assert!(body.get("model").is_none(), "{body}");
}

#[tokio::test]
async fn gemini_streams_and_tools_are_translated() {
    let gw = start().await;
    let mut body = chat_body("vertex/gemini-2.5-flash");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last, "{chunks:?}");
    assert!(!text_of(&chunks).is_empty(), "{chunks:?}");
    let (path, _) = last_sent(&gw);
    assert_eq!(
        path,
        format!("{PROJECT_PATH}/google/models/gemini-2.5-flash:streamGenerateContent")
    );
    let [sent] = vertex_requests(&gw).try_into().unwrap();
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));

    let mut body = chat_body("vertex/gemini-2.5-flash");
    body["messages"] = json!([{"role": "user", "content": "What is the weather in Paris?"}]);
    body["tools"] = weather_tool();
    body["tool_choice"] = json!("required");
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["choices"][0]["finish_reason"], "tool_calls",
        "{answer}"
    );
    let call = &answer["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    let (_, sent) = last_sent(&gw);
    assert_eq!(
        sent["tools"][0]["functionDeclarations"][0]["name"],
        "get_weather"
    );
    assert_eq!(sent["toolConfig"]["functionCallingConfig"]["mode"], "ANY");
}

#[tokio::test]
async fn claude_models_go_to_raw_predict_without_model_and_with_the_vertex_version() {
    let gw = start().await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/claude-sonnet-4"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "chat.completion");
    assert!(
        body["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let (path, sent) = last_sent(&gw);
    // The deployment names the model id sent upstream.
    assert_eq!(
        path,
        format!("{PROJECT_PATH}/anthropic/models/claude-sonnet-4@20250514:rawPredict")
    );
    assert!(sent.get("model").is_none(), "{sent}");
    assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
    assert_eq!(sent["messages"][0]["role"], "user");
    assert!(sent["max_tokens"].is_u64(), "{sent}");
    assert!(sent.get("anthropic_beta").is_none(), "{sent}");

    // Betas travel in the body on Vertex, where it reads them.
    let (status, body) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("vertex/claude-sonnet-4"),
            &[(
                "anthropic-beta",
                "context-1m-2025-08-07, output-128k-2025-02-19",
            )],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, sent) = last_sent(&gw);
    assert_eq!(
        sent["anthropic_beta"],
        json!(["context-1m-2025-08-07", "output-128k-2025-02-19"])
    );

    let mut body = chat_body("vertex/claude-sonnet-4");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last, "{chunks:?}");
    assert!(!text_of(&chunks).is_empty(), "{chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let finishes: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0].get("finish_reason"))
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finishes, [&json!("stop")]);
    let usage = chunks.last().unwrap();
    assert!(
        usage["usage"]["total_tokens"].as_u64().unwrap() > 0,
        "{usage}"
    );
    let (path, sent) = last_sent(&gw);
    assert!(path.ends_with(":streamRawPredict"), "{path}");
    assert_eq!(sent["stream"], true);
    assert!(sent.get("model").is_none(), "{sent}");
    assert_eq!(gw.mock.tokens_issued(), 1);
}

#[tokio::test]
async fn embeddings_go_to_predict_with_usage_from_the_statistics() {
    let gw = start().await;
    let (status, body) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "vertex/text-embedding-005", "input": ["one two", "three"], "dimensions": 16}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 16);
    assert_eq!(body["usage"]["prompt_tokens"], 3);
    let (path, sent) = last_sent(&gw);
    assert_eq!(
        path,
        format!("{PROJECT_PATH}/google/models/text-embedding-005:predict")
    );
    assert_eq!(
        sent,
        json!({"instances": [{"content": "one two"}, {"content": "three"}],
               "parameters": {"outputDimensionality": 16}})
    );

    // gemini-embedding-001 takes one instance per call: one call per input, in order.
    let (status, body) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "vertex/gemini-embedding-001", "input": ["one two", "three"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][1]["index"], 1);
    assert_eq!(body["usage"]["prompt_tokens"], 3);
    let sent: Vec<Value> = vertex_requests(&gw)
        .iter()
        .filter(|r| r.path.contains("gemini-embedding-001:predict"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["instances"], json!([{"content": "one two"}]));
    assert_eq!(sent[1]["instances"], json!([{"content": "three"}]));
}

#[tokio::test]
async fn express_mode_keys_go_in_a_header_to_the_project_less_path() {
    let mock = vertex_mock().await;
    let config = vertex_config(&mock, API_KEY, json!({}));
    let gw = TestGateway::start_with(mock, config).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/gemini-2.5-flash"))
        .await;
    assert_eq!(status, 200, "{body}");
    let [sent] = vertex_requests(&gw).try_into().unwrap();
    assert_eq!(
        sent.path,
        "/v1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(sent.header("x-goog-api-key"), Some(API_KEY));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.query, None, "the key never goes in the URL");
    assert_eq!(gw.mock.tokens_issued(), 0);

    // Claude needs a service account; the gateway says so without calling Vertex.
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/claude-sonnet-4"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("service account"),
        "{body}"
    );
    assert_eq!(vertex_requests(&gw).len(), 1);
}

#[tokio::test]
async fn the_global_region_and_other_projects_are_in_the_path() {
    let gw = start_with(json!({"project_id": "other-proj", "region": "global"})).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/gemini-2.5-flash"))
        .await;
    assert_eq!(status, 200, "{body}");
    let (path, _) = last_sent(&gw);
    assert_eq!(
        path,
        "/v1/projects/other-proj/locations/global/publishers/google/models/gemini-2.5-flash:generateContent"
    );
}

#[tokio::test]
async fn upstream_errors_keep_each_publishers_shape_and_scrub_credentials() {
    let gw = start().await;
    gw.mock.push_fault(Fault::Status {
        status: 429,
        message: "Quota exceeded for aiplatform.googleapis.com.".to_owned(),
    });
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/gemini-2.5-flash"))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["type"], "RESOURCE_EXHAUSTED", "{body}");

    gw.mock.push_fault(Fault::Status {
        status: 529,
        message: String::new(),
    });
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/claude-sonnet-4"))
        .await;
    assert_eq!(status, 529, "{body}");
    assert_eq!(body["error"]["type"], "overloaded_error", "{body}");

    // A message echoing the bearer token comes back with the token scrubbed.
    gw.mock.push_fault(Fault::Status {
        status: 403,
        message: "token ya29.mock-1 lacks aiplatform.endpoints.predict".to_owned(),
    });
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/gemini-2.5-flash"))
        .await;
    assert_eq!(status, 403, "{body}");
    let text = body.to_string();
    assert!(!text.contains("ya29.mock-1"), "{text}");
    assert!(text.contains("[REDACTED]"), "{text}");
}

#[tokio::test]
async fn refused_credentials_are_clear_errors_without_secrets() {
    // The token endpoint does not know this service account.
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let key_file = credentials(&mock);
    let env = HashMap::from([("TEST_VERTEX_CREDENTIALS".to_owned(), key_file)]);
    let config = vertex_config(
        &mock,
        "",
        json!({"auth_credentials": "env.TEST_VERTEX_CREDENTIALS"}),
    );
    let gw = TestGateway::start_with_env(mock, config, env).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/gemini-2.5-flash"))
        .await;
    assert_eq!(status, 401, "{body}");
    let text = body.to_string();
    assert!(text.contains("access token"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    assert!(vertex_requests(&gw).is_empty());

    // A wrong express-mode key: Google's 400, the key never echoed.
    let mock = vertex_mock().await;
    let wrong = "AQ.wrong-express-key-987654321";
    let config = vertex_config(&mock, wrong, json!({}));
    let gw = TestGateway::start_with(mock, config).await;
    let response = gw
        .post_stream(
            "/v1/chat/completions",
            &chat_body("vertex/gemini-2.5-flash"),
        )
        .await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("API key not valid"), "{text}");
    assert!(!text.contains(wrong), "{text}");

    // Neither credentials nor a value: Application Default Credentials are not read.
    let mock = vertex_mock().await;
    let config = vertex_config(&mock, "", json!({}));
    let gw = TestGateway::start_with(mock, config).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("vertex/gemini-2.5-flash"))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "missing_credentials", "{body}");
}

#[tokio::test]
async fn models_are_listed_from_the_configuration() {
    let gw = start().await;
    let (status, body) = gw.get("/v1/models").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert!(ids.contains(&"vertex/claude-sonnet-4"), "{body}");
    assert!(vertex_requests(&gw).is_empty());
}
