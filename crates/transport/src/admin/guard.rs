//! Who may reach the admin API and inference when admin authentication is on. Plain functions,
//! called from the middleware in front of each route group.
//!
//! The login page's own endpoints and `/health` stay open (Bifrost's whitelist), so a dashboard
//! without credentials can find out it must log in, and load balancers can probe.
//! Prefer the async forms on the request path: a Basic password seen for the first time is
//! verified with argon2 off the async threads.

use super::reply;
use asbru_control::{AdminError, Control};
use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

/// Paths open without credentials (exact match, no query string). `/metrics` is not under
/// `/api` and stays open too, like `/health`, for scrapers and load balancers.
const OPEN_PATHS: &[&str] = &[
    "/api/session/login",
    "/api/session/is-auth-enabled",
    "/health",
];

/// Whether a request to the admin API at `path` may pass (argon2, when needed, runs off the
/// async threads).
pub(crate) async fn admin_authorized(control: &Control, path: &str, headers: &HeaderMap) -> bool {
    let auth = control.auth();
    !auth.is_enabled() || OPEN_PATHS.contains(&path) || auth.authorize(headers).await
}

/// Whether an inference request may pass.
pub(crate) async fn inference_authorized(control: &Control, headers: &HeaderMap) -> bool {
    let auth = control.auth();
    !auth.inference_protected() || auth.authorize(headers).await
}

/// The answer to a request without valid credentials: 401, and a Basic challenge so that
/// clients which can send Basic credentials know to.
pub(crate) fn unauthorized() -> Response {
    let mut response = reply::error(&AdminError::new(401, "Unauthorized"));
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"asbru\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_challenges_basic() {
        let r = unauthorized();
        assert_eq!(r.status(), http::StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"asbru\""
        );
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    }
}
