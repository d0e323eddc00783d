//! The `governance` section: Bifrost's published examples parse, and every mistake is reported
//! at its exact path.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]

use std::collections::HashMap;

use asbru_governance::counters::{CounterRef, Limits, ManualClock, Usage, usd_to_nanos};
use asbru_governance::duration::ResetDuration;
use asbru_governance::model::{Governance, Owner};
use asbru_governance::parse::{Issue, parse};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["governance"].clone()
}

fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn ok(section: &Value) -> Governance {
    match parse(section, &|_: &str| None) {
        Ok(g) => g,
        Err(issues) => panic!("unexpected issues: {issues:#?}"),
    }
}

fn issues(section: &Value) -> Vec<(String, String)> {
    parse(section, &|_: &str| None)
        .unwrap_err()
        .into_iter()
        .map(|Issue { path, message }| (path, message))
        .collect()
}

fn has(issues: &[(String, String)], path: &str, message: &str) -> bool {
    issues.iter().any(|(p, m)| p == path && m == message)
}

#[test]
fn example_with_virtual_keys_parses() {
    let section = fixture("example-withvirtualkeys.governance.json");
    let env = env_of(&[("BIFROST_VK_PROD_ASSISTANT_US_01", "sk-bf-us-secret")]);
    let g = parse(&section, &env).unwrap();
    assert_eq!(g.virtual_keys.len(), 2);
    let us = &g.virtual_keys[0];
    assert_eq!(us.id, "sk-bf-vk-prod-assistant-us-01");
    assert_eq!(us.value, "sk-bf-us-secret");
    assert!(us.is_active);
    assert_eq!(us.owner, Owner::None);
    assert_eq!(us.provider_configs.len(), 3);
    assert_eq!(us.provider_configs[1].provider, "vertex");
    assert_eq!(us.provider_configs[1].weight, Some(0.5));
    assert_eq!(
        us.provider_configs[1].keys,
        ["vertex-us-east1-prod", "vertex-global-prod"]
    );
    assert_eq!(g.virtual_keys[1].value, "sk-bf-vk-prod-assistant-eu-01");
    assert_eq!(
        g.virtual_key_by_value("sk-bf-us-secret")
            .map(|vk| vk.name.as_str()),
        Some("prod-assistant-us-key-01-configurations")
    );
    assert!(g.auth_config.is_some());
    assert!(g.ignored.is_empty(), "{:?}", g.ignored);
}

#[test]
fn example_with_virtual_keys_reports_the_unset_variable() {
    let section = fixture("example-withvirtualkeys.governance.json");
    let found = parse(&section, &|_: &str| None).unwrap_err();
    assert_eq!(
        found,
        [Issue {
            path: "governance.virtual_keys[0].value".into(),
            message: "environment variable BIFROST_VK_PROD_ASSISTANT_US_01 is not set".into(),
        }]
    );
}

#[test]
fn other_published_examples_parse() {
    // A key without a name, and provider keys given as full key objects.
    let g = ok(&fixture("example-withconfigstore.governance.json"));
    assert_eq!(g.virtual_keys[0].name, "vk-gpt");
    assert_eq!(
        g.virtual_keys[0].provider_configs[0].keys,
        ["8c52039e-38c6-48b2-8016-0bd884b7befb"]
    );
    assert_eq!(
        g.virtual_keys[0].provider_configs[0].allowed_models.len(),
        21
    );
    // MCP configs are kept as written.
    let env = env_of(&[("BIFROST_VK_AI_PORTAL", "a"), ("BIFROST_VK_INTERNAL", "b")]);
    let g = parse(
        &fixture("example-withpostgresmcpclientsinconfig.governance.json"),
        &env,
    )
    .unwrap();
    assert_eq!(
        g.virtual_keys[0].mcp_configs[1]["mcp_client_name"],
        "CalendarService"
    );
    assert_eq!(
        g.virtual_keys[0].description.as_deref(),
        Some("Virtual key for AI portal with MCP access to weather and calendar services")
    );
}

fn full() -> Value {
    json!({
        "budgets": [
            {"id": "b-cust", "max_limit": 1000, "reset_duration": "1M", "calendar_aligned": true},
            {"id": "b-team", "max_limit": 100.5, "reset_duration": "1w", "current_usage": 12.25, "last_reset": "2026-03-16T00:00:00Z"},
            {"id": "b-vk", "max_limit": 10, "reset_duration": "1d"},
            {"id": "b-vk-month", "max_limit": 50, "reset_duration": "monthly"},
            {"id": "b-pc", "max_limit": 5, "reset_duration": "1h"},
            {"id": "b-model", "max_limit": 20, "reset_duration": "1d"},
            {"id": "b-prov", "max_limit": 500, "reset_duration": "1Y"},
            {"id": "b-vk2", "max_limit": 1, "reset_duration": "1d"},
            {"id": "b-pc2", "max_limit": 1, "reset_duration": "1M"}
        ],
        "rate_limits": [
            {"id": "rl-vk", "request_max_limit": 100, "request_reset_duration": "1m", "token_max_limit": 50000, "token_reset_duration": "1h", "token_current_usage": 7},
            {"id": "rl-pc", "request_max_limit": 10, "request_reset_duration": "30s"},
            {"id": "rl-team", "token_max_limit": 1000000, "token_reset_duration": "1d"},
            {"id": "rl-vk2", "request_max_limit": 5, "request_reset_duration": "1d"}
        ],
        "customers": [{"id": "c1", "name": "Acme", "budget_id": "b-cust"}],
        "teams": [{"id": "t1", "name": "Search", "customer_id": "c1", "budget_ids": ["b-team"], "rate_limit_id": "rl-team", "profile": {"x": 1}}],
        "virtual_keys": [
            {
                "id": "vk1", "name": "search-prod", "value": "sk-bf-1", "team_id": "t1",
                "budgets": ["b-vk", "b-vk-month"], "rate_limit_id": "rl-vk",
                "provider_configs": [
                    {"provider": "openai", "weight": 0.7, "allowed_models": ["gpt-4o"], "key_ids": ["*"], "budget_id": "b-pc", "rate_limit_id": "rl-pc"},
                    {"provider": "anthropic", "weight": null, "allowed_models": ["*"], "keys": ["k1"],
                     "budgets": [{"max_limit": 2, "reset_duration": "1d"}]}
                ],
                "mcp_configs": [{"mcp_client_name": "weather", "tools_to_execute": ["*"]}]
            },
            {"id": "vk2", "value": "sk-bf-2", "customer_id": "c1", "is_active": false,
             "calendar_aligned": true, "budget_id": "b-vk2", "rate_limit_id": "rl-vk2", "allow_all_providers": true,
             "provider_configs": [{"provider": "openai", "budget_id": "b-pc2"}]}
        ],
        "model_configs": [{"id": "m1", "model_name": "gpt-4o", "provider": "openai", "budget_id": "b-model"}],
        "providers": [{"name": "openai", "budget_id": "b-prov", "send_back_raw_request": true}],
        "routing_rules": [{"id": "r1", "cel_expression": "true"}]
    })
}

#[test]
fn every_entity_and_both_data_model_shapes() {
    let g = ok(&full());
    assert_eq!(g.budgets.len(), 10, "nine declared plus one inline");
    let team_budget = g.budget("b-team").unwrap();
    assert_eq!(
        team_budget.reset_duration,
        ResetDuration::Seconds(7 * 86_400)
    );
    assert_eq!(team_budget.current_usage, 12.25);
    assert_eq!(
        team_budget.last_reset,
        Some("2026-03-16T00:00:00Z".parse().unwrap())
    );
    assert!(g.budget("b-cust").unwrap().calendar_aligned);
    let rl = g.rate_limit("rl-vk").unwrap();
    assert_eq!(rl.requests.as_ref().unwrap().max, 100);
    assert_eq!(rl.tokens.as_ref().unwrap().current_usage, 7);
    assert!(g.rate_limit("rl-pc").unwrap().tokens.is_none());
    assert_eq!(g.teams[0].customer_id.as_deref(), Some("c1"));
    assert_eq!(g.teams[0].budget_ids, ["b-team"]);
    let vk = &g.virtual_keys[0];
    assert_eq!(vk.owner, Owner::Team("t1".into()));
    assert_eq!(vk.budget_ids, ["b-vk", "b-vk-month"]);
    let openai = &vk.provider_configs[0];
    assert!(openai.allow_all_keys && openai.keys.is_empty());
    assert_eq!(openai.weight, Some(0.7));
    let anthropic = &vk.provider_configs[1];
    assert_eq!(anthropic.weight, None);
    assert_eq!(anthropic.keys, ["k1"]);
    assert_eq!(
        anthropic.budget_ids,
        ["governance.virtual_keys[0].provider_configs[1].budgets[0]"]
    );
    assert_eq!(
        g.budget("governance.virtual_keys[0].provider_configs[1].budgets[0]")
            .unwrap()
            .max_limit,
        2.0
    );
    assert_eq!(g.virtual_keys[1].owner, Owner::Customer("c1".into()));
    assert!(!g.virtual_keys[1].is_active);
    assert!(g.virtual_keys[1].allow_all_providers && !vk.allow_all_providers);
    assert!(
        g.virtual_keys[1].calendar_aligned
            && g.virtual_keys[1].provider_configs[0].calendar_aligned
    );
    assert_eq!(
        g.virtual_keys[1].provider_configs[0].weight, None,
        "absent weight: not load balanced"
    );
    assert!(g.budget("b-pc2").unwrap().calendar_aligned);
    assert!(g.rate_limit("rl-vk2").unwrap().calendar_aligned);
    assert!(!g.budget("b-vk").unwrap().calendar_aligned);
    assert_eq!(g.virtual_keys[1].name, "vk2");
    assert_eq!(g.model_configs[0].provider.as_deref(), Some("openai"));
    assert_eq!(g.routing_rules.len(), 1);
    assert_eq!(g.ignored, ["governance.providers[0].send_back_raw_request"]);
}

#[test]
fn counters_come_from_the_config() {
    let g = ok(&full());
    let clock = std::sync::Arc::new(ManualClock::new("2026-03-18T12:00:00Z".parse().unwrap()));
    let limits = Limits::new(clock);
    g.load_into(&limits);
    // 10 budgets, rl-vk (2 windows), rl-pc (requests), rl-team (tokens), rl-vk2 (requests).
    assert_eq!(g.counter_specs().len(), 15);
    // vk2 is calendar aligned: its budget, its provider config's budget and its rate limit
    // reset at midnight / on the 1st.
    assert_eq!(
        limits
            .snapshot(&CounterRef::budget("b-vk2"))
            .unwrap()
            .window_end,
        "2026-03-19T00:00:00Z".parse().unwrap()
    );
    assert_eq!(
        limits
            .snapshot(&CounterRef::budget("b-pc2"))
            .unwrap()
            .window_end,
        "2026-04-01T00:00:00Z".parse().unwrap()
    );
    assert_eq!(
        limits
            .snapshot(&CounterRef::requests("rl-vk2"))
            .unwrap()
            .window_start,
        "2026-03-18T00:00:00Z".parse().unwrap()
    );
    // vk1 is not: its daily budget rolls from when it was loaded.
    assert_eq!(
        limits
            .snapshot(&CounterRef::budget("b-vk"))
            .unwrap()
            .window_end,
        "2026-03-19T12:00:00Z".parse().unwrap()
    );
    let team = limits.snapshot(&CounterRef::budget("b-team")).unwrap();
    assert_eq!(team.used, usd_to_nanos(12.25));
    assert_eq!(team.window_end, "2026-03-23T00:00:00Z".parse().unwrap());
    let cust = limits.snapshot(&CounterRef::budget("b-cust")).unwrap();
    assert_eq!(cust.window_end, "2026-04-01T00:00:00Z".parse().unwrap());
    assert_eq!(
        limits.snapshot(&CounterRef::tokens("rl-vk")).unwrap().used,
        7
    );
    assert!(limits.snapshot(&CounterRef::tokens("rl-pc")).is_none());
    let a = limits
        .admit(
            &[CounterRef::requests("rl-pc"), CounterRef::budget("b-pc")],
            Usage::request(0.01, 100),
        )
        .unwrap();
    a.settle(Usage::request(0.002, 40));
    assert_eq!(
        limits
            .snapshot(&CounterRef::requests("rl-pc"))
            .unwrap()
            .used,
        1
    );
}

#[test]
fn every_mistake_is_reported_with_its_path() {
    let section = json!({
        "budgets": [
            {"id": "b1", "max_limit": -5, "reset_duration": "1d"},
            {"id": "b1", "max_limit": 5, "reset_duration": "1x"},
            {"id": "b2", "max_limit": 5, "reset_duration": "1d"},
            {"id": "b3", "max_limit": 5, "reset_duration": "daily", "last_reset": "yesterday"},
            {"max_limit": 5}
        ],
        "rate_limits": [
            {"id": "r1", "request_max_limit": -1, "request_reset_duration": "1m"},
            {"id": "r2", "token_max_limit": 10},
            {"id": "r3", "token_max_limit": 1.5, "token_reset_duration": "0s"}
        ],
        "customers": [{"id": "c1"}, {"id": "c1", "name": "again", "budget_id": "nope"}],
        "teams": [{"id": "t1", "name": "T", "customer_id": "c-x", "rate_limit_id": "r-x"}],
        "virtual_keys": [
            {"id": "vk1", "value": "sk-1", "team_id": "t1", "customer_id": "c1"},
            {"id": "vk2", "value": "env.MISSING"},
            {"id": "vk3", "value": "sk-3", "budget_id": "b-x", "team_id": "t-x", "is_active": "yes",
             "provider_configs": [{"weight": -1, "rate_limit_id": "r-y", "budget_ids": ["b2", "b3"]}]},
            {"id": "vk1", "value": "sk-1"},
            {"id": "vk5"},
            "not an object"
        ],
        "model_configs": [{"id": "m1"}],
        "providers": [{"name": "openai"}, {"name": "openai"}]
    });
    let found = issues(&section);
    let expected = [
        (
            "governance.budgets[0].max_limit",
            "must not be negative (got -5)",
        ),
        (
            "governance.budgets[1].reset_duration",
            "invalid reset duration \"1x\": unknown unit (expected one of s, m, h, d, w, M, Y)",
        ),
        (
            "governance.budgets[3].last_reset",
            "invalid date-time \"yesterday\" (expected RFC 3339)",
        ),
        ("governance.budgets[4].id", "is required"),
        ("governance.budgets[4].reset_duration", "is required"),
        (
            "governance.rate_limits[0].request_max_limit",
            "must not be negative (got -1)",
        ),
        (
            "governance.rate_limits[1].token_reset_duration",
            "is required with token_max_limit",
        ),
        (
            "governance.rate_limits[2].token_max_limit",
            "expected a whole number (got 1.5)",
        ),
        (
            "governance.rate_limits[2].token_reset_duration",
            "invalid reset duration \"0s\": must be longer than zero",
        ),
        ("governance.customers[0].name", "is required"),
        (
            "governance.teams[0].customer_id",
            "unknown customer \"c-x\"",
        ),
        (
            "governance.teams[0].rate_limit_id",
            "unknown rate limit \"r-x\"",
        ),
        (
            "governance.virtual_keys[0]",
            "team_id and customer_id are mutually exclusive; a virtual key belongs to a team or a customer",
        ),
        (
            "governance.virtual_keys[1].value",
            "environment variable MISSING is not set",
        ),
        (
            "governance.virtual_keys[2].budget_id",
            "unknown budget \"b-x\"",
        ),
        ("governance.virtual_keys[2].team_id", "unknown team \"t-x\""),
        (
            "governance.virtual_keys[2].is_active",
            "expected true or false",
        ),
        (
            "governance.virtual_keys[2].provider_configs[0].provider",
            "is required",
        ),
        (
            "governance.virtual_keys[2].provider_configs[0].weight",
            "must not be negative (got -1)",
        ),
        (
            "governance.virtual_keys[2].provider_configs[0].rate_limit_id",
            "unknown rate limit \"r-y\"",
        ),
        (
            "governance.virtual_keys[3].id",
            "duplicate virtual key \"vk1\" (first at governance.virtual_keys[0])",
        ),
        (
            "governance.virtual_keys[3].value",
            "duplicate virtual key value (hidden) (first at governance.virtual_keys[0])",
        ),
        ("governance.virtual_keys[4].value", "is required"),
        ("governance.virtual_keys[5]", "expected an object"),
        ("governance.model_configs[0].model_name", "is required"),
        (
            "governance.providers[1].name",
            "duplicate provider \"openai\" (first at governance.providers[0])",
        ),
        (
            "governance.customers[1].budget_id",
            "unknown budget \"nope\"",
        ),
        (
            "governance.virtual_keys[2].provider_configs[0].budget_ids[1]",
            "budgets \"b2\" and \"b3\" of governance.virtual_keys[2].provider_configs[0] both reset every 1d; each budget of an owner needs its own reset duration",
        ),
    ];
    for (path, message) in expected {
        assert!(
            has(&found, path, message),
            "missing {path}: {message}\nfound: {found:#?}"
        );
    }
    // b1 is duplicated, but its second copy failed to parse, so only one b1 exists.
    assert!(
        !found.iter().any(|(p, _)| p == "governance.budgets[1].id"),
        "{found:#?}"
    );
    assert_eq!(
        found.len(),
        expected.len(),
        "unexpected extra issues: {found:#?}"
    );
}

#[test]
fn duplicate_budget_ids_and_wrong_shapes() {
    let found = issues(&json!({
        "budgets": [
            {"id": "b1", "max_limit": 1, "reset_duration": "1d"},
            {"id": "b1", "max_limit": 2, "reset_duration": "1w"}
        ],
        "virtual_keys": {"id": "x"},
        "teams": [{"id": 7, "name": "T"}]
    }));
    assert!(
        has(
            &found,
            "governance.budgets[1].id",
            "duplicate budget \"b1\" (first at governance.budgets[0])"
        ),
        "{found:#?}"
    );
    assert!(
        has(&found, "governance.virtual_keys", "expected an array"),
        "{found:#?}"
    );
    assert!(
        has(&found, "governance.teams[0].id", "expected a string"),
        "{found:#?}"
    );
    assert_eq!(
        issues(&json!([])),
        [("governance".to_owned(), "expected an object".to_owned())]
    );
}

#[test]
fn empty_section_is_fine() {
    let g = ok(&json!({}));
    assert!(g.virtual_keys.is_empty() && g.budgets.is_empty());
}

#[test]
fn a_broken_entity_is_reported_once_not_again_at_each_reference() {
    let found = issues(&json!({
        "budgets": [{"id": "b1", "max_limit": 5, "reset_duration": "fortnightly"}],
        "rate_limits": [{"id": "r1", "request_max_limit": -3, "request_reset_duration": "1m"}],
        "teams": [{"id": "t1"}],
        "virtual_keys": [
            {"id": "vk1", "value": "a", "budget_id": "b1", "rate_limit_id": "r1", "team_id": "t1"},
            {"id": "vk2", "name": "vk1", "value": "b"}
        ]
    }));
    assert_eq!(
        found,
        [
            (
                "governance.budgets[0].reset_duration".to_owned(),
                "invalid reset duration \"fortnightly\": expected a number and a unit (s, m, h, d, w, M, Y) such as 30s, 1d or 1M, or daily, weekly, monthly, yearly".to_owned()
            ),
            (
                "governance.rate_limits[0].request_max_limit".to_owned(),
                "must not be negative (got -3)".to_owned()
            ),
            ("governance.teams[0].name".to_owned(), "is required".to_owned()),
            (
                "governance.virtual_keys[1].name".to_owned(),
                "duplicate virtual key name \"vk1\" (first at governance.virtual_keys[0])".to_owned()
            ),
        ]
    );
}
