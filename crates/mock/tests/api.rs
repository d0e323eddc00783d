//! End-to-end tests of the mock through a real HTTP client.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions should fail loudly too"
)]
#![expect(clippy::disallowed_methods, reason = "tests spawn freely")]

use asbru_mock::{Fault, MockOptions, MockServer};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const KEY: &str = "sk-test-key";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn start() -> MockServer {
    MockServer::start(MockOptions::default()).await.unwrap()
}

async fn start_with(f: impl FnOnce(&mut MockOptions)) -> MockServer {
    let mut opts = MockOptions::default();
    f(&mut opts);
    MockServer::start(opts).await.unwrap()
}

fn chat_body() -> Value {
    json!({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "say hi to me"}
    ]})
}

fn stream_body(include_usage: bool) -> Value {
    let mut body = chat_body();
    body["stream"] = json!(true);
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

async fn post_raw(
    server: &MockServer,
    path: &str,
    body: &Value,
) -> reqwest::Result<reqwest::Response> {
    client()
        .post(format!("{}{path}", server.base_url()))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
}

async fn post(server: &MockServer, path: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
    let resp = post_raw(server, path, body).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, headers, value)
}

async fn get(server: &MockServer, path: &str) -> (StatusCode, Value) {
    let resp = client()
        .get(format!("{}{path}", server.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json_value().await)
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_slice(&self.bytes().await.unwrap()).unwrap()
    }
}

/// Splits an SSE body into the payloads of its `data:` events.
fn sse_data(text: &str) -> Vec<String> {
    assert!(text.ends_with("\n\n"), "unterminated frame in {text:?}");
    text.split_terminator("\n\n")
        .map(|frame| {
            frame
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data frame: {frame:?}"))
                .to_owned()
        })
        .collect()
}

fn assert_openai_error(body: &Value, kind: &str) {
    let err = &body["error"];
    assert!(err["message"].is_string(), "{body}");
    assert_eq!(err["type"], kind, "{body}");
    assert!(err.get("param").is_some(), "{body}");
    assert!(err.get("code").is_some(), "{body}");
}

#[tokio::test]
async fn chat_completion_shape_under_any_prefix() {
    let server = start().await;
    for path in [
        "/v1/chat/completions",
        "/openai/v1/chat/completions",
        "/chat/completions",
    ] {
        let (status, headers, body) = post(&server, path, &chat_body()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-type"], "application/json");
        assert!(headers.contains_key("x-request-id"));
        assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
        assert_eq!(body["object"], "chat.completion");
        assert!(body["created"].as_u64().unwrap() > 1_600_000_000);
        assert_eq!(body["model"], "gpt-4o");
        let choices = body["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 1);
        assert_eq!(choices[0]["index"], 0);
        assert_eq!(choices[0]["message"]["role"], "assistant");
        assert_eq!(choices[0]["message"]["content"], "Hello from the mock.");
        assert_eq!(choices[0]["finish_reason"], "stop");
        assert_eq!(body["usage"]["prompt_tokens"], 6);
        assert_eq!(body["usage"]["completion_tokens"], 4);
        assert_eq!(body["usage"]["total_tokens"], 10);
    }
    let (_, _, a) = post(&server, "/v1/chat/completions", &chat_body()).await;
    let (_, _, b) = post(&server, "/v1/chat/completions", &chat_body()).await;
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn chat_honours_n_and_configured_content() {
    let server = start_with(|o| o.content = "one two three".into()).await;
    let mut body = chat_body();
    body["n"] = json!(2);
    body["model"] = json!("my-model");
    let (_, _, resp) = post(&server, "/v1/chat/completions", &body).await;
    assert_eq!(resp["model"], "my-model");
    assert_eq!(resp["choices"].as_array().unwrap().len(), 2);
    assert_eq!(resp["choices"][1]["index"], 1);
    assert_eq!(resp["choices"][1]["message"]["content"], "one two three");
    assert_eq!(resp["usage"]["completion_tokens"], 6);
}

#[tokio::test]
async fn chat_stream_framing() {
    let server = start().await;
    let resp = post_raw(&server, "/v1/chat/completions", &stream_body(false))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let text = resp.text().await.unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    // role chunk + 5 content chunks + finish chunk
    assert_eq!(chunks.len(), 7);
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], "gpt-4o");
        assert!(c.get("usage").is_none(), "{c}");
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let content: String = chunks[1..6]
        .iter()
        .map(|c| {
            assert!(c["choices"][0]["finish_reason"].is_null());
            c["choices"][0]["delta"]["content"].as_str().unwrap()
        })
        .collect();
    assert_eq!(content, "Hello from the mock.");
    assert_eq!(chunks[6]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[6]["choices"][0]["delta"], json!({}));
}

#[tokio::test]
async fn chat_stream_usage_chunk_when_requested() {
    let server = start_with(|o| o.stream_chunks = 3).await;
    let text = post_raw(&server, "/v1/chat/completions", &stream_body(true))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = sse_data(&text);
    assert_eq!(data.len(), 1 + 3 + 1 + 1 + 1);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let usage_chunk: Value = serde_json::from_str(&data[data.len() - 2]).unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 6);
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 4);
    assert_eq!(usage_chunk["usage"]["total_tokens"], 10);
    for d in &data[..data.len() - 2] {
        let c: Value = serde_json::from_str(d).unwrap();
        assert!(c["usage"].is_null() && c.get("usage").is_some(), "{c}");
    }
}

#[tokio::test]
async fn stream_frames_arrive_separately_with_chunk_delay() {
    let server = start_with(|o| o.stream_chunk_delay = Duration::from_millis(20)).await;
    let started = Instant::now();
    let resp = post_raw(&server, "/v1/chat/completions", &stream_body(false))
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut reads = 0;
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        reads += 1;
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    // 8 frames with 7 gaps of 20 ms between them, each read on its own.
    assert!(started.elapsed() >= Duration::from_millis(140));
    assert_eq!(reads, 8);
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn chat_validation_errors() {
    let server = start().await;
    let cases = [
        (
            json!({"messages": [{"role": "user", "content": "x"}]}),
            "model",
        ),
        (json!({"model": "gpt-4o"}), "messages"),
        (json!({"model": "gpt-4o", "messages": []}), "messages"),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}),
            "messages[0].role",
        ),
        (json!({"model": "gpt-4o", "messages": [42]}), "messages[0]"),
    ];
    for (body, param) in cases {
        let (status, _, resp) = post(&server, "/v1/chat/completions", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_openai_error(&resp, "invalid_request_error");
        assert_eq!(resp["error"]["param"], param, "{body}");
    }
    let resp = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .bearer_auth(KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body = resp.json_value().await;
    assert_openai_error(&body, "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not parse the JSON body")
    );
}

#[tokio::test]
async fn text_completions() {
    let server = start().await;
    let (status, _, body) = post(
        &server,
        "/v1/completions",
        &json!({"model": "gpt-3.5-turbo-instruct", "prompt": "once upon a time"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["model"], "gpt-3.5-turbo-instruct");
    assert_eq!(body["choices"][0]["text"], "Hello from the mock.");
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert!(body["choices"][0]["logprobs"].is_null());
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["completion_tokens"], 4);
    assert_eq!(body["usage"]["total_tokens"], 8);

    let (_, _, body) = post(
        &server,
        "/v1/completions",
        &json!({"model": "m", "prompt": ["a b", "c"]}),
    )
    .await;
    assert_eq!(body["choices"].as_array().unwrap().len(), 2);
    assert_eq!(body["usage"]["prompt_tokens"], 3);

    let (status, _, body) = post(&server, "/v1/completions", &json!({"model": "m"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["param"], "prompt");

    let text = post_raw(
        &server,
        "/v1/completions",
        &json!({"model": "m", "prompt": "hi", "stream": true,
                "stream_options": {"include_usage": true}}),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let data = sse_data(&text);
    assert_eq!(data.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(chunks.len(), 5 + 1 + 1);
    let content: String = chunks[..5]
        .iter()
        .map(|c| {
            assert_eq!(c["object"], "text_completion");
            c["choices"][0]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(content, "Hello from the mock.");
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(chunks[6]["usage"]["total_tokens"], 5);
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("bad base64 byte {c}"),
    };
    let mut out = Vec::new();
    for quad in text.as_bytes().chunks(4) {
        let data: Vec<u8> = quad.iter().copied().filter(|&c| c != b'=').collect();
        let mut acc = 0u32;
        for &c in &data {
            acc = (acc << 6) | u32::from(value(c));
        }
        acc <<= 6 * (4 - data.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..data.len()]);
    }
    out
}

#[tokio::test]
async fn embeddings_float_and_base64_agree() {
    let server = start().await;
    let (status, _, floats) = post(
        &server,
        "/v1/embeddings",
        &json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(floats["object"], "list");
    assert_eq!(floats["model"], "text-embedding-3-small");
    assert_eq!(
        floats["usage"],
        json!({"prompt_tokens": 3, "total_tokens": 3})
    );
    let data = floats["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], i);
        assert_eq!(item["embedding"].as_array().unwrap().len(), 8);
    }
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);

    let (_, _, again) = post(
        &server,
        "/v1/embeddings",
        &json!({"model": "text-embedding-3-small", "input": "hello world"}),
    )
    .await;
    assert_eq!(again["data"][0]["embedding"], data[0]["embedding"]);

    let (_, _, b64) = post(
        &server,
        "/v1/embeddings",
        &json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"],
                "encoding_format": "base64"}),
    )
    .await;
    for (i, item) in b64["data"].as_array().unwrap().iter().enumerate() {
        let bytes = decode_base64(item["embedding"].as_str().unwrap());
        let decoded: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let expected: Vec<f32> = data[i]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(decoded, expected);
    }

    let (_, _, dims) = post(
        &server,
        "/v1/embeddings",
        &json!({"model": "m", "input": [[1, 2, 3], [4]], "dimensions": 32}),
    )
    .await;
    assert_eq!(dims["data"][0]["embedding"].as_array().unwrap().len(), 32);
    assert_eq!(dims["usage"]["prompt_tokens"], 4);

    for bad in [
        json!({"model": "m"}),
        json!({"model": "m", "input": ""}),
        json!({"model": "m", "input": []}),
        json!({"model": "m", "input": "x", "encoding_format": "hex"}),
        json!({"model": "m", "input": "x", "dimensions": 0}),
    ] {
        let (status, _, body) = post(&server, "/v1/embeddings", &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_openai_error(&body, "invalid_request_error");
    }
}

#[tokio::test]
async fn models_list_and_retrieve() {
    let server = start_with(|o| o.models = vec!["alpha".into(), "beta".into()]).await;
    for path in ["/v1/models", "/openai/v1/models", "/models"] {
        let (status, body) = get(&server, path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["object"], "list");
        let data = body["data"].as_array().unwrap();
        let ids: Vec<_> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["alpha", "beta"]);
        for m in data {
            assert_eq!(m["object"], "model");
            assert!(m["created"].is_u64());
            assert!(m["owned_by"].is_string());
        }
    }
    let (status, body) = get(&server, "/v1/models/beta").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], "beta");
    let (status, body) = get(&server, "/v1/models/gamma").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "model_not_found");

    let (status, body) = get(&server, "/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_openai_error(&body, "invalid_request_error");
}

#[tokio::test]
async fn auth_missing_and_invalid_keys() {
    let server = start_with(|o| o.valid_keys = Some(vec![KEY.into()])).await;
    let url = format!("{}/v1/chat/completions", server.base_url());
    let body = serde_json::to_vec(&chat_body()).unwrap();

    let resp = client().post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let err = resp.json_value().await;
    assert_openai_error(&err, "invalid_request_error");
    assert_eq!(err["error"]["code"], "invalid_api_key");

    let wrong = "sk-wrong-0123456789abcdef";
    let resp = client()
        .post(&url)
        .bearer_auth(wrong)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let err = resp.json_value().await;
    assert_eq!(err["error"]["code"], "invalid_api_key");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("Incorrect API key provided: {wrong}")),
        "{message}"
    );

    let resp = client()
        .post(&url)
        .bearer_auth(KEY)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Without an allow-list any key passes, but some key is still required.
    let open = start().await;
    let resp = client()
        .get(format!("{}/v1/models", open.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = client()
        .get(format!("{}/v1/models", open.base_url()))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn status_and_rate_limit_faults() {
    let server = start().await;
    server.push_fault(Fault::Status {
        status: 503,
        message: String::new(),
    });
    server.push_fault(Fault::Status {
        status: 400,
        message: "custom".into(),
    });
    server.push_fault(Fault::RateLimited {
        retry_after_secs: 7,
    });

    let (status, _, body) = post(&server, "/v1/chat/completions", &chat_body()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_openai_error(&body, "server_error");

    let (status, _, body) = post(&server, "/v1/chat/completions", &stream_body(false)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_openai_error(&body, "invalid_request_error");
    assert_eq!(body["error"]["message"], "custom");

    let (status, headers, body) = post(&server, "/v1/embeddings", &json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");

    // The queue is empty again.
    let (status, _, _) = post(&server, "/v1/chat/completions", &chat_body()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn fault_queue_default_and_model_precedence() {
    let server = start().await;
    let err = |status| Fault::Status {
        status,
        message: String::new(),
    };
    server.push_faults(err(500), 2);
    server.set_default_fault(Some(err(502)));
    server.set_model_fault("bad-model", Some(err(404)));

    let mut bad = chat_body();
    bad["model"] = json!("bad-model");
    let statuses = [
        post(&server, "/v1/chat/completions", &bad).await.0,
        post(&server, "/v1/chat/completions", &chat_body()).await.0,
        post(&server, "/v1/chat/completions", &chat_body()).await.0,
        post(&server, "/v1/chat/completions", &chat_body()).await.0,
        post(&server, "/v1/chat/completions", &bad).await.0,
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [404, 500, 500, 502, 404]);

    server.set_default_fault(None);
    server.set_model_fault("bad-model", None);
    assert_eq!(
        post(&server, "/v1/chat/completions", &bad).await.0,
        StatusCode::OK
    );
    server.push_fault(err(500));
    server.clear_faults();
    assert_eq!(
        post(&server, "/v1/chat/completions", &bad).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn delay_fault_and_base_latency() {
    let server = start_with(|o| o.latency = Duration::from_millis(40)).await;
    let started = Instant::now();
    assert_eq!(
        post(&server, "/v1/chat/completions", &chat_body()).await.0,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(40));

    server.push_fault(Fault::Delay(Duration::from_millis(150)));
    let result = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .bearer_auth(KEY)
        .timeout(Duration::from_millis(100))
        .body(serde_json::to_vec(&chat_body()).unwrap())
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());

    server.push_fault(Fault::Delay(Duration::from_millis(60)));
    let started = Instant::now();
    assert_eq!(
        post(&server, "/v1/chat/completions", &chat_body()).await.0,
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
}

#[tokio::test]
async fn reset_fault_is_a_connection_error() {
    let server = start().await;
    server.push_fault(Fault::Reset);
    let err = post_raw(&server, "/v1/chat/completions", &chat_body())
        .await
        .unwrap_err();
    assert!(err.status().is_none() && !err.is_timeout(), "{err:?}");

    // On a raw socket, the close is a real RST rather than an orderly FIN.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    server.push_fault(Fault::Reset);
    let mut sock = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer k\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let err = sock.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

    // The server keeps serving.
    assert_eq!(
        post(&server, "/v1/chat/completions", &chat_body()).await.0,
        StatusCode::OK
    );
}

/// Reads a stream until it ends or fails; returns the text and whether it failed.
async fn read_stream(resp: reqwest::Response) -> (String, bool) {
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => text.push_str(std::str::from_utf8(&bytes).unwrap()),
            Err(_) => return (text, true),
        }
    }
    (text, false)
}

#[tokio::test]
async fn stream_cut_ends_without_done() {
    let server = start().await;
    server.push_fault(Fault::StreamCut { after_chunks: 3 });
    let resp = post_raw(&server, "/v1/chat/completions", &stream_body(false))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (text, failed) = read_stream(resp).await;
    assert!(failed, "the body must end in an error, got {text:?}");
    let data = sse_data(&text);
    assert_eq!(data.len(), 3);
    assert!(!text.contains("[DONE]"));

    // A non-streaming answer is cut half-way.
    server.push_fault(Fault::StreamCut { after_chunks: 0 });
    let resp = post_raw(&server, "/v1/chat/completions", &chat_body())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.is_err());
}

#[tokio::test]
async fn malformed_json_fault() {
    let server = start().await;
    server.push_fault(Fault::MalformedJson);
    let resp = post_raw(&server, "/v1/chat/completions", &chat_body())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let bytes = resp.bytes().await.unwrap();
    assert!(!bytes.is_empty());
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());

    server.push_fault(Fault::MalformedJson);
    let text = post_raw(&server, "/v1/chat/completions", &stream_body(false))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let data = sse_data(&text);
    assert!(serde_json::from_str::<Value>(&data[0]).is_ok());
    assert!(serde_json::from_str::<Value>(&data[1]).is_err());
}

#[tokio::test]
async fn hold_stream_until_released() {
    let server = start().await;
    server.push_fault(Fault::HoldStream);
    let resp = post_raw(&server, "/v1/chat/completions", &stream_body(false))
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = stream.next().await.unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(sse_data(&text).len(), 1, "only the first frame: {text:?}");
    let waited = tokio::time::timeout(Duration::from_millis(150), stream.next()).await;
    assert!(waited.is_err(), "the rest must be held");

    server.release_streams();
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    let data = sse_data(&text);
    assert_eq!(data.len(), 8);
    assert_eq!(data.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn oversized_answers_with_and_without_a_length() {
    let server = start().await;
    let size = 200 * 1024 + 7;
    for chunked in [false, true] {
        server.push_fault(Fault::Oversized {
            bytes: size,
            chunked,
        });
        let resp = post_raw(&server, "/v1/chat/completions", &chat_body())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let length = resp.headers().get("content-length").cloned();
        assert_eq!(
            length.is_some(),
            !chunked,
            "chunked {chunked}: {:?}",
            resp.headers()
        );
        if let Some(length) = length {
            assert_eq!(length.to_str().unwrap(), size.to_string());
        }
        let body = resp.bytes().await.unwrap();
        assert_eq!(body.len(), size);
        assert!(body.iter().all(|b| *b == b' '));
    }
    let fault: Fault = serde_json::from_value(json!({"type": "oversized", "bytes": 5})).unwrap();
    assert_eq!(
        fault,
        Fault::Oversized {
            bytes: 5,
            chunked: false
        }
    );
}

#[tokio::test]
async fn recording_captures_requests() {
    let server = start_with(|o| o.max_recorded = 3).await;
    let resp = client()
        .post(format!(
            "{}/openai/v1/chat/completions?api-version=1",
            server.base_url()
        ))
        .bearer_auth(KEY)
        .header("X-Extra", "yes")
        .body(serde_json::to_vec(&chat_body()).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let recorded = server.requests();
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.query.as_deref(), Some("api-version=1"));
    assert_eq!(r.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(r.header("x-extra"), Some("yes"));
    assert!(r.headers.iter().all(|(n, _)| n == &n.to_lowercase()));
    assert_eq!(r.json().unwrap(), chat_body());

    // Faulted and rejected requests are recorded too; the buffer keeps the newest.
    server.push_fault(Fault::Status {
        status: 500,
        message: String::new(),
    });
    for i in 0..4 {
        post(&server, &format!("/v1/embeddings?n={i}"), &json!({})).await;
    }
    let queries: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| r.query.unwrap())
        .collect();
    assert_eq!(queries, ["n=1", "n=2", "n=3"]);
    server.clear_requests();
    assert!(server.requests().is_empty());

    let quiet = start_with(|o| o.record = false).await;
    post(&quiet, "/v1/chat/completions", &chat_body()).await;
    assert!(quiet.requests().is_empty());
}

#[tokio::test]
async fn control_routes() {
    let server = start().await;
    let c = client();
    let url = |p: &str| format!("{}/__mock/{p}", server.base_url());

    let resp = c.get(url("health")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = c
        .post(url("faults"))
        .body(r#"{"fault": {"type": "status", "status": 503}, "times": 2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = c
        .post(url("faults"))
        .body(r#"{"fault": {"type": "rate_limited", "retry_after_secs": 3}, "model": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let state = c
        .get(url("faults"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(state["queue"].as_array().unwrap().len(), 2);
    assert_eq!(state["models"]["x"]["type"], "rate_limited");

    let mut x = chat_body();
    x["model"] = json!("x");
    assert_eq!(
        post(&server, "/v1/chat/completions", &x).await.0.as_u16(),
        429
    );
    assert_eq!(
        post(&server, "/v1/chat/completions", &chat_body())
            .await
            .0
            .as_u16(),
        503
    );

    let resp = c.delete(url("faults")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        post(&server, "/v1/chat/completions", &x).await.0,
        StatusCode::OK
    );

    let resp = c
        .post(url("faults"))
        .body(r#"{"fault": {"type": "reset"}, "sticky": true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        post_raw(&server, "/v1/chat/completions", &chat_body())
            .await
            .is_err()
    );
    c.post(url("faults"))
        .body(r#"{"fault": null, "sticky": true}"#)
        .send()
        .await
        .unwrap();

    for bad in [
        r#"{"fault": {"type": "explode"}}"#,
        r#"{"fault": {"type": "status", "status": 200}}"#,
        r#"{"times": 2}"#,
        "not json",
    ] {
        let resp = c.post(url("faults")).body(bad).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{bad}");
    }

    // Control requests are not recorded; API requests are.
    let recorded = c
        .get(url("requests"))
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    let recorded = recorded.as_array().unwrap();
    assert_eq!(recorded.len(), 4);
    assert_eq!(recorded[0]["method"], "POST");
    assert_eq!(recorded[0]["path"], "/v1/chat/completions");
    assert_eq!(
        recorded[0]["headers"]["authorization"],
        "Bearer sk-test-key"
    );
    assert_eq!(recorded[0]["json"]["model"], "x");
    assert!(recorded[0]["body"].is_string());

    c.delete(url("requests")).send().await.unwrap();
    assert!(server.requests().is_empty());

    // Release over HTTP.
    server.push_fault(Fault::HoldStream);
    let held = tokio::spawn({
        let base = server.base_url();
        async move {
            client()
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(KEY)
                .body(serde_json::to_vec(&chat_body()).unwrap())
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    // Held once it has arrived, whatever time passes: only the release lets it go.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.requests().is_empty() {
        assert!(Instant::now() < deadline, "the held request never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::task::yield_now().await;
    assert!(!held.is_finished());
    c.post(url("release")).send().await.unwrap();
    assert_eq!(held.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn open_connections_and_shutdown() {
    let server = start().await;
    assert_eq!(server.open_connections(), 0);
    let c = client();
    let resp = c
        .get(format!("{}/v1/models", server.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    resp.bytes().await.unwrap();
    assert_eq!(server.open_connections(), 1);
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(2);
    while server.open_connections() != 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.open_connections(), 0);

    let addr = server.addr();
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn http2_prior_knowledge() {
    let server = start().await;
    let c = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let resp = c
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .bearer_auth(KEY)
        .body(serde_json::to_vec(&stream_body(true)).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn many_concurrent_requests() {
    let server = start_with(|o| o.record = false).await;
    let c = client();
    let url = format!("{}/v1/chat/completions", server.base_url());
    let body = serde_json::to_vec(&chat_body()).unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let c = c.clone();
            let url = url.clone();
            let body = body.clone();
            tokio::spawn(async move {
                c.post(url)
                    .bearer_auth(KEY)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
}
