//! The Responses API (`POST /v1/responses`) served by a provider's chat API, for every adapter
//! whose provider has no Responses endpoint of its own (Anthropic, Gemini, Bedrock, Cohere,
//! Vertex, Azure, and OpenAI-compatible presets other than OpenAI).
//!
//! The Responses body becomes a unified chat request
//! ([`asbru_dialects::openai::responses::responses_to_chat`], refusing what has no chat form
//! with a 400 naming the field), the adapter serves it as it serves `/v1/chat/completions`, and
//! the answer comes back in the Responses API's own shape: a `response` object, or the typed
//! event stream converted chunk by chunk. So the engine gets the same answer from a translating
//! adapter as from OpenAI's native endpoint, and fallbacks may cross between the two.

use crate::openai_compatible::ByteStream;
use asbru_dialects::openai::responses::responses_to_chat;
use asbru_dialects::openai::responses_answer::{Echo, chat_to_response};
use asbru_dialects::openai::responses_stream::{StreamFromUnified, write_event};
use asbru_dialects::sse::{SseFramer, single_data_line};
use asbru_schema::GatewayError;
use asbru_schema::chat::{ChatChunk, ChatResponse, StreamOptions};
use bytes::Bytes;
use futures_util::StreamExt;

/// A Responses request prepared for a chat API.
pub(crate) struct ViaChat {
    /// The chat request body.
    pub(crate) chat: Bytes,
    /// What the answer repeats of the request.
    pub(crate) echo: Echo,
}

/// The chat request for a Responses body; `stream_usage` asks for the usage chunk at the end of
/// a stream (for providers known to accept `stream_options`), which the final
/// `response.completed` reports.
pub(crate) fn via_chat(
    body: &[u8],
    stream: bool,
    stream_usage: bool,
) -> Result<ViaChat, GatewayError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| GatewayError::invalid_request(format!("invalid request body: {e}"), None))?;
    let mut chat = responses_to_chat(&value).map_err(|e| {
        let param = (!e.param.is_empty()).then_some(e.param.as_str());
        GatewayError::invalid_request(e.message.clone(), param)
    })?;
    chat.stream = stream.then_some(true);
    if stream && stream_usage {
        chat.stream_options = Some(StreamOptions {
            include_usage: Some(true),
            ..StreamOptions::default()
        });
    }
    let chat = serde_json::to_vec(&chat)
        .map(Bytes::from)
        .map_err(|e| GatewayError::internal(format!("serializing the chat request: {e}")))?;
    Ok(ViaChat {
        chat,
        echo: Echo::of_request(&value),
    })
}

/// A chat completion body as the Responses `response` body; `Err` names what is malformed.
pub(crate) fn answer(chat: &[u8], echo: &Echo) -> Result<Bytes, String> {
    let unified: ChatResponse = serde_json::from_slice(chat).map_err(|e| e.to_string())?;
    serde_json::to_vec(&chat_to_response(&unified, echo))
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// A chat SSE stream (`data: {chunk}` … `data: [DONE]`) as the Responses event stream: one
/// output piece per input piece that produced events, in order. A failure before any event
/// (the provider's error, a chunk that cannot be read) is the stream's first item, so the
/// engine may still retry or fall back; after that it is the last item, which the engine turns
/// into the `error` and `response.failed` events. A stream that stops without `[DONE]` fails.
pub(crate) fn stream(chat: ByteStream, echo: Echo) -> ByteStream {
    let state = State {
        chat,
        framer: SseFramer::default(),
        converter: StreamFromUnified::new(echo),
        pending_error: None,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(error) = st.pending_error.take() {
                st.done = true;
                return Some((Err(error), st));
            }
            if st.done {
                return None;
            }
            let mut out = Vec::new();
            match st.chat.next().await {
                Some(Ok(piece)) => {
                    st.framer.push(&piece);
                    if let Err(e) = st.feed(&mut out) {
                        st.pending_error = Some(e);
                    }
                }
                Some(Err(e)) => st.pending_error = Some(e),
                None => {
                    st.pending_error = Some(GatewayError::upstream_unreachable(
                        "the provider's stream ended before [DONE]",
                    ));
                }
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), st));
            }
        }
    }))
}

struct State {
    chat: ByteStream,
    framer: SseFramer,
    converter: StreamFromUnified,
    /// An error to send after the output that preceded it.
    pending_error: Option<GatewayError>,
    /// `[DONE]` or an error was handled: nothing more is read.
    done: bool,
}

impl State {
    /// Converts every complete chat event; `[DONE]` writes the final events and ends.
    fn feed(&mut self, out: &mut Vec<u8>) -> Result<(), GatewayError> {
        loop {
            let frame = match self.framer.next_event() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(()),
                Err(too_large) => {
                    return Err(GatewayError::upstream_unreachable(format!(
                        "a streamed chunk is larger than {} bytes",
                        too_large.limit
                    )));
                }
            };
            let Some(data) = single_data_line(&frame) else {
                continue;
            };
            if data.trim_ascii() == b"[DONE]" {
                for event in self.converter.finish() {
                    write_event(out, &event);
                }
                self.done = true;
                return Ok(());
            }
            let value: serde_json::Value = serde_json::from_slice(data).map_err(|e| {
                GatewayError::upstream_unreachable(format!("a streamed chunk is not JSON: {e}"))
            })?;
            if let Some(error) = value.get("error") {
                return Err(embedded_error(error));
            }
            let chunk: ChatChunk = serde_json::from_value(value).map_err(|e| {
                GatewayError::upstream_unreachable(format!(
                    "a streamed chunk is not a chat chunk: {e}"
                ))
            })?;
            let events = self.converter.push(&chunk).map_err(|reason| {
                GatewayError::upstream_unreachable(format!(
                    "a streamed chunk has no form in the Responses API: {reason}"
                ))
            })?;
            for event in &events {
                write_event(out, event);
            }
        }
    }
}

/// The gateway error of a `data: {"error": …}` event in a chat stream.
fn embedded_error(error: &serde_json::Value) -> GatewayError {
    let text = |name: &str| {
        error
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    GatewayError::upstream(
        502,
        text("message").unwrap_or_else(|| "the provider's stream failed".to_owned()),
        text("type"),
        text("code"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pieces(items: Vec<Result<&'static str, GatewayError>>) -> ByteStream {
        Box::pin(futures_util::stream::iter(
            items
                .into_iter()
                .map(|i| i.map(|s| Bytes::from_static(s.as_bytes()))),
        ))
    }

    async fn collect(
        items: Vec<Result<&'static str, GatewayError>>,
    ) -> Vec<Result<Vec<Value>, GatewayError>> {
        let out: Vec<Result<Bytes, GatewayError>> =
            stream(pieces(items), Echo::default()).collect().await;
        out.into_iter()
            .map(|r| {
                r.map(|bytes| {
                    let mut framer = SseFramer::default();
                    framer.push(&bytes);
                    let mut events = Vec::new();
                    while let Ok(Some(e)) = framer.next_event() {
                        events.push(serde_json::from_slice(single_data_line(&e).unwrap()).unwrap());
                    }
                    events
                })
            })
            .collect()
    }

    const ROLE: &str = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
    const TEXT: &str = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    const STOP: &str = "data: {\"id\":\"c\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"c\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}\n\ndata: [DONE]\n\n";

    #[tokio::test]
    async fn a_chat_stream_becomes_the_event_stream() {
        let out = collect(vec![Ok(ROLE), Ok(TEXT), Ok(STOP)]).await;
        let events: Vec<Value> = out.into_iter().flat_map(Result::unwrap).collect();
        let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(kinds.first(), Some(&"response.created"));
        assert_eq!(kinds.last(), Some(&"response.completed"));
        assert!(kinds.contains(&"response.output_text.delta"));
        let last = events.last().unwrap();
        assert_eq!(last["response"]["usage"]["total_tokens"], 3);
        assert_eq!(last["response"]["output"][0]["content"][0]["text"], "Hi");
    }

    #[tokio::test]
    async fn an_early_failure_comes_first_and_a_late_one_last() {
        let out = collect(vec![Err(GatewayError::upstream_unreachable("overloaded"))]).await;
        assert_eq!(out.len(), 1);
        assert!(out[0].is_err());

        let out = collect(vec![
            Ok(ROLE),
            Ok("data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n"),
        ])
        .await;
        assert!(out[0].is_ok());
        assert_eq!(out.last().unwrap().as_ref().unwrap_err().message(), "boom");

        // Cut short: no [DONE], so no `response.completed` either.
        let out = collect(vec![Ok(ROLE), Ok(TEXT)]).await;
        let last = out.last().unwrap().as_ref().unwrap_err();
        assert!(last.message().contains("[DONE]"), "{last}");
        assert!(
            out.iter()
                .filter_map(|r| r.as_ref().ok())
                .flatten()
                .all(|e| e["type"] != "response.completed")
        );
    }

    #[test]
    fn requests_without_a_chat_form_are_refused_naming_the_field() {
        let e = via_chat(
            br#"{"model":"m","input":[{"type":"input_file"}]}"#,
            false,
            false,
        )
        .err()
        .unwrap();
        assert_eq!(e.status(), 400);
        assert_eq!(e.param(), Some("input[0].type"));
        let prepared =
            via_chat(br#"{"model":"m","input":"hi","stream":true}"#, true, true).unwrap();
        let chat: Value = serde_json::from_slice(&prepared.chat).unwrap();
        assert_eq!(chat["stream"], true);
        assert_eq!(chat["stream_options"], json!({"include_usage": true}));
        assert_eq!(chat["messages"], json!([{"role": "user", "content": "hi"}]));
    }
}
