//! Exact in-process admission against budgets and rate limits.
//!
//! Bifrost's rule is "admit while there is headroom": a request passes a counter when what has
//! been used is still below the limit, and its real cost is added afterwards. Done naively, many
//! requests arriving together all see the same headroom and overshoot the limit together. This
//! module closes that gap on one node: [`Limits::admit`] checks every counter that applies to a
//! request and, under one lock, *reserves* the request's worst case on all of them (all or
//! nothing). The check counts reservations as used, so concurrent requests queue up against the
//! same headroom and the settled total exceeds a limit by at most one request's worst case —
//! the one that was admitted while headroom remained, as in Bifrost, which is also why a budget
//! smaller than one request still lets the first request through.
//!
//! When the request finishes, [`Admission::settle`] swaps the reservation for the real figures.
//! An admission dropped without settling (the request failed or was cancelled before any usage
//! was known) releases its reservation and charges nothing; callers that want a failed request
//! to count (for example against the request-count limit) settle explicitly.
//!
//! Amounts are integers so that reserving and releasing never leaves rounding residue: requests
//! and tokens count themselves, money is counted in nano-dollars ([`usd_to_nanos`]).
//!
//! Windows renew lazily: whenever a counter is touched at or after its window's end (computed
//! by [`crate::duration::window`] from an injectable [`Clock`]), its used amount drops to zero.
//! Rolling windows lie on a lattice anchored at the counter's first reset, calendar-aligned ones
//! on the UTC calendar, so the boundaries do not depend on when a counter happens to be touched. Reservations of requests still in flight survive the renewal — they settle into the
//! window in which they finish.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;

use crate::duration::{self, ResetDuration};
use crate::shared::{RedisCounters, RemoteAdmission, RemoteCounter, RemoteSettle};

/// Where "now" comes from, so tests can move time by hand.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap_or(Timestamp::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Nano-dollars in one US dollar.
pub const NANOS_PER_USD: f64 = 1e9;

/// Converts dollars to the integer nano-dollars that budget counters count, rounding up so a
/// reservation is never smaller than the cost it stands for. Negative and non-finite inputs
/// give zero; amounts beyond `u64` saturate.
pub fn usd_to_nanos(usd: f64) -> u64 {
    if usd.is_nan() || usd <= 0.0 {
        return 0;
    }
    let nanos = (usd * NANOS_PER_USD).ceil();
    if nanos >= u64::MAX as f64 {
        u64::MAX
    } else {
        nanos as u64
    }
}

/// Converts nano-dollars back to dollars, for messages and headers.
pub fn nanos_to_usd(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_USD
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterKind {
    /// Money, in nano-dollars; owned by a budget.
    Budget,
    /// Requests; the request half of a rate limit.
    Requests,
    /// Tokens; the token half of a rate limit.
    Tokens,
}

impl CounterKind {
    /// The name this kind is saved and shared under: `budget`, `requests` or `tokens`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::Requests => "requests",
            Self::Tokens => "tokens",
        }
    }

    /// The kind saved under `key` ([`CounterKind::key`]).
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "budget" => Some(Self::Budget),
            "requests" => Some(Self::Requests),
            "tokens" => Some(Self::Tokens),
            _ => None,
        }
    }
}

impl fmt::Display for CounterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Budget => "budget",
            Self::Requests => "request",
            Self::Tokens => "token",
        })
    }
}

/// Names one counter: the id of the budget or rate limit that owns it, and what it counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterRef {
    /// Budget id or rate-limit id from the config.
    pub id: String,
    /// Which counter of that owner.
    pub kind: CounterKind,
}

impl CounterRef {
    /// The money counter of budget `id`.
    pub fn budget(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: CounterKind::Budget,
        }
    }

    /// The request counter of rate limit `id`.
    pub fn requests(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: CounterKind::Requests,
        }
    }

    /// The token counter of rate limit `id`.
    pub fn tokens(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            kind: CounterKind::Tokens,
        }
    }
}

impl fmt::Display for CounterRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?}", self.kind, self.id)
    }
}

/// How a counter is configured: its limit and window, and where it stood when loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterSpec {
    /// The limit, in the counter's unit (nano-dollars, requests or tokens).
    pub limit: u64,
    /// The window length.
    pub reset: ResetDuration,
    /// Whether windows snap to UTC calendar boundaries.
    pub calendar_aligned: bool,
    /// Usage already recorded in the current window (Bifrost's `current_usage`).
    pub used: u64,
    /// When the current window began (Bifrost's `last_reset`); `None` means "now".
    pub last_reset: Option<Timestamp>,
}

/// Figures for one request, in every unit; each counter takes the one matching its kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Cost in nano-dollars.
    pub cost_nanos: u64,
    /// Tokens (input plus output).
    pub tokens: u64,
    /// Requests; 1 for a request (a reservation of 0 would not hold a request-limit slot).
    pub requests: u64,
}

impl Usage {
    /// One request with the given cost in dollars and token count.
    pub fn request(cost_usd: f64, tokens: u64) -> Self {
        Self {
            cost_nanos: usd_to_nanos(cost_usd),
            tokens,
            requests: 1,
        }
    }

    fn get(&self, kind: CounterKind) -> u64 {
        match kind {
            CounterKind::Budget => self.cost_nanos,
            CounterKind::Requests => self.requests,
            CounterKind::Tokens => self.tokens,
        }
    }
}

/// Why a request was refused: the first counter without headroom.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{counter} exhausted: {} used of {}, resets in {retry_after_secs}s", self.amount(self.used), self.amount(self.limit))]
pub struct Refusal {
    /// The counter that refused.
    pub counter: CounterRef,
    /// Used plus reserved in the current window, in the counter's unit.
    pub used: u64,
    /// The counter's limit, in the counter's unit.
    pub limit: u64,
    /// Whole seconds until the window renews, rounded up and at least 1 (for `Retry-After`).
    pub retry_after_secs: u64,
}

impl Refusal {
    /// An amount in this counter's unit, for people: dollars for budgets, counts otherwise.
    pub fn amount(&self, units: u64) -> String {
        match self.counter.kind {
            CounterKind::Budget => format!("${:.6}", nanos_to_usd(units)),
            CounterKind::Requests => format!("{units} requests"),
            CounterKind::Tokens => format!("{units} tokens"),
        }
    }
}

#[derive(Debug)]
struct Counter {
    spec: CounterSpec,
    /// Where the rolling lattice of windows is anchored: the loaded `last_reset`, else the
    /// moment the counter was created.
    anchor: Timestamp,
    window_start: Timestamp,
    window_end: Timestamp,
    used: u64,
    reserved: u64,
    /// What every node had settled, and held in flight, in this window when Redis last
    /// answered (shared counters only): while Redis is away this node admits a share of what
    /// was left then.
    shared_used: u64,
    shared_held: u64,
}

impl Counter {
    fn new(spec: CounterSpec, now: Timestamp, shared: bool) -> Self {
        let anchor = spec
            .last_reset
            .unwrap_or(if shared { Timestamp::UNIX_EPOCH } else { now });
        // The usage loaded with the spec belongs to the window of its `last_reset`; without
        // one, to the window in progress (on the epoch's lattice when shared).
        let loaded_at = if spec.last_reset.is_some() {
            anchor
        } else {
            now
        };
        let (window_start, window_end) =
            duration::window(anchor, loaded_at, spec.reset, spec.calendar_aligned);
        let used = spec.used;
        Self {
            spec,
            anchor,
            window_start,
            window_end,
            used,
            reserved: 0,
            shared_used: 0,
            shared_held: 0,
        }
    }

    /// Starts a new window if the current one has ended.
    fn roll(&mut self, now: Timestamp) {
        if now >= self.window_end {
            (self.window_start, self.window_end) = duration::window(
                self.anchor,
                now,
                self.spec.reset,
                self.spec.calendar_aligned,
            );
            self.used = 0;
            self.shared_used = 0;
            self.shared_held = 0;
        }
    }

    /// Whether a request fits, on this node alone, when `nodes` nodes share the counter and
    /// cannot reach each other: each then gets an equal share of what was left when Redis last
    /// answered, so together they still stay within the limit.
    fn has_headroom(&self, nodes: u64) -> bool {
        let limit = if nodes > 1 {
            let left = self
                .spec
                .limit
                .saturating_sub(self.shared_used.saturating_add(self.shared_held));
            self.shared_used.saturating_add(left / nodes)
        } else {
            self.spec.limit
        };
        self.used.saturating_add(self.reserved) < limit
    }

    fn retry_after_secs(&self, now: Timestamp) -> u64 {
        retry_after_secs(self.window_end, now)
    }
}

/// A counter's state at one instant, for headers, routing (percent used) and persistence.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The counter's limit.
    pub limit: u64,
    /// Settled usage in the current window.
    pub used: u64,
    /// Reserved by requests still in flight.
    pub reserved: u64,
    /// When the current window began (what Bifrost stores as `last_reset`).
    pub window_start: Timestamp,
    /// When it ends.
    pub window_end: Timestamp,
}

struct Shared {
    clock: Arc<dyn Clock>,
    counters: Mutex<HashMap<CounterRef, Counter>>,
    /// Redis, when counters are shared between nodes.
    remote: Option<Arc<RedisCounters>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, HashMap<CounterRef, Counter>> {
        // A panic while holding the lock cannot leave a counter half-updated (every update is a
        // few integer assignments), so the data stays usable after poisoning.
        self.counters.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The registry of every counter on this node.
///
/// One mutex guards all counters: admission touches several counters at once and must be all
/// or nothing, and a single lock makes that trivially deadlock-free. The critical section is a
/// handful of hash lookups, far below the cost of the request it guards. Cloning is cheap and
/// shares the counters.
#[derive(Clone)]
pub struct Limits {
    shared: Arc<Shared>,
}

impl fmt::Debug for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limits")
            .field("counters", &self.shared.lock().len())
            .finish()
    }
}

impl Limits {
    /// An empty registry reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                clock,
                counters: Mutex::new(HashMap::new()),
                remote: None,
            }),
        }
    }

    /// A registry whose counters are shared with every node using the same Redis (and key
    /// prefix): [`Limits::admit_shared`] admits there while Redis answers, and on this node's
    /// own counters while it does not. Rolling windows of counters without a `last_reset` are
    /// anchored at the Unix epoch, so that every node computes the same windows.
    pub fn shared(clock: Arc<dyn Clock>, remote: Arc<RedisCounters>) -> Self {
        Self {
            shared: Arc::new(Shared {
                clock,
                counters: Mutex::new(HashMap::new()),
                remote: Some(remote),
            }),
        }
    }

    /// The Redis side, when counters are shared.
    pub fn remote(&self) -> Option<&Arc<RedisCounters>> {
        self.shared.remote.as_ref()
    }

    /// Adds a counter or reconfigures an existing one.
    ///
    /// Reconfiguring (a config reload) keeps the counter's usage, reservations and window
    /// start, and takes the new limit and duration; the window end is recomputed from them.
    /// A new counter starts from the spec's `used` and `last_reset`.
    pub fn upsert(&self, counter: CounterRef, spec: CounterSpec) {
        let now = self.shared.clock.now();
        let mut counters = self.shared.lock();
        match counters.get_mut(&counter) {
            Some(c) => {
                (c.window_start, c.window_end) =
                    duration::window(c.anchor, c.window_start, spec.reset, spec.calendar_aligned);
                c.spec = spec;
                c.roll(now);
            }
            None => {
                let mut c = Counter::new(spec, now, self.shared.remote.is_some());
                c.roll(now);
                if let Some(remote) = &self.shared.remote {
                    remote.seed(
                        remote_used_key(remote, &counter, c.window_start),
                        c.used,
                        ttl_ms(&c, now),
                    );
                }
                counters.insert(counter, c);
            }
        }
    }

    /// Removes a counter (its budget or rate limit was deleted). Requests in flight against it
    /// settle into whatever counter has that name when they finish: none (a no-op), or a new
    /// one added since, which then sees their usage but never a negative reservation.
    pub fn remove(&self, counter: &CounterRef) {
        self.shared.lock().remove(counter);
    }

    /// The state of one counter now, after renewing its window if due.
    pub fn snapshot(&self, counter: &CounterRef) -> Option<Snapshot> {
        let now = self.shared.clock.now();
        let mut counters = self.shared.lock();
        let c = counters.get_mut(counter)?;
        c.roll(now);
        Some(Snapshot {
            limit: c.spec.limit,
            used: c.used,
            reserved: c.reserved,
            window_start: c.window_start,
            window_end: c.window_end,
        })
    }

    /// Admits a request against `counters` and reserves `reservation` (the request's worst
    /// case) on each, or refuses it and reserves nothing.
    ///
    /// Every counter needs headroom: `used + reserved < limit`. Rate-limit counters are checked
    /// before budgets, as in Bifrost, so a request refused by both reports the rate limit
    /// (429 before 402); within a kind the caller's order decides. A counter named twice is
    /// charged once. Counters not in the registry impose no limit: the caller names what the
    /// config says applies, and a budget removed by a concurrent reload simply stops counting.
    pub fn admit(&self, counters: &[CounterRef], reservation: Usage) -> Result<Admission, Refusal> {
        let refs = in_admission_order(counters);
        let nodes = self.shared.remote.as_ref().map_or(1, |r| r.live_nodes());
        let now = self.shared.clock.now();
        let mut map = self.shared.lock();
        let mut held = Vec::with_capacity(refs.len());
        for r in refs {
            let Some(c) = map.get_mut(&r) else { continue };
            c.roll(now);
            if !c.has_headroom(nodes) {
                return Err(Refusal {
                    used: c.used.saturating_add(c.reserved),
                    limit: c.spec.limit,
                    retry_after_secs: c.retry_after_secs(now),
                    counter: r,
                });
            }
            held.push(r);
        }
        for r in &held {
            if let Some(c) = map.get_mut(r) {
                c.reserved = c.reserved.saturating_add(reservation.get(r.kind));
            }
        }
        drop(map);
        Ok(Admission {
            shared: Arc::clone(&self.shared),
            counters: held,
            reservation,
            settled: false,
            held_in_redis: false,
        })
    }

    /// [`Limits::admit`] across nodes: through Redis when counters are shared and Redis
    /// answers, else on this node's own counters (which is all [`Limits::admit`] does).
    ///
    /// The future owns what it needs, so the caller can hold it past its borrows.
    pub fn admit_shared(
        &self,
        counters: Vec<CounterRef>,
        reservation: Usage,
    ) -> impl std::future::Future<Output = Result<Admission, Refusal>> + Send + 'static {
        let limits = self.clone();
        async move {
            let Some(remote) = limits.shared.remote.clone().filter(|r| r.is_up()) else {
                return limits.admit(&counters, reservation);
            };
            let refs = in_admission_order(&counters);
            let now = limits.shared.clock.now();
            // What Redis must check: each known counter's window and limit, as this node
            // computes them (every node computes the same windows).
            let mut plan: Vec<(CounterRef, RemoteCounter, Timestamp)> =
                Vec::with_capacity(refs.len());
            {
                let mut map = limits.shared.lock();
                for r in refs {
                    let Some(c) = map.get_mut(&r) else { continue };
                    c.roll(now);
                    plan.push((
                        r.clone(),
                        RemoteCounter {
                            used_key: remote_used_key(&remote, &r, c.window_start),
                            held_key: remote_held_key(&remote, &r),
                            limit: c.spec.limit,
                            amount: reservation.get(r.kind),
                        },
                        c.window_end,
                    ));
                }
            }
            if plan.is_empty() {
                // Nothing this node knows limits the request: no round trip.
                return limits.admit(&[], reservation);
            }
            let remote_plan: Vec<RemoteCounter> = plan.iter().map(|(_, c, _)| c.clone()).collect();
            match remote.admit(&remote_plan).await {
                Ok(RemoteAdmission::Admitted(used)) => {
                    // Keep this node's counters close to the shared figures, so that falling
                    // back to them starts from what all nodes have spent.
                    let mut map = limits.shared.lock();
                    for ((r, _, _), (used, held)) in plan.iter().zip(used) {
                        if let Some(c) = map.get_mut(r) {
                            c.used = used;
                            c.shared_used = used;
                            c.shared_held = held;
                        }
                    }
                    drop(map);
                    Ok(Admission {
                        shared: Arc::clone(&limits.shared),
                        counters: plan.into_iter().map(|(r, _, _)| r).collect(),
                        reservation,
                        settled: false,
                        held_in_redis: true,
                    })
                }
                Ok(RemoteAdmission::Refused { index, used }) => {
                    let (r, c, window_end) = plan.swap_remove(index.min(plan.len() - 1));
                    Err(Refusal {
                        used,
                        limit: c.limit,
                        retry_after_secs: retry_after_secs(window_end, limits.shared.clock.now()),
                        counter: r,
                    })
                }
                Err(()) => limits.admit(&counters, reservation),
            }
        }
    }

    /// Brings this node's view of every counter up to what all nodes have settled, when
    /// counters are shared and Redis answers (reports read [`Limits::snapshot`] after it, so
    /// every node reports the same usage). Does nothing otherwise.
    pub async fn pull_shared_usage(&self) {
        let Some(remote) = self.shared.remote.clone() else {
            return;
        };
        let now = self.shared.clock.now();
        let keys: Vec<(CounterRef, Timestamp, String)> = {
            let mut map = self.shared.lock();
            map.iter_mut()
                .map(|(r, c)| {
                    c.roll(now);
                    (
                        r.clone(),
                        c.window_start,
                        remote_used_key(&remote, r, c.window_start),
                    )
                })
                .collect()
        };
        let names: Vec<String> = keys.iter().map(|(_, _, k)| k.clone()).collect();
        let Some(values) = remote.read_used(&names).await else {
            return;
        };
        let mut map = self.shared.lock();
        for ((r, start, _), used) in keys.into_iter().zip(values) {
            if let Some(c) = map.get_mut(&r)
                && c.window_start == start
            {
                c.used = used;
            }
        }
    }

    /// Whether admissions may wait on Redis ([`Limits::admit_shared`] is then needed for the
    /// counters to be shared).
    pub fn is_shared(&self) -> bool {
        self.shared.remote.is_some()
    }

    /// Every counter's state now, for persisting usage and for reports.
    pub fn snapshots(&self) -> Vec<(CounterRef, Snapshot)> {
        let now = self.shared.clock.now();
        let mut map = self.shared.lock();
        map.iter_mut()
            .map(|(r, c)| {
                c.roll(now);
                (
                    r.clone(),
                    Snapshot {
                        limit: c.spec.limit,
                        used: c.used,
                        reserved: c.reserved,
                        window_start: c.window_start,
                        window_end: c.window_end,
                    },
                )
            })
            .collect()
    }

    /// Puts back usage saved before a restart: `used` counted in the window that began at
    /// `window_start`. Ignored when that window is over (the usage has reset since) or when
    /// the counter is unknown (its budget or limit was removed). A rolling window resumes on
    /// the saved lattice, so a restart neither shortens nor restarts the window.
    pub fn restore(&self, counter: &CounterRef, used: u64, window_start: Timestamp) {
        let now = self.shared.clock.now();
        let mut map = self.shared.lock();
        let Some(c) = map.get_mut(counter) else {
            return;
        };
        let (start, end) =
            duration::window(window_start, now, c.spec.reset, c.spec.calendar_aligned);
        if start != window_start {
            return;
        }
        if c.window_start != start {
            c.anchor = window_start;
            (c.window_start, c.window_end) = (start, end);
            c.used = 0;
        }
        if used > c.used {
            c.used = used;
            if let Some(remote) = &self.shared.remote {
                remote.seed(
                    remote_used_key(remote, counter, c.window_start),
                    used,
                    ttl_ms(c, now),
                );
            }
        }
    }
}

/// The counters in the order admission checks them: each once, rate limits first, the
/// caller's order within each group.
fn in_admission_order(counters: &[CounterRef]) -> Vec<CounterRef> {
    let mut refs: Vec<CounterRef> = Vec::with_capacity(counters.len());
    for r in counters {
        if !refs.contains(r) {
            refs.push(r.clone());
        }
    }
    refs.sort_by_key(|r| r.kind == CounterKind::Budget);
    refs
}

fn remote_used_key(remote: &RedisCounters, r: &CounterRef, window_start: Timestamp) -> String {
    remote.used_key(r.kind.key(), &r.id, window_start.as_second())
}

fn remote_held_key(remote: &RedisCounters, r: &CounterRef) -> String {
    remote.held_key(r.kind.key(), &r.id)
}

/// How long Redis keeps a window's usage: to the window's end, plus an hour for nodes whose
/// clocks run a little behind.
fn ttl_ms(c: &Counter, now: Timestamp) -> u64 {
    let left = c.window_end.duration_since(now).as_millis().max(0);
    u64::try_from(left)
        .unwrap_or(u64::MAX)
        .saturating_add(3_600_000)
}

fn retry_after_secs(window_end: Timestamp, now: Timestamp) -> u64 {
    let d = window_end.duration_since(now);
    let secs = d.as_secs() + i64::from(d.subsec_nanos() > 0);
    u64::try_from(secs).unwrap_or(0).max(1)
}

/// An admitted request's hold on its counters.
///
/// Settle it with the real figures when the request ends. Dropping it unsettled releases the
/// reservation and charges nothing — the right outcome for a request that never reached a
/// provider; settle explicitly (for example with [`Usage`] `{ requests: 1, ..}`) when a failed
/// request should still count.
#[derive(Debug)]
#[must_use = "an admission releases its reservation when dropped; settle it with the real usage"]
pub struct Admission {
    shared: Arc<Shared>,
    counters: Vec<CounterRef>,
    reservation: Usage,
    settled: bool,
    /// The reservation was made in Redis (else on this node's counters).
    held_in_redis: bool,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shared")
    }
}

impl Admission {
    /// The counters this admission holds, rate limits first.
    pub fn counters(&self) -> &[CounterRef] {
        &self.counters
    }

    /// Replaces the reservation with the real usage on every held counter.
    ///
    /// Usage above the reservation is charged in full (the estimate was wrong; the money is
    /// spent); it can push a counter past its limit, which then refuses new requests until the
    /// window renews.
    pub fn settle(mut self, actual: Usage) {
        self.release(Some(actual));
    }

    fn release(&mut self, actual: Option<Usage>) {
        if self.settled {
            return;
        }
        self.settled = true;
        let now = self.shared.clock.now();
        let mut map = self.shared.lock();
        let remote = self.shared.remote.as_ref();
        let mut parts = Vec::new();
        for r in &self.counters {
            let Some(c) = map.get_mut(r) else { continue };
            c.roll(now);
            let add = actual.map_or(0, |a| a.get(r.kind));
            // This node's counters follow its own usage either way (the fallback's start).
            c.used = c.used.saturating_add(add);
            let Some(remote) = remote else {
                c.reserved = c.reserved.saturating_sub(self.reservation.get(r.kind));
                continue;
            };
            let used_key = remote_used_key(remote, r, c.window_start);
            if self.held_in_redis {
                parts.push(RemoteSettle {
                    used_key,
                    held_key: remote_held_key(remote, r),
                    release: self.reservation.get(r.kind),
                    add,
                    ttl_ms: ttl_ms(c, now),
                });
            } else {
                c.reserved = c.reserved.saturating_sub(self.reservation.get(r.kind));
                remote.settled_offline(used_key, add, ttl_ms(c, now));
            }
        }
        drop(map);
        if let Some(remote) = remote
            && !parts.is_empty()
        {
            remote.settle(parts);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.release(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn spec(limit: u64, reset: &str) -> CounterSpec {
        CounterSpec {
            limit,
            reset: ResetDuration::parse(reset).unwrap(),
            calendar_aligned: false,
            used: 0,
            last_reset: None,
        }
    }

    fn setup(at: &str) -> (Arc<ManualClock>, Limits) {
        let clock = Arc::new(ManualClock::new(ts(at)));
        let limits = Limits::new(clock.clone());
        (clock, limits)
    }

    #[test]
    fn restored_usage_resumes_its_window_and_ended_windows_are_dropped() {
        let (clock, limits) = setup("2026-01-01T10:30:00Z");
        limits.upsert(CounterRef::requests("r"), spec(5, "1h"));
        // Saved by the previous process: 4 requests in the window that began at 10:00.
        limits.restore(&CounterRef::requests("r"), 4, ts("2026-01-01T10:00:00Z"));
        let snapshot = limits.snapshot(&CounterRef::requests("r")).unwrap();
        assert_eq!(snapshot.used, 4);
        assert_eq!(snapshot.window_end, ts("2026-01-01T11:00:00Z"));
        // A window that has ended since is not restored.
        limits.upsert(CounterRef::requests("old"), spec(5, "1h"));
        limits.restore(&CounterRef::requests("old"), 4, ts("2026-01-01T09:00:00Z"));
        assert_eq!(
            limits.snapshot(&CounterRef::requests("old")).unwrap().used,
            0
        );
        clock.advance_secs(1800);
        assert_eq!(limits.snapshot(&CounterRef::requests("r")).unwrap().used, 0);
    }

    #[test]
    fn usd_conversion_rounds_up() {
        assert_eq!(usd_to_nanos(1.0), 1_000_000_000);
        assert_eq!(usd_to_nanos(0.000_000_15), 150);
        assert_eq!(usd_to_nanos(1e-12), 1);
        assert_eq!(usd_to_nanos(-3.0), 0);
        assert_eq!(usd_to_nanos(f64::NAN), 0);
        assert_eq!(usd_to_nanos(f64::INFINITY), u64::MAX);
        assert!((nanos_to_usd(2_500_000_000) - 2.5).abs() < 1e-12);
    }

    #[test]
    fn first_request_passes_a_budget_smaller_than_it() {
        let (_, limits) = setup("2026-01-01T00:00:00Z");
        limits.upsert(CounterRef::budget("b"), spec(usd_to_nanos(0.01), "1d"));
        let a = limits
            .admit(&[CounterRef::budget("b")], Usage::request(1.0, 0))
            .unwrap();
        // While it is in flight, nothing else gets in.
        assert!(
            limits
                .admit(&[CounterRef::budget("b")], Usage::request(0.001, 0))
                .is_err()
        );
        a.settle(Usage::request(1.0, 0));
        let refusal = limits
            .admit(&[CounterRef::budget("b")], Usage::request(0.001, 0))
            .unwrap_err();
        assert_eq!(refusal.counter, CounterRef::budget("b"));
        assert_eq!(refusal.used, usd_to_nanos(1.0));
        assert_eq!(refusal.limit, usd_to_nanos(0.01));
        assert_eq!(refusal.retry_after_secs, 86_400);
    }

    #[test]
    fn refusal_reads_in_the_counter_unit() {
        let r = Refusal {
            counter: CounterRef::budget("b1"),
            used: usd_to_nanos(10.5),
            limit: usd_to_nanos(10.0),
            retry_after_secs: 42,
        };
        assert_eq!(
            r.to_string(),
            "budget \"b1\" exhausted: $10.500000 used of $10.000000, resets in 42s"
        );
        let r = Refusal {
            counter: CounterRef::tokens("rl"),
            used: 7,
            limit: 5,
            retry_after_secs: 1,
        };
        assert_eq!(
            r.to_string(),
            "token \"rl\" exhausted: 7 tokens used of 5 tokens, resets in 1s"
        );
    }

    #[test]
    fn registry_and_admissions_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Limits>();
        send_sync::<Admission>();
    }

    #[test]
    fn zero_limit_refuses_everything() {
        let (_, limits) = setup("2026-01-01T00:00:00Z");
        limits.upsert(CounterRef::requests("r"), spec(0, "1m"));
        assert!(
            limits
                .admit(&[CounterRef::requests("r")], Usage::request(0.0, 0))
                .is_err()
        );
    }

    #[test]
    fn all_or_nothing() {
        let (_, limits) = setup("2026-01-01T00:00:00Z");
        limits.upsert(CounterRef::budget("open"), spec(1_000, "1d"));
        limits.upsert(
            CounterRef::budget("full"),
            CounterSpec {
                used: 1_000,
                ..spec(1_000, "1d")
            },
        );
        let refs = [CounterRef::budget("open"), CounterRef::budget("full")];
        let r = limits
            .admit(
                &refs,
                Usage {
                    cost_nanos: 10,
                    ..Usage::default()
                },
            )
            .unwrap_err();
        assert_eq!(r.counter, CounterRef::budget("full"));
        let open = limits.snapshot(&CounterRef::budget("open")).unwrap();
        assert_eq!((open.used, open.reserved), (0, 0));
    }

    #[test]
    fn rate_limits_are_checked_before_budgets() {
        let (_, limits) = setup("2026-01-01T00:00:00Z");
        limits.upsert(
            CounterRef::budget("b"),
            CounterSpec {
                used: 5,
                ..spec(5, "1d")
            },
        );
        limits.upsert(
            CounterRef::requests("r"),
            CounterSpec {
                used: 5,
                ..spec(5, "1m")
            },
        );
        let r = limits
            .admit(
                &[CounterRef::budget("b"), CounterRef::requests("r")],
                Usage::request(0.0, 0),
            )
            .unwrap_err();
        assert_eq!(r.counter, CounterRef::requests("r"));
        assert_eq!(r.retry_after_secs, 60);
    }

    #[test]
    fn drop_releases_and_settle_charges() {
        let (_, limits) = setup("2026-01-01T00:00:00Z");
        let t = CounterRef::tokens("rl");
        limits.upsert(t.clone(), spec(1_000, "1h"));
        let a = limits
            .admit(
                std::slice::from_ref(&t),
                Usage {
                    tokens: 800,
                    ..Usage::default()
                },
            )
            .unwrap();
        assert_eq!(limits.snapshot(&t).unwrap().reserved, 800);
        drop(a);
        let s = limits.snapshot(&t).unwrap();
        assert_eq!((s.used, s.reserved), (0, 0));
        let a = limits
            .admit(
                std::slice::from_ref(&t),
                Usage {
                    tokens: 800,
                    ..Usage::default()
                },
            )
            .unwrap();
        a.settle(Usage {
            tokens: 120,
            ..Usage::default()
        });
        let s = limits.snapshot(&t).unwrap();
        assert_eq!((s.used, s.reserved), (120, 0));
    }

    #[test]
    fn duplicate_and_unknown_counters() {
        let (_, limits) = setup("2026-01-01T00:00:00Z");
        let b = CounterRef::budget("b");
        limits.upsert(b.clone(), spec(100, "1d"));
        let a = limits
            .admit(
                &[b.clone(), CounterRef::budget("gone"), b.clone()],
                Usage {
                    cost_nanos: 30,
                    ..Usage::default()
                },
            )
            .unwrap();
        assert_eq!(a.counters(), std::slice::from_ref(&b));
        a.settle(Usage {
            cost_nanos: 30,
            ..Usage::default()
        });
        assert_eq!(limits.snapshot(&b).unwrap().used, 30);
    }

    #[test]
    fn rolling_window_resets_with_the_clock() {
        let (clock, limits) = setup("2026-01-01T10:00:00Z");
        let r = CounterRef::requests("rl");
        limits.upsert(r.clone(), spec(2, "1m"));
        for _ in 0..2 {
            limits
                .admit(std::slice::from_ref(&r), Usage::request(0.0, 0))
                .unwrap()
                .settle(Usage::request(0.0, 0));
        }
        let refusal = limits
            .admit(std::slice::from_ref(&r), Usage::request(0.0, 0))
            .unwrap_err();
        assert_eq!(refusal.retry_after_secs, 60);
        clock.advance_secs(59);
        let refusal = limits
            .admit(std::slice::from_ref(&r), Usage::request(0.0, 0))
            .unwrap_err();
        assert_eq!(refusal.retry_after_secs, 1);
        clock.advance_secs(1);
        limits
            .admit(std::slice::from_ref(&r), Usage::request(0.0, 0))
            .unwrap()
            .settle(Usage::request(0.0, 0));
        let s = limits.snapshot(&r).unwrap();
        assert_eq!(s.used, 1);
        assert_eq!(s.window_start, ts("2026-01-01T10:01:00Z"));
        assert_eq!(s.window_end, ts("2026-01-01T10:02:00Z"));
        // A long idle period: the next window is the one on the lattice that contains now.
        clock.advance_secs(3_600 + 17);
        let s = limits.snapshot(&r).unwrap();
        assert_eq!(s.used, 0);
        assert_eq!(s.window_start, ts("2026-01-01T11:01:00Z"));
    }

    #[test]
    fn calendar_aligned_month_reset() {
        let (clock, limits) = setup("2026-01-20T15:00:00Z");
        let b = CounterRef::budget("monthly");
        limits.upsert(
            b.clone(),
            CounterSpec {
                calendar_aligned: true,
                used: usd_to_nanos(10.0),
                last_reset: Some(ts("2026-01-01T00:00:00Z")),
                ..spec(usd_to_nanos(10.0), "1M")
            },
        );
        let r = limits
            .admit(std::slice::from_ref(&b), Usage::request(0.5, 0))
            .unwrap_err();
        assert_eq!(r.retry_after_secs, 11 * 86_400 + 9 * 3_600);
        clock.set(ts("2026-02-01T00:00:00Z"));
        limits
            .admit(std::slice::from_ref(&b), Usage::request(0.5, 0))
            .unwrap()
            .settle(Usage::request(0.25, 0));
        // Idle through March: the next window starts on the 1st of the month it is seen in.
        clock.set(ts("2026-04-13T08:00:00Z"));
        let s = limits.snapshot(&b).unwrap();
        assert_eq!(s.used, 0);
        assert_eq!(s.window_start, ts("2026-04-01T00:00:00Z"));
        assert_eq!(s.window_end, ts("2026-05-01T00:00:00Z"));
    }

    #[test]
    fn loaded_usage_and_window_survive_when_still_current() {
        let (_, limits) = setup("2026-01-01T00:30:00Z");
        let b = CounterRef::budget("b");
        limits.upsert(
            b.clone(),
            CounterSpec {
                used: 40,
                last_reset: Some(ts("2026-01-01T00:00:00Z")),
                ..spec(100, "1h")
            },
        );
        let s = limits.snapshot(&b).unwrap();
        assert_eq!((s.used, s.window_end), (40, ts("2026-01-01T01:00:00Z")));
        // Reload with a higher limit keeps usage.
        limits.upsert(b.clone(), spec(200, "1h"));
        let s = limits.snapshot(&b).unwrap();
        assert_eq!((s.used, s.limit), (40, 200));
        // A stale last_reset starts a fresh window.
        limits.upsert(
            CounterRef::budget("old"),
            CounterSpec {
                used: 99,
                last_reset: Some(ts("2025-12-31T00:00:00Z")),
                ..spec(100, "1h")
            },
        );
        assert_eq!(limits.snapshot(&CounterRef::budget("old")).unwrap().used, 0);
    }

    #[test]
    fn reservation_in_flight_across_a_reset_settles_into_the_new_window() {
        let (clock, limits) = setup("2026-01-01T00:00:00Z");
        let t = CounterRef::tokens("t");
        limits.upsert(t.clone(), spec(100, "1m"));
        let a = limits
            .admit(
                std::slice::from_ref(&t),
                Usage {
                    tokens: 50,
                    ..Usage::default()
                },
            )
            .unwrap();
        clock.advance_secs(61);
        a.settle(Usage {
            tokens: 30,
            ..Usage::default()
        });
        let s = limits.snapshot(&t).unwrap();
        assert_eq!((s.used, s.reserved), (30, 0));
    }

    #[test]
    fn removal_and_lowered_limit_during_flight() {
        let (_, limits) = setup("2026-01-01T00:00:00Z");
        let b = CounterRef::budget("b");
        limits.upsert(b.clone(), spec(100, "1d"));
        let a = limits
            .admit(
                std::slice::from_ref(&b),
                Usage {
                    cost_nanos: 60,
                    ..Usage::default()
                },
            )
            .unwrap();
        limits.remove(&b);
        a.settle(Usage {
            cost_nanos: 60,
            ..Usage::default()
        });
        assert!(limits.snapshot(&b).is_none());

        limits.upsert(b.clone(), spec(100, "1d"));
        limits
            .admit(
                std::slice::from_ref(&b),
                Usage {
                    cost_nanos: 50,
                    ..Usage::default()
                },
            )
            .unwrap()
            .settle(Usage {
                cost_nanos: 50,
                ..Usage::default()
            });
        // A reload lowers the limit below what is already spent: usage is kept, new requests wait.
        limits.upsert(b.clone(), spec(40, "1d"));
        let r = limits
            .admit(std::slice::from_ref(&b), Usage::default())
            .unwrap_err();
        assert_eq!((r.used, r.limit), (50, 40));
    }
}
