//! Many threads racing for the same counters: the limits hold exactly on one node.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test loudly")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use asbru_governance::counters::{CounterRef, CounterSpec, Limits, ManualClock, Usage};
use asbru_governance::duration::ResetDuration;

const THREADS: u64 = 500;
const MAX_TOKENS: u64 = 4_000;

fn spec(limit: u64) -> CounterSpec {
    CounterSpec {
        limit,
        reset: ResetDuration::parse("1h").unwrap(),
        calendar_aligned: false,
        used: 0,
        last_reset: None,
    }
}

/// Runs THREADS admissions at once, each reserving `reserve` and settling `actual(i)`.
fn race(limits: &Limits, refs: &[CounterRef], reserve: Usage, actual: fn(u64) -> Usage) -> u64 {
    let barrier = Arc::new(Barrier::new(THREADS as usize));
    let admitted = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let limits = limits.clone();
            let refs = refs.to_vec();
            let barrier = Arc::clone(&barrier);
            let admitted = Arc::clone(&admitted);
            thread::spawn(move || {
                barrier.wait();
                if let Ok(a) = limits.admit(&refs, reserve) {
                    admitted.fetch_add(1, Ordering::Relaxed);
                    thread::yield_now();
                    if i % 10 == 0 {
                        drop(a); // failed before any usage: releases
                    } else {
                        a.settle(actual(i));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    admitted.load(Ordering::Relaxed)
}

#[test]
fn budget_covering_half_is_never_overshot_by_more_than_one_request() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let limits = Limits::new(clock);
    let b = CounterRef::budget("b");
    let cost = 1_000_000; // nano-dollars: $0.001 worst case per request
    let limit = cost * THREADS / 2 + cost / 3;
    limits.upsert(b.clone(), spec(limit));
    // Actual cost varies between 50% and 100% of the reservation.
    let admitted = race(
        &limits,
        std::slice::from_ref(&b),
        Usage {
            cost_nanos: cost,
            ..Usage::default()
        },
        |i| Usage {
            cost_nanos: 500_000 + (i * 7919) % 500_001,
            ..Usage::default()
        },
    );
    let s = limits.snapshot(&b).unwrap();
    assert_eq!(s.reserved, 0);
    // Nobody was refused while headroom remained: every usage is at most its reservation, so
    // the first ceil(limit / cost) = 251 to arrive all fit.
    assert!(admitted >= 251, "only {admitted} admitted");
    assert!(
        s.used <= limit + cost,
        "used {} > limit {} + one request",
        s.used,
        limit
    );
    // Every reservation was the worst case and at most ceil(limit / cost) fit at once; only
    // released (dropped) admissions make room for more.
    assert!(
        admitted < THREADS,
        "the budget should have refused some of {THREADS}"
    );
}

#[test]
fn request_limit_is_never_exceeded() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let limits = Limits::new(clock);
    let r = CounterRef::requests("rl");
    limits.upsert(r.clone(), spec(THREADS / 2));
    // Every admitted request settles as one request (including "failed" ones that are settled).
    let admitted = race(
        &limits,
        std::slice::from_ref(&r),
        Usage::request(0.0, 0),
        |_| Usage::request(0.0, 0),
    );
    let s = limits.snapshot(&r).unwrap();
    assert_eq!(s.reserved, 0);
    assert!(s.used <= THREADS / 2, "used {}", s.used);
    assert!(admitted >= THREADS / 2, "only {admitted} admitted");
}

#[test]
fn token_limit_and_budget_together() {
    let clock = Arc::new(ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap()));
    let limits = Limits::new(clock);
    let t = CounterRef::tokens("rl");
    let rq = CounterRef::requests("rl");
    let b = CounterRef::budget("b");
    limits.upsert(t.clone(), spec(MAX_TOKENS * THREADS / 2));
    limits.upsert(rq.clone(), spec(THREADS));
    limits.upsert(b.clone(), spec(u64::MAX));
    race(
        &limits,
        &[b.clone(), t.clone(), rq.clone()],
        Usage {
            cost_nanos: 10,
            tokens: MAX_TOKENS,
            requests: 1,
        },
        |i| Usage {
            cost_nanos: 10,
            tokens: 1 + (i * 31) % MAX_TOKENS,
            requests: 1,
        },
    );
    let st = limits.snapshot(&t).unwrap();
    assert_eq!(st.reserved, 0);
    assert!(st.used <= MAX_TOKENS * THREADS / 2 + MAX_TOKENS);
    let sr = limits.snapshot(&rq).unwrap();
    assert!(sr.used <= THREADS);
    // Every counter of an admission was charged together: the budget saw exactly as many
    // settled requests as the request counter.
    assert_eq!(limits.snapshot(&b).unwrap().used, sr.used * 10);
}
