//! Plugin phases through the real router: pre-hooks in order, post-hooks exactly once per
//! request in reverse order — for answers, errors, fallbacks, streams that end, break or are
//! left by the client, and short-circuits — on every route.

use crate::harness::{TestGateway, chat_body, openai_config, sse_data};
use asbru_engine::{
    Answer, Finished, GatewayOptions, Plugin, PluginError, PreHook, RequestBody, RequestContext,
    ShortCircuit,
};
use asbru_mock::{Fault, MockOptions, MockServer};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the recording plugins saw, in order, across requests.
type Journal = Arc<Mutex<Vec<String>>>;

/// What a recording plugin's pre-hook does.
#[derive(Clone)]
enum Act {
    Continue,
    AnswerJson,
    AnswerStream,
    Fail { allow_fallbacks: bool },
    Panic,
}

struct Recorder {
    name: &'static str,
    act: Act,
    journal: Journal,
}

impl Plugin for Recorder {
    fn name(&self) -> &str {
        self.name
    }

    fn headers(&self) -> Vec<String> {
        vec!["x-test-tag".to_owned()]
    }

    fn pre(
        &self,
        ctx: &mut RequestContext,
        body: &RequestBody<'_>,
    ) -> Result<PreHook, PluginError> {
        let tag = ctx.header("x-test-tag").unwrap_or("-");
        let model = body.json().map_or(Value::Null, |b| b["model"].clone());
        self.log(format!(
            "{}.pre {} {} {}",
            self.name,
            ctx.route().dialect,
            tag,
            model.as_str().unwrap_or("?")
        ));
        let answer = match &self.act {
            Act::Continue => return Ok(PreHook::Continue),
            Act::Panic => panic!("plugin bug"),
            Act::AnswerJson => Answer::Json(Bytes::from(
                json!({
                    "id": "short", "object": "chat.completion", "created": 1, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "from the plugin"}}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
                })
                .to_string(),
            )),
            Act::AnswerStream => Answer::Stream(
                [
                    json!({"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m",
                           "choices": [{"index": 0, "delta": {"role": "assistant", "content": "from "}}]}),
                    json!({"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m",
                           "choices": [{"index": 0, "delta": {"content": "the plugin"}, "finish_reason": "stop"}]}),
                    json!({"id": "s", "object": "chat.completion.chunk", "created": 1, "model": "m",
                           "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}),
                ]
                .iter()
                .map(|c| Bytes::from(format!("data: {c}\n\n")))
                .chain([Bytes::from_static(b"data: [DONE]\n\n")])
                .collect(),
            ),
            Act::Fail { allow_fallbacks } => Answer::Error {
                error: asbru_engine::GatewayError::upstream(
                    429,
                    "refused by the plugin",
                    Some("rate_limit_error".into()),
                    None,
                    None,
                ),
                allow_fallbacks: *allow_fallbacks,
            },
        };
        Ok(PreHook::ShortCircuit(ShortCircuit::new(answer)))
    }

    fn post(&self, ctx: &mut RequestContext, finished: &Finished<'_>) -> Result<(), PluginError> {
        let outcome = match finished {
            Finished::Success { usage } => {
                format!("ok:{}", usage.map_or(0, |u| u.total_tokens))
            }
            Finished::Error(e) => format!("error:{}", e.status()),
            Finished::ClientClosed => "client_closed".to_owned(),
        };
        let attempts: Vec<String> = ctx
            .attempts
            .iter()
            .map(|a| format!("{}/{}={}", a.provider, a.model, a.status))
            .collect();
        self.log(format!(
            "{}.post {outcome} [{}]",
            self.name,
            attempts.join(",")
        ));
        Ok(())
    }
}

impl Recorder {
    fn log(&self, line: String) {
        self.journal.lock().unwrap().push(line);
    }
}

fn plugins(acts: &[(&'static str, Act)], journal: &Journal) -> Vec<Arc<dyn Plugin>> {
    acts.iter()
        .map(|(name, act)| {
            Arc::new(Recorder {
                name,
                act: act.clone(),
                journal: Arc::clone(journal),
            }) as Arc<dyn Plugin>
        })
        .collect()
}

async fn gateway_with(acts: &[(&'static str, Act)]) -> (TestGateway, Journal) {
    let journal = Journal::default();
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = openai_config(&mock);
    let options = GatewayOptions {
        plugins: plugins(acts, &journal),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start_with_options(mock, config, HashMap::new(), options).await;
    (gw, journal)
}

fn take(journal: &Journal) -> Vec<String> {
    std::mem::take(&mut *journal.lock().unwrap())
}

/// Waits (bounded) until the journal holds `n` lines: a stream's post-hooks run when the
/// gateway sees the stream end, which can be just after the client has read it.
async fn settle(journal: &Journal, n: usize) -> Vec<String> {
    for _ in 0..500 {
        if journal.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    take(journal)
}

fn posts(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains(".post ")).collect()
}

#[tokio::test]
async fn pre_hooks_run_in_order_and_post_hooks_in_reverse_once() {
    let (gw, journal) = gateway_with(&[("a", Act::Continue), ("b", Act::Continue)]).await;
    let (status, body) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("openai/gpt-4o-mini"),
            &[("x-test-tag", "t1"), ("x-not-declared", "no")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        settle(&journal, 4).await,
        [
            "a.pre openai t1 openai/gpt-4o-mini",
            "b.pre openai t1 openai/gpt-4o-mini",
            "b.post ok:6 [openai/gpt-4o-mini=200]",
            "a.post ok:6 [openai/gpt-4o-mini=200]",
        ]
    );
}

#[tokio::test]
async fn a_short_circuit_skips_later_pre_hooks_and_runs_the_posts_of_those_that_ran() {
    let (gw, journal) = gateway_with(&[
        ("a", Act::Continue),
        ("b", Act::AnswerJson),
        ("c", Act::Continue),
    ])
    .await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o-mini"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "from the plugin");
    assert_eq!(body["extra_fields"]["provider"], "openai");
    assert!(
        body["extra_fields"]["overhead_ms"].as_f64().is_some(),
        "{body}"
    );
    assert!(gw.mock.requests().is_empty(), "no provider was called");
    assert_eq!(
        settle(&journal, 4).await,
        [
            "a.pre openai - openai/gpt-4o-mini",
            "b.pre openai - openai/gpt-4o-mini",
            "b.post ok:7 [openai/gpt-4o-mini=200]",
            "a.post ok:7 [openai/gpt-4o-mini=200]",
        ]
    );
}

#[tokio::test]
async fn post_runs_exactly_once_for_an_error_and_for_a_success_after_fallback() {
    let (gw, journal) = gateway_with(&[("a", Act::Continue)]).await;
    gw.mock.push_fault(Fault::status(400));
    let (status, _) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o-mini"))
        .await;
    assert_eq!(status, 400);
    let lines = settle(&journal, 2).await;
    assert_eq!(posts(&lines), ["a.post error:400 [openai/gpt-4o-mini=400]"]);

    gw.mock.set_model_fault("broken", Some(Fault::status(500)));
    let mut body = chat_body("openai/broken");
    body["fallbacks"] = json!(["openai/gpt-4o-mini"]);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    let lines = settle(&journal, 2).await;
    assert_eq!(
        posts(&lines),
        ["a.post ok:6 [openai/broken=500,openai/gpt-4o-mini=200]"]
    );
}

#[tokio::test]
async fn post_runs_exactly_once_for_streams_that_end_break_or_are_left() {
    let (gw, journal) = gateway_with(&[("a", Act::Continue)]).await;
    let mut body = chat_body("openai/gpt-4o-mini");
    body["stream"] = json!(true);

    // Completed.
    let events = sse_data(gw.post_stream("/v1/chat/completions", &body).await).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let lines = settle(&journal, 2).await;
    assert_eq!(posts(&lines).len(), 1, "{lines:?}");
    assert!(lines[1].starts_with("a.post ok:"), "{lines:?}");

    // Cut by the provider.
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let events = sse_data(gw.post_stream("/v1/chat/completions", &body).await).await;
    assert!(events.last().unwrap().contains("error"), "{events:?}");
    let lines = settle(&journal, 2).await;
    assert_eq!(posts(&lines).len(), 1, "{lines:?}");
    assert!(lines[1].starts_with("a.post error:"), "{lines:?}");

    // The provider's own error event after it started: forwarded, and the request failed.
    gw.mock.push_fault(Fault::StreamEvent {
        after_chunks: 2,
        event: "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n"
            .to_owned(),
    });
    let events = sse_data(gw.post_stream("/v1/chat/completions", &body).await).await;
    assert!(
        events.iter().any(|e| e.contains("overloaded")),
        "{events:?}"
    );
    let lines = settle(&journal, 2).await;
    assert_eq!(posts(&lines).len(), 1, "{lines:?}");
    assert!(lines[1].starts_with("a.post error:502"), "{lines:?}");

    // The client leaves after the first event.
    gw.mock.push_fault(Fault::HoldStream);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(stream);
    let lines = settle(&journal, 2).await;
    gw.mock.release_streams();
    assert_eq!(
        posts(&lines),
        ["a.post client_closed [openai/gpt-4o-mini=499]"]
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(take(&journal).is_empty(), "no second post-hook");
}

#[tokio::test]
async fn a_short_circuited_stream_is_served_and_posted_once() {
    let (gw, journal) = gateway_with(&[("a", Act::AnswerStream)]).await;
    let mut body = chat_body("openai/gpt-4o-mini");
    body["stream"] = json!(true);
    let events = sse_data(gw.post_stream("/v1/chat/completions", &body).await).await;
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "from the plugin");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    assert!(gw.mock.requests().is_empty());
    let lines = settle(&journal, 2).await;
    assert_eq!(posts(&lines), ["a.post ok:7 [openai/gpt-4o-mini=200]"]);
}

#[tokio::test]
async fn a_short_circuit_answers_every_dialect() {
    let (gw, journal) = gateway_with(&[("a", Act::AnswerJson)]).await;
    let (status, body) = gw
        .post(
            "/anthropic/v1/messages",
            json!({"model": "openai/gpt-4o-mini", "max_tokens": 10,
                   "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "message");
    assert_eq!(body["content"][0]["text"], "from the plugin");
    let (status, body) = gw
        .post(
            "/genai/v1beta/models/openai/gpt-4o-mini:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["candidates"][0]["content"]["parts"][0]["text"],
        "from the plugin"
    );
    let lines = settle(&journal, 4).await;
    assert!(lines[0].starts_with("a.pre anthropic"), "{lines:?}");
    assert!(lines[2].starts_with("a.pre genai"), "{lines:?}");
    assert_eq!(posts(&lines).len(), 2);
}

#[tokio::test]
async fn an_error_short_circuit_ends_the_request_or_lets_fallbacks_run() {
    let (gw, journal) = gateway_with(&[(
        "a",
        Act::Fail {
            allow_fallbacks: false,
        },
    )])
    .await;
    let mut body = chat_body("openai/gpt-4o-mini");
    body["fallbacks"] = json!(["openai/gpt-4o"]);
    let (status, error) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 429, "{error}");
    assert_eq!(error["error"]["message"], "refused by the plugin");
    assert!(gw.mock.requests().is_empty());
    assert_eq!(posts(&settle(&journal, 2).await).len(), 1);

    let (gw, journal) = gateway_with(&[(
        "a",
        Act::Fail {
            allow_fallbacks: true,
        },
    )])
    .await;
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    assert_eq!(
        gw.mock.requests().len(),
        1,
        "only the fallback went upstream"
    );
    let lines = settle(&journal, 2).await;
    assert_eq!(
        posts(&lines),
        ["a.post ok:6 [openai/gpt-4o-mini=429,openai/gpt-4o=200]"]
    );
}

#[tokio::test]
async fn a_panicking_plugin_is_skipped_and_never_fails_the_request() {
    let (gw, journal) = gateway_with(&[("a", Act::Panic), ("b", Act::Continue)]).await;
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o-mini"))
        .await;
    assert_eq!(status, 200, "{body}");
    let lines = settle(&journal, 4).await;
    assert_eq!(
        lines,
        [
            // Logged just before it panicked; its post-hook still runs, as it ran.
            "a.pre openai - openai/gpt-4o-mini",
            "b.pre openai - openai/gpt-4o-mini",
            "b.post ok:6 [openai/gpt-4o-mini=200]",
            "a.post ok:6 [openai/gpt-4o-mini=200]",
        ]
    );
}

#[tokio::test]
async fn the_request_id_is_returned_and_a_clients_own_is_kept() {
    let gw = TestGateway::start().await;
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&chat_body("openai/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-request-id", "my-trace-42")
        .json(&chat_body("openai/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "my-trace-42");
    let response = gw
        .client
        .get(format!("{}/no/such/route", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.headers().contains_key("x-request-id"));
}
