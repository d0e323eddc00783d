//! Unified chat chunks as the Responses API's typed event stream, for providers that only have a
//! chat API.
//!
//! The stream OpenAI sends is a sequence of named events, each with a `sequence_number` counted
//! from 0: `response.created` and `response.in_progress` first, then each output item opened
//! (`response.output_item.added`), fed and closed (`response.output_item.done`) before the next
//! one opens, and finally `response.completed` (or `response.incomplete` when the output-token
//! limit or a content filter cut it) carrying the whole response with its usage. There is no
//! `[DONE]`. Inside the items:
//!
//! * text: a `message` item with one `output_text` part — `response.content_part.added`,
//!   `response.output_text.delta`…, `response.output_text.done`, `response.content_part.done`;
//! * reasoning: a `reasoning` item with one `summary_text` part —
//!   `response.reasoning_summary_part.added`, `response.reasoning_summary_text.delta`…,
//!   `response.reasoning_summary_text.done`, `response.reasoning_summary_part.done`;
//! * tool calls: one `function_call` item per call — `response.function_call_arguments.delta`…,
//!   `response.function_call_arguments.done`.
//!
//! Only choice 0 is used. OpenAI-compatible providers stream one tool call after another; a
//! fragment for a call whose item was already closed has no place in this format and is an
//! error, as in the Anthropic stream conversion. Signatures of reasoning blocks have no place
//! either and are not sent.

use super::responses_answer::{
    Echo, Identity, call_item, message_item, reasoning_item, status_for, text_part,
};
use asbru_schema::chat::{ChatChunk, ChatUsage, FinishReason, ToolCallDelta};
use serde_json::{Value, json};

/// The item currently open.
#[derive(Debug)]
enum Open {
    Reasoning {
        id: String,
        text: String,
    },
    Message {
        id: String,
        text: String,
    },
    Call {
        id: String,
        /// The call's `index` in the chat deltas.
        chat_index: u32,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// Turns one stream's unified chunks into Responses events (JSON objects with `type` and
/// `sequence_number`; [`write_event`] frames them).
#[derive(Debug)]
pub struct StreamFromUnified {
    echo: Echo,
    identity: Option<Identity>,
    next_sequence: u64,
    finished: bool,
    /// Closed output items, in output order; the open one's `output_index` is their count.
    items: Vec<Value>,
    open: Option<Open>,
    closed_calls: Vec<u32>,
    finish: Option<FinishReason>,
    usage: Option<ChatUsage>,
}

impl StreamFromUnified {
    /// A converter for one stream of the request `echo` was taken from; nothing is sent until
    /// the first chunk (or [`StreamFromUnified::finish`]).
    pub fn new(echo: Echo) -> Self {
        Self {
            echo,
            identity: None,
            next_sequence: 0,
            finished: false,
            items: Vec::new(),
            open: None,
            closed_calls: Vec::new(),
            finish: None,
            usage: None,
        }
    }

    /// Whether `response.created` has been sent.
    pub fn started(&self) -> bool {
        self.identity.is_some()
    }

    /// Handles one unified chunk, returning the events to send.
    pub fn push(&mut self, chunk: &ChatChunk) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        if self.finished {
            return Ok(out);
        }
        if self.identity.is_none() {
            self.start(
                Identity::from_chat(&chunk.id, chunk.created, &chunk.model),
                &mut out,
            );
        }
        if let Some(usage) = chunk.usage.value() {
            self.usage = Some(usage.clone());
        }
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return Ok(out);
        };
        let delta = &choice.delta;
        let reasoning: String = match &delta.reasoning_details {
            Some(details) if !details.is_empty() => details
                .iter()
                .filter_map(|d| d.text.as_deref().or(d.summary.as_deref()))
                .collect(),
            _ => delta
                .reasoning
                .as_deref()
                .or_else(|| delta.extra.get("reasoning_content").and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned(),
        };
        if !reasoning.is_empty() {
            self.reasoning(&reasoning, &mut out);
        }
        if let Some(text) = delta.content.value().filter(|t| !t.is_empty()) {
            self.text(text, &mut out);
        }
        for call in delta.tool_calls.iter().flatten() {
            self.call(call, &mut out)?;
        }
        if let Some(finish) = &choice.finish_reason {
            self.finish = Some(finish.clone());
            self.close(&mut out);
        }
        Ok(out)
    }

    /// Call once the unified stream ended well: closes the open item and sends
    /// `response.completed` (or `response.incomplete`) with the whole response. Later calls
    /// return nothing.
    pub fn finish(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        if self.identity.is_none() {
            self.start(Identity::from_chat("", 0, ""), &mut out);
        }
        self.close(&mut out);
        self.finished = true;
        let (status, ending) = status_for(self.finish.as_ref());
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        if let Some(identity) = &self.identity {
            let response = identity.response(
                &self.echo,
                status,
                self.items.clone(),
                self.usage.as_ref(),
                &ending,
            );
            out.push(self.event(kind, json!({"response": response})));
        }
        out
    }

    fn start(&mut self, identity: Identity, out: &mut Vec<Value>) {
        let response = identity.response(
            &self.echo,
            "in_progress",
            Vec::new(),
            None,
            &Default::default(),
        );
        self.identity = Some(identity);
        out.push(self.event("response.created", json!({"response": response.clone()})));
        out.push(self.event("response.in_progress", json!({"response": response})));
    }

    /// One event: `type`, the fields, and the next `sequence_number`.
    fn event(&mut self, kind: &str, mut fields: Value) -> Value {
        fields["type"] = Value::String(kind.to_owned());
        fields["sequence_number"] = Value::from(self.next_sequence);
        self.next_sequence += 1;
        fields
    }

    fn output_index(&self) -> usize {
        self.items.len()
    }

    fn item_id(&self, prefix: &str) -> String {
        self.identity
            .as_ref()
            .map(|i| i.item_id(prefix, self.output_index()))
            .unwrap_or_default()
    }

    fn reasoning(&mut self, text: &str, out: &mut Vec<Value>) {
        if !matches!(self.open, Some(Open::Reasoning { .. })) {
            self.close(out);
            let id = self.item_id("rs");
            let index = self.output_index();
            let item = reasoning_item(&id, "", "in_progress");
            out.push(self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
            ));
            out.push(self.event(
                "response.reasoning_summary_part.added",
                json!({"item_id": id, "output_index": index, "summary_index": 0,
                       "part": {"type": "summary_text", "text": ""}}),
            ));
            self.open = Some(Open::Reasoning {
                id,
                text: String::new(),
            });
        }
        let index = self.output_index();
        if let Some(Open::Reasoning { id, text: all }) = &mut self.open {
            all.push_str(text);
            let fields = json!({"item_id": id, "output_index": index, "summary_index": 0,
                                "delta": text});
            out.push(self.event("response.reasoning_summary_text.delta", fields));
        }
    }

    fn text(&mut self, text: &str, out: &mut Vec<Value>) {
        if !matches!(self.open, Some(Open::Message { .. })) {
            self.close(out);
            let id = self.item_id("msg");
            let index = self.output_index();
            let item = message_item(&id, Vec::new(), "in_progress");
            out.push(self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
            ));
            out.push(self.event(
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0,
                       "part": text_part("")}),
            ));
            self.open = Some(Open::Message {
                id,
                text: String::new(),
            });
        }
        let index = self.output_index();
        if let Some(Open::Message { id, text: all }) = &mut self.open {
            all.push_str(text);
            let fields = json!({"item_id": id, "output_index": index, "content_index": 0,
                                "delta": text, "logprobs": []});
            out.push(self.event("response.output_text.delta", fields));
        }
    }

    fn call(&mut self, call: &ToolCallDelta, out: &mut Vec<Value>) -> Result<(), String> {
        let continues =
            matches!(&self.open, Some(Open::Call { chat_index, .. }) if *chat_index == call.index);
        if !continues {
            if self.closed_calls.contains(&call.index) {
                return Err(format!(
                    "tool call {} continues after another output item started",
                    call.index
                ));
            }
            self.close(out);
            let id = self.item_id("fc");
            let index = self.output_index();
            let call_id = call
                .id
                .clone()
                .unwrap_or_else(|| format!("call_{}_{}", index, call.index));
            let name = call
                .function
                .as_ref()
                .and_then(|f| f.name.clone())
                .unwrap_or_default();
            let item = call_item(&id, &call_id, &name, "", "in_progress");
            out.push(self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
            ));
            self.open = Some(Open::Call {
                id,
                chat_index: call.index,
                call_id,
                name,
                arguments: String::new(),
            });
        }
        let fragment = call
            .function
            .as_ref()
            .and_then(|f| f.arguments.as_deref())
            .unwrap_or_default();
        let index = self.output_index();
        if let Some(Open::Call { id, arguments, .. }) = &mut self.open
            && !fragment.is_empty()
        {
            arguments.push_str(fragment);
            let fields = json!({"item_id": id, "output_index": index, "delta": fragment});
            out.push(self.event("response.function_call_arguments.delta", fields));
        }
        Ok(())
    }

    /// Closes the open item, sending its closing events.
    fn close(&mut self, out: &mut Vec<Value>) {
        let Some(open) = self.open.take() else {
            return;
        };
        let index = self.output_index();
        let item = match open {
            Open::Reasoning { id, text } => {
                out.push(self.event(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0,
                           "text": text}),
                ));
                out.push(self.event(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": index, "summary_index": 0,
                           "part": {"type": "summary_text", "text": text}}),
                ));
                reasoning_item(&id, &text, "completed")
            }
            Open::Message { id, text } => {
                out.push(self.event(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0,
                           "text": text, "logprobs": []}),
                ));
                out.push(self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0,
                           "part": text_part(&text)}),
                ));
                let status = if status_for(self.finish.as_ref()).0 == "completed" {
                    "completed"
                } else {
                    "incomplete"
                };
                message_item(&id, vec![text_part(&text)], status)
            }
            Open::Call {
                id,
                chat_index,
                call_id,
                name,
                arguments,
            } => {
                self.closed_calls.push(chat_index);
                out.push(self.event(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": index, "name": name,
                           "arguments": arguments}),
                ));
                call_item(&id, &call_id, &name, &arguments, "completed")
            }
        };
        out.push(self.event(
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        ));
        self.items.push(item);
    }
}

/// Appends one event as OpenAI frames it: `event: {type}` and `data: {json}`.
pub fn write_event(out: &mut Vec<u8>, event: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event["type"].as_str().unwrap_or("message").as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing a JSON value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, event);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(values: Value) -> Vec<ChatChunk> {
        serde_json::from_value(values).unwrap()
    }

    fn run(values: Value) -> Vec<Value> {
        let mut converter = StreamFromUnified::new(Echo::default());
        let mut events = Vec::new();
        for chunk in chunks(values) {
            events.extend(converter.push(&chunk).unwrap());
        }
        events.extend(converter.finish());
        events
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    fn chunk(delta: Value, finish: Value) -> Value {
        json!({"id": "c1", "created": 7, "model": "m",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    }

    const USAGE: &str = r#"{"id": "c1", "created": 7, "model": "m", "choices": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}"#;

    fn usage_chunk() -> Value {
        serde_json::from_str(USAGE).unwrap()
    }

    #[test]
    fn text_streams_as_one_message_item() {
        let events = run(json!([
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Hel"}), Value::Null),
            chunk(json!({"content": "lo."}), Value::Null),
            chunk(json!({}), json!("stop")),
            usage_chunk(),
        ]));
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let numbers: Vec<u64> = events
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (0..10).collect::<Vec<_>>());
        assert_eq!(events[0]["response"]["status"], "in_progress");
        assert_eq!(events[0]["response"]["id"], "resp_c1");
        assert_eq!(events[4]["item_id"], "msg_c1_0");
        assert_eq!(events[6]["text"], "Hello.");
        let done = &events[9]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"][0]["content"][0]["text"], "Hello.");
        assert_eq!(done["usage"]["input_tokens"], 3);
        assert_eq!(done["usage"]["output_tokens"], 4);
        assert_eq!(done["id"], events[0]["response"]["id"]);
    }

    #[test]
    fn reasoning_then_calls_each_get_their_item() {
        let events = run(json!([
            chunk(json!({"reasoning": "Weather "}), Value::Null),
            chunk(json!({"reasoning": "needed."}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                       "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                Value::Null
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                Value::Null
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                       "function": {"name": "get_time", "arguments": "{}"}}]}),
                Value::Null
            ),
            chunk(json!({}), json!("tool_calls")),
        ]));
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_eq!(events[6]["text"], "Weather needed.");
        assert_eq!(events[9]["item"]["call_id"], "call_a");
        assert_eq!(events[9]["item"]["name"], "get_weather");
        assert_eq!(events[9]["output_index"], 1);
        assert_eq!(events[12]["arguments"], "{\"city\":\"Paris\"}");
        let output = &events[18]["response"]["output"];
        assert_eq!(output[1]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(output[2]["call_id"], "call_b");
        assert_eq!(output[2]["id"], "fc_c1_2");
    }

    #[test]
    fn a_length_stop_ends_incomplete() {
        let events = run(json!([
            chunk(json!({"content": "Cut"}), Value::Null),
            chunk(json!({}), json!("length")),
        ]));
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.incomplete");
        assert_eq!(last["response"]["status"], "incomplete");
        assert_eq!(
            last["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(last["response"]["output"][0]["status"], "incomplete");
    }

    #[test]
    fn a_call_resumed_after_its_item_closed_is_refused() {
        let mut converter = StreamFromUnified::new(Echo::default());
        let call = |index: u32, args: &str| {
            chunks(json!([chunk(
                json!({"tool_calls": [{"index": index, "id": format!("call_{index}"),
                                       "function": {"name": "f", "arguments": args}}]}),
                Value::Null
            )]))
            .remove(0)
        };
        converter.push(&call(0, "{")).unwrap();
        converter.push(&call(1, "{}")).unwrap();
        assert!(converter.push(&call(0, "}")).is_err());
    }

    #[test]
    fn an_empty_stream_still_completes() {
        let mut converter = StreamFromUnified::new(Echo::default());
        let events = converter.finish();
        assert_eq!(
            kinds(&events),
            [
                "response.created",
                "response.in_progress",
                "response.completed"
            ]
        );
        assert!(converter.finish().is_empty());
    }

    #[test]
    fn events_are_framed_with_their_type() {
        let mut out = Vec::new();
        write_event(
            &mut out,
            &json!({"type": "response.created", "sequence_number": 0}),
        );
        let text = String::from_utf8(out).unwrap();
        let (head, data) = text.split_once('\n').unwrap();
        assert_eq!(head, "event: response.created");
        let data: Value =
            serde_json::from_str(data.strip_prefix("data: ").unwrap().trim_end()).unwrap();
        assert_eq!(data["sequence_number"], 0);
        assert!(text.ends_with("}\n\n"));
    }
}
