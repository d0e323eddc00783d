//! The Bedrock Converse dialect against Bedrock's documented examples
//! (`tests/fixtures/bedrock/`, sources in SOURCES.md): both conversion directions, round trips,
//! event-stream framing (split frames, bad CRCs, bounds), streams both ways, and errors.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use asbru_dialects::bedrock::eventstream::{FrameError, encode_event, event_message};
use asbru_dialects::bedrock::request::{RequestOptions, from_bedrock, to_bedrock};
use asbru_dialects::bedrock::response::{self, ResponseOptions};
use asbru_dialects::bedrock::types::{
    BlockDelta, ContentBlock, ConverseRequest, ConverseResponse, ReasoningContent, Role,
    StreamEvent, SystemBlock, ToolChoice as BedrockToolChoice, ToolResultContent,
};
use asbru_dialects::bedrock::{
    ConvertError, FrameDecoder, StreamError, StreamFromUnified, StreamToUnified,
    error_from_bedrock, error_to_bedrock, parse_event, structured_output_tool,
};
use asbru_schema::chat::{
    AssistantMessage, ChatChunk, ChatRequest, Content, ContentPart, FinishReason, JsonSchemaFormat,
    Message, NamedToolChoice, Nullable, ReasoningDetail, ResponseFormat, Tool, ToolCall,
    ToolChoice, ToolChoiceMode, ToolMessage, reasoning_detail_type,
};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::path::PathBuf;

// ---- helpers -----------------------------------------------------------------------------------

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bedrock")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request(name: &str) -> ConverseRequest {
    serde_json::from_value(fixture(name)).unwrap()
}

fn response_fixture(name: &str) -> ConverseResponse {
    serde_json::from_value(fixture(name)).unwrap()
}

fn opts() -> ResponseOptions {
    ResponseOptions {
        id: "req-1".into(),
        model: "anthropic.claude-3-7-sonnet-20250219-v1:0".into(),
        created: 1_700_000_000,
        structured_output_tool: None,
    }
}

/// The stream fixture as events, through the decoder's parser (the JSON payloads as Bedrock
/// sends them, padding included).
fn fixture_events() -> Vec<StreamEvent> {
    fixture("stream_tool_use.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let event_type = e["event"].as_str().unwrap();
            let raw = StreamEvent::Unknown {
                event_type: event_type.to_owned(),
                payload: e["payload"].clone(),
            };
            // Frame it with the raw payload under its real event type, then parse it back.
            let message = event_message(&raw).unwrap();
            let bytes = asbru_dialects::bedrock::eventstream::encode_message(&message).unwrap();
            let mut d = FrameDecoder::new();
            d.push(&bytes);
            parse_event(&d.next_message().unwrap().unwrap()).unwrap()
        })
        .collect()
}

fn frame_all(events: &[StreamEvent]) -> Vec<u8> {
    events
        .iter()
        .flat_map(|e| encode_event(e).unwrap().to_vec())
        .collect()
}

fn run_stream(
    bytes: &[u8],
    piece: usize,
    o: ResponseOptions,
) -> (Vec<ChatChunk>, Result<(), StreamError>) {
    let mut machine = StreamToUnified::new(o);
    let mut chunks = Vec::new();
    for p in bytes.chunks(piece.max(1)) {
        match machine.push_bytes(p) {
            Ok(mut more) => chunks.append(&mut more),
            Err(e) => return (chunks, Err(e)),
        }
    }
    let end = machine.finish();
    (chunks, end)
}

/// What a client reading unified chunks ends up with.
#[derive(Debug, Default, PartialEq)]
struct Assembled {
    content: String,
    reasoning: String,
    /// Per reasoning index: (text, signature, encrypted data).
    reasoning_blocks: Vec<(String, Option<String>, Option<String>)>,
    /// (id, name, arguments)
    tool_calls: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<(u64, u64, u64)>,
}

fn assemble(chunks: &[ChatChunk]) -> Assembled {
    let mut a = Assembled::default();
    for chunk in chunks {
        if let Some(u) = chunk.usage.value() {
            assert!(a.usage.is_none(), "usage sent twice");
            a.usage = Some((u.prompt_tokens, u.completion_tokens, u.total_tokens));
        }
        for choice in &chunk.choices {
            let d = &choice.delta;
            if let Some(t) = d.content.value() {
                a.content.push_str(t);
            }
            if let Some(r) = &d.reasoning {
                a.reasoning.push_str(r);
            }
            for detail in d.reasoning_details.iter().flatten() {
                let i = detail.index.unwrap() as usize;
                if a.reasoning_blocks.len() <= i {
                    a.reasoning_blocks
                        .resize(i + 1, (String::new(), None, None));
                }
                let block = &mut a.reasoning_blocks[i];
                if let Some(t) = &detail.text {
                    block.0.push_str(t);
                }
                if let Some(s) = &detail.signature {
                    block.1 = Some(s.clone());
                }
                if let Some(data) = &detail.data {
                    block.2 = Some(data.clone());
                }
            }
            for call in d.tool_calls.iter().flatten() {
                let i = call.index as usize;
                let f = call.function.as_ref().unwrap();
                if let Some(id) = &call.id {
                    assert_eq!(i, a.tool_calls.len(), "tool call indexes must be dense");
                    assert_eq!(call.kind.as_deref(), Some("function"));
                    a.tool_calls.push((
                        id.clone(),
                        f.name.clone().unwrap(),
                        f.arguments.clone().unwrap_or_default(),
                    ));
                } else {
                    assert!(f.name.is_none(), "name only in the first piece");
                    a.tool_calls[i]
                        .2
                        .push_str(f.arguments.as_deref().unwrap_or(""));
                }
            }
            if let Some(f) = &choice.finish_reason {
                assert!(a.finish.is_none(), "finish_reason sent twice");
                a.finish = Some(f.clone());
            }
        }
    }
    a
}

// ---- wire types ------------------------------------------------------------------------------

#[test]
fn every_fixture_round_trips_through_the_wire_types() {
    for name in [
        "request_basic.json",
        "request_tool_use.json",
        "request_tool_result.json",
    ] {
        let value = fixture(name);
        let parsed: ConverseRequest = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), value, "{name}");
    }
    for name in [
        "response_basic.json",
        "response_tool_use.json",
        "response_reasoning.json",
    ] {
        let value = fixture(name);
        let parsed: ConverseResponse = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), value, "{name}");
    }
}

// ---- requests: Bedrock → unified → Bedrock ---------------------------------------------------

#[test]
fn documented_request_round_trips_through_unified() {
    let original = request("request_basic.json");
    let unified = from_bedrock(&original, "anthropic.claude-3-haiku-20240307-v1:0", false).unwrap();
    assert!(matches!(&unified.messages[0], Message::System(_)));
    assert_eq!(
        unified.temperature,
        Some(serde_json::Number::from_f64(0.5).unwrap())
    );
    assert_eq!(
        unified.extra["additionalModelRequestFields"],
        json!({"top_k": 200})
    );
    assert!(!unified.is_stream());
    let back = to_bedrock(&unified, &RequestOptions::default()).unwrap();
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        fixture("request_basic.json")
    );
}

#[test]
fn tool_conversation_from_bedrock() {
    let unified = from_bedrock(&request("request_tool_result.json"), "m", true).unwrap();
    assert_eq!(
        unified.stream_options.as_ref().unwrap().include_usage,
        Some(true)
    );
    let Message::Assistant(a) = &unified.messages[1] else {
        panic!("assistant expected")
    };
    let call = &a.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    assert_eq!(call.function.arguments, r#"{"sign":"WZPZ"}"#);
    assert_eq!(a.content, Nullable::Null);
    let Message::Tool(t) = &unified.messages[2] else {
        panic!("tool message expected")
    };
    assert_eq!(t.tool_call_id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    let result: Value = serde_json::from_str(&t.content.text()).unwrap();
    assert_eq!(
        result,
        json!({"song": "Elemental Hotel", "artist": "8 Storey Hike"})
    );
    assert_eq!(
        unified.tools.as_ref().unwrap()[0]
            .function
            .as_ref()
            .unwrap()
            .name,
        "top_song"
    );

    // And back: the same turns, with the JSON result now text.
    let back = to_bedrock(&unified, &RequestOptions::default()).unwrap();
    assert_eq!(back.messages.len(), 3);
    let ContentBlock::ToolResult(r) = &back.messages[2].content[0] else {
        panic!("toolResult expected")
    };
    assert!(matches!(&r.content[0], ToolResultContent::Text(_)));
    let ContentBlock::ToolUse(u) = &back.messages[1].content[0] else {
        panic!("toolUse expected")
    };
    assert_eq!(u.input, json!({"sign": "WZPZ"}));

    let forced = from_bedrock(&request("request_tool_use.json"), "m", false).unwrap();
    assert_eq!(
        forced.tool_choice,
        Some(ToolChoice::Named(NamedToolChoice::function("top_song")))
    );
}

// ---- requests: unified → Bedrock, decision by decision ---------------------------------------

fn unified(messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new("anthropic.claude-3-7-sonnet-20250219-v1:0", messages)
}

fn bedrock(req: &ChatRequest) -> ConverseRequest {
    to_bedrock(req, &RequestOptions::default()).unwrap()
}

fn image_message(url: &str) -> Message {
    Message::User(asbru_schema::chat::UserMessage {
        content: Content::Parts(vec![ContentPart::text("look"), ContentPart::image_url(url)]),
        name: None,
        extra: Map::new(),
    })
}

#[test]
fn system_roles_and_merging() {
    let req = unified(vec![
        Message::system("be brief"),
        Message::user("a"),
        Message::Developer(asbru_schema::chat::SystemMessage {
            content: Content::Text("and kind".into()),
            name: None,
            extra: Map::new(),
        }),
        Message::user("b"),
        Message::assistant("c"),
    ]);
    let out = bedrock(&req);
    assert_eq!(
        out.system.unwrap(),
        vec![
            SystemBlock::Text("be brief".into()),
            SystemBlock::Text("and kind".into())
        ]
    );
    assert_eq!(out.messages.len(), 2);
    assert_eq!(out.messages[0].role, Role::User);
    assert_eq!(
        out.messages[0].content,
        vec![
            ContentBlock::Text("a".into()),
            ContentBlock::Text("b".into())
        ]
    );
    assert_eq!(out.messages[1].role, Role::Assistant);
    assert!(out.inference_config.is_none());
}

#[test]
fn images_base64_s3_and_url() {
    let out = bedrock(&unified(vec![image_message(
        "data:image/png;base64,iVBORw0KGgo=",
    )]));
    let ContentBlock::Image(img) = &out.messages[0].content[1] else {
        panic!("image expected")
    };
    assert_eq!(img.format, "png");
    assert_eq!(img.source.bytes.as_deref(), Some("iVBORw0KGgo="));

    let out = bedrock(&unified(vec![image_message("s3://bucket/cat.jpg")]));
    let ContentBlock::Image(img) = &out.messages[0].content[1] else {
        panic!("image expected")
    };
    assert_eq!(img.format, "jpeg");
    assert_eq!(
        img.source.s3_location.as_ref().unwrap().uri,
        "s3://bucket/cat.jpg"
    );

    let err = to_bedrock(
        &unified(vec![image_message("https://example.com/cat.png")]),
        &RequestOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ConvertError::Unsupported(ref m) if m.contains("URL")));
    let err = to_bedrock(
        &unified(vec![image_message("data:image/tiff;base64,AAAA")]),
        &RequestOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ConvertError::Unsupported(_)));
}

fn weather_tool() -> Tool {
    Tool::function(
        "get_weather",
        Some("Weather".into()),
        Some(json!({"type": "object", "properties": {"city": {"type": "string"}}})),
    )
}

#[test]
fn tools_and_tool_choice() {
    let mut req = unified(vec![Message::user("hi")]);
    req.tools = Some(vec![weather_tool()]);
    let config = bedrock(&req).tool_config.unwrap();
    assert_eq!(config.tool_choice, Some(BedrockToolChoice::Auto));
    let v = serde_json::to_value(&config.tools).unwrap();
    assert_eq!(v[0]["toolSpec"]["name"], "get_weather");
    assert_eq!(v[0]["toolSpec"]["inputSchema"]["json"]["type"], "object");

    req.tool_choice = Some(ToolChoice::Mode(ToolChoiceMode::Required));
    assert_eq!(
        bedrock(&req).tool_config.unwrap().tool_choice,
        Some(BedrockToolChoice::Any)
    );
    req.tool_choice = Some(ToolChoice::Named(NamedToolChoice::function("get_weather")));
    assert_eq!(
        bedrock(&req).tool_config.unwrap().tool_choice,
        Some(BedrockToolChoice::Tool("get_weather".into()))
    );
    // `none`: tools left out …
    req.tool_choice = Some(ToolChoice::Mode(ToolChoiceMode::None));
    assert!(bedrock(&req).tool_config.is_none());
    // … unless the conversation holds tool blocks, which Bedrock accepts only beside toolConfig.
    req.messages.push(Message::Assistant(AssistantMessage {
        content: Nullable::Null,
        tool_calls: Some(vec![ToolCall::function(
            "t1",
            "get_weather",
            r#"{"city":"Paris"}"#,
        )]),
        ..AssistantMessage::default()
    }));
    req.messages.push(Message::Tool(ToolMessage {
        content: Content::Text("sunny".into()),
        tool_call_id: "t1".into(),
        is_error: Some(true),
        extra: Map::new(),
    }));
    let out = bedrock(&req);
    let config = out.tool_config.unwrap();
    assert_eq!(config.tool_choice, None);
    let ContentBlock::ToolResult(r) = &out.messages[2].content[0] else {
        panic!("toolResult expected")
    };
    assert_eq!(r.status.as_deref(), Some("error"));
}

#[test]
fn structured_output_is_a_forced_tool() {
    let mut req = unified(vec![Message::user("give me json")]);
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "answer".into(),
            description: None,
            schema: Some(json!({"type": "object", "properties": {"x": {"type": "integer"}}})),
            strict: Some(true),
            extra: Map::new(),
        },
        extra: Map::new(),
    });
    assert_eq!(structured_output_tool(&req), Some("answer"));
    let config = bedrock(&req).tool_config.unwrap();
    assert_eq!(
        config.tool_choice,
        Some(BedrockToolChoice::Tool("answer".into()))
    );

    // The call comes back as content, and its tool_use stop as stop.
    let resp: ConverseResponse = serde_json::from_value(json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t", "name": "answer", "input": {"x": 1}}}]}},
        "stopReason": "tool_use", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
    }))
    .unwrap();
    let o = ResponseOptions {
        structured_output_tool: Some("answer".into()),
        ..opts()
    };
    let out = response::from_bedrock(&resp, &o).unwrap();
    let m = out.first_message().unwrap();
    assert_eq!(m.text().unwrap(), r#"{"x":1}"#);
    assert!(m.tool_calls.is_none());
    assert_eq!(out.choices[0].finish_reason, Some(FinishReason::Stop));

    // Streamed the same way.
    let events = vec![
        ev("messageStart", json!({"role": "assistant"})),
        ev(
            "contentBlockStart",
            json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "answer"}}}),
        ),
        ev(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{\"x\":"}}}),
        ),
        ev(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"toolUse": {"input": "1}"}}}),
        ),
        ev("contentBlockStop", json!({"contentBlockIndex": 0})),
        ev("messageStop", json!({"stopReason": "tool_use"})),
    ];
    let (chunks, end) = run_stream(&frame_all(&events), 5, o);
    end.unwrap();
    let a = assemble(&chunks);
    assert_eq!(a.content, r#"{"x":1}"#);
    assert!(a.tool_calls.is_empty());
    assert_eq!(a.finish, Some(FinishReason::Stop));
}

#[test]
fn reasoning_is_replayed_with_signatures_and_requested_by_budget() {
    let assistant = AssistantMessage {
        content: Nullable::Value(Content::Text("Paris".into())),
        reasoning_details: Some(vec![
            ReasoningDetail {
                kind: reasoning_detail_type::TEXT.into(),
                text: Some("thinking".into()),
                signature: Some("sig".into()),
                ..ReasoningDetail::default()
            },
            ReasoningDetail {
                kind: reasoning_detail_type::ENCRYPTED.into(),
                data: Some("ZW5j".into()),
                ..ReasoningDetail::default()
            },
            // Unsigned reasoning cannot be verified and is dropped.
            ReasoningDetail {
                kind: reasoning_detail_type::TEXT.into(),
                text: Some("unsigned".into()),
                ..ReasoningDetail::default()
            },
        ]),
        ..AssistantMessage::default()
    };
    let mut req = unified(vec![
        Message::user("q"),
        Message::Assistant(assistant),
        Message::user("more"),
    ]);
    req.reasoning_effort = Some("medium".into());
    req.max_tokens = Some(8000);
    let out = bedrock(&req);
    let blocks = &out.messages[1].content;
    assert_eq!(blocks.len(), 3);
    assert!(
        matches!(&blocks[0], ContentBlock::ReasoningContent(ReasoningContent::ReasoningText(t)) if t.signature.as_deref() == Some("sig"))
    );
    assert!(
        matches!(&blocks[1], ContentBlock::ReasoningContent(ReasoningContent::RedactedContent(d)) if d == "ZW5j")
    );
    assert_eq!(
        out.additional_model_request_fields.unwrap()["thinking"],
        json!({"type": "enabled", "budget_tokens": 4000})
    );
    assert_eq!(out.inference_config.unwrap().max_tokens, Some(8000));
}

#[test]
fn unsupported_requests_are_refused() {
    let mut req = unified(vec![Message::user("x")]);
    req.extra.insert("n".into(), json!(2));
    assert!(matches!(
        to_bedrock(&req, &RequestOptions::default()),
        Err(ConvertError::Unsupported(_))
    ));
    let bad = AssistantMessage {
        tool_calls: Some(vec![ToolCall::function("c1", "f", "{nope")]),
        ..AssistantMessage::default()
    };
    let req = unified(vec![Message::user("x"), Message::Assistant(bad)]);
    assert!(matches!(
        to_bedrock(&req, &RequestOptions::default()),
        Err(ConvertError::InvalidToolArguments { .. })
    ));
}

// ---- responses ---------------------------------------------------------------------------------

#[test]
fn documented_responses_to_unified() {
    let out = response::from_bedrock(&response_fixture("response_basic.json"), &opts()).unwrap();
    assert_eq!(out.id, "req-1");
    let m = out.first_message().unwrap();
    assert!(
        m.text()
            .unwrap()
            .starts_with("Here is a list of 3 pop songs")
    );
    assert_eq!(out.choices[0].finish_reason, Some(FinishReason::Stop));
    let u = out.usage.as_ref().unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (125, 60, 185)
    );

    let out = response::from_bedrock(&response_fixture("response_tool_use.json"), &opts()).unwrap();
    let m = out.first_message().unwrap();
    assert_eq!(m.content, Nullable::Null);
    let call = &m.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q");
    assert_eq!(call.function.name, "top_song");
    assert_eq!(call.function.arguments, r#"{"sign":"WZPZ"}"#);
    assert_eq!(out.choices[0].finish_reason, Some(FinishReason::ToolCalls));

    let out =
        response::from_bedrock(&response_fixture("response_reasoning.json"), &opts()).unwrap();
    let m = out.first_message().unwrap();
    let details = m.reasoning_details.as_ref().unwrap();
    assert_eq!(details[0].kind, reasoning_detail_type::TEXT);
    assert!(
        details[0]
            .signature
            .as_ref()
            .unwrap()
            .starts_with("EqoBCkgIARAB")
    );
    assert_eq!(details[1].kind, reasoning_detail_type::ENCRYPTED);
    assert_eq!(
        m.reasoning.as_deref(),
        Some("The user wants the capital of France. That is Paris.")
    );
    let u = out.usage.as_ref().unwrap();
    assert_eq!(u.prompt_tokens, 1212);
    assert_eq!(u.cached_tokens(), 1000);
    assert_eq!(u.cache_write_tokens(), 200);
}

#[test]
fn responses_round_trip_through_unified() {
    for name in [
        "response_basic.json",
        "response_tool_use.json",
        "response_reasoning.json",
    ] {
        let original = response_fixture(name);
        let unified = response::from_bedrock(&original, &opts()).unwrap();
        let back = response::to_bedrock(&unified).unwrap();
        assert_eq!(back.output.message, original.output.message, "{name}");
        assert_eq!(back.stop_reason, original.stop_reason, "{name}");
        assert_eq!(back.usage, original.usage, "{name}");
    }
}

#[test]
fn malformed_tool_use_is_an_error() {
    let mut resp = response_fixture("response_tool_use.json");
    resp.stop_reason = "malformed_tool_use".into();
    let err = response::from_bedrock(&resp, &opts()).unwrap_err();
    assert!(matches!(err, ConvertError::MalformedOutput(_)));
    let gateway: asbru_schema::GatewayError = err.into();
    assert_eq!(gateway.status(), 502);
    resp.stop_reason = "guardrail_intervened".into();
    let out = response::from_bedrock(&resp, &opts()).unwrap();
    assert_eq!(
        out.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );
}

// ---- framing -------------------------------------------------------------------------------------

fn ev(event_type: &str, payload: Value) -> StreamEvent {
    let raw = StreamEvent::Unknown {
        event_type: event_type.to_owned(),
        payload,
    };
    parse_event(&event_message(&raw).unwrap()).unwrap()
}

#[test]
fn frames_decode_from_any_split() {
    let events = fixture_events();
    let bytes = frame_all(&events);
    for piece in [1, 2, 3, 7, 16, 64, bytes.len()] {
        let mut d = FrameDecoder::new();
        let mut decoded = Vec::new();
        for p in bytes.chunks(piece) {
            d.push(p);
            while let Some(m) = d.next_message().unwrap() {
                decoded.push(parse_event(&m).unwrap());
            }
        }
        assert_eq!(decoded, events, "piece size {piece}");
        assert_eq!(d.buffered(), 0);
    }
}

#[test]
fn bad_crcs_and_lengths_are_refused() {
    let frame = encode_event(&fixture_events()[0]).unwrap().to_vec();

    let mut bad_message = frame.clone();
    let last = bad_message.len() - 5;
    bad_message[last] ^= 0xff; // a payload byte: the message CRC no longer matches
    let mut d = FrameDecoder::new();
    d.push(&bad_message);
    assert!(matches!(d.next_message(), Err(FrameError::Invalid(_))));
    assert!(matches!(d.next_message(), Err(FrameError::Poisoned)));

    let mut bad_prelude = frame.clone();
    bad_prelude[3] ^= 0x01; // the total length: the prelude CRC no longer matches
    let mut d = FrameDecoder::new();
    d.push(&bad_prelude[..12]);
    assert!(matches!(
        d.next_message(),
        Err(FrameError::PreludeChecksum { .. })
    ));

    let mut d = FrameDecoder::with_limit(32);
    d.push(&frame);
    assert!(matches!(d.next_message(), Err(FrameError::TooLarge { .. })));

    // Through the stream machine, a bad CRC is a malformed stream, not a normal end.
    let (_, end) = run_stream(&bad_message, 4, opts());
    assert!(matches!(end, Err(StreamError::Malformed(_))));
}

// ---- streams: Bedrock → unified ---------------------------------------------------------------

#[test]
fn documented_stream_to_unified_in_any_split() {
    let bytes = frame_all(&fixture_events());
    let mut first = None;
    for piece in [1, 5, 33, bytes.len()] {
        let (chunks, end) = run_stream(&bytes, piece, opts());
        end.unwrap();
        assert_eq!(
            chunks[0].choices[0].delta.role.as_deref(),
            Some("assistant")
        );
        assert!(
            chunks
                .iter()
                .all(|c| c.id == "req-1" && c.created == 1_700_000_000)
        );
        let a = assemble(&chunks);
        assert_eq!(a.content, "I'll look that up for you.");
        assert_eq!(a.reasoning, "The user wants a song. I will call top_song.");
        assert_eq!(
            a.reasoning_blocks[0].1.as_deref(),
            Some("ErcBCkgIAhABGAIiQMuQ")
        );
        assert_eq!(
            a.tool_calls,
            vec![(
                "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q".to_owned(),
                "top_song".to_owned(),
                "{\"sign\": \"WZPZ\"}".to_owned()
            )]
        );
        assert_eq!(a.finish, Some(FinishReason::ToolCalls));
        assert_eq!(a.usage, Some((410, 64, 474)));
        // The usage chunk is last and has no choices, as OpenAI's include_usage chunk.
        assert!(chunks.last().unwrap().choices.is_empty());
        match &first {
            None => first = Some(a),
            Some(f) => assert_eq!(f, &a),
        }
    }
}

#[test]
fn exceptions_and_truncation_are_errors() {
    let mut events = fixture_events();
    events.truncate(6);
    events.push(ev_exception(
        "throttlingException",
        "Too many tokens, please wait.",
    ));
    let (chunks, end) = run_stream(&frame_all(&events), 9, opts());
    assert!(!chunks.is_empty());
    let Err(StreamError::Upstream(e)) = end else {
        panic!("upstream error expected: {end:?}")
    };
    assert_eq!(e.status(), 429);
    assert_eq!(e.error_type(), Some("ThrottlingException"));

    let mut events = fixture_events();
    events.truncate(8);
    let (_, end) = run_stream(&frame_all(&events), 9, opts());
    assert!(matches!(end, Err(StreamError::Truncated)));

    // Cut inside a message.
    let bytes = frame_all(&fixture_events());
    let (_, end) = run_stream(&bytes[..bytes.len() - 3], 9, opts());
    assert!(matches!(end, Err(StreamError::Malformed(_))));

    let mut events = fixture_events();
    let stop = events.len() - 2;
    events[stop] = ev("messageStop", json!({"stopReason": "malformed_tool_use"}));
    let (_, end) = run_stream(&frame_all(&events), 64, opts());
    let Err(StreamError::Upstream(e)) = end else {
        panic!("upstream error expected")
    };
    assert_eq!(e.status(), 502);
}

fn ev_exception(kind: &str, message: &str) -> StreamEvent {
    StreamEvent::Exception(asbru_dialects::bedrock::types::StreamException {
        kind: kind.into(),
        message: message.into(),
        extra: Map::new(),
    })
}

// ---- streams: unified → Bedrock -----------------------------------------------------------------

#[test]
fn unified_stream_to_bedrock_and_back() {
    let bytes = frame_all(&fixture_events());
    let (chunks, end) = run_stream(&bytes, 64, opts());
    end.unwrap();
    let expected = assemble(&chunks);

    let mut from = StreamFromUnified::new();
    let mut events = Vec::new();
    for chunk in &chunks {
        events.extend(from.push(chunk).unwrap());
    }
    events.extend(from.finish());
    let names: Vec<&str> = events.iter().map(StreamEvent::event_type).collect();
    assert_eq!(names.first(), Some(&"messageStart"));
    assert_eq!(&names[names.len() - 2..], ["messageStop", "metadata"]);
    // Block indexes are dense and each block is stopped once.
    let stops: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ContentBlockStop(s) => Some(s.content_block_index),
            _ => None,
        })
        .collect();
    assert_eq!(stops, vec![0, 1, 2]);
    assert!(events.iter().any(|e| matches!(e,
        StreamEvent::ContentBlockDelta(d) if matches!(d.delta, BlockDelta::ToolUse { .. }))));

    // Framed and read again, it tells the same story.
    let (again, end) = run_stream(&frame_all(&events), 11, opts());
    end.unwrap();
    assert_eq!(assemble(&again), expected);
}

// ---- errors ----------------------------------------------------------------------------------------

#[test]
fn documented_error_to_gateway_and_back() {
    let body = serde_json::to_vec(&fixture("error_throttling.json")).unwrap();
    let e = error_from_bedrock(
        429,
        Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        &body,
    );
    assert_eq!(e.status(), 429);
    assert_eq!(e.error_type(), Some("ThrottlingException"));
    assert_eq!(
        e.message(),
        "Too many requests, please wait before trying again."
    );
    let (status, kind, out) = error_to_bedrock(&e);
    assert_eq!((status, kind.as_str()), (429, "ThrottlingException"));
    assert_eq!(
        serde_json::to_value(&out).unwrap(),
        fixture("error_throttling.json")
    );

    for (status, kind) in [
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (404, "ResourceNotFoundException"),
        (408, "ModelTimeoutException"),
        (424, "ModelErrorException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
    ] {
        let e = error_from_bedrock(status, None, br#"{"message":"m"}"#);
        assert_eq!(e.error_type(), Some(kind), "{status}");
        assert_eq!(error_to_bedrock(&e).1, kind);
    }
}

#[test]
fn encoded_events_carry_bedrocks_headers() {
    let bytes: Bytes = encode_event(&fixture_events()[0]).unwrap();
    let mut d = FrameDecoder::new();
    d.push(&bytes);
    let m = d.next_message().unwrap().unwrap();
    let h = |n| asbru_dialects::bedrock::eventstream::header_str(&m, n).map(str::to_owned);
    assert_eq!(h(":event-type").as_deref(), Some("messageStart"));
    assert_eq!(h(":message-type").as_deref(), Some("event"));
    assert_eq!(h(":content-type").as_deref(), Some("application/json"));
    let ex = encode_event(&ev_exception("validationException", "bad")).unwrap();
    let mut d = FrameDecoder::new();
    d.push(&ex);
    let m = d.next_message().unwrap().unwrap();
    assert_eq!(
        asbru_dialects::bedrock::eventstream::header_str(&m, ":message-type"),
        Some("exception")
    );
    assert!(
        matches!(parse_event(&m).unwrap(), StreamEvent::Exception(e) if e.kind == "validationException")
    );
}
