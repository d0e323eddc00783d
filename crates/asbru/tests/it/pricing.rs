//! Cost everywhere: provider pricing overrides change the cost by their prices, the price list
//! is refreshed from `framework.pricing.pricing_url` (a local server here), every dialect's
//! cost reaches the request context and the budgets, and a client that leaves a stream early
//! is still charged for what was generated.

use crate::harness::{TestGateway, chat_body};
use asbru_engine::asbru_governance::counters::ManualClock;
use asbru_engine::{Finished, GatewayOptions, Plugin, PluginError, RequestContext};
use asbru_mock::{MockOptions, MockServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// gpt-4o's built-in prices ($2.50 / 1M input, $10 / 1M output).
const GPT4O: (f64, f64) = (2.5e-6, 10e-6);

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-9)
}

/// The cost `extra_fields` reports, checked against `usage` at `(input, output)` prices.
fn assert_cost(answer: &Value, (input, output): (f64, f64)) -> f64 {
    let prompt = answer["usage"]["prompt_tokens"].as_f64().unwrap();
    let completion = answer["usage"]["completion_tokens"].as_f64().unwrap();
    let cost = answer["extra_fields"]["cost"].as_f64().unwrap();
    let expected = prompt * input + completion * output;
    assert!(prompt > 0.0 && completion > 0.0, "{answer}");
    assert!(close(cost, expected), "{cost} != {expected}: {answer}");
    cost
}

fn provider(mock: &MockServer, overrides: Value) -> Value {
    json!({
        "keys": [{"name": "main", "value": "sk-test-1", "models": [], "weight": 1.0}],
        "network_config": {"base_url": mock.base_url()},
        "pricing_overrides": overrides
    })
}

#[tokio::test]
async fn an_override_changes_the_cost_by_its_prices() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {"openai": provider(&mock, json!([
        {"model_pattern": "gpt-4o*", "match_type": "wildcard",
         "input_cost_per_token": 1e-6, "output_cost_per_token": 3e-6},
        {"model_pattern": "gpt-4o-mini", "match_type": "exact",
         "output_cost_per_token": 7e-6},
        {"model_pattern": "gpt-4.1", "match_type": "exact", "request_types": ["responses"],
         "input_cost_per_token": 1.0, "output_cost_per_token": 1.0}
    ]))}});
    let gw = TestGateway::start_with(mock, config).await;

    let (status, answer) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_cost(&answer, (1e-6, 3e-6));
    // The exact override wins over the wildcard; the input price it leaves out is the
    // catalog's (gpt-4o-mini: $0.15 / 1M).
    let (_, answer) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o-mini"))
        .await;
    assert_cost(&answer, (0.15e-6, 7e-6));
    // An override for the Responses API only leaves chat at the catalog's price
    // (gpt-4.1: $2 / $8 per 1M).
    let (_, answer) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4.1"))
        .await;
    assert_cost(&answer, (2e-6, 8e-6));

    // The stream's usage chunk is priced the same way.
    let mut body = chat_body("openai/gpt-4o");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let events =
        crate::harness::sse_data(gw.post_stream("/v1/chat/completions", &body).await).await;
    let usage_chunk: Value = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .find(|c| c["usage"].is_object())
        .expect("a usage chunk");
    assert_cost(&usage_chunk, (1e-6, 3e-6));
}

/// A price list server: answers every GET with the current status and body.
struct PriceServer {
    url: String,
    answer: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
}

impl PriceServer {
    async fn start(body: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/datasheet", listener.local_addr().unwrap());
        let answer = Arc::new(Mutex::new((200, body)));
        let hits = Arc::new(AtomicUsize::new(0));
        let (a, h) = (Arc::clone(&answer), Arc::clone(&hits));
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (status, body) = a.lock().unwrap().clone();
                h.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self { url, answer, hits }
    }

    fn serve(&self, status: u16, body: String) {
        *self.answer.lock().unwrap() = (status, body);
    }
}

/// Bifrost's datasheet pricing gpt-4o at `input` / `output` per token.
fn datasheet(input: f64, output: f64) -> String {
    json!({
        "gpt-4o": {"provider": "openai", "mode": "chat",
                   "input_cost_per_token": input, "output_cost_per_token": output},
        "dall-e-3": {"provider": "openai", "mode": "image_generation", "output_cost_per_image": 0.04}
    })
    .to_string()
}

/// Asks until the reported cost matches `prices` (the sync loop runs on its own clock).
async fn cost_becomes(gw: &TestGateway, prices: (f64, f64)) {
    for _ in 0..300 {
        let (_, answer) = gw
            .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await;
        let prompt = answer["usage"]["prompt_tokens"].as_f64().unwrap();
        let completion = answer["usage"]["completion_tokens"].as_f64().unwrap();
        let cost = answer["extra_fields"]["cost"].as_f64().unwrap_or(-1.0);
        if close(cost, prompt * prices.0 + completion * prices.1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the cost never reached the prices {prices:?}");
}

#[tokio::test]
async fn the_price_list_is_refreshed_from_its_url_and_kept_when_a_fetch_fails() {
    let prices = PriceServer::start(datasheet(1e-6, 2e-6)).await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let mut config = crate::harness::openai_config(&mock);
    config["framework"] =
        json!({"pricing": {"pricing_url": prices.url, "pricing_sync_interval": 3600}});
    let options = GatewayOptions {
        pricing_sync_interval: Some(Duration::from_millis(100)),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start_with_options(mock, config, HashMap::new(), options).await;
    // Fetched at start.
    cost_becomes(&gw, (1e-6, 2e-6)).await;
    assert_eq!(
        gw.gateway.price_list().summary().0,
        1,
        "the image model is not token-priced"
    );

    // Changed upstream: picked up at the next interval.
    prices.serve(200, datasheet(4e-6, 5e-6));
    cost_becomes(&gw, (4e-6, 5e-6)).await;

    // Failed fetches (an error status, then a page that is no price list) keep the list.
    for (status, body) in [(500, "oops".to_owned()), (200, "<html></html>".to_owned())] {
        prices.serve(status, body);
        let seen = prices.hits.load(Ordering::SeqCst);
        for _ in 0..300 {
            if prices.hits.load(Ordering::SeqCst) >= seen + 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            prices.hits.load(Ordering::SeqCst) >= seen + 2,
            "fetched again"
        );
        let (_, answer) = gw
            .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await;
        assert_cost(&answer, (4e-6, 5e-6));
    }
}

/// What a plugin saw when requests finished: cost, usage, estimate flag and outcome.
#[derive(Debug, Clone)]
struct Seen {
    cost: Option<f64>,
    prompt: u64,
    completion: u64,
    estimated: bool,
    status: u16,
}

struct CostRecorder(Arc<Mutex<Vec<Seen>>>);

impl Plugin for CostRecorder {
    fn name(&self) -> &str {
        "cost-recorder"
    }

    fn post(&self, ctx: &mut RequestContext, finished: &Finished<'_>) -> Result<(), PluginError> {
        let usage = ctx.usage.unwrap_or_default();
        self.0.lock().unwrap().push(Seen {
            cost: ctx.cost,
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
            estimated: ctx.usage_estimated,
            status: finished.status(),
        });
        Ok(())
    }
}

/// A gateway whose key `sk-bf-budget` spends against a budget of `max_usd`, with a plugin
/// recording each request's cost.
async fn budget_gateway(
    max_usd: f64,
    mock_options: MockOptions,
) -> (TestGateway, Arc<Mutex<Vec<Seen>>>) {
    let mock = MockServer::start(mock_options).await.unwrap();
    let config = json!({
        "providers": {"openai": provider(&mock, json!([]))},
        "governance": {
            "budgets": [{"id": "b-key", "max_limit": max_usd, "reset_duration": "1h"}],
            "virtual_keys": [
                {"id": "vk-b", "name": "budgeted", "value": "sk-bf-budget", "budget_id": "b-key",
                 "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]}
            ]
        }
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let options = GatewayOptions {
        governance_clock: Some(clock as _),
        plugins: vec![Arc::new(CostRecorder(Arc::clone(&seen)))],
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start_with_options(mock, config, HashMap::new(), options).await;
    (gw, seen)
}

/// Waits (bounded) for the post-hooks of `n` requests.
async fn recorded(seen: &Arc<Mutex<Vec<Seen>>>, n: usize) -> Vec<Seen> {
    for _ in 0..500 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    seen.lock().unwrap().clone()
}

/// The budget is spent: the next request is refused with 402.
async fn assert_budget_spent(gw: &TestGateway, what: &str) {
    let (status, answer) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("openai/gpt-4o"),
            &[("x-bf-vk", "sk-bf-budget")],
        )
        .await;
    assert_eq!(status, 402, "{what}: the budget was not charged: {answer}");
}

#[tokio::test]
async fn every_dialect_and_stream_charges_its_cost() {
    let ask = |text: &str| json!([{"role": "user", "content": text}]);
    let cases: Vec<(&str, String, Value)> = vec![
        (
            "anthropic",
            "/anthropic/v1/messages".into(),
            json!({"model": "openai/gpt-4o", "max_tokens": 20, "messages": ask("hi")}),
        ),
        (
            "anthropic stream",
            "/anthropic/v1/messages".into(),
            json!({"model": "openai/gpt-4o", "max_tokens": 20, "messages": ask("hi"), "stream": true}),
        ),
        (
            "genai",
            "/genai/v1beta/models/openai/gpt-4o:generateContent".into(),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
        (
            "genai stream",
            "/genai/v1beta/models/openai/gpt-4o:streamGenerateContent?alt=sse".into(),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ),
        (
            "bedrock",
            "/bedrock/model/openai%2Fgpt-4o/converse".into(),
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
        ),
        (
            "bedrock stream",
            "/bedrock/model/openai%2Fgpt-4o/converse-stream".into(),
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
        ),
        (
            "cohere",
            "/cohere/v2/chat".into(),
            json!({"model": "openai/gpt-4o", "messages": ask("hi")}),
        ),
        (
            "cohere stream",
            "/cohere/v2/chat".into(),
            json!({"model": "openai/gpt-4o", "messages": ask("hi"), "stream": true}),
        ),
        (
            "responses",
            "/v1/responses".into(),
            json!({"model": "openai/gpt-4o", "input": "hi"}),
        ),
        (
            "responses stream",
            "/v1/responses".into(),
            json!({"model": "openai/gpt-4o", "input": "hi", "stream": true}),
        ),
        (
            "openai stream",
            "/v1/chat/completions".into(),
            json!({"model": "openai/gpt-4o", "messages": ask("hi"), "stream": true}),
        ),
    ];
    for (what, path, body) in cases {
        // Smaller than any request: the first passes on headroom, its cost spends the budget.
        let (gw, seen) = budget_gateway(1e-9, MockOptions::default()).await;
        let response = gw
            .client
            .post(format!("{}{path}", gw.url))
            .header("x-bf-vk", "sk-bf-budget")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        assert_eq!(status, 200, "{what}: {}", String::from_utf8_lossy(&bytes));
        if what == "responses" {
            // `/v1/responses` answers carry `extra_fields.cost` like chat completions.
            let answer: Value = serde_json::from_slice(&bytes).unwrap();
            let prompt = answer["usage"]["input_tokens"].as_f64().unwrap();
            let completion = answer["usage"]["output_tokens"].as_f64().unwrap();
            let cost = answer["extra_fields"]["cost"].as_f64().unwrap();
            assert!(
                close(cost, prompt * GPT4O.0 + completion * GPT4O.1),
                "{answer}"
            );
        }
        let seen = recorded(&seen, 1).await;
        let s = &seen[0];
        assert_eq!(s.status, 200, "{what}: {s:?}");
        assert!(s.prompt > 0 && s.completion > 0, "{what}: {s:?}");
        assert!(!s.estimated, "{what}: {s:?}");
        let expected = s.prompt as f64 * GPT4O.0 + s.completion as f64 * GPT4O.1;
        assert!(
            s.cost.is_some_and(|c| close(c, expected)),
            "{what}: {s:?} != {expected}"
        );
        assert_budget_spent(&gw, what).await;
    }
}

#[tokio::test]
async fn a_client_that_leaves_a_stream_is_charged_an_estimate() {
    // On the OpenAI route and a drop-in route (whose events are translated from the same
    // stream): the client leaves after the first content delta, before the usage.
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model": "openai/gpt-4o", "stream": true,
            "messages": [{"role": "user", "content": "Hello there"}]}),
            "\"content\":\"Hell",
        ),
        (
            "/anthropic/v1/messages",
            json!({"model": "openai/gpt-4o", "stream": true, "max_tokens": 50,
            "messages": [{"role": "user", "content": "Hello there"}]}),
            "\"text\":\"Hell",
        ),
    ];
    for (path, body, first_text) in cases {
        // Slow chunks, so the client can leave in the middle.
        let options = MockOptions {
            stream_chunk_delay: Duration::from_millis(150),
            ..MockOptions::default()
        };
        let (gw, seen) = budget_gateway(1e-9, options).await;
        let response = gw
            .client
            .post(format!("{}{path}", gw.url))
            .header("x-bf-vk", "sk-bf-budget")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let mut stream = response.bytes_stream();
        let mut text = String::new();
        while !text.contains(first_text) {
            let piece = stream.next().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&piece));
        }
        assert!(
            !text.contains("\"usage\":{\"prompt"),
            "{path}: left before the usage: {text}"
        );
        drop(stream);

        let seen = recorded(&seen, 1).await;
        let s = &seen[0];
        assert_eq!(s.status, 499, "{path}: {s:?}");
        assert!(s.estimated, "{path}: {s:?}");
        // Input: the body sent upstream ÷ 4; output: the generated characters forwarded ÷ 4
        // (the mock's 20-character answer comes in 5 deltas of 4: one or more were forwarded).
        let sent = gw.mock.requests()[0].body.len() as u64;
        assert_eq!(s.prompt, sent.div_ceil(4), "{path}: {s:?}");
        assert!((1..=5).contains(&s.completion), "{path}: {s:?} {text}");
        let expected = s.prompt as f64 * GPT4O.0 + s.completion as f64 * GPT4O.1;
        assert!(
            s.cost.is_some_and(|c| close(c, expected)),
            "{path}: {s:?} != {expected}"
        );
        assert_budget_spent(&gw, path).await;
    }
}

#[tokio::test]
async fn a_reload_changes_the_overrides() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let with = |overrides: Value| json!({"providers": {"openai": provider(&mock, overrides)}});
    let first = with(json!([{"model_pattern": "gpt-4o", "match_type": "exact",
                             "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-6}]));
    let second = with(json!([{"model_pattern": "gpt-*", "match_type": "wildcard",
                              "input_cost_per_token": 2e-6, "output_cost_per_token": 4e-6}]));
    let gw = TestGateway::start_with(mock, first).await;
    let (_, answer) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_cost(&answer, (1e-6, 1e-6));
    let loaded = asbru_config::load_str(&second.to_string(), &|_| None).unwrap();
    gw.gateway.reload(loaded.config).unwrap();
    let (_, answer) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_cost(&answer, (2e-6, 4e-6));
}

/// The cost of one chat request to `openai/gpt-4o` on the served binary, checked against its
/// usage at `prices`.
async fn binary_chat_cost(url: &str, prices: (f64, f64)) {
    let answer: Value = reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&chat_body("openai/gpt-4o"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_cost(&answer, prices);
}

#[tokio::test]
async fn pricing_overrides_are_managed_through_the_admin_api() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = json!({"providers": {"openai": {
        "keys": [{"name": "main", "value": "sk-test-1", "weight": 1}],
        "network_config": {"base_url": mock.base_url()}
    }}});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let served = crate::cli::serve(&["--app-dir", dir.path().to_str().unwrap()], &[]).await;
    let admin = crate::admin_api::Admin::of(&served);
    let path = "/api/governance/pricing-overrides";
    binary_chat_cost(&served.url, GPT4O).await;

    let (status, created) = admin
        .call(
            "POST",
            path,
            Some(json!({
                "name": "negotiated", "scope_kind": "provider", "provider_id": "openai",
                "match_type": "exact", "pattern": "gpt-4o", "request_types": ["chat_completion"],
                "patch": {"input_cost_per_token": 1e-6, "output_cost_per_token": 3e-6}
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let o = &created["pricing_override"];
    let id = o["id"].as_str().unwrap().to_owned();
    assert_eq!(o["scope_kind"], "provider");
    assert_eq!(o["pattern"], "gpt-4o");
    assert_eq!(o["patch"]["output_cost_per_token"], 3e-6);
    binary_chat_cost(&served.url, (1e-6, 3e-6)).await;

    let (status, list) = admin
        .call("GET", &format!("{path}?provider_id=openai"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["count"], 1, "{list}");
    assert_eq!(list["pricing_overrides"][0]["id"], id.as_str());
    let (_, list) = admin
        .call("GET", &format!("{path}?provider_id=anthropic"), None)
        .await;
    assert_eq!(list["count"], 0, "{list}");

    // Refused with the field at fault, changing nothing.
    for (body, field) in [
        (
            json!({"name": "g", "scope_kind": "global", "match_type": "exact", "pattern": "m"}),
            "scope_kind",
        ),
        (
            json!({"name": "g", "scope_kind": "provider", "provider_id": "openai",
                "match_type": "glob", "pattern": "m"}),
            "match_type",
        ),
        (
            json!({"name": "g", "scope_kind": "provider", "provider_id": "openai",
                "match_type": "exact", "pattern": "m", "patch": {"input_cost_per_token": -1}}),
            "patch.input_cost_per_token",
        ),
        (
            json!({"name": "g", "scope_kind": "provider", "provider_id": "nobody",
                "match_type": "exact", "pattern": "m"}),
            "provider_id",
        ),
        (
            json!({"scope_kind": "provider", "provider_id": "openai",
                "match_type": "exact", "pattern": "m"}),
            "name",
        ),
    ] {
        let (status, refused) = admin.call("POST", path, Some(body)).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(refused["error"]["param"], field, "{refused}");
    }
    binary_chat_cost(&served.url, (1e-6, 3e-6)).await;

    // An update replaces the patch whole: the input price is the list's again.
    let (status, updated) = admin
        .call(
            "PUT",
            &format!("{path}/{id}"),
            Some(json!({"patch": {"output_cost_per_token": 5e-6}})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["pricing_override"]["name"], "negotiated");
    binary_chat_cost(&served.url, (GPT4O.0, 5e-6)).await;

    let (status, _) = admin.call("DELETE", &format!("{path}/{id}"), None).await;
    assert_eq!(status, 200);
    binary_chat_cost(&served.url, GPT4O).await;
    let (status, _) = admin.call("DELETE", &format!("{path}/{id}"), None).await;
    assert_eq!(status, 404);
    served.stop().await;
}

/// Budgets reserve at the prices requests are charged at: an override that makes a model dear
/// makes one request's worst case fill a budget the built-in price would leave room in, so a
/// second request arriving while the first is in flight is refused.
#[tokio::test]
async fn budgets_reserve_at_the_overridden_price() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_default_fault(Some(asbru_mock::Fault::Delay(
        std::time::Duration::from_millis(400),
    )));
    let config = json!({
        "providers": {"openai": provider(&mock, json!([
            {"model_pattern": "gpt-4o", "match_type": "exact",
             "input_cost_per_token": 1e-6, "output_cost_per_token": 1e-3}
        ]))},
        "governance": {
            // 16 output tokens at $0.001 reserve over $0.016, more than the $0.01 budget; at
            // gpt-4o's list price ($10 per million) they would reserve about $0.0002.
            "budgets": [{"id": "b", "max_limit": 0.01, "reset_duration": "1d"}],
            "virtual_keys": [{"id": "vk", "name": "vk", "value": "sk-bf-dear", "budget_id": "b",
                              "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]}]
        }
    });
    let gw = std::sync::Arc::new(crate::harness::TestGateway::start_with(mock, config).await);
    let send = || {
        let gw = std::sync::Arc::clone(&gw);
        tokio::spawn(async move {
            gw.client
                .post(format!("{}/v1/chat/completions", gw.url))
                .header("x-bf-vk", "sk-bf-dear")
                .json(&json!({"model": "openai/gpt-4o", "max_tokens": 16,
                              "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let first = send();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = send();
    assert_eq!(
        second.await.unwrap(),
        402,
        "the first request's reservation holds the budget"
    );
    assert_eq!(first.await.unwrap(), 200);
}
