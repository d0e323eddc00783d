//! OpenAI-dialect requests served by a `cohere` provider, end to end: the gateway translates to
//! Cohere's v2 API (`/v2/chat`, its event stream, `/v2/embed`, `/v2/rerank`, `GET /v1/models`),
//! the mock answers as Cohere documents, and the client gets OpenAI JSON and SSE back (and
//! Bifrost's rerank shape from `POST /v1/rerank`). The mock's recorded requests show what reached
//! "Cohere".

use crate::harness::{TestGateway, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer, RecordedRequest};
use serde_json::{Value, json};

const KEY: &str = "co-test-key-0123456789";
const MODEL: &str = "cohere/command-a-03-2025";

/// `cohere` and `openai` on one mock; `network` is merged into cohere's `network_config`.
fn config(mock: &MockServer, network: Value) -> Value {
    let mut network_config = json!({"base_url": mock.base_url()});
    if let (Some(into), Some(from)) = (network_config.as_object_mut(), network.as_object()) {
        into.extend(from.clone());
    }
    json!({"providers": {
        "cohere": {
            "keys": [{"name": "co", "value": KEY, "weight": 1}],
            "network_config": network_config
        },
        "openai": {
            "keys": [{"name": "main", "value": "sk-test-1", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }
    }})
}

async fn start_with(opts: MockOptions, network: Value) -> TestGateway {
    let mock = MockServer::start(opts).await.unwrap();
    let config = config(&mock, network);
    TestGateway::start_with(mock, config).await
}

async fn start() -> TestGateway {
    start_with(MockOptions::default(), json!({})).await
}

fn ask(text: &str) -> Value {
    json!({"model": MODEL, "messages": [{"role": "user", "content": text}]})
}

fn sent_to(gw: &TestGateway, suffix: &str) -> Vec<RecordedRequest> {
    gw.mock
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(suffix))
        .collect()
}

fn last_chat(gw: &TestGateway) -> Value {
    sent_to(gw, "/v2/chat").last().unwrap().json().unwrap()
}

async fn stream(gw: &TestGateway, body: &Value) -> (Vec<Value>, bool) {
    let response = gw.post_stream("/v1/chat/completions", body).await;
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    let done_last = events.last().map(String::as_str) == Some("[DONE]");
    let chunks = events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    (chunks, done_last)
}

fn weather_tool() -> Value {
    json!([{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city", "days"]
            }
        }
    }])
}

#[tokio::test]
async fn plain_chat_is_translated_both_ways() {
    let gw = start().await;
    let mut body = ask("Hello there");
    body["messages"] = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there"}
    ]);
    body["temperature"] = json!(0.2);
    body["top_p"] = json!(0.9);
    body["stop"] = json!(["zzz"]);
    body["seed"] = json!(7);
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "command-a-03-2025");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    assert!(answer["choices"][0]["message"]["content"].is_string());
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let usage = &answer["usage"];
    assert!(usage["prompt_tokens"].as_u64().unwrap() > 0, "{usage}");
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(answer["extra_fields"]["provider"], "cohere");
    assert_eq!(answer["extra_fields"]["request_type"], "chat.completion");

    let sent = last_chat(&gw);
    assert_eq!(sent["model"], "command-a-03-2025");
    assert_eq!(
        sent["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(sent["temperature"], json!(0.2));
    assert_eq!(sent["p"], json!(0.9));
    assert_eq!(sent["stop_sequences"], json!(["zzz"]));
    assert_eq!(sent["seed"], json!(7));
    assert!(sent.get("stream").is_none());
    let req = &sent_to(&gw, "/v2/chat")[0];
    assert_eq!(req.header("authorization"), Some(&*format!("Bearer {KEY}")));
}

#[tokio::test]
async fn stream_ends_with_usage_then_done() {
    let gw = start().await;
    let mut body = ask("Hello");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last, "{chunks:?}");
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert!(!text.is_empty());
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![&json!("stop")]);
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert!(
        last["usage"]["completion_tokens"].as_u64().unwrap() > 0,
        "{last}"
    );
    assert_eq!(last_chat(&gw)["stream"], json!(true));

    // Without include_usage the usage-only chunk is dropped.
    body.as_object_mut().unwrap().remove("stream_options");
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    assert!(chunks.iter().all(|c| c["usage"].is_null()), "{chunks:?}");
}

#[tokio::test]
async fn tools_round_trip_with_ids_kept() {
    let gw = start().await;
    let mut body = ask("Weather in Paris?");
    body["tools"] = weather_tool();
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let message = answer["choices"][0]["message"].clone();
    let call = &message["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(
        args["city"].is_string() && args["days"].is_number(),
        "{args}"
    );
    let id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(
        last_chat(&gw)["tools"][0]["function"]["name"],
        "get_weather"
    );

    // The result goes back with the same id; the mock refuses an id it never issued.
    body["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        message,
        {"role": "tool", "tool_call_id": id, "content": "{\"temp\": 21}"}
    ]);
    let (status, answer) = gw.post("/v1/chat/completions", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let sent = last_chat(&gw);
    assert_eq!(sent["messages"][1]["tool_calls"][0]["id"], json!(id));
    assert_eq!(sent["messages"][2]["tool_call_id"], json!(id));

    body["messages"][2]["tool_call_id"] = json!("call_unknown");
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("call_unknown")
    );
}

#[tokio::test]
async fn tools_in_a_stream() {
    let gw = start().await;
    let mut body = ask("Weather in Paris?");
    body["tools"] = weather_tool();
    body["tool_choice"] = json!("required");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(done_last);
    let mut id = None;
    let mut name = None;
    let mut args = String::new();
    for c in &chunks {
        for d in c["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert_eq!(d["index"], 0);
            if let Some(i) = d["id"].as_str() {
                id = Some(i.to_owned());
            }
            if let Some(n) = d["function"]["name"].as_str() {
                name = Some(n.to_owned());
            }
            args.push_str(d["function"]["arguments"].as_str().unwrap_or(""));
        }
    }
    assert!(id.is_some());
    assert_eq!(name.as_deref(), Some("get_weather"));
    let args: Value = serde_json::from_str(&args).unwrap();
    assert!(args["city"].is_string(), "{args}");
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "tool_calls")
    );
    assert_eq!(last_chat(&gw)["tool_choice"], "REQUIRED");
}

#[tokio::test]
async fn json_schema_becomes_cohere_response_format() {
    let gw = start().await;
    let mut body = ask("A book");
    let schema = json!({"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]});
    body["response_format"] =
        json!({"type": "json_schema", "json_schema": {"name": "book", "schema": schema}});
    let (status, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 200, "{answer}");
    let content: Value =
        serde_json::from_str(answer["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert!(content["title"].is_string(), "{content}");
    assert_eq!(
        last_chat(&gw)["response_format"],
        json!({"type": "json_object", "json_schema": schema})
    );
}

#[tokio::test]
async fn finish_reasons_map_to_openai() {
    let gw = start().await;
    let cases = [
        ("asbru-mock:finish=MAX_TOKENS", "length"),
        ("asbru-mock:finish=STOP_SEQUENCE", "stop"),
        ("asbru-mock:finish=COMPLETE", "stop"),
    ];
    for (directive, expected) in cases {
        let (status, answer) = gw.post("/v1/chat/completions", ask(directive)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["choices"][0]["finish_reason"], expected,
            "{directive}"
        );
    }
    let mut body = ask("hi");
    body["max_tokens"] = json!(2);
    let (_, answer) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["usage"]["completion_tokens"], 2);
    assert_eq!(last_chat(&gw)["max_tokens"], 2);

    // ERROR is a failure, not an answer; in a stream it ends the stream with an error item.
    let (status, error) = gw
        .post("/v1/chat/completions", ask("asbru-mock:finish=ERROR"))
        .await;
    assert_eq!(status, 500, "{error}");
    let mut body = ask("asbru-mock:error=500");
    body["stream"] = json!(true);
    let (chunks, done_last) = stream(&gw, &body).await;
    assert!(!done_last);
    assert!(
        chunks.last().unwrap()["error"]["message"].is_string(),
        "{chunks:?}"
    );
}

#[tokio::test]
async fn embeddings_go_through_v2_embed() {
    let gw = start().await;
    let (status, answer) = gw
        .post(
            "/v1/embeddings",
            json!({"model": "cohere/embed-v4.0", "input": ["hello", "goodbye world"], "dimensions": 4}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["data"].as_array().unwrap().len(), 2);
    assert_eq!(answer["data"][1]["index"], 1);
    assert_eq!(answer["data"][0]["embedding"].as_array().unwrap().len(), 4);
    assert_eq!(answer["usage"]["prompt_tokens"], 3);
    assert_eq!(answer["extra_fields"]["provider"], "cohere");
    let sent: Value = sent_to(&gw, "/v2/embed")[0].json().unwrap();
    assert_eq!(
        sent,
        json!({"model": "embed-v4.0", "texts": ["hello", "goodbye world"], "input_type": "search_document",
               "embedding_types": ["float"], "output_dimension": 4})
    );
}

#[tokio::test]
async fn rerank_orders_documents_in_bifrost_shape() {
    let gw = start().await;
    let body = json!({
        "model": "cohere/rerank-v3.5",
        "query": "capital of France",
        "documents": ["Bananas are yellow.", {"text": "Paris is the capital of France.", "id": "paris"}, "France is in Europe."],
        "top_n": 2,
        "return_documents": true
    });
    let (status, answer) = gw.post("/v1/rerank", body).await;
    assert_eq!(status, 200, "{answer}");
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["index"], 1);
    assert_eq!(results[0]["document"]["id"], "paris");
    assert!(
        results[0]["relevance_score"].as_f64().unwrap()
            >= results[1]["relevance_score"].as_f64().unwrap()
    );
    assert_eq!(answer["model"], "rerank-v3.5");
    assert_eq!(answer["usage"]["search_units"], 1);
    assert_eq!(answer["extra_fields"]["provider"], "cohere");
    assert_eq!(answer["extra_fields"]["request_type"], "rerank");
    let sent: Value = sent_to(&gw, "/v2/rerank")[0].json().unwrap();
    assert_eq!(sent["model"], "rerank-v3.5");
    assert_eq!(sent["documents"][1], "Paris is the capital of France.");
    assert_eq!(sent["top_n"], 2);
    assert!(sent.get("return_documents").is_none());
}

#[tokio::test]
async fn rerank_uses_retries_and_fallbacks_and_others_refuse_it() {
    let gw = start_with(
        MockOptions::default(),
        json!({"max_retries": 1, "retry_backoff_initial_ms": 1, "retry_backoff_max_ms": 2}),
    )
    .await;
    let body = json!({"model": "cohere/rerank-v3.5", "query": "q", "documents": ["a", "b"]});
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: String::new(),
    });
    let (status, answer) = gw.post("/v1/rerank", body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["retries"], 1);

    // A provider without rerank answers a clear 400, and a fallback takes over.
    let (status, error) = gw
        .post(
            "/v1/rerank",
            json!({"model": "openai/gpt-4o", "query": "q", "documents": ["a"]}),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "unsupported_operation");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rerank"),
        "{error}"
    );
    let (status, answer) = gw
        .post(
            "/v1/rerank",
            json!({"model": "openai/gpt-4o", "query": "q", "documents": ["a"], "fallbacks": ["cohere/rerank-v3.5"]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    // `fallbacks` never reaches Cohere, and rerank cannot be streamed.
    let sent: Value = sent_to(&gw, "/v2/rerank").last().unwrap().json().unwrap();
    assert!(sent.get("fallbacks").is_none(), "{sent}");
    let mut streamed = body;
    streamed["stream"] = json!(true);
    let (status, _) = gw.post("/v1/rerank", streamed).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn errors_keep_status_and_message_and_never_the_key() {
    let gw = start_with(
        MockOptions {
            valid_keys: Some(vec!["co-the-right-one".to_owned()]),
            ..MockOptions::default()
        },
        json!({}),
    )
    .await;
    // The mock echoes a wrong key in its message; the gateway must scrub it.
    let (status, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
    assert_eq!(status, 401, "{error}");
    assert_eq!(error["error"]["type"], "authentication_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid api token")
    );
    assert!(!error.to_string().contains(KEY), "{error}");
    let mut body = ask("Hello");
    body["stream"] = json!(true);
    let response = gw.post_stream("/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 401);
    assert!(!response.text().await.unwrap().contains(KEY));
    let (status, error) = gw
        .post(
            "/v1/rerank",
            json!({"model": "cohere/rerank-v3.5", "query": "q", "documents": ["a"]}),
        )
        .await;
    assert_eq!(status, 401);
    assert!(!error.to_string().contains(KEY), "{error}");
}

#[tokio::test]
async fn injected_statuses_map_to_openai_error_types() {
    let gw = start().await;
    for (status, kind) in [
        (429, "rate_limit_error"),
        (404, "not_found_error"),
        (500, "server_error"),
    ] {
        gw.mock.push_fault(Fault::Status {
            status,
            message: String::new(),
        });
        let (got, error) = gw.post("/v1/chat/completions", ask("Hello")).await;
        assert_eq!(got, status, "{error}");
        assert_eq!(error["error"]["type"], kind, "{error}");
    }
    // A request Cohere cannot express is the client's 400 before anything is sent.
    let before = sent_to(&gw, "/v2/chat").len();
    let mut body = ask("Hello");
    body["n"] = json!(2);
    let (status, error) = gw.post("/v1/chat/completions", body).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(sent_to(&gw, "/v2/chat").len(), before);
}

#[tokio::test]
async fn models_are_listed_as_openai_models() {
    let gw = start_with(
        MockOptions {
            models: vec!["command-a-03-2025".to_owned(), "embed-v4.0".to_owned()],
            ..MockOptions::default()
        },
        json!({}),
    )
    .await;
    let (status, list) = gw.get("/v1/models?provider=cohere").await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.iter().any(|id| id.ends_with("command-a-03-2025")),
        "{list}"
    );
    assert!(ids.iter().any(|id| id.ends_with("embed-v4.0")), "{list}");
}
