//! Shared counters against the machine's real Redis (127.0.0.1:6379): several `Limits` in one
//! process stand for several nodes; each test uses its own key prefix.
#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]
#![expect(
    clippy::disallowed_methods,
    reason = "the tests run nodes' writers on plain spawned tasks"
)]

use std::sync::Arc;
use std::time::Duration;

use asbru_governance::counters::{
    CounterRef, CounterSpec, Limits, ManualClock, Usage, usd_to_nanos,
};
use asbru_governance::duration::ResetDuration;
use asbru_governance::shared::{RedisCounters, RedisOptions};
use jiff::Timestamp;

const REDIS: &str = "redis://127.0.0.1:6379/";

fn prefix(test: &str) -> String {
    format!("asbru-test:{test}:{}", std::process::id())
}

/// A node: its counters, sharing through Redis under `prefix`, with its writer running.
async fn node(prefix: &str, clock: Arc<ManualClock>) -> (Limits, tokio::sync::oneshot::Sender<()>) {
    let mut options = RedisOptions::new(REDIS);
    options.prefix = prefix.to_owned();
    let remote = RedisCounters::new(options).unwrap();
    let limits = Limits::shared(clock, Arc::clone(&remote));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Arc::clone(&remote).run(async move {
        let _ = stopped.await;
    }));
    for _ in 0..100 {
        if remote.is_up() {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(remote.is_up(), "Redis at {REDIS} must be reachable");
    (limits, stop)
}

fn budget(limit_usd: f64) -> CounterSpec {
    CounterSpec {
        limit: usd_to_nanos(limit_usd),
        reset: ResetDuration::parse("1d").unwrap(),
        calendar_aligned: false,
        used: 0,
        last_reset: None,
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        "2026-03-01T12:00:00Z".parse::<Timestamp>().unwrap(),
    ))
}

async fn cleanup(prefix: &str) {
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    for key in keys {
        let _: () = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_on_one_node_holds_the_headroom_on_the_other() {
    let prefix = prefix("holds");
    let clock = clock();
    let (a, _stop_a) = node(&prefix, clock.clone()).await;
    let (b, _stop_b) = node(&prefix, clock.clone()).await;
    for n in [&a, &b] {
        n.upsert(CounterRef::budget("team"), budget(1.0));
    }
    let held = a
        .admit_shared(vec![CounterRef::budget("team")], Usage::request(5.0, 0))
        .await
        .expect("headroom: the first request gets in");
    let refused = b
        .admit_shared(vec![CounterRef::budget("team")], Usage::request(0.01, 0))
        .await
        .expect_err("node a's request in flight holds the budget");
    assert_eq!(refused.counter, CounterRef::budget("team"));
    assert_eq!(refused.used, usd_to_nanos(5.0));
    // Settling a's request for less than it reserved gives the rest back to everyone.
    held.settle(Usage::request(0.25, 0));
    let mut admitted = None;
    for _ in 0..200 {
        // The settle goes through a's writer; wait for it to land.
        if let Ok(adm) = b
            .admit_shared(vec![CounterRef::budget("team")], Usage::request(0.01, 0))
            .await
        {
            admitted = Some(adm);
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let admitted = admitted.expect("after a's settle, b sees $0.25 used of $1");
    admitted.settle(Usage::request(0.8, 0));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = a
        .admit_shared(vec![CounterRef::budget("team")], Usage::request(0.01, 0))
        .await
        .expect_err("$1.05 spent across both nodes");
    assert_eq!(refused.used, usd_to_nanos(0.25) + usd_to_nanos(0.8));
    cleanup(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_on_three_nodes_overshoot_by_at_most_one() {
    let prefix = prefix("concurrent");
    let clock = clock();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let (n, stop) = node(&prefix, clock.clone()).await;
        n.upsert(CounterRef::budget("b"), budget(100.0));
        n.upsert(CounterRef::budget("small"), budget(0.5));
        n.upsert(
            CounterRef::requests("rl"),
            CounterSpec {
                limit: 150,
                reset: ResetDuration::parse("1h").unwrap(),
                calendar_aligned: false,
                used: 0,
                last_reset: None,
            },
        );
        nodes.push((n, stop));
    }
    // 600 requests, each reserving $0.01 and spending $0.005: the $100 budget never binds,
    // the request limit allows exactly 150.
    let mut tasks = Vec::new();
    for i in 0..600 {
        let limits = nodes[i % 3].0.clone();
        tasks.push(tokio::spawn(async move {
            let admitted = limits
                .admit_shared(
                    vec![CounterRef::budget("b"), CounterRef::requests("rl")],
                    Usage::request(0.01, 0),
                )
                .await;
            match admitted {
                Ok(a) => {
                    tokio::task::yield_now().await;
                    a.settle(Usage::request(0.005, 0));
                    true
                }
                Err(_) => false,
            }
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += u64::from(t.await.unwrap());
    }
    assert_eq!(
        admitted, 150,
        "exactly the request limit, across three nodes"
    );
    // Every node's settle has landed: the shared total is exactly what was admitted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:used:requests:rl:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let used: u64 = redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(used, 150);
    let held: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(format!("{prefix}:held:requests:rl"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(held.values().all(|v| *v == 0), "{held:?}");

    // A budget that binds: 300 requests reserving $0.01 and spending $0.004 against $0.50. In
    // flight they may refuse each other; settled, they never pass the budget by more than one.
    let mut tasks = Vec::new();
    for i in 0..300 {
        let limits = nodes[i % 3].0.clone();
        tasks.push(tokio::spawn(async move {
            let admitted = limits
                .admit_shared(vec![CounterRef::budget("small")], Usage::request(0.01, 0))
                .await;
            match admitted {
                Ok(a) => {
                    tokio::task::yield_now().await;
                    a.settle(Usage::request(0.004, 0));
                    1
                }
                Err(_) => 0,
            }
        }));
    }
    let mut admitted: u64 = 0;
    for t in tasks {
        admitted += t.await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:used:budget:small:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let spent: u64 = redis::cmd("GET")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(spent, admitted * usd_to_nanos(0.004));
    assert!(admitted > 0);
    assert!(
        spent <= usd_to_nanos(0.5) + usd_to_nanos(0.01),
        "spent {spent} nanos for {admitted} requests"
    );
    cleanup(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_s_reservations_are_dropped() {
    let prefix = prefix("stale");
    let clock = clock();
    let (a, _stop_a) = node(&prefix, clock.clone()).await;
    let (b, _stop_b) = node(&prefix, clock.clone()).await;
    for n in [&a, &b] {
        n.upsert(CounterRef::budget("b"), budget(1.0));
    }
    let held = a
        .admit_shared(vec![CounterRef::budget("b")], Usage::request(2.0, 0))
        .await
        .unwrap();
    assert!(
        b.admit_shared(vec![CounterRef::budget("b")], Usage::request(0.1, 0))
            .await
            .is_err()
    );
    // Node a falls silent: its last heartbeat is made a minute old.
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let nodes: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(format!("{prefix}:nodes"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let held_by: std::collections::HashMap<String, i64> = redis::cmd("HGETALL")
        .arg(format!("{prefix}:held:budget:b"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let a_id = held_by.keys().next().unwrap().clone();
    let a_seen = nodes[&a_id];
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}:nodes"))
        .arg(&a_id)
        .arg(a_seen - 60_000)
        .query_async(&mut conn)
        .await
        .unwrap();
    b.admit_shared(vec![CounterRef::budget("b")], Usage::request(0.1, 0))
        .await
        .expect("a silent node's reservation no longer holds the budget")
        .settle(Usage::request(0.1, 0));
    drop(held);
    cleanup(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_node_counts_on_its_own() {
    let mut options = RedisOptions::new("redis://127.0.0.1:1/");
    options.prefix = prefix("down");
    options.timeout = Duration::from_millis(200);
    let remote = RedisCounters::new(options).unwrap();
    let limits = Limits::shared(clock(), Arc::clone(&remote));
    limits.upsert(CounterRef::budget("b"), budget(1.0));
    assert!(!remote.is_up());
    let first = limits
        .admit_shared(vec![CounterRef::budget("b")], Usage::request(1.0, 0))
        .await
        .expect("admitted on this node's counters");
    assert!(
        limits
            .admit_shared(vec![CounterRef::budget("b")], Usage::request(0.5, 0))
            .await
            .is_err(),
        "this node's own reservation holds the budget"
    );
    first.settle(Usage::request(1.5, 0));
    let snapshot = limits.snapshot(&CounterRef::budget("b")).unwrap();
    assert_eq!(snapshot.used, usd_to_nanos(1.5));
    assert_eq!(snapshot.reserved, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_loaded_before_redis_answers_is_seeded_once_it_does() {
    let prefix = prefix("seed");
    let mut options = RedisOptions::new(REDIS);
    options.prefix = prefix.clone();
    let remote = RedisCounters::new(options).unwrap();
    let limits = Limits::shared(clock(), Arc::clone(&remote));
    // A request limit of 3 with 2 already used (a config's current_usage, or a restart's
    // saved usage), registered before the writer has reached Redis.
    limits.upsert(
        CounterRef::requests("rl"),
        CounterSpec {
            limit: 3,
            reset: ResetDuration::parse("1h").unwrap(),
            calendar_aligned: false,
            used: 2,
            last_reset: None,
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Arc::clone(&remote).run(async move {
        let _ = stopped.await;
    }));
    // The seed is written once the writer reaches Redis.
    let client = redis::Client::open(REDIS).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut seeded: Vec<String> = Vec::new();
    for _ in 0..200 {
        seeded = redis::cmd("KEYS")
            .arg(format!("{prefix}:used:requests:rl:*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !seeded.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seeded.len(), 1, "the loaded usage reached Redis");
    // Another node sees the seeded usage: one request left.
    let (other, _stop_other) = node(&prefix, clock()).await;
    other.upsert(
        CounterRef::requests("rl"),
        CounterSpec {
            limit: 3,
            reset: ResetDuration::parse("1h").unwrap(),
            calendar_aligned: false,
            used: 0,
            last_reset: None,
        },
    );
    let one = other
        .admit_shared(vec![CounterRef::requests("rl")], Usage::request(0.0, 0))
        .await
        .expect("2 of 3 used: one more fits");
    let refused = other
        .admit_shared(vec![CounterRef::requests("rl")], Usage::request(0.0, 0))
        .await
        .expect_err("the third is in flight");
    assert_eq!(refused.used, 3);
    drop(one);
    drop(stop);
    cleanup(&prefix).await;
}
