//! The mock's Vertex AI publisher-model routes through a real HTTP client: Google Cloud's
//! authentication, Gemini and Claude bodies in their Vertex form, and `:predict` embeddings.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions should fail loudly too"
)]

use asbru_mock::{MockOptions, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A bearer token the mock accepts (listed in `valid_keys`); tokens from its token endpoint are
/// accepted too, which the gateway's integration tests exercise.
const TOKEN: &str = "ya29.listed-token";
const API_KEY: &str = "AQ.express-key";
const PROJECT: &str = "/v1/projects/acme/locations/us-central1/publishers";

async fn start() -> MockServer {
    let opts = MockOptions {
        valid_keys: Some(vec![TOKEN.to_owned(), API_KEY.to_owned()]),
        ..MockOptions::default()
    };
    MockServer::start(opts).await.unwrap()
}

async fn post(
    server: &MockServer,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (StatusCode, String) {
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("{}{path}", server.base_url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn bearer() -> [(&'static str, String); 1] {
    [("authorization", format!("Bearer {TOKEN}"))]
}

async fn post_bearer(server: &MockServer, path: &str, body: &Value) -> (StatusCode, String) {
    let [(name, value)] = bearer();
    post(server, path, &[(name, value.as_str())], body).await
}

fn gemini_body() -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]})
}

fn claude_body() -> Value {
    json!({
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello"}]
    })
}

#[tokio::test]
async fn gemini_models_answer_in_gemini_shape_and_the_path_is_recorded() {
    let server = start().await;
    let path = format!("{PROJECT}/google/models/gemini-2.5-flash:generateContent");
    let (status, text) = post_bearer(&server, &path, &gemini_body()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert!(
        answer["candidates"][0]["content"]["parts"][0]["text"].is_string(),
        "{answer}"
    );
    let recorded = server.requests();
    assert_eq!(recorded.last().unwrap().path, path);

    let stream = format!("{PROJECT}/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    let (status, text) = post_bearer(&server, &stream, &gemini_body()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with("data: "), "{text}");
    assert!(text.contains("finishReason"), "{text}");
}

#[tokio::test]
async fn claude_models_take_the_vertex_form_of_the_messages_body() {
    let server = start().await;
    let raw = format!("{PROJECT}/anthropic/models/claude-sonnet-4@20250514:rawPredict");
    let (status, text) = post_bearer(&server, &raw, &claude_body()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["type"], "message", "{answer}");
    assert_eq!(answer["model"], "claude-sonnet-4@20250514");

    let stream = format!("{PROJECT}/anthropic/models/claude-sonnet-4@20250514:streamRawPredict");
    let (status, text) = post_bearer(&server, &stream, &claude_body()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.starts_with("event: message_start"), "{text}");
    assert!(text.contains("event: message_stop"), "{text}");

    // `model` in the body, or `anthropic_version` missing or Anthropic's own: refused in
    // Anthropic's shape.
    let mut with_model = claude_body();
    with_model["model"] = json!("claude-sonnet-4");
    let mut without_version = claude_body();
    without_version
        .as_object_mut()
        .unwrap()
        .remove("anthropic_version");
    let mut wrong_version = claude_body();
    wrong_version["anthropic_version"] = json!("2023-06-01");
    for body in [with_model, without_version, wrong_version] {
        let (status, text) = post_bearer(&server, &raw, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        let error: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error["type"], "error", "{error}");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
    }
}

#[tokio::test]
async fn credentials_are_checked_in_google_shape() {
    let server = start().await;
    let path = format!("{PROJECT}/anthropic/models/claude-x:rawPredict");
    let (status, text) = post(&server, &path, &[], &claude_body()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{text}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["status"], "UNAUTHENTICATED", "{error}");

    let (status, _) = post(
        &server,
        &path,
        &[("authorization", "Bearer ya29.made-up")],
        &claude_body(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Express mode: an API key on the project-less path.
    let express = "/v1/publishers/google/models/gemini-2.5-flash:generateContent";
    let (status, text) = post(
        &server,
        express,
        &[("x-goog-api-key", API_KEY)],
        &gemini_body(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) = post(
        &server,
        express,
        &[("x-goog-api-key", "AQ.wrong")],
        &gemini_body(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("API_KEY_INVALID"), "{text}");
}

#[tokio::test]
async fn predict_serves_text_embeddings_and_unknown_methods_are_404() {
    let server = start().await;
    let path = format!("{PROJECT}/google/models/text-embedding-005:predict");
    let body = json!({
        "instances": [{"content": "one two"}, {"content": "three"}],
        "parameters": {"outputDimensionality": 8}
    });
    let (status, text) = post_bearer(&server, &path, &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["predictions"].as_array().unwrap().len(), 2);
    assert_eq!(
        answer["predictions"][0]["embeddings"]["values"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(
        answer["predictions"][0]["embeddings"]["statistics"]["token_count"],
        2
    );

    let unknown = format!("{PROJECT}/google/models/gemini-2.5-flash:rawPredict");
    let (status, text) = post_bearer(&server, &unknown, &gemini_body()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
}

#[tokio::test]
async fn service_accounts_can_be_registered_over_the_control_route() {
    let server = start().await;
    let account = json!({"client_email": "sa@p.iam.gserviceaccount.com", "public_key_pem": "-----BEGIN PUBLIC KEY-----"});
    let (status, text) = post(&server, "/__mock/oauth/google", &[], &account).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) = post(&server, "/__mock/oauth/google", &[], &json!({"x": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
}
