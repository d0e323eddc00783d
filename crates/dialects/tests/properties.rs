//! Property tests for every parser that reads bytes a client or a provider sent: the OpenAI
//! request view, SSE framing, the AWS event-stream decoder and each dialect's request parser.
//! Whatever the input, they answer or refuse; they never panic, and the framers give the same
//! result however the network cut the bytes.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use asbru_dialects::anthropic::request::from_anthropic;
use asbru_dialects::anthropic::types::MessagesRequest;
use asbru_dialects::bedrock::eventstream::{FrameDecoder, FrameError, encode_message, parse_event};
use asbru_dialects::bedrock::request::from_bedrock;
use asbru_dialects::bedrock::types::ConverseRequest;
use asbru_dialects::cohere::ChatRequest as CohereChat;
use asbru_dialects::cohere::request::from_cohere;
use asbru_dialects::gemini::request::from_gemini;
use asbru_dialects::gemini::types::GenerateContentRequest;
use asbru_dialects::openai::responses::responses_to_chat;
use asbru_dialects::openai::{RequestView, RewriteOptions};
use asbru_dialects::sse::{EventTooLarge, SseFramer};
use aws_smithy_types::DateTime;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ---- strategies --------------------------------------------------------------------------------

/// Field names the dialects read, so generated objects reach past the first `missing field`.
const KEYS: &[&str] = &[
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "system",
    "tools",
    "tool_choice",
    "name",
    "input",
    "id",
    "tool_use_id",
    "source",
    "data",
    "media_type",
    "url",
    "thinking",
    "budget_tokens",
    "signature",
    "max_tokens",
    "stream",
    "temperature",
    "stop_sequences",
    "contents",
    "parts",
    "inlineData",
    "mimeType",
    "functionCall",
    "functionResponse",
    "args",
    "response",
    "systemInstruction",
    "generationConfig",
    "thinkingConfig",
    "thinkingBudget",
    "responseSchema",
    "toolConfig",
    "functionDeclarations",
    "parameters",
    "toolUse",
    "toolResult",
    "toolUseId",
    "inferenceConfig",
    "maxTokens",
    "toolSpec",
    "inputSchema",
    "json",
    "reasoningContent",
    "reasoningText",
    "cachePoint",
    "additionalModelRequestFields",
    "document",
    "image",
    "format",
    "bytes",
    "tool_calls",
    "tool_call_id",
    "function",
    "arguments",
    "documents",
    "response_format",
    "json_schema",
    "schema",
    "instructions",
    "reasoning",
    "effort",
    "call_id",
    "output",
    "image_url",
    "summary",
];

/// String values the dialects dispatch on.
const WORDS: &[&str] = &[
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "model",
    "text",
    "image",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "document",
    "base64",
    "url",
    "auto",
    "any",
    "none",
    "required",
    "function",
    "json_schema",
    "json_object",
    "message",
    "input_text",
    "output_text",
    "input_image",
    "function_call",
    "function_call_output",
    "reasoning",
    "image/png",
    "application/pdf",
    "data:image/png;base64,AAAA",
    "high",
    "low",
    "medium",
    "enabled",
    "png",
    "pdf",
    "{\"a\":1}",
];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u32..100_000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        proptest::sample::select(WORDS).prop_map(|w| Value::String(w.to_owned())),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(json_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Objects shaped like a request: the top-level fields the dialects know, any values.
fn json_object() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(json_key(), json_value(), 0..8)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Bytes rich in what the framers look for.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            3 => Just(b'\n'),
            2 => Just(b'\r'),
            1 => Just(b':'),
            4 => b'a'..=b'e',
            1 => any::<u8>(),
        ],
        0..160,
    )
}

/// `bytes` cut at the given points (taken modulo its length).
fn cut(bytes: &[u8], points: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = points
        .iter()
        .map(|p| p % (bytes.len() + 1))
        .chain([0, bytes.len()])
        .collect();
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect()
}

// ---- OpenAI request view -----------------------------------------------------------------------

/// Fields the view interprets (their types are checked); generated objects leave them out.
const VIEW_FIELDS: &[&str] = &["model", "stream", "stream_options", "fallbacks"];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_view_never_panics_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(view) = RequestView::parse(&body) {
            let out = view.rewrite("m", RewriteOptions::default());
            prop_assert!(serde_json::from_slice::<Value>(&out).is_ok());
        }
    }

    #[test]
    fn request_view_never_panics_on_json(value in json_value()) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Ok(view) = RequestView::parse(&body) {
            let out = view.rewrite("m", RewriteOptions {
                request_stream_usage: true,
                drop_fields: &["top_k".to_owned()],
            });
            prop_assert!(serde_json::from_slice::<Value>(&out).is_ok());
        }
    }

    #[test]
    fn request_view_rewrites_model_and_keeps_the_rest(
        object in json_object(),
        model in ".{0,24}",
        upstream in ".{0,24}",
    ) {
        let Value::Object(mut fields) = object else { unreachable!() };
        fields.retain(|k, _| !VIEW_FIELDS.contains(&k.as_str()));
        fields.insert("model".to_owned(), Value::String(model.clone()));
        let body = serde_json::to_vec(&Value::Object(fields.clone())).unwrap();

        let view = RequestView::parse(&body).unwrap();
        prop_assert_eq!(view.model(), model.as_str());
        let out = view.rewrite(&upstream, RewriteOptions::default());
        let mut rewritten: Map<String, Value> = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(rewritten.remove("model"), Some(Value::String(upstream)));
        // The other fields, compared after the same parse of the same bytes.
        let mut original: Map<String, Value> = serde_json::from_slice(&body).unwrap();
        original.remove("model");
        prop_assert_eq!(rewritten, original);
    }
}

// ---- SSE framing -------------------------------------------------------------------------------

/// The events a framer hands out for `pieces`, up to the first error, and what is left.
fn frame(pieces: &[Vec<u8>], limit: usize) -> (Vec<Vec<u8>>, Option<EventTooLarge>, Vec<u8>) {
    let mut framer = SseFramer::new(limit);
    let mut events = Vec::new();
    for piece in pieces {
        framer.push(piece);
        loop {
            match framer.next_event() {
                Ok(Some(event)) => events.push(event.to_vec()),
                Ok(None) => break,
                Err(e) => return (events, Some(e), Vec::new()),
            }
        }
    }
    (events, None, framer.remainder().to_vec())
}

fn ends_in_blank_line(event: &[u8]) -> bool {
    event.ends_with(b"\n\n") || event.ends_with(b"\r\n\r\n")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sse_splits_do_not_change_events(
        bytes in sse_bytes(),
        points in proptest::collection::vec(any::<usize>(), 0..12),
        limit in prop_oneof![Just(usize::MAX), 0usize..48],
    ) {
        let whole = frame(std::slice::from_ref(&bytes), limit);
        let pieces = frame(&cut(&bytes, &points), limit);
        prop_assert_eq!(&pieces, &whole);
        let bytewise: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
        prop_assert_eq!(&frame(&bytewise, limit), &whole);

        let (events, error, rest) = whole;
        for event in &events {
            prop_assert!(ends_in_blank_line(event), "{:?}", event);
            prop_assert!(event.len() <= limit, "event of {} bytes over {limit}", event.len());
        }
        if error.is_none() {
            // Nothing is lost or reordered: the events and the remainder are the input.
            prop_assert_eq!([events.concat(), rest.clone()].concat(), bytes);
            prop_assert!(rest.len() <= limit);
            prop_assert!(!rest.windows(2).any(|w| w == b"\n\n"));
        }
    }

    #[test]
    fn sse_events_over_the_limit_are_refused(len in 0usize..64, limit in 0usize..64) {
        let mut event = b"data: ".to_vec();
        event.resize(event.len() + len, b'x');
        event.extend_from_slice(b"\n\n");
        let (events, error, _) = frame(std::slice::from_ref(&event), limit);
        if event.len() <= limit {
            prop_assert_eq!(events, vec![event]);
            prop_assert_eq!(error, None);
        } else {
            prop_assert!(events.is_empty());
            prop_assert_eq!(error, Some(EventTooLarge { limit }));
        }
    }
}

// ---- AWS event stream --------------------------------------------------------------------------

fn header_value() -> impl Strategy<Value = HeaderValue> {
    prop_oneof![
        any::<bool>().prop_map(HeaderValue::Bool),
        any::<i8>().prop_map(HeaderValue::Byte),
        any::<i16>().prop_map(HeaderValue::Int16),
        any::<i32>().prop_map(HeaderValue::Int32),
        any::<i64>().prop_map(HeaderValue::Int64),
        proptest::collection::vec(any::<u8>(), 0..32)
            .prop_map(|b| HeaderValue::ByteArray(b.into())),
        ".{0,24}".prop_map(|s| HeaderValue::String(s.into())),
        any::<i64>().prop_map(|ms| HeaderValue::Timestamp(DateTime::from_millis(ms))),
        any::<u128>().prop_map(HeaderValue::Uuid),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        proptest::collection::vec(("[:a-z-]{1,16}", header_value()), 0..5),
        proptest::collection::vec(any::<u8>(), 0..96),
    )
        .prop_map(|(headers, payload)| {
            let headers = headers
                .into_iter()
                .map(|(name, value)| Header::new(name, value))
                .collect();
            Message::new_from_parts(headers, payload)
        })
}

/// The messages a decoder hands out for `pieces`, up to the first error, and what is buffered.
fn decode(pieces: &[Vec<u8>]) -> (Vec<Message>, Option<String>, usize) {
    let mut decoder = FrameDecoder::with_limit(4096);
    let mut messages = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(m)) => messages.push(m),
                Ok(None) => break,
                Err(e) => {
                    // A failed decoder stays failed.
                    let again = decoder.next_message();
                    assert!(matches!(again, Err(FrameError::Poisoned)), "{again:?}");
                    return (messages, Some(e.to_string()), 0);
                }
            }
        }
    }
    (messages, None, decoder.buffered())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn eventstream_never_panics_on_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        points in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let (messages, _, _) = decode(&cut(&bytes, &points));
        for m in &messages {
            let _ = parse_event(m);
        }
    }

    #[test]
    fn eventstream_round_trips_in_any_chunks(
        messages in proptest::collection::vec(message(), 1..4),
        points in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let bytes: Vec<u8> = messages
            .iter()
            .flat_map(|m| encode_message(m).unwrap().to_vec())
            .collect();
        let whole = decode(std::slice::from_ref(&bytes));
        prop_assert_eq!(&whole, &(messages.clone(), None, 0));
        prop_assert_eq!(decode(&cut(&bytes, &points)), whole);
        for m in &messages {
            let _ = parse_event(m);
        }
    }

    #[test]
    fn eventstream_refuses_any_flipped_bit(
        message in message(),
        at in any::<usize>(),
        bit in 0u8..8,
        points in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut bytes = encode_message(&message).unwrap().to_vec();
        let at = at % bytes.len();
        bytes[at] ^= 1 << bit;
        // The prelude CRC covers the lengths, the message CRC the rest: every single-bit error
        // is caught, never handed on as a message, and never waited on.
        let (messages, error, _) = decode(&cut(&bytes, &points));
        prop_assert!(messages.is_empty(), "{:?}", messages);
        prop_assert!(error.is_some());
    }
}

// ---- Bedrock model ids in paths ---------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn converse_paths_keep_the_id_in_one_segment(id in prop_oneof![
        proptest::sample::select(&[".", "..", "...", "a/..", "arn:aws:bedrock:us-east-1:1:x/y"][..])
            .prop_map(str::to_owned),
        "[./:?#%a-z0-9 -]{1,16}",
        ".{1,16}",
    ], stream in any::<bool>()) {
        let path = asbru_dialects::bedrock::converse_path(&id, stream);
        let segment = path
            .strip_prefix("/model/")
            .and_then(|p| p.strip_suffix(if stream { "/converse-stream" } else { "/converse" }))
            .unwrap();
        prop_assert!(!segment.contains(['/', '?', '#', ' ']), "{}", path);
        prop_assert_eq!(
            asbru_dialects::bedrock::parse_converse_path(&path),
            Some((id.clone(), stream))
        );
        // Only the dot segments survive encoding as they are; the provider refuses them.
        if matches!(segment, "." | "..") {
            prop_assert_eq!(segment, id.as_str());
        }
    }
}

// ---- dialect request parsers -------------------------------------------------------------------

/// Parses `value` as the dialect's request and converts it; errors are fine, panics are not.
fn convert_all(value: &Value) {
    if let Ok(req) = serde_json::from_value::<MessagesRequest>(value.clone())
        && let Ok(chat) = from_anthropic(&req)
    {
        serde_json::to_vec(&chat).unwrap();
    }
    if let Ok(req) = serde_json::from_value::<GenerateContentRequest>(value.clone()) {
        for stream in [false, true] {
            if let Ok(chat) = from_gemini(&req, "gemini-2.5-flash", stream) {
                serde_json::to_vec(&chat).unwrap();
            }
        }
    }
    if let Ok(req) = serde_json::from_value::<ConverseRequest>(value.clone()) {
        for stream in [false, true] {
            if let Ok(chat) = from_bedrock(&req, "anthropic.claude-v2", stream) {
                serde_json::to_vec(&chat).unwrap();
            }
        }
    }
    if let Ok(req) = serde_json::from_value::<CohereChat>(value.clone()) {
        serde_json::to_vec(&from_cohere(&req)).unwrap();
    }
    if let Ok(chat) = responses_to_chat(value) {
        serde_json::to_vec(&chat).unwrap();
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn dialect_parsers_never_panic_on_json(value in json_value()) {
        convert_all(&value);
    }

    #[test]
    fn dialect_parsers_never_panic_on_request_shaped_objects(value in json_object()) {
        convert_all(&value);
    }

    #[test]
    fn dialect_parsers_never_panic_on_bytes(body in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = serde_json::from_slice::<MessagesRequest>(&body);
        let _ = serde_json::from_slice::<GenerateContentRequest>(&body);
        let _ = serde_json::from_slice::<ConverseRequest>(&body);
        let _ = serde_json::from_slice::<CohereChat>(&body);
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            convert_all(&value);
        }
    }
}
