//! The `mocker` plugin's config: Bifrost's keys read into typed rules, faults reported with
//! their field paths.

use crate::common::no_env;
use asbru_config::mocker::{DefaultBehavior, LatencyKind, ResponseKind};
use asbru_config::{FieldError, LoadError, load_str};
use serde_json::{Value, json};
use std::time::Duration;

fn file(config: &Value) -> String {
    json!({
        "providers": {"openai": {"keys": [{"name": "k", "value": "sk-1", "weight": 1}]}},
        "plugins": [{"name": "mocker", "enabled": true, "config": config}]
    })
    .to_string()
}

fn errors(config: &Value) -> Vec<String> {
    match load_str(&file(config), &no_env) {
        Ok(_) => panic!("expected errors"),
        Err(LoadError::Invalid(errors)) => errors.iter().map(FieldError::to_string).collect(),
        Err(e) => panic!("expected LoadError::Invalid, got {e}"),
    }
}

#[test]
fn a_bifrost_config_is_read_with_rules_by_priority() {
    let config = json!({
        "enabled": true,
        "default_behavior": "success",
        "global_latency": {"type": "uniform", "min": 100, "max": "1.5s"},
        "rules": [
            {"name": "low", "enabled": true, "priority": 1, "probability": 0.5,
             "conditions": {"providers": ["openai"], "models": ["gpt-4o"],
                            "message_regex": "(?i)hello", "request_size": {"min": 10, "max": 5000}},
             "responses": [{"type": "success", "weight": 2, "content": {
                 "message": "hi", "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
                 "finish_reason": "length", "custom_fields": {"a": 1}}}]},
            {"name": "high", "priority": 50, "latency": {"type": "fixed", "min": "250ms"},
             "responses": [{"type": "error", "allow_fallbacks": false, "error": {
                 "message": "Rate limit exceeded", "type": "rate_limit", "code": 429, "status_code": 429}}]}
        ]
    });
    let loaded = load_str(&file(&config), &no_env).unwrap();
    let m = loaded.config.plugins.mocker.unwrap();
    assert_eq!(m.default_behavior, DefaultBehavior::Success);
    let g = m.global_latency.unwrap();
    assert_eq!(g.kind, LatencyKind::Uniform);
    assert_eq!(
        (g.min, g.max),
        (Duration::from_millis(100), Duration::from_millis(1500))
    );
    let names: Vec<&str> = m.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["high", "low"]);
    let high = &m.rules[0];
    assert_eq!(high.probability, 1.0);
    assert_eq!(high.latency.unwrap().min, Duration::from_millis(250));
    let ResponseKind::Error(e) = &high.responses[0].kind else {
        panic!("expected an error response");
    };
    assert_eq!((e.status_code, e.code.as_deref()), (Some(429), Some("429")));
    assert!(!high.responses[0].allow_fallbacks);
    let low = &m.rules[1];
    assert_eq!(low.probability, 0.5);
    assert!(
        low.conditions
            .message_regex
            .as_ref()
            .unwrap()
            .is_match("HELLO there")
    );
    assert_eq!(low.conditions.request_size, Some((10, 5000)));
    assert_eq!(low.responses[0].weight, 2.0);
}

#[test]
fn no_rules_gives_the_catch_all_and_disabled_gives_no_plugin() {
    let loaded = load_str(&file(&json!({})), &no_env).unwrap();
    let m = loaded.config.plugins.mocker.unwrap();
    assert_eq!(m.rules.len(), 1);
    assert_eq!(m.rules[0].name, "default-mock");
    let loaded = load_str(&file(&json!({"enabled": false})), &no_env).unwrap();
    assert!(loaded.config.plugins.mocker.is_none());
}

#[test]
fn every_fault_is_reported_with_its_path() {
    let got = errors(&json!({
        "default_behavior": "maybe",
        "global_latency": {"type": "gaussian", "min": 1},
        "rules": [
            {"name": "a", "probability": 1.5, "priority": 5000,
             "latency": {"type": "uniform", "min": 500, "max": 100},
             "conditions": {"message_regex": "(unclosed", "request_size": {"min": 10, "max": 5},
                            "models": [1]},
             "responses": [
                 {"type": "success", "weight": -1, "content": {}},
                 {"type": "error", "error": {"status_code": 700}},
                 {"type": "maybe"},
                 {"type": "success"}
             ]},
            {"responses": []},
            {"name": "a", "latency": {"min": "soon"}, "responses": [{"type": "error"}]}
        ]
    }));
    let p = "plugins[0].config";
    let expected = [
        format!(
            r#"{p}.global_latency.type: unknown latency type "gaussian"; expected "fixed" or "uniform""#
        ),
        format!(
            r#"{p}.default_behavior: unknown default behavior "maybe"; expected "passthrough", "success" or "error""#
        ),
        format!("{p}.rules[0].priority: must be an integer between -1000 and 1000"),
        format!("{p}.rules[0].probability: must be between 0 and 1"),
        format!("{p}.rules[0].conditions.models[0]: expected a string"),
        format!(
            "{p}.rules[0].conditions.message_regex: not a valid regular expression: unclosed group"
        ),
        format!("{p}.rules[0].conditions.request_size.max: must be >= min"),
        format!("{p}.rules[0].latency.max: must be >= min"),
        format!("{p}.rules[0].responses[0].weight: must be >= 0"),
        format!(
            "{p}.rules[0].responses[0].content.message: either message or message_template is required"
        ),
        format!("{p}.rules[0].responses[1].error.message: required"),
        format!(
            "{p}.rules[0].responses[1].error.status_code: must be an HTTP status between 100 and 599"
        ),
        format!(
            r#"{p}.rules[0].responses[2].type: unknown response type "maybe"; expected "success" or "error""#
        ),
        format!("{p}.rules[0].responses[3].content: required for a success response"),
        format!("{p}.rules[1].name: required"),
        format!("{p}.rules[1].responses: at least one response is required"),
        format!(r#"{p}.rules[2].latency.type: required: "fixed" or "uniform""#),
        format!("{p}.rules[2].responses[0].error: required for an error response"),
        format!(r#"{p}.rules[2].name: duplicate rule name "a" (rules[0] has it too)"#),
    ];
    assert_eq!(got, expected);
}
