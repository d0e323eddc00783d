//! The mock's Anthropic Messages dialect through a real HTTP client, checked against the
//! documented examples kept in `tests/fixtures/anthropic/` (see its README for sources).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions should fail loudly too"
)]

use asbru_mock::{Fault, MockOptions, MockServer};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const KEY: &str = "sk-ant-test-key";
const VERSION: &str = "2023-06-01";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn start() -> MockServer {
    start_with(|_| {}).await
}

async fn start_with(f: impl FnOnce(&mut MockOptions)) -> MockServer {
    let mut opts = MockOptions {
        models: ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"]
            .map(String::from)
            .to_vec(),
        ..MockOptions::default()
    };
    f(&mut opts);
    MockServer::start(opts).await.unwrap()
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/anthropic")
        .join(name)
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture_path(name)).unwrap()).unwrap()
}

fn fixture_sse(name: &str) -> Vec<(String, Value)> {
    events(&std::fs::read_to_string(fixture_path(name)).unwrap())
}

/// A request as Anthropic's SDKs send it: key in `x-api-key`, and `anthropic-version`.
fn anthropic(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    req.header("x-api-key", KEY)
        .header("anthropic-version", VERSION)
}

async fn post_raw(server: &MockServer, path: &str, body: &Value) -> reqwest::Response {
    anthropic(client().post(format!("{}{path}", server.base_url())))
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

async fn post(server: &MockServer, path: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
    into_parts(post_raw(server, path, body).await).await
}

async fn get(server: &MockServer, path: &str) -> (StatusCode, HeaderMap, Value) {
    into_parts(
        anthropic(client().get(format!("{}{path}", server.base_url())))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Splits an SSE body into `(event, data)` pairs, checking that every frame names its event
/// and that the data's `type` repeats it, as every documented Anthropic frame does.
fn events(text: &str) -> Vec<(String, Value)> {
    assert!(text.ends_with("\n\n"), "unterminated frame in {text:?}");
    text.split_terminator("\n\n")
        .map(|frame| {
            let (event, data) = frame
                .strip_prefix("event: ")
                .and_then(|f| f.split_once("\ndata: "))
                .unwrap_or_else(|| panic!("not an `event:` + `data:` frame: {frame:?}"));
            let data: Value = serde_json::from_str(data)
                .unwrap_or_else(|e| panic!("bad data ({e}) in {frame:?}"));
            assert_eq!(data["type"], event, "{frame}");
            (event.to_owned(), data)
        })
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(e, _)| e.as_str()).collect()
}

/// Fails unless `actual` has every key `documented` has, recursively, with the same JSON type
/// (a documented `null` admits anything, as it stands for an optional value). Arrays are
/// compared element-wise up to the shorter length.
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

/// Fails unless the body is an Anthropic error of this type, whose `request_id` is the
/// `request-id` header.
fn assert_error(headers: &HeaderMap, body: &Value, kind: &str) {
    assert_shape(body, &fixture_json("error_not_found.json"), "error");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], kind, "{body}");
    let id = headers["request-id"].to_str().unwrap();
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(body["request_id"], id);
    assert!(!headers.contains_key("x-request-id"));
}

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

async fn stream(server: &MockServer, body: &Value) -> Vec<(String, Value)> {
    let mut body = body.clone();
    body["stream"] = json!(true);
    let resp = post_raw(server, "/v1/messages", &body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert!(resp.headers().contains_key("request-id"));
    let (text, failed) = read_stream(resp).await;
    assert!(!failed, "{text}");
    events(&text)
}

/// Checks each event against the documented event of the same name and delta type.
fn assert_events_match_fixture(actual: &[(String, Value)], documented: &[(String, Value)]) {
    for (name, data) in actual {
        let kind = |v: &Value| {
            v.get("delta")
                .and_then(|d| d.get("type"))
                .or_else(|| v.get("content_block").and_then(|b| b.get("type")))
                .cloned()
        };
        if let Some((_, doc)) = documented
            .iter()
            .find(|(n, d)| n == name && kind(d) == kind(data))
        {
            assert_shape(data, doc, name);
        }
    }
}

fn concat(events: &[(String, Value)], delta_type: &str, field: &str) -> String {
    events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == delta_type)
        .map(|(_, d)| d["delta"][field].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn message_has_the_documented_shape_under_any_prefix() {
    let server = start().await;
    let request = fixture_json("messages_request.json");
    let documented = fixture_json("messages_response.json");
    for path in ["/v1/messages", "/anthropic/v1/messages", "/messages/"] {
        let (status, headers, body) = post(&server, path, &request).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(headers["content-type"], "application/json");
        assert!(headers["request-id"].to_str().unwrap().starts_with("req_"));
        assert!(!headers.contains_key("x-request-id"));
        assert_shape(&body, &documented, "message");
        assert!(body["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(body["type"], "message");
        assert_eq!(body["role"], "assistant");
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(
            body["content"],
            json!([{"type": "text", "text": "Hello from the mock."}])
        );
        assert_eq!(body["stop_reason"], "end_turn");
        assert_eq!(body["stop_sequence"], Value::Null);
        // "Hello, world" is two words; the answer four.
        assert_eq!(body["usage"]["input_tokens"], 2);
        assert_eq!(body["usage"]["output_tokens"], 4);
        assert_eq!(body["usage"]["cache_creation_input_tokens"], 0);
        assert_eq!(body["usage"]["cache_read_input_tokens"], 0);
    }
    let (_, _, a) = post(&server, "/v1/messages", &request).await;
    let (_, _, b) = post(&server, "/v1/messages", &request).await;
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn text_stream_follows_the_documented_event_order() {
    let server = start().await;
    let events = stream(&server, &fixture_json("messages_request.json")).await;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
    );
    assert_events_match_fixture(&events, &fixture_sse("stream_text.sse"));
    let start = &events[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["usage"]["input_tokens"], 2);
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(
        concat(&events, "text_delta", "text"),
        "Hello from the mock."
    );
    assert!(
        events[3..8]
            .iter()
            .all(|(_, d)| d["index"] == 0 && d["delta"]["type"] == "text_delta")
    );
    let delta = &events[9].1;
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(delta["usage"]["output_tokens"], 4);
}

#[tokio::test]
async fn stream_frames_arrive_separately_with_chunk_delay() {
    let server = start_with(|o| o.stream_chunk_delay = Duration::from_millis(20)).await;
    let mut body = fixture_json("messages_request.json");
    body["stream"] = json!(true);
    let resp = post_raw(&server, "/v1/messages", &body).await;
    let mut stream = resp.bytes_stream();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        chunk.unwrap();
        chunks += 1;
    }
    assert_eq!(chunks, 11, "one network chunk per event");
}

#[tokio::test]
async fn tool_use_stream_splits_the_input_json() {
    let server = start().await;
    let events = stream(&server, &fixture_json("tool_use_request.json")).await;
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 5]);
    expected.extend(["content_block_stop", "content_block_start"]);
    let json_deltas = events
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "input_json_delta")
        .count();
    expected.extend(std::iter::repeat_n("content_block_delta", json_deltas));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&events), expected);
    assert_events_match_fixture(&events, &fixture_sse("stream_tool_use.sse"));

    let start = &events[9].1;
    assert_eq!(start["index"], 1);
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "get_weather");
    assert_eq!(start["content_block"]["input"], json!({}));
    assert!(
        start["content_block"]["id"]
            .as_str()
            .unwrap()
            .starts_with("toolu_")
    );
    // As the API does: an empty first piece, then the JSON in several pieces.
    assert_eq!(events[10].1["delta"]["partial_json"], "");
    assert!(json_deltas >= 3, "{json_deltas}");
    let json = concat(&events, "input_json_delta", "partial_json");
    // `location` is the schema's only required property.
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        json!({"location": "mock"})
    );
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "tool_use"
    );
}

#[tokio::test]
async fn thinking_comes_first_with_a_signature() {
    let server = start().await;
    let request = fixture_json("thinking_request.json");
    let (status, _, body) = post(&server, "/v1/messages", &request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let content = body["content"].as_array().unwrap();
    assert_eq!(content.len(), 2);
    assert_eq!(content[0]["type"], "thinking");
    assert!(!content[0]["thinking"].as_str().unwrap().is_empty());
    assert!(!content[0]["signature"].as_str().unwrap().is_empty());
    assert_eq!(content[1]["type"], "text");

    let events = stream(&server, &request).await;
    assert_events_match_fixture(&events, &fixture_sse("stream_thinking.sse"));
    let kinds: Vec<String> = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["type"].as_str().unwrap().to_owned())
        .collect();
    let signature_at = kinds.iter().position(|k| k == "signature_delta").unwrap();
    assert!(kinds[..signature_at].iter().all(|k| k == "thinking_delta"));
    assert!(signature_at >= 1);
    assert!(kinds[signature_at + 1..].iter().all(|k| k == "text_delta"));
    assert_eq!(
        concat(&events, "thinking_delta", "thinking"),
        content[0]["thinking"]
    );
    assert_eq!(
        concat(&events, "signature_delta", "signature"),
        content[0]["signature"]
    );
    assert_eq!(events[1].1["content_block"]["type"], "thinking");
    assert_eq!(events[2].0, "ping");
}

#[tokio::test]
async fn tool_choice_drives_tool_calls() {
    let server = start().await;
    let request = fixture_json("tool_use_request.json");

    // auto (the default): some text, then the call.
    let (_, _, body) = post(&server, "/v1/messages", &request).await;
    assert_eq!(body["stop_reason"], "tool_use");
    let content = body["content"].as_array().unwrap();
    assert_eq!(content.len(), 2);
    assert_eq!(content[0]["type"], "text");
    assert_eq!(content[1]["type"], "tool_use");
    assert_eq!(content[1]["name"], "get_weather");
    assert_eq!(content[1]["input"], json!({"location": "mock"}));

    // any / tool: the call alone.
    for choice in [
        json!({"type": "any"}),
        json!({"type": "tool", "name": "get_weather"}),
    ] {
        let mut forced = request.clone();
        forced["tool_choice"] = choice;
        let (status, _, body) = post(&server, "/v1/messages", &forced).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["stop_reason"], "tool_use");
        let content = body["content"].as_array().unwrap();
        assert_eq!(content.len(), 1, "{body}");
        assert_eq!(content[0]["type"], "tool_use");
    }

    // none: text only.
    let mut none = request.clone();
    none["tool_choice"] = json!({"type": "none"});
    let (_, _, body) = post(&server, "/v1/messages", &none).await;
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["content"].as_array().unwrap().len(), 1);

    // Answering the call: the final text.
    let (status, _, body) = post(
        &server,
        "/v1/messages",
        &fixture_json("tool_result_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["content"][0]["text"], "Hello from the mock.");

    // The id the mock gave can be answered.
    let (_, _, first) = post(&server, "/v1/messages", &request).await;
    let mut follow_up = request.clone();
    follow_up["messages"] = json!([
        request["messages"][0],
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": first["content"][1]["id"], "content": "15 degrees"}
        ]}
    ]);
    let (status, _, body) = post(&server, "/v1/messages", &follow_up).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["stop_reason"], "end_turn");
}

#[tokio::test]
async fn max_tokens_and_stop_sequences_stop_early() {
    let server = start().await;
    let mut body = fixture_json("messages_request.json");
    body["max_tokens"] = json!(2);
    let (_, _, short) = post(&server, "/v1/messages", &body).await;
    assert_eq!(short["stop_reason"], "max_tokens");
    assert_eq!(short["content"][0]["text"], "Hello from");
    assert_eq!(short["usage"]["output_tokens"], 2);

    let mut body = fixture_json("messages_request.json");
    body["stop_sequences"] = json!(["the mock", "zzz"]);
    let (_, _, stopped) = post(&server, "/v1/messages", &body).await;
    assert_eq!(stopped["stop_reason"], "stop_sequence");
    assert_eq!(stopped["stop_sequence"], "the mock");
    assert_eq!(stopped["content"][0]["text"], "Hello from ");

    let events = stream(&server, &body).await;
    let delta = &events[events.len() - 2].1["delta"];
    assert_eq!(
        *delta,
        json!({"stop_reason": "stop_sequence", "stop_sequence": "the mock"})
    );
    assert_eq!(concat(&events, "text_delta", "text"), "Hello from ");
}

#[tokio::test]
async fn invalid_requests_get_the_api_messages() {
    let server = start().await;
    let base = fixture_json("messages_request.json");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = base.clone();
        f(&mut b);
        b
    };
    let tool_turns = |result_id: &str| {
        json!([
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": result_id, "content": "sunny"}
            ]}
        ])
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("max_tokens");
            }),
            "max_tokens: Field required",
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("model");
            }),
            "model: Field required",
        ),
        (
            with(&|b| b["max_tokens"] = json!(0)),
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (
            with(&|b| b["messages"] = json!([])),
            "messages: at least one message is required",
        ),
        (
            with(&|b| b["fallbacks"] = json!(["openai/gpt-4o"])),
            "fallbacks: Extra inputs are not permitted",
        ),
        (
            with(&|b| {
                b["messages"] = json!([
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hi"}
                ])
            }),
            "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` \
             parameter, not \"system\" as an input message role.",
        ),
        (
            with(&|b| b["messages"] = json!([{"role": "assistant", "content": "hi"}])),
            "messages: first message must use the \"user\" role",
        ),
        (
            with(&|b| b["messages"] = json!([{"role": "tool", "content": "hi"}])),
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            with(&|b| b["messages"] = json!([{"role": "user", "content": ""}])),
            "messages.0: all messages must have non-empty content except for the optional final \
             assistant message",
        ),
        (
            with(&|b| {
                b["messages"] = json!([{"role": "user", "content": [{"type": "image", "source":
                    {"type": "base64", "media_type": "image/bmp", "data": "AAAA"}}]}])
            }),
            "messages.0.content.0.source.base64.media_type: Input should be 'image/jpeg', \
             'image/png', 'image/gif' or 'image/webp'",
        ),
        (
            with(&|b| b["messages"] = tool_turns("toolu_2")),
            "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: \
             toolu_2. Each `tool_result` block must have a corresponding `tool_use` block in the \
             previous message.",
        ),
        (
            with(&|b| {
                b["messages"] = json!([
                    {"role": "user", "content": "weather?"},
                    {"role": "assistant", "content": [
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
                    ]},
                    {"role": "user", "content": "well?"}
                ])
            }),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately \
             after: toolu_1. Each `tool_use` block must have a corresponding `tool_result` block \
             in the next message.",
        ),
        (
            with(&|b| b["temperature"] = json!(1.5)),
            "temperature: range: 0..1",
        ),
        (
            with(&|b| b["thinking"] = json!({"type": "enabled", "budget_tokens": 512})),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        ),
        (
            with(&|b| b["thinking"] = json!({"type": "enabled", "budget_tokens": 2048})),
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our \
             documentation at https://docs.claude.com/en/docs/build-with-claude/\
             extended-thinking#max-tokens-and-context-window-size",
        ),
        (
            with(&|b| {
                b["max_tokens"] = json!(4096);
                b["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
                b["tools"] = json!([{"name": "t", "input_schema": {"type": "object"}}]);
                b["tool_choice"] = json!({"type": "any"});
            }),
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        (
            with(&|b| b["tools"] = json!([{"name": "get_weather"}])),
            "tools.0.custom.input_schema: Field required",
        ),
        (
            with(&|b| {
                b["tools"] = json!([{"name": "get weather", "input_schema": {"type": "object"}}])
            }),
            "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'",
        ),
        (
            with(&|b| {
                b["tools"] = json!([{"name": "t", "input_schema": {"type": "object"}}]);
                b["tool_choice"] = json!({"type": "required"});
            }),
            "tool_choice: Input tag 'required' found using 'type' does not match any of the \
             expected tags: 'auto', 'any', 'tool', 'none'",
        ),
    ];
    for (body, message) in cases {
        let (status, headers, err) = post(&server, "/v1/messages", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&headers, &err, "invalid_request_error");
        assert_eq!(err["error"]["message"], message, "{body}");
    }

    // Not JSON at all.
    let resp = anthropic(client().post(format!("{}/v1/messages", server.base_url())))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, headers, err) = into_parts(resp).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&headers, &err, "invalid_request_error");
}

#[tokio::test]
async fn keys_and_versions_are_checked() {
    let server = start_with(|o| o.valid_keys = Some(vec![KEY.into()])).await;
    let url = format!("{}/v1/messages", server.base_url());
    let body = serde_json::to_vec(&fixture_json("messages_request.json")).unwrap();
    let send = |req: reqwest::RequestBuilder| {
        let body = body.clone();
        async move { into_parts(req.body(body).send().await.unwrap()).await }
    };

    let (status, headers, err) =
        send(client().post(&url).header("anthropic-version", VERSION)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&headers, &err, "authentication_error");
    assert_eq!(err["error"]["message"], "x-api-key header is required");

    let (status, headers, err) = send(
        client()
            .post(&url)
            .header("x-api-key", "sk-ant-wrong")
            .header("anthropic-version", VERSION),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&headers, &err, "authentication_error");
    assert_eq!(err["error"]["message"], "invalid x-api-key");

    let (status, headers, err) = send(client().post(&url).header("x-api-key", KEY)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&headers, &err, "invalid_request_error");
    assert_eq!(
        err["error"]["message"],
        "anthropic-version: header is required"
    );

    let (status, _, err) = send(
        client()
            .post(&url)
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-10-01"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["message"],
        "anthropic-version: \"2023-10-01\" is not a valid version"
    );

    // A header a proxy sent twice arrives joined, and matches no version.
    let (status, _, err) = send(
        client()
            .post(&url)
            .header("x-api-key", KEY)
            .header("anthropic-version", VERSION)
            .header("anthropic-version", VERSION),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["message"],
        "anthropic-version: \"2023-06-01, 2023-06-01\" is not a valid version"
    );

    // The SDKs' `auth_token` travels as a bearer token; both documented versions pass.
    for version in ["2023-06-01", "2023-01-01"] {
        let (status, _, body) = send(
            client()
                .post(&url)
                .bearer_auth(KEY)
                .header("anthropic-version", version)
                .header("anthropic-beta", "interleaved-thinking-2025-05-14"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let recorded = server.requests();
    let last = recorded.last().unwrap();
    assert_eq!(
        last.header("anthropic-beta"),
        Some("interleaved-thinking-2025-05-14")
    );
    assert_eq!(last.header("anthropic-version"), Some("2023-01-01"));

    // Keyless mode still checks the version.
    let open = start_with(|o| o.require_auth = false).await;
    let resp = client()
        .post(format!("{}/v1/messages", open.base_url()))
        .header("anthropic-version", VERSION)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn count_tokens_agrees_with_message_usage() {
    let server = start().await;
    let (status, headers, count) = post(
        &server,
        "/v1/messages/count_tokens",
        &fixture_json("count_tokens_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{count}");
    assert!(headers.contains_key("request-id"));
    assert_shape(&count, &fixture_json("count_tokens_response.json"), "count");
    // "You are a scientist" + "Hello, Claude".
    assert_eq!(count, json!({"input_tokens": 6}));

    for name in [
        "messages_request.json",
        "tool_use_request.json",
        "tool_result_request.json",
    ] {
        let mut request = fixture_json(name);
        // A cache breakpoint on the last message: the prefix is written to the cache.
        let messages = request["messages"].as_array_mut().unwrap();
        let last = messages.last_mut().unwrap();
        if let Some(text) = last["content"].as_str() {
            last["content"] = json!([{"type": "text", "text": text,
                "cache_control": {"type": "ephemeral"}}]);
        }
        let (_, _, message) = post(&server, "/v1/messages", &request).await;
        let usage = &message["usage"];
        let mut count_request = request.clone();
        count_request.as_object_mut().unwrap().remove("max_tokens");
        let (status, _, count) = post(&server, "/v1/messages/count_tokens", &count_request).await;
        assert_eq!(status, StatusCode::OK, "{count}");
        let total = usage["input_tokens"].as_u64().unwrap()
            + usage["cache_creation_input_tokens"].as_u64().unwrap()
            + usage["cache_read_input_tokens"].as_u64().unwrap();
        assert_eq!(count["input_tokens"].as_u64().unwrap(), total, "{name}");
        if name == "messages_request.json" {
            assert_eq!(usage["cache_creation_input_tokens"], 2);
            assert_eq!(usage["cache_creation"]["ephemeral_5m_input_tokens"], 2);
            assert_eq!(usage["input_tokens"], 0);
        }
    }

    // count_tokens takes no `max_tokens`, and validates like messages do.
    let (status, _, err) = post(
        &server,
        "/v1/messages/count_tokens",
        &fixture_json("messages_request.json"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["message"],
        "max_tokens: Extra inputs are not permitted"
    );
    let (status, _, err) = post(
        &server,
        "/v1/messages/count_tokens",
        &json!({"model": "claude-sonnet-4-5", "messages": [{"role": "system", "content": "x"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn models_in_anthropic_shape_only_for_anthropic_requests() {
    let server = start().await;
    let (status, headers, page) = get(&server, "/v1/models").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.contains_key("request-id"));
    assert_shape(&page, &fixture_json("models_list_response.json"), "models");
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    assert_eq!(page["first_id"], "claude-sonnet-4-5");
    assert_eq!(page["last_id"], "claude-haiku-4-5");
    assert_eq!(page["has_more"], false);

    let (_, _, page) = get(
        &server,
        "/anthropic/v1/models?limit=1&after_id=claude-sonnet-4-5",
    )
    .await;
    assert_eq!(page["data"][0]["id"], "claude-opus-4-1");
    assert_eq!(page["has_more"], true);

    let (status, _, model) = get(&server, "/v1/models/claude-opus-4-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(
        &model,
        &fixture_json("models_list_response.json")["data"][0],
        "model",
    );

    let (status, headers, err) = get(&server, "/v1/models/claude-2").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&headers, &err, "not_found_error");
    assert_eq!(err["error"]["message"], "model: claude-2");

    let (status, headers, err) = get(&server, "/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&headers, &err, "not_found_error");

    // Without Anthropic's headers, the OpenAI dialect answers as before.
    let resp = client()
        .get(format!("{}/v1/models", server.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let (status, headers, page) = into_parts(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(page["object"], "list");
    assert_eq!(page["data"][0]["object"], "model");
}

#[tokio::test]
async fn status_and_rate_limit_faults_in_anthropic_shape() {
    let server = start().await;
    let request = fixture_json("messages_request.json");
    let status_fault = |status, message: &str| Fault::Status {
        status,
        message: message.to_owned(),
    };
    server.push_fault(status_fault(529, ""));
    server.push_fault(status_fault(500, ""));
    server.push_fault(status_fault(400, "custom"));
    server.push_fault(Fault::RateLimited {
        retry_after_secs: 7,
    });

    let (status, headers, err) = post(&server, "/v1/messages", &request).await;
    assert_eq!(status.as_u16(), 529);
    assert_error(&headers, &err, "overloaded_error");
    assert_eq!(err["error"]["message"], "Overloaded");

    // A stream fails before it starts: a plain HTTP error, not an event.
    let mut streaming = request.clone();
    streaming["stream"] = json!(true);
    let (status, headers, err) = post(&server, "/v1/messages", &streaming).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_error(&headers, &err, "api_error");

    let (status, headers, err) = post(&server, "/v1/messages/count_tokens", &json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&headers, &err, "invalid_request_error");
    assert_eq!(err["error"]["message"], "custom");

    let (status, headers, err) = post(&server, "/v1/messages", &request).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_error(&headers, &err, "rate_limit_error");
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(headers["anthropic-ratelimit-requests-remaining"], "0");
    let reset = headers["anthropic-ratelimit-requests-reset"]
        .to_str()
        .unwrap();
    assert!(reset.ends_with('Z') && reset.len() == 20, "{reset}");

    // Per-model faults match the body's model, as in the OpenAI dialect.
    server.set_model_fault("claude-opus-4-1", Some(status_fault(403, "")));
    let mut opus = request.clone();
    opus["model"] = json!("claude-opus-4-1");
    let (status, headers, err) = post(&server, "/v1/messages", &opus).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&headers, &err, "permission_error");
    let (status, _, _) = post(&server, "/v1/messages", &request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn mid_stream_error_is_an_error_event() {
    let server = start().await;
    let mut request = fixture_json("messages_request.json");
    request["messages"][0]["content"] = json!("Hello asbru-mock:error=overloaded_error");
    let events = stream(&server, &request).await;
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "error"
        ]
    );
    let documented = fixture_sse("stream_error.sse");
    assert_eq!(events[4], documented[0]);

    // Without streaming, the same failure is an HTTP error.
    let (status, headers, err) = post(&server, "/v1/messages", &request).await;
    assert_eq!(status.as_u16(), 529);
    assert_error(&headers, &err, "overloaded_error");

    // In a tool call, it comes after the first input_json_delta.
    let mut tools = fixture_json("tool_use_request.json");
    tools["tool_choice"] = json!({"type": "any"});
    tools["messages"][0]["content"] = json!("asbru-mock:error=api_error");
    let events = stream(&server, &tools).await;
    assert_eq!(events.last().unwrap().1["error"]["type"], "api_error");
    assert_eq!(
        events[events.len() - 2].1["delta"]["type"],
        "input_json_delta"
    );
}

#[tokio::test]
async fn delivery_faults_apply_to_anthropic_streams() {
    let server = start().await;
    let mut request = fixture_json("messages_request.json");
    request["stream"] = json!(true);

    server.push_fault(Fault::StreamCut { after_chunks: 3 });
    let resp = post_raw(&server, "/v1/messages", &request).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let (text, failed) = read_stream(resp).await;
    assert!(failed, "the body must end in an error, got {text:?}");
    assert_eq!(
        names(&events(&text)),
        ["message_start", "content_block_start", "ping"]
    );

    server.push_fault(Fault::MalformedJson);
    let text = post_raw(&server, "/v1/messages", &request)
        .await
        .text()
        .await
        .unwrap();
    let frames: Vec<&str> = text.split_terminator("\n\n").collect();
    assert!(frames[0].starts_with("event: message_start\ndata: {"));
    let (event, data) = frames[1].split_once("\ndata: ").unwrap();
    assert_eq!(event, "event: content_block_delta");
    assert!(serde_json::from_str::<Value>(data).is_err());

    server.push_fault(Fault::HoldStream);
    let resp = post_raw(&server, "/v1/messages", &request).await;
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        text.push_str(std::str::from_utf8(&stream.next().await.unwrap().unwrap()).unwrap());
    }
    assert_eq!(names(&events(&text)), ["message_start"]);
    let waited = tokio::time::timeout(Duration::from_millis(150), stream.next()).await;
    assert!(waited.is_err(), "the rest must be held");
    server.release_streams();
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert_eq!(events(&text).last().unwrap().0, "message_stop");

    // A non-streaming answer cut half-way, or half-sent as JSON.
    let plain = fixture_json("messages_request.json");
    server.push_fault(Fault::StreamCut { after_chunks: 0 });
    let resp = post_raw(&server, "/v1/messages", &plain).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.bytes().await.is_err());
    server.push_fault(Fault::MalformedJson);
    let resp = post_raw(&server, "/v1/messages", &plain).await;
    assert!(resp.headers().contains_key("request-id"));
    assert!(serde_json::from_slice::<Value>(&resp.bytes().await.unwrap()).is_err());
}

#[tokio::test]
async fn bodies_over_32_mb_are_request_too_large() {
    let server = start().await;
    let mut request = fixture_json("messages_request.json");
    request["messages"][0]["content"] = json!("a".repeat(32 * 1024 * 1024 + 1));
    let (status, headers, err) = post(&server, "/v1/messages", &request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&headers, &err, "request_too_large");
    // Just under the limit passes.
    request["messages"][0]["content"] = json!("a ".repeat(1024 * 1024));
    let (status, _, body) = post(&server, "/v1/messages", &request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["usage"]["input_tokens"], 1024 * 1024);
}
