//! The Gemini dialect against Google's and OpenAI's documented examples
//! (`tests/fixtures/gemini/`, `tests/fixtures/openai/`; sources in each folder's SOURCES.md):
//! both conversion directions, round trips, streams both ways, embeddings and errors.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use asbru_dialects::gemini::types::{
    BatchEmbedContentsRequest, EmbedContentRequest, EmbedContentResponse, ErrorBody,
    GenerateContentRequest, GenerateContentResponse,
};
use asbru_dialects::gemini::{
    ConvertError, RequestOptions, SIGNATURE_FORMAT, SchemaMode, StreamError, StreamFromUnified,
    StreamToUnified, ThinkingStyle, embed, error_from_gemini, error_to_gemini, request, response,
};
use asbru_dialects::sse::SseFramer;
use asbru_schema::GatewayError;
use asbru_schema::chat::{
    AssistantMessage, ChatChunk, ChatRequest, Content, FinishReason, Message, Nullable,
    ReasoningConfig, ResponseFormat, ToolCall, ToolChoice, ToolMessage, reasoning_detail_type,
};
use serde_json::{Map, Value, json};
use std::path::PathBuf;
use std::time::Duration;

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

fn g_request(name: &str) -> GenerateContentRequest {
    serde_json::from_value(fixture(&format!("gemini/{name}"))).unwrap()
}

fn g_response(name: &str) -> GenerateContentResponse {
    serde_json::from_value(fixture(&format!("gemini/{name}"))).unwrap()
}

fn openai_request(name: &str) -> ChatRequest {
    serde_json::from_value(fixture(&format!("openai/{name}"))).unwrap()
}

fn opts() -> RequestOptions {
    RequestOptions::default()
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

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

fn stream_to_unified(name: &str) -> (Vec<ChatChunk>, Result<(), StreamError>) {
    let mut machine = StreamToUnified::new(1_700_000_000);
    let mut chunks = Vec::new();
    for frame in sse_frames(name) {
        match machine.push_frame(&frame) {
            Ok(mut more) => chunks.append(&mut more),
            Err(e) => return (chunks, Err(e)),
        }
    }
    match machine.finish() {
        Ok(mut more) => {
            chunks.append(&mut more);
            (chunks, Ok(()))
        }
        Err(e) => (chunks, Err(e)),
    }
}

/// What a client reading unified chunks ends up with.
#[derive(Debug, Default)]
struct Assembled {
    content: String,
    reasoning: String,
    details: Vec<asbru_schema::chat::ReasoningDetail>,
    /// (id, name, arguments)
    tool_calls: Vec<(String, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<asbru_schema::chat::ChatUsage>,
    roles: usize,
}

fn assemble(chunks: &[ChatChunk]) -> Assembled {
    let mut a = Assembled::default();
    for chunk in chunks {
        if let Some(u) = chunk.usage.value() {
            assert!(a.usage.is_none(), "usage sent twice");
            a.usage = Some(u.clone());
        }
        for choice in &chunk.choices {
            let d = &choice.delta;
            if d.role.is_some() {
                a.roles += 1;
            }
            if let Some(t) = d.content.value() {
                a.content.push_str(t);
            }
            if let Some(r) = &d.reasoning {
                a.reasoning.push_str(r);
            }
            a.details
                .extend(d.reasoning_details.iter().flatten().cloned());
            for call in d.tool_calls.iter().flatten() {
                let i = call.index as usize;
                if a.tool_calls.len() <= i {
                    a.tool_calls.resize(i + 1, Default::default());
                }
                let entry = &mut a.tool_calls[i];
                if let Some(id) = &call.id {
                    entry.0.clone_from(id);
                }
                if let Some(f) = &call.function {
                    entry.1.push_str(f.name.as_deref().unwrap_or(""));
                    entry.2.push_str(f.arguments.as_deref().unwrap_or(""));
                }
            }
            if let Some(f) = &choice.finish_reason {
                assert!(a.finish.is_none(), "finish sent twice");
                a.finish = Some(f.clone());
            }
        }
    }
    a
}

// ---- wire types --------------------------------------------------------------------------------

#[test]
fn camel_case_fixtures_round_trip_exactly() {
    for name in [
        "request_text.json",
        "request_multi_turn.json",
        "request_function_declarations.json",
        "request_function_response.json",
        "request_thinking.json",
        "request_structured_output.json",
    ] {
        let v = fixture(&format!("gemini/{name}"));
        let parsed: GenerateContentRequest = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(to_value(&parsed), v, "{name}");
    }
    for name in [
        "response_text.json",
        "response_function_call.json",
        "response_thoughts.json",
        "response_blocked_prompt.json",
        "response_malformed_function_call.json",
    ] {
        let v = fixture(&format!("gemini/{name}"));
        let parsed: GenerateContentResponse = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(to_value(&parsed), v, "{name}");
    }
}

#[test]
fn snake_case_fixtures_parse() {
    let r = g_request("request_system_instruction.json");
    assert_eq!(
        r.system_instruction.unwrap().parts[0].text.as_deref(),
        Some("You are a cat. Your name is Neko.")
    );
    let r = g_request("request_inline_image.json");
    let blob = r.contents[0].parts[0].inline_data.as_ref().unwrap();
    assert_eq!(blob.mime_type, "image/jpeg");
}

// ---- unified → Gemini --------------------------------------------------------------------------

#[test]
fn openai_tools_request_to_gemini() {
    let out = request::to_gemini(&openai_request("request_tools.json"), &opts()).unwrap();
    let v = to_value(&out);
    assert_eq!(
        v["contents"],
        json!([{"role": "user", "parts": [{"text": "What's the weather like in Boston today?"}]}])
    );
    let decl = &v["tools"][0]["functionDeclarations"][0];
    assert_eq!(decl["name"], "get_current_weather");
    // JSON Schema goes as given by default.
    assert_eq!(
        decl["parametersJsonSchema"]["properties"]["unit"]["enum"],
        json!(["celsius", "fahrenheit"])
    );
    assert!(decl.get("parameters").is_none());
    assert_eq!(
        v["toolConfig"],
        json!({"functionCallingConfig": {"mode": "AUTO"}})
    );

    let openapi = RequestOptions {
        schema_mode: SchemaMode::OpenApi,
        ..opts()
    };
    let out =
        to_value(&request::to_gemini(&openai_request("request_tools.json"), &openapi).unwrap());
    assert!(out["tools"][0]["functionDeclarations"][0]["parameters"].is_object());
}

#[test]
fn openai_vision_request_to_gemini() {
    let out =
        to_value(&request::to_gemini(&openai_request("request_vision.json"), &opts()).unwrap());
    let parts = &out["contents"][0]["parts"];
    assert_eq!(parts[0], json!({"text": "What's in this image?"}));
    assert_eq!(parts[1]["fileData"]["mimeType"], "image/jpeg");
    assert!(
        parts[1]["fileData"]["fileUri"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert_eq!(out["generationConfig"], json!({"maxOutputTokens": 300}));

    let req =
        ChatRequest::new(
            "gemini-2.5-flash",
            vec![Message::User(serde_json::from_value(json!({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]})).unwrap())],
        );
    let out = to_value(&request::to_gemini(&req, &opts()).unwrap());
    assert_eq!(
        out["contents"][0]["parts"][0],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
    );
}

#[test]
fn roles_system_merging_and_tool_results() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "developer", "content": "Use Celsius."},
            {"role": "user", "content": "Please."},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
            {"role": "tool", "tool_call_id": "call_2", "content": "{\"temp\": 24}"},
            {"role": "tool", "tool_call_id": "call_2", "content": "timeout", "is_error": true}
        ],
        "stop": "END", "temperature": 1, "top_p": 0.5, "max_completion_tokens": 64, "seed": 7, "n": 2,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_object"},
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    }))
    .unwrap();
    let out = to_value(&request::to_gemini(&req, &opts()).unwrap());
    assert_eq!(
        out["systemInstruction"],
        json!({"parts": [{"text": "Be brief."}, {"text": "Use Celsius."}]})
    );
    assert_eq!(
        out["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}, {"text": "Please."}]},
            {"role": "model", "parts": [
                {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "call_2", "name": "get_weather", "args": {"city": "Rome"}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"output": "18 C"}}},
                {"functionResponse": {"id": "call_2", "name": "get_weather", "response": {"temp": 24}}},
                {"functionResponse": {"id": "call_2", "name": "get_weather", "response": {"error": "timeout"}}}
            ]}
        ])
    );
    assert_eq!(
        out["generationConfig"],
        json!({"stopSequences": ["END"], "responseMimeType": "application/json", "candidateCount": 2,
               "maxOutputTokens": 64, "temperature": 1, "topP": 0.5, "seed": 7})
    );
    assert_eq!(
        out["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}})
    );
}

#[test]
fn response_format_and_reasoning_to_generation_config() {
    let mut req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("x")]);
    req.response_format = Some(
        serde_json::from_value(json!({"type": "json_schema", "json_schema": {"name": "r",
            "schema": {"type": "object", "additionalProperties": false, "properties": {"a": {"type": ["string", "null"]}}}}}))
        .unwrap(),
    );
    req.reasoning = Some(ReasoningConfig {
        max_tokens: Some(2048),
        ..ReasoningConfig::default()
    });
    let out = to_value(&request::to_gemini(&req, &opts()).unwrap());
    assert_eq!(
        out["generationConfig"]["responseMimeType"],
        "application/json"
    );
    assert_eq!(
        out["generationConfig"]["responseJsonSchema"]["additionalProperties"],
        false
    );
    assert_eq!(
        out["generationConfig"]["thinkingConfig"],
        json!({"includeThoughts": true, "thinkingBudget": 2048})
    );
    let openapi = RequestOptions {
        schema_mode: SchemaMode::OpenApi,
        thinking_style: ThinkingStyle::Level,
        ..opts()
    };
    req.reasoning = None;
    req.reasoning_effort = Some("high".into());
    let out = to_value(&request::to_gemini(&req, &openapi).unwrap());
    assert_eq!(
        out["generationConfig"]["responseSchema"],
        json!({"type": "object", "properties": {"a": {"type": "string", "nullable": true}}})
    );
    assert_eq!(
        out["generationConfig"]["thinkingConfig"],
        json!({"includeThoughts": true, "thinkingLevel": "high"})
    );
}

// ---- Gemini → unified (client direction) and back ----------------------------------------------

#[test]
fn function_response_conversation_round_trips() {
    let original = g_request("request_function_response.json");
    let unified = request::from_gemini(&original, "gemini-3-pro-preview", false).unwrap();
    let roles: Vec<&str> = unified.messages.iter().map(Message::role).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant", "tool"]);
    let Message::Assistant(first) = &unified.messages[1] else {
        panic!()
    };
    let call = &first.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "check_flight");
    assert_eq!(call.function.arguments, "{\"flight\":\"AA100\"}");
    let detail = &first.reasoning_details.as_ref().unwrap()[0];
    assert_eq!(detail.kind, reasoning_detail_type::ENCRYPTED);
    assert_eq!(detail.data.as_deref(), Some("<Signature A>"));
    assert_eq!(detail.id.as_deref(), Some(call.id.as_str()));
    assert_eq!(detail.extra["format"], SIGNATURE_FORMAT);
    let Message::Tool(result) = &unified.messages[2] else {
        panic!()
    };
    assert_eq!(result.tool_call_id, call.id);
    assert_eq!(
        serde_json::from_str::<Value>(&result.content.text()).unwrap(),
        json!({"status": "delayed", "departure_time": "12 PM"})
    );

    // Back to Gemini: the same conversation, signatures on their calls, generated ids left out.
    let back = request::to_gemini(
        &unified,
        &RequestOptions {
            schema_mode: SchemaMode::OpenApi,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(
        to_value(&back),
        fixture("gemini/request_function_response.json")
    );
}

#[test]
fn gemini_requests_to_unified() {
    let r = request::from_gemini(&g_request("request_system_instruction.json"), "m", true).unwrap();
    assert_eq!(
        r.messages[0],
        Message::system("You are a cat. Your name is Neko.")
    );
    assert_eq!(r.messages[1], Message::user("Hello there"));
    assert!(r.is_stream());
    assert_eq!(r.stream_options.unwrap().include_usage, Some(true));

    let r =
        request::from_gemini(&g_request("request_thinking.json"), "gemini-2.5-pro", false).unwrap();
    assert_eq!(r.reasoning.unwrap().max_tokens, Some(1024));
    assert_eq!(r.reasoning_effort.as_deref(), Some("low"));

    let r = request::from_gemini(&g_request("request_structured_output.json"), "m", false).unwrap();
    let Some(ResponseFormat::JsonSchema { json_schema, .. }) = &r.response_format else {
        panic!("{:?}", r.response_format)
    };
    assert_eq!(
        json_schema.schema.as_ref().unwrap()["required"],
        json!(["recipe_name", "ingredients"])
    );

    let r =
        request::from_gemini(&g_request("request_function_declarations.json"), "m", false).unwrap();
    assert!(
        matches!(&r.tool_choice, Some(ToolChoice::Named(n)) if n.function.name == "get_current_temperature")
    );

    let r = request::from_gemini(&g_request("request_inline_image.json"), "m", false).unwrap();
    let Message::User(u) = &r.messages[0] else {
        panic!()
    };
    let parts = serde_json::to_value(&u.content).unwrap();
    assert_eq!(
        parts[0]["image_url"]["url"],
        "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD"
    );

    // Round trips through the unified request for the plain fixtures.
    for name in [
        "request_text.json",
        "request_multi_turn.json",
        "request_structured_output.json",
    ] {
        let original = g_request(name);
        let back = request::to_gemini(
            &request::from_gemini(&original, "m", false).unwrap(),
            &opts(),
        )
        .unwrap();
        let mut expected = to_value(&original);
        // A role-less turn is a user turn; the conversion names it.
        for c in expected["contents"].as_array_mut().unwrap() {
            c.as_object_mut()
                .unwrap()
                .entry("role")
                .or_insert(json!("user"));
        }
        assert_eq!(to_value(&back), expected, "{name}");
    }
}

// ---- responses ---------------------------------------------------------------------------------

#[test]
fn text_response_with_thinking_usage() {
    let r = response::from_gemini(&g_response("response_text.json"), 5).unwrap();
    assert_eq!(r.id, "fvQIaNyFNI_Oz7IP4pT2qQo");
    assert_eq!(r.model, "gemini-2.5-flash");
    assert_eq!(r.created, 5);
    let m = r.first_message().unwrap();
    assert_eq!(
        m.text().as_deref(),
        Some("AI learns patterns from data to make predictions or decisions.")
    );
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::Stop));
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (8, 415, 423)
    );
    assert_eq!(u.reasoning_tokens(), 404);
}

#[test]
fn function_call_response_and_the_next_turn_replays_the_signature() {
    let g = g_response("response_function_call.json");
    let r = response::from_gemini(&g, 0).unwrap();
    assert_eq!(r.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let m = r.first_message().unwrap().clone();
    assert_eq!(m.content, Nullable::Null);
    let call = m.tool_calls.as_ref().unwrap()[0].clone();
    assert_eq!(call.function.arguments, "{\"location\":\"London\"}");
    // Stable: converting again gives the same id.
    let again = response::from_gemini(&g, 0).unwrap();
    assert_eq!(
        again.first_message().unwrap().tool_calls.as_ref().unwrap()[0].id,
        call.id
    );

    // The client continues the conversation in OpenAI's shape.
    let next = ChatRequest::new(
        "gemini-3-pro-preview",
        vec![
            Message::user("What's the temperature in London?"),
            Message::Assistant(m),
            Message::Tool(ToolMessage {
                content: Content::Text("18".into()),
                tool_call_id: call.id.clone(),
                is_error: None,
                extra: Map::new(),
            }),
        ],
    );
    let out = to_value(&request::to_gemini(&next, &opts()).unwrap());
    assert_eq!(
        out["contents"][1],
        json!({"role": "model", "parts": [{
            "functionCall": {"name": "get_current_temperature", "args": {"location": "London"}},
            "thoughtSignature": "CiQB0e2Kb3fGOhL7vmXWtbkXVLUvmDw7PAUhf0Khy0xzz7bhvbUKXgHR7YpvBRBT6Y3x"
        }]})
    );
    assert_eq!(
        out["contents"][2],
        json!({"role": "user", "parts": [{"functionResponse": {
            "name": "get_current_temperature", "response": {"output": "18"}}}]})
    );

    // And the unified response goes back to Gemini's shape unchanged.
    let back = response::to_gemini(&r).unwrap();
    assert_eq!(to_value(&back.candidates), to_value(&g.candidates));
}

#[test]
fn thoughts_blocks_and_failures() {
    let r = response::from_gemini(&g_response("response_thoughts.json"), 0).unwrap();
    let m = r.first_message().unwrap();
    assert!(
        m.reasoning
            .as_deref()
            .unwrap()
            .starts_with("**Calculating the Sum of Primes**")
    );
    assert_eq!(
        m.text().as_deref(),
        Some("The sum of the first 50 prime numbers is 5117.")
    );
    assert_eq!(r.usage.as_ref().unwrap().cached_tokens(), 0);
    let back = response::to_gemini(&r).unwrap();
    assert_eq!(
        to_value(&back.candidates[0].content),
        to_value(&g_response("response_thoughts.json").candidates[0].content)
    );

    let blocked = response::from_gemini(&g_response("response_blocked_prompt.json"), 0).unwrap();
    assert_eq!(
        blocked.choices[0].finish_reason,
        Some(FinishReason::ContentFilter)
    );

    let err =
        response::from_gemini(&g_response("response_malformed_function_call.json"), 0).unwrap_err();
    assert_eq!(err.status(), 502);
    assert_eq!(err.error_type(), Some("MALFORMED_FUNCTION_CALL"));
    assert!(err.message().contains("get_current_temperature"));
    assert!(err.is_retryable());

    let empty = GenerateContentResponse::default();
    assert_eq!(response::from_gemini(&empty, 0).unwrap_err().status(), 502);
}

// ---- streams -----------------------------------------------------------------------------------

#[test]
fn text_stream_to_unified() {
    let (chunks, end) = stream_to_unified("gemini/stream_text.sse");
    end.unwrap();
    let a = assemble(&chunks);
    assert_eq!(a.roles, 1);
    assert_eq!(
        a.content,
        "AI learns patterns from data to make predictions."
    );
    assert_eq!(a.finish, Some(FinishReason::Stop));
    let u = a.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (8, 612, 620)
    );
    assert!(chunks.iter().all(|c| c.id == "mAitaLmkHPPlz7IPvtfUqQ4"));
    assert!(chunks.last().unwrap().choices.is_empty());
}

#[test]
fn function_call_stream_to_unified_matches_the_whole_answer() {
    let (chunks, end) = stream_to_unified("gemini/stream_function_call.sse");
    end.unwrap();
    let a = assemble(&chunks);
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
    assert_eq!(a.tool_calls.len(), 1);
    let (id, name, args) = &a.tool_calls[0];
    assert_eq!(
        (name.as_str(), args.as_str()),
        ("check_flight", "{\"flight\":\"AA100\"}")
    );
    assert!(a.reasoning.starts_with("**Finding the flight**"));
    let sigs: Vec<(Option<&str>, Option<&str>)> = a
        .details
        .iter()
        .filter(|d| d.kind == reasoning_detail_type::ENCRYPTED)
        .map(|d| (d.id.as_deref(), d.data.as_deref()))
        .collect();
    assert_eq!(
        sigs,
        [
            (Some(id.as_str()), Some("<Signature A>")),
            (None, Some("<Signature C>"))
        ]
    );
    assert_eq!(a.usage.unwrap().cached_tokens(), 32);

    // The same parts answered whole give the same tool-call id.
    let whole: GenerateContentResponse = serde_json::from_value(json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "check_flight", "args": {"flight": "AA100"}}, "thoughtSignature": "<Signature A>"}
        ]}, "finishReason": "STOP", "index": 0}],
        "responseId": "s1g"
    }))
    .unwrap();
    let r = response::from_gemini(&whole, 0).unwrap();
    assert_eq!(
        &r.first_message().unwrap().tool_calls.as_ref().unwrap()[0].id,
        id
    );
}

#[test]
fn error_in_stream_is_an_error() {
    let (chunks, end) = stream_to_unified("gemini/stream_error.sse");
    assert_eq!(assemble(&chunks).content, "Once");
    let Err(StreamError::Upstream(e)) = end else {
        panic!("{end:?}")
    };
    assert_eq!((e.status(), e.error_type()), (503, Some("UNAVAILABLE")));

    let mut m = StreamToUnified::new(0);
    m.push(
        br#"{"candidates":[{"content":{"parts":[]},"finishReason":"MALFORMED_FUNCTION_CALL"}]}"#,
    )
    .unwrap_err();
    assert!(matches!(
        StreamToUnified::new(0).push(b"{not json"),
        Err(StreamError::Malformed(_))
    ));
}

#[test]
fn unified_stream_to_gemini_and_back() {
    let lines = text("openai/stream_tool_calls.jsonl");
    let chunks: Vec<ChatChunk> = lines
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut out = StreamFromUnified::new();
    let mut gemini: Vec<GenerateContentResponse> = Vec::new();
    for c in &chunks {
        gemini.extend(out.push(c));
    }
    gemini.extend(out.finish().unwrap());
    let last = gemini.last().unwrap();
    assert_eq!(last.candidates[0].finish_reason.as_deref(), Some("STOP"));
    let call = last.candidates[0].content.as_ref().unwrap().parts[0]
        .function_call
        .clone()
        .unwrap();
    assert_eq!(call.name, "get_current_weather");
    assert!(call.args.unwrap().is_object());

    // Framed as SSE and read back, the call survives.
    let mut back = StreamToUnified::new(0);
    let mut unified = Vec::new();
    for g in &gemini {
        unified.extend(back.push_frame(&g.to_sse().unwrap()).unwrap());
    }
    unified.extend(back.finish().unwrap());
    let a = assemble(&unified);
    assert_eq!(a.tool_calls[0].1, "get_current_weather");
    assert_eq!(a.finish, Some(FinishReason::ToolCalls));
}

#[test]
fn reasoning_and_text_stream_to_gemini() {
    let chunk = |delta: Value, finish: Value| -> ChatChunk {
        serde_json::from_value(json!({"id": "c1", "model": "m", "created": 1,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}))
        .unwrap()
    };
    let mut s = StreamFromUnified::new();
    let first = s.push(&chunk(
        json!({"role": "assistant", "reasoning": "Hmm."}),
        Value::Null,
    ));
    assert_eq!(
        to_value(&first[0].candidates[0].content),
        json!({"role": "model", "parts": [{"text": "Hmm.", "thought": true}]})
    );
    let text = s.push(&chunk(json!({"content": "Hi"}), Value::Null));
    assert_eq!(text[0].response_id.as_deref(), Some("c1"));
    assert!(s.push(&chunk(json!({}), json!("length"))).is_empty());
    let usage: ChatChunk = serde_json::from_value(json!({"id": "c1", "model": "m", "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}))
    .unwrap();
    assert!(s.push(&usage).is_empty());
    let last = s.finish().unwrap();
    assert_eq!(
        last[0].candidates[0].finish_reason.as_deref(),
        Some("MAX_TOKENS")
    );
    assert_eq!(
        last[0].usage_metadata.as_ref().unwrap().total_token_count,
        Some(5)
    );
}

// ---- errors ------------------------------------------------------------------------------------

#[test]
fn documented_errors() {
    let e = error_from_gemini(429, text("gemini/error_quota.json").as_bytes());
    assert_eq!(e.error_type(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(43)));
    let e = error_from_gemini(400, text("gemini/error_invalid_argument.json").as_bytes());
    assert_eq!(
        e.message(),
        "API key not valid. Please pass a valid API key."
    );
    assert!(!e.is_retryable());

    let (status, body) = error_to_gemini(&e);
    assert_eq!(
        (status, body.error.status.as_str()),
        (400, "INVALID_ARGUMENT")
    );
    let (status, body) = error_to_gemini(&GatewayError::queue_full("gemini", 4));
    assert_eq!(
        (status, body.error.status.as_str()),
        (429, "RESOURCE_EXHAUSTED")
    );
    let parsed: ErrorBody = serde_json::from_value(fixture("gemini/error_quota.json")).unwrap();
    assert_eq!(to_value(&parsed), fixture("gemini/error_quota.json"));

    let unknown = ChatRequest::new(
        "m",
        vec![Message::Tool(ToolMessage {
            content: Content::Text("x".into()),
            tool_call_id: "nope".into(),
            is_error: None,
            extra: Map::new(),
        })],
    );
    let err: GatewayError = request::to_gemini(&unknown, &opts()).unwrap_err().into();
    assert_eq!(err.status(), 400);
    assert!(matches!(
        request::to_gemini(
            &ChatRequest::new(
                "m",
                vec![Message::Assistant(AssistantMessage {
                    tool_calls: Some(vec![ToolCall::function("c", "f", "nope")]),
                    ..AssistantMessage::default()
                })]
            ),
            &opts()
        ),
        Err(ConvertError::InvalidToolArguments { .. })
    ));
}

// ---- embeddings --------------------------------------------------------------------------------

#[test]
fn embeddings_both_ways() {
    let single: EmbedContentRequest =
        serde_json::from_value(fixture("gemini/embed_request.json")).unwrap();
    let unified = embed::from_gemini_single_request(&single, "gemini-embedding-001");
    assert_eq!(unified.model, "gemini-embedding-001");
    assert_eq!(unified.input, json!("What is the meaning of life?"));
    assert_eq!(unified.extra["dimensions"], 768);
    assert_eq!(unified.extra["task_type"], "SEMANTIC_SIMILARITY");
    let batch = embed::to_gemini_batch(&unified).unwrap();
    assert_eq!(
        to_value(&batch.requests[0]),
        fixture("gemini/embed_request.json")
    );

    let many: BatchEmbedContentsRequest =
        serde_json::from_value(fixture("gemini/batch_embed_request.json")).unwrap();
    let unified = embed::from_gemini_batch_request(&many, "models/gemini-embedding-001");
    assert_eq!(unified.input.as_array().unwrap().len(), 2);
    assert_eq!(
        to_value(&embed::to_gemini_batch(&unified).unwrap()),
        fixture("gemini/batch_embed_request.json")
    );

    let resp: EmbedContentResponse =
        serde_json::from_value(fixture("gemini/embed_response.json")).unwrap();
    let list = embed::from_gemini_single(&resp, "models/gemini-embedding-001");
    assert_eq!(list.model, "gemini-embedding-001");
    assert_eq!(list.data[0].embedding.len(), 4);
    assert_eq!(
        to_value(&embed::to_gemini_single_response(&list).unwrap()),
        fixture("gemini/embed_response.json")
    );
}
