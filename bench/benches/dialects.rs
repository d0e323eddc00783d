//! Translation cost per dialect: what asbru spends turning an OpenAI-dialect request into a
//! provider's, the provider's answer back into a `chat.completion`, and one streamed event into
//! an OpenAI chunk — for a 1 KB and a 20 KB conversation. The OpenAI pass-through path (read the
//! few top-level fields, rewrite `model`; stamp `extra_fields`) is measured beside them as the
//! floor. Every case includes (de)serialisation from and to bytes, as the gateway does it.
//!
//! Cohere is measured the same way (Vertex AI reuses the Gemini and Anthropic conversions).
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
