//! Health of keys and providers: adaptive weights and circuit breaking.
//!
//! Every upstream call reports its outcome to the [`Health`] of the key it used and of its
//! provider. From those reports each keeps a latency EWMA, an error rate whose past fades with a
//! half-life, and a circuit:
//!
//! - **closed**: serving; its key weight is scaled by its success rate and latency (never below
//!   a floor, so a key that recovers is noticed);
//! - **open**: after [`HealthPolicy::open_after_consecutive`] failures in a row (twice that for a
//!   provider, whose many keys and requests make runs of bad luck likelier), or an error rate of
//!   at least [`HealthPolicy::open_error_rate`] over enough samples, it is taken out for a
//!   cool-down that doubles each time it reopens (up to [`HealthPolicy::max_open_for`]);
//! - **half-open**: once the cool-down has passed, one request at a time probes it; a success
//!   closes the circuit (restored), a failure opens it again.
//!
//! A 429 that names a `Retry-After` cools that key down for that long without opening anything.
//! A 401/403 opens the key's circuit at once: a rejected key is wrong for every request.
//!
//! Time comes from a [`Clock`] and randomness from the caller, so every decision is replayed
//! exactly under test.

use asbru_schema::GatewayError;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Where health tracking reads the time, so tests can move it by hand.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to, for deterministic tests of cool-downs and decay.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The thresholds of health tracking. The defaults suit providers answering in seconds at a few
/// requests per second or more; they are not configurable from `config.json` yet.
#[derive(Debug, Clone)]
pub struct HealthPolicy {
    /// How fast old outcomes fade from the error rate.
    pub half_life: Duration,
    /// Weight of the newest sample in the latency EWMA.
    pub latency_alpha: f64,
    /// Failures in a row that open a circuit.
    pub open_after_consecutive: u32,
    /// The same for a provider as a whole: a provider is taken out of fallback chains only when
    /// it is clearly down, not when one of its keys or a few requests had bad luck.
    pub provider_open_after_consecutive: u32,
    /// Error rate (over at least `min_samples` decayed outcomes) that opens a circuit.
    pub open_error_rate: f64,
    pub min_samples: f64,
    /// First cool-down of an open circuit; doubled on each reopening.
    pub open_for: Duration,
    pub max_open_for: Duration,
    /// Longest `Retry-After` cool-down honoured.
    pub max_cooldown: Duration,
    /// A half-open probe that has not reported by then (its client left) lets another one go.
    pub probe_timeout: Duration,
    /// The smallest share of its configured weight a closed key keeps.
    pub min_factor: f64,
    /// Weight share of a half-open key waiting for its probe.
    pub probe_factor: f64,
    /// Added to both latencies before comparing them, so that a key is slowed down in the
    /// choice only for differences that matter (tens of milliseconds), not for noise.
    pub latency_slack_ms: f64,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            half_life: Duration::from_secs(30),
            latency_alpha: 0.2,
            open_after_consecutive: 5,
            provider_open_after_consecutive: 10,
            open_error_rate: 0.5,
            min_samples: 10.0,
            open_for: Duration::from_secs(5),
            max_open_for: Duration::from_secs(60),
            max_cooldown: Duration::from_secs(300),
            probe_timeout: Duration::from_secs(30),
            min_factor: 0.05,
            probe_factor: 0.5,
            latency_slack_ms: 50.0,
        }
    }
}

/// What went wrong with one upstream call, as far as health is concerned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Failure {
    /// 5xx, connect error, reset, timeout, malformed answer, a 429 without `Retry-After`.
    Transient,
    /// 429 with a `Retry-After`: cool the key down that long.
    RateLimited(Duration),
    /// 401/403: the key itself is refused.
    Rejected,
}

/// Error codes that mean "this key is refused" although the status is not 401/403.
const KEY_REJECTED_CODES: [&str; 1] = ["API_KEY_INVALID"];

impl Failure {
    /// How an upstream call's error weighs on health; `None` for a client's own mistake (400,
    /// 404, 422…), which says nothing about the key or the provider. `None` too for an answer
    /// asbru refused to buffer (`upstream_response_too_large`, `upstream_buffer_full`): the
    /// provider answered, and the answer's size follows from the request (a huge embedding
    /// batch) or from asbru's own load, not from the key; counting it would take a working key
    /// or provider out for every other request.
    pub(crate) fn of(error: &GatewayError) -> Option<Self> {
        match error.status() {
            429 => Some(match error.retry_after() {
                Some(wait) if !wait.is_zero() => Failure::RateLimited(wait),
                _ => Failure::Transient,
            }),
            401 | 403 => Some(Failure::Rejected),
            // Google refuses a wrong API key with a 400 whose reason says so.
            400 if error
                .code()
                .is_some_and(|c| KEY_REJECTED_CODES.contains(&c)) =>
            {
                Some(Failure::Rejected)
            }
            _ if error.is_retryable() => Some(Failure::Transient),
            _ => None,
        }
    }
}

/// The state of a circuit, as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    fn gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::HalfOpen => 1.0,
            CircuitState::Open => 2.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Circuit {
    Closed,
    Open { until: Instant },
    HalfOpen { probe_since: Option<Instant> },
}

#[derive(Debug, Clone, Copy)]
struct Stats {
    ok: f64,
    failed: f64,
    decayed_at: Instant,
    latency_ms: Option<f64>,
    consecutive_failures: u32,
    circuit: Circuit,
    /// Times the circuit opened since it was last closed; sets the next cool-down.
    reopenings: u32,
    cooldown_until: Option<Instant>,
    successes: u64,
    failures: u64,
}

/// The health of one key or one provider. Shared between the requests using it and outliving
/// config reloads, so a reload does not forget that a key is failing.
pub struct Health {
    stats: Mutex<Stats>,
    /// A provider's health rather than a key's: it opens only after a longer run of failures.
    is_provider: bool,
    state_gauge: metrics::Gauge,
    opened: metrics::Counter,
    restored: metrics::Counter,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("stats", &self.stats)
            .finish()
    }
}

/// A key's or provider's health, as `GET /api/providers/health` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HealthSnapshot {
    pub state: CircuitState,
    /// Failures among recent outcomes, each weighted by how recent it is.
    pub error_rate: f64,
    pub latency_ms: Option<f64>,
    pub consecutive_failures: u32,
    /// Milliseconds until an open circuit may be probed.
    pub open_remaining_ms: Option<u64>,
    /// Milliseconds left of a `Retry-After` cool-down.
    pub cooldown_remaining_ms: Option<u64>,
    pub successes: u64,
    pub failures: u64,
}

/// Pseudo-successes added to every error rate, so that one early failure does not look like a
/// 100 % error rate.
const PRIOR_SUCCESSES: f64 = 2.0;

impl Health {
    fn new(provider: &str, key: Option<&str>, now: Instant) -> Self {
        let is_provider = key.is_none();
        let key = key.unwrap_or("").to_owned();
        let state_gauge = metrics::gauge!("asbru_circuit_state", "provider" => provider.to_owned(), "key" => key.clone());
        let transitions = |to: &'static str| metrics::counter!("asbru_circuit_transitions_total", "provider" => provider.to_owned(), "key" => key.clone(), "to" => to);
        state_gauge.set(0.0);
        Self {
            is_provider,
            stats: Mutex::new(Stats {
                ok: 0.0,
                failed: 0.0,
                decayed_at: now,
                latency_ms: None,
                consecutive_failures: 0,
                circuit: Circuit::Closed,
                reopenings: 0,
                cooldown_until: None,
                successes: 0,
                failures: 0,
            }),
            state_gauge,
            opened: transitions("open"),
            restored: transitions("closed"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this may be used now without waiting: closed and not cooling down, or half-open
    /// with no probe out.
    pub(crate) fn is_available(&self, policy: &HealthPolicy, now: Instant) -> bool {
        let mut s = self.lock();
        s.refresh(policy, now);
        s.cooldown_until.is_none() && s.probe_allowed(policy, now)
    }

    /// Whether the circuit is closed and no cool-down runs: a session may keep this key.
    pub(crate) fn is_healthy(&self, policy: &HealthPolicy, now: Instant) -> bool {
        let mut s = self.lock();
        s.refresh(policy, now);
        s.cooldown_until.is_none() && matches!(s.circuit, Circuit::Closed)
    }

    /// The share of its configured weight this key gets now (0 when out), given the best latency
    /// among its siblings; and the share it would get if its `Retry-After` cool-down were over
    /// (0 unless it is cooling down with a closed circuit): when every key is cooling down, the
    /// healthiest of them are tried before any whose circuit is open.
    pub(crate) fn factors(
        &self,
        policy: &HealthPolicy,
        best_latency_ms: f64,
        now: Instant,
    ) -> (f64, f64) {
        let mut s = self.lock();
        s.refresh(policy, now);
        let closed = || {
            let success = 1.0 - s.error_rate();
            let slack = policy.latency_slack_ms;
            let latency = match s.latency_ms {
                Some(own) if own > 0.0 && best_latency_ms > 0.0 => {
                    ((best_latency_ms + slack) / (own + slack)).clamp(0.25, 1.0)
                }
                _ => 1.0,
            };
            (success * success * latency).max(policy.min_factor)
        };
        match s.circuit {
            Circuit::Closed if s.cooldown_until.is_some() => (0.0, closed()),
            Circuit::Closed => (closed(), 0.0),
            _ if s.cooldown_until.is_some() => (0.0, 0.0),
            Circuit::Open { .. } => (0.0, 0.0),
            Circuit::HalfOpen { .. } if s.probe_allowed(policy, now) => (policy.probe_factor, 0.0),
            Circuit::HalfOpen { .. } => (0.0, 0.0),
        }
    }

    /// The latency EWMA, for comparing siblings.
    pub(crate) fn latency_ms(&self) -> Option<f64> {
        self.lock().latency_ms
    }

    /// Marks the start of a call; a half-open circuit lets no other call through until it reports.
    pub(crate) fn begin(&self, policy: &HealthPolicy, now: Instant) {
        let mut s = self.lock();
        s.refresh(policy, now);
        if let Circuit::HalfOpen { probe_since } = &mut s.circuit {
            *probe_since = Some(now);
        }
    }

    pub(crate) fn record_success(&self, policy: &HealthPolicy, latency: Duration, now: Instant) {
        let mut s = self.lock();
        s.decay(policy, now);
        s.ok += 1.0;
        s.successes += 1;
        s.consecutive_failures = 0;
        let sample = latency.as_secs_f64() * 1000.0;
        s.latency_ms = Some(match s.latency_ms {
            Some(old) => old + policy.latency_alpha * (sample - old),
            None => sample,
        });
        if !matches!(s.circuit, Circuit::Closed) {
            s.circuit = Circuit::Closed;
            s.reopenings = 0;
            // Start over: the failures that opened the circuit are mended.
            s.failed = 0.0;
            drop(s);
            self.state_gauge.set(CircuitState::Closed.gauge());
            self.restored.increment(1);
        }
    }

    pub(crate) fn record_failure(&self, policy: &HealthPolicy, failure: Failure, now: Instant) {
        let mut s = self.lock();
        s.decay(policy, now);
        s.failed += 1.0;
        s.failures += 1;
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        if let Failure::RateLimited(wait) = failure {
            s.cooldown_until = Some(now + wait.min(policy.max_cooldown));
            return;
        }
        let open = match s.circuit {
            Circuit::HalfOpen { .. } => true,
            Circuit::Open { .. } => false,
            Circuit::Closed => {
                failure == Failure::Rejected
                    || s.consecutive_failures
                        >= if self.is_provider {
                            policy.provider_open_after_consecutive
                        } else {
                            policy.open_after_consecutive
                        }
                    || (s.ok + s.failed >= policy.min_samples
                        && s.error_rate() >= policy.open_error_rate)
            }
        };
        if open {
            let factor = 1u32.checked_shl(s.reopenings).unwrap_or(u32::MAX);
            let open_for = policy
                .open_for
                .saturating_mul(factor)
                .min(policy.max_open_for);
            s.circuit = Circuit::Open {
                until: now + open_for,
            };
            s.reopenings = s.reopenings.saturating_add(1);
            drop(s);
            self.state_gauge.set(CircuitState::Open.gauge());
            self.opened.increment(1);
        }
    }

    pub(crate) fn snapshot(&self, policy: &HealthPolicy, now: Instant) -> HealthSnapshot {
        let mut s = self.lock();
        s.refresh(policy, now);
        let remaining = |until: Instant| {
            u64::try_from(until.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
        };
        let (state, open_remaining_ms) = match s.circuit {
            Circuit::Closed => (CircuitState::Closed, None),
            Circuit::Open { until } => (CircuitState::Open, Some(remaining(until))),
            Circuit::HalfOpen { .. } => (CircuitState::HalfOpen, None),
        };
        let error_rate = {
            let mut decayed = *s;
            decayed.decay(policy, now);
            decayed.error_rate()
        };
        HealthSnapshot {
            state,
            error_rate: (error_rate * 1000.0).round() / 1000.0,
            latency_ms: s.latency_ms.map(|l| (l * 10.0).round() / 10.0),
            consecutive_failures: s.consecutive_failures,
            open_remaining_ms,
            cooldown_remaining_ms: s.cooldown_until.map(remaining),
            successes: s.successes,
            failures: s.failures,
        }
    }

    /// Sets the state gauge after a lazy transition (open → half-open) seen by `refresh`.
    fn sync_gauge(&self, policy: &HealthPolicy, now: Instant) {
        let state = self.snapshot(policy, now).state;
        self.state_gauge.set(state.gauge());
    }
}

impl Stats {
    /// Applies the passage of time: an expired cool-down ends, an open circuit whose cool-down
    /// has passed becomes half-open.
    fn refresh(&mut self, _policy: &HealthPolicy, now: Instant) {
        if self.cooldown_until.is_some_and(|until| until <= now) {
            self.cooldown_until = None;
        }
        if let Circuit::Open { until } = self.circuit
            && until <= now
        {
            self.circuit = Circuit::HalfOpen { probe_since: None };
        }
    }

    fn probe_allowed(&self, policy: &HealthPolicy, now: Instant) -> bool {
        match self.circuit {
            Circuit::Closed => true,
            Circuit::Open { .. } => false,
            Circuit::HalfOpen { probe_since: None } => true,
            Circuit::HalfOpen {
                probe_since: Some(since),
            } => now.saturating_duration_since(since) >= policy.probe_timeout,
        }
    }

    fn decay(&mut self, policy: &HealthPolicy, now: Instant) {
        let elapsed = now.saturating_duration_since(self.decayed_at);
        if elapsed.is_zero() {
            return;
        }
        let keep = 0.5f64.powf(elapsed.as_secs_f64() / policy.half_life.as_secs_f64().max(1e-3));
        self.ok *= keep;
        self.failed *= keep;
        self.decayed_at = now;
    }

    fn error_rate(&self) -> f64 {
        self.failed / (self.ok + self.failed + PRIOR_SUCCESSES)
    }
}

/// Every key's and provider's [`Health`], kept by name across config reloads.
#[derive(Debug)]
pub(crate) struct HealthBoard {
    pub(crate) policy: HealthPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    providers: Mutex<HashMap<String, Arc<Health>>>,
    keys: Mutex<HashMap<(String, String), Arc<Health>>>,
}

impl HealthBoard {
    pub(crate) fn new(policy: HealthPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            policy,
            clock,
            providers: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    pub(crate) fn provider(&self, provider: &str) -> Arc<Health> {
        let now = self.now();
        let mut map = self
            .providers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(provider.to_owned())
                .or_insert_with(|| Arc::new(Health::new(provider, None, now))),
        )
    }

    pub(crate) fn key(&self, provider: &str, key_id: &str) -> Arc<Health> {
        let now = self.now();
        let mut map = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry((provider.to_owned(), key_id.to_owned()))
                .or_insert_with(|| Arc::new(Health::new(provider, Some(key_id), now))),
        )
    }

    /// Forgets providers and keys that the configuration no longer has.
    pub(crate) fn retain(&self, live: &[(String, Vec<String>)]) {
        let mut providers = self
            .providers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        providers.retain(|name, _| live.iter().any(|(p, _)| p == name));
        drop(providers);
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.retain(|(provider, key), _| {
            live.iter()
                .any(|(p, ids)| p == provider && ids.iter().any(|id| id == key))
        });
    }

    /// Refreshes the state gauges, so an open circuit whose cool-down passed shows half-open.
    pub(crate) fn sync_gauges(&self) {
        let now = self.now();
        for health in self
            .providers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            health.sync_gauge(&self.policy, now);
        }
        for health in self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            health.sync_gauge(&self.policy, now);
        }
    }
}

/// Health scale factors for a provider's keys (configured weights stay with the keys), in
/// the order to try them: those serving now, then those only cooling down after a 429.
pub(crate) fn key_factors(
    policy: &HealthPolicy,
    health: &[Arc<Health>],
    now: Instant,
) -> [Vec<f64>; 2] {
    let best = health
        .iter()
        .filter_map(|h| h.latency_ms())
        .fold(f64::INFINITY, f64::min);
    let best = if best.is_finite() { best } else { 0.0 };
    let (serving, cooling) = health.iter().map(|h| h.factors(policy, best, now)).unzip();
    [serving, cooling]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (HealthPolicy, ManualClock, Health) {
        let clock = ManualClock::default();
        let h = Health::new("p", Some("k"), clock.now());
        (HealthPolicy::default(), clock, h)
    }

    #[test]
    fn consecutive_failures_open_then_probe_restores() {
        let (policy, clock, h) = setup();
        for _ in 0..4 {
            h.record_failure(&policy, Failure::Transient, clock.now());
        }
        assert!(
            h.is_available(&policy, clock.now()),
            "4 failures stay closed"
        );
        h.record_failure(&policy, Failure::Transient, clock.now());
        assert!(!h.is_available(&policy, clock.now()));
        assert_eq!(h.snapshot(&policy, clock.now()).state, CircuitState::Open);
        assert_eq!(h.factors(&policy, 0.0, clock.now()).0, 0.0);

        clock.advance(policy.open_for);
        let snap = h.snapshot(&policy, clock.now());
        assert_eq!(snap.state, CircuitState::HalfOpen);
        assert_eq!(h.factors(&policy, 0.0, clock.now()).0, policy.probe_factor);
        h.begin(&policy, clock.now());
        // One probe at a time.
        assert!(!h.is_available(&policy, clock.now()));
        assert_eq!(h.factors(&policy, 0.0, clock.now()).0, 0.0);
        h.record_success(&policy, Duration::from_millis(10), clock.now());
        assert_eq!(h.snapshot(&policy, clock.now()).state, CircuitState::Closed);
        assert!(h.is_healthy(&policy, clock.now()));
    }

    #[test]
    fn a_provider_needs_a_longer_run_of_failures() {
        let clock = ManualClock::default();
        let policy = HealthPolicy::default();
        let provider = Health::new("p", None, clock.now());
        for _ in 0..9 {
            provider.record_failure(&policy, Failure::Transient, clock.now());
        }
        assert!(provider.is_available(&policy, clock.now()));
        provider.record_failure(&policy, Failure::Transient, clock.now());
        assert_eq!(
            provider.snapshot(&policy, clock.now()).state,
            CircuitState::Open
        );
    }

    #[test]
    fn failed_probe_reopens_for_longer() {
        let (policy, clock, h) = setup();
        for _ in 0..5 {
            h.record_failure(&policy, Failure::Transient, clock.now());
        }
        clock.advance(policy.open_for);
        h.begin(&policy, clock.now());
        h.record_failure(&policy, Failure::Transient, clock.now());
        let snap = h.snapshot(&policy, clock.now());
        assert_eq!(snap.state, CircuitState::Open);
        assert_eq!(
            snap.open_remaining_ms,
            Some(u64::try_from((policy.open_for * 2).as_millis()).unwrap())
        );
        clock.advance(policy.open_for);
        assert_eq!(h.snapshot(&policy, clock.now()).state, CircuitState::Open);
        clock.advance(policy.open_for);
        assert_eq!(
            h.snapshot(&policy, clock.now()).state,
            CircuitState::HalfOpen
        );
    }

    #[test]
    fn lost_probe_lets_another_go_after_timeout() {
        let (policy, clock, h) = setup();
        h.record_failure(&policy, Failure::Rejected, clock.now());
        assert_eq!(h.snapshot(&policy, clock.now()).state, CircuitState::Open);
        clock.advance(policy.open_for);
        h.begin(&policy, clock.now());
        assert!(!h.is_available(&policy, clock.now()));
        clock.advance(policy.probe_timeout);
        assert!(h.is_available(&policy, clock.now()));
    }

    #[test]
    fn error_rate_opens_and_decays() {
        let (policy, clock, h) = setup();
        // Alternating outcomes never reach 5 in a row, but a 60 % error rate opens it.
        for i in 0..20 {
            if i % 5 < 3 {
                h.record_failure(&policy, Failure::Transient, clock.now());
            } else {
                h.record_success(&policy, Duration::from_millis(5), clock.now());
            }
            if !h.is_available(&policy, clock.now()) {
                break;
            }
        }
        assert_eq!(h.snapshot(&policy, clock.now()).state, CircuitState::Open);

        let (policy, clock, h) = setup();
        for _ in 0..3 {
            h.record_failure(&policy, Failure::Transient, clock.now());
        }
        h.record_success(&policy, Duration::from_millis(5), clock.now());
        let before = h.snapshot(&policy, clock.now()).error_rate;
        clock.advance(policy.half_life * 4);
        let after = h.snapshot(&policy, clock.now()).error_rate;
        assert!(after < before / 2.0, "{after} vs {before}");
    }

    #[test]
    fn retry_after_cools_down_without_opening() {
        let (policy, clock, h) = setup();
        h.record_failure(
            &policy,
            Failure::RateLimited(Duration::from_secs(7)),
            clock.now(),
        );
        let snap = h.snapshot(&policy, clock.now());
        assert_eq!(snap.state, CircuitState::Closed);
        assert_eq!(snap.cooldown_remaining_ms, Some(7000));
        assert_eq!(h.factors(&policy, 0.0, clock.now()).0, 0.0);
        assert!(!h.is_healthy(&policy, clock.now()));
        clock.advance(Duration::from_secs(7));
        assert!(h.factors(&policy, 0.0, clock.now()).0 > 0.0);
        assert!(h.is_healthy(&policy, clock.now()));
    }

    #[test]
    fn factors_follow_errors_and_latency_with_a_floor() {
        let clock = ManualClock::default();
        let policy = HealthPolicy::default();
        let fast = Arc::new(Health::new("p", Some("fast"), clock.now()));
        let slow = Arc::new(Health::new("p", Some("slow"), clock.now()));
        let flaky = Arc::new(Health::new("p", Some("flaky"), clock.now()));
        for _ in 0..20 {
            fast.record_success(&policy, Duration::from_millis(100), clock.now());
            slow.record_success(&policy, Duration::from_millis(400), clock.now());
        }
        for i in 0..20 {
            if i % 3 == 0 {
                flaky.record_failure(&policy, Failure::Transient, clock.now());
            } else {
                flaky.record_success(&policy, Duration::from_millis(100), clock.now());
            }
        }
        let [f, cooling] = key_factors(&policy, &[fast, slow, flaky.clone()], clock.now());
        assert_eq!(cooling, [0.0, 0.0, 0.0]);
        assert!((f[0] - 1.0).abs() < 1e-9, "{f:?}");
        assert!((f[1] - 150.0 / 450.0).abs() < 1e-9, "{f:?}");
        assert!(f[2] > policy.min_factor && f[2] < 0.6, "{f:?}");

        // Throttled, it drops to the second tier with the same health.
        flaky.record_failure(
            &policy,
            Failure::RateLimited(Duration::from_secs(1)),
            clock.now(),
        );
        let (serving, cooling) = flaky.factors(&policy, 100.0, clock.now());
        assert_eq!(serving, 0.0);
        assert!(cooling > policy.min_factor && cooling < 0.6, "{cooling}");
    }

    #[test]
    fn client_errors_do_not_count() {
        let e = GatewayError::upstream(400, "bad", None, None, None);
        assert_eq!(Failure::of(&e), None);
        let e = GatewayError::upstream(503, "down", None, None, None);
        assert_eq!(Failure::of(&e), Some(Failure::Transient));
        let e = GatewayError::upstream(401, "no", None, None, None);
        assert_eq!(Failure::of(&e), Some(Failure::Rejected));
        let e = GatewayError::upstream(
            400,
            "API key not valid.",
            Some("INVALID_ARGUMENT".into()),
            Some("API_KEY_INVALID".into()),
            None,
        );
        assert_eq!(Failure::of(&e), Some(Failure::Rejected));
        let e = GatewayError::upstream(429, "slow down", None, None, None)
            .with_retry_after(Some(Duration::from_secs(3)));
        assert_eq!(
            Failure::of(&e),
            Some(Failure::RateLimited(Duration::from_secs(3)))
        );
    }

    #[test]
    fn answers_refused_for_their_size_do_not_count() {
        let e = GatewayError::upstream_response_too_large("openai", 1024);
        assert_eq!(Failure::of(&e), None);
        let e = GatewayError::upstream_buffer_full("openai", 1024);
        assert_eq!(Failure::of(&e), None);
    }
}
