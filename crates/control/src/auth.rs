//! Admin authentication (Bifrost's `auth_config`): who may use `/api`, and inference unless
//! `disable_auth_on_inference`.
//!
//! Credentials are `Authorization: Basic` (the admin username and password), or a session token
//! from `/api/session/login` as `Authorization: Bearer` or the `token` cookie.
//!
//! - **The request path never touches the database.** Sessions are checked against a map in
//!   memory (token SHA-256 → expiry), refreshed on login, logout and a peer's notification.
//! - **The password is only ever an Argon2id hash here.** A clear password from `config.json` is
//!   hashed once when configured. Verifying is slow on purpose, so verified Basic credentials
//!   are remembered (by a digest, bounded) until the settings change.
//! - **Guessing is throttled** as in Bifrost (see [`throttle`]).
//! - **Changing the credentials ends every session**: in memory at once ([`Auth::configure`]),
//!   in the store from the async operation that made the change
//!   ([`Auth::end_sessions_if_credentials_changed`]).

mod headers;
mod password;
mod throttle;

pub use headers::session_token;
pub use password::{HashError, hash_password};

use crate::AdminError;
use arc_swap::ArcSwap;
use asbru_config::{AdminPassword, AuthConfig};
use asbru_store::{Session, Store};
use headers::Authorization;
use http::HeaderMap;
use password::{VerifiedCache, constant_time_eq, digest, token_hash, verify_password};
use secrecy::ExposeSecret;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use throttle::Throttle;

/// How long a login session lasts (Bifrost: 30 days).
pub const SESSION_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// A clock in milliseconds since the Unix epoch (injectable, for tests).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A successful login.
#[derive(Clone)]
pub struct LoginOk {
    /// The session token (a UUID v4): the client's credential until it expires or logs out.
    pub token: String,
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for LoginOk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOk")
            .field("token", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// The auth settings being enforced.
#[derive(Default)]
struct Settings {
    enabled: bool,
    disable_auth_on_inference: bool,
    username: String,
    /// Argon2id PHC string; `None` when there is none usable (nothing then verifies).
    password_hash: Option<String>,
    /// A digest of the password as configured, to tell whether it changed without hashing it
    /// again (a clear password is hashed with a new salt each time).
    source: [u8; 32],
}

impl Settings {
    /// Whether logging in with `other` would need other credentials than with `self`.
    fn same_credentials(&self, other: &Self) -> bool {
        self.enabled == other.enabled
            && self.username == other.username
            && self.source == other.source
    }
}

/// Who may use `/api` (and inference, unless `disable_auth_on_inference`).
pub struct Auth {
    store: Option<Arc<Store>>,
    settings: ArcSwap<Settings>,
    /// Live sessions: token SHA-256 hex → expiry (ms).
    sessions: RwLock<HashMap<String, i64>>,
    verified: VerifiedCache,
    throttle: Throttle,
    /// The credentials changed and the store's sessions have not been ended yet.
    store_sessions_stale: AtomicBool,
    clock: Clock,
}

impl Auth {
    pub fn new(config: Option<&AuthConfig>, store: Option<Arc<Store>>) -> Self {
        let auth = Self {
            store,
            settings: ArcSwap::from_pointee(Settings::default()),
            sessions: RwLock::new(HashMap::new()),
            verified: VerifiedCache::default(),
            throttle: Throttle::default(),
            store_sessions_stale: AtomicBool::new(false),
            clock: Arc::new(system_now_ms),
        };
        auth.settings.store(Arc::new(auth.settings_from(config)));
        auth
    }

    /// Uses `clock` instead of the system's (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Now, in ms since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// Takes the auth settings of a newly served configuration. When the username, the
    /// password or `is_enabled` changed, every session ends in memory now; the store's end in
    /// [`Self::end_sessions_if_credentials_changed`].
    pub fn configure(&self, config: Option<&AuthConfig>) {
        let next = self.settings_from(config);
        let current = self.settings.load();
        let changed = !current.same_credentials(&next);
        // Settings first, then the sessions: a login that checks the settings while holding the
        // session map either sees the change or has its session cleared here.
        self.settings.store(Arc::new(next));
        if changed {
            self.verified.clear();
            self.write_sessions().clear();
            self.store_sessions_stale.store(true, Ordering::SeqCst);
            tracing::info!("admin credentials changed: every admin session ended");
        }
    }

    /// Builds settings from the configuration, hashing a clear password unless it is the one
    /// already configured.
    fn settings_from(&self, config: Option<&AuthConfig>) -> Settings {
        let Some(config) = config else {
            return Settings::default();
        };
        let (source, password_hash) = match &config.admin_password {
            AdminPassword::Hashed(hash) => {
                (digest(&[b"hashed", hash.as_bytes()]), Some(hash.clone()))
            }
            AdminPassword::Clear(clear) => {
                let clear = clear.expose_secret();
                let source = digest(&[b"clear", clear.as_bytes()]);
                let current = self.settings.load();
                let hash = if current.source == source && current.password_hash.is_some() {
                    current.password_hash.clone()
                } else {
                    match hash_password(clear) {
                        Ok(h) => Some(h),
                        Err(e) => {
                            tracing::error!(error = %e, "admin authentication cannot be checked: the password could not be hashed");
                            None
                        }
                    }
                };
                (source, hash)
            }
        };
        Settings {
            enabled: config.is_enabled,
            disable_auth_on_inference: config.disable_auth_on_inference,
            username: config.admin_username.clone(),
            password_hash,
            source,
        }
    }

    /// Whether admin authentication is on.
    pub fn is_enabled(&self) -> bool {
        self.settings.load().enabled
    }

    /// Whether inference requests need credentials too.
    pub fn inference_protected(&self) -> bool {
        let s = self.settings.load();
        s.enabled && !s.disable_auth_on_inference
    }

    /// Whether a request may pass: always when auth is off; else with a live session (Bearer
    /// or cookie) or the admin credentials (Basic). An uncached Basic check runs argon2 on this
    /// thread; prefer [`Self::authorize`] on async paths.
    pub fn check(&self, headers: &HeaderMap) -> bool {
        match self.decide(headers) {
            Decision::Allow => true,
            Decision::Deny => false,
            Decision::Verify(v) => v.run(&self.verified),
        }
    }

    /// As [`Self::check`], with an uncached password verification off the async threads.
    pub async fn authorize(&self, headers: &HeaderMap) -> bool {
        match self.decide(headers) {
            Decision::Allow => true,
            Decision::Deny => false,
            Decision::Verify(v) => {
                let cache_key = v.cache_key;
                let ok = tokio::task::spawn_blocking(move || verify_password(&v.password, &v.hash))
                    .await
                    .unwrap_or(false);
                if ok {
                    self.verified.insert(cache_key);
                }
                ok
            }
        }
    }

    /// Everything [`Self::check`] can decide without argon2.
    fn decide(&self, headers: &HeaderMap) -> Decision {
        let settings = self.settings.load();
        if !settings.enabled {
            return Decision::Allow;
        }
        if headers::token_cookie(headers).is_some_and(|t| self.session_valid(t)) {
            return Decision::Allow;
        }
        let credentials = match headers::authorization(headers) {
            Authorization::Bearer(token) if self.session_valid(token) => return Decision::Allow,
            // Bifrost's legacy fallback: a Bearer value that is base64(user:pass).
            Authorization::Bearer(token) => match headers::decode_basic(token) {
                Some(c) => c,
                None => return Decision::Deny,
            },
            Authorization::Basic(c) => c,
            Authorization::None => return Decision::Deny,
        };
        let Some((user, password)) = credentials.split_once(':') else {
            return Decision::Deny;
        };
        let Some(hash) = settings.password_hash.as_deref() else {
            return Decision::Deny;
        };
        if !constant_time_eq(user.as_bytes(), settings.username.as_bytes()) {
            return Decision::Deny;
        }
        let cache_key = digest(&[credentials.as_bytes(), hash.as_bytes()]);
        if self.verified.contains(&cache_key) {
            return Decision::Allow;
        }
        Decision::Verify(Verify {
            password: password.to_owned(),
            hash: hash.to_owned(),
            cache_key,
        })
    }

    /// Whether `token` names a live session.
    pub fn session_valid(&self, token: &str) -> bool {
        let now = self.now_ms();
        self.read_sessions()
            .get(&token_hash(token))
            .is_some_and(|&expires| expires > now)
    }

    /// Whether the request carries a live session token (Bearer or cookie), for
    /// `/api/session/is-auth-enabled`.
    pub fn has_valid_session(&self, headers: &HeaderMap) -> bool {
        let bearer_ok = matches!(headers::authorization(headers), Authorization::Bearer(t) if self.session_valid(t));
        bearer_ok || headers::token_cookie(headers).is_some_and(|t| self.session_valid(t))
    }

    /// Logs in with the admin credentials and starts a session. `client` identifies the caller
    /// for throttling (its IP as forwarded); empty means unknown, and the username is used.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
    ) -> Result<LoginOk, AdminError> {
        let settings = self.settings.load_full();
        if !settings.enabled {
            return Err(AdminError::new(403, "authentication is not enabled"));
        }
        let key = throttle_key(client, username);
        let now = self.now_ms();
        self.throttle.check(&key, now).map_err(|secs| {
            AdminError::too_many(
                format!("too many failed login attempts; try again in {secs} s"),
                secs,
            )
        })?;
        let Some(hash) = settings.password_hash.clone() else {
            return Err(AdminError::new(
                500,
                "authentication is not properly configured",
            ));
        };
        let user_ok = constant_time_eq(username.as_bytes(), settings.username.as_bytes());
        // The password is verified even for a wrong username, so timing does not tell which.
        let clear = password.to_owned();
        let password_ok = tokio::task::spawn_blocking(move || verify_password(&clear, &hash))
            .await
            .unwrap_or(false);
        if !(user_ok && password_ok) {
            self.throttle.fail(&key, self.now_ms());
            return Err(AdminError::new(401, "invalid username or password"));
        }
        self.throttle.succeed(&key);
        self.start_session(&settings).await
    }

    /// Records a new session in the store (if any) and in memory.
    async fn start_session(&self, settings: &Arc<Settings>) -> Result<LoginOk, AdminError> {
        let token = uuid::Uuid::new_v4().to_string();
        let now = self.now_ms();
        let session = Session {
            token_hash: token_hash(&token),
            expires_at_ms: now.saturating_add(SESSION_TTL_MS),
        };
        if let Some(store) = &self.store {
            store
                .create_session(&session, now, asbru_store::MAX_SESSIONS)
                .await
                .map_err(|e| AdminError::store_unavailable(&e))?;
        }
        let still_valid = {
            let mut sessions = self.write_sessions();
            let still_valid = settings.same_credentials(&self.settings.load());
            if still_valid {
                sessions.retain(|_, &mut expires| expires > now);
                sessions.insert(session.token_hash.clone(), session.expires_at_ms);
                evict_beyond_cap(&mut sessions, asbru_store::MAX_SESSIONS);
            }
            still_valid
        };
        if !still_valid {
            // The credentials changed while this login was checked: it does not count.
            self.forget_in_store(&session.token_hash).await;
            return Err(AdminError::new(401, "invalid username or password"));
        }
        Ok(LoginOk {
            token,
            expires_at_ms: session.expires_at_ms,
        })
    }

    /// Ends a session, in memory and in the store. Unknown tokens are ignored; a store error is
    /// logged (the session is already gone from this node).
    pub async fn logout(&self, token: &str) {
        let hash = token_hash(token);
        self.write_sessions().remove(&hash);
        self.forget_in_store(&hash).await;
    }

    async fn forget_in_store(&self, hash: &str) {
        if let Some(store) = &self.store
            && let Err(e) = store.delete_session(hash).await
        {
            tracing::warn!(error = %e, "could not delete an admin session from the config store");
        }
    }

    /// Ends every session, in memory and in the store.
    pub async fn end_all_sessions(&self) -> Result<(), AdminError> {
        self.write_sessions().clear();
        if let Some(store) = &self.store {
            store
                .delete_all_sessions()
                .await
                .map_err(|e| AdminError::store_unavailable(&e))?;
        }
        self.store_sessions_stale.store(false, Ordering::SeqCst);
        Ok(())
    }

    /// After a change made on this node: when it changed the credentials, ends the sessions
    /// kept in the store too (the other nodes hear of it and drop theirs). Errors are logged
    /// and tried again on the next call.
    pub async fn end_sessions_if_credentials_changed(&self) {
        if self.store_sessions_stale.load(Ordering::SeqCst)
            && let Err(e) = self.end_all_sessions().await
        {
            tracing::error!(error = %e, "admin credentials changed but the stored sessions could not be ended");
        }
    }

    /// A peer changed the credentials and ended the stored sessions itself: nothing is left to
    /// do in the store.
    pub fn credentials_change_handled_elsewhere(&self) {
        self.store_sessions_stale.store(false, Ordering::SeqCst);
    }

    /// Reads the live sessions from the store again (a peer logged in or out). Ending the stored
    /// sessions after a credentials change made here is tried again first if it failed, so
    /// that sessions from before the change are never read back.
    pub async fn reload_sessions(&self) {
        let Some(store) = &self.store else { return };
        self.end_sessions_if_credentials_changed().await;
        if self.store_sessions_stale.load(Ordering::SeqCst) {
            return;
        }
        match store.live_sessions(self.now_ms()).await {
            Ok(live) => {
                let map = live
                    .into_iter()
                    .map(|s| (s.token_hash, s.expires_at_ms))
                    .collect();
                *self.write_sessions() = map;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not reload the admin sessions; keeping the ones known")
            }
        }
    }

    fn read_sessions(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, i64>> {
        self.sessions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_sessions(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, i64>> {
        self.sessions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What a request's credentials come to before any argon2 work.
enum Decision {
    Allow,
    Deny,
    Verify(Verify),
}

/// A password to verify against the current hash; remembered when right.
struct Verify {
    password: String,
    hash: String,
    cache_key: [u8; 32],
}

impl Verify {
    fn run(self, cache: &VerifiedCache) -> bool {
        let ok = verify_password(&self.password, &self.hash);
        if ok {
            cache.insert(self.cache_key);
        }
        ok
    }
}

/// The throttling key, as Bifrost: the client's IP when known, else the username tried.
fn throttle_key(client: &str, username: &str) -> String {
    let client = client.trim();
    if client.is_empty() {
        format!("username:{}", username.trim().to_lowercase())
    } else {
        format!("ip:{}", client.to_lowercase())
    }
}

fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;

/// Keeps at most `cap` sessions, ending the ones that would end soonest
/// (the store does the same on each login).
fn evict_beyond_cap(sessions: &mut HashMap<String, i64>, cap: usize) {
    while sessions.len() > cap {
        let Some(soonest) = sessions
            .iter()
            .min_by_key(|(_, expires)| **expires)
            .map(|(hash, _)| hash.clone())
        else {
            return;
        };
        sessions.remove(&soonest);
        metrics::counter!("asbru_admin_sessions_evicted_total").increment(1);
        tracing::info!("admin session limit reached: the oldest session was ended");
    }
}

#[cfg(test)]
mod cap_tests {
    #[test]
    fn the_sessions_that_end_soonest_go_first() {
        let mut sessions: std::collections::HashMap<String, i64> =
            [("a".into(), 30), ("b".into(), 10), ("c".into(), 20)].into();
        super::evict_beyond_cap(&mut sessions, 2);
        assert_eq!(sessions.len(), 2);
        assert!(!sessions.contains_key("b"));
    }
}
