//! The Google GenAI drop-in route (`/genai/v1beta/models/…`, `/v1beta/models/…` at the root):
//! Gemini requests in and out, through the engine like every other route — served by whichever
//! provider the model names, fallbacks applied, streams in both of Gemini's framings, errors in
//! Google's shape, embeddings, token counts and the model list.

use crate::harness::TestGateway;
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};

const GEMINI_KEY: &str = "AIza-gateway-held-key";
const CONTENT: &str = "Hello from the mock.";

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let config = json!({"providers": {
        "gemini": {"keys": [{"name": "g", "value": GEMINI_KEY, "weight": 1}],
                   "network_config": {"base_url": base}},
        "openai": {"keys": [{"name": "o", "value": "sk-openai", "weight": 1}],
                   "network_config": {"base_url": base}},
        "anthropic": {"keys": [{"name": "a", "value": "sk-ant", "weight": 1}],
                      "network_config": {"base_url": base}}
    }});
    TestGateway::start_with(mock, config).await
}

fn ask(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

fn paths(gw: &TestGateway) -> Vec<String> {
    gw.mock.requests().into_iter().map(|r| r.path).collect()
}

fn last_request(gw: &TestGateway) -> RecordedRequest {
    gw.mock.requests().pop().unwrap()
}

/// The answer's text (thoughts left out); a chunk without parts has none.
fn answer_text(answer: &Value) -> String {
    let Some(parts) = answer["candidates"][0]["content"]["parts"].as_array() else {
        return String::new();
    };
    parts
        .iter()
        .filter(|p| p["thought"] != true)
        .filter_map(|p| p["text"].as_str())
        .collect()
}

/// The chunks of a `?alt=sse` stream (each `data:` payload, parsed).
async fn sse_chunks(response: reqwest::Response) -> Vec<Value> {
    let text = response.text().await.unwrap();
    text.split("\r\n\r\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[tokio::test]
async fn generate_content_is_served_by_the_provider_the_model_names() {
    let gw = start().await;
    for (model, upstream) in [
        // No provider prefix: the route's provider, gemini.
        (
            "gemini-2.5-flash",
            "/v1beta/models/gemini-2.5-flash:generateContent",
        ),
        ("openai/gpt-4o-mini", "/v1/chat/completions"),
        ("anthropic/claude-sonnet-4-5", "/v1/messages"),
    ] {
        for prefix in ["/genai/v1beta", "/genai/v1", "/v1beta", "/litellm/v1beta"] {
            let path = format!("{prefix}/models/{model}:generateContent");
            let (status, answer) = gw.post(&path, ask("Say hello.")).await;
            assert_eq!(status, 200, "{path}: {answer}");
            assert_eq!(answer_text(&answer), CONTENT, "{path}: {answer}");
            assert_eq!(answer["candidates"][0]["content"]["role"], "model");
            assert_eq!(answer["candidates"][0]["finishReason"], "STOP");
            assert!(
                answer["usageMetadata"]["promptTokenCount"]
                    .as_u64()
                    .unwrap()
                    > 0,
                "{answer}"
            );
            assert_eq!(last_request(&gw).path, upstream, "{path}");
        }
    }
}

#[tokio::test]
async fn the_clients_google_key_is_never_forwarded() {
    let gw = start().await;
    let (status, answer) = gw
        .post_with(
            "/genai/v1beta/models/gemini-2.5-flash:generateContent?key=AIza-client-secret",
            ask("Hi"),
            &[("x-goog-api-key", "AIza-client-secret")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = last_request(&gw);
    assert_eq!(sent.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert!(
        sent.query
            .as_deref()
            .is_none_or(|q| !q.contains("client-secret"))
    );
    assert!(
        sent.headers
            .iter()
            .all(|(_, v)| !v.contains("client-secret"))
    );
}

#[tokio::test]
async fn fallbacks_apply_and_the_answer_stays_gemini() {
    let gw = start().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "primary down".into(),
    });
    let mut body = ask("Say hello.");
    body["fallbacks"] = json!(["openai/gpt-4o-mini"]);
    let (status, answer) = gw
        .post(
            "/genai/v1beta/models/gemini-2.5-flash:generateContent",
            body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer_text(&answer), CONTENT);
    assert_eq!(
        paths(&gw),
        [
            "/v1beta/models/gemini-2.5-flash:generateContent",
            "/v1/chat/completions"
        ]
    );
}

#[tokio::test]
async fn an_sse_stream_is_translated_chunk_by_chunk() {
    let gw = start().await;
    for model in [
        "openai/gpt-4o-mini",
        "gemini-2.5-flash",
        "anthropic/claude-sonnet-4-5",
    ] {
        let path = format!("/genai/v1beta/models/{model}:streamGenerateContent?alt=sse");
        let response = gw.post_stream(&path, &ask("Say hello.")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{model}"
        );
        let chunks = sse_chunks(response).await;
        assert!(chunks.len() >= 2, "{model}: {chunks:?}");
        let text: String = chunks.iter().map(answer_text).collect();
        assert_eq!(text, CONTENT, "{model}");
        let finishes: Vec<&Value> = chunks
            .iter()
            .filter_map(|c| c["candidates"][0].get("finishReason"))
            .collect();
        assert_eq!(finishes, [&json!("STOP")], "{model}");
        let last = chunks.last().unwrap();
        assert!(last["candidates"][0]["finishReason"].is_string());
        assert!(
            last["usageMetadata"]["candidatesTokenCount"]
                .as_u64()
                .unwrap()
                > 0,
            "{model}: {last}"
        );
    }
}

#[tokio::test]
async fn without_alt_sse_the_stream_is_one_json_array() {
    let gw = start().await;
    let response = gw
        .post_stream(
            "/genai/v1beta/models/openai/gpt-4o-mini:streamGenerateContent",
            &ask("Say hello."),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let chunks: Vec<Value> = response.json().await.unwrap();
    assert!(chunks.len() >= 2, "{chunks:?}");
    let text: String = chunks.iter().map(answer_text).collect();
    assert_eq!(text, CONTENT);
    assert_eq!(
        chunks.last().unwrap()["candidates"][0]["finishReason"],
        "STOP"
    );
}

#[tokio::test]
async fn a_failure_mid_stream_is_googles_error_in_the_stream() {
    let gw = start().await;
    // Cut by the OpenAI upstream: the SSE stream ends with an error event.
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let response = gw
        .post_stream(
            "/genai/v1beta/models/openai/gpt-4o-mini:streamGenerateContent?alt=sse",
            &ask("Say hello."),
        )
        .await;
    assert_eq!(response.status(), 200);
    let chunks = sse_chunks(response).await;
    let last = chunks.last().unwrap();
    assert!(last["error"]["message"].is_string(), "{chunks:?}");
    assert_eq!(last["error"]["status"], "UNAVAILABLE");
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c.get("error").is_none())
    );

    // Google's own error mid-stream, in the array framing: an error element, array closed.
    let response = gw
        .post_stream(
            "/genai/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            &ask("Hello asbru-mock:error=UNAVAILABLE"),
        )
        .await;
    let chunks: Vec<Value> = response.json().await.unwrap();
    let last = chunks.last().unwrap();
    assert_eq!(last["error"]["status"], "UNAVAILABLE", "{chunks:?}");
    assert!(chunks.len() >= 2, "{chunks:?}");

    // The gateway keeps serving.
    let (status, _) = gw
        .post(
            "/genai/v1beta/models/gemini-2.5-flash:generateContent",
            ask("Hi"),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn errors_have_googles_shape_and_name_the_field() {
    let gw = start().await;
    let path = "/genai/v1beta/models/gemini-2.5-flash:generateContent";

    let (status, error) = gw.post(path, json!({"contents": []})).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], 400);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        error["error"]["details"][0]["fieldViolations"][0]["field"],
        "contents"
    );

    let mut bad = ask("Hi");
    bad["generationConfig"] = json!({"temperature": "hot"});
    let (status, error) = gw.post(path, bad).await;
    assert_eq!(status, 400, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("generationConfig.temperature"), "{error}");

    let (status, error) = gw.post_raw(path, b"{not json".to_vec()).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");

    let (status, error) = gw
        .post("/genai/v1beta/models/gemini-2.5-flash:predict", ask("Hi"))
        .await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["status"], "NOT_FOUND");

    // A provider's error keeps its status, in Google's shape whichever provider sent it.
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, error) = gw
        .post(
            "/genai/v1beta/models/openai/gpt-4o-mini:generateContent",
            ask("Hi"),
        )
        .await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["status"], "RESOURCE_EXHAUSTED");

    // A fallback naming no provider/model is the engine's 400, in Google's shape.
    let mut body = ask("Hi");
    body["fallbacks"] = json!("openai/gpt-4o-mini");
    let (status, error) = gw.post(path, body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");

    let (status, _) = gw.post(path, ask("Still serving?")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn embeddings_go_through_the_engine_and_come_back_in_order() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/genai/v1beta/models/gemini-embedding-001:embedContent",
            json!({"content": {"parts": [{"text": "one text"}]}, "outputDimensionality": 8}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["embedding"]["values"].as_array().unwrap().len(), 8);
    let sent = last_request(&gw);
    assert_eq!(
        sent.path,
        "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    );

    let batch = json!({"requests": [
        {"model": "models/openai/text-embedding-3-small",
         "content": {"parts": [{"text": "first"}]}},
        {"model": "models/openai/text-embedding-3-small",
         "content": {"parts": [{"text": "second"}]}}
    ]});
    let (status, answer) = gw
        .post(
            "/genai/v1beta/models/openai/text-embedding-3-small:batchEmbedContents",
            batch,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let embeddings = answer["embeddings"].as_array().unwrap();
    assert_eq!(embeddings.len(), 2);
    assert_ne!(embeddings[0], embeddings[1]);
    let sent = last_request(&gw);
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(sent.json().unwrap()["input"], json!(["first", "second"]));

    // Only text can be embedded; the part at fault is named.
    let image = json!({"requests": [{"content": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}}]});
    let (status, error) = gw
        .post(
            "/genai/v1beta/models/gemini-embedding-001:batchEmbedContents",
            image,
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        error["error"]["details"][0]["fieldViolations"][0]["field"],
        "requests[0].content.parts[0]"
    );
}

#[tokio::test]
async fn count_tokens_is_counted_by_the_provider_the_model_names() {
    let gw = start().await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "Count these words."}]}]});
    for (model, upstream) in [
        (
            "gemini-2.5-flash",
            "/v1beta/models/gemini-2.5-flash:countTokens",
        ),
        ("openai/gpt-4.1", "/v1/responses/input_tokens"),
        ("anthropic/claude-sonnet-4-5", "/v1/messages/count_tokens"),
    ] {
        let path = format!("/genai/v1beta/models/{model}:countTokens");
        let (status, answer) = gw.post(&path, body.clone()).await;
        assert_eq!(status, 200, "{model}: {answer}");
        assert!(answer["totalTokens"].as_u64().unwrap() > 0, "{answer}");
        assert_eq!(last_request(&gw).path, upstream);
    }

    // A whole generateContentRequest counts its system instruction too.
    let whole = json!({"generateContentRequest": {
        "model": "models/openai/gpt-4.1",
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}});
    let (status, answer) = gw
        .post("/v1beta/models/openai/gpt-4.1:countTokens", whole)
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        last_request(&gw).json().unwrap()["instructions"],
        "Be terse."
    );

    let (status, error) = gw
        .post(
            "/genai/v1beta/models/gemini-2.5-flash:countTokens",
            json!({}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
}

#[tokio::test]
async fn models_are_listed_and_paged_as_gemini_does() {
    let gw = start().await;
    let (status, all) = gw.get("/genai/v1beta/models?pageSize=1000").await;
    assert_eq!(status, 200, "{all}");
    let names: Vec<&str> = all["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"models/openai/gpt-4o-mini"), "{all}");
    assert!(names.iter().any(|n| n.starts_with("models/gemini/")));
    assert!(all.get("nextPageToken").is_none());

    let (_, first) = gw.get("/genai/v1beta/models?pageSize=1").await;
    assert_eq!(first["models"].as_array().unwrap().len(), 1);
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, second) = gw
        .get(&format!("/genai/v1/models?pageSize=1&pageToken={token}"))
        .await;
    assert_eq!(second["models"][0]["name"], names[1]);

    let (status, error) = gw.get("/genai/v1beta/models?pageToken=nope").await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");

    let (status, model) = gw.get("/genai/v1beta/models/openai/gpt-4o-mini").await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["name"], "models/openai/gpt-4o-mini");
    // A bare name is the gemini provider's.
    let (status, model) = gw.get("/v1beta/models/gpt-4o").await;
    assert_eq!(status, 200, "{model}");
    assert_eq!(model["name"], "models/gemini/gpt-4o");
    let (status, error) = gw.get("/genai/v1beta/models/openai/no-such-model").await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["status"], "NOT_FOUND");
}

#[tokio::test]
async fn the_root_v1_models_paths_answer_each_client_in_its_shape() {
    let gw = start().await;
    let google = |path: &str| {
        gw.client
            .get(format!("{}{path}", gw.url))
            .header("x-goog-api-client", "google-genai-sdk/test")
    };

    // The list: Gemini's for Google clients, OpenAI's otherwise.
    let listed: Value = google("/v1/models")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed["models"].is_array(), "{listed}");
    let (_, openai) = gw.get("/v1/models").await;
    assert_eq!(openai["object"], "list");

    // One model: likewise.
    let one: Value = google("/v1/models/openai/gpt-4o-mini")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "models/openai/gpt-4o-mini");
    let (status, one) = gw.get("/v1/models/openai/gpt-4o-mini").await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["id"], "openai/gpt-4o-mini");
    assert_eq!(one["object"], "model");
    let (status, error) = gw.get("/v1/models/gpt-4o-mini").await;
    assert_eq!(status, 404, "{error}");
    assert!(error["error"]["message"].is_string());

    // The SDK's default API version at the root: the methods have no OpenAI counterpart.
    let (status, answer) = gw
        .post(
            "/v1/models/openai/gpt-4o-mini:generateContent",
            ask("Say hello."),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer_text(&answer), CONTENT);
}
