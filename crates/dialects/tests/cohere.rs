//! The Cohere dialect against Cohere's documented examples (`tests/fixtures/cohere/`, sources in
//! SOURCES.md): both conversion directions, round trips, streams both ways, embeddings, rerank
//! and errors.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use asbru_dialects::cohere::types::{
    ChatRequest as CohereRequest, ChatResponse as CohereResponse, EmbedRequest, EmbedResponse,
    ErrorBody, RerankRequest as CohereRerank, RerankResponse as CohereRanked,
};
use asbru_dialects::cohere::{
    StreamError, StreamFromUnified, StreamToUnified, embed, error_from_cohere, error_to_cohere,
    request, rerank, response, write_event,
};
use asbru_dialects::sse::SseFramer;
use asbru_schema::GatewayError;
use asbru_schema::chat::{ChatChunk, ChatRequest, FinishReason, Message, Nullable};
use asbru_schema::openai::EmbeddingRequest;
use asbru_schema::rerank::{RerankDocument, RerankRequest};
use serde_json::{Value, json};
use std::path::PathBuf;

fn text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cohere")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn fixture(name: &str) -> Value {
    serde_json::from_str(&text(name)).unwrap()
}

fn frames(name: &str) -> Vec<Vec<u8>> {
    let mut framer = SseFramer::default();
    framer.push(text(name).as_bytes());
    let mut out = Vec::new();
    while let Some(frame) = framer.next_event().unwrap() {
        out.push(frame.to_vec());
    }
    out
}

fn run_stream(name: &str) -> (Vec<ChatChunk>, Result<(), StreamError>) {
    let mut conv = StreamToUnified::new(7, "command-a-03-2025");
    let mut chunks = Vec::new();
    for frame in frames(name) {
        match conv.push_frame(&frame) {
            Ok(c) => chunks.extend(c),
            Err(e) => return (chunks, Err(e)),
        }
    }
    let end = conv.finish();
    (chunks, end)
}

// ---- requests -----------------------------------------------------------------------------------

#[test]
fn documented_requests_parse_and_survive_a_round_trip_through_unified() {
    for name in [
        "request_basic.json",
        "request_tools.json",
        "request_structured.json",
        "request_image.json",
        "request_thinking.json",
    ] {
        let doc = fixture(name);
        let cohere: CohereRequest = serde_json::from_value(doc.clone()).unwrap();
        let unified = request::from_cohere(&cohere);
        let back = request::to_cohere(&unified).unwrap();
        let back = serde_json::to_value(&back).unwrap();
        // A document block reaches the model as its JSON text; everything else is equal.
        if name == "request_tools.json" {
            assert_eq!(back["messages"][2], doc["messages"][2], "{name}");
            assert_eq!(back["tools"], doc["tools"], "{name}");
            assert_eq!(
                back["messages"][3]["tool_call_id"],
                "get_weather_1byjy32y4hvq"
            );
        } else {
            assert_eq!(back, doc, "{name}");
        }
    }
}

#[test]
fn openai_request_becomes_cohere() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "command-a-03-2025",
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}
            ]},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{\"q\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
        ],
        "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}, "strict": true}}],
        "tool_choice": "required",
        "temperature": 0.3,
        "top_p": 0.9,
        "max_completion_tokens": 50,
        "stop": "END",
        "seed": 42,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        "reasoning_effort": "high"
    }))
    .unwrap();
    let out = serde_json::to_value(request::to_cohere(&req).unwrap()).unwrap();
    assert_eq!(
        out,
        json!({
            "model": "command-a-03-2025",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}
                ]},
                {"role": "assistant", "tool_plan": "Let me check.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{\"q\":1}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"}
            ],
            "tools": [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}}}],
            "tool_choice": "REQUIRED",
            "strict_tools": true,
            "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
            "max_tokens": 50,
            "stop_sequences": ["END"],
            "temperature": 0.3,
            "p": 0.9,
            "seed": 42,
            "thinking": {"type": "enabled"}
        })
    );
}

#[test]
fn reasoning_maps_both_ways() {
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [], "reasoning_effort": "none"
    }))
    .unwrap();
    assert_eq!(
        serde_json::to_value(request::to_cohere(&req).unwrap().thinking).unwrap(),
        json!({"type": "disabled"})
    );
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [], "reasoning": {"max_tokens": 1024}
    }))
    .unwrap();
    assert_eq!(
        serde_json::to_value(request::to_cohere(&req).unwrap().thinking).unwrap(),
        json!({"type": "enabled", "token_budget": 1024})
    );
    // Replayed reasoning goes back as a thinking block before the text.
    let req: ChatRequest = serde_json::from_value(json!({
        "model": "m", "messages": [{"role": "assistant", "content": "3", "reasoning": "count"}]
    }))
    .unwrap();
    let out = serde_json::to_value(request::to_cohere(&req).unwrap()).unwrap();
    assert_eq!(
        out["messages"][0]["content"],
        json!([{"type": "thinking", "thinking": "count"}, {"type": "text", "text": "3"}])
    );
}

// ---- responses ----------------------------------------------------------------------------------

#[test]
fn documented_responses_become_chat_completions() {
    let cases: [(&str, FinishReason, u64, u64); 4] = [
        ("response_basic.json", FinishReason::Stop, 71, 418),
        ("response_tool_call.json", FinishReason::ToolCalls, 1361, 72),
        ("response_thinking.json", FinishReason::Stop, 520, 40),
        ("response_max_tokens.json", FinishReason::Length, 71, 3),
    ];
    for (name, finish, prompt, completion) in cases {
        let resp: CohereResponse = serde_json::from_value(fixture(name)).unwrap();
        let unified = response::from_cohere(&resp, "command-a-03-2025", 9).unwrap();
        assert_eq!(unified.object, "chat.completion");
        assert_eq!(unified.created, 9);
        assert_eq!(unified.id, resp.id);
        assert_eq!(unified.choices[0].finish_reason, Some(finish), "{name}");
        let usage = unified.usage.as_ref().unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.total_tokens
            ),
            (prompt, completion, prompt + completion),
            "{name}"
        );
        // Back to Cohere: the same message and usage.
        let back = serde_json::to_value(response::to_cohere(&unified).unwrap()).unwrap();
        let doc = fixture(name);
        assert_eq!(
            back["usage"]["billed_units"], doc["usage"]["billed_units"],
            "{name}"
        );
        assert_eq!(back["usage"]["tokens"], doc["usage"]["tokens"], "{name}");
        assert_eq!(back["message"], doc["message"], "{name}");
    }
    let resp: CohereResponse = serde_json::from_value(fixture("response_tool_call.json")).unwrap();
    let unified = response::from_cohere(&resp, "m", 0).unwrap();
    let msg = unified.first_message().unwrap();
    let call = &msg.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "get_weather_1byjy32y4hvq");
    assert_eq!(call.function.name, "get_weather");
    assert_eq!(call.function.arguments, "{\"location\":\"Toronto\"}");
    assert_eq!(
        msg.text().as_deref(),
        Some("I will search for the weather in Toronto.")
    );

    let resp: CohereResponse = serde_json::from_value(fixture("response_thinking.json")).unwrap();
    let unified = response::from_cohere(&resp, "m", 0).unwrap();
    let msg = unified.first_message().unwrap();
    assert_eq!(
        msg.text().as_deref(),
        Some("Alice's brother has 3 sisters.")
    );
    assert!(
        msg.reasoning
            .as_deref()
            .unwrap()
            .starts_with("Alice has 2 sisters")
    );
}

#[test]
fn error_finish_reasons_are_failures() {
    let mut doc = fixture("response_basic.json");
    doc["finish_reason"] = json!("ERROR");
    let resp: CohereResponse = serde_json::from_value(doc.clone()).unwrap();
    let e = response::from_cohere(&resp, "m", 0).unwrap_err();
    assert_eq!(e.status(), 500);
    doc["finish_reason"] = json!("TIMEOUT");
    let resp: CohereResponse = serde_json::from_value(doc).unwrap();
    assert_eq!(
        response::from_cohere(&resp, "m", 0).unwrap_err().status(),
        504
    );
    assert_eq!(
        response::finish_reason_from_cohere("STOP_SEQUENCE"),
        FinishReason::Stop
    );
}

// ---- streams ------------------------------------------------------------------------------------

#[test]
fn basic_stream_becomes_chunks_with_usage_last() {
    let (chunks, end) = run_stream("stream_basic.sse");
    end.unwrap();
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(chunks[0].id, "29f14a5a-11de-4cae-9800-25e4747408ed");
    let text: String = chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.value().cloned())
        .collect();
    assert_eq!(text, "A large language model (LLM) is a type of model.");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish.choices[0].finish_reason, Some(FinishReason::Stop));
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let Nullable::Value(usage) = &last.usage else {
        panic!("usage expected")
    };
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (73, 12));
}

#[test]
fn tool_stream_becomes_tool_call_deltas() {
    let (chunks, end) = run_stream("stream_tool_call.sse");
    end.unwrap();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut plan = String::new();
    for chunk in &chunks {
        for choice in &chunk.choices {
            if let Some(t) = choice.delta.content.value() {
                plan.push_str(t);
            }
            for d in choice.delta.tool_calls.iter().flatten() {
                let i = d.index as usize;
                if calls.len() <= i {
                    calls.push(Default::default());
                }
                let f = d.function.as_ref().unwrap();
                if let Some(id) = &d.id {
                    calls[i].0.clone_from(id);
                }
                if let Some(name) = &f.name {
                    calls[i].1.clone_from(name);
                }
                calls[i].2.push_str(f.arguments.as_deref().unwrap_or(""));
            }
        }
    }
    assert_eq!(
        plan,
        "I will search for the weather in Madrid and Brasilia."
    );
    assert_eq!(
        calls,
        vec![
            (
                "get_weather_p0dage9q1nv4".to_owned(),
                "get_weather".to_owned(),
                "{\"location\": \"Madrid\"}".to_owned()
            ),
            (
                "get_weather_vdr9cvj0cx6b".to_owned(),
                "get_weather".to_owned(),
                "{\"location\": \"Brasilia\"}".to_owned()
            ),
        ]
    );
    assert_eq!(
        chunks[chunks.len() - 2].choices[0].finish_reason,
        Some(FinishReason::ToolCalls)
    );
}

#[test]
fn error_end_and_truncation_are_errors() {
    let (chunks, end) = run_stream("stream_error.sse");
    assert!(chunks.iter().any(|c| {
        c.choices
            .iter()
            .any(|ch| ch.delta.content.value().map(String::as_str) == Some("Hello"))
    }));
    let Err(StreamError::Upstream(e)) = end else {
        panic!("upstream error expected")
    };
    assert_eq!(e.status(), 500);
    assert!(e.message().contains("internal server error"), "{e}");

    let mut conv = StreamToUnified::new(0, "m");
    for frame in frames("stream_basic.sse").iter().take(3) {
        conv.push_frame(frame).unwrap();
    }
    assert!(matches!(conv.finish(), Err(StreamError::Truncated)));
    let bad = conv.push_frame(b"event: content-delta\ndata: {\"type\":\n\n");
    assert!(matches!(bad, Err(StreamError::Malformed(_))));
}

#[test]
fn streams_survive_a_round_trip_through_unified() {
    for name in ["stream_basic.sse", "stream_tool_call.sse"] {
        let (chunks, end) = run_stream(name);
        end.unwrap();
        let mut back = StreamFromUnified::new();
        let mut sse = Vec::new();
        for chunk in &chunks {
            for event in back.push(chunk) {
                write_event(&mut sse, &event);
            }
        }
        for event in back.finish() {
            write_event(&mut sse, &event);
        }
        // The regenerated events convert to the same chunks.
        let mut again = StreamToUnified::new(7, "command-a-03-2025");
        let mut framer = SseFramer::default();
        framer.push(&sse);
        let mut chunks2 = Vec::new();
        while let Some(frame) = framer.next_event().unwrap() {
            chunks2.extend(again.push_frame(&frame).unwrap());
        }
        again.finish().unwrap();
        let strip = |cs: &[ChatChunk]| -> Vec<Value> {
            cs.iter()
                .map(|c| serde_json::to_value(c).unwrap())
                .collect()
        };
        let (a, b) = (strip(&chunks), strip(&chunks2));
        let text = |v: &[Value]| -> String {
            v.iter()
                .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
                .collect()
        };
        assert_eq!(text(&a), text(&b), "{name}");
        assert_eq!(a.last(), b.last(), "{name}");
        let sse = String::from_utf8(sse).unwrap();
        assert!(sse.starts_with("event: message-start\n"), "{sse}");
        assert!(sse.contains("event: message-end\n"), "{sse}");
    }
}

/// The data of each event of a `.sse` fixture, parsed.
fn fixture_events(name: &str) -> Vec<Value> {
    frames(name)
        .iter()
        .filter_map(|f| {
            let text = std::str::from_utf8(f).unwrap();
            let data = text.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some(serde_json::from_str(data).unwrap())
        })
        .collect()
}

#[test]
fn documented_streams_are_regenerated_event_for_event() {
    // Cohere's stream → unified chunks → Cohere's stream again gives Cohere's own events, in
    // order and field for field; a forced tool call's text is its plan (`tool-plan-delta`).
    for (name, tool_plan) in [("stream_basic.sse", false), ("stream_tool_call.sse", true)] {
        let (chunks, end) = run_stream(name);
        end.unwrap();
        let mut back = StreamFromUnified::new();
        if tool_plan {
            back = back.with_tool_plan();
        }
        let mut events = Vec::new();
        for chunk in &chunks {
            events.extend(back.push(chunk));
        }
        events.extend(back.finish());
        let events: Vec<Value> = events
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        assert_eq!(events, fixture_events(name), "{name}");
    }
}

#[test]
fn a_failed_stream_ends_with_an_error_message_end() {
    let (chunks, _) = run_stream("stream_basic.sse");
    let mut back = StreamFromUnified::new();
    let mut kinds = Vec::new();
    for chunk in &chunks[..3] {
        kinds.extend(back.push(chunk).into_iter().map(|e| e.kind));
    }
    let failed = back.fail("the provider went away");
    let last = serde_json::to_value(failed.last().unwrap()).unwrap();
    kinds.extend(failed.into_iter().map(|e| e.kind));
    assert_eq!(
        kinds,
        [
            "message-start",
            "content-start",
            "content-delta",
            "content-delta",
            "content-end",
            "message-end"
        ]
    );
    assert_eq!(
        last,
        json!({"type": "message-end",
               "delta": {"finish_reason": "ERROR", "error": "the provider went away"}})
    );
    // Read back, it is Cohere's failure again.
    let mut sse = Vec::new();
    write_event(&mut sse, &serde_json::from_value(last).unwrap());
    let mut conv = StreamToUnified::new(0, "m");
    conv.push_frame(b"event: message-start\ndata: {\"type\":\"message-start\",\"id\":\"x\"}\n\n")
        .unwrap();
    assert!(matches!(
        conv.push_frame(&sse),
        Err(StreamError::Upstream(e)) if e.message().contains("the provider went away")
    ));

    // Failing before any chunk still gives a whole message.
    let kinds: Vec<String> = StreamFromUnified::new()
        .fail("no answer")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["message-start", "message-end"]);
}

// ---- embeddings ---------------------------------------------------------------------------------

#[test]
fn embeddings_both_ways() {
    let req = EmbeddingRequest::new("embed-v4.0", json!(["hello", "goodbye"]));
    let out = serde_json::to_value(embed::to_cohere_embed(&req).unwrap()).unwrap();
    assert_eq!(
        out,
        json!({"model": "embed-v4.0", "texts": ["hello", "goodbye"], "input_type": "search_document", "embedding_types": ["float"]})
    );
    let mut req = EmbeddingRequest::new("embed-v4.0", json!("hello"));
    req.extra.insert("input_type".into(), json!("search_query"));
    req.extra.insert("dimensions".into(), json!(256));
    let out = embed::to_cohere_embed(&req).unwrap();
    assert_eq!(out.input_type, "search_query");
    assert_eq!(out.output_dimension, Some(256));
    assert!(embed::to_cohere_embed(&EmbeddingRequest::new("m", json!([[1, 2]]))).is_err());

    let doc: EmbedRequest = serde_json::from_value(fixture("embed_request.json")).unwrap();
    let unified = embed::from_cohere_embed_request(&doc);
    assert_eq!(unified.input, json!(["hello", "goodbye"]));
    assert_eq!(
        embed::to_cohere_embed(&unified).unwrap().input_type,
        "classification"
    );

    let resp: EmbedResponse = serde_json::from_value(fixture("embed_response.json")).unwrap();
    let unified = embed::from_cohere_embed(&resp, "embed-v4.0").unwrap();
    assert_eq!(unified.data.len(), 2);
    assert_eq!(unified.data[1].index, 1);
    assert_eq!(unified.data[0].embedding[0], 0.016296387);
    assert_eq!(unified.usage.unwrap().prompt_tokens, 2);
    let back = embed::to_cohere_embed_response(&unified, &resp.id);
    assert_eq!(back.embeddings, resp.embeddings);
}

// ---- rerank -------------------------------------------------------------------------------------

#[test]
fn rerank_both_ways() {
    let doc = fixture("rerank_request.json");
    let cohere: CohereRerank = serde_json::from_value(doc.clone()).unwrap();
    let unified = rerank::from_cohere_rerank_request(&cohere);
    assert_eq!(
        serde_json::to_value(rerank::to_cohere_rerank(&unified)).unwrap(),
        doc
    );

    let mut req: RerankRequest = serde_json::from_value(json!({
        "model": "rerank-v3.5",
        "query": "capital?",
        "documents": ["a", {"text": "b", "id": "doc-b"}, "c", "d"],
        "return_documents": true
    }))
    .unwrap();
    let resp: CohereRanked = serde_json::from_value(fixture("rerank_response.json")).unwrap();
    let out = rerank::from_cohere_rerank(&resp, &req, "rerank-v3.5");
    let order: Vec<u32> = out.results.iter().map(|r| r.index).collect();
    assert_eq!(order, vec![2, 3, 0]);
    assert_eq!(out.results[0].document, Some(RerankDocument::text("c")));
    assert_eq!(out.usage.unwrap().search_units, Some(1));
    assert_eq!(
        out.id.as_deref(),
        Some("07734bd2-2473-4f07-94e1-0d9f0e6843cf")
    );
    req.return_documents = None;
    let out = rerank::from_cohere_rerank(&resp, &req, "rerank-v3.5");
    assert!(out.results.iter().all(|r| r.document.is_none()));
    let back = rerank::to_cohere_rerank_response(&out);
    assert_eq!(back.results, resp.results);
}

// ---- errors -------------------------------------------------------------------------------------

#[test]
fn errors_keep_status_and_message_with_a_type_from_the_status() {
    let body = text("error_bad_request.json");
    let cases: [(u16, &str); 7] = [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "server_error"),
    ];
    for (status, kind) in cases {
        let e = error_from_cohere(status, body.as_bytes());
        assert_eq!(e.status(), status);
        assert_eq!(e.error_type(), Some(kind));
        assert!(e.message().starts_with("invalid request: message must be"));
    }
    let html = error_from_cohere(502, b"<html>bad gateway</html>");
    assert!(html.message().contains("<html>bad gateway</html>"));
    let back = error_to_cohere(&GatewayError::invalid_request("nope", None));
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        json!({"message": "nope"})
    );
    let _: ErrorBody = serde_json::from_str(&body).unwrap();
}

#[test]
fn unified_messages_keep_tool_call_ids_through_cohere() {
    let doc: CohereRequest = serde_json::from_value(fixture("request_tools.json")).unwrap();
    let unified = request::from_cohere(&doc);
    let Message::Assistant(a) = &unified.messages[2] else {
        panic!("assistant expected")
    };
    assert_eq!(
        a.tool_calls.as_ref().unwrap()[0].id,
        "get_weather_1byjy32y4hvq"
    );
    let Message::Tool(t) = &unified.messages[3] else {
        panic!("tool expected")
    };
    assert_eq!(t.tool_call_id, "get_weather_1byjy32y4hvq");
    assert!(t.content.text().contains("20C"));
}
