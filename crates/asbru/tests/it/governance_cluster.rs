//! Budgets and rate limits exact across replicas: three `asbru` processes on one PostgreSQL
//! (config store) and one Redis (shared counters, reached through a relay the tests can cut),
//! thousands of concurrent requests against one virtual key.

use crate::admin_postgres::{Cuttable, Database, PASSPHRASE, pg_port, store_config};
use crate::cli::{Served, serve};
use crate::harness::{TestGateway, chat_body};
use asbru_mock::{MockOptions, MockServer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const REDIS_PORT: u16 = 6379;

/// Three nodes sharing a store and a Redis. Tests that cut Redis still use a generous timeout:
/// the cut relay refuses at once, while a short timeout could take a slow answer under the
/// machine's other load for an outage.
struct Cluster {
    nodes: Vec<Served>,
    redis: Cuttable,
    _db: Database,
    _dirs: Vec<tempfile::TempDir>,
}

fn providers(mock: &MockServer) -> Value {
    json!({"openai": {
        "keys": [{"name": "k", "value": "sk-cluster-test-0001", "models": [], "weight": 1.0}],
        "network_config": {"base_url": mock.base_url()}
    }})
}

/// A virtual key `id` with secret `value` and one limit (`budget_id` or `rate_limit_id`), allowed
/// every OpenAI model.
fn key(id: &str, value: &str, limit_field: &str, limit_id: &str) -> Value {
    json!({"id": id, "name": id, "value": value, limit_field: limit_id,
           "provider_configs": [{"provider": "openai", "allowed_models": ["*"]}]})
}

async fn cluster(mock: &MockServer, governance: Value, redis_timeout_ms: &str) -> Cluster {
    let db = Database::create().await;
    let redis = Cuttable::to(REDIS_PORT).await;
    let mut config = store_config(&db, pg_port(), providers(mock));
    config["governance"] = governance;
    let prefix = format!(
        "asbru-it:{}:{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let mut nodes = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, config.to_string()).unwrap();
        let node = serve(
            &["--config", path.to_str().unwrap()],
            &[
                PASSPHRASE,
                ("ASBRU_REDIS_URL", &url),
                ("ASBRU_REDIS_PREFIX", &prefix),
                ("ASBRU_REDIS_TIMEOUT_MS", redis_timeout_ms),
            ],
        )
        .await;
        nodes.push(node);
        dirs.push(dir);
    }
    let cluster = Cluster {
        nodes,
        redis,
        _db: db,
        _dirs: dirs,
    };
    cluster.wait_for_redis("ok").await;
    cluster
}

impl Cluster {
    /// Waits until every node's `/health` reports Redis as `state`.
    async fn wait_for_redis(&self, state: &str) {
        let client = reqwest::Client::new();
        for node in &self.nodes {
            let mut seen = Value::Null;
            for _ in 0..200 {
                seen = client
                    .get(format!("{}/health", node.url))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if seen["components"]["redis"] == state {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            assert_eq!(seen["components"]["redis"], state, "{seen}");
        }
    }

    /// Stops every node and checks that none lost Redis (under load, a slow answer would
    /// make a node count on its own, which these tests must not mistake for sharing).
    async fn stop_with_redis_up_throughout(self) {
        for node in self.nodes {
            let log = node.stop().await;
            assert!(!log.contains("Redis unreachable"), "{log}");
        }
    }

    async fn stop(self) {
        for node in self.nodes {
            node.stop().await;
        }
    }
}

/// What one request got: its status and, when answered, its cost and total tokens.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    status: u16,
    cost: f64,
    tokens: u64,
}

fn body() -> Value {
    let mut body = chat_body("openai/gpt-4o");
    body["max_tokens"] = json!(16);
    body
}

/// Sends `n` requests at once with virtual key `vk`, spread over the nodes.
async fn fire(cluster: &Cluster, vk: &str, n: usize) -> Vec<Outcome> {
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.url.clone()).collect();
    fire_at(&urls, vk, n).await
}

/// Sends `n` chat requests at once with virtual key `vk`, round-robin over the gateways at
/// `urls`.
async fn fire_at(urls: &[String], vk: &str, n: usize) -> Vec<Outcome> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let url = format!("{}/v1/chat/completions", urls[i % urls.len()]);
            let (client, vk, start) = (client.clone(), vk.to_owned(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                let response = client
                    .post(url)
                    .header("x-bf-vk", vk)
                    .json(&body())
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                Outcome {
                    status,
                    cost: answer["extra_fields"]["cost"].as_f64().unwrap_or(0.0),
                    tokens: answer["usage"]["total_tokens"].as_u64().unwrap_or(0),
                }
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// The cost and tokens of one request, from a gateway without governance on the same mock.
async fn one_request() -> (f64, u64) {
    let gw = TestGateway::start().await;
    let answer: Value = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&body())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cost = answer["extra_fields"]["cost"].as_f64().unwrap();
    let tokens = answer["usage"]["total_tokens"].as_u64().unwrap();
    assert!(cost > 0.0 && tokens > 0, "{answer}");
    (cost, tokens)
}

fn count(outcomes: &[Outcome], status: u16) -> usize {
    outcomes.iter().filter(|o| o.status == status).count()
}

/// 3,000 concurrent requests on three nodes against a budget covering about half of them: the
/// settled total passes the budget by at most one request, later requests are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_holds_across_three_nodes_under_3000_concurrent_requests() {
    let (cost, _) = one_request().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let budget = cost * 1500.0;
    let cluster = cluster(
        &mock,
        json!({
            "budgets": [{"id": "b-half", "max_limit": budget, "reset_duration": "1d"}],
            "virtual_keys": [key("vk-b", "sk-bf-cluster-b", "budget_id", "b-half")]
        }),
        "5000",
    )
    .await;
    let outcomes = fire(&cluster, "sk-bf-cluster-b", 3000).await;
    let (ok, refused) = (count(&outcomes, 200), count(&outcomes, 402));
    assert_eq!(ok + refused, 3000, "only answers and budget refusals");
    assert!(ok > 0 && refused > 0, "{ok} answered, {refused} refused");
    let mut spent: f64 = outcomes.iter().map(|o| o.cost).sum();
    assert!(
        spent <= budget + cost * 1.000_001,
        "spent ${spent} of a ${budget} budget ({ok} answered)"
    );
    // Requests in flight hold their worst case (about five times what they cost here), so many
    // were refused while the budget still had room; more rounds spend the rest, never passing
    // it by more than one request.
    let mut rounds = 0;
    loop {
        let more = fire(&cluster, "sk-bf-cluster-b", 300).await;
        spent += more.iter().map(|o| o.cost).sum::<f64>();
        assert!(
            spent <= budget + cost * 1.000_001,
            "spent ${spent} of a ${budget} budget"
        );
        if count(&more, 402) == more.len() {
            break;
        }
        rounds += 1;
        let statuses: std::collections::BTreeMap<u16, usize> =
            more.iter().fold(Default::default(), |mut m, o| {
                *m.entry(o.status).or_default() += 1;
                m
            });
        assert!(
            rounds < 60,
            "the budget is never spent: ${spent} of ${budget}; last round {statuses:?}: {:?}",
            more.iter().filter(|o| o.status == 200).collect::<Vec<_>>()
        );
    }
    assert!(
        spent > budget * 0.99,
        "refused with ${spent} of ${budget} spent"
    );
    cluster.stop_with_redis_up_throughout().await;
}

/// The same with a request limit (never more requests than the limit) and a token limit
/// (passed by at most one request's tokens).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_and_token_limits_hold_across_three_nodes() {
    let (_, tokens) = one_request().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let token_limit = tokens * 500;
    let cluster = cluster(
        &mock,
        json!({
            "rate_limits": [
                {"id": "rl-req", "request_max_limit": 1000, "request_reset_duration": "1h"},
                {"id": "rl-tok", "token_max_limit": token_limit, "token_reset_duration": "1h"}
            ],
            "virtual_keys": [
                key("vk-r", "sk-bf-cluster-r", "rate_limit_id", "rl-req"),
                key("vk-t", "sk-bf-cluster-t", "rate_limit_id", "rl-tok")
            ]
        }),
        "5000",
    )
    .await;
    let outcomes = fire(&cluster, "sk-bf-cluster-r", 3000).await;
    assert_eq!(count(&outcomes, 200), 1000, "exactly the request limit");
    assert_eq!(count(&outcomes, 429), 2000);

    let outcomes = fire(&cluster, "sk-bf-cluster-t", 1500).await;
    let ok = count(&outcomes, 200);
    assert_eq!(ok + count(&outcomes, 429), 1500);
    let used: u64 = outcomes.iter().map(|o| o.tokens).sum();
    assert!(
        used <= token_limit + tokens,
        "{used} tokens of {token_limit} ({ok} answered)"
    );
    assert!(ok > 0, "{outcomes:?}");
    cluster.stop_with_redis_up_throughout().await;
}

/// Redis going away mid-run fails no request: every node falls back to its own counters, says
/// so on `/health`, and goes back to the shared counters when Redis returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_mid_run_fails_no_request() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let cluster = cluster(
        &mock,
        json!({
            "rate_limits": [
                {"id": "rl-big", "request_max_limit": 1_000_000, "request_reset_duration": "1h"}
            ],
            "virtual_keys": [key("vk-d", "sk-bf-cluster-d", "rate_limit_id", "rl-big")]
        }),
        "2000",
    )
    .await;
    let cluster = Arc::new(cluster);
    let load = {
        let cluster = Arc::clone(&cluster);
        tokio::spawn(async move {
            let mut all = Vec::new();
            for _ in 0..10 {
                all.extend(fire(&cluster, "sk-bf-cluster-d", 60).await);
            }
            all
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    cluster.redis.cut();
    cluster.wait_for_redis("unreachable").await;
    let during = fire(&cluster, "sk-bf-cluster-d", 60).await;
    cluster.redis.restore();
    cluster.wait_for_redis("ok").await;
    let mut outcomes = load.await.unwrap();
    outcomes.extend(during);
    outcomes.extend(fire(&cluster, "sk-bf-cluster-d", 60).await);
    let failed: Vec<_> = outcomes.iter().filter(|o| o.status != 200).collect();
    assert!(failed.is_empty(), "{failed:?}");
    let metrics = reqwest::get(format!("{}/metrics", cluster.nodes[0].url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let up = metrics
        .lines()
        .find(|l| l.starts_with("asbru_governance_redis_up"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(up.ends_with(" 1"), "{up}");
    Arc::into_inner(cluster).unwrap().stop().await;
}

/// While Redis is away each node admits only its share of what was left, so the nodes together
/// stay within the limit; when it returns, what they admitted meanwhile is added and the limit
/// is exact again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_away_the_nodes_share_what_was_left() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let cluster = cluster(
        &mock,
        json!({
            "rate_limits": [
                {"id": "rl-300", "request_max_limit": 300, "request_reset_duration": "1h"}
            ],
            "virtual_keys": [key("vk-s", "sk-bf-cluster-s", "rate_limit_id", "rl-300")]
        }),
        "2000",
    )
    .await;
    let before = count(&fire(&cluster, "sk-bf-cluster-s", 30).await, 200);
    assert_eq!(before, 30);
    cluster.redis.cut();
    cluster.wait_for_redis("unreachable").await;
    let apart = fire(&cluster, "sk-bf-cluster-s", 600).await;
    let during = count(&apart, 200);
    assert_eq!(during + count(&apart, 429), 600, "no request failed");
    assert!(
        before + during <= 300 && during >= 200,
        "{during} admitted while apart, after {before}"
    );
    cluster.redis.restore();
    cluster.wait_for_redis("ok").await;
    let after = count(&fire(&cluster, "sk-bf-cluster-s", 600).await, 200);
    assert_eq!(
        before + during + after,
        300,
        "exact again once Redis is back"
    );
    cluster.stop().await;
}

/// One node needs no Redis for the same bound: 500 concurrent requests against a budget covering
/// about half of them, a request limit and a token limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_meets_the_same_bound_under_500_concurrent_requests() {
    let (cost, tokens) = one_request().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let budget = cost * 250.0;
    let mut config = json!({"providers": providers(&mock)});
    config["governance"] = json!({
        "budgets": [{"id": "b", "max_limit": budget, "reset_duration": "1d"}],
        "rate_limits": [
            {"id": "rl-req", "request_max_limit": 200, "request_reset_duration": "1h"},
            {"id": "rl-tok", "token_max_limit": tokens * 100, "token_reset_duration": "1h"}
        ],
        "virtual_keys": [
            key("vk-b", "sk-bf-one-b", "budget_id", "b"),
            key("vk-r", "sk-bf-one-r", "rate_limit_id", "rl-req"),
            key("vk-t", "sk-bf-one-t", "rate_limit_id", "rl-tok")
        ]
    });
    let gw = TestGateway::start_with(mock, config).await;
    let urls = [gw.url.clone()];
    let mut spent = 0.0;
    for _ in 0..60 {
        let round = fire_at(&urls, "sk-bf-one-b", 500).await;
        assert_eq!(count(&round, 200) + count(&round, 402), 500);
        spent += round.iter().map(|o| o.cost).sum::<f64>();
        assert!(spent <= budget + cost * 1.000_001, "${spent} of ${budget}");
        if count(&round, 402) == 500 {
            break;
        }
    }
    assert!(spent > budget * 0.99, "${spent} of ${budget}");

    let round = fire_at(&urls, "sk-bf-one-r", 500).await;
    assert_eq!(count(&round, 200), 200, "exactly the request limit");
    let round = fire_at(&urls, "sk-bf-one-t", 500).await;
    let used: u64 = round.iter().map(|o| o.tokens).sum();
    assert!(used <= tokens * 101, "{used} tokens of {}", tokens * 100);
    assert!(count(&round, 200) > 0);
}
