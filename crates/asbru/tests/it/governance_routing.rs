//! Where governance sends requests, through the real router: the virtual key's weighted
//! providers (automatic fallbacks, providers over their limits skipped), routing rules (scopes,
//! priorities, pinned keys, their fallbacks), and the limits of `model_configs` and governance
//! `providers`, on `/v1`, the Anthropic and GenAI drop-in routes, and streams.

use crate::harness::{TestGateway, chat_body, sse_data};
use asbru_engine::GatewayOptions;
use asbru_engine::asbru_governance::counters::ManualClock;
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// `openai` (keys `k1`, `k2`) on the harness's mock, `groq` on the second mock returned, and
/// `governance` as given; the gateway's randomness seeded.
async fn gateway(governance: Value) -> (TestGateway, MockServer) {
    let openai = MockServer::start(MockOptions::default()).await.unwrap();
    let groq = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({
        "providers": {
            "openai": {
                "keys": [
                    {"id": "k1", "name": "one", "value": "sk-one", "weight": 1},
                    {"id": "k2", "name": "two", "value": "sk-two", "weight": 1}
                ],
                "network_config": {"base_url": openai.base_url()}
            },
            "groq": {
                "keys": [{"id": "g1", "name": "g", "value": "gsk-g", "weight": 1}],
                "network_config": {"base_url": groq.base_url()}
            }
        },
        "governance": governance
    });
    let options = GatewayOptions {
        seed: Some(7),
        governance_clock: Some(Arc::new(ManualClock::new(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        ))),
        ..GatewayOptions::default()
    };
    let gw = TestGateway::start_with_options(openai, config, HashMap::new(), options).await;
    (gw, groq)
}

async fn chat(gw: &TestGateway, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    gw.post_with("/v1/chat/completions", body, headers).await
}

/// A key balancing `gpt-4o` over openai (0.8) and groq (0.2); anthropic is allowed but
/// weightless, and not configured anyway.
fn balanced(openai: f64, groq: f64) -> Value {
    json!({
        "virtual_keys": [{
            "id": "vk-lb", "name": "balanced", "value": "sk-bf-lb",
            "provider_configs": [
                {"provider": "openai", "allowed_models": ["gpt-4o"], "weight": openai},
                {"provider": "groq", "allowed_models": ["gpt-4o"], "weight": groq},
                {"provider": "anthropic", "allowed_models": ["*"], "weight": null}
            ]
        }]
    })
}

#[tokio::test]
async fn a_bare_model_is_spread_over_the_keys_providers_by_weight() {
    let (gw, groq) = gateway(balanced(0.8, 0.2)).await;
    let vk = [("x-bf-vk", "sk-bf-lb")];
    let mut served = HashMap::<String, u32>::new();
    for _ in 0..60 {
        let (status, answer) = chat(&gw, chat_body("gpt-4o"), &vk).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["extra_fields"]["routing_engines_used"],
            json!(["governance"])
        );
        assert_eq!(answer["extra_fields"]["model_requested"], "gpt-4o");
        let provider = answer["extra_fields"]["provider"]
            .as_str()
            .unwrap()
            .to_owned();
        *served.entry(provider).or_default() += 1;
    }
    let openai = served.get("openai").copied().unwrap_or(0);
    let groq_count = served.get("groq").copied().unwrap_or(0);
    assert_eq!(openai + groq_count, 60, "{served:?}");
    assert!(
        (38..=56).contains(&openai),
        "about 80% to openai: {served:?}"
    );
    assert!(groq_count >= 4, "about 20% to groq: {served:?}");
    assert_eq!(gw.mock.requests().len() as u32, openai);
    assert_eq!(groq.requests().len() as u32, groq_count);
    assert_eq!(groq.requests()[0].json().unwrap()["model"], "gpt-4o");

    // Naming the provider bypasses the weights.
    let before = groq.requests().len();
    for _ in 0..5 {
        let (status, answer) = chat(&gw, chat_body("groq/gpt-4o"), &vk).await;
        assert_eq!(status, 200, "{answer}");
        assert!(answer["extra_fields"].get("routing_engines_used").is_none());
    }
    assert_eq!(groq.requests().len(), before + 5);
}

#[tokio::test]
async fn the_other_eligible_providers_become_fallbacks_unless_the_request_has_its_own() {
    let (gw, groq) = gateway(balanced(1.0, 0.0)).await;
    let vk = [("x-bf-vk", "sk-bf-lb")];
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "down".into(),
    });
    let (status, answer) = chat(&gw, chat_body("gpt-4o"), &vk).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "groq");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    assert_eq!(groq.requests().len(), 1);

    // The request's own fallbacks replace the automatic ones.
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "down".into(),
    });
    let mut body = chat_body("gpt-4o");
    body["fallbacks"] = json!(["openai/gpt-4o"]);
    let (status, answer) = chat(&gw, body, &vk).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "openai");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    assert_eq!(groq.requests().len(), 1, "groq was not added as a fallback");
}

#[tokio::test]
async fn a_provider_over_its_budget_is_left_out_of_the_draw() {
    let mut governance = balanced(1.0, 0.0);
    governance["budgets"] = json!([{"id": "b-openai", "max_limit": 1e-9, "reset_duration": "1d"}]);
    governance["virtual_keys"][0]["provider_configs"][0]["budget_id"] = json!("b-openai");
    let (gw, groq) = gateway(governance).await;
    let vk = [("x-bf-vk", "sk-bf-lb")];
    // Headroom lets the first through; its cost uses the budget up.
    let (status, answer) = chat(&gw, chat_body("gpt-4o"), &vk).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "openai");
    for _ in 0..3 {
        let (status, answer) = chat(&gw, chat_body("gpt-4o"), &vk).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["extra_fields"]["provider"], "groq", "{answer}");
    }
    assert_eq!(gw.mock.requests().len(), 1);
    assert_eq!(groq.requests().len(), 3);
    // Named explicitly, the spent provider is refused by its budget.
    let (status, answer) = chat(&gw, chat_body("openai/gpt-4o"), &vk).await;
    assert_eq!(status, 402, "{answer}");
    assert_eq!(answer["error"]["code"], "budget_exceeded");
}

#[tokio::test]
async fn load_balancing_works_on_the_anthropic_and_genai_routes_and_streams() {
    let (gw, groq) = gateway(balanced(0.0, 1.0)).await;
    let (status, answer) = gw
        .post_with(
            "/anthropic/v1/messages",
            json!({"model": "gpt-4o", "max_tokens": 10,
                   "messages": [{"role": "user", "content": "Hello!"}]}),
            &[("x-api-key", "sk-bf-lb")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "message");
    assert_eq!(groq.requests().len(), 1);

    let (status, answer) = gw
        .post_with(
            "/genai/v1beta/models/gpt-4o:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "Hello!"}]}]}),
            &[("x-goog-api-key", "sk-bf-lb")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["candidates"].is_array(), "{answer}");
    assert_eq!(groq.requests().len(), 2);

    let mut body = chat_body("gpt-4o");
    body["stream"] = json!(true);
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-bf-vk", "sk-bf-lb")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["extra_fields"]["provider"], "groq");
    assert_eq!(
        first["extra_fields"]["routing_engines_used"],
        json!(["governance"])
    );
    assert_eq!(groq.requests().len(), 3);
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn a_model_config_budget_refuses_every_request_for_the_model() {
    let (gw, _groq) = gateway(json!({
        "budgets": [{"id": "b-4o", "max_limit": 1e-9, "reset_duration": "1d"}],
        "model_configs": [{"id": "mc", "model_name": "gpt-4o", "budget_id": "b-4o"}],
        "virtual_keys": [{"id": "vk", "name": "k", "value": "sk-bf-k",
                          "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]}]
    }))
    .await;
    // Without a virtual key too (Bifrost checks models and providers before any key).
    let (status, answer) = chat(&gw, chat_body("openai/gpt-4o"), &[]).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = chat(&gw, chat_body("openai/gpt-4o"), &[]).await;
    assert_eq!(status, 402, "{answer}");
    assert_eq!(answer["error"]["code"], "budget_exceeded");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'b-4o'"),
        "{answer}"
    );
    let (status, answer) = chat(&gw, chat_body("openai/gpt-4o"), &[("x-bf-vk", "sk-bf-k")]).await;
    assert_eq!(status, 402, "{answer}");
    // Other models are not limited.
    let (status, answer) = chat(&gw, chat_body("openai/gpt-4o-mini"), &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(gw.mock.requests().len(), 2);
}

#[tokio::test]
async fn a_provider_rate_limit_refuses_and_holds_fallbacks_to_it() {
    let (gw, groq) = gateway(json!({
        "rate_limits": [{"id": "rl-groq", "request_max_limit": 1, "request_reset_duration": "1h"}],
        "providers": [{"name": "groq", "rate_limit_id": "rl-groq"}]
    }))
    .await;
    let (status, answer) = chat(&gw, chat_body("groq/llama-3.1-8b-instant"), &[]).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = chat(&gw, chat_body("groq/llama-3.1-8b-instant"), &[]).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["error"]["code"], "request_limited");
    // Another provider is not limited; a fallback to the spent one is refused, not sent.
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "down".into(),
    });
    let mut body = chat_body("openai/gpt-4o");
    body["fallbacks"] = json!(["groq/llama-3.1-8b-instant"]);
    let (status, answer) = chat(&gw, body, &[]).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(groq.requests().len(), 1);
    let (status, _) = chat(&gw, chat_body("openai/gpt-4o"), &[]).await;
    assert_eq!(status, 200);
}

/// Rules at every scope: the team's beats the global ones; among global rules the lower
/// priority wins; one pins a key and brings its own fallbacks.
fn ruled() -> Value {
    json!({
        "customers": [{"id": "cust-1", "name": "Acme"}],
        "teams": [{"id": "team-1", "name": "ML", "customer_id": "cust-1"}],
        "virtual_keys": [
            {"id": "vk-team", "name": "team-key", "value": "sk-bf-team", "team_id": "team-1",
             "provider_configs": [{"provider": "openai", "allowed_models": ["*"]},
                                  {"provider": "groq", "allowed_models": ["*"]}]},
            {"id": "vk-solo", "name": "solo", "value": "sk-bf-solo",
             "provider_configs": [{"provider": "openai", "allowed_models": ["*"]},
                                  {"provider": "groq", "allowed_models": ["*"]}]}
        ],
        "routing_rules": [
            {"id": "premium", "name": "Premium tier", "priority": 2,
             "cel_expression": "headers[\"x-tier\"] == \"premium\"",
             "targets": [{"provider": "openai", "model": "gpt-4o", "key_id": "k2", "weight": 1}],
             "fallbacks": ["groq/llama-3.1-70b"]},
            {"id": "cheap", "name": "Cheap", "priority": 1,
             "cel_expression": "model.startsWith(\"cheap\")",
             "targets": [{"provider": "groq", "model": "llama-3.1-8b-instant", "weight": 1}]},
            {"id": "team-rule", "name": "ML team", "scope": "team", "scope_id": "team-1",
             "priority": 9, "cel_expression": "model == \"gpt-4o\"",
             "targets": [{"provider": "groq", "weight": 1}]},
            {"id": "off", "name": "Disabled", "enabled": false,
             "targets": [{"provider": "groq", "weight": 1}]}
        ]
    })
}

#[tokio::test]
async fn routing_rules_go_by_scope_then_priority_and_pin_keys() {
    let (gw, groq) = gateway(ruled()).await;
    let premium = [("x-tier", "premium")];
    let (status, answer) = chat(&gw, chat_body("openai/gpt-4o-mini"), &premium).await;
    assert_eq!(status, 200, "{answer}");
    let extra = &answer["extra_fields"];
    assert_eq!(extra["routing_rule_id"], "premium");
    assert_eq!(extra["routing_rule_name"], "Premium tier");
    assert_eq!(extra["routing_engines_used"], json!(["routing-rule"]));
    assert_eq!(extra["provider"], "openai");
    assert_eq!(extra["model_requested"], "gpt-4o");
    let sent = &gw.mock.requests()[0];
    assert_eq!(sent.json().unwrap()["model"], "gpt-4o");
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer sk-two"),
        "key k2 pinned"
    );

    // Priority: "cheap" (1) runs before "premium" (2).
    let (status, answer) = chat(&gw, chat_body("openai/cheap-model"), &premium).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["routing_rule_id"], "cheap");
    assert_eq!(answer["extra_fields"]["provider"], "groq");
    assert_eq!(
        groq.requests()[0].json().unwrap()["model"],
        "llama-3.1-8b-instant"
    );

    // Scope: the team's rule beats the global ones for its keys; a target without a model
    // keeps the request's.
    let (status, answer) = chat(
        &gw,
        chat_body("openai/gpt-4o"),
        &[("x-bf-vk", "sk-bf-team"), ("x-tier", "premium")],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["routing_rule_id"], "team-rule");
    assert_eq!(answer["extra_fields"]["provider"], "groq");
    assert_eq!(groq.requests()[1].json().unwrap()["model"], "gpt-4o");
    // Another key of no team gets the global rule.
    let (status, answer) = chat(
        &gw,
        chat_body("openai/gpt-4o"),
        &[("x-bf-vk", "sk-bf-solo"), ("x-tier", "premium")],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["routing_rule_id"], "premium");

    // No rule matches: the request goes where it asked, unmarked.
    let (status, answer) = chat(&gw, chat_body("openai/gpt-4o-mini"), &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["extra_fields"].get("routing_rule_id").is_none(),
        "{answer}"
    );
    assert_eq!(answer["extra_fields"]["model_requested"], "gpt-4o-mini");
}

#[tokio::test]
async fn a_rules_fallbacks_replace_the_requests() {
    let (gw, groq) = gateway(ruled()).await;
    gw.mock.push_fault(Fault::Status {
        status: 503,
        message: "down".into(),
    });
    let mut body = chat_body("openai/gpt-4o-mini");
    body["fallbacks"] = json!(["openai/gpt-3.5-turbo"]);
    let (status, answer) = chat(&gw, body, &[("x-tier", "premium")]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["extra_fields"]["provider"], "groq");
    assert_eq!(answer["extra_fields"]["fallback_index"], 1);
    assert_eq!(answer["extra_fields"]["routing_rule_id"], "premium");
    assert_eq!(groq.requests()[0].json().unwrap()["model"], "llama-3.1-70b");
    assert_eq!(
        gw.mock.requests().len(),
        1,
        "the request's own fallback was not tried"
    );
}

#[tokio::test]
async fn routing_rules_apply_on_the_anthropic_and_genai_routes_and_streams() {
    let (gw, groq) = gateway(ruled()).await;
    let (status, answer) = gw
        .post_with(
            "/anthropic/v1/messages",
            json!({"model": "openai/cheap-1", "max_tokens": 10,
                   "messages": [{"role": "user", "content": "Hello!"}]}),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "message");
    assert_eq!(groq.requests().len(), 1);

    let (status, answer) = gw
        .post_with(
            "/genai/v1beta/models/openai/gpt-4o-mini:generateContent",
            json!({"contents": [{"role": "user", "parts": [{"text": "Hello!"}]}]}),
            &[("x-tier", "premium")],
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["candidates"].is_array(), "{answer}");
    let sent = &gw.mock.requests()[0];
    assert_eq!(sent.json().unwrap()["model"], "gpt-4o");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-two"));

    let mut body = chat_body("openai/gpt-4o-mini");
    body["stream"] = json!(true);
    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("x-tier", "premium")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let events = sse_data(response).await;
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["extra_fields"]["routing_rule_id"], "premium");
    assert_eq!(first["extra_fields"]["model_requested"], "gpt-4o");
}

#[tokio::test]
async fn the_binary_labels_metrics_with_the_rule_that_routed() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({
        "providers": {"openai": {"keys": [{"id": "k1", "name": "one", "value": "sk-one", "weight": 1}],
                                 "network_config": {"base_url": mock.base_url()}}},
        "governance": {"routing_rules": [
            {"id": "premium", "name": "Premium tier", "cel_expression": "headers[\"x-tier\"] == \"premium\"",
             "targets": [{"provider": "openai", "model": "gpt-4o", "weight": 1}]}]}
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let served = crate::cli::serve(&["--config", path.to_str().unwrap()], &[]).await;
    let client = reqwest::Client::new();
    for tier in ["premium", "basic"] {
        let response = client
            .post(format!("{}/v1/chat/completions", served.url))
            .header("x-tier", tier)
            .json(&chat_body("openai/gpt-4o-mini"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let text = client
        .get(format!("{}/metrics", served.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let success: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("bifrost_success_requests_total{"))
        .collect();
    let routed: Vec<&&str> = success
        .iter()
        .filter(|l| {
            l.contains("routing_rule_id=\"premium\"")
                && l.contains("routing_rule_name=\"Premium tier\"")
                && l.contains("routing_engine_used=\"routing-rule\"")
        })
        .collect();
    assert_eq!(routed.len(), 1, "{success:#?}");
    assert!(routed[0].ends_with(" 1"), "{success:#?}");
    assert!(
        success
            .iter()
            .any(|l| l.contains("routing_rule_id=\"\"") && l.ends_with(" 1")),
        "the unrouted request is labelled with no rule: {success:#?}"
    );
}
