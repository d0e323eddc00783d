//! The mocker's hit statistics (Bifrost's `MockStats`): atomics the plugin bumps, mirrored as
//! Prometheus counters so they can be watched without a call into the plugin.
//!
//! Metrics: `asbru_mocker_requests_total` (requests the mocker looked at),
//! `asbru_mocker_mocked_total`, `asbru_mocker_passthrough_total`,
//! `asbru_mocker_responses_total` (success answers), `asbru_mocker_errors_total` (error
//! answers) and `asbru_mocker_hits_total{rule}`.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of [`super::MockerPlugin::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockerStats {
    pub total_requests: u64,
    /// Answered by a rule or by `default_behavior` `success`/`error`.
    pub mocked_requests: u64,
    /// Let through to the provider (no rule, a rule's probability, `passthrough`).
    pub passthrough_requests: u64,
    pub responses_generated: u64,
    pub errors_generated: u64,
    /// Each rule's hits, by rule name, in priority order.
    pub rule_hits: Vec<(String, u64)>,
}

impl MockerStats {
    /// One rule's hits (0 for an unknown name).
    pub fn hits(&self, rule: &str) -> u64 {
        self.rule_hits
            .iter()
            .find(|(name, _)| name == rule)
            .map_or(0, |(_, n)| *n)
    }
}

#[derive(Debug)]
pub(super) struct Counters {
    requests: AtomicU64,
    mocked: AtomicU64,
    passthrough: AtomicU64,
    responses: AtomicU64,
    errors: AtomicU64,
    /// Indexed like the config's (priority-sorted) rules.
    hits: Vec<(String, AtomicU64)>,
}

/// What became of one request.
pub(super) enum Outcome {
    Passthrough,
    Success(Option<usize>),
    Error(Option<usize>),
}

impl Counters {
    pub(super) fn new(rules: impl Iterator<Item = String>) -> Self {
        Self {
            requests: AtomicU64::new(0),
            mocked: AtomicU64::new(0),
            passthrough: AtomicU64::new(0),
            responses: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            hits: rules.map(|r| (r, AtomicU64::new(0))).collect(),
        }
    }

    /// Counts a request and what became of it; `rule` is the index of the rule that answered.
    pub(super) fn record(&self, outcome: &Outcome) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("asbru_mocker_requests_total").increment(1);
        let rule = match outcome {
            Outcome::Passthrough => {
                self.passthrough.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("asbru_mocker_passthrough_total").increment(1);
                return;
            }
            Outcome::Success(rule) => {
                self.responses.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("asbru_mocker_responses_total").increment(1);
                rule
            }
            Outcome::Error(rule) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("asbru_mocker_errors_total").increment(1);
                rule
            }
        };
        self.mocked.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("asbru_mocker_mocked_total").increment(1);
        if let Some((name, hits)) = rule.and_then(|i| self.hits.get(i)) {
            hits.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("asbru_mocker_hits_total", "rule" => name.clone()).increment(1);
        }
    }

    pub(super) fn snapshot(&self) -> MockerStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MockerStats {
            total_requests: load(&self.requests),
            mocked_requests: load(&self.mocked),
            passthrough_requests: load(&self.passthrough),
            responses_generated: load(&self.responses),
            errors_generated: load(&self.errors),
            rule_hits: self
                .hits
                .iter()
                .map(|(n, h)| (n.clone(), load(h)))
                .collect(),
        }
    }
}
