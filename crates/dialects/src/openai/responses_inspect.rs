//! Following a Responses-API event stream while the engine forwards it, whichever provider
//! produced it (OpenAI natively, or a chat provider through [`super::responses_stream`]).
//!
//! The engine needs four things from it: whether the stream ended properly (a
//! `response.completed` or `response.incomplete` event — there is no `[DONE]`), whether the
//! provider reported a failure in it (`error`, `response.failed`), the usage of the final
//! response for the request log, and, when the stream breaks after it started, the events that
//! tell the client so in this API's terms: an `error` event and a `response.failed` carrying the
//! response as `response.created` announced it with the output items completed so far, numbered
//! after the last event forwarded. Only each event's `type` and `sequence_number` are read, plus
//! the response object of the lifecycle events and the item of `response.output_item.done`.

use super::responses_stream::write_event;
use crate::sse::{SseFramer, single_data_line};
use asbru_schema::{GatewayError, Usage};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use std::borrow::Cow;

/// The most bytes of completed output items kept for a `response.failed`; past it, later items
/// are left out of that event (the client has had them in their own events).
const MAX_KEPT_OUTPUT_BYTES: usize = 1 << 20;

/// What the engine learns from a Responses event stream.
#[derive(Debug, Default)]
pub struct EventInspector {
    next_sequence: u64,
    /// The response of `response.created` / `response.in_progress`.
    response: Option<Value>,
    /// The items of `response.output_item.done` so far, and the size of their events.
    output: Vec<Value>,
    output_bytes: usize,
    usage: Option<Usage>,
    events: u64,
    ended: bool,
    failed: bool,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    sequence_number: Option<u64>,
}

#[derive(Deserialize)]
struct Lifecycle {
    response: Value,
}

#[derive(Deserialize)]
struct ItemDone {
    item: Value,
}

/// Usage as the Responses API reports it.
#[derive(Debug, Default, Deserialize)]
pub struct ResponsesUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default)]
    pub input_tokens_details: Option<ResponsesTokenDetails>,
    #[serde(default)]
    pub output_tokens_details: Option<ResponsesTokenDetails>,
}

/// `input_tokens_details` / `output_tokens_details` of a Responses-API usage.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
pub struct ResponsesTokenDetails {
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(default)]
    pub reasoning_tokens: u64,
}

impl From<ResponsesUsage> for Usage {
    fn from(u: ResponsesUsage) -> Self {
        Usage {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: u.total_tokens,
            cached_read_tokens: u.input_tokens_details.map_or(0, |d| d.cached_tokens),
            reasoning_tokens: u.output_tokens_details.map_or(0, |d| d.reasoning_tokens),
            ..Usage::default()
        }
    }
}

impl EventInspector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes one complete SSE event (forwarded unchanged by the caller).
    pub fn inspect(&mut self, event: &[u8]) {
        let Some(data) = single_data_line(event) else {
            return;
        };
        let Ok(head) = serde_json::from_slice::<Head<'_>>(data) else {
            return;
        };
        self.events += 1;
        if let Some(n) = head.sequence_number {
            self.next_sequence = self.next_sequence.max(n + 1);
        }
        match head.kind.as_ref() {
            "response.created" | "response.in_progress" | "response.queued" => {
                if let Ok(lifecycle) = serde_json::from_slice::<Lifecycle>(data) {
                    self.response = Some(lifecycle.response);
                }
            }
            "response.completed" | "response.incomplete" => {
                self.ended = true;
                if let Ok(lifecycle) = serde_json::from_slice::<Lifecycle>(data) {
                    self.usage = lifecycle
                        .response
                        .get("usage")
                        .and_then(|u| ResponsesUsage::deserialize(u).ok())
                        .map(Usage::from);
                }
            }
            "response.output_item.done" => {
                self.output_bytes = self.output_bytes.saturating_add(data.len());
                if self.output_bytes <= MAX_KEPT_OUTPUT_BYTES
                    && let Ok(done) = serde_json::from_slice::<ItemDone>(data)
                {
                    self.output.push(done.item);
                }
            }
            "response.failed" | "error" => self.failed = true,
            _ => {}
        }
    }

    /// Whether the stream ended with `response.completed` or `response.incomplete`.
    pub fn saw_end(&self) -> bool {
        self.ended
    }

    /// Whether the provider reported a failure inside the stream.
    pub fn saw_error(&self) -> bool {
        self.failed
    }

    /// The final response's usage.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Events seen so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The events that end a stream broken by `error`: `error`, then `response.failed` when
    /// the stream had announced its response.
    pub fn failure(&mut self, error: &GatewayError) -> Bytes {
        let code = error_code(error);
        let mut out = Vec::new();
        let event = json!({
            "type": "error",
            "code": code,
            "message": error.message(),
            "param": error.param(),
            "sequence_number": self.take_sequence(),
        });
        write_event(&mut out, &event);
        if let Some(mut response) = self.response.take() {
            response["status"] = Value::String("failed".into());
            response["error"] = json!({"code": code, "message": error.message()});
            response["output"] = Value::Array(std::mem::take(&mut self.output));
            let failed = json!({
                "type": "response.failed",
                "response": response,
                "sequence_number": self.take_sequence(),
            });
            write_event(&mut out, &failed);
        }
        self.failed = true;
        Bytes::from(out)
    }

    fn take_sequence(&mut self) -> u64 {
        let n = self.next_sequence;
        self.next_sequence += 1;
        n
    }
}

/// The Responses error `code` of a gateway error: its own code, else one of OpenAI's by status.
fn error_code(error: &GatewayError) -> String {
    if let Some(code) = error.code() {
        return code.to_owned();
    }
    match error.status() {
        429 => "rate_limit_exceeded".to_owned(),
        400..=499 => error
            .error_type()
            .unwrap_or("invalid_request_error")
            .to_owned(),
        _ => "server_error".to_owned(),
    }
}

/// The failure a stream reports as its very first event (an `error` event where
/// `response.created` should be), so the engine can still retry or fall back.
pub fn first_event_error(first: &[u8]) -> Option<GatewayError> {
    #[derive(Deserialize)]
    struct ErrorEvent {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        param: Option<String>,
    }
    let mut framer = SseFramer::default();
    framer.push(first);
    let event = framer.next_event().ok()??;
    let data = single_data_line(&event)?;
    let event: ErrorEvent = serde_json::from_slice(data).ok()?;
    if event.kind != "error" {
        return None;
    }
    let status = match event.code.as_deref() {
        Some("rate_limit_exceeded") => 429,
        Some("server_error") => 500,
        _ => 502,
    };
    Some(GatewayError::upstream(
        status,
        event
            .message
            .unwrap_or_else(|| "the provider's stream started with an error".to_owned()),
        None,
        event.code,
        event.param,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, fields: Value) -> Vec<u8> {
        let mut value = fields;
        value["type"] = Value::String(kind.into());
        let mut out = Vec::new();
        write_event(&mut out, &value);
        out
    }

    fn frames(bytes: &[u8]) -> Vec<Value> {
        let mut framer = SseFramer::default();
        framer.push(bytes);
        let mut out = Vec::new();
        while let Ok(Some(e)) = framer.next_event() {
            out.push(serde_json::from_slice(single_data_line(&e).unwrap()).unwrap());
        }
        out
    }

    #[test]
    fn follows_the_lifecycle_and_reads_the_final_usage() {
        let mut inspector = EventInspector::new();
        let response = json!({"id": "resp_1", "status": "in_progress", "output": []});
        inspector.inspect(&event(
            "response.created",
            json!({"sequence_number": 0, "response": response}),
        ));
        inspector.inspect(&event(
            "response.output_text.delta",
            json!({"sequence_number": 1, "delta": "Hi"}),
        ));
        assert!(!inspector.saw_end());
        inspector.inspect(&event(
            "response.completed",
            json!({"sequence_number": 2, "response": {"id": "resp_1",
                "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}}}),
        ));
        assert!(inspector.saw_end());
        assert!(!inspector.saw_error());
        assert_eq!(inspector.events(), 3);
        assert_eq!(
            inspector.usage(),
            Some(Usage {
                prompt_tokens: 5,
                completion_tokens: 2,
                total_tokens: 7,
                ..Usage::default()
            })
        );
    }

    #[test]
    fn a_break_becomes_error_then_response_failed_numbered_after_the_last_event() {
        let mut inspector = EventInspector::new();
        inspector.inspect(&event(
            "response.created",
            json!({"sequence_number": 0, "response": {"id": "resp_1", "status": "in_progress"}}),
        ));
        inspector.inspect(&event(
            "response.output_item.done",
            json!({"sequence_number": 3, "output_index": 0,
                   "item": {"type": "reasoning", "id": "rs_1", "summary": []}}),
        ));
        inspector.inspect(&event(
            "response.output_text.delta",
            json!({"sequence_number": 4}),
        ));
        let out = inspector.failure(&GatewayError::upstream_unreachable(
            "the stream ended early",
        ));
        let events = frames(&out);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["type"], "error");
        assert_eq!(events[0]["sequence_number"], 5);
        assert_eq!(events[0]["message"], "the stream ended early");
        assert_eq!(events[1]["type"], "response.failed");
        assert_eq!(events[1]["sequence_number"], 6);
        assert_eq!(events[1]["response"]["id"], "resp_1");
        assert_eq!(events[1]["response"]["status"], "failed");
        assert_eq!(events[1]["response"]["output"][0]["id"], "rs_1");
        assert_eq!(
            events[1]["response"]["error"]["message"],
            "the stream ended early"
        );
        assert!(inspector.saw_error());
    }

    #[test]
    fn error_codes_follow_the_status() {
        let cases = [
            (
                GatewayError::upstream(429, "slow down", None, None, None),
                "rate_limit_exceeded",
            ),
            (
                GatewayError::upstream(503, "down", None, None, None),
                "server_error",
            ),
            (
                GatewayError::upstream(
                    400,
                    "bad",
                    Some("invalid_request_error".into()),
                    Some("bad_thing".into()),
                    None,
                ),
                "bad_thing",
            ),
        ];
        for (error, code) in cases {
            assert_eq!(error_code(&error), code);
        }
    }

    #[test]
    fn a_stream_opening_with_an_error_event_is_a_failed_attempt() {
        let first = event(
            "error",
            json!({"code": "rate_limit_exceeded", "message": "Slow down", "param": null,
                   "sequence_number": 0}),
        );
        let e = first_event_error(&first).unwrap();
        assert_eq!(e.status(), 429);
        assert_eq!(e.message(), "Slow down");
        let created = event(
            "response.created",
            json!({"sequence_number": 0, "response": {}}),
        );
        assert!(first_event_error(&created).is_none());
    }
}
