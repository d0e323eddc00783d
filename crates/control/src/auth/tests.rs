use super::*;
use asbru_store::StoreLocation;
use base64::Engine as _;
use http::HeaderValue;
use http::header::{AUTHORIZATION, COOKIE};
use secrecy::SecretString;
use std::sync::atomic::AtomicI64;

fn config(user: &str, password: AdminPassword, enabled: bool) -> AuthConfig {
    AuthConfig {
        admin_username: user.into(),
        admin_password: password,
        is_enabled: enabled,
        disable_auth_on_inference: false,
    }
}

fn clear(p: &str) -> AdminPassword {
    AdminPassword::Clear(SecretString::from(p.to_owned()))
}

fn basic(user: &str, pass: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    let v = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
    );
    h
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

fn cookie(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        COOKIE,
        HeaderValue::from_str(&format!("token={token}")).unwrap(),
    );
    h
}

/// An `Auth` on a settable clock.
fn with_clock(auth: Auth) -> (Auth, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(1_000_000));
    let n = now.clone();
    (
        auth.with_clock(Arc::new(move || n.load(Ordering::SeqCst))),
        now,
    )
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<Store> {
    let location = StoreLocation::Sqlite {
        path: dir.path().join("config.db"),
    };
    Arc::new(
        Store::open(&location, Some("test passphrase"))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn off_lets_everything_through() {
    for auth in [
        Auth::new(None, None),
        Auth::new(Some(&config("admin", clear("pw"), false)), None),
    ] {
        assert!(!auth.is_enabled());
        assert!(!auth.inference_protected());
        assert!(auth.check(&HeaderMap::new()));
        assert!(auth.authorize(&basic("x", "y")).await);
        let err = auth.login("admin", "pw", "").await.unwrap_err();
        assert_eq!(err.status, 403);
    }
}

#[tokio::test]
async fn basic_right_and_wrong() {
    let auth = Auth::new(Some(&config("admin", clear("pw"), true)), None);
    assert!(auth.is_enabled());
    assert!(auth.inference_protected());
    assert!(!auth.check(&HeaderMap::new()));
    assert!(auth.check(&basic("admin", "pw")));
    // Cached now: still accepted, by both paths.
    assert!(auth.check(&basic("admin", "pw")));
    assert!(auth.authorize(&basic("admin", "pw")).await);
    assert!(!auth.check(&basic("admin", "wrong")));
    assert!(!auth.authorize(&basic("admin", "wrong")).await);
    assert!(!auth.check(&basic("root", "pw")));
    assert!(!auth.check(&bearer("not-a-session")));
    // Bifrost's legacy fallback: Bearer base64(user:pass).
    let legacy = base64::engine::general_purpose::STANDARD.encode("admin:pw");
    assert!(auth.check(&bearer(&legacy)));
}

#[tokio::test]
async fn inference_can_be_left_open() {
    let mut c = config("admin", clear("pw"), true);
    c.disable_auth_on_inference = true;
    let auth = Auth::new(Some(&c), None);
    assert!(auth.is_enabled());
    assert!(!auth.inference_protected());
}

#[tokio::test]
async fn session_works_after_login_and_not_after_logout() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let auth = Auth::new(
        Some(&config("admin", clear("pw"), true)),
        Some(store.clone()),
    );
    let before = auth.now_ms();
    let ok = auth.login("admin", "pw", "127.0.0.1").await.unwrap();
    assert!(uuid::Uuid::parse_str(&ok.token).is_ok());
    assert!((before + SESSION_TTL_MS..=auth.now_ms() + SESSION_TTL_MS).contains(&ok.expires_at_ms));
    assert!(auth.check(&bearer(&ok.token)));
    assert!(auth.check(&cookie(&ok.token)));
    assert!(auth.has_valid_session(&cookie(&ok.token)));
    assert_eq!(store.live_sessions(auth.now_ms()).await.unwrap().len(), 1);
    // Another node (or a restart) reads the session from the store.
    let other = Auth::new(
        Some(&config("admin", clear("pw"), true)),
        Some(store.clone()),
    );
    assert!(!other.check(&bearer(&ok.token)));
    other.reload_sessions().await;
    assert!(other.check(&bearer(&ok.token)));

    auth.logout(&ok.token).await;
    assert!(!auth.check(&bearer(&ok.token)));
    assert!(!auth.check(&cookie(&ok.token)));
    assert!(store.live_sessions(auth.now_ms()).await.unwrap().is_empty());
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let auth = Auth::new(Some(&config("admin", clear("pw"), true)), None);
    let err = auth.login("admin", "nope", "").await.unwrap_err();
    assert_eq!(
        (err.status, err.message.as_str()),
        (401, "invalid username or password")
    );
    let err = auth.login("root", "pw", "").await.unwrap_err();
    assert_eq!(err.status, 401);
    assert!(!err.message.contains("pw"));
}

#[tokio::test]
async fn expired_session_is_refused() {
    let (auth, now) = with_clock(Auth::new(Some(&config("admin", clear("pw"), true)), None));
    let ok = auth.login("admin", "pw", "").await.unwrap();
    now.fetch_add(SESSION_TTL_MS - 1, Ordering::SeqCst);
    assert!(auth.check(&bearer(&ok.token)));
    now.fetch_add(1, Ordering::SeqCst);
    assert!(!auth.check(&bearer(&ok.token)));
    assert!(!auth.has_valid_session(&bearer(&ok.token)));
}

#[tokio::test]
async fn throttle_locks_after_ten_failures() {
    let (auth, now) = with_clock(Auth::new(Some(&config("admin", clear("pw"), true)), None));
    for _ in 0..10 {
        assert_eq!(
            auth.login("admin", "bad", "10.0.0.1")
                .await
                .unwrap_err()
                .status,
            401
        );
    }
    // Locked, even with the right password.
    let err = auth.login("admin", "pw", "10.0.0.1").await.unwrap_err();
    assert_eq!(err.status, 429);
    assert_eq!(err.retry_after_secs, Some(120));
    // Another client is not.
    assert!(auth.login("admin", "pw", "10.0.0.2").await.is_ok());
    now.fetch_add(2 * 60 * 1000, Ordering::SeqCst);
    assert!(auth.login("admin", "pw", "10.0.0.1").await.is_ok());
}

#[tokio::test]
async fn password_change_ends_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let auth = Auth::new(
        Some(&config("admin", clear("pw"), true)),
        Some(store.clone()),
    );
    let ok = auth.login("admin", "pw", "").await.unwrap();

    // The same settings served again (another change): sessions stay.
    auth.configure(Some(&config("admin", clear("pw"), true)));
    assert!(auth.check(&bearer(&ok.token)));
    auth.end_sessions_if_credentials_changed().await;
    assert_eq!(store.live_sessions(auth.now_ms()).await.unwrap().len(), 1);

    auth.configure(Some(&config("admin", clear("new"), true)));
    assert!(!auth.check(&bearer(&ok.token)));
    assert!(!auth.check(&basic("admin", "pw")));
    assert!(auth.check(&basic("admin", "new")));
    // The store's sessions end from the operation that made the change.
    assert_eq!(store.live_sessions(auth.now_ms()).await.unwrap().len(), 1);
    auth.end_sessions_if_credentials_changed().await;
    assert!(store.live_sessions(auth.now_ms()).await.unwrap().is_empty());
    auth.reload_sessions().await;
    assert!(!auth.check(&bearer(&ok.token)));
}

#[tokio::test]
async fn username_change_ends_sessions_and_cached_basic() {
    let auth = Auth::new(Some(&config("admin", clear("pw"), true)), None);
    let ok = auth.login("admin", "pw", "").await.unwrap();
    assert!(auth.check(&basic("admin", "pw")));
    auth.configure(Some(&config("root", clear("pw"), true)));
    assert!(!auth.check(&bearer(&ok.token)));
    assert!(!auth.check(&basic("admin", "pw")));
    assert!(auth.check(&basic("root", "pw")));
}

#[tokio::test]
async fn hashed_password_config_works() {
    let hash = hash_password("pw").unwrap();
    let auth = Auth::new(
        Some(&config("admin", AdminPassword::Hashed(hash.clone()), true)),
        None,
    );
    assert!(auth.check(&basic("admin", "pw")));
    assert!(!auth.check(&basic("admin", hash.as_str())));
    assert!(auth.login("admin", "pw", "").await.is_ok());
    // The same hash configured from its PHC string, as the store keeps it.
    assert!(matches!(
        AdminPassword::from_configured(hash),
        AdminPassword::Hashed(_)
    ));
}

#[tokio::test]
async fn a_broken_hash_refuses_everyone() {
    let auth = Auth::new(
        Some(&config(
            "admin",
            AdminPassword::Hashed("$argon2id$garbage".into()),
            true,
        )),
        None,
    );
    assert!(!auth.check(&basic("admin", "pw")));
    assert_eq!(auth.login("admin", "pw", "").await.unwrap_err().status, 401);
}

#[tokio::test]
async fn sessions_from_before_a_change_are_never_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let auth = Auth::new(
        Some(&config("admin", clear("pw"), true)),
        Some(store.clone()),
    );
    let ok = auth.login("admin", "pw", "").await.unwrap();
    auth.configure(Some(&config("admin", clear("pw"), false)));
    auth.configure(Some(&config("admin", clear("pw"), true)));
    // The operation's own wipe has not run (or failed): reloading does it first.
    auth.reload_sessions().await;
    assert!(!auth.check(&bearer(&ok.token)));
    assert!(store.live_sessions(auth.now_ms()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_peer_change_leaves_the_store_to_the_peer() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(&dir).await;
    let auth = Auth::new(
        Some(&config("admin", clear("pw"), true)),
        Some(store.clone()),
    );
    auth.configure(Some(&config("admin", clear("new"), true)));
    auth.credentials_change_handled_elsewhere();
    // A session the peer started with the new password survives this node's reload.
    let peer = Auth::new(
        Some(&config("admin", clear("new"), true)),
        Some(store.clone()),
    );
    let ok = peer.login("admin", "new", "").await.unwrap();
    auth.reload_sessions().await;
    assert!(auth.check(&bearer(&ok.token)));
}
