//! The mocker's answers, written in the OpenAI dialect of the request's operation (a chat
//! completion, a text completion or a Responses-API `response`, as JSON or as that API's event
//! stream), so that the engine checks, stamps and translates them exactly as a provider's.

use asbru_providers::Operation;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a success answer says, whatever its shape.
#[derive(Debug, Clone)]
pub(super) struct Reply {
    pub text: String,
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub finish_reason: String,
    pub custom_fields: Map<String, Value>,
}

/// The operations the mocker answers; others (embeddings, rerank, …) pass through.
pub(super) fn supported(op: Operation) -> bool {
    matches!(
        op,
        Operation::ChatCompletion | Operation::TextCompletion | Operation::Responses
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

fn chat_usage(r: &Reply) -> Value {
    json!({
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.total_tokens,
    })
}

/// A chat completion, written straight from the reply (no JSON tree in between): the mocker is
/// what load tests run against, so its common answer should cost little.
#[derive(serde::Serialize)]
struct ChatCompletion<'a> {
    id: String,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [ChatChoice<'a>; 1],
    usage: Usage,
}

#[derive(serde::Serialize)]
struct ChatChoice<'a> {
    index: u32,
    message: Message<'a>,
    finish_reason: &'a str,
}

#[derive(serde::Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(serde::Serialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

/// The answer as one JSON body.
pub(super) fn json(op: Operation, r: &Reply) -> Bytes {
    if op == Operation::ChatCompletion && r.custom_fields.is_empty() {
        let completion = ChatCompletion {
            id: id("chatcmpl-mock-"),
            object: "chat.completion",
            created: now(),
            model: &r.model,
            choices: [ChatChoice {
                index: 0,
                message: Message {
                    role: "assistant",
                    content: &r.text,
                },
                finish_reason: &r.finish_reason,
            }],
            usage: Usage {
                prompt_tokens: r.prompt_tokens,
                completion_tokens: r.completion_tokens,
                total_tokens: r.total_tokens,
            },
        };
        // Serialising plain data into a Vec cannot fail.
        return Bytes::from(serde_json::to_vec(&completion).unwrap_or_default());
    }
    let mut body = match op {
        Operation::Responses => response_object(r, &id("resp_mock_"), &id("msg_mock_"), true),
        Operation::TextCompletion => json!({
            "id": id("cmpl-mock-"),
            "object": "text_completion",
            "created": now(),
            "model": r.model,
            "choices": [{"index": 0, "text": r.text, "finish_reason": r.finish_reason, "logprobs": null}],
            "usage": chat_usage(r),
        }),
        _ => json!({
            "id": id("chatcmpl-mock-"),
            "object": "chat.completion",
            "created": now(),
            "model": r.model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": r.text},
                "finish_reason": r.finish_reason,
            }],
            "usage": chat_usage(r),
        }),
    };
    // Custom fields join the answer's top level, never replacing a member the API defines.
    if let Some(obj) = body.as_object_mut() {
        for (k, v) in &r.custom_fields {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Bytes::from(body.to_string())
}

/// The text cut into word chunks (each keeps its trailing space), so a stream has several
/// deltas that concatenate back to the whole text.
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == ' ' {
            out.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    if out.is_empty() {
        out.push("");
    }
    out
}

fn data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// The answer as the API's event stream.
pub(super) fn stream(op: Operation, r: &Reply) -> Vec<Bytes> {
    match op {
        Operation::Responses => responses_stream(r),
        Operation::TextCompletion => {
            let (cid, created) = (id("cmpl-mock-"), now());
            let chunk = |choices: Value, usage: Option<Value>| {
                let mut c = json!({"id": cid, "object": "text_completion", "created": created,
                    "model": r.model, "choices": choices});
                if let Some(u) = usage {
                    c["usage"] = u;
                }
                data(&c)
            };
            let mut out: Vec<Bytes> = words(&r.text)
                .into_iter()
                .map(|w| {
                    chunk(
                        json!([{"index": 0, "text": w, "finish_reason": null}]),
                        None,
                    )
                })
                .collect();
            out.push(chunk(
                json!([{"index": 0, "text": "", "finish_reason": r.finish_reason}]),
                None,
            ));
            out.push(chunk(json!([]), Some(chat_usage(r))));
            out.push(Bytes::from_static(b"data: [DONE]\n\n"));
            out
        }
        _ => {
            let (cid, created) = (id("chatcmpl-mock-"), now());
            let chunk = |choices: Value, usage: Option<Value>| {
                let mut c = json!({"id": cid, "object": "chat.completion.chunk",
                    "created": created, "model": r.model, "choices": choices});
                if let Some(u) = usage {
                    c["usage"] = u;
                }
                data(&c)
            };
            let mut out = Vec::new();
            for (i, w) in words(&r.text).into_iter().enumerate() {
                let delta = if i == 0 {
                    json!({"role": "assistant", "content": w})
                } else {
                    json!({"content": w})
                };
                out.push(chunk(
                    json!([{"index": 0, "delta": delta, "finish_reason": null}]),
                    None,
                ));
            }
            out.push(chunk(
                json!([{"index": 0, "delta": {}, "finish_reason": r.finish_reason}]),
                None,
            ));
            out.push(chunk(json!([]), Some(chat_usage(r))));
            out.push(Bytes::from_static(b"data: [DONE]\n\n"));
            out
        }
    }
}

/// A Responses-API `response` object; `done` false gives the `in_progress` one of
/// `response.created` (no output, no usage yet).
fn response_object(r: &Reply, resp_id: &str, msg_id: &str, done: bool) -> Value {
    let mut v = json!({
        "id": resp_id,
        "object": "response",
        "created_at": now(),
        "status": if done { "completed" } else { "in_progress" },
        "model": r.model,
        "output": [],
        "usage": null,
    });
    if done {
        v["output"] = json!([output_item(r, msg_id, &r.text, "completed")]);
        v["usage"] = json!({
            "input_tokens": r.prompt_tokens,
            "output_tokens": r.completion_tokens,
            "total_tokens": r.total_tokens,
        });
    }
    v
}

fn output_item(_r: &Reply, msg_id: &str, text: &str, status: &str) -> Value {
    let content = if status == "completed" {
        json!([{"type": "output_text", "text": text, "annotations": []}])
    } else {
        json!([])
    };
    json!({"type": "message", "id": msg_id, "status": status, "role": "assistant", "content": content})
}

fn responses_stream(r: &Reply) -> Vec<Bytes> {
    let (resp_id, msg_id) = (id("resp_mock_"), id("msg_mock_"));
    let mut seq = 0_u64;
    let mut out = Vec::new();
    let mut event = |kind: &str, mut v: Value| {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(seq);
        seq += 1;
        out.push(Bytes::from(format!("event: {kind}\ndata: {v}\n\n")));
    };
    let created = response_object(r, &resp_id, &msg_id, false);
    event("response.created", json!({"response": created}));
    event(
        "response.in_progress",
        json!({"response": response_object(r, &resp_id, &msg_id, false)}),
    );
    event(
        "response.output_item.added",
        json!({"output_index": 0, "item": output_item(r, &msg_id, "", "in_progress")}),
    );
    let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": []});
    event(
        "response.content_part.added",
        json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "part": part("")}),
    );
    for w in words(&r.text) {
        event(
            "response.output_text.delta",
            json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "delta": w, "logprobs": []}),
        );
    }
    event(
        "response.output_text.done",
        json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "text": r.text, "logprobs": []}),
    );
    event(
        "response.content_part.done",
        json!({"item_id": msg_id, "output_index": 0, "content_index": 0, "part": part(&r.text)}),
    );
    event(
        "response.output_item.done",
        json!({"output_index": 0, "item": output_item(r, &msg_id, &r.text, "completed")}),
    );
    event(
        "response.completed",
        json!({"response": response_object(r, &resp_id, &msg_id, true)}),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn words_concatenate_back_to_the_text() {
        let text = "Hello from the mock";
        let w = words(text);
        assert_eq!(w, ["Hello ", "from ", "the ", "mock"]);
        assert_eq!(w.concat(), text);
        assert_eq!(words(""), [""]);
    }
}
