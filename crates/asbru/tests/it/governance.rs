//! Governance through the real router: virtual keys, their decisions in each route's error
//! shape, allowed provider keys, exact rate limits under concurrency, windows and reloads, budgets.

use crate::harness::{TestGateway, chat_body};
use asbru_engine::GatewayOptions;
use asbru_engine::asbru_governance::counters::ManualClock;
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

fn config(mock: &MockServer, request_limit: u64) -> Value {
    json!({
        "client": {"enforce_auth_on_inference": true},
        "providers": {
            "openai": {
                "keys": [
                    {"name": "main", "value": "sk-test-1", "models": [], "weight": 1.0},
                    {"name": "second", "value": "sk-test-2", "models": [], "weight": 1.0}
                ],
                "network_config": {"base_url": mock.base_url()}
            },
            "groq": {
                "keys": [{"name": "g", "value": "gsk-g", "models": [], "weight": 1.0}],
                "network_config": {"base_url": mock.base_url()}
            }
        },
        "governance": {
            "rate_limits": [
                {"id": "rl-vk", "request_max_limit": request_limit, "request_reset_duration": "1m"},
                {"id": "rl-tok", "token_max_limit": 1, "token_reset_duration": "1h"}
            ],
            "customers": [{"id": "cust-1", "name": "Acme"}],
            "teams": [{"id": "team-1", "name": "ML", "customer_id": "cust-1"}],
            "virtual_keys": [
                {"id": "vk-ml", "name": "ml", "value": "sk-bf-ml", "team_id": "team-1",
                 "provider_configs": [{"provider": "openai", "allowed_models": ["gpt-4o"],
                                       "key_ids": ["second"]}]},
                {"id": "vk-off", "name": "off", "value": "sk-bf-off", "is_active": false,
                 "provider_configs": [{"provider": "openai"}]},
                {"id": "vk-none", "name": "none", "value": "sk-bf-none"},
                {"id": "vk-lim", "name": "limited", "value": "sk-bf-lim", "rate_limit_id": "rl-vk",
                 "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]},
                {"id": "vk-tok", "name": "tokens", "value": "sk-bf-tok",
                 "provider_configs": [{"provider": "openai", "rate_limit_id": "rl-tok"}]}
            ]
        }
    })
}

async fn gateway_with(request_limit: u64, clock: Option<Arc<ManualClock>>) -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = config(&mock, request_limit);
    let options = GatewayOptions {
        governance_clock: clock.map(|c| c as _),
        ..GatewayOptions::default()
    };
    TestGateway::start_with_options(mock, config, HashMap::new(), options).await
}

async fn chat(gw: &TestGateway, model: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    gw.post_with("/v1/chat/completions", chat_body(model), headers)
        .await
}

#[tokio::test]
async fn decisions_on_the_openai_route() {
    let gw = gateway_with(100, None).await;
    let (status, answer) = chat(&gw, "openai/gpt-4o", &[]).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "access_not_found");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-bf-vk")
    );

    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-nope")]).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "access_not_found");

    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-off")]).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "access_blocked");

    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-none")]).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "provider_blocked");

    let (status, answer) = chat(&gw, "openai/gpt-4o-mini", &[("x-bf-vk", "sk-bf-ml")]).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "model_blocked");

    // A bearer token without the virtual-key prefix is not a virtual key.
    let (status, _) = chat(
        &gw,
        "openai/gpt-4o",
        &[("authorization", "Bearer sk-other")],
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        gw.mock.requests().is_empty(),
        "no refused request reached the provider"
    );

    for _ in 0..10 {
        let (status, answer) = chat(
            &gw,
            "openai/gpt-4o",
            &[("authorization", "Bearer sk-bf-ml")],
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
    let requests = gw.mock.requests();
    assert_eq!(requests.len(), 10);
    for r in requests {
        assert_eq!(
            r.header("authorization"),
            Some("Bearer sk-test-2"),
            "only the allowed key serves the virtual key"
        );
    }
}

#[tokio::test]
async fn decisions_on_the_anthropic_route() {
    let gw = gateway_with(100, None).await;
    let body = json!({"model": "openai/gpt-4o", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "Hello!"}]});
    let (status, answer) = gw.post("/anthropic/v1/messages", body.clone()).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["type"], "error");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("x-bf-vk")
    );

    let (status, answer) = gw
        .post_with(
            "/anthropic/v1/messages",
            body.clone(),
            &[("x-api-key", "sk-bf-off")],
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["type"], "error");

    let (status, answer) = gw
        .post_with("/anthropic/v1/messages", body, &[("x-api-key", "sk-bf-ml")])
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "message");
}

#[tokio::test]
async fn decisions_on_the_genai_route() {
    let gw = gateway_with(100, None).await;
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "Hello!"}]}]});
    let path = "/genai/v1beta/models/openai/gpt-4o-mini:generateContent";
    let (status, answer) = gw
        .post_with(path, body.clone(), &[("x-goog-api-key", "sk-bf-zzz")])
        .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], 401);
    assert!(answer["error"]["status"].is_string(), "{answer}");

    let (status, answer) = gw
        .post_with(path, body, &[("x-goog-api-key", "sk-bf-ml")])
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], 403);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gpt-4o-mini")
    );
}

#[tokio::test]
async fn a_request_limit_is_exact_under_concurrency_and_resets_with_its_window() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let gw = Arc::new(gateway_with(50, Some(Arc::clone(&clock))).await);
    // Every admitted request is still in flight while the others arrive: the limit holds by
    // reservation, not by settled counts.
    gw.mock
        .set_default_fault(Some(Fault::Delay(std::time::Duration::from_millis(300))));
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let gw = Arc::clone(&gw);
        tasks.push(tokio::spawn(async move {
            let response = gw
                .client
                .post(format!("{}/v1/chat/completions", gw.url))
                .header("x-bf-vk", "sk-bf-lim")
                .json(&chat_body("openai/gpt-4o"))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body)
        }));
    }
    let mut ok = 0;
    let mut limited = 0;
    for t in tasks {
        let (status, retry_after, body) = t.await.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                limited += 1;
                assert_eq!(body["error"]["code"], "request_limited", "{body}");
                assert_eq!(retry_after.as_deref(), Some("60"));
                assert!(body["error"]["message"].as_str().unwrap().contains("rl-vk"));
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((ok, limited), (50, 150));
    gw.mock.set_default_fault(None);

    clock.advance_secs(30);
    let (status, _) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-lim")]).await;
    assert_eq!(status, 429, "the window has not ended yet");
    clock.advance_secs(30);
    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-lim")]).await;
    assert_eq!(status, 200, "a new window: {answer}");
}

#[tokio::test]
async fn a_reload_keeps_the_counters() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let gw = gateway_with(2, Some(Arc::clone(&clock))).await;
    for _ in 0..2 {
        let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-lim")]).await;
        assert_eq!(status, 200, "{answer}");
    }
    let same = config(&gw.mock, 2);
    let loaded = asbru_config::load_str(&same.to_string(), &|_| None).unwrap();
    gw.gateway.reload(loaded.config).unwrap();
    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-lim")]).await;
    assert_eq!(status, 429, "{answer}");

    // Raising the limit on reload lets the next request in, on the same counter.
    let raised = config(&gw.mock, 3);
    let loaded = asbru_config::load_str(&raised.to_string(), &|_| None).unwrap();
    gw.gateway.reload(loaded.config).unwrap();
    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-lim")]).await;
    assert_eq!(status, 200, "{answer}");
    let (status, _) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-lim")]).await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_fallback_to_a_provider_the_key_may_not_use_is_not_tried() {
    let gw = gateway_with(100, None).await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "down".into(),
    });
    let mut body = chat_body("openai/gpt-4o");
    body["fallbacks"] = json!(["groq/llama-3.1-8b-instant"]);
    let (status, answer) = gw
        .post_with("/v1/chat/completions", body, &[("x-bf-vk", "sk-bf-ml")])
        .await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(gw.mock.requests().len(), 1, "groq was never called");
    let attempts = answer["extra_fields"]["attempts"].to_string();
    assert!(attempts.contains("403"), "{answer}");
}

#[tokio::test]
async fn a_token_limit_counts_the_tokens_answered() {
    let gw = gateway_with(100, None).await;
    // Headroom at first (0 used of 1): admitted, and settled with the real usage.
    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-tok")]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["usage"]["total_tokens"].as_u64().unwrap() > 1);
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-bf-vk", "sk-bf-tok")
        .json(&chat_body("openai/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3590..=3600).contains(&retry_after), "{retry_after}");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["error"]["code"], "token_limited");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("rl-tok")
    );
}

#[tokio::test]
async fn the_binary_enforces_virtual_keys_and_labels_metrics_with_the_caller() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config(&mock, 100).to_string()).unwrap();
    let served = crate::cli::serve(&["--config", path.to_str().unwrap()], &[]).await;
    let client = reqwest::Client::new();
    let post = |vk: Option<&str>| {
        let mut request = client
            .post(format!("{}/v1/chat/completions", served.url))
            .json(&chat_body("openai/gpt-4o"));
        if let Some(vk) = vk {
            request = request.header("x-bf-vk", vk);
        }
        request.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 401);
    assert_eq!(post(Some("sk-bf-ml")).await.unwrap().status(), 200);
    let metrics = client
        .get(format!("{}/metrics", served.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("bifrost_success_requests_total{")
                && l.contains("virtual_key_id=\"vk-ml\"")
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(line.ends_with(" 1"), "{line}");
    for label in [
        "virtual_key_id=\"vk-ml\"",
        "virtual_key_name=\"ml\"",
        "team_id=\"team-1\"",
        "team_name=\"ML\"",
        "customer_id=\"cust-1\"",
        "customer_name=\"Acme\"",
    ] {
        assert!(line.contains(label), "{label} missing: {line}");
    }
    served.stop().await;
}

#[tokio::test]
async fn model_lists_need_the_required_virtual_key() {
    let gw = gateway_with(100, None).await;
    for path in ["/v1/models", "/anthropic/v1/models", "/genai/v1beta/models"] {
        let response = gw
            .client
            .get(format!("{}{path}", gw.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "access_not_found", "{path}");
        let response = gw
            .client
            .get(format!("{}{path}", gw.url))
            .header("x-bf-vk", "sk-bf-off")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let response = gw
        .client
        .get(format!("{}/v1/models", gw.url))
        .header("x-bf-vk", "sk-bf-ml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (status, _) = gw.get("/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_stream_settles_the_tokens_of_its_last_usage_event() {
    let gw = gateway_with(100, None).await;
    let mut body = chat_body("openai/gpt-4o");
    body["stream"] = json!(true);
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-bf-vk", "sk-bf-tok")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = crate::harness::sse_data(response).await;
    assert!(!events.is_empty());
    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-tok")]).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "token_limited");
}

/// A gateway whose key `sk-bf-budget` (team `team-b`) spends against budgets of `max_usd`:
/// the team's resets hourly; the key's own is larger.
async fn budget_gateway(max_usd: f64, clock: Arc<ManualClock>) -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({
        "providers": {
            "openai": {
                "keys": [{"name": "main", "value": "sk-test-1", "models": [], "weight": 1.0}],
                "network_config": {"base_url": mock.base_url()}
            }
        },
        "governance": {
            "budgets": [
                {"id": "b-team", "max_limit": max_usd, "reset_duration": "1h"},
                {"id": "b-key", "max_limit": 1000.0, "reset_duration": "1d"}
            ],
            "rate_limits": [
                {"id": "rl-free", "request_max_limit": 1000, "request_reset_duration": "1h"}
            ],
            "teams": [{"id": "team-b", "name": "B", "budget_id": "b-team"}],
            "virtual_keys": [
                {"id": "vk-b", "name": "budgeted", "value": "sk-bf-budget", "team_id": "team-b",
                 "budget_id": "b-key", "rate_limit_id": "rl-free",
                 "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]},
                {"id": "vk-free", "name": "free", "value": "sk-bf-free",
                 "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]}
            ]
        }
    });
    let options = GatewayOptions {
        governance_clock: Some(clock as _),
        ..GatewayOptions::default()
    };
    TestGateway::start_with_options(mock, config, HashMap::new(), options).await
}

#[tokio::test]
async fn a_budget_serves_what_it_covers_then_402_and_resets_with_its_window() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    // What one request costs: the mock's usage at gpt-4o's price ($2.50 / 1M input, $10 / 1M
    // output), as the answer reports it.
    let probe = budget_gateway(1000.0, Arc::clone(&clock)).await;
    let (status, answer) = chat(&probe, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-free")]).await;
    assert_eq!(status, 200, "{answer}");
    let prompt = answer["usage"]["prompt_tokens"].as_f64().unwrap();
    let completion = answer["usage"]["completion_tokens"].as_f64().unwrap();
    let cost = answer["extra_fields"]["cost"].as_f64().unwrap();
    let expected = prompt * 2.5e-6 + completion * 10e-6;
    assert!((cost - expected).abs() < 1e-12, "{cost} != {expected}");
    assert!(cost > 0.0);

    // A budget of 2.5 requests: admitted while spent < limit, so the third request (spent 2
    // × cost) still passes and the fourth is refused.
    let gw = budget_gateway(cost * 2.5, Arc::clone(&clock)).await;
    for i in 0..3 {
        let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-budget")]).await;
        assert_eq!(status, 200, "request {i}: {answer}");
    }
    let (status, refused) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-budget")]).await;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(refused["error"]["code"], "budget_exceeded");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Budget exceeded: budget 'b-team'"),
        "{message}"
    );
    assert!(message.contains("resets in"), "{message}");
    assert_eq!(
        gw.mock.requests().len(),
        3,
        "the refused request never went upstream"
    );
    // Another key is not charged to this team.
    let (status, _) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-free")]).await;
    assert_eq!(status, 200);

    clock.advance_secs(1800);
    let (status, _) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-budget")]).await;
    assert_eq!(status, 402, "the window has not ended yet");
    clock.advance_secs(1800);
    let (status, answer) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-budget")]).await;
    assert_eq!(status, 200, "a new window: {answer}");
}

#[tokio::test]
async fn a_budget_refuses_on_the_anthropic_route_in_its_shape() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    // Smaller than any request: the first passes on headroom, the next is refused.
    let gw = budget_gateway(1e-9, clock).await;
    let (status, _) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-budget")]).await;
    assert_eq!(status, 200);
    let (status, body) = gw
        .post_with(
            "/anthropic/v1/messages",
            json!({"model": "openai/gpt-4o", "max_tokens": 20,
                   "messages": [{"role": "user", "content": "hi"}]}),
            &[("x-bf-vk", "sk-bf-budget")],
        )
        .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "billing_error", "{body}");
}

#[tokio::test]
async fn a_stream_is_charged_to_its_budgets() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    // Smaller than any request: the stream passes on headroom, and its cost, settled from its
    // last usage event, spends the budget.
    let gw = budget_gateway(1e-9, clock).await;
    let mut body = chat_body("openai/gpt-4o");
    body["stream"] = json!(true);
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-bf-vk", "sk-bf-budget")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains("[DONE]"), "{text}");
    let (status, refused) = chat(&gw, "openai/gpt-4o", &[("x-bf-vk", "sk-bf-budget")]).await;
    assert_eq!(status, 402, "{refused}");
    assert_eq!(refused["error"]["code"], "budget_exceeded");
}

/// A budget's spend and a rate limit's count survive a restart: saved to the config store in the
/// background and at shutdown, put back at start.
#[tokio::test]
async fn usage_survives_a_restart() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let config = json!({
        "providers": {"openai": {
            "keys": [{"name": "k", "value": "sk-restart-test-01", "models": [], "weight": 1.0}],
            "network_config": {"base_url": mock.base_url()}
        }},
        "governance": {
            "rate_limits": [{"id": "rl-3", "request_max_limit": 3, "request_reset_duration": "1d"}],
            "virtual_keys": [{"id": "vk-r", "name": "r", "value": "sk-bf-restart",
                              "rate_limit_id": "rl-3",
                              "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]}]
        }
    });
    std::fs::write(&path, config.to_string()).unwrap();
    let app_dir = dir.path().join("app");
    let args = [
        "--config",
        path.to_str().unwrap(),
        "--app-dir",
        app_dir.to_str().unwrap(),
    ];
    let client = reqwest::Client::new();
    let post = |url: String| {
        client
            .post(format!("{url}/v1/chat/completions"))
            .header("x-bf-vk", "sk-bf-restart")
            .json(&chat_body("openai/gpt-4o"))
            .send()
    };
    let served = crate::cli::serve(&args, &[]).await;
    for _ in 0..2 {
        assert_eq!(post(served.url.clone()).await.unwrap().status(), 200);
    }
    served.stop().await;

    let served = crate::cli::serve(&args, &[]).await;
    assert_eq!(post(served.url.clone()).await.unwrap().status(), 200);
    let refused = post(served.url.clone()).await.unwrap();
    assert_eq!(
        refused.status(),
        429,
        "2 before the restart + 1 after = the limit of 3"
    );
    served.stop().await;
}
