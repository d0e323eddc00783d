//! Translation cost per dialect, both ways, for a 1 KB and a 20 KB conversation.
//!
//! Provider direction (`to_anthropic`, `to_gemini`, `to_bedrock`, `to_cohere`): what asbru spends
//! turning an OpenAI-dialect request into a provider's, the provider's answer back into a
//! `chat.completion`, and one streamed event into an OpenAI chunk. The OpenAI pass-through path
//! (read the few top-level fields, rewrite `model`; stamp `extra_fields`) is measured beside them
//! as the floor. Cohere is measured the same way (Vertex AI reuses the Gemini and Anthropic
//! conversions).
//!
//! Client direction (`from_anthropic`, `from_gemini`, `from_bedrock`, `from_cohere`,
//! `from_responses`), what the drop-in routes and `/v1/responses` add: the client's request in
//! its dialect into the unified request and on as the OpenAI-dialect bytes the engine takes
//! (`client_request`), the engine's `chat.completion` bytes into the dialect's answer
//! (`client_response`), and one unified chunk (the `data:` of the engine's OpenAI stream) into
//! the bytes of the dialect's stream events (`client_stream_chunk`: SSE events; Bedrock's binary
//! event-stream message with its CRCs; Gemini's `?alt=sse` framing). Each case does what the route
//! does (`crates/transport/src/{anthropic,genai,bedrock,cohere,dropin}.rs`,
//! `crates/providers/src/responses.rs`), except what is not translation (the engine, the
//! splitting of the SSE stream into frames). The client's requests are the provider-direction
//! conversation converted once into each dialect, so both directions carry the same content.
//!
//! Every case includes (de)serialisation from and to bytes, as the gateway does it.
//!
//! `cargo bench -p asbru-bench --bench dialects`; results are recorded in docs/benchmarks.md.

use asbru_dialects::openai::{ExtraFields, RequestView, RewriteOptions, append_extra_fields};
use asbru_dialects::{anthropic, bedrock, gemini};
use asbru_schema::chat::{ChatChunk, ChatRequest, ChatResponse};
use divan::{Bencher, black_box};
use serde_json::{Value, json};

fn main() {
    divan::main();
}

const SIZES: [usize; 2] = [1024, 20 * 1024];

/// An OpenAI-dialect chat request of about `bytes` bytes: a system prompt, one tool, and
/// alternating user and assistant turns of ordinary prose.
fn request_body(bytes: usize) -> Vec<u8> {
    let sentence = "The quick brown fox jumps over the lazy dog while the gateway counts tokens. ";
    let mut messages = vec![json!({"role": "system", "content": "You are a helpful assistant."})];
    let mut turn = 0;
    loop {
        let body = json!({
            "model": "provider/model-x",
            "max_tokens": 1024,
            "temperature": 0.7,
            "tools": [{"type": "function", "function": {
                "name": "get_weather", "description": "Current weather for a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}}],
            "messages": messages,
        });
        let encoded = serde_json::to_vec(&body).unwrap_or_default();
        if encoded.len() >= bytes {
            return encoded;
        }
        let role = if turn % 2 == 0 { "user" } else { "assistant" };
        messages.push(json!({"role": role, "content": sentence.repeat(2)}));
        turn += 1;
    }
}

/// A `chat.completion` whose answer is about `bytes` bytes of text.
fn unified_response(bytes: usize) -> ChatResponse {
    let text = "Sunny intervals with a light breeze from the west. ".repeat(bytes / 51 + 1);
    serde_json::from_value(json!({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "model-x",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 250, "total_tokens": 1150}
    }))
    .unwrap_or_else(|e| panic_free_default(&e))
}

/// Benchmarks cannot return errors; a broken fixture shows as an empty case, not a crash.
fn panic_free_default<T: Default>(e: &dyn std::fmt::Display) -> T {
    eprintln!("fixture error: {e}");
    T::default()
}

/// A request built from the OpenAI fixture: the same conversation, parsed once.
fn unified_request(bytes: usize) -> ChatRequest {
    serde_json::from_slice(&request_body(bytes)).unwrap_or_else(|e| panic_free_default(&e))
}

/// The OpenAI conversation of about `bytes` bytes in a client's dialect, converted with the
/// provider-direction function `convert` (so both directions carry the same content).
fn client_body<T: serde::Serialize, E: std::fmt::Display>(
    bytes: usize,
    convert: impl FnOnce(&ChatRequest) -> Result<T, E>,
) -> Vec<u8> {
    convert(&unified_request(bytes))
        .map_err(|e| e.to_string())
        .and_then(|body| serde_json::to_vec(&body).map_err(|e| e.to_string()))
        .unwrap_or_else(|e| panic_free_default(&e))
}

/// A client's request body parsed as the drop-in routes parse it (`dropin::parse_json`: with
/// the path of the field at fault, for the 400).
fn parse_client<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).ok()
}

/// One `data:` payload of the engine's OpenAI stream as the routes read it: JSON, not an
/// embedded error, a unified chunk.
fn unified_chunk(data: &[u8]) -> Option<ChatChunk> {
    let value: Value = serde_json::from_slice(data).ok()?;
    if value.get("error").is_some() {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// The chunks that open a stream (primed into a converter outside the timing) and the `data:`
/// bytes of the text chunk timed after them, which the converter has seen before: the steady
/// state of a stream, one text delta in, the dialect's delta out.
fn client_stream() -> (Vec<ChatChunk>, Vec<u8>) {
    let chunks = text_chunks();
    let delta = chunks
        .last()
        .and_then(|c| serde_json::to_vec(c).ok())
        .unwrap_or_default();
    (chunks, delta)
}

/// Runs a case once before it is timed, so a case that fails says so instead of timing nothing.
fn checked<T>(case: &str, out: Option<T>) {
    if out.is_none() {
        eprintln!("{case}: the case fails on its fixture; its time means nothing");
    }
}

/// One named SSE event as the drop-in routes write it (`dropin::write_named_event`).
fn write_named_event<T: serde::Serialize>(out: &mut Vec<u8>, name: &str, data: &T) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

/// One text chunk of a stream, as the unified stream carries it.
fn text_chunks() -> Vec<ChatChunk> {
    [
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
               "choices": [{"index": 0, "delta": {"content": "Sunny intervals with a light breeze. "}}]}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap_or_else(|e| panic_free_default(&e)))
    .collect()
}

mod passthrough {
    use super::*;

    #[divan::bench(args = SIZES)]
    fn request(bencher: Bencher, size: usize) {
        let body = request_body(size);
        bencher.bench(|| {
            let view = RequestView::parse(black_box(&body)).ok()?;
            Some(view.rewrite("model-x", RewriteOptions::default()))
        });
    }

    #[divan::bench(args = SIZES)]
    fn response(bencher: Bencher, size: usize) {
        let body = serde_json::to_vec(&unified_response(size)).unwrap_or_default();
        let extra = ExtraFields {
            request_type: "chat.completion",
            provider: "openai",
            model_requested: "model-x",
            latency: 12,
            chunk_index: None,
            retries: 0,
            fallback_index: 0,
            overhead_ms: None,
            cost: None,
            routing_rule_id: "",
            routing_rule_name: "",
            routing_engines_used: "",
        };
        bencher.bench(|| append_extra_fields(black_box(&body), &extra));
    }
}

mod to_anthropic {
    use super::*;

    #[divan::bench(args = SIZES)]
    fn request(bencher: Bencher, size: usize) {
        let body = request_body(size);
        let opts = anthropic::RequestOptions::default();
        bencher.bench(|| {
            let req: ChatRequest = serde_json::from_slice(black_box(&body)).ok()?;
            let out = anthropic::request::to_anthropic(&req, &opts).ok()?;
            serde_json::to_vec(&out).ok()
        });
    }

    #[divan::bench(args = SIZES)]
    fn response(bencher: Bencher, size: usize) {
        let provider = anthropic::response::to_anthropic(&unified_response(size))
            .ok()
            .and_then(|r| serde_json::to_vec(&r).ok())
            .unwrap_or_default();
        bencher.bench(|| {
            let resp: anthropic::MessagesResponse =
                serde_json::from_slice(black_box(&provider)).ok()?;
            serde_json::to_vec(&anthropic::response::from_anthropic(&resp, 1)).ok()
        });
    }

    #[divan::bench]
    fn stream_chunk(bencher: Bencher) {
        let mut events = anthropic::StreamFromUnified::new();
        let mut frames: Vec<(String, Vec<u8>)> = Vec::new();
        for chunk in text_chunks() {
            for event in events.push(&chunk).unwrap_or_default() {
                let data = serde_json::to_value(&event).unwrap_or(Value::Null);
                let name = data["type"].as_str().unwrap_or_default().to_owned();
                frames.push((name, serde_json::to_vec(&data).unwrap_or_default()));
            }
        }
        let Some((delta_name, delta)) = frames.last().cloned() else {
            return;
        };
        let mut translator = anthropic::StreamToUnified::new(1);
        for (name, data) in &frames[..frames.len() - 1] {
            let _ = translator.push(Some(name), data);
        }
        bencher.bench_local(|| {
            let chunks = translator.push(Some(&delta_name), black_box(&delta)).ok()?;
            chunks
                .iter()
                .map(|c| serde_json::to_vec(c).ok())
                .collect::<Option<Vec<_>>>()
        });
    }
}

mod to_gemini {
    use super::*;

    #[divan::bench(args = SIZES)]
    fn request(bencher: Bencher, size: usize) {
        let body = request_body(size);
        let opts = gemini::request::RequestOptions::default();
        bencher.bench(|| {
            let req: ChatRequest = serde_json::from_slice(black_box(&body)).ok()?;
            let out = gemini::request::to_gemini(&req, &opts).ok()?;
            serde_json::to_vec(&out).ok()
        });
    }

    #[divan::bench(args = SIZES)]
    fn response(bencher: Bencher, size: usize) {
        let provider = gemini::response::to_gemini(&unified_response(size))
            .ok()
            .and_then(|r| serde_json::to_vec(&r).ok())
            .unwrap_or_default();
        bencher.bench(|| {
            let resp: gemini::types::GenerateContentResponse =
                serde_json::from_slice(black_box(&provider)).ok()?;
            let out = gemini::response::from_gemini(&resp, 1).ok()?;
            serde_json::to_vec(&out).ok()
        });
    }

    #[divan::bench]
    fn stream_chunk(bencher: Bencher) {
        let mut events = gemini::stream::StreamFromUnified::new();
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for chunk in text_chunks() {
            for event in events.push(&chunk) {
                frames.push(serde_json::to_vec(&event).unwrap_or_default());
            }
        }
        let Some(delta) = frames.last().cloned() else {
            return;
        };
        let mut translator = gemini::stream::StreamToUnified::new(1);
        bencher.bench_local(|| {
            let chunks = translator.push(black_box(&delta)).ok()?;
            chunks
                .iter()
                .map(|c| serde_json::to_vec(c).ok())
                .collect::<Option<Vec<_>>>()
        });
    }
}

mod to_bedrock {
    use super::*;

    #[divan::bench(args = SIZES)]
    fn request(bencher: Bencher, size: usize) {
        let body = request_body(size);
        let opts = bedrock::request::RequestOptions::default();
        bencher.bench(|| {
            let req: ChatRequest = serde_json::from_slice(black_box(&body)).ok()?;
            let out = bedrock::request::to_bedrock(&req, &opts).ok()?;
            serde_json::to_vec(&out).ok()
        });
    }

    #[divan::bench(args = SIZES)]
    fn response(bencher: Bencher, size: usize) {
        let provider = bedrock::response::to_bedrock(&unified_response(size))
            .ok()
            .and_then(|r| serde_json::to_vec(&r).ok())
            .unwrap_or_default();
        let opts = bedrock::response::ResponseOptions::default();
        bencher.bench(|| {
            let resp: bedrock::types::ConverseResponse =
                serde_json::from_slice(black_box(&provider)).ok()?;
            let out = bedrock::response::from_bedrock(&resp, &opts).ok()?;
            serde_json::to_vec(&out).ok()
        });
    }

    /// One event-stream message: CRC checks and framing included.
    #[divan::bench]
    fn stream_chunk(bencher: Bencher) {
        let mut events = bedrock::stream::StreamFromUnified::new();
        let mut frames = Vec::new();
        for chunk in text_chunks() {
            for event in events.push(&chunk).unwrap_or_default() {
                if let Ok(frame) = bedrock::eventstream::encode_event(&event) {
                    frames.push(frame);
                }
            }
        }
        let Some(delta) = frames.last().cloned() else {
            return;
        };
        let mut translator =
            bedrock::stream::StreamToUnified::new(bedrock::response::ResponseOptions::default());
        for frame in &frames[..frames.len() - 1] {
            let _ = translator.push_bytes(frame);
        }
        bencher.bench_local(|| {
            let chunks = translator.push_bytes(black_box(&delta)).ok()?;
            chunks
                .iter()
                .map(|c| serde_json::to_vec(c).ok())
                .collect::<Option<Vec<_>>>()
        });
    }
}

mod to_cohere {
    use super::*;
    use asbru_dialects::cohere;

    #[divan::bench(args = SIZES)]
    fn request(bencher: Bencher, size: usize) {
        let body = request_body(size);
        bencher.bench(|| {
            let req: ChatRequest = serde_json::from_slice(black_box(&body)).ok()?;
            let out = cohere::request::to_cohere(&req).ok()?;
            serde_json::to_vec(&out).ok()
        });
    }

    #[divan::bench(args = SIZES)]
    fn response(bencher: Bencher, size: usize) {
        let provider = cohere::response::to_cohere(&unified_response(size))
            .ok()
            .and_then(|r| serde_json::to_vec(&r).ok())
            .unwrap_or_default();
        bencher.bench(|| {
            let resp: cohere::ChatResponse = serde_json::from_slice(black_box(&provider)).ok()?;
            let out = cohere::response::from_cohere(&resp, "model-x", 1).ok()?;
            serde_json::to_vec(&out).ok()
        });
    }

    #[divan::bench]
    fn stream_chunk(bencher: Bencher) {
        let mut events = cohere::StreamFromUnified::new();
        let mut frames: Vec<Vec<u8>> = Vec::new();
        for chunk in text_chunks() {
            for event in events.push(&chunk) {
                let mut frame = Vec::new();
                cohere::write_event(&mut frame, &event);
                frames.push(frame);
            }
        }
        let Some(delta) = frames.last().cloned() else {
            return;
        };
        let mut translator = cohere::StreamToUnified::new(1, "model-x");
        for frame in &frames[..frames.len() - 1] {
            let _ = translator.push_frame(frame);
        }
        bencher.bench_local(|| {
            let chunks = translator.push_frame(black_box(&delta)).ok()?;
            chunks
                .iter()
                .map(|c| serde_json::to_vec(c).ok())
                .collect::<Option<Vec<_>>>()
        });
    }
}

mod from_anthropic {
    use super::*;

    /// `POST /anthropic/v1/messages`: a Messages request into the engine's OpenAI bytes.
    #[divan::bench(args = SIZES)]
    fn client_request(bencher: Bencher, size: usize) {
        let opts = anthropic::RequestOptions::default();
        let body = client_body(size, |chat| anthropic::request::to_anthropic(chat, &opts));
        let run = || {
            let req: anthropic::MessagesRequest = parse_client(black_box(&body))?;
            let stream = req.stream == Some(true);
            let mut chat = anthropic::request::from_anthropic(&req).ok()?;
            chat.stream = Some(stream);
            serde_json::to_vec(&chat).ok()
        };
        checked("from_anthropic::client_request", run());
        bencher.bench(run);
    }

    #[divan::bench(args = SIZES)]
    fn client_response(bencher: Bencher, size: usize) {
        let body = serde_json::to_vec(&unified_response(size)).unwrap_or_default();
        let run = || {
            let unified: ChatResponse = serde_json::from_slice(black_box(&body)).ok()?;
            let answer = anthropic::response::to_anthropic(&unified).ok()?;
            serde_json::to_vec(&answer).ok()
        };
        checked("from_anthropic::client_response", run());
        bencher.bench(run);
    }

    #[divan::bench]
    fn client_stream_chunk(bencher: Bencher) {
        let (opening, delta) = client_stream();
        let mut events = anthropic::StreamFromUnified::new();
        for chunk in &opening {
            let _ = events.push(chunk);
        }
        let mut run = || {
            let chunk = unified_chunk(black_box(&delta))?;
            let mut out = Vec::new();
            for event in events.push(&chunk).ok()? {
                write_named_event(&mut out, event.name(), &event);
            }
            (!out.is_empty()).then_some(out)
        };
        checked("from_anthropic::client_stream_chunk", run());
        bencher.bench_local(run);
    }
}

mod from_gemini {
    use super::*;

    /// `POST /genai/v1beta/models/{model}:generateContent`: the model comes from the path.
    #[divan::bench(args = SIZES)]
    fn client_request(bencher: Bencher, size: usize) {
        let opts = gemini::request::RequestOptions::default();
        let body = client_body(size, |chat| gemini::request::to_gemini(chat, &opts));
        let run = || {
            let req: gemini::GenerateContentRequest = parse_client(black_box(&body))?;
            let chat = gemini::request::from_gemini(&req, "model-x", false).ok()?;
            serde_json::to_vec(&chat).ok()
        };
        checked("from_gemini::client_request", run());
        bencher.bench(run);
    }

    #[divan::bench(args = SIZES)]
    fn client_response(bencher: Bencher, size: usize) {
        let body = serde_json::to_vec(&unified_response(size)).unwrap_or_default();
        let run = || {
            let unified: ChatResponse = serde_json::from_slice(black_box(&body)).ok()?;
            let answer = gemini::response::to_gemini(&unified).ok()?;
            serde_json::to_vec(&answer).ok()
        };
        checked("from_gemini::client_response", run());
        bencher.bench(run);
    }

    /// `?alt=sse`, what the SDKs ask for: `data: {json}` with Google's CRLF line ends.
    #[divan::bench]
    fn client_stream_chunk(bencher: Bencher) {
        let (opening, delta) = client_stream();
        let mut events = gemini::StreamFromUnified::new();
        for chunk in &opening {
            let _ = events.push(chunk);
        }
        let mut run = || {
            let chunk = unified_chunk(black_box(&delta))?;
            let mut out = Vec::new();
            for response in events.push(&chunk) {
                out.extend_from_slice(b"data: ");
                serde_json::to_writer(&mut out, &response).ok()?;
                out.extend_from_slice(b"\r\n\r\n");
            }
            (!out.is_empty()).then_some(out)
        };
        checked("from_gemini::client_stream_chunk", run());
        bencher.bench_local(run);
    }
}

mod from_bedrock {
    use super::*;

    /// `POST /bedrock/model/{modelId}/converse`: the model comes from the path.
    #[divan::bench(args = SIZES)]
    fn client_request(bencher: Bencher, size: usize) {
        let opts = bedrock::RequestOptions::default();
        let body = client_body(size, |chat| bedrock::request::to_bedrock(chat, &opts));
        let run = || {
            let req: bedrock::ConverseRequest = parse_client(black_box(&body))?;
            let chat = bedrock::request::from_bedrock(&req, "model-x", false).ok()?;
            serde_json::to_vec(&chat).ok()
        };
        checked("from_bedrock::client_request", run());
        bencher.bench(run);
    }

    /// With `metrics.latencyMs`, which the route adds.
    #[divan::bench(args = SIZES)]
    fn client_response(bencher: Bencher, size: usize) {
        let body = serde_json::to_vec(&unified_response(size)).unwrap_or_default();
        let run = || {
            let unified: ChatResponse = serde_json::from_slice(black_box(&body)).ok()?;
            let mut answer = bedrock::response::to_bedrock(&unified).ok()?;
            answer.metrics = Some(bedrock::types::Metrics {
                latency_ms: 12,
                extra: serde_json::Map::new(),
            });
            serde_json::to_vec(&answer).ok()
        };
        checked("from_bedrock::client_response", run());
        bencher.bench(run);
    }

    /// One event-stream message: headers, framing and both CRCs included.
    #[divan::bench]
    fn client_stream_chunk(bencher: Bencher) {
        let (opening, delta) = client_stream();
        let mut events = bedrock::StreamFromUnified::new();
        for chunk in &opening {
            let _ = events.push(chunk);
        }
        let mut run = || {
            let chunk = unified_chunk(black_box(&delta))?;
            let mut out = Vec::new();
            for event in events.push(&chunk).ok()? {
                out.extend_from_slice(&bedrock::encode_event(&event).ok()?);
            }
            (!out.is_empty()).then_some(out)
        };
        checked("from_bedrock::client_stream_chunk", run());
        bencher.bench_local(run);
    }
}

mod from_cohere {
    use super::*;
    use asbru_dialects::cohere;

    /// `POST /cohere/v2/chat`.
    #[divan::bench(args = SIZES)]
    fn client_request(bencher: Bencher, size: usize) {
        let body = client_body(size, cohere::request::to_cohere);
        let run = || {
            let req: cohere::ChatRequest = parse_client(black_box(&body))?;
            let stream = req.stream == Some(true);
            let mut chat = cohere::request::from_cohere(&req);
            chat.stream = Some(stream);
            serde_json::to_vec(&chat).ok()
        };
        checked("from_cohere::client_request", run());
        bencher.bench(run);
    }

    #[divan::bench(args = SIZES)]
    fn client_response(bencher: Bencher, size: usize) {
        let body = serde_json::to_vec(&unified_response(size)).unwrap_or_default();
        let run = || {
            let unified: ChatResponse = serde_json::from_slice(black_box(&body)).ok()?;
            let answer = cohere::response::to_cohere(&unified).ok()?;
            serde_json::to_vec(&answer).ok()
        };
        checked("from_cohere::client_response", run());
        bencher.bench(run);
    }

    #[divan::bench]
    fn client_stream_chunk(bencher: Bencher) {
        let (opening, delta) = client_stream();
        let mut events = cohere::StreamFromUnified::new();
        for chunk in &opening {
            let _ = events.push(chunk);
        }
        let mut run = || {
            let chunk = unified_chunk(black_box(&delta))?;
            let mut out = Vec::new();
            for event in events.push(&chunk) {
                cohere::write_event(&mut out, &event);
            }
            (!out.is_empty()).then_some(out)
        };
        checked("from_cohere::client_stream_chunk", run());
        bencher.bench_local(run);
    }
}

/// `POST /v1/responses` served through a provider's chat API (`crates/providers/src/responses.rs`:
/// every provider but OpenAI).
mod from_responses {
    use super::*;
    use asbru_dialects::openai::{responses, responses_answer, responses_stream};

    /// The client's Responses request, and what its answer repeats of it.
    fn fixture(size: usize) -> (Vec<u8>, responses_answer::Echo) {
        let body = client_body(size, |chat| {
            Ok::<_, std::convert::Infallible>(responses::chat_to_responses(chat))
        });
        let echo = serde_json::from_slice(&body)
            .map(|value| responses_answer::Echo::of_request(&value))
            .unwrap_or_default();
        (body, echo)
    }

    /// `via_chat`: the echo is taken here, once per request.
    #[divan::bench(args = SIZES)]
    fn client_request(bencher: Bencher, size: usize) {
        let (body, _) = fixture(size);
        let run = || {
            let value: Value = serde_json::from_slice(black_box(&body)).ok()?;
            let chat = responses::responses_to_chat(&value).ok()?;
            let echo = responses_answer::Echo::of_request(&value);
            Some((serde_json::to_vec(&chat).ok()?, echo))
        };
        checked("from_responses::client_request", run());
        bencher.bench(run);
    }

    #[divan::bench(args = SIZES)]
    fn client_response(bencher: Bencher, size: usize) {
        let (_, echo) = fixture(size);
        let body = serde_json::to_vec(&unified_response(size)).unwrap_or_default();
        let run = || {
            let unified: ChatResponse = serde_json::from_slice(black_box(&body)).ok()?;
            serde_json::to_vec(&responses_answer::chat_to_response(&unified, &echo)).ok()
        };
        checked("from_responses::client_response", run());
        bencher.bench(run);
    }

    #[divan::bench]
    fn client_stream_chunk(bencher: Bencher) {
        let (_, echo) = fixture(SIZES[0]);
        let (opening, delta) = client_stream();
        let mut events = responses_stream::StreamFromUnified::new(echo);
        for chunk in &opening {
            let _ = events.push(chunk);
        }
        let mut run = || {
            let chunk = unified_chunk(black_box(&delta))?;
            let mut out = Vec::new();
            for event in events.push(&chunk).ok()? {
                responses_stream::write_event(&mut out, &event);
            }
            (!out.is_empty()).then_some(out)
        };
        checked("from_responses::client_stream_chunk", run());
        bencher.bench_local(run);
    }
}
