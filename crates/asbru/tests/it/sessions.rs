//! `x-bf-session-id` keeps a session on one key.

use crate::harness::{TestGateway, chat_body};
use asbru_mock::{MockOptions, MockServer};
use serde_json::json;
use std::collections::HashSet;

async fn five_keys() -> TestGateway {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let keys: Vec<_> = (0..5)
        .map(|i| json!({"id": format!("k{i}"), "name": format!("k{i}"), "value": format!("sk-{i}"), "weight": 1}))
        .collect();
    let config = json!({"providers": {"openai": {"keys": keys, "network_config": {"base_url": mock.base_url()}}}});
    TestGateway::start_with(mock, config).await
}

fn keys_used(gw: &TestGateway) -> Vec<String> {
    gw.mock
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_session_sticks_to_one_key_and_sessions_spread() {
    let gw = five_keys().await;
    for _ in 0..20 {
        let (status, _) = gw
            .post_with(
                "/v1/chat/completions",
                chat_body("openai/gpt-4o"),
                &[("x-bf-session-id", "conv-1")],
            )
            .await;
        assert_eq!(status, 200);
    }
    let used: HashSet<String> = keys_used(&gw).into_iter().collect();
    assert_eq!(used.len(), 1, "one session used several keys: {used:?}");

    gw.mock.clear_requests();
    for i in 0..30 {
        let id = format!("conv-{i}-other");
        gw.post_with(
            "/v1/chat/completions",
            chat_body("openai/gpt-4o"),
            &[("x-bf-session-id", &id)],
        )
        .await;
    }
    let used: HashSet<String> = keys_used(&gw).into_iter().collect();
    assert!(used.len() >= 2, "different sessions all landed on {used:?}");
}

#[tokio::test]
async fn a_pinned_key_wins_over_the_session_and_bad_ttls_are_refused() {
    let gw = five_keys().await;
    gw.post_with(
        "/v1/chat/completions",
        chat_body("openai/gpt-4o"),
        &[("x-bf-session-id", "s")],
    )
    .await;
    let (status, _) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("openai/gpt-4o"),
            &[("x-bf-session-id", "s"), ("x-bf-api-key-id", "k3")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(keys_used(&gw).last().unwrap(), "Bearer sk-3");

    let (status, body) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("openai/gpt-4o"),
            &[("x-bf-session-id", "s"), ("x-bf-session-ttl", "forever")],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "x-bf-session-ttl");

    let long = "x".repeat(300);
    let (status, body) = gw
        .post_with(
            "/v1/chat/completions",
            chat_body("openai/gpt-4o"),
            &[("x-bf-session-id", &long)],
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["param"], "x-bf-session-id");
}

#[tokio::test]
async fn a_ttl_past_a_week_is_refused_and_a_week_sticks() {
    let gw = five_keys().await;
    // `now + u64::MAX seconds` used to overflow the clock and panic the request.
    for ttl in ["18446744073709551615", "18446744073709551615h", "604801"] {
        let (status, answer) = gw
            .post_with(
                "/v1/chat/completions",
                chat_body("openai/gpt-4o"),
                &[
                    ("x-bf-session-id", "conv-forever"),
                    ("x-bf-session-ttl", ttl),
                ],
            )
            .await;
        assert_eq!(status, 400, "{ttl}: {answer}");
        assert_eq!(answer["error"]["param"], "x-bf-session-ttl");
    }
    for _ in 0..5 {
        let (status, answer) = gw
            .post_with(
                "/v1/chat/completions",
                chat_body("openai/gpt-4o"),
                &[
                    ("x-bf-session-id", "conv-week"),
                    ("x-bf-session-ttl", "168h"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    let used: HashSet<String> = keys_used(&gw).into_iter().collect();
    assert_eq!(used.len(), 1, "the session used several keys: {used:?}");
}
