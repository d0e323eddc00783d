//! The Cohere drop-in route (`/cohere/v2/chat`, `/v2/embed`, `/v2/rerank`, also at the root and
//! under `/litellm`, `/langchain`): Cohere's v2 API in and out, through the engine like every
//! other route — any provider behind it, fallbacks, errors in Cohere's shape, and streams
//! translated into Cohere's named events in order.

use crate::harness::TestGateway;
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};

const CONTENT: &str = "Hello from the mock.";

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let config = json!({"providers": {
        "cohere": {"keys": [{"name": "c", "value": "co-key", "weight": 1}],
                   "network_config": {"base_url": base, "max_retries": 0}},
        "openai": {"keys": [{"name": "o", "value": "sk-openai", "weight": 1}],
                   "network_config": {"base_url": base, "max_retries": 0}},
        "anthropic": {"keys": [{"name": "a", "value": "sk-ant", "weight": 1}],
                      "network_config": {"base_url": base, "max_retries": 0}}
    }});
    TestGateway::start_with(mock, config).await
}

fn ask(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hello."}]})
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Current weather for a city",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                       "required": ["city", "days"]}}}])
}

/// A streamed answer's events as (the `event:` name, the data), checking that they agree.
async fn events(gw: &TestGateway, path: &str, body: &Value) -> Vec<Value> {
    let response = gw.post_stream(path, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let name = frame.lines().find_map(|l| l.strip_prefix("event: "));
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "));
            let data: Value = serde_json::from_str(data.unwrap()).unwrap();
            assert_eq!(name, data["type"].as_str(), "{frame}");
            data
        })
        .collect()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_bare_model_is_served_by_cohere_and_answered_in_cohere_shape() {
    let gw = start().await;
    let (status, answer) = gw
        .post_with(
            "/cohere/v2/chat",
            ask("command-a-03-2025"),
            &[("authorization", "Bearer the-clients-own-key")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["id"].is_string());
    assert_eq!(answer["finish_reason"], "COMPLETE");
    assert_eq!(answer["message"]["role"], "assistant");
    assert_eq!(
        answer["message"]["content"],
        json!([{"type": "text", "text": CONTENT}])
    );
    assert!(answer["usage"]["tokens"]["input_tokens"].as_u64().unwrap() > 0);
    assert!(
        answer["usage"]["billed_units"]["output_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v2/chat");
    assert_eq!(sent.json().unwrap()["model"], "command-a-03-2025");
    // The client's bearer key is its credential to the gateway, never the provider's.
    assert_eq!(sent.header("authorization"), Some("Bearer co-key"));
    assert!(
        !format!("{:?}", sent.headers).contains("the-clients-own-key"),
        "{:?}",
        sent.headers
    );
}

#[tokio::test]
async fn other_providers_answer_in_cohere_shape_and_every_mount_serves_it() {
    let gw = start().await;
    for (path, model, upstream) in [
        (
            "/cohere/v2/chat",
            "openai/gpt-4o-mini",
            "/v1/chat/completions",
        ),
        ("/v2/chat", "anthropic/claude-sonnet-4-5", "/v1/messages"),
        ("/litellm/v2/chat", "command-a-03-2025", "/v2/chat"),
        (
            "/langchain/v2/chat",
            "openai/gpt-4o-mini",
            "/v1/chat/completions",
        ),
    ] {
        let (status, answer) = gw.post(path, ask(model)).await;
        assert_eq!(status, 200, "{path} {model}: {answer}");
        assert_eq!(answer["finish_reason"], "COMPLETE", "{answer}");
        assert_eq!(answer["message"]["content"][0]["text"], CONTENT, "{answer}");
        assert_eq!(gw.mock.requests().pop().unwrap().path, upstream);
    }
}

#[tokio::test]
async fn an_openai_stream_becomes_cohere_events_in_order() {
    let gw = start().await;
    let mut body = ask("openai/gpt-4o-mini");
    body["stream"] = json!(true);
    let events = events(&gw, "/cohere/v2/chat", &body).await;
    let kinds = kinds(&events);
    assert_eq!(kinds[..2], ["message-start", "content-start"], "{kinds:?}");
    assert_eq!(kinds[kinds.len() - 2..], ["content-end", "message-end"]);
    assert!(
        kinds[2..kinds.len() - 2]
            .iter()
            .all(|k| *k == "content-delta")
    );
    assert_eq!(events[0]["delta"]["message"]["role"], "assistant");
    let text: String = events
        .iter()
        .filter_map(|e| e["delta"]["message"]["content"]["text"].as_str())
        .collect();
    assert_eq!(text, CONTENT);
    let end = &events.last().unwrap()["delta"];
    assert_eq!(end["finish_reason"], "COMPLETE");
    // Usage comes with message-end, as Cohere sends it, though the client did not ask.
    assert!(
        end["usage"]["tokens"]["output_tokens"].as_u64().unwrap() > 0,
        "{end}"
    );
    let sent = gw.mock.requests().pop().unwrap().json().unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn a_forced_tool_call_streams_its_plan_and_call_as_cohere_does() {
    let gw = start().await;
    let mut body = ask("command-a-03-2025");
    body["tools"] = weather_tools();
    body["tool_choice"] = json!("REQUIRED");
    body["stream"] = json!(true);
    let events = events(&gw, "/cohere/v2/chat", &body).await;
    let kinds = kinds(&events);
    let first_call = kinds.iter().position(|k| *k == "tool-call-start").unwrap();
    assert_eq!(kinds[0], "message-start");
    assert!(
        kinds[1..first_call].iter().all(|k| *k == "tool-plan-delta") && first_call > 1,
        "{kinds:?}"
    );
    assert_eq!(kinds[kinds.len() - 2..], ["tool-call-end", "message-end"]);
    assert!(
        kinds[first_call + 1..kinds.len() - 2]
            .iter()
            .all(|k| *k == "tool-call-delta"),
        "{kinds:?}"
    );
    let call = &events[first_call]["delta"]["message"]["tool_calls"];
    assert_eq!(call["function"]["name"], "get_weather");
    assert!(call["id"].as_str().is_some_and(|id| !id.is_empty()));
    let args: String = events
        .iter()
        .filter(|e| e["type"] == "tool-call-delta")
        .map(|e| {
            e["delta"]["message"]["tool_calls"]["function"]["arguments"]
                .as_str()
                .unwrap()
        })
        .collect();
    let args: Value = serde_json::from_str(&args).unwrap();
    assert!(args["city"].is_string() && args["days"].is_i64(), "{args}");
    assert_eq!(
        events.last().unwrap()["delta"]["finish_reason"],
        "TOOL_CALL"
    );
}

#[tokio::test]
async fn tool_calls_round_trip_with_their_ids_through_another_provider() {
    let gw = start().await;
    let mut body = ask("anthropic/claude-sonnet-4-5");
    body["tools"] = weather_tools();
    body["tool_choice"] = json!("REQUIRED");
    let (status, first) = gw.post("/cohere/v2/chat", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["finish_reason"], "TOOL_CALL");
    let call = &first["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string(), "{args}");
    let id = call["id"].as_str().unwrap();

    let mut assistant = first["message"].clone();
    assistant["role"] = json!("assistant");
    body["messages"] = json!([
        body["messages"][0],
        assistant,
        {"role": "tool", "tool_call_id": id, "content": [
            {"type": "document", "document": {"data": "{\"temp\": \"18C\"}"}}]}
    ]);
    body.as_object_mut().unwrap().remove("tool_choice");
    let (status, second) = gw.post("/cohere/v2/chat", body).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["finish_reason"], "COMPLETE");
    assert_eq!(second["message"]["content"][0]["text"], CONTENT);
    let sent = gw.mock.requests().pop().unwrap().json().unwrap();
    let sent = sent.to_string();
    assert!(sent.contains(id), "{sent}");
    // A string document is its text, not a quoted JSON string.
    assert!(sent.contains(r#""text":"{\"temp\": \"18C\"}""#), "{sent}");
}

#[tokio::test]
async fn embed_goes_through_the_engine_both_ways() {
    let gw = start().await;
    let body = json!({"model": "embed-v4.0", "texts": ["hello", "goodbye"],
                      "input_type": "search_query", "embedding_types": ["float"]});
    let (status, answer) = gw.post("/cohere/v2/embed", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response_type"], "embeddings_by_type");
    assert_eq!(answer["texts"], json!(["hello", "goodbye"]));
    let vectors = answer["embeddings"]["float"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    assert!(vectors[0].as_array().unwrap().len() > 1);
    assert!(
        answer["meta"]["billed_units"]["input_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v2/embed");
    assert_eq!(sent.json().unwrap()["input_type"], "search_query");

    let mut other = body;
    other["model"] = json!("openai/text-embedding-3-small");
    let (status, answer) = gw.post("/v2/embed", other.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["embeddings"]["float"].as_array().unwrap().len(), 2);
    assert_eq!(gw.mock.requests().pop().unwrap().path, "/v1/embeddings");

    other["embedding_types"] = json!(["int8"]);
    let (status, answer) = gw.post("/cohere/v2/embed", other).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("embedding_types:")
    );
}

#[tokio::test]
async fn rerank_goes_through_the_engine_both_ways() {
    let gw = start().await;
    let body = json!({"model": "rerank-v3.5", "query": "capital of France",
                      "documents": ["Berlin is in Germany.", "Paris is the capital of France.",
                                    "Rome is old."],
                      "top_n": 2});
    let (status, answer) = gw.post("/cohere/v2/rerank", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{answer}");
    assert_eq!(results[0]["index"], 1, "{answer}");
    assert!(
        results[0]["relevance_score"].as_f64().unwrap()
            >= results[1]["relevance_score"].as_f64().unwrap()
    );
    assert!(answer["id"].is_string());
    assert_eq!(gw.mock.requests().pop().unwrap().path, "/v2/rerank");

    // A provider without rerank refuses it, in Cohere's shape.
    let mut other = body;
    other["model"] = json!("openai/gpt-4o-mini");
    let (status, answer) = gw.post("/v2/rerank", other).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["id"].is_string() && answer["message"].is_string(),
        "{answer}"
    );
}

#[tokio::test]
async fn errors_have_cohere_shape_and_status() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/cohere/v2/chat",
            json!({"model": "command-a-03-2025", "messages": []}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer.as_object().unwrap().len(), 2, "{answer}");
    assert!(answer["id"].is_string());
    assert!(answer["message"].as_str().unwrap().starts_with("messages:"));

    let (status, answer) = gw
        .post(
            "/cohere/v2/chat",
            json!({"model": "command-a-03-2025", "messages": [{"role": "bot", "content": "x"}]}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("messages[0]"),
        "{answer}"
    );

    let (status, answer) = gw.post("/v2/embed", json!({"model": "embed-v4.0"})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("input_type"),
        "{answer}"
    );

    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, answer) = gw.post("/cohere/v2/chat", ask("openai/gpt-4o-mini")).await;
    assert_eq!(status, 429, "{answer}");
    assert!(answer["message"].is_string(), "{answer}");

    // The gateway keeps serving.
    let (status, _) = gw.post("/cohere/v2/chat", ask("command-a-03-2025")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_stream_cut_after_it_started_ends_with_an_error_message_end() {
    let gw = start().await;
    let mut body = ask("openai/gpt-4o-mini");
    body["stream"] = json!(true);
    gw.mock.push_fault(Fault::StreamCut { after_chunks: 2 });
    let events = events(&gw, "/cohere/v2/chat", &body).await;
    let kinds = kinds(&events);
    assert_eq!(kinds[0], "message-start");
    assert_eq!(kinds.iter().filter(|k| **k == "message-end").count(), 1);
    let end = events.last().unwrap();
    assert_eq!(end["type"], "message-end", "{kinds:?}");
    assert_eq!(end["delta"]["finish_reason"], "ERROR");
    assert!(
        end["delta"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    // What was open was closed first.
    assert_eq!(kinds[kinds.len() - 2], "content-end", "{kinds:?}");
}

#[tokio::test]
async fn fallbacks_apply_and_the_answer_stays_cohere() {
    let gw = start().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "primary down".into(),
    });
    let mut body = ask("command-a-03-2025");
    body["fallbacks"] = json!(["openai/gpt-4o-mini"]);
    let (status, answer) = gw.post("/cohere/v2/chat", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["finish_reason"], "COMPLETE");
    assert_eq!(answer["message"]["content"][0]["text"], CONTENT);
    let paths: Vec<String> = gw.mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v2/chat", "/v1/chat/completions"]);

    // Embeddings fall back too.
    gw.mock.push_fault(Fault::status(503));
    let (status, answer) = gw
        .post(
            "/cohere/v2/embed",
            json!({"model": "embed-v4.0", "texts": ["a"], "input_type": "search_document",
                   "fallbacks": ["openai/text-embedding-3-small"]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let paths: Vec<String> = gw.mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[2..], ["/v2/embed", "/v1/embeddings"]);
}

#[tokio::test]
async fn documents_reach_any_provider_and_cohere_only_fields_stay_behind() {
    let gw = start().await;
    let mut body = ask("openai/gpt-4o-mini");
    body["documents"] = json!([{"id": "doc-1", "data": {"text": "Paris is in France."}}]);
    body["safety_mode"] = json!("STRICT");
    body["citation_options"] = json!({"mode": "FAST"});
    let (status, answer) = gw.post("/cohere/v2/chat", body).await;
    assert_eq!(status, 200, "{answer}");
    let sent = gw.mock.requests().pop().unwrap().json().unwrap();
    assert_eq!(sent["messages"][0]["role"], "system", "{sent}");
    let grounding = sent["messages"][0]["content"].as_str().unwrap();
    assert!(
        grounding.starts_with("Document doc-1:") && grounding.contains("Paris is in France."),
        "{grounding}"
    );
    assert_eq!(sent["messages"][1]["content"], "Say hello.");
    for field in ["documents", "safety_mode", "citation_options"] {
        assert!(sent.get(field).is_none(), "{field} was sent: {sent}");
    }
}
