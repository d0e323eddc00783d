//! State shared by the server handle and every connection.

use crate::MockOptions;
use crate::fault::Fault;
use crate::record::Recorder;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::watch;

/// Faults waiting to be applied. Precedence: a per-model fault for the request's model, then a
/// per-key fault for the key it presents, then the next one-shot fault, then a random fault, then
/// the sticky default.
#[derive(Default, Serialize)]
pub(crate) struct FaultState {
    pub(crate) queue: VecDeque<Fault>,
    pub(crate) default: Option<Fault>,
    pub(crate) models: BTreeMap<String, Fault>,
    pub(crate) keys: BTreeMap<String, Fault>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) random: Option<RandomFaults>,
}

impl FaultState {
    fn is_empty(&self) -> bool {
        self.queue.is_empty()
            && self.default.is_none()
            && self.models.is_empty()
            && self.keys.is_empty()
            && self.random.is_none()
    }
}

/// A share of requests failing at random, each with one of `faults`: a provider having a bad
/// day, for chaos tests. Seeded, so a failing run can be replayed.
#[derive(Serialize)]
pub(crate) struct RandomFaults {
    pub(crate) rate: f64,
    pub(crate) faults: Vec<Fault>,
    pub(crate) seed: u64,
    #[serde(skip)]
    rng: SmallRng,
}

impl RandomFaults {
    pub(crate) fn new(rate: f64, faults: Vec<Fault>, seed: u64) -> Self {
        Self {
            rate: rate.clamp(0.0, 1.0),
            faults,
            seed,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    fn draw(&mut self) -> Option<Fault> {
        if self.faults.is_empty() || !self.rng.random_bool(self.rate) {
            return None;
        }
        let pick = self.rng.random_range(0..self.faults.len());
        self.faults.get(pick).cloned()
    }
}

pub(crate) struct Shared {
    pub(crate) opts: MockOptions,
    /// The configured content split into the stream's content chunks, computed once.
    pub(crate) pieces: Vec<String>,
    /// Whitespace words of the configured content: the completion token count of one choice.
    pub(crate) content_tokens: u64,
    pub(crate) recorder: Recorder,
    faults: Mutex<FaultState>,
    /// Lets the hot path skip the fault mutex while no fault is configured (the benchmark case).
    faults_armed: AtomicBool,
    /// Bumped by `release_streams`; held streams wait for it to pass the value they started with.
    pub(crate) release: watch::Sender<u64>,
    pub(crate) open_connections: AtomicUsize,
    /// Body bytes of `Fault::Oversized` answers handed to the server so far.
    pub(crate) oversized_bytes_sent: Arc<AtomicU64>,
    /// Token endpoints' registered clients and issued tokens.
    pub(crate) oauth: crate::oauth::OAuthState,
    next_id: AtomicU64,
}

impl Shared {
    pub(crate) fn new(opts: MockOptions) -> Self {
        let pieces = split_content(&opts.content, opts.stream_chunks.max(1));
        let content_tokens = count_words(&opts.content);
        let recorder = Recorder::new(if opts.record { opts.max_recorded } else { 0 });
        Self {
            opts,
            pieces,
            content_tokens,
            recorder,
            faults: Mutex::new(FaultState::default()),
            faults_armed: AtomicBool::new(false),
            release: watch::Sender::new(0),
            open_connections: AtomicUsize::new(0),
            oversized_bytes_sent: Arc::default(),
            oauth: crate::oauth::OAuthState::default(),
            next_id: AtomicU64::new(1),
        }
    }

    /// A fresh number for response ids, unique per server.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn recording(&self) -> bool {
        self.opts.record && self.opts.max_recorded > 0
    }

    pub(crate) fn with_faults<R>(&self, f: impl FnOnce(&mut FaultState) -> R) -> R {
        let mut guard = self.lock_faults();
        let out = f(&mut guard);
        self.faults_armed.store(!guard.is_empty(), Ordering::SeqCst);
        out
    }

    pub(crate) fn lock_faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault for a request to `model` presenting `key`, consuming a one-shot fault if that
    /// is what applies.
    pub(crate) fn take_fault(&self, model: Option<&str>, key: Option<&str>) -> Option<Fault> {
        if !self.faults_armed.load(Ordering::SeqCst) {
            return None;
        }
        self.with_faults(|st| {
            if let Some(fault) = model.and_then(|m| st.models.get(m)) {
                return Some(fault.clone());
            }
            if let Some(fault) = key.and_then(|k| st.keys.get(k)) {
                return Some(fault.clone());
            }
            if let Some(fault) = st.queue.pop_front() {
                return Some(fault);
            }
            if let Some(fault) = st.random.as_mut().and_then(RandomFaults::draw) {
                return Some(fault);
            }
            st.default.clone()
        })
    }

    pub(crate) fn release_streams(&self) {
        self.release.send_modify(|g| *g += 1);
    }
}

/// Whitespace-separated words: the mock's deterministic stand-in for a tokenizer.
pub(crate) fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Splits `content` into `n` consecutive pieces of near-equal character length, so that the
/// stream's deltas concatenate to exactly the non-streaming content.
fn split_content(content: &str, n: usize) -> Vec<String> {
    let bounds: Vec<usize> = content
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(content.len()))
        .collect();
    let chars = bounds.len() - 1;
    (0..n)
        .map(|i| {
            let start = bounds[i * chars / n];
            let end = bounds[(i + 1) * chars / n];
            content[start..end].to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_concatenates_back() {
        for n in 1..30 {
            for text in ["Hello from the mock.", "", "héllo wörld ✓", "ab"] {
                let pieces = split_content(text, n);
                assert_eq!(pieces.len(), n);
                assert_eq!(pieces.concat(), text);
            }
        }
        assert_eq!(
            split_content("Hello from the mock.", 5),
            ["Hell", "o fr", "om t", "he m", "ock."]
        );
    }

    #[test]
    fn fault_precedence() {
        let s = Shared::new(MockOptions::default());
        assert_eq!(s.take_fault(Some("m"), None), None);
        s.with_faults(|st| {
            st.default = Some(Fault::Reset);
            st.queue.push_back(Fault::MalformedJson);
            st.models.insert("m".into(), Fault::HoldStream);
            st.keys
                .insert("sk-bad".into(), Fault::StreamCut { after_chunks: 1 });
        });
        assert_eq!(
            s.take_fault(Some("m"), Some("sk-bad")),
            Some(Fault::HoldStream)
        );
        assert_eq!(
            s.take_fault(Some("x"), Some("sk-bad")),
            Some(Fault::StreamCut { after_chunks: 1 })
        );
        assert_eq!(s.take_fault(Some("x"), None), Some(Fault::MalformedJson));
        assert_eq!(s.take_fault(None, None), Some(Fault::Reset));
        assert_eq!(s.take_fault(None, None), Some(Fault::Reset));
        s.with_faults(|st| *st = FaultState::default());
        assert_eq!(s.take_fault(Some("m"), None), None);
    }

    #[test]
    fn random_faults_hit_their_rate_and_replay() {
        let s = Shared::new(MockOptions::default());
        let draw = |s: &Shared| -> Vec<Option<Fault>> {
            s.with_faults(|st| {
                st.random = Some(RandomFaults::new(
                    0.3,
                    vec![Fault::Reset, Fault::MalformedJson],
                    42,
                ));
            });
            (0..10_000).map(|_| s.take_fault(None, None)).collect()
        };
        let first = draw(&s);
        let hits = first.iter().filter(|f| f.is_some()).count();
        assert!((2700..3300).contains(&hits), "{hits} faults in 10000");
        assert!(first.contains(&Some(Fault::Reset)) && first.contains(&Some(Fault::MalformedJson)));
        assert_eq!(first, draw(&s), "same seed, same faults");
    }
}
