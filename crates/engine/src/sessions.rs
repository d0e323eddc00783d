//! Session stickiness: `x-bf-session-id` keeps a conversation on one key of a provider.
//!
//! Provider-side prompt caches and rate-limit windows are per key, so a chat session that hops
//! between keys pays for it. The first request of a session picks a key as usual; later ones
//! reuse it while the entry lives (`x-bf-session-ttl`, default one hour, refreshed on each use)
//! and the key still exists and allows the model. Only the primary model sticks — fallbacks choose
//! freely — as in Bifrost. The store is in memory and bounded: when it is full of live sessions,
//! new ones are not remembered (and counted in `asbru_sessions_not_stored_total`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bifrost's default session lifetime.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

/// The longest a session is remembered, whatever `x-bf-session-ttl` asks: a longer lifetime would
/// not be useful, and an unbounded one overflows the clock (`now + ttl` panics).
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Sessions remembered at most; about 100 bytes each.
const CAPACITY: usize = 100_000;

#[derive(Debug)]
struct Sticky {
    provider: String,
    key_id: String,
    expires: Instant,
}

/// Live sessions and the key each one sticks to.
#[derive(Debug, Default)]
pub(crate) struct SessionStore {
    sessions: Mutex<HashMap<String, Sticky>>,
}

impl SessionStore {
    /// The key `session` uses at `provider`, if it is still alive.
    pub(crate) fn key_for(&self, session: &str, provider: &str, now: Instant) -> Option<String> {
        let sessions = self.sessions.lock().ok()?;
        sessions
            .get(session)
            .filter(|s| s.provider == provider && s.expires > now)
            .map(|s| s.key_id.clone())
    }

    /// Remembers (or refreshes) the key of `session` until `now + ttl` (at most
    /// [`MAX_SESSION_TTL`]).
    pub(crate) fn remember(
        &self,
        session: &str,
        provider: &str,
        key_id: &str,
        ttl: Duration,
        now: Instant,
    ) {
        let Ok(mut sessions) = self.sessions.lock() else {
            return;
        };
        if sessions.len() >= CAPACITY && !sessions.contains_key(session) {
            sessions.retain(|_, s| s.expires > now);
            if sessions.len() >= CAPACITY {
                metrics::counter!("asbru_sessions_not_stored_total").increment(1);
                return;
            }
        }
        sessions.insert(
            session.to_owned(),
            Sticky {
                provider: provider.to_owned(),
                key_id: key_id.to_owned(),
                expires: now + ttl.min(MAX_SESSION_TTL),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_ttl_is_capped_instead_of_overflowing_the_clock() {
        let store = SessionStore::default();
        let now = Instant::now();
        store.remember("s", "openai", "k1", Duration::from_secs(u64::MAX), now);
        assert_eq!(
            store.key_for("s", "openai", now + Duration::from_secs(3600)),
            Some("k1".to_owned())
        );
        assert_eq!(
            store.key_for(
                "s",
                "openai",
                now + MAX_SESSION_TTL + Duration::from_secs(1)
            ),
            None
        );
    }

    #[test]
    fn sessions_stick_per_provider_until_they_expire() {
        let store = SessionStore::default();
        let now = Instant::now();
        store.remember("s1", "openai", "key-a", Duration::from_secs(10), now);
        assert_eq!(store.key_for("s1", "openai", now).as_deref(), Some("key-a"));
        assert_eq!(store.key_for("s1", "groq", now), None);
        assert_eq!(store.key_for("s2", "openai", now), None);
        assert_eq!(
            store.key_for("s1", "openai", now + Duration::from_secs(11)),
            None
        );
        // Each use refreshes the lifetime.
        store.remember(
            "s1",
            "openai",
            "key-a",
            Duration::from_secs(10),
            now + Duration::from_secs(9),
        );
        assert!(
            store
                .key_for("s1", "openai", now + Duration::from_secs(15))
                .is_some()
        );
    }
}
