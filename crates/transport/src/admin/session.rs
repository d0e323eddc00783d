//! `/api/session/*`: logging in and out of the admin API, and telling the dashboard whether it
//! needs to (Bifrost's session endpoints).
//!
//! The session token is a UUID v4, answered in the body (for clients that send it as
//! `Authorization: Bearer`) and as an `HttpOnly` cookie (for the dashboard). The credentials
//! never reach a log line or an error message.

use super::{control, reply};
use crate::state::AppState;
use asbru_control::{AdminError, auth};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;

/// The cookie's lifetime, as the session's (30 days).
const COOKIE_MAX_AGE_SECS: i64 = auth::SESSION_TTL_MS / 1000;

/// `POST /api/session/login`'s body. No `Debug`: it holds the password.
#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

/// `POST /api/session/login`.
pub(crate) async fn login(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let control = match control(&s) {
        Ok(c) => c,
        Err(e) => return reply::error(&e),
    };
    let Ok(creds) = serde_json::from_slice::<LoginBody>(&body) else {
        return reply::error(&AdminError::bad_request(
            "invalid request body: expected {\"username\":\"...\",\"password\":\"...\"}",
        ));
    };
    let client = client_key(&headers);
    match control
        .auth()
        .login(&creds.username, &creds.password, &client)
        .await
    {
        Ok(ok) => {
            let mut response = json_response(
                StatusCode::OK,
                &json!({"message": "Login successful", "token": ok.token}),
            );
            let cookie = format!(
                "token={}; Path=/; Max-Age={COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{}",
                ok.token,
                secure_suffix(&headers)
            );
            set_cookie(&mut response, &cookie);
            response
        }
        Err(e) => reply::error(&e),
    }
}

/// `POST /api/session/logout`: ends the session the request carries (Bearer, else the cookie)
/// and clears the cookie. Answers success even without a session, so logging out twice is fine.
pub(crate) async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let control = match control(&s) {
        Ok(c) => c,
        Err(e) => return reply::error(&e),
    };
    if let Some(token) = auth::session_token(&headers) {
        control.auth().logout(token).await;
    }
    let mut response = json_response(StatusCode::OK, &json!({"message": "Logout successful"}));
    let cookie = format!(
        "token=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{}",
        secure_suffix(&headers)
    );
    set_cookie(&mut response, &cookie);
    response
}

/// `GET /api/session/is-auth-enabled`: whether the dashboard must log in, and whether the
/// session it holds is still good.
pub(crate) async fn is_auth_enabled(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let control = match control(&s) {
        Ok(c) => c,
        Err(e) => return reply::error(&e),
    };
    let auth = control.auth();
    let enabled = auth.is_enabled();
    json_response(
        StatusCode::OK,
        &json!({
            "is_auth_enabled": enabled,
            "has_valid_token": enabled && auth.has_valid_session(&headers),
            "auth_type": if enabled { "password" } else { "none" },
            "inference_auth_enforced": auth.inference_protected(),
        }),
    )
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `; Secure` when the client reached a TLS-terminating proxy (`X-Forwarded-Proto: https`), as
/// Bifrost: over plain HTTP a `Secure` cookie would never be sent back.
fn secure_suffix(headers: &HeaderMap) -> &'static str {
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    if https { "; Secure" } else { "" }
}

/// Who is logging in, for throttling: the first `X-Forwarded-For` entry; empty when unknown, and
/// the control plane then throttles by the username tried (as Bifrost).
fn client_key(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_key_takes_the_first_forwarded_address() {
        let mut h = HeaderMap::new();
        assert_eq!(client_key(&h), "");
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static(" 203.0.113.7 , 10.0.0.1"),
        );
        assert_eq!(client_key(&h), "203.0.113.7");
    }

    #[test]
    fn secure_only_behind_https() {
        let mut h = HeaderMap::new();
        assert_eq!(secure_suffix(&h), "");
        h.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert_eq!(secure_suffix(&h), "; Secure");
        h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert_eq!(secure_suffix(&h), "");
    }

    #[test]
    fn errors_carry_retry_after() {
        let r = reply::error(&AdminError::too_many("slow down", 42));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "42");
        let r = reply::error(&AdminError::new(401, "invalid username or password"));
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
    }
}
