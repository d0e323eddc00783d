//! OpenAI's Responses API (`POST /v1/responses`, `/openai/v1/responses`): OpenAI serves it
//! natively (the body and the typed event stream pass through), every other provider through
//! its chat API with the answer converted back — JSON and the event stream in OpenAI's order,
//! errors in OpenAI's shape naming the field, fallbacks crossing between native and translated
//! providers, and breaks mid-stream reported as `error` and `response.failed`.

use crate::harness::{TestGateway, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};

const CONTENT: &str = "Hello from the mock.";

async fn start() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base = mock.base_url();
    let network = json!({"base_url": base, "max_retries": 0});
    let config = json!({"providers": {
        "openai": {"keys": [{"name": "o", "value": "sk-openai", "weight": 1}],
                   "network_config": network},
        "anthropic": {"keys": [{"name": "a", "value": "sk-ant", "weight": 1}],
                      "network_config": network},
        "gemini": {"keys": [{"name": "g", "value": "AIza-test", "weight": 1}],
                   "network_config": network}
    }});
    TestGateway::start_with(mock, config).await
}

fn ask(model: &str) -> Value {
    json!({"model": model, "instructions": "Be brief.", "input": "Say hello."})
}

fn weather_tool() -> Value {
    json!({"type": "function", "name": "get_weather", "description": "Weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}})
}

/// The text of a `response` object's message items.
fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().unwrap())
        .filter_map(|p| p["text"].as_str())
        .collect()
}

async fn events(gw: &TestGateway, path: &str, body: &Value) -> Vec<Value> {
    let response = gw.post_stream(path, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    sse_data(response)
        .await
        .iter()
        .map(|d| serde_json::from_str(d).unwrap_or_else(|e| panic!("{d}: {e}")))
        .collect()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// The event order OpenAI streams a one-message answer in.
const TEXT_EVENTS: [&str; 4] = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
];
const TEXT_END: [&str; 5] = [
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
];

fn check_text_stream(events: &[Value]) {
    let kinds = kinds(events);
    assert_eq!(kinds[..4], TEXT_EVENTS, "{kinds:?}");
    assert_eq!(kinds[kinds.len() - 5..], TEXT_END, "{kinds:?}");
    assert!(
        kinds[4..kinds.len() - 4]
            .iter()
            .all(|k| *k == "response.output_text.delta"),
        "{kinds:?}"
    );
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], i, "{event}");
    }
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, CONTENT);
    let done = &events.last().unwrap()["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["id"], events[0]["response"]["id"]);
    assert_eq!(output_text(done), CONTENT);
    assert!(
        done["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "{done}"
    );
}

#[tokio::test]
async fn openai_serves_responses_natively() {
    let gw = start().await;
    let mut body = ask("openai/gpt-4.1");
    body["fallbacks"] = json!(["anthropic/claude-sonnet-4-5"]);
    let (status, answer) = gw.post("/v1/responses", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "response");
    assert_eq!(answer["status"], "completed");
    assert_eq!(output_text(&answer), CONTENT);
    assert_eq!(answer["extra_fields"]["provider"], "openai");
    assert_eq!(answer["extra_fields"]["request_type"], "response");
    let sent = gw.mock.requests().pop().unwrap();
    assert_eq!(sent.path, "/v1/responses");
    let sent = sent.json().unwrap();
    assert_eq!(sent["model"], "gpt-4.1");
    assert_eq!(sent["instructions"], "Be brief.");
    assert!(sent.get("fallbacks").is_none(), "{sent}");

    // The OpenAI drop-in route: a bare model is OpenAI's.
    for path in [
        "/openai/v1/responses",
        "/openai/responses",
        "/litellm/v1/responses",
    ] {
        let (status, answer) = gw.post(path, ask("gpt-4.1")).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(output_text(&answer), CONTENT);
        assert_eq!(gw.mock.requests().pop().unwrap().path, "/v1/responses");
    }
}

#[tokio::test]
async fn a_native_stream_passes_through_event_by_event() {
    let gw = start().await;
    let mut body = ask("openai/gpt-4.1");
    body["stream"] = json!(true);
    let events = events(&gw, "/v1/responses", &body).await;
    check_text_stream(&events);
    let sent = gw.mock.requests().pop().unwrap().json().unwrap();
    // Nothing the Responses API would refuse is added (no chat `stream_options`).
    assert!(sent.get("stream_options").is_none(), "{sent}");
}

#[tokio::test]
async fn chat_providers_answer_with_a_response_object() {
    let gw = start().await;
    for (model, path) in [
        ("anthropic/claude-sonnet-4-5", "/v1/messages"),
        (
            "gemini/gemini-2.5-flash",
            "/v1beta/models/gemini-2.5-flash:generateContent",
        ),
    ] {
        let (status, answer) = gw.post("/v1/responses", ask(model)).await;
        assert_eq!(status, 200, "{model}: {answer}");
        assert_eq!(answer["object"], "response");
        assert_eq!(answer["status"], "completed", "{answer}");
        assert!(answer["id"].as_str().unwrap().starts_with("resp_"));
        assert_eq!(answer["output"][0]["type"], "message");
        assert_eq!(output_text(&answer), CONTENT);
        assert_eq!(answer["instructions"], "Be brief.");
        assert!(
            answer["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{answer}"
        );
        assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 0);
        let sent = gw.mock.requests().pop().unwrap();
        assert!(sent.path.ends_with(path), "{} vs {path}", sent.path);
    }
    // The instructions became Anthropic's system prompt.
    let (_, _) = gw
        .post("/v1/responses", ask("anthropic/claude-sonnet-4-5"))
        .await;
    let sent = gw.mock.requests().pop().unwrap().json().unwrap();
    assert_eq!(sent["system"], "Be brief.", "{sent}");
}

#[tokio::test]
async fn chat_provider_streams_follow_openais_event_order() {
    let gw = start().await;
    for model in ["anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-flash"] {
        let mut body = ask(model);
        body["stream"] = json!(true);
        let events = events(&gw, "/v1/responses", &body).await;
        check_text_stream(&events);
        let done = &events.last().unwrap()["response"];
        assert!(
            done["usage"]["input_tokens"].as_u64().unwrap() > 0,
            "{model}: {done}"
        );
    }
}

#[tokio::test]
async fn a_function_call_round_trip_through_anthropic() {
    let gw = start().await;
    let tools = json!([weather_tool()]);
    let input = json!([{"role": "user", "content": "Weather in Paris?"}]);
    let (status, first) = gw
        .post(
            "/v1/responses",
            json!({"model": "anthropic/claude-sonnet-4-5", "input": input, "tools": tools,
                   "tool_choice": "required"}),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    let call = first["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "function_call")
        .unwrap_or_else(|| panic!("no call in {first}"))
        .clone();
    assert_eq!(call["name"], "get_weather");
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert!(args["city"].is_string(), "{args}");
    let call_id = call["call_id"].as_str().unwrap().to_owned();

    let mut next = input.as_array().unwrap().clone();
    next.extend(first["output"].as_array().unwrap().iter().cloned());
    next.push(json!({"type": "function_call_output", "call_id": call_id, "output": "18°C"}));
    let (status, second) = gw
        .post(
            "/v1/responses",
            json!({"model": "anthropic/claude-sonnet-4-5", "input": next, "tools": tools}),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(output_text(&second), CONTENT);
    // Anthropic got the result answering the call's id.
    let sent = gw.mock.requests().pop().unwrap().json().unwrap();
    let result = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .find(|b| b["type"] == "tool_result")
        .unwrap();
    assert_eq!(result["tool_use_id"], call_id.as_str());
}

#[tokio::test]
async fn a_streamed_function_call_from_gemini() {
    let gw = start().await;
    let body = json!({"model": "gemini/gemini-2.5-flash", "input": "Weather in Paris?",
                      "tools": [weather_tool()], "tool_choice": "required", "stream": true});
    let events = events(&gw, "/v1/responses", &body).await;
    let kinds = kinds(&events);
    assert_eq!(kinds[..3], TEXT_EVENTS[..3], "{kinds:?}");
    let added = events
        .iter()
        .find(|e| e["type"] == "response.output_item.added" && e["item"]["type"] == "function_call")
        .unwrap_or_else(|| panic!("{kinds:?}"));
    assert_eq!(added["item"]["name"], "get_weather");
    let arguments: String = events
        .iter()
        .filter(|e| e["type"] == "response.function_call_arguments.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    let args: Value = serde_json::from_str(&arguments).unwrap();
    assert!(args["city"].is_string());
    assert!(kinds.contains(&"response.function_call_arguments.done"));
    assert_eq!(kinds.last(), Some(&"response.completed"));
    let done = &events.last().unwrap()["response"];
    assert_eq!(done["output"][0]["call_id"], added["item"]["call_id"]);
}

#[tokio::test]
async fn errors_have_openais_shape_and_name_the_field() {
    let gw = start().await;
    // What a chat provider cannot take is refused before anything is sent.
    let (status, answer) = gw
        .post(
            "/v1/responses",
            json!({"model": "anthropic/claude-sonnet-4-5",
                   "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "input[0].content[0].type");
    assert!(gw.mock.requests().is_empty());

    // OpenAI's own validation passes through with its param.
    let (status, answer) = gw
        .post("/v1/responses", json!({"model": "openai/gpt-4.1"}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "input");

    // The gateway's own checks.
    let (status, answer) = gw.post("/v1/responses", json!({"input": "hi"})).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["param"], "model");
    let (status, answer) = gw
        .post("/v1/responses", json!({"model": "gpt-4.1", "input": "hi"}))
        .await;
    assert_eq!(status, 400, "{answer}");

    // An upstream failure keeps its status.
    gw.mock.push_fault(Fault::RateLimited {
        retry_after_secs: 1,
    });
    let (status, answer) = gw
        .post("/v1/responses", ask("anthropic/claude-sonnet-4-5"))
        .await;
    assert_eq!(status, 429, "{answer}");
    assert!(answer["error"]["message"].is_string());
}

#[tokio::test]
async fn fallbacks_cross_between_native_and_translated_providers() {
    let gw = start().await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "primary down".into(),
    });
    let mut body = ask("openai/gpt-4.1");
    body["fallbacks"] = json!(["anthropic/claude-sonnet-4-5"]);
    let (status, answer) = gw.post("/v1/responses", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "response");
    assert_eq!(output_text(&answer), CONTENT);
    assert_eq!(answer["extra_fields"]["provider"], "anthropic");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    let paths: Vec<String> = gw.mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/responses", "/v1/messages"]);

    // The other way round, streamed.
    gw.mock.clear_requests();
    gw.mock.push_fault(Fault::Status {
        status: 529,
        message: "overloaded".into(),
    });
    let mut body = ask("anthropic/claude-sonnet-4-5");
    body["fallbacks"] = json!(["openai/gpt-4.1"]);
    body["stream"] = json!(true);
    let events = events(&gw, "/v1/responses", &body).await;
    check_text_stream(&events);
    let paths: Vec<String> = gw.mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/messages", "/v1/responses"]);
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_error_and_response_failed() {
    let gw = start().await;
    for model in ["anthropic/claude-sonnet-4-5", "openai/gpt-4.1"] {
        gw.mock.push_fault(Fault::StreamCut { after_chunks: 4 });
        let mut body = ask(model);
        body["stream"] = json!(true);
        let events = events(&gw, "/v1/responses", &body).await;
        let kinds = kinds(&events);
        assert_eq!(kinds[0], "response.created", "{model}: {kinds:?}");
        assert_eq!(
            kinds[kinds.len() - 2..],
            ["error", "response.failed"],
            "{model}: {kinds:?}"
        );
        assert!(!kinds.contains(&"response.completed"), "{model}: {kinds:?}");
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event["sequence_number"], i, "{model}: {event}");
        }
        let failed = &events.last().unwrap()["response"];
        assert_eq!(failed["status"], "failed");
        assert_eq!(failed["id"], events[0]["response"]["id"]);
        assert!(failed["error"]["message"].is_string(), "{failed}");
    }
}
