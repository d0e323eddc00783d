//! Gemini's two stream framings for `:streamGenerateContent`, fed with the engine's unified
//! chunks in order ([`StreamFromUnified`] decides what each chunk becomes).
//!
//! - `?alt=sse` (what the SDKs ask for): each chunk is one `data: {json}` event, with the CRLF
//!   line ends Google sends; a failure after the start is a `data: {"error": {…}}` event, which
//!   the SDKs raise as their own exception.
//! - Without `alt`: one JSON array, its elements written as they come (`[{…},\r\n{…}]`); a
//!   failure after the start is an `{"error": {…}}` element, then the array is closed, as Google
//!   does.

use crate::dropin::StreamOut;
use asbru_dialects::gemini::StreamFromUnified;
use asbru_dialects::gemini::error_to_gemini;
use asbru_dialects::gemini::types::GenerateContentResponse;
use asbru_schema::GatewayError;
use asbru_schema::chat::ChatChunk;

/// How the stream's elements are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    Sse,
    Array,
}

/// Unified chunks in, Gemini stream bytes out.
pub(super) struct GenaiStream {
    chunks: StreamFromUnified,
    framing: Framing,
    /// Elements written so far (the array's `[` goes before the first).
    written: usize,
}

impl GenaiStream {
    pub(super) fn new(framing: Framing) -> Self {
        Self {
            chunks: StreamFromUnified::new(),
            framing,
            written: 0,
        }
    }

    fn element<T: serde::Serialize>(&mut self, value: &T, out: &mut Vec<u8>) {
        match self.framing {
            Framing::Sse => out.extend_from_slice(b"data: "),
            Framing::Array if self.written == 0 => out.push(b'['),
            Framing::Array => out.extend_from_slice(b",\r\n"),
        }
        // Serializing plain data structures into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
        if self.framing == Framing::Sse {
            out.extend_from_slice(b"\r\n\r\n");
        }
        self.written += 1;
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if self.framing == Framing::Array {
            if self.written == 0 {
                out.push(b'[');
            }
            out.push(b']');
        }
    }
}

impl StreamOut for GenaiStream {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) -> Result<(), String> {
        for response in self.chunks.push(chunk) {
            self.element(&response, out);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let last = self.chunks.finish().map_err(|e| e.to_string())?;
        for response in last {
            self.element(&response, out);
        }
        self.close(out);
        Ok(())
    }

    fn error(&mut self, error: &GatewayError, out: &mut Vec<u8>) {
        let (_, body) = error_to_gemini(error);
        self.element(&body, out);
        self.close(out);
    }
}

/// A whole answer as a stream of one, for a stream request the provider answered whole.
pub(super) fn whole(answer: &GenerateContentResponse, framing: Framing) -> Vec<u8> {
    let mut stream = GenaiStream::new(framing);
    let mut out = Vec::new();
    stream.element(answer, &mut out);
    stream.close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::{Framing, GenaiStream};
    use crate::dropin::StreamOut;
    use asbru_schema::GatewayError;
    use asbru_schema::chat::ChatChunk;
    use serde_json::{Value, json};

    fn chunk(value: Value) -> ChatChunk {
        serde_json::from_value(value).unwrap()
    }

    fn text(content: &str) -> ChatChunk {
        chunk(
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1,
                     "model": "m", "choices": [{"index": 0, "delta": {"content": content},
                                                "finish_reason": null}]}),
        )
    }

    #[test]
    fn an_array_stream_is_one_json_array() {
        let mut sink = GenaiStream::new(Framing::Array);
        let mut out = Vec::new();
        sink.chunk(&text("Hel"), &mut out).unwrap();
        sink.chunk(&text("lo"), &mut out).unwrap();
        sink.finish(&mut out).unwrap();
        let all: Vec<Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(
            all[0]["candidates"][0]["content"]["parts"][0]["text"],
            "Hel"
        );
        assert_eq!(all[2]["candidates"][0]["finishReason"], "STOP");
    }

    #[test]
    fn a_failure_closes_the_array_with_an_error_element() {
        let mut sink = GenaiStream::new(Framing::Array);
        let mut out = Vec::new();
        sink.error(&GatewayError::upstream_unreachable("cut"), &mut out);
        let all: Vec<Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(all[0]["error"]["status"], "UNAVAILABLE");

        let mut sink = GenaiStream::new(Framing::Sse);
        let mut out = Vec::new();
        sink.chunk(&text("Hi"), &mut out).unwrap();
        sink.error(&GatewayError::upstream_unreachable("cut"), &mut out);
        let text = String::from_utf8(out).unwrap();
        let events: Vec<&str> = text.split("\r\n\r\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(events.len(), 2);
        assert!(events[1].starts_with("data: {\"error\":"), "{text}");
    }
}
