//! The Bedrock drop-in route (`/bedrock/model/{modelId}/converse[-stream]`, and the same paths at
//! the root): Converse in and out through the engine like every other route — any provider
//! behind it, fallbacks, errors in Bedrock's shape (status, `x-amzn-errortype`, `{"message"}`),
//! and ConverseStream's binary event stream, decoded here by a reader written from the format's
//! description (both CRCs checked), not by the gateway's own decoder.

use crate::harness::TestGateway;
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};

const ACCESS_KEY: &str = "AKIDASBRUROUTE";
const SECRET_KEY: &str = "asbru/route+test/SECRET0123456789";
const BEDROCK_MODEL: &str = "anthropic.claude-3-7-sonnet-20250219-v1:0";
/// `BEDROCK_MODEL` as the AWS SDKs put it in the path.
const BEDROCK_MODEL_IN_PATH: &str = "anthropic.claude-3-7-sonnet-20250219-v1%3A0";
const MOCK_TEXT: &str = "Hello from the mock.";

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions {
        aws_credentials: Some((ACCESS_KEY.to_owned(), SECRET_KEY.to_owned())),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    let config = json!({"providers": {
        "bedrock": {"keys": [{"name": "aws", "weight": 1, "bedrock_key_config": {
                        "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "region": "us-east-1"}}],
                    "network_config": {"base_url": base}},
        "openai": {"keys": [{"name": "o", "value": "sk-openai", "weight": 1}],
                   "network_config": {"base_url": base}},
        "anthropic": {"keys": [{"name": "a", "value": "sk-ant", "weight": 1}],
                      "network_config": {"base_url": base}}
    }});
    TestGateway::start_with(mock, config).await
}

/// What boto3 sends along: its own SigV4 signature, date and session token. None of it may
/// reach a provider; the gateway signs (or authorises) with the key it holds.
const CLIENT_SIGNATURE: [(&str, &str); 3] = [
    (
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDCLIENT/20250101/us-east-1/bedrock/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature=00ff",
    ),
    ("x-amz-date", "20250101T000000Z"),
    ("x-amz-security-token", "client-session-token"),
];

fn ask(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": [{"text": text}]}],
           "inferenceConfig": {"maxTokens": 200}})
}

fn weather_tool() -> Value {
    json!({"tools": [{"toolSpec": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "inputSchema": {"json": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"]}}}}],
        "toolChoice": {"any": {}}})
}

/// A raw POST: status, headers and body bytes.
async fn post(
    gw: &TestGateway,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, bytes::Bytes) {
    let mut request = gw.client.post(format!("{}{path}", gw.url)).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.bytes().await.unwrap())
}

async fn converse(gw: &TestGateway, path: &str, body: &Value) -> (u16, Value) {
    let (status, headers, bytes) = post(gw, path, body, &[]).await;
    assert_eq!(
        headers["content-type"], "application/json",
        "{status} {path}"
    );
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

/// One event-stream message: its string headers and its JSON payload.
#[derive(Debug)]
struct Frame {
    headers: Vec<(String, String)>,
    payload: Value,
}

impl Frame {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `:event-type` of an event, `exception:<type>` of an exception.
    fn kind(&self) -> String {
        match self.header(":message-type") {
            Some("event") => self.header(":event-type").unwrap().to_owned(),
            Some("exception") => format!("exception:{}", self.header(":exception-type").unwrap()),
            other => panic!("unexpected :message-type {other:?}"),
        }
    }
}

/// CRC-32 (IEEE 802.3, the event-stream format's), bit by bit.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

/// Splits a whole event-stream body into messages, checking both CRCs of each, that headers and
/// payload fill the announced length, and that nothing is left over.
fn decode_frames(mut body: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        assert!(body.len() >= 16, "a truncated message: {body:?}");
        let total = be32(&body[0..]) as usize;
        let headers_len = be32(&body[4..]) as usize;
        assert_eq!(be32(&body[8..]), crc32(&body[..8]), "prelude CRC");
        let message = &body[..total];
        assert_eq!(
            be32(&message[total - 4..]),
            crc32(&message[..total - 4]),
            "message CRC"
        );
        let mut raw = &message[12..12 + headers_len];
        let mut headers = Vec::new();
        while !raw.is_empty() {
            let name_len = usize::from(raw[0]);
            let name = std::str::from_utf8(&raw[1..=name_len]).unwrap().to_owned();
            assert_eq!(raw[1 + name_len], 7, "header {name} is not a string");
            let value_len = usize::from(u16::from_be_bytes([raw[2 + name_len], raw[3 + name_len]]));
            let start = 4 + name_len;
            let value = std::str::from_utf8(&raw[start..start + value_len])
                .unwrap()
                .to_owned();
            headers.push((name, value));
            raw = &raw[start + value_len..];
        }
        let payload = serde_json::from_slice(&message[12 + headers_len..total - 4]).unwrap();
        frames.push(Frame { headers, payload });
        body = &body[total..];
    }
    frames
}

/// Streams `body` to `path` and returns the decoded messages.
async fn converse_stream(gw: &TestGateway, path: &str, body: &Value) -> Vec<Frame> {
    let (status, headers, bytes) = post(gw, path, body, &[]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(
        headers["content-type"],
        "application/vnd.amazon.eventstream"
    );
    decode_frames(&bytes)
}

fn kinds_of(frames: &[Frame]) -> Vec<String> {
    frames.iter().map(Frame::kind).collect()
}

fn text_of(frames: &[Frame]) -> String {
    frames
        .iter()
        .filter(|f| f.header(":event-type") == Some("contentBlockDelta"))
        .filter_map(|f| f.payload["delta"]["text"].as_str())
        .collect()
}

/// Bedrock's event order: `messageStart` first and once; blocks with dense indexes, each
/// opened (by `contentBlockStart` or its first delta) before its deltas and closed by
/// `contentBlockStop` before the next; `messageStop`, then `metadata`, last.
fn check_order(frames: &[Frame]) {
    let kinds = kinds_of(frames);
    assert_eq!(kinds.first().map(String::as_str), Some("messageStart"));
    assert_eq!(kinds.iter().filter(|k| *k == "messageStart").count(), 1);
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["messageStop", "metadata"],
        "{kinds:?}"
    );
    let mut open: Option<u64> = None;
    let mut next = 0;
    for f in &frames[1..frames.len() - 2] {
        assert_eq!(f.header(":message-type"), Some("event"));
        assert_eq!(f.header(":content-type"), Some("application/json"));
        let index = f.payload["contentBlockIndex"].as_u64().unwrap();
        match f.header(":event-type").unwrap() {
            "contentBlockStart" => {
                assert_eq!((open, index), (None, next), "{kinds:?}");
                open = Some(index);
            }
            "contentBlockDelta" if open.is_none() => {
                assert_eq!(index, next, "{kinds:?}");
                open = Some(index);
            }
            "contentBlockDelta" => assert_eq!(open, Some(index), "{kinds:?}"),
            "contentBlockStop" => {
                assert_eq!(open, Some(index), "{kinds:?}");
                open = None;
                next += 1;
            }
            other => panic!("unexpected {other} in {kinds:?}"),
        }
    }
    assert_eq!(open, None, "a block left open: {kinds:?}");
}

fn converse_sent(gw: &TestGateway) -> Vec<RecordedRequest> {
    gw.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/model/"))
        .collect()
}

#[tokio::test]
async fn converse_is_served_by_bedrock_with_the_gateways_own_signature() {
    let gw = start().await;
    let mut body = ask("Say hello.");
    body["system"] = json!([{"text": "Be brief."}]);
    body["inferenceConfig"]["temperature"] = json!(0.5);
    let path = format!("/bedrock/model/{BEDROCK_MODEL_IN_PATH}/converse");
    let (status, headers, bytes) = post(&gw, &path, &body, &CLIENT_SIGNATURE).await;
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(answer["output"]["message"]["role"], "assistant");
    assert_eq!(
        answer["output"]["message"]["content"],
        json!([{"text": MOCK_TEXT}])
    );
    assert_eq!(answer["stopReason"], "end_turn");
    let usage = &answer["usage"];
    assert!(usage["inputTokens"].as_u64().unwrap() > 0, "{answer}");
    assert_eq!(usage["outputTokens"], 4);
    assert_eq!(
        usage["totalTokens"].as_u64(),
        Some(usage["inputTokens"].as_u64().unwrap() + 4)
    );
    assert!(answer["metrics"]["latencyMs"].is_u64(), "{answer}");

    let [sent] = converse_sent(&gw).try_into().unwrap();
    assert_eq!(
        sent.path,
        format!("/model/{BEDROCK_MODEL_IN_PATH}/converse")
    );
    let auth = sent.header("authorization").unwrap();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")),
        "{auth}"
    );
    assert_ne!(sent.header("x-amz-date"), Some("20250101T000000Z"));
    assert!(sent.header("x-amz-security-token").is_none());
    let json = sent.json().unwrap();
    assert_eq!(json["system"], json!([{"text": "Be brief."}]));
    assert_eq!(json["inferenceConfig"]["maxTokens"], 200);
    assert_eq!(json["inferenceConfig"]["temperature"], 0.5);
}

#[tokio::test]
async fn encoded_model_ids_name_any_provider() {
    let gw = start().await;
    // boto3 encodes the `/` of `openai/gpt-4o-mini`; a hand-written client may not.
    for path in [
        "/bedrock/model/openai%2Fgpt-4o-mini/converse",
        "/bedrock/model/openai/gpt-4o-mini/converse",
        "/model/openai%2Fgpt-4o-mini/converse",
        "/litellm/model/openai%2Fgpt-4o-mini/converse",
        "/langchain/model/openai/gpt-4o-mini/converse",
    ] {
        let (status, _, bytes) = post(&gw, path, &ask("Say hello."), &CLIENT_SIGNATURE).await;
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(
            answer["output"]["message"]["content"][0]["text"], MOCK_TEXT,
            "{path}"
        );
        let sent = gw.mock.requests().pop().unwrap();
        assert_eq!(sent.path, "/v1/chat/completions", "{path}");
        assert_eq!(sent.json().unwrap()["model"], "gpt-4o-mini");
        assert_eq!(sent.header("authorization"), Some("Bearer sk-openai"));
        assert!(
            sent.headers
                .iter()
                .all(|(name, _)| !name.starts_with("x-amz")),
            "{:?}",
            sent.headers
        );
    }

    // A client that leaves the `:` of a versioned id as it is names the same model.
    let (status, answer) = converse(
        &gw,
        &format!("/bedrock/model/{BEDROCK_MODEL}/converse"),
        &ask("Say hello."),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let sent = converse_sent(&gw).pop().unwrap();
    assert_eq!(
        sent.path,
        format!("/model/{BEDROCK_MODEL_IN_PATH}/converse")
    );

    // An inference-profile ARN, percent-encoded as the SDKs send it, is a bedrock model whole.
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0";
    let encoded = arn.replace(':', "%3A").replace('/', "%2F");
    let (status, answer) = converse(
        &gw,
        &format!("/bedrock/model/{encoded}/converse"),
        &ask("Say hello."),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let sent = converse_sent(&gw).pop().unwrap();
    assert_eq!(sent.path, format!("/model/{encoded}/converse"));

    // A model named with `anthropic/` goes to the anthropic provider.
    let (status, answer) = converse(
        &gw,
        "/bedrock/model/anthropic%2Fclaude-sonnet-4-5/converse",
        &ask("Say hello."),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(gw.mock.requests().pop().unwrap().path, "/v1/messages");
}

#[tokio::test]
async fn a_tool_round_trip_keeps_the_call_id() {
    let gw = start().await;
    let path = format!("/bedrock/model/{BEDROCK_MODEL_IN_PATH}/converse");
    let mut body = ask("Weather in Paris for 2 days?");
    body["toolConfig"] = weather_tool();
    let (status, first) = converse(&gw, &path, &body).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["stopReason"], "tool_use");
    let content = first["output"]["message"]["content"].as_array().unwrap();
    let use_block = content
        .iter()
        .find_map(|b| b.get("toolUse"))
        .unwrap()
        .clone();
    assert_eq!(use_block["name"], "get_weather");
    assert!(use_block["input"]["city"].is_string(), "{use_block}");
    let id = use_block["toolUseId"].as_str().unwrap().to_owned();

    let mut second = body.clone();
    second["messages"] = json!([
        body["messages"][0],
        first["output"]["message"],
        {"role": "user", "content": [{"toolResult": {
            "toolUseId": id, "content": [{"text": "18°C and sunny"}], "status": "success"}}]}
    ]);
    second["toolConfig"]["toolChoice"] = json!({"auto": {}});
    let (status, answer) = converse(&gw, &path, &second).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stopReason"], "end_turn");
    assert_eq!(answer["output"]["message"]["content"][0]["text"], MOCK_TEXT);
    let sent = converse_sent(&gw).pop().unwrap().json().unwrap();
    let result = &sent["messages"][2]["content"][0]["toolResult"];
    assert_eq!(result["toolUseId"], id.as_str());
    assert_eq!(
        sent["messages"][1]["content"][0]["toolUse"]["toolUseId"],
        id.as_str()
    );
}

#[tokio::test]
async fn converse_stream_is_bedrocks_event_stream_from_any_provider() {
    let gw = start().await;
    for model in [
        BEDROCK_MODEL_IN_PATH,
        "openai%2Fgpt-4o-mini",
        "anthropic%2Fclaude-sonnet-4-5",
    ] {
        let frames = converse_stream(
            &gw,
            &format!("/bedrock/model/{model}/converse-stream"),
            &ask("Say hello."),
        )
        .await;
        check_order(&frames);
        assert_eq!(frames[0].payload, json!({"role": "assistant"}), "{model}");
        assert_eq!(text_of(&frames), MOCK_TEXT, "{model}");
        let stop = &frames[frames.len() - 2].payload;
        assert_eq!(stop["stopReason"], "end_turn", "{model}");
        let metadata = &frames[frames.len() - 1].payload;
        assert!(
            metadata["usage"]["outputTokens"].as_u64().unwrap() > 0,
            "{model}: {metadata}"
        );
        assert!(metadata["usage"]["inputTokens"].as_u64().unwrap() > 0);
        assert!(metadata["metrics"]["latencyMs"].is_u64());
    }
}

#[tokio::test]
async fn a_streamed_tool_call_is_a_tool_use_block() {
    let gw = start().await;
    let mut body = ask("Weather in Paris for 2 days?");
    body["toolConfig"] = weather_tool();
    for model in [BEDROCK_MODEL_IN_PATH, "anthropic%2Fclaude-sonnet-4-5"] {
        let frames = converse_stream(&gw, &format!("/model/{model}/converse-stream"), &body).await;
        check_order(&frames);
        let start = frames
            .iter()
            .find(|f| f.header(":event-type") == Some("contentBlockStart"))
            .unwrap();
        let tool = &start.payload["start"]["toolUse"];
        assert_eq!(tool["name"], "get_weather", "{model}");
        assert!(tool["toolUseId"].as_str().is_some_and(|id| !id.is_empty()));
        let input: String = frames
            .iter()
            .filter_map(|f| f.payload["delta"]["toolUse"]["input"].as_str())
            .collect();
        let input: Value = serde_json::from_str(&input).unwrap();
        assert!(input["city"].is_string(), "{model}: {input}");
        assert_eq!(frames[frames.len() - 2].payload["stopReason"], "tool_use");
    }
}

#[tokio::test]
async fn a_failure_after_the_start_is_an_exception_message() {
    let gw = start().await;
    // Bedrock's own mid-stream exception keeps its type.
    let frames = converse_stream(
        &gw,
        &format!("/bedrock/model/{BEDROCK_MODEL_IN_PATH}/converse-stream"),
        &ask("Say hello. asbru-mock:error=ModelStreamErrorException"),
    )
    .await;
    let kinds = kinds_of(&frames);
    assert_eq!(kinds[0], "messageStart", "{kinds:?}");
    assert_eq!(
        kinds.last().unwrap(),
        "exception:modelStreamErrorException",
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k == "messageStop"), "{kinds:?}");
    let last = frames.last().unwrap();
    assert_eq!(last.header(":content-type"), Some("application/json"));
    assert!(last.payload["message"].is_string(), "{:?}", last.payload);

    // An OpenAI stream cut short: the client learns it as Bedrock's internal error.
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let frames = converse_stream(
        &gw,
        "/bedrock/model/openai%2Fgpt-4o-mini/converse-stream",
        &ask("Say hello."),
    )
    .await;
    let kinds = kinds_of(&frames);
    assert_eq!(kinds[0], "messageStart", "{kinds:?}");
    assert_eq!(
        kinds.last().unwrap(),
        "exception:internalServerException",
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k == "messageStop"), "{kinds:?}");
}

/// Status, `x-amzn-errortype` and message of an error answer.
async fn error_of(gw: &TestGateway, path: &str, body: &Value) -> (u16, String, String) {
    let (status, headers, bytes) = post(gw, path, body, &[]).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let kind = headers
        .get("x-amzn-errortype")
        .unwrap_or_else(|| panic!("no x-amzn-errortype: {status} {body}"))
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(headers["content-type"], "application/json");
    let message = body["message"].as_str().unwrap().to_owned();
    (status, kind, message)
}

#[tokio::test]
async fn errors_have_bedrocks_shape_and_status() {
    let gw = start().await;
    let path = format!("/bedrock/model/{BEDROCK_MODEL_IN_PATH}/converse");

    let (status, kind, message) = error_of(&gw, &path, &json!({"messages": []})).await;
    assert_eq!((status, kind.as_str()), (400, "ValidationException"));
    assert!(message.contains("messages"), "{message}");

    let bad_role = json!({"messages": [{"role": "robot", "content": [{"text": "hi"}]}]});
    let (status, kind, message) = error_of(&gw, &path, &bad_role).await;
    assert_eq!((status, kind.as_str()), (400, "ValidationException"));
    assert!(message.contains("messages[0].role"), "{message}");

    let (status, kind, message) = error_of(&gw, "/bedrock/model/x/invoke", &json!({})).await;
    assert_eq!((status, kind.as_str()), (404, "ResourceNotFoundException"));
    assert!(message.contains("Converse"), "{message}");

    // Another provider's refusal becomes Bedrock's exception for it: a 429 is throttling ...
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, kind, _) = error_of(
        &gw,
        "/bedrock/model/openai%2Fgpt-4o-mini/converse",
        &ask("hi"),
    )
    .await;
    assert_eq!((status, kind.as_str()), (429, "ThrottlingException"));
    // ... and a 401 is Bedrock's 403, whatever provider said it.
    gw.mock.push_fault(Fault::status(401));
    let (status, kind, _) = error_of(
        &gw,
        "/bedrock/model/openai%2Fgpt-4o-mini/converse-stream",
        &ask("hi"),
    )
    .await;
    assert_eq!((status, kind.as_str()), (403, "AccessDeniedException"));

    // Bedrock's own errors keep their type.
    gw.mock.push_fault(Fault::status(503));
    let (status, kind, _) = error_of(&gw, &path, &ask("hi")).await;
    assert_eq!(
        (status, kind.as_str()),
        (503, "ServiceUnavailableException")
    );

    // The gateway still serves.
    let (status, _) = converse(&gw, &path, &ask("hi")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn fallbacks_apply_and_the_answer_stays_converse() {
    let gw = start().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "primary down".into(),
    });
    let mut body = ask("Say hello.");
    body["fallbacks"] = json!(["openai/gpt-4o-mini"]);
    let (status, answer) = converse(
        &gw,
        &format!("/bedrock/model/{BEDROCK_MODEL_IN_PATH}/converse"),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["output"]["message"]["content"][0]["text"], MOCK_TEXT);
    assert_eq!(answer["stopReason"], "end_turn");
    let paths: Vec<String> = gw.mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            format!("/model/{BEDROCK_MODEL_IN_PATH}/converse"),
            "/v1/chat/completions".to_owned()
        ]
    );

    // In a stream too: the fallback's chunks become Bedrock events.
    gw.mock.push_fault(Fault::status(503));
    let frames = converse_stream(
        &gw,
        &format!("/bedrock/model/{BEDROCK_MODEL_IN_PATH}/converse-stream"),
        &body,
    )
    .await;
    check_order(&frames);
    assert_eq!(text_of(&frames), MOCK_TEXT);
}

/// The Bedrock route answers a dot-segment model id with its own error shape, naming the model,
/// and sends nothing upstream.
#[tokio::test]
async fn dot_segment_model_ids_in_the_path_are_refused() {
    let gw = start().await;
    for path in [
        "/bedrock/model/bedrock%2F../converse",
        "/bedrock/model/bedrock%2F./converse",
        "/bedrock/model/bedrock%2F../converse-stream",
    ] {
        let (status, answer) = converse(&gw, path, &ask("Say hello.")).await;
        assert_eq!(status, 400, "{path}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains("model"), "{path}: {answer}");
    }
    assert!(gw.mock.requests().is_empty());
}
