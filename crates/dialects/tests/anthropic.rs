//! The Anthropic dialect against Anthropic's and OpenAI's documented examples
//! (`tests/fixtures/anthropic/`, `tests/fixtures/openai/`; sources in each folder's SOURCES.md):
//! both conversion directions, round trips, streams both ways, and errors.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

use asbru_dialects::anthropic::types::{
    BlockDelta, ContentBlock, ErrorBody, MessageContent, MessagesRequest, MessagesResponse,
    StreamEvent,
};
use asbru_dialects::anthropic::{
    ConvertError, RequestOptions, StreamError, StreamFromUnified, StreamToUnified,
    error_from_anthropic, error_to_anthropic, request, response,
};
use asbru_dialects::sse::SseFramer;
use asbru_schema::GatewayError;
use asbru_schema::chat::{
    AssistantMessage, ChatChunk, ChatRequest, ChatResponse, Content, ContentPart, FinishReason,
    JsonSchemaFormat, Message, NamedToolChoice, Nullable, ReasoningDetail, ResponseFormat,
    ToolCall, ToolChoice, ToolChoiceMode, ToolMessage, reasoning_detail_type,
};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

// ---- helpers -----------------------------------------------------------------------------------

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap()
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&text(name)).unwrap()
}

fn anthropic_request(name: &str) -> MessagesRequest {
    serde_json::from_value(fixture(name)).unwrap()
}

fn anthropic_response(name: &str) -> MessagesResponse {
    serde_json::from_value(fixture(name)).unwrap()
}

fn opts() -> RequestOptions {
    RequestOptions::default()
}

/// The SSE events of a fixture, framed by the crate's own framer.
fn sse_frames(name: &str) -> Vec<Vec<u8>> {
    let mut framer = SseFramer::default();
    framer.push(text(name).as_bytes());
    let mut frames = Vec::new();
    while let Some(frame) = framer.next_event().unwrap() {
        frames.push(frame.to_vec());
    }
    assert!(
        framer.remainder().is_empty(),
        "{name} has an unterminated event"
    );
    frames
}

/// Runs an Anthropic SSE fixture through the state machine until the end or the first error.
fn anthropic_stream_to_unified(name: &str) -> (Vec<ChatChunk>, Result<(), StreamError>) {
    let mut machine = StreamToUnified::new(1_700_000_000);
    let mut chunks = Vec::new();
    for frame in sse_frames(name) {
        match machine.push_frame(&frame) {
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
    role: Option<String>,
    content: String,
    reasoning: String,
    /// Per reasoning index: (text, signature, encrypted data).
    reasoning_blocks: Vec<(String, Option<String>, Option<String>)>,
    /// (id, name, arguments)
    tool_calls: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage_chunks: usize,
    prompt_tokens: u64,
    completion_tokens: u64,
}

fn assemble(chunks: &[ChatChunk]) -> Assembled {
    let mut a = Assembled::default();
    for chunk in chunks {
        if let Some(u) = chunk.usage.value() {
            a.usage_chunks += 1;
            a.prompt_tokens = u.prompt_tokens;
            a.completion_tokens = u.completion_tokens;
            assert_eq!(u.total_tokens, u.prompt_tokens + u.completion_tokens);
        }
        for choice in &chunk.choices {
            assert_eq!(choice.index, 0);
            let d = &choice.delta;
            if let Some(r) = &d.role {
                assert!(a.role.is_none(), "role sent twice");
                a.role = Some(r.clone());
            }
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
                if let Some(id) = &call.id {
                    assert_eq!(i, a.tool_calls.len(), "tool call indexes must be dense");
                    let f = call.function.as_ref().unwrap();
                    assert_eq!(call.kind.as_deref(), Some("function"));
                    a.tool_calls.push((
                        id.clone(),
                        f.name.clone().unwrap(),
                        f.arguments.clone().unwrap_or_default(),
                    ));
                } else {
                    let f = call.function.as_ref().unwrap();
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

/// Checks that an Anthropic event sequence is well formed, and rebuilds the message it describes
/// (what an Anthropic SDK's stream accumulator would hold at the end).
fn check_and_accumulate(events: &[StreamEvent]) -> MessagesResponse {
    let names: Vec<&str> = events.iter().map(StreamEvent::name).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| **n == "message_start").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| **n == "message_delta").count(),
        1,
        "{names:?}"
    );
    assert_eq!(names[names.len() - 2], "message_delta", "{names:?}");

    let mut message = None;
    let mut open: Option<u32> = None;
    let mut partial_json = String::new();
    for event in events {
        match event {
            StreamEvent::MessageStart { message: m } => message = Some(m.clone()),
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                assert!(open.is_none(), "block {index} opened inside another");
                let m = message.as_mut().unwrap();
                assert_eq!(*index as usize, m.content.len(), "indexes must be dense");
                m.content.push(content_block.clone());
                open = Some(*index);
                partial_json.clear();
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                assert_eq!(open, Some(*index), "delta for a block that is not open");
                let m = message.as_mut().unwrap();
                match (&mut m.content[*index as usize], delta) {
                    (ContentBlock::Text(t), BlockDelta::TextDelta { text }) => {
                        t.text.push_str(text)
                    }
                    (ContentBlock::Thinking(t), BlockDelta::ThinkingDelta { thinking }) => {
                        t.thinking.push_str(thinking)
                    }
                    (ContentBlock::Thinking(t), BlockDelta::SignatureDelta { signature }) => {
                        t.signature = Some(signature.clone())
                    }
                    (ContentBlock::ToolUse(_), BlockDelta::InputJsonDelta { partial_json: p }) => {
                        partial_json.push_str(p)
                    }
                    (block, delta) => panic!("{delta:?} does not fit {block:?}"),
                }
            }
            StreamEvent::ContentBlockStop { index } => {
                assert_eq!(open, Some(*index), "stop for a block that is not open");
                let m = message.as_mut().unwrap();
                if let ContentBlock::ToolUse(t) = &mut m.content[*index as usize]
                    && !partial_json.is_empty()
                {
                    t.input = serde_json::from_str(&partial_json).unwrap();
                }
                open = None;
            }
            StreamEvent::MessageDelta { delta, usage } => {
                assert!(open.is_none(), "message_delta with a block open");
                let m = message.as_mut().unwrap();
                m.stop_reason = delta.stop_reason.clone();
                m.stop_sequence = delta.stop_sequence.clone();
                if let Some(u) = usage {
                    m.usage.output_tokens = u.output_tokens;
                    if u.input_tokens > 0 {
                        m.usage.input_tokens = u.input_tokens;
                    }
                    m.usage.cache_read_input_tokens = u.cache_read_input_tokens;
                    m.usage.cache_creation_input_tokens = u.cache_creation_input_tokens;
                }
            }
            StreamEvent::MessageStop | StreamEvent::Ping => {}
            StreamEvent::Error { .. } => panic!("unexpected error event"),
        }
    }
    message.unwrap()
}

fn chunks_from_jsonl(name: &str) -> Vec<ChatChunk> {
    text(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn unified_to_anthropic_events(chunks: &[ChatChunk]) -> Vec<StreamEvent> {
    let mut machine = StreamFromUnified::new();
    let mut events = Vec::new();
    for chunk in chunks {
        events.extend(machine.push(chunk).unwrap());
    }
    events.extend(machine.finish());
    events
}

// ---- wire types --------------------------------------------------------------------------------

#[test]
fn documented_anthropic_bodies_round_trip_through_the_wire_types() {
    for name in [
        "anthropic/request_multi_turn.json",
        "anthropic/request_prefill.json",
        "anthropic/request_thinking.json",
        "anthropic/request_tool_result.json",
        "anthropic/request_tools_any.json",
        "anthropic/request_vision_base64.json",
        "anthropic/request_vision_url.json",
    ] {
        let original = fixture(name);
        let parsed: MessagesRequest = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), original, "{name}");
    }
    for name in [
        "anthropic/response_basic.json",
        "anthropic/response_end_turn.json",
    ] {
        let original = fixture(name);
        let parsed: MessagesResponse = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), original, "{name}");
    }
    let original = fixture("anthropic/error_not_found.json");
    let parsed: ErrorBody = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), original);
}

#[test]
fn documented_openai_bodies_round_trip_through_the_unified_types() {
    for name in [
        "openai/request_tools.json",
        "openai/request_vision.json",
        "openai/request_thinking_replay.json",
    ] {
        let original = fixture(name);
        let parsed: ChatRequest = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), original, "{name}");
    }
    let original = fixture("openai/response_tool_calls.json");
    let parsed: ChatResponse = serde_json::from_value(original.clone()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), original);
    for line in text("openai/stream_tool_calls.jsonl").lines() {
        let original: Value = serde_json::from_str(line).unwrap();
        let parsed: ChatChunk = serde_json::from_value(original.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), original);
    }
}

// ---- requests ----------------------------------------------------------------------------------

#[test]
fn anthropic_requests_survive_a_trip_through_the_unified_request() {
    for name in [
        "anthropic/request_multi_turn.json",
        "anthropic/request_prefill.json",
        "anthropic/request_thinking.json",
        "anthropic/request_tool_result.json",
        "anthropic/request_tools_any.json",
        "anthropic/request_vision_base64.json",
        "anthropic/request_vision_url.json",
    ] {
        let original = fixture(name);
        let unified = request::from_anthropic(&anthropic_request(name)).unwrap();
        // Through JSON too, as a request would travel between processes.
        let unified: ChatRequest =
            serde_json::from_value(serde_json::to_value(&unified).unwrap()).unwrap();
        let back = request::to_anthropic(&unified, &opts()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), original, "{name}");
    }
}

#[test]
fn anthropic_tool_conversation_becomes_openai_messages() {
    let unified =
        request::from_anthropic(&anthropic_request("anthropic/request_tool_result.json")).unwrap();
    assert_eq!(unified.max_tokens, Some(1024));
    let roles: Vec<&str> = unified.messages.iter().map(Message::role).collect();
    assert_eq!(roles, ["user", "assistant", "tool"]);
    let Message::Assistant(a) = &unified.messages[1] else {
        panic!("assistant expected")
    };
    assert_eq!(
        a.content.value(),
        Some(&Content::Text(
            "I'll check the current weather in San Francisco for you.".into()
        ))
    );
    let call = &a.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(call.function.name, "get_weather");
    let args: Value = serde_json::from_str(&call.function.arguments).unwrap();
    assert_eq!(
        args,
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
    let Message::Tool(t) = &unified.messages[2] else {
        panic!("tool expected")
    };
    assert_eq!(t.tool_call_id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(t.content, Content::Text("15 degrees".into()));
    let tool = &unified.tools.as_ref().unwrap()[0];
    assert_eq!(tool.kind, "function");
    let f = tool.function.as_ref().unwrap();
    assert_eq!(f.name, "get_weather");
    assert_eq!(
        f.parameters.as_ref().unwrap()["required"],
        json!(["location"])
    );
}

#[test]
fn anthropic_thinking_and_tool_choice_become_openai_parameters() {
    let thinking =
        request::from_anthropic(&anthropic_request("anthropic/request_thinking.json")).unwrap();
    // 16000 of 20000 tokens is 80 %: "high"; the exact budget travels in `reasoning.max_tokens`.
    assert_eq!(thinking.reasoning_effort.as_deref(), Some("high"));
    assert_eq!(thinking.reasoning.as_ref().unwrap().max_tokens, Some(16000));
    assert!(thinking.is_stream());
    assert_eq!(
        thinking.stream_options.as_ref().unwrap().include_usage,
        Some(true)
    );

    let any =
        request::from_anthropic(&anthropic_request("anthropic/request_tools_any.json")).unwrap();
    assert_eq!(
        any.tool_choice,
        Some(ToolChoice::Mode(ToolChoiceMode::Required))
    );
    assert_eq!(any.parallel_tool_calls, None);
}

#[test]
fn anthropic_images_become_image_url_parts() {
    let url =
        request::from_anthropic(&anthropic_request("anthropic/request_vision_url.json")).unwrap();
    let Message::User(u) = &url.messages[0] else {
        panic!("user expected")
    };
    let Content::Parts(parts) = &u.content else {
        panic!("parts expected")
    };
    let ContentPart::ImageUrl(img) = &parts[0] else {
        panic!("image expected")
    };
    assert_eq!(
        img.image_url.url,
        "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"
    );
    let b64 = request::from_anthropic(&anthropic_request("anthropic/request_vision_base64.json"))
        .unwrap();
    let Message::User(u) = &b64.messages[0] else {
        panic!("user expected")
    };
    let Content::Parts(parts) = &u.content else {
        panic!("parts expected")
    };
    let ContentPart::ImageUrl(img) = &parts[0] else {
        panic!("image expected")
    };
    assert_eq!(
        img.image_url.url,
        "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ=="
    );
}

#[test]
fn openai_request_with_replayed_thinking_maps_every_field() {
    let unified: ChatRequest =
        serde_json::from_value(fixture("openai/request_thinking_replay.json")).unwrap();
    let out = request::to_anthropic(&unified, &opts()).unwrap();
    let expected = json!({
        "model": "anthropic/claude-sonnet-4-5",
        "max_tokens": 16000,
        "system": "You are a weather assistant.",
        "messages": [
            {"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "thinking",
                 "thinking": "The user wants to know the current weather in Paris. I have access to a function `get_weather`...",
                 "signature": "BDaL4VrbR2Oj0hO4XpJxT28J5TILnCrrUXoKiiNBZW9P+nr8XSj1zuZzAl4egiCCpQNvfyUuFFJP5CncdYZEQPPmLxYsNrcs...."},
                {"type": "text", "text": "I can help you get the current weather information for Paris. Let me check that for you"},
                {"type": "tool_use", "id": "toolu_01CswdEQBMshySk6Y9DFKrfq", "name": "get_weather", "input": {"location": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01CswdEQBMshySk6Y9DFKrfq", "content": "Current temperature: 88°F"}
            ]}
        ],
        "tools": [{"name": "get_weather", "description": "Get current weather for a location",
                   "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "stop_sequences": ["END"],
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "metadata": {"user_id": "user-123"}
    });
    assert_eq!(serde_json::to_value(&out).unwrap(), expected);
}

#[test]
fn openai_tools_request_gets_defaults_and_input_schema() {
    let unified: ChatRequest =
        serde_json::from_value(fixture("openai/request_tools.json")).unwrap();
    let out = request::to_anthropic(&unified, &opts()).unwrap();
    assert_eq!(
        out.max_tokens,
        asbru_dialects::anthropic::DEFAULT_MAX_TOKENS
    );
    assert_eq!(out.tool_choice.as_ref().unwrap().kind, "auto");
    assert_eq!(
        out.tool_choice.as_ref().unwrap().disable_parallel_tool_use,
        None
    );
    let tool = &out.tools.as_ref().unwrap()[0];
    assert_eq!(tool.name, "get_current_weather");
    assert_eq!(
        tool.input_schema.as_ref(),
        fixture("openai/request_tools.json")["tools"][0]["function"].get("parameters")
    );
    assert!(out.thinking.is_none());
    assert!(out.system.is_none());

    let custom = RequestOptions {
        default_max_tokens: 1000,
    };
    assert_eq!(
        request::to_anthropic(&unified, &custom).unwrap().max_tokens,
        1000
    );
}

#[test]
fn openai_images_become_image_blocks() {
    let mut unified: ChatRequest =
        serde_json::from_value(fixture("openai/request_vision.json")).unwrap();
    let out = request::to_anthropic(&unified, &opts()).unwrap();
    assert_eq!(out.max_tokens, 300);
    let v = serde_json::to_value(&out.messages[0].content).unwrap();
    assert_eq!(
        v[0],
        json!({"type": "text", "text": "What's in this image?"})
    );
    assert_eq!(v[1]["type"], "image");
    assert_eq!(v[1]["source"]["type"], "url");

    let Message::User(u) = &mut unified.messages[0] else {
        panic!("user expected")
    };
    u.content = Content::Parts(vec![ContentPart::image_url(
        "data:image/png;base64,iVBORw0KGgo=",
    )]);
    let out = request::to_anthropic(&unified, &opts()).unwrap();
    let v = serde_json::to_value(&out.messages[0].content).unwrap();
    assert_eq!(
        v[0],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})
    );
}

#[test]
fn same_role_messages_merge_and_tool_results_come_first() {
    let tool = |id: &str, text: &str, is_error: Option<bool>| {
        Message::Tool(ToolMessage {
            content: Content::Text(text.into()),
            tool_call_id: id.into(),
            is_error,
            extra: Map::new(),
        })
    };
    let assistant = Message::Assistant(AssistantMessage {
        content: Nullable::Value(Content::Text(String::new())),
        tool_calls: Some(vec![
            ToolCall::function("call_a", "f", "{}"),
            ToolCall::function("call_b", "f", ""),
        ]),
        ..AssistantMessage::default()
    });
    let req = ChatRequest::new(
        "m",
        vec![
            Message::system("one"),
            Message::user("hi"),
            Message::user("there"),
            assistant,
            Message::user("and also"),
            tool("call_a", "1", None),
            tool("call_b", "boom", Some(true)),
            Message::system("two"),
        ],
    );
    let out = request::to_anthropic(&req, &opts()).unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(
        v["system"],
        json!([{"type": "text", "text": "one"}, {"type": "text", "text": "two"}])
    );
    assert_eq!(
        v["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "there"}]},
            // The empty text OpenAI clients send beside tool calls is dropped.
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_a", "name": "f", "input": {}},
                {"type": "tool_use", "id": "call_b", "name": "f", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_a", "content": "1"},
                {"type": "tool_result", "tool_use_id": "call_b", "content": "boom", "is_error": true},
                {"type": "text", "text": "and also"}
            ]}
        ])
    );
}

#[test]
fn tool_choice_table() {
    let cases = [
        (
            ToolChoice::Mode(ToolChoiceMode::Auto),
            None,
            json!({"type": "auto"}),
        ),
        (
            ToolChoice::Mode(ToolChoiceMode::None),
            None,
            json!({"type": "none"}),
        ),
        (
            ToolChoice::Mode(ToolChoiceMode::Required),
            None,
            json!({"type": "any"}),
        ),
        (
            ToolChoice::Named(NamedToolChoice::function("get_weather")),
            None,
            json!({"type": "tool", "name": "get_weather"}),
        ),
        (
            ToolChoice::Mode(ToolChoiceMode::Required),
            Some(false),
            json!({"type": "any", "disable_parallel_tool_use": true}),
        ),
        (
            ToolChoice::Mode(ToolChoiceMode::None),
            Some(false),
            json!({"type": "none"}),
        ),
    ];
    let tools: ChatRequest = serde_json::from_value(fixture("openai/request_tools.json")).unwrap();
    for (choice, parallel, expected) in cases {
        let mut req = tools.clone();
        req.tool_choice = Some(choice.clone());
        req.parallel_tool_calls = parallel;
        let out = request::to_anthropic(&req, &opts()).unwrap();
        assert_eq!(
            serde_json::to_value(out.tool_choice.as_ref().unwrap()).unwrap(),
            expected,
            "{choice:?} {parallel:?}"
        );
        // And back.
        let back = request::from_anthropic(&out).unwrap();
        assert_eq!(back.tool_choice, Some(choice), "back");
        assert_eq!(
            back.parallel_tool_calls,
            parallel.filter(|_| expected["type"] != "none")
        );
    }
    // Without tool_choice, parallel_tool_calls=false still reaches Anthropic.
    let mut req = tools;
    req.tool_choice = None;
    req.parallel_tool_calls = Some(false);
    let out = request::to_anthropic(&req, &opts()).unwrap();
    assert_eq!(
        serde_json::to_value(out.tool_choice.unwrap()).unwrap(),
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
}

#[test]
fn json_schema_response_format_becomes_structured_output() {
    let mut req = ChatRequest::new("m", vec![Message::user("extract")]);
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}},
                        "required": ["name"], "additionalProperties": false});
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "contact".into(),
            description: None,
            schema: Some(schema.clone()),
            strict: Some(true),
            extra: Map::new(),
        },
        extra: Map::new(),
    });
    let out = request::to_anthropic(&req, &opts()).unwrap();
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(
        v["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    let back = request::from_anthropic(&out).unwrap();
    let Some(ResponseFormat::JsonSchema { json_schema, .. }) = back.response_format else {
        panic!("json_schema expected")
    };
    assert_eq!(json_schema.schema, Some(schema));

    req.response_format = Some(ResponseFormat::JsonObject { extra: Map::new() });
    let out = request::to_anthropic(&req, &opts()).unwrap();
    assert!(out.output_config.is_none());
}

#[test]
fn reasoning_effort_maps_to_a_thinking_budget() {
    let cases = [
        (Some("minimal"), 20000, Some(1024), 20000),
        (Some("low"), 20000, Some(5000), 20000),
        (Some("medium"), 20000, Some(10000), 20000),
        (Some("high"), 20000, Some(16000), 20000),
        (Some("none"), 20000, None, 20000),
        (None, 20000, None, 20000),
        // Too small for Anthropic's minimum budget: the limit grows by the budget.
        (Some("high"), 1000, Some(1024), 2024),
    ];
    for (effort, max, budget, max_out) in cases {
        let mut req = ChatRequest::new("m", vec![Message::user("x")]);
        req.max_completion_tokens = Some(max);
        req.reasoning_effort = effort.map(str::to_owned);
        let out = request::to_anthropic(&req, &opts()).unwrap();
        assert_eq!(
            out.thinking.as_ref().and_then(|t| t.budget_tokens),
            budget,
            "{effort:?}"
        );
        assert_eq!(out.max_tokens, max_out, "{effort:?}");
    }
    // Bifrost's explicit budget wins over the effort.
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 20000,
        "reasoning_effort": "low", "reasoning": {"max_tokens": 3000}
    }))
    .unwrap();
    let out = request::to_anthropic(&req, &opts()).unwrap();
    assert_eq!(out.thinking.unwrap().budget_tokens, Some(3000));
}

#[test]
fn unsupported_requests_are_refused_not_mangled() {
    let audio: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}}]}]
    }))
    .unwrap();
    assert!(matches!(
        request::to_anthropic(&audio, &opts()),
        Err(ConvertError::Unsupported(_))
    ));
    let n: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2
    }))
    .unwrap();
    let err = request::to_anthropic(&n, &opts()).unwrap_err();
    let gateway: GatewayError = err.into();
    assert_eq!(gateway.status(), 400);
}

// ---- responses ---------------------------------------------------------------------------------

#[test]
fn anthropic_tool_use_response_becomes_tool_calls() {
    let resp = anthropic_response("anthropic/response_tool_use.json");
    let unified = response::from_anthropic(&resp, 1_700_000_000);
    assert_eq!(unified.id, "msg_01Aq9w938a90dw8q");
    assert_eq!(unified.object, "chat.completion");
    assert_eq!(unified.created, 1_700_000_000);
    let choice = &unified.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    let m = choice.assistant().unwrap();
    assert_eq!(
        m.text().as_deref(),
        Some("I'll check the current weather in San Francisco for you.")
    );
    let call = &m.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(call.kind, "function");
    let args: Value = serde_json::from_str(&call.function.arguments).unwrap();
    assert_eq!(
        args,
        json!({"location": "San Francisco, CA", "unit": "celsius"})
    );

    // And back: the same blocks and stop reason.
    let back = response::to_anthropic(&unified).unwrap();
    assert_eq!(back.content, resp.content);
    assert_eq!(back.stop_reason.as_deref(), Some("tool_use"));
}

#[test]
fn anthropic_thinking_response_keeps_signatures() {
    let resp = anthropic_response("anthropic/response_thinking_tool_use.json");
    let unified = response::from_anthropic(&resp, 0);
    let m = unified.first_message().unwrap();
    let details = m.reasoning_details.as_ref().unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].kind, reasoning_detail_type::TEXT);
    assert_eq!(
        details[0].signature.as_deref(),
        Some(
            "BDaL4VrbR2Oj0hO4XpJxT28J5TILnCrrUXoKiiNBZW9P+nr8XSj1zuZzAl4egiCCpQNvfyUuFFJP5CncdYZEQPPmLxYsNrcs...."
        )
    );
    assert!(
        m.reasoning
            .as_deref()
            .unwrap()
            .starts_with("The user wants to know")
    );
    assert_eq!(
        m.tool_calls.as_ref().unwrap()[0].id,
        "toolu_01CswdEQBMshySk6Y9DFKrfq"
    );

    // The assistant turn replays into the next request with the block unchanged.
    let next = ChatRequest::new(
        "m",
        vec![
            Message::user("What's the weather in Paris?"),
            unified.choices[0].message.clone(),
        ],
    );
    let out = request::to_anthropic(&next, &opts()).unwrap();
    assert_eq!(
        out.messages[1].content,
        MessageContent::Blocks(resp.content.clone())
    );

    let back = response::to_anthropic(&unified).unwrap();
    assert_eq!(back.content, resp.content);
}

#[test]
fn redacted_thinking_becomes_encrypted_reasoning_and_back() {
    let resp = anthropic_response("anthropic/response_redacted_thinking.json");
    let unified = response::from_anthropic(&resp, 0);
    let m = unified.first_message().unwrap();
    let details = m.reasoning_details.as_ref().unwrap();
    assert_eq!(details[1].kind, reasoning_detail_type::ENCRYPTED);
    assert!(
        details[1]
            .data
            .as_deref()
            .unwrap()
            .starts_with("EmwKAhgBEgy3va3pzix")
    );
    assert_eq!(details[1].index, Some(1));
    assert_eq!(m.text().as_deref(), Some("Based on my analysis..."));
    assert_eq!(
        response::to_anthropic(&unified).unwrap().content,
        resp.content
    );
}

#[test]
fn basic_responses_map_stop_reason_and_usage() {
    let resp = anthropic_response("anthropic/response_basic.json");
    let unified = response::from_anthropic(&resp, 0);
    assert_eq!(unified.choices[0].finish_reason, Some(FinishReason::Stop));
    let usage = unified.usage.as_ref().unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (2095, 503, 2598)
    );
    assert!(usage.prompt_tokens_details.is_none());
    assert_eq!(
        unified.first_message().unwrap().text().as_deref(),
        Some("Hi! My name is Claude.")
    );
    // Back to Anthropic: the documented body, apart from the text block's `citations: null`.
    let back = response::to_anthropic(&unified).unwrap();
    let mut expected = fixture("anthropic/response_basic.json");
    expected["content"][0]
        .as_object_mut()
        .unwrap()
        .remove("citations");
    assert_eq!(serde_json::to_value(&back).unwrap(), expected);

    let end_turn =
        response::from_anthropic(&anthropic_response("anthropic/response_end_turn.json"), 0);
    assert_eq!(end_turn.usage.unwrap().total_tokens, 150);
}

#[test]
fn stop_sequence_is_kept_in_bifrost_stop_field() {
    let mut resp = anthropic_response("anthropic/response_end_turn.json");
    resp.stop_reason = Some("stop_sequence".into());
    resp.stop_sequence = Some("END".into());
    let unified = response::from_anthropic(&resp, 0);
    assert_eq!(unified.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(unified.choices[0].extra.get("stop"), Some(&json!("END")));
    let back = response::to_anthropic(&unified).unwrap();
    assert_eq!(back.stop_reason.as_deref(), Some("stop_sequence"));
    assert_eq!(back.stop_sequence.as_deref(), Some("END"));
}

#[test]
fn refusal_and_limits_map_to_openai_reasons() {
    let mut resp = anthropic_response("anthropic/response_end_turn.json");
    for (stop, finish) in [
        ("refusal", FinishReason::ContentFilter),
        ("max_tokens", FinishReason::Length),
        ("model_context_window_exceeded", FinishReason::Length),
        ("pause_turn", FinishReason::Stop),
    ] {
        resp.stop_reason = Some(stop.into());
        let unified = response::from_anthropic(&resp, 0);
        assert_eq!(unified.choices[0].finish_reason, Some(finish), "{stop}");
    }
}

#[test]
fn cache_usage_counts_into_prompt_tokens() {
    let mut resp = anthropic_response("anthropic/response_end_turn.json");
    resp.usage.cache_read_input_tokens = Some(1000);
    resp.usage.cache_creation_input_tokens = Some(200);
    let unified = response::from_anthropic(&resp, 0);
    let usage = unified.usage.as_ref().unwrap();
    assert_eq!(usage.prompt_tokens, 1300);
    assert_eq!(usage.cached_tokens(), 1000);
    assert_eq!(usage.cache_write_tokens(), 200);
    let v = serde_json::to_value(usage).unwrap();
    assert_eq!(v["prompt_tokens_details"]["cached_tokens"], 1000);
    let back = response::to_anthropic(&unified).unwrap();
    assert_eq!(back.usage, resp.usage);
}

#[test]
fn openai_response_becomes_anthropic_message() {
    let unified: ChatResponse =
        serde_json::from_value(fixture("openai/response_tool_calls.json")).unwrap();
    let out = response::to_anthropic(&unified).unwrap();
    assert_eq!(out.id, "chatcmpl-Bg4N1ruuaSdAVkayKQz6OAbmUy4kQ");
    assert_eq!(out.stop_reason.as_deref(), Some("tool_use"));
    let v = serde_json::to_value(&out).unwrap();
    assert_eq!(
        v["content"],
        json!([{"type": "tool_use", "id": "call_4yKljCtGceYj1heJY8G9h3te", "name": "get_current_weather",
                "input": {"location": "Boston, MA", "unit": "celsius"}}])
    );
    assert_eq!(
        v["usage"],
        json!({"input_tokens": 80, "output_tokens": 23, "cache_read_input_tokens": 0})
    );
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
}

// ---- streams: Anthropic to unified -------------------------------------------------------------

#[test]
fn basic_stream_becomes_openai_chunks() {
    let (chunks, end) = anthropic_stream_to_unified("anthropic/stream_basic.sse");
    end.unwrap();
    let a = assemble(&chunks);
    assert_eq!(a.role.as_deref(), Some("assistant"));
    assert_eq!(a.content, "Hello!");
    assert_eq!(a.finish, Some(FinishReason::Stop));
    assert_eq!((a.prompt_tokens, a.completion_tokens), (25, 15));
    assert_eq!(a.usage_chunks, 1);
    // The usage chunk is last and has no choices, as with OpenAI's include_usage.
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    for c in &chunks {
        assert_eq!(c.id, "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY");
        assert_eq!(c.object, "chat.completion.chunk");
        assert_eq!(c.model, "claude-sonnet-4-5-20250929");
        assert_eq!(c.created, 1_700_000_000);
    }
}

#[test]
fn tool_use_stream_becomes_tool_call_deltas() {
    let (chunks, end) = anthropic_stream_to_unified("anthropic/stream_tool_use.sse");
    end.unwrap();
    let a = assemble(&chunks);
    assert_eq!(
        a.content,
        "Okay, let's check the weather for San Francisco, CA:"
    );
    assert_eq!(a.tool_calls.len(), 1);
    let (id, name, args) = &a.tool_calls[0];
    assert_eq!(id, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
    assert_eq!(name, "get_weather");
    let args: Value = serde_json::from_str(args).unwrap();
    assert_eq!(
        args,
        json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
    );
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
    assert_eq!((a.prompt_tokens, a.completion_tokens), (472, 89));
    // The first tool-call piece comes before any argument text.
    let first_tool_chunk = chunks
        .iter()
        .position(|c| {
            c.choices
                .first()
                .is_some_and(|ch| ch.delta.tool_calls.is_some())
        })
        .unwrap();
    let first = &chunks[first_tool_chunk].choices[0]
        .delta
        .tool_calls
        .as_ref()
        .unwrap()[0];
    assert_eq!(first.id.as_deref(), Some("toolu_01T1x1fJ34qAmk2tNTrN7Up6"));
    assert_eq!(
        first.function.as_ref().unwrap().arguments.as_deref(),
        Some("")
    );
}

#[test]
fn thinking_stream_becomes_reasoning_with_signature() {
    let (chunks, end) = anthropic_stream_to_unified("anthropic/stream_thinking.sse");
    end.unwrap();
    let a = assemble(&chunks);
    assert!(a.reasoning.starts_with("Let me solve this step by step:"));
    assert!(a.reasoning.ends_with("10,800 + 1,350 + 81 = 12,231"));
    assert_eq!(a.reasoning_blocks.len(), 1);
    assert_eq!(a.reasoning_blocks[0].0, a.reasoning);
    assert_eq!(
        a.reasoning_blocks[0].1.as_deref(),
        Some("EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...")
    );
    assert_eq!(a.content, "27 * 453 = 12,231");
    assert_eq!(a.finish, Some(FinishReason::Stop));

    // What the client assembled replays as a valid thinking block in the next turn.
    let turn = Message::Assistant(AssistantMessage {
        content: Nullable::Value(Content::Text(a.content.clone())),
        reasoning_details: Some(vec![ReasoningDetail {
            kind: reasoning_detail_type::TEXT.into(),
            index: Some(0),
            text: Some(a.reasoning_blocks[0].0.clone()),
            signature: a.reasoning_blocks[0].1.clone(),
            ..ReasoningDetail::default()
        }]),
        ..AssistantMessage::default()
    });
    let next = ChatRequest::new("m", vec![Message::user("What is 27 * 453?"), turn]);
    let out = request::to_anthropic(&next, &opts()).unwrap();
    let v = serde_json::to_value(&out.messages[1].content).unwrap();
    assert_eq!(v[0]["type"], "thinking");
    assert_eq!(
        v[0]["signature"],
        "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds..."
    );
    assert_eq!(v[1], json!({"type": "text", "text": "27 * 453 = 12,231"}));
}

#[test]
fn error_event_is_an_error_never_a_stop() {
    let (chunks, end) = anthropic_stream_to_unified("anthropic/stream_error.sse");
    let Err(StreamError::Upstream(e)) = end else {
        panic!("upstream error expected, got {end:?}")
    };
    assert_eq!(e.status(), 529);
    assert_eq!(e.error_type(), Some("overloaded_error"));
    assert_eq!(e.message(), "Overloaded");
    let a = assemble(&chunks);
    assert_eq!(a.content, "Hello");
    assert_eq!(
        a.finish, None,
        "no finish_reason may be sent for a failed stream"
    );
    assert_eq!(a.usage_chunks, 0);
}

#[test]
fn cut_off_stream_is_truncated_not_finished() {
    let frames = sse_frames("anthropic/stream_basic.sse");
    // Everything up to (not including) message_delta.
    let mut machine = StreamToUnified::new(0);
    let mut chunks = Vec::new();
    for frame in &frames[..frames.len() - 2] {
        chunks.extend(machine.push_frame(frame).unwrap());
    }
    assert!(matches!(machine.finish(), Err(StreamError::Truncated)));
    assert_eq!(assemble(&chunks).finish, None);
    let gateway = StreamError::Truncated.into_gateway_error();
    assert_eq!(gateway.status(), 502);
}

// ---- streams: unified to Anthropic -------------------------------------------------------------

#[test]
fn openai_tool_call_stream_becomes_well_formed_anthropic_events() {
    let chunks = chunks_from_jsonl("openai/stream_tool_calls.jsonl");
    let events = unified_to_anthropic_events(&chunks);
    let message = check_and_accumulate(&events);
    assert_eq!(message.id, "chatcmpl-123");
    assert_eq!(message.model, "gpt-4o-mini");
    assert_eq!(message.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(
        serde_json::to_value(&message.content).unwrap(),
        json!([{"type": "tool_use", "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_current_weather",
                "input": {"location": "Boston, MA"}}])
    );
    assert_eq!(
        (message.usage.input_tokens, message.usage.output_tokens),
        (81, 15)
    );
    // Every event frames as `event: <type>` with matching data.
    for e in &events {
        let sse = String::from_utf8(e.to_sse().unwrap()).unwrap();
        assert!(sse.starts_with(&format!(
            "event: {}\ndata: {{\"type\":\"{}\"",
            e.name(),
            e.name()
        )));
        assert!(sse.ends_with("\n\n"));
    }
}

#[test]
fn anthropic_streams_survive_a_trip_through_unified_chunks() {
    for (name, expected_stop) in [
        ("anthropic/stream_basic.sse", "end_turn"),
        ("anthropic/stream_tool_use.sse", "tool_use"),
        ("anthropic/stream_thinking.sse", "end_turn"),
    ] {
        let (chunks, end) = anthropic_stream_to_unified(name);
        end.unwrap();
        let events = unified_to_anthropic_events(&chunks);
        let rebuilt = check_and_accumulate(&events);
        assert_eq!(
            rebuilt.stop_reason.as_deref(),
            Some(expected_stop),
            "{name}"
        );

        // The original stream, accumulated the same way, describes the same message.
        let mut original_events = Vec::new();
        for frame in sse_frames(name) {
            let data = asbru_dialects::sse::single_data_line(&frame);
            if let Some(data) = data
                && let Some(e) = StreamEvent::parse(data).unwrap()
                && e != StreamEvent::Ping
            {
                original_events.push(e);
            }
        }
        let original = check_and_accumulate(&original_events);
        let normalise = |blocks: &[ContentBlock]| -> Value {
            let mut v = serde_json::to_value(blocks).unwrap();
            for b in v.as_array_mut().unwrap() {
                // The docs' thinking start omits `signature`; ours starts it empty, as the API
                // does today. Both end with the signature from the signature_delta.
                if b["type"] == "thinking" && b["signature"] == "" {
                    b.as_object_mut().unwrap().remove("signature");
                }
            }
            v
        };
        assert_eq!(
            normalise(&rebuilt.content),
            normalise(&original.content),
            "{name}"
        );
        assert_eq!(rebuilt.id, original.id, "{name}");
        assert_eq!(
            rebuilt.usage.output_tokens, original.usage.output_tokens,
            "{name}"
        );

        // And the events we produce read back into the same unified chunks' content.
        let mut again = StreamToUnified::new(1_700_000_000);
        let mut chunks_again = Vec::new();
        for e in &events {
            chunks_again.extend(
                again
                    .push(Some(e.name()), &serde_json::to_vec(e).unwrap())
                    .unwrap(),
            );
        }
        let (a, b) = (assemble(&chunks), assemble(&chunks_again));
        assert_eq!(a.content, b.content, "{name}");
        assert_eq!(a.reasoning_blocks, b.reasoning_blocks, "{name}");
        assert_eq!(a.tool_calls, b.tool_calls, "{name}");
        assert_eq!(a.finish, b.finish, "{name}");
    }
}

#[test]
fn reasoning_text_without_details_opens_a_thinking_block() {
    let chunk = |delta: Value, finish: Value| -> ChatChunk {
        serde_json::from_value(json!({
            "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-reasoner",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
        }))
        .unwrap()
    };
    let chunks = [
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"reasoning_content": "think "}), Value::Null),
        chunk(json!({"reasoning_content": "harder"}), Value::Null),
        chunk(json!({"content": "answer"}), Value::Null),
        chunk(json!({}), json!("length")),
    ];
    let message = check_and_accumulate(&unified_to_anthropic_events(&chunks));
    assert_eq!(
        serde_json::to_value(&message.content).unwrap(),
        json!([{"type": "thinking", "thinking": "think harder", "signature": ""},
               {"type": "text", "text": "answer"}])
    );
    assert_eq!(message.stop_reason.as_deref(), Some("max_tokens"));
}

#[test]
fn tool_fragments_after_their_block_closed_are_refused() {
    let chunk = |delta: Value| -> ChatChunk {
        serde_json::from_value(json!({
            "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": null}]
        }))
        .unwrap()
    };
    let mut machine = StreamFromUnified::new();
    machine
        .push(&chunk(json!({"tool_calls": [{"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}]})))
        .unwrap();
    machine
        .push(&chunk(json!({"tool_calls": [{"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]})))
        .unwrap();
    let err = machine
        .push(&chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
        ))
        .unwrap_err();
    assert!(matches!(err, ConvertError::OutOfOrder(_)));
}

// ---- errors ------------------------------------------------------------------------------------

#[test]
fn anthropic_error_body_maps_to_gateway_error_and_back() {
    let body = text("anthropic/error_not_found.json");
    let e = error_from_anthropic(404, body.as_bytes());
    assert_eq!(e.status(), 404);
    assert_eq!(e.error_type(), Some("not_found_error"));
    assert_eq!(e.message(), "The requested resource could not be found.");

    let (status, back) = error_to_anthropic(&e);
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        json!({"type": "error", "error": {"type": "not_found_error",
               "message": "The requested resource could not be found."}})
    );

    let overloaded = error_from_anthropic(
        529,
        br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#,
    );
    let (status, back) = error_to_anthropic(&overloaded);
    assert_eq!(
        (status, back.error.kind.as_str()),
        (529, "overloaded_error")
    );
}

#[test]
fn documented_http_errors_map_to_their_types() {
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        assert_eq!(
            asbru_dialects::anthropic::error::status_for_error_type(kind),
            status
        );
        assert_eq!(
            asbru_dialects::anthropic::error::error_type_for_status(status),
            kind
        );
    }
}
