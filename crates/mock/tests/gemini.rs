//! The mock's Gemini dialect through a real HTTP client, checked against the documented examples
//! kept in `tests/fixtures/gemini/` (see its README for sources).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions should fail loudly too"
)]

use asbru_mock::{Fault, MockOptions, MockServer};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::path::PathBuf;

const KEY: &str = "AIza-test-key";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn start() -> MockServer {
    start_with(|_| {}).await
}

async fn start_with(f: impl FnOnce(&mut MockOptions)) -> MockServer {
    let mut opts = MockOptions {
        models: [
            "gemini-2.5-flash",
            "gemini-2.5-pro",
            "gemini-3-pro-preview",
            "gemini-embedding-001",
        ]
        .map(String::from)
        .to_vec(),
        ..MockOptions::default()
    };
    f(&mut opts);
    MockServer::start(opts).await.unwrap()
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gemini")
        .join(name)
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture_path(name)).unwrap()).unwrap()
}

async fn post_raw(server: &MockServer, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", server.base_url()))
        .header("x-goog-api-key", KEY)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap()
}

async fn into_parts(resp: reqwest::Response) -> (StatusCode, HeaderMap, Value) {
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, headers, value)
}

async fn post(server: &MockServer, path: &str, body: &Value) -> (StatusCode, Value) {
    let (status, _, v) = into_parts(post_raw(server, path, body).await).await;
    (status, v)
}

async fn get(server: &MockServer, path: &str) -> (StatusCode, Value) {
    let resp = client()
        .get(format!("{}{path}", server.base_url()))
        .header("x-goog-api-key", KEY)
        .send()
        .await
        .unwrap();
    let (status, _, v) = into_parts(resp).await;
    (status, v)
}

fn generate(model: &str) -> String {
    format!("/v1beta/models/{model}:generateContent")
}

fn user(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

/// Fails unless `actual` has every key `documented` has, recursively, with the same JSON type.
fn assert_shape(actual: &Value, documented: &Value, path: &str) {
    match (actual, documented) {
        (_, Value::Null) => {}
        (Value::Object(a), Value::Object(d)) => {
            for (k, dv) in d {
                let av = a
                    .get(k)
                    .unwrap_or_else(|| panic!("{path}.{k} missing in {actual}"));
                assert_shape(av, dv, &format!("{path}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(d)) => {
            for (i, (av, dv)) in a.iter().zip(d).enumerate() {
                assert_shape(av, dv, &format!("{path}[{i}]"));
            }
        }
        (Value::String(_), Value::String(_))
        | (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{path}: {actual} does not have the shape of {documented}"),
    }
}

/// Fails unless the body is Google's error of this status name, shaped like the documented one.
fn assert_error(status: StatusCode, body: &Value, code: u16, name: &str) {
    assert_eq!(status.as_u16(), code, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert_eq!(body["error"]["status"], name, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

/// The `data:` payloads of an `alt=sse` body, checking Google's CRLF framing.
fn sse_chunks(text: &str) -> Vec<Value> {
    assert!(text.ends_with("\r\n\r\n"), "unterminated frame in {text:?}");
    text.split_terminator("\r\n\r\n")
        .filter(|f| !f.starts_with(':'))
        .map(|frame| {
            let data = frame
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data frame: {frame:?}"));
            serde_json::from_str(data).unwrap_or_else(|e| panic!("bad data ({e}) in {frame:?}"))
        })
        .collect()
}

fn stream_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect()
}

// ---- answers -----------------------------------------------------------------------------------

#[tokio::test]
async fn generate_content_has_the_documented_shape() {
    let server = start().await;
    let (status, body) = post(
        &server,
        &generate("gemini-2.5-flash"),
        &fixture("generate_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut documented = fixture("generate_response.json");
    // Only thinking models that were asked to report it have `thoughtsTokenCount`; the mock's
    // flash model thinks by default, as the real one does.
    documented["usageMetadata"]
        .as_object_mut()
        .unwrap()
        .remove("thoughtsTokenCount");
    assert_shape(&body, &documented, "");
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from the mock."
    );
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");
    assert_eq!(body["modelVersion"], "gemini-2.5-flash");
    let usage = &body["usageMetadata"];
    let total = usage["promptTokenCount"].as_u64().unwrap()
        + usage["candidatesTokenCount"].as_u64().unwrap()
        + usage["thoughtsTokenCount"].as_u64().unwrap_or(0);
    assert_eq!(usage["totalTokenCount"], total);
}

#[tokio::test]
async fn streams_with_and_without_sse() {
    let server = start().await;
    let documented = std::fs::read_to_string(fixture_path("stream_text.sse")).unwrap();
    let documented = sse_chunks(&documented);

    let resp = post_raw(
        &server,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &fixture("generate_request.json"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let chunks = sse_chunks(&resp.text().await.unwrap());
    assert!(chunks.len() >= 2);
    assert_shape(
        &chunks[0]["candidates"][0]["content"],
        &documented[0]["candidates"][0]["content"],
        "first",
    );
    assert_shape(chunks.last().unwrap(), documented.last().unwrap(), "last");
    assert_eq!(stream_text(&chunks), "Hello from the mock.");
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["candidates"][0].get("finishReason").is_none())
    );

    // Without `alt=sse` the same chunks come as one JSON array.
    let (status, body) = post(
        &server,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        &fixture("generate_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let array = body.as_array().unwrap();
    assert_eq!(stream_text(array), "Hello from the mock.");
}

#[tokio::test]
async fn function_calling_round() {
    let server = start().await;
    let (status, body) = post(
        &server,
        &generate("gemini-2.5-flash"),
        &fixture("function_call_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let part = &body["candidates"][0]["content"]["parts"][0];
    assert_eq!(part["functionCall"]["name"], "get_current_temperature");
    assert_eq!(part["functionCall"]["args"], json!({"location": "mock"}));
    assert!(part["thoughtSignature"].is_string());
    assert_eq!(body["candidates"][0]["finishReason"], "STOP");

    // The documented follow-up answers the calls: the mock answers in text.
    let (status, body) = post(
        &server,
        &generate("gemini-3-pro-preview"),
        &fixture("function_response_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from the mock."
    );

    // Mode NONE: text.
    let mut none = fixture("function_call_request.json");
    none["toolConfig"] = json!({"functionCallingConfig": {"mode": "NONE"}});
    let (_, body) = post(&server, &generate("gemini-2.5-flash"), &none).await;
    assert!(body["candidates"][0]["content"]["parts"][0]["text"].is_string());
}

#[tokio::test]
async fn thoughts_budgets_and_limits() {
    let server = start().await;
    let mut req = user("hi");
    req["generationConfig"] =
        json!({"thinkingConfig": {"includeThoughts": true, "thinkingBudget": 1024}});
    let (status, body) = post(&server, &generate("gemini-2.5-flash"), &req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let parts = body["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap();
    assert_eq!(parts[0]["thought"], true);
    assert!(parts[0]["thoughtSignature"].is_string());
    assert!(
        body["usageMetadata"]["thoughtsTokenCount"]
            .as_u64()
            .unwrap()
            > 0
    );

    req["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 0}});
    let (_, body) = post(&server, &generate("gemini-2.5-flash"), &req).await;
    assert!(body["usageMetadata"].get("thoughtsTokenCount").is_none());

    req["generationConfig"] = json!({"maxOutputTokens": 2});
    let (_, body) = post(&server, &generate("gemini-2.5-flash"), &req).await;
    assert_eq!(body["candidates"][0]["finishReason"], "MAX_TOKENS");
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from"
    );

    req["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 40000}});
    let (status, body) = post(&server, &generate("gemini-2.5-flash"), &req).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    req["generationConfig"] = json!({"thinkingConfig": {"thinkingBudget": 0}});
    let (status, body) = post(&server, &generate("gemini-2.5-pro"), &req).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "Budget 0 is invalid. This model only works in thinking mode."
    );

    req["generationConfig"] = json!({"responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object", "properties": {"n": {"type": "integer"}}}});
    let (_, body) = post(&server, &generate("gemini-2.5-flash"), &req).await;
    let text = body["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        json!({"n": 1})
    );
}

// ---- validation --------------------------------------------------------------------------------

#[tokio::test]
async fn validation_like_the_api() {
    let server = start().await;
    let m = generate("gemini-2.5-flash");

    let mut unknown = user("hi");
    unknown["messages"] = json!([]);
    let (status, body) = post(&server, &m, &unknown).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "Invalid JSON payload received. Unknown name \"messages\": Cannot find field."
    );
    assert_eq!(
        body["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );

    let (status, body) = post(&server, &m, &json!({})).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "* GenerateContentRequest.contents: contents is not specified\n"
    );

    let (status, body) = post(
        &server,
        &m,
        &json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
    )
    .await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    assert_eq!(
        body["error"]["message"],
        "Please use a valid role: user, model."
    );

    let orphan = json!({"contents": [
        {"role": "user", "parts": [{"text": "x"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"output": 1}}}]}
    ]});
    let (status, body) = post(&server, &m, &orphan).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Please ensure that function response turn")
    );

    // Gemini 3 refuses a function call turn of the current turn without its signature.
    let mut unsigned = fixture("function_response_request.json");
    unsigned["contents"][3]["parts"][0]
        .as_object_mut()
        .unwrap()
        .remove("thoughtSignature");
    let (status, body) = post(&server, &generate("gemini-3-pro-preview"), &unsigned).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("thought_signature")
    );
    // Older models accept it.
    let (status, _) = post(&server, &m, &unsigned).await;
    assert_eq!(status, StatusCode::OK);

    let resp = client()
        .post(format!("{}{m}", server.base_url()))
        .header("x-goog-api-key", KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, _, body) = into_parts(resp).await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");

    let (status, body) = post(
        &server,
        "/v1beta/models/gemini-2.5-flash:frobnicate",
        &user("x"),
    )
    .await;
    assert_error(status, &body, 404, "NOT_FOUND");
}

#[tokio::test]
async fn keys_in_header_or_query() {
    let server = start_with(|o| o.valid_keys = Some(vec![KEY.to_owned()])).await;
    let url = format!("{}{}", server.base_url(), generate("gemini-2.5-flash"));
    let send = |req: reqwest::RequestBuilder| async move {
        into_parts(
            req.header("content-type", "application/json")
                .body(serde_json::to_vec(&user("hi")).unwrap())
                .send()
                .await
                .unwrap(),
        )
        .await
    };
    let (status, _, _) = send(client().post(format!("{url}?key={KEY}"))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(client().post(&url)).await;
    assert_error(status, &body, 403, "PERMISSION_DENIED");
    let (status, _, body) = send(client().post(&url).header("x-goog-api-key", "wrong")).await;
    assert_eq!(
        fixture("error_invalid_argument.json")["error"]["message"],
        body["error"]["message"]
    );
    assert_error(status, &body, 400, "INVALID_ARGUMENT");
    assert_shape(&body, &fixture("error_invalid_argument.json"), "");
}

// ---- other routes ------------------------------------------------------------------------------

#[tokio::test]
async fn embeddings_count_tokens_and_models() {
    let server = start().await;
    let (status, body) = post(
        &server,
        "/v1beta/models/gemini-embedding-001:embedContent",
        &fixture("embed_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape(&body, &fixture("embed_response.json"), "");
    assert_eq!(body["embedding"]["values"].as_array().unwrap().len(), 768);

    let (status, batch) = post(
        &server,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        &fixture("batch_embed_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{batch}");
    let embeddings = batch["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 2);
    assert_eq!(embeddings[0]["values"].as_array().unwrap().len(), 768);
    assert_ne!(embeddings[0], embeddings[1]);
    let (status, body) = post(
        &server,
        "/v1beta/models/other-model:batchEmbedContents",
        &fixture("batch_embed_request.json"),
    )
    .await;
    assert_error(status, &body, 400, "INVALID_ARGUMENT");

    let (status, body) = post(
        &server,
        "/v1beta/models/gemini-2.5-flash:countTokens",
        &fixture("count_tokens_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape(&body, &fixture("count_tokens_response.json"), "");
    assert_eq!(body["totalTokens"], 9);

    let (status, body) = get(&server, "/v1beta/models?pageSize=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&body, &fixture("models_list_response.json"), "");
    assert_eq!(body["models"][0]["name"], "models/gemini-2.5-flash");
    let token = body["nextPageToken"].as_str().unwrap().to_owned();
    let (_, next) = get(
        &server,
        &format!("/v1beta/models?pageSize=2&pageToken={token}"),
    )
    .await;
    assert_eq!(next["models"][1]["name"], "models/gemini-embedding-001");
    assert!(next.get("nextPageToken").is_none());
    assert_eq!(
        next["models"][1]["supportedGenerationMethods"][0],
        "embedContent"
    );

    let (status, body) = get(&server, "/v1beta/models/gemini-2.5-pro").await;
    assert_eq!(
        (status, &body["name"]),
        (StatusCode::OK, &json!("models/gemini-2.5-pro"))
    );
    let (status, body) = get(&server, "/v1beta/models/gemini-0").await;
    assert_error(status, &body, 404, "NOT_FOUND");

    // The OpenAI models route is unchanged.
    let resp = client()
        .get(format!("{}/v1/models", server.base_url()))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap();
    let (_, _, body) = into_parts(resp).await;
    assert_eq!(body["object"], "list");
}

// ---- faults ------------------------------------------------------------------------------------

#[tokio::test]
async fn faults_in_googles_shape() {
    let server = start().await;
    let m = generate("gemini-2.5-flash");
    server.push_fault(Fault::Status {
        status: 503,
        message: String::new(),
    });
    let (status, body) = post(&server, &m, &user("hi")).await;
    assert_error(status, &body, 503, "UNAVAILABLE");
    server.push_fault(Fault::Status {
        status: 500,
        message: "boom".into(),
    });
    let (status, body) = post(&server, &m, &user("hi")).await;
    assert_error(status, &body, 500, "INTERNAL");
    assert_eq!(body["error"]["message"], "boom");

    server.push_fault(Fault::RateLimited {
        retry_after_secs: 43,
    });
    let (status, headers, body) = into_parts(post_raw(&server, &m, &user("hi")).await).await;
    assert_error(status, &body, 429, "RESOURCE_EXHAUSTED");
    assert_eq!(headers["retry-after"], "43");
    assert_shape(&body, &fixture("error_quota.json"), "");

    // Per-model faults read the model from the path.
    server.set_model_fault(
        "gemini-2.5-pro",
        Some(Fault::Status {
            status: 404,
            message: String::new(),
        }),
    );
    let (status, body) = post(&server, &generate("gemini-2.5-pro"), &user("hi")).await;
    assert_error(status, &body, 404, "NOT_FOUND");
    server.set_model_fault("gemini-2.5-pro", None);

    // A cut stream ends without its finishing chunk.
    server.push_fault(Fault::StreamCut { after_chunks: 2 });
    let resp = post_raw(
        &server,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &user("hi"),
    )
    .await;
    let text = resp.text().await.unwrap_or_default();
    assert!(!text.contains("finishReason"), "{text}");

    server.push_fault(Fault::MalformedJson);
    let resp = post_raw(
        &server,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &user("hi"),
    )
    .await;
    let text = resp.text().await.unwrap();
    let frames: Vec<&str> = text.split_terminator("\r\n\r\n").collect();
    assert!(serde_json::from_str::<Value>(frames[1].trim_start_matches("data: ")).is_err());
}

#[tokio::test]
async fn scripted_errors_and_finishes() {
    let server = start().await;
    let m = generate("gemini-2.5-flash");
    let (status, body) = post(&server, &m, &user("hi asbru-mock:error=RESOURCE_EXHAUSTED")).await;
    assert_error(status, &body, 429, "RESOURCE_EXHAUSTED");

    let resp = post_raw(
        &server,
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        &user("hi asbru-mock:error=UNAVAILABLE"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let chunks = sse_chunks(&resp.text().await.unwrap());
    assert_eq!(chunks.len(), 2);
    assert_eq!(chunks[1]["error"]["status"], "UNAVAILABLE");

    let (status, body) = post(
        &server,
        &m,
        &user("asbru-mock:finish=MALFORMED_FUNCTION_CALL"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["candidates"][0]["finishReason"],
        "MALFORMED_FUNCTION_CALL"
    );
    assert!(body["candidates"][0]["finishMessage"].is_string());
    assert!(body["candidates"][0].get("content").is_none());
}
