//! Bifrost's metrics through the real binary: after a scripted set of requests across routes,
//! dialects and providers (JSON and streams, one failure), every counter and token total on
//! `/metrics` equals what was sent, histogram counts match, and custom labels come from the
//! `x-bf-prom-<label>` headers.

use crate::cli::serve;
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One sample of the Prometheus text format: name, labels, value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().unwrap(),
            }
        })
        .collect()
}

/// The sum over every series of `name` carrying all of `labels`.
fn total(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

/// Tokens as the client saw them, summed over the script.
#[derive(Default)]
struct Seen {
    input: u64,
    output: u64,
    log: Vec<(u64, u64)>,
}

impl Seen {
    fn add(&mut self, input: &Value, output: &Value) {
        self.input += input.as_u64().unwrap();
        self.output += output.as_u64().unwrap();
        self.log
            .push((input.as_u64().unwrap(), output.as_u64().unwrap()));
    }
}

/// The `data:` payloads (as JSON) of an SSE body.
fn events(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

#[tokio::test]
async fn bifrost_metrics_count_exactly_what_was_sent_on_every_route() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let network = json!({"base_url": mock.base_url(), "max_retries": 0});
    let config = json!({
        "client": {"prometheus_labels": ["team"]},
        "providers": {
            "openai": {"keys": [{"name": "oa", "value": "sk-oa", "weight": 1}], "network_config": network},
            "anthropic": {"keys": [{"name": "an", "value": "sk-an", "weight": 1}], "network_config": network},
            "gemini": {"keys": [{"name": "ge", "value": "g-key", "weight": 1}], "network_config": network}
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    let client = reqwest::Client::new();
    let post = |path: &str, team: &str, body: Value| {
        client
            .post(format!("{}{path}", served.url))
            .header("x-bf-prom-team", team)
            .json(&body)
            .send()
    };
    let mut seen = Seen::default();
    let user = json!([{"role": "user", "content": "Count these words please"}]);

    // /v1 chat, JSON: 3 for team red.
    for _ in 0..3 {
        let r: Value = post(
            "/v1/chat/completions",
            "red",
            json!({"model": "openai/gpt-4o-mini", "messages": user}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        seen.add(
            &r["usage"]["prompt_tokens"],
            &r["usage"]["completion_tokens"],
        );
    }
    // /v1 chat, streamed: 2 for team blue.
    let mut blue_cost = 0.0;
    for _ in 0..2 {
        let text = post(
            "/v1/chat/completions",
            "blue",
            json!({"model": "openai/gpt-4o-mini", "messages": user, "stream": true,
                   "stream_options": {"include_usage": true}}),
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let chunk = events(&text)
            .into_iter()
            .find(|e| e["usage"].is_object())
            .unwrap();
        let usage = chunk["usage"].clone();
        seen.add(&usage["prompt_tokens"], &usage["completion_tokens"]);
        // gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output; the usage chunk carries the cost.
        let cost = usage["prompt_tokens"].as_f64().unwrap() * 0.15e-6
            + usage["completion_tokens"].as_f64().unwrap() * 0.6e-6;
        let stamped = chunk["extra_fields"]["cost"].as_f64().unwrap();
        assert!((stamped - cost).abs() < 1e-12, "{stamped} != {cost}");
        blue_cost += cost;
    }
    // The Responses API, JSON.
    let r: Value = post(
        "/v1/responses",
        "red",
        json!({"model": "openai/gpt-4o-mini", "input": "Count these words please"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    seen.add(&r["usage"]["input_tokens"], &r["usage"]["output_tokens"]);
    // Anthropic's route to Anthropic: 2 JSON, 1 stream.
    for _ in 0..2 {
        let r: Value = post(
            "/anthropic/v1/messages",
            "red",
            json!({"model": "claude-3-5-haiku", "max_tokens": 50, "messages": user}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        seen.add(&r["usage"]["input_tokens"], &r["usage"]["output_tokens"]);
    }
    let text = post(
        "/anthropic/v1/messages",
        "green",
        json!({"model": "claude-3-5-haiku", "max_tokens": 50, "messages": user, "stream": true}),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let streamed = events(&text);
    let start = streamed
        .iter()
        .find(|e| e["type"] == "message_start")
        .unwrap();
    let delta = streamed
        .iter()
        .find(|e| e["type"] == "message_delta")
        .unwrap();
    // The input count comes with the final usage, in `message_delta` (a translated stream
    // learns it at the end); `message_start` carries it when the provider gave it up front.
    let input = start["message"]["usage"]["input_tokens"]
        .as_u64()
        .unwrap()
        .max(delta["usage"]["input_tokens"].as_u64().unwrap_or(0));
    seen.add(&json!(input), &delta["usage"]["output_tokens"]);
    // Gemini's route to Gemini.
    let r: Value = post(
        "/genai/v1beta/models/gemini-2.0-flash:generateContent",
        "red",
        json!({"contents": [{"role": "user", "parts": [{"text": "Count these words please"}]}]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    // Thinking tokens are output tokens, as OpenAI counts reasoning in `completion_tokens`.
    let meta = &r["usageMetadata"];
    let output = meta["candidatesTokenCount"].as_u64().unwrap()
        + meta["thoughtsTokenCount"].as_u64().unwrap_or(0);
    seen.add(&meta["promptTokenCount"], &json!(output));
    // One failure.
    mock.push_fault(Fault::status(503));
    let status = post(
        "/v1/chat/completions",
        "red",
        json!({"model": "openai/gpt-4o-mini", "messages": user}),
    )
    .await
    .unwrap()
    .status();
    assert_eq!(status, 503);

    let text = client
        .get(format!("{}/metrics", served.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let m = parse(&text);
    let n = |name: &str, labels: &[(&str, &str)]| total(&m, name, labels);

    // Cost: a counter, the sum of each priced request's cost.
    assert!(text.contains("# TYPE bifrost_cost_total counter"), "{text}");
    let blue = n("bifrost_cost_total", &[("team", "blue")]);
    assert!((blue - blue_cost).abs() < 1e-9, "{blue} != {blue_cost}");
    assert!(n("bifrost_cost_total", &[("provider", "anthropic")]) > 0.0);
    assert!(n("bifrost_cost_total", &[("provider", "gemini")]) > 0.0);

    // Requests, by provider and method, and outcomes.
    assert_eq!(n("bifrost_upstream_requests_total", &[]), 11.0, "{text}");
    assert_eq!(
        n(
            "bifrost_upstream_requests_total",
            &[
                ("provider", "openai"),
                ("method", "chat_completion"),
                ("team", "red")
            ]
        ),
        4.0
    );
    assert_eq!(
        n(
            "bifrost_upstream_requests_total",
            &[
                ("provider", "openai"),
                ("method", "chat_completion_stream"),
                ("team", "blue")
            ]
        ),
        2.0
    );
    assert_eq!(
        n(
            "bifrost_upstream_requests_total",
            &[("provider", "openai"), ("method", "responses")]
        ),
        1.0
    );
    assert_eq!(
        n(
            "bifrost_upstream_requests_total",
            &[("provider", "anthropic"), ("selected_key_name", "an")]
        ),
        3.0
    );
    assert_eq!(
        n(
            "bifrost_upstream_requests_total",
            &[("provider", "gemini"), ("model", "gemini-2.0-flash")]
        ),
        1.0
    );
    let outcomes: Vec<String> = m
        .iter()
        .filter(|s| s.name.ends_with("_requests_total") && s.name.starts_with("bifrost"))
        .map(|s| format!("{} {:?} {}", s.name, s.labels.get("method"), s.value))
        .collect();
    assert_eq!(
        n("bifrost_success_requests_total", &[]),
        10.0,
        "{outcomes:#?}"
    );
    assert_eq!(
        n("bifrost_error_requests_total", &[("provider", "openai")]),
        1.0
    );
    assert_eq!(n("bifrost_error_requests_total", &[]), 1.0);
    // Every Bifrost label is there, empty until its feature exists.
    let sample = m
        .iter()
        .find(|s| s.name == "bifrost_success_requests_total")
        .unwrap();
    for label in [
        "virtual_key_id",
        "virtual_key_name",
        "routing_engine_used",
        "routing_rule_id",
        "routing_rule_name",
        "selected_key_id",
        "number_of_retries",
        "fallback_index",
        "team_id",
        "team_name",
        "customer_id",
        "customer_name",
    ] {
        assert!(sample.labels.contains_key(label), "{label} missing");
    }

    // Tokens: exactly what the clients were told.
    let tokens: Vec<String> = m
        .iter()
        .filter(|s| s.name.ends_with("_tokens_total"))
        .map(|s| {
            format!(
                "{} {:?} {:?} {}",
                s.name,
                s.labels.get("provider"),
                s.labels.get("method"),
                s.value
            )
        })
        .collect();
    assert_eq!(
        n("bifrost_input_tokens_total", &[]),
        seen.input as f64,
        "{tokens:#?} {:?}",
        seen.log
    );
    assert_eq!(n("bifrost_output_tokens_total", &[]), seen.output as f64);
    assert!(seen.input > 0 && seen.output > 0);

    // Histograms: one latency per request; first-token latency per stream; inter-token per
    // later event.
    assert_eq!(n("bifrost_upstream_latency_seconds_count", &[]), 11.0);
    assert_eq!(
        n("bifrost_stream_first_token_latency_seconds_count", &[]),
        3.0
    );
    assert!(n("bifrost_stream_inter_token_latency_seconds_count", &[]) >= 3.0);
    assert_eq!(n("asbru_overhead_seconds_count", &[]), 11.0);
    let overhead = n("asbru_overhead_seconds_sum", &[]);
    assert!(overhead > 0.0, "overhead measured: {overhead}");

    // HTTP metrics, by route pattern, status and custom label.
    assert_eq!(
        n(
            "http_requests_total",
            &[
                ("path", "/v1/chat/completions"),
                ("method", "POST"),
                ("status", "200"),
                ("team", "red")
            ]
        ),
        3.0
    );
    assert_eq!(
        n(
            "http_requests_total",
            &[("path", "/v1/chat/completions"), ("status", "503")]
        ),
        1.0
    );
    assert_eq!(
        n("http_requests_total", &[("path", "/anthropic/v1/messages")]),
        3.0
    );
    assert_eq!(
        n(
            "http_request_duration_seconds_count",
            &[("path", "/v1/chat/completions"), ("team", "blue")]
        ),
        2.0
    );
    assert_eq!(
        n(
            "http_response_size_bytes_count",
            &[("path", "/v1/responses")]
        ),
        1.0
    );
    assert!(n("http_response_size_bytes_sum", &[("path", "/v1/responses")]) > 100.0);
    // The existing metrics stay.
    assert_eq!(
        n(
            "asbru_requests_total",
            &[("provider", "anthropic"), ("outcome", "success")]
        ),
        3.0
    );
    served.stop().await;
}
