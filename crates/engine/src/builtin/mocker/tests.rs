//! Rule matching, priority, probability, weights and templating, through the plugin's pre-hook.

use super::MockerPlugin;
use crate::context::{RequestContext, Route, Timings};
use crate::plugin::{Answer, Plugin, PreHook, RequestBody};
use asbru_config::mocker::MockerConfig;
use asbru_providers::Operation;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The mocker a full config's `plugins[0]` configures.
fn mocker(config: Value) -> MockerPlugin {
    let file = json!({
        "providers": {"openai": {"keys": [{"name": "k", "value": "sk-1", "weight": 1}]}},
        "plugins": [{"name": "mocker", "enabled": true, "config": config}]
    });
    let loaded = asbru_config::load_str(&file.to_string(), &|_: &str| None).unwrap();
    let config: MockerConfig = loaded.config.plugins.mocker.unwrap();
    MockerPlugin::new(config).unwrap().with_seed(7)
}

fn ctx(model: &str, stream: bool) -> RequestContext {
    let mut ctx = RequestContext::new(
        "req-1".into(),
        Operation::ChatCompletion,
        Route::default(),
        http::HeaderMap::new(),
        Timings::new(Instant::now()),
    );
    ctx.model_requested = model.to_owned();
    ctx.stream = stream;
    // As the engine resolves it with `openai` the one configured provider.
    if model.starts_with("openai/") {
        ctx.set_primary_target("openai".into(), "openai/".len());
    }
    ctx
}

fn run(plugin: &MockerPlugin, model: &str, text: &str, stream: bool) -> PreHook {
    let body = json!({"model": model, "messages": [{"role": "user", "content": text}]}).to_string();
    plugin
        .pre(&mut ctx(model, stream), &RequestBody::new(body.as_bytes()))
        .unwrap()
}

/// The chat completion's text, or a panic.
fn text_of(hook: PreHook) -> String {
    let PreHook::ShortCircuit(short) = hook else {
        panic!("expected an answer");
    };
    let Answer::Json(body) = short.answer else {
        panic!("expected JSON");
    };
    let v: Value = serde_json::from_slice(&body).unwrap();
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn success(name: &str, priority: i64, message: &str) -> Value {
    json!({"name": name, "priority": priority, "responses": [
        {"type": "success", "content": {"message": message}}
    ]})
}

#[test]
fn the_highest_priority_matching_rule_answers() {
    let m = mocker(json!({"rules": [
        success("low", 1, "low"),
        success("high", 10, "high"),
        {"name": "disabled", "enabled": false, "priority": 100, "responses": [
            {"type": "success", "content": {"message": "disabled"}}]},
    ]}));
    assert_eq!(text_of(run(&m, "openai/gpt-4o", "hi", false)), "high");
    let stats = m.stats();
    assert_eq!(stats.hits("high"), 1);
    assert_eq!(stats.hits("low"), 0);
    assert_eq!(stats.mocked_requests, 1);
}

#[test]
fn conditions_must_all_match() {
    let m = mocker(json!({"rules": [
        {"name": "weather", "priority": 5, "conditions": {
            "providers": ["openai"], "models": ["gpt-4o"], "message_regex": "(?i)weather"},
         "responses": [{"type": "success", "content": {"message": "sunny"}}]},
        {"name": "big", "priority": 4, "conditions": {"request_size": {"min": 200}},
         "responses": [{"type": "success", "content": {"message": "big"}}]},
    ], "default_behavior": "success"}));
    assert_eq!(
        text_of(run(&m, "openai/gpt-4o", "What's the WEATHER?", false)),
        "sunny"
    );
    // Wrong model, wrong text, then large enough for the size rule.
    assert_eq!(
        text_of(run(&m, "openai/gpt-4o-mini", "weather", false)),
        "Mock plugin default response"
    );
    assert_eq!(
        text_of(run(&m, "openai/gpt-4o", "hello", false)),
        "Mock plugin default response"
    );
    assert_eq!(
        text_of(run(&m, "openai/gpt-4o", &"x".repeat(300), false)),
        "big"
    );
    // A provider that is not configured is not a provider: the whole name is the model.
    assert_eq!(
        text_of(run(&m, "acme/gpt-4o", "weather", false)),
        "Mock plugin default response"
    );
}

#[test]
fn passthrough_when_nothing_matches_and_probability_zero_never_answers() {
    let m = mocker(json!({"rules": [
        {"name": "never", "probability": 0, "responses": [
            {"type": "success", "content": {"message": "x"}}]},
    ]}));
    for _ in 0..50 {
        assert!(matches!(
            run(&m, "openai/gpt-4o", "hi", false),
            PreHook::Continue
        ));
    }
    let stats = m.stats();
    assert_eq!(stats.passthrough_requests, 50);
    assert_eq!(stats.mocked_requests, 0);
}

#[test]
fn probability_one_always_answers_and_a_half_sometimes() {
    let always = mocker(
        json!({"rules": [{"name": "a", "probability": 1.0, "responses": [
        {"type": "success", "content": {"message": "x"}}]}]}),
    );
    let half = mocker(
        json!({"rules": [{"name": "h", "probability": 0.5, "responses": [
        {"type": "success", "content": {"message": "x"}}]}]}),
    );
    let mut answered = 0;
    for _ in 0..200 {
        assert!(matches!(
            run(&always, "openai/gpt-4o", "hi", false),
            PreHook::ShortCircuit(_)
        ));
        if matches!(
            run(&half, "openai/gpt-4o", "hi", false),
            PreHook::ShortCircuit(_)
        ) {
            answered += 1;
        }
    }
    assert!((60..=140).contains(&answered), "{answered} of 200");
    assert_eq!(always.stats().hits("a"), 200);
}

#[test]
fn weights_pick_responses_in_proportion() {
    let m = mocker(json!({"rules": [{"name": "w", "responses": [
        {"type": "success", "weight": 3, "content": {"message": "often"}},
        {"type": "success", "weight": 1, "content": {"message": "rarely"}},
    ]}]}));
    let often = (0..400)
        .filter(|_| text_of(run(&m, "openai/gpt-4o", "hi", false)) == "often")
        .count();
    assert!((250..=350).contains(&often), "{often} of 400");
}

#[test]
fn templates_and_content_fields() {
    let m = mocker(
        json!({"rules": [{"name": "t", "responses": [{"type": "success", "content": {
            "message_template": "Hello from {{provider}}/{{model}}",
            "model": "mock-model",
            "finish_reason": "length",
            "usage": {"prompt_tokens": 3, "completion_tokens": 4},
            "custom_fields": {"mock": true, "model": "ignored"}
        }}]}]}),
    );
    let PreHook::ShortCircuit(short) = run(&m, "openai/gpt-4o", "hi", false) else {
        panic!("expected an answer");
    };
    assert_eq!(short.provider.as_deref(), Some("openai"));
    let Answer::Json(body) = short.answer else {
        panic!("expected JSON");
    };
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from openai/gpt-4o"
    );
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["model"], "mock-model");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7})
    );
    assert_eq!(v["mock"], true);
}

#[test]
fn errors_keep_status_type_code_and_fallbacks() {
    let m = mocker(
        json!({"rules": [{"name": "e", "latency": {"type": "fixed", "min": 250},
        "responses": [{"type": "error", "allow_fallbacks": false, "error": {
            "message": "slow down", "type": "rate_limit", "code": "429", "status_code": 429}}]}]}),
    );
    let PreHook::ShortCircuit(short) = run(&m, "openai/gpt-4o", "hi", false) else {
        panic!("expected an answer");
    };
    assert_eq!(short.after, Some(Duration::from_millis(250)));
    let Answer::Error {
        error,
        allow_fallbacks,
    } = short.answer
    else {
        panic!("expected an error");
    };
    assert!(!allow_fallbacks);
    assert_eq!(error.status(), 429);
    assert_eq!(m.stats().errors_generated, 1);
}

#[test]
fn streams_are_word_chunks_ending_with_usage_and_done() {
    let m = mocker(json!({"rules": [success("s", 0, "one two three")]}));
    let PreHook::ShortCircuit(short) = run(&m, "openai/gpt-4o", "hi", true) else {
        panic!("expected an answer");
    };
    let Answer::Stream(events) = short.answer else {
        panic!("expected a stream");
    };
    let events: Vec<String> = events
        .iter()
        .map(|e| String::from_utf8(e.to_vec()).unwrap())
        .collect();
    assert_eq!(events.last().unwrap(), "data: [DONE]\n\n");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e.strip_prefix("data: ").unwrap().trim()).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "one two three");
    assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 30);
}

#[test]
fn no_rules_means_bifrosts_catch_all() {
    let m = mocker(json!({}));
    assert_eq!(
        text_of(run(&m, "openai/gpt-4o", "hi", false)),
        "This is a mock response from the Mocker plugin"
    );
    assert_eq!(m.stats().hits("default-mock"), 1);
}
