//! The mock's Bedrock Converse dialect through a real HTTP client: JSON and event-stream
//! answers (decoded with the gateway's own decoder, a second implementation of the framing),
//! SigV4 signed with the official `aws-sigv4` crate and verified by the mock's own code, API-key
//! bearer auth, validation, and faults in Bedrock's error shape.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions should fail loudly too"
)]

use asbru_dialects::bedrock::types::{BlockDelta, ReasoningDelta, StreamEvent};
use asbru_dialects::bedrock::{FrameDecoder, converse_path, parse_event};
use asbru_mock::{Fault, MockOptions, MockServer};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::SystemTime;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn start_with(f: impl FnOnce(&mut MockOptions)) -> MockServer {
    let mut opts = MockOptions::default();
    f(&mut opts);
    MockServer::start(opts).await.unwrap()
}

async fn start() -> MockServer {
    start_with(|_| {}).await
}

fn url(server: &MockServer, stream: bool) -> String {
    format!("{}{}", server.base_url(), converse_path(MODEL, stream))
}

/// Signs a POST with `aws-sigv4`, as the gateway does, and returns the headers to send.
fn signed_headers(
    url: &str,
    body: &[u8],
    secret: &str,
    token: Option<&str>,
) -> Vec<(String, String)> {
    let identity: Identity =
        Credentials::new(ACCESS_KEY, secret, token.map(str::to_owned), None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("bedrock")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [("content-type", "application/json")];
    let signable =
        SignableRequest::new("POST", url, headers.into_iter(), SignableBody::Bytes(body)).unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    instructions.apply_to_request_http1x(&mut req);
    req.headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect()
}

async fn send(url: &str, headers: &[(String, String)], body: Vec<u8>) -> reqwest::Response {
    let mut req = client().post(url).body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().await.unwrap()
}

async fn post(
    server: &MockServer,
    body: &Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let resp = send(
        &url(server, false),
        &[("content-type".into(), "application/json".into())],
        serde_json::to_vec(body).unwrap(),
    )
    .await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    (status, headers, value)
}

/// The events of an event-stream body, fed to the decoder in 7-byte pieces so frames are split
/// across reads.
fn decode(bytes: &[u8]) -> Vec<StreamEvent> {
    let mut decoder = FrameDecoder::new();
    let mut events = Vec::new();
    for piece in bytes.chunks(7) {
        decoder.push(piece);
        while let Some(message) = decoder.next_message().unwrap() {
            events.push(parse_event(&message).unwrap());
        }
    }
    assert_eq!(decoder.buffered(), 0, "body ended mid-message");
    events
}

async fn stream(server: &MockServer, body: &Value) -> (StatusCode, String, Vec<StreamEvent>) {
    let resp = send(
        &url(server, true),
        &[("content-type".into(), "application/json".into())],
        serde_json::to_vec(body).unwrap(),
    )
    .await;
    let status = resp.status();
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    let bytes = resp.bytes().await.unwrap();
    (status, ct, decode(&bytes))
}

fn hello() -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": "Hello there"}]}]})
}

fn names(events: &[StreamEvent]) -> Vec<&str> {
    events.iter().map(StreamEvent::event_type).collect()
}

#[tokio::test]
async fn converse_answers_the_documented_shape() {
    let server = start().await;
    let (status, headers, body) = post(&server, &hello()).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-amzn-requestid"));
    assert_eq!(body["output"]["message"]["role"], "assistant");
    assert_eq!(
        body["output"]["message"]["content"][0]["text"],
        "Hello from the mock."
    );
    assert_eq!(body["stopReason"], "end_turn");
    assert_eq!(body["usage"]["inputTokens"], 2);
    assert_eq!(body["usage"]["outputTokens"], 4);
    assert_eq!(body["usage"]["totalTokens"], 6);
    assert!(body["metrics"]["latencyMs"].is_u64());
    // The request is recorded with the model in the path, percent-encoded as the SDKs send it.
    let recorded = server.requests();
    assert!(recorded[0].path.contains("v1%3A0/converse"));
}

#[tokio::test]
async fn converse_stream_sends_event_stream_frames() {
    let server = start().await;
    let (status, ct, events) = stream(&server, &hello()).await;
    assert_eq!(status, 200);
    assert_eq!(ct, "application/vnd.amazon.eventstream");
    let n = names(&events);
    assert_eq!(n.first(), Some(&"messageStart"));
    assert_eq!(
        &n[n.len() - 3..],
        ["contentBlockStop", "messageStop", "metadata"]
    );
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockDelta(d) => match &d.delta {
                BlockDelta::Text(t) => Some(t.as_str()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hello from the mock.");
    let StreamEvent::Metadata(meta) = events.last().unwrap() else {
        panic!("metadata last")
    };
    assert_eq!(meta.usage.output_tokens, 4);
    // Every event carries Bedrock's padding field, which decoders must tolerate.
    let StreamEvent::MessageStop(stop) = &events[events.len() - 2] else {
        panic!("messageStop")
    };
    assert!(stop.extra.contains_key("p"));
}

#[tokio::test]
async fn tools_thinking_and_limits_script_the_answer() {
    let server = start().await;
    let tools = json!({"tools": [{"toolSpec": {"name": "top_song", "description": "d",
        "inputSchema": {"json": {"type": "object", "properties": {"sign": {"type": "string"}}, "required": ["sign"]}}}}]});
    let mut forced = hello();
    forced["toolConfig"] = tools.clone();
    forced["toolConfig"]["toolChoice"] = json!({"tool": {"name": "top_song"}});
    let (_, _, body) = post(&server, &forced).await;
    assert_eq!(body["stopReason"], "tool_use");
    let content = body["output"]["message"]["content"].as_array().unwrap();
    assert_eq!(content.len(), 1);
    assert_eq!(content[0]["toolUse"]["name"], "top_song");
    assert_eq!(content[0]["toolUse"]["input"], json!({"sign": "mock"}));

    // Streaming: the tool call is announced by contentBlockStart, then input deltas.
    let (_, _, events) = stream(&server, &forced).await;
    let start = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::ContentBlockStart(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(start.content_block_index, 0);

    let mut thinking = hello();
    thinking["additionalModelRequestFields"] =
        json!({"thinking": {"type": "enabled", "budget_tokens": 1024}});
    thinking["inferenceConfig"] = json!({"maxTokens": 2048});
    let (_, _, body) = post(&server, &thinking).await;
    let first = &body["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"];
    assert!(first["text"].is_string());
    assert!(first["signature"].is_string());
    let (_, _, events) = stream(&server, &thinking).await;
    assert!(events.iter().any(|e| matches!(e,
        StreamEvent::ContentBlockDelta(d) if matches!(d.delta, BlockDelta::ReasoningContent(ReasoningDelta::Signature(_))))));

    let mut tiny = hello();
    tiny["inferenceConfig"] = json!({"maxTokens": 2});
    let (_, _, body) = post(&server, &tiny).await;
    assert_eq!(body["stopReason"], "max_tokens");
    assert_eq!(
        body["output"]["message"]["content"][0]["text"],
        "Hello from"
    );

    let mut stop = hello();
    stop["inferenceConfig"] = json!({"stopSequences": ["mock"]});
    let (_, _, body) = post(&server, &stop).await;
    assert_eq!(body["stopReason"], "stop_sequence");
    assert_eq!(
        body["additionalModelResponseFields"]["stop_sequence"],
        "mock"
    );
}

#[tokio::test]
async fn validation_errors_have_bedrocks_shape() {
    let server = start().await;
    let cases = [
        (json!({"messages": [], "foo": 1}), "extraneous key [foo]"),
        (
            json!({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}),
            "start with a user message",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "a"}]}], "inferenceConfig": {"topP": 2}}),
            "between 0 and 1",
        ),
        (
            json!({"messages": [
            {"role": "user", "content": [{"text": "a"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t2", "content": [{"text": "x"}]}}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}}),
            "does not match",
        ),
    ];
    for (body, needle) in cases {
        let (status, headers, value) = post(&server, &body).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            headers["x-amzn-errortype"]
                .to_str()
                .unwrap()
                .starts_with("ValidationException:"),
            "{body}"
        );
        let message = value["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
}

#[tokio::test]
async fn faults_use_bedrocks_error_shape() {
    let server = start().await;
    for (fault, status, kind) in [
        (
            Fault::RateLimited {
                retry_after_secs: 2,
            },
            429,
            "ThrottlingException",
        ),
        (Fault::status(500), 500, "InternalServerException"),
        (Fault::status(503), 503, "ServiceUnavailableException"),
    ] {
        server.push_fault(fault);
        let (s, headers, body) = post(&server, &hello()).await;
        assert_eq!(s.as_u16(), status);
        assert!(
            headers["x-amzn-errortype"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(body["message"].is_string());
    }
    // A per-model fault matches the model named in the path.
    server.set_model_fault(MODEL, Some(Fault::status(503)));
    let (s, _, _) = post(&server, &hello()).await;
    assert_eq!(s, 503);
    server.clear_faults();

    // Mid-stream failure: an exception message after the first delta.
    let failing = json!({"messages": [{"role": "user", "content": [{"text": "go asbru-mock:error=throttlingException"}]}]});
    let (status, _, events) = stream(&server, &failing).await;
    assert_eq!(status, 200);
    let StreamEvent::Exception(e) = events.last().unwrap() else {
        panic!("an exception last: {:?}", names(&events))
    };
    assert_eq!(e.kind, "throttlingException");
    let (status, headers, _) = post(&server, &failing).await;
    assert_eq!(status, 429);
    assert!(
        headers["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("ThrottlingException")
    );

    // A malformed frame mid-stream fails the decoder's CRC check.
    server.push_fault(Fault::MalformedJson);
    let resp = send(
        &url(&server, true),
        &[],
        serde_json::to_vec(&hello()).unwrap(),
    )
    .await;
    let bytes = resp.bytes().await.unwrap();
    let mut decoder = FrameDecoder::new();
    decoder.push(&bytes);
    let mut result = Ok(None);
    for _ in 0..3 {
        result = decoder.next_message();
        if result.is_err() {
            break;
        }
    }
    assert!(result.is_err(), "the bad CRC must be refused");
}

#[tokio::test]
async fn sigv4_signatures_are_verified() {
    let server = start_with(|o| {
        o.aws_credentials = Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned()));
    })
    .await;
    let url = url(&server, false);
    let body = serde_json::to_vec(&hello()).unwrap();

    let headers = signed_headers(&url, &body, SECRET_KEY, None);
    let resp = send(&url, &headers, body.clone()).await;
    assert_eq!(resp.status(), 200);

    // With a session token (temporary credentials), signed along.
    let headers = signed_headers(&url, &body, SECRET_KEY, Some("FQoGZXIvYXdzEXAMPLE"));
    assert!(headers.iter().any(|(k, _)| k == "x-amz-security-token"));
    let resp = send(&url, &headers, body.clone()).await;
    assert_eq!(resp.status(), 200);

    // A body changed after signing is refused.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let resp = send(&url, &headers, tampered).await;
    assert_eq!(resp.status(), 403);
    assert!(
        resp.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("InvalidSignatureException")
    );
    let value: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert!(
        value["message"]
            .as_str()
            .unwrap()
            .contains("signature we calculated")
    );

    // The wrong secret is refused.
    let headers = signed_headers(&url, &body, "not-the-secret", None);
    let resp = send(&url, &headers, body.clone()).await;
    assert_eq!(resp.status(), 403);

    // A different path than the one signed is refused.
    let other = url.replace("/converse", "/converse-stream");
    let headers = signed_headers(&url, &body, SECRET_KEY, None);
    let resp = send(&other, &headers, body.clone()).await;
    assert_eq!(resp.status(), 403);

    // Unsigned requests are refused.
    let resp = send(&url, &[], body.clone()).await;
    assert_eq!(resp.status(), 403);
    assert!(
        resp.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("MissingAuthenticationTokenException")
    );
}

#[tokio::test]
async fn bedrock_api_keys_are_bearer_tokens() {
    let server = start_with(|o| o.valid_keys = Some(vec!["bedrock-key-1".to_owned()])).await;
    let url = url(&server, false);
    let body = serde_json::to_vec(&hello()).unwrap();
    let ok = send(
        &url,
        &[("authorization".into(), "Bearer bedrock-key-1".into())],
        body.clone(),
    )
    .await;
    assert_eq!(ok.status(), 200);
    let bad = send(
        &url,
        &[("authorization".into(), "Bearer nope".into())],
        body,
    )
    .await;
    assert_eq!(bad.status(), 403);
    assert!(
        bad.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("AccessDeniedException")
    );
}

#[tokio::test]
async fn unsigned_requests_pass_by_default_and_openai_routes_are_unchanged() {
    let server = start().await;
    let (status, _, _) = post(&server, &hello()).await;
    assert_eq!(status, 200);
    let resp = client()
        .post(format!("{}/v1/chat/completions", server.base_url()))
        .bearer_auth("sk-test")
        .header("content-type", "application/json")
        .body(r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
