//! Session stickiness: `x-bf-session-id` keeps a conversation on one key of a provider.
//!
//! Provider-side prompt caches and rate-limit windows are per key, so a chat session that hops
//! between keys pays for it. The first request of a session picks a key as usual; later ones
//! reuse it while the entry lives (`x-bf-session-ttl`, default one hour, refreshed on each use)
//! and the key still exists and allows the model. Only the primary model sticks — fallbacks choose
//! freely — as in Bifrost. The store is in memory and bounded: when it is full of live sessions,
//! new ones are not remembered (and counted in `asbru_sessions_not_stored_total`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Bifrost's default session lifetime.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

/// The longest a session is remembered: a week outlives any conversation, and a client-chosen
/// duration added to the clock must stay far from where that overflows. The transport answers a
/// longer `x-bf-session-ttl` with a 400; the store caps it too, whoever calls it.
pub const MAX_SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

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
    /// The map, even if a thread panicked while holding it: every write below leaves the map
    /// consistent, so a panic elsewhere must not break stickiness for everyone until restart.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Sticky>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key `session` uses at `provider`, if it is still alive.
    pub(crate) fn key_for(&self, session: &str, provider: &str, now: Instant) -> Option<String> {
        let sessions = self.lock();
        sessions
            .get(session)
            .filter(|s| s.provider == provider && s.expires > now)
            .map(|s| s.key_id.clone())
    }

    /// Remembers (or refreshes) the key of `session` until `now + ttl`, at most
    /// [`MAX_SESSION_TTL`] (the transport refuses longer ones); checked, so even a duration past
    /// what the clock holds cannot panic. The entry is built before the lock is taken, so nothing
    /// that could fail runs under it.
    pub(crate) fn remember(
        &self,
        session: &str,
        provider: &str,
        key_id: &str,
        ttl: Duration,
        now: Instant,
    ) {
        let Some(expires) = now.checked_add(ttl.min(MAX_SESSION_TTL)) else {
            metrics::counter!("asbru_sessions_not_stored_total").increment(1);
            return;
        };
        let entry = Sticky {
            provider: provider.to_owned(),
            key_id: key_id.to_owned(),
            expires,
        };
        let mut sessions = self.lock();
        if sessions.len() >= CAPACITY && !sessions.contains_key(session) {
            sessions.retain(|_, s| s.expires > now);
            if sessions.len() >= CAPACITY {
                metrics::counter!("asbru_sessions_not_stored_total").increment(1);
                return;
            }
        }
        sessions.insert(session.to_owned(), entry);
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
    fn a_poisoned_lock_does_not_outlive_the_panic() {
        let store = std::sync::Arc::new(SessionStore::default());
        let poisoner = std::sync::Arc::clone(&store);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.sessions.lock();
            std::panic::panic_any("a panic while holding the session lock");
        })
        .join();
        assert!(store.sessions.is_poisoned());
        let now = Instant::now();
        store.remember("s", "openai", "key-a", Duration::from_secs(60), now);
        assert_eq!(store.key_for("s", "openai", now).as_deref(), Some("key-a"));
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
