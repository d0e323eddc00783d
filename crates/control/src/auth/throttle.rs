//! Login throttling, as Bifrost's `loginattempts.go`: guessing the admin password through
//! `/api/session/login` is slowed to a handful of tries per client every few minutes.
//!
//! - Per client key: 10 failures within a 2 minute window (counted from the window's first
//!   failure) lock that key for 2 minutes.
//! - Globally: 1000 failures within 2 minutes lock every login for 2 minutes, which bounds an
//!   attacker who rotates client keys (`X-Forwarded-For` is the client's to say).
//! - At most 1024 keys are tracked; when full, ended entries are dropped first, and a new key is
//!   not tracked if none can be (the global limit still counts it).
//! - A successful login clears its key and the global count.

use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW_MS: i64 = 2 * 60 * 1000;
const LOCK_MS: i64 = 2 * 60 * 1000;
const KEY_LIMIT: u32 = 10;
const GLOBAL_LIMIT: u32 = 1000;
const MAX_KEYS: usize = 1024;

/// Failures seen in one window, and the lock they led to.
#[derive(Debug, Clone, Copy, Default)]
struct Attempts {
    failures: u32,
    window_start_ms: i64,
    locked_until_ms: i64,
}

impl Attempts {
    /// Milliseconds left on the lock, if locked at `now`.
    fn locked(&self, now: i64) -> Option<i64> {
        (self.locked_until_ms > now).then(|| self.locked_until_ms - now)
    }

    /// Counts one failure; locks when `limit` is reached within the window.
    fn fail(&mut self, now: i64, limit: u32) {
        if self.failures == 0 || now - self.window_start_ms >= WINDOW_MS {
            self.failures = 0;
            self.window_start_ms = now;
        }
        self.failures += 1;
        if self.failures >= limit {
            self.locked_until_ms = now + LOCK_MS;
            self.failures = 0;
        }
    }

    /// Whether this entry says nothing any more (window over, not locked).
    fn ended(&self, now: i64) -> bool {
        self.locked(now).is_none() && now - self.window_start_ms >= WINDOW_MS
    }
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Attempts>,
    global: Attempts,
}

/// The login attempt counters of this node.
#[derive(Default)]
pub(crate) struct Throttle {
    state: Mutex<State>,
}

impl Throttle {
    /// `Err(seconds to wait)` when `key`, or every login, is locked at `now`.
    pub(crate) fn check(&self, key: &str, now: i64) -> Result<(), u64> {
        let state = self.lock();
        let wait = [
            state.global.locked(now),
            state.keys.get(key).and_then(|a| a.locked(now)),
        ]
        .into_iter()
        .flatten()
        .max();
        match wait {
            // Rounded up, so a client that waits as told is let in.
            Some(ms) => Err(u64::try_from(ms).unwrap_or(0).div_ceil(1000).max(1)),
            None => Ok(()),
        }
    }

    /// Counts a failed login for `key`.
    pub(crate) fn fail(&self, key: &str, now: i64) {
        let mut state = self.lock();
        state.global.fail(now, GLOBAL_LIMIT);
        if !state.keys.contains_key(key) && state.keys.len() >= MAX_KEYS {
            state.keys.retain(|_, a| !a.ended(now));
            if state.keys.len() >= MAX_KEYS {
                return;
            }
        }
        state
            .keys
            .entry(key.to_owned())
            .or_default()
            .fail(now, KEY_LIMIT);
    }

    /// A successful login: its key and the global count start over.
    pub(crate) fn succeed(&self, key: &str) {
        let mut state = self.lock();
        state.keys.remove(key);
        state.global.failures = 0;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_lock_the_key_for_two_minutes() {
        let t = Throttle::default();
        for i in 0..9 {
            t.fail("ip:1.2.3.4", i);
            assert!(t.check("ip:1.2.3.4", i).is_ok());
        }
        t.fail("ip:1.2.3.4", 10);
        assert_eq!(t.check("ip:1.2.3.4", 10), Err(120));
        assert_eq!(t.check("ip:1.2.3.4", 10 + 60_000), Err(60));
        assert!(t.check("ip:5.6.7.8", 10).is_ok());
        assert!(t.check("ip:1.2.3.4", 10 + LOCK_MS).is_ok());
    }

    #[test]
    fn the_window_starts_over() {
        let t = Throttle::default();
        for i in 0..9 {
            t.fail("k", i);
        }
        t.fail("k", WINDOW_MS + 1);
        assert!(t.check("k", WINDOW_MS + 1).is_ok());
    }

    #[test]
    fn success_clears_the_key() {
        let t = Throttle::default();
        for i in 0..9 {
            t.fail("k", i);
        }
        t.succeed("k");
        t.fail("k", 20);
        assert!(t.check("k", 20).is_ok());
    }

    #[test]
    fn global_limit_locks_everyone() {
        let t = Throttle::default();
        for i in 0..GLOBAL_LIMIT {
            t.fail(&format!("k{i}"), 1);
        }
        assert!(t.check("someone-else", 2).is_err());
        assert!(t.lock().keys.len() <= MAX_KEYS);
    }
}
