//! What every request passes before it reaches a route: the host it names, the browser origin it
//! comes from, and a panic net.
//!
//! - **Host allowlist** (`--allowed-hosts`): a gateway listening on loopback answers only to
//!   loopback host names by default, so a web page whose DNS name is re-bound to 127.0.0.1 (DNS
//!   rebinding) cannot reach it through the operator's browser.
//! - **Origins** (`client.allowed_origins`, Bifrost's CORS setting): a request a browser sends
//!   from another site carries `Origin`; it is served, and answered with CORS headers, only when
//!   that origin is a localhost one (as in Bifrost), the gateway's own, or an allowed one. Other
//!   origins get 403 — CORS alone would only hide the answer from the page, after the keys were
//!   spent. Clients outside browsers (SDKs, curl) send no `Origin` and are not affected.
//! - **Panics** in a handler become a 500 answer instead of a dropped connection.
//! - **The request's log line**: every request leaves exactly one `asbru::request` line. The
//!   engine writes it for the requests it takes (every inference request whose body was read
//!   and, on drop-in routes, translated); the guard writes it for all the others — refused
//!   before the engine (unknown route, not JSON, too large, host or origin not allowed, a body
//!   the dialect cannot read) or not inference at all (`/health`, `/metrics`, model lists).

use crate::edge::{HttpMetrics, RequestInfo};
use crate::error::{ApiError, ErrorNote};
use crate::hosts::{AllowedHosts, host_matches, host_name, request_authority};
use crate::state::AppState;
use asbru_schema::{GatewayError, Untrusted};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

/// Headers every client API needs a browser to be allowed to send (besides `client.allowed_headers`).
const CORS_HEADERS: [&str; 9] = [
    "content-type",
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "x-goog-api-client",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
];

/// Serves the request through [`admit`] and writes its log line unless the engine did.
pub(crate) async fn guard(state: State<AppState>, request: Request, next: Next) -> Response {
    let info = RequestInfo::of(&request);
    let http_metrics =
        HttpMetrics::start(&request, &info, state.gateway.telemetry_labels().as_deref());
    let mut line = GuardLine {
        // Cheap copies (an enum, a reference-counted buffer), kept for the line.
        method: request.method().clone(),
        uri: request.uri().clone(),
        id: Arc::clone(&info.id),
        started: Instant::now(),
        written: false,
    };
    let serve = async move {
        let mut response = admit(state, request, next).await;
        line.write(Some(&response));
        crate::edge::stamp_id(&mut response, &line.id);
        match http_metrics {
            Some(m) => m.finish(response),
            None => response,
        }
    };
    asbru_engine::track_request(crate::edge::scope(info, serve)).await
}

/// The `asbru::request` line of a request the engine did not take, written when its answer is
/// ready or, if the client went away first, when the request is dropped (`client_closed`, 499).
struct GuardLine {
    method: Method,
    uri: http::Uri,
    id: Arc<str>,
    started: Instant,
    written: bool,
}

impl GuardLine {
    /// WARN for an error answer, INFO otherwise. The path and the error message (which may
    /// quote the client) stay [`Untrusted`].
    fn write(&mut self, response: Option<&Response>) {
        self.written = true;
        if asbru_engine::engine_took_request() {
            return;
        }
        let latency_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let path = Untrusted(self.uri.path());
        let method = Untrusted(self.method.as_str());
        let request_id = Untrusted(&self.id);
        let Some(response) = response else {
            tracing::info!(target: "asbru::request", %request_id, %method, %path, status = 499, latency_ms, "client_closed");
            return;
        };
        let status = response.status().as_u16();
        if status >= 400 {
            let error = response
                .extensions()
                .get::<ErrorNote>()
                .map_or("", |note| note.0.as_str());
            tracing::warn!(
                target: "asbru::request",
                %request_id,
                %method,
                %path,
                status,
                latency_ms,
                error = %Untrusted(error),
                "error"
            );
        } else if !is_probe(self.uri.path()) {
            tracing::info!(target: "asbru::request", %request_id, %method, %path, status, latency_ms, "success");
        }
    }
}

/// Health checks and metric scrapes come every few seconds from machines, not from API clients:
/// their successes are left out of the log (their failures are written).
fn is_probe(path: &str) -> bool {
    matches!(path, "/health" | "/metrics" | "/api/providers/health")
}

impl Drop for GuardLine {
    fn drop(&mut self) {
        if !self.written {
            self.write(None);
        }
    }
}

/// Refuses requests for a host or from an origin the gateway does not serve, answers CORS
/// preflights, and adds CORS headers to allowed cross-origin answers.
async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(state.allowed_hosts, AllowedHosts::Any) {
        let name = request_authority(&request).map_or("", host_name);
        if !state.allowed_hosts.allows(name) {
            metrics::counter!("asbru_requests_refused_total", "reason" => "host").increment(1);
            return ApiError(GatewayError::forbidden(
                format!(
                    "host {} is not served here (--allowed-hosts)",
                    Untrusted(name)
                ),
                "host_not_allowed",
            ))
            .into_response();
        }
    }
    let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
        return authorize(&state, request, next).await;
    };
    let client = state.gateway.client_config();
    let own_authority = request_authority(&request).map(str::to_ascii_lowercase);
    if !origin_allowed(&origin, own_authority.as_deref(), &client.allowed_origins) {
        metrics::counter!("asbru_requests_refused_total", "reason" => "origin").increment(1);
        return ApiError(GatewayError::forbidden(
            format!(
                "origin {} is not allowed (client.allowed_origins)",
                Untrusted(origin.to_str().unwrap_or("(not text)"))
            ),
            "origin_not_allowed",
        ))
        .into_response();
    }
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        preflight_response(request.headers(), &client.allowed_headers)
    } else {
        authorize(&state, request, next).await
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// Admin authentication (`auth_config`), when it is on: `/api` needs admin credentials (but the
/// login endpoints), inference needs them too unless `disable_auth_on_inference`; `/health` and
/// `/metrics` stay open. When it is off, `/api` answers only clients on this machine (unless
/// `--admin-api-without-auth`): changing a provider's base URL is enough to have its keys sent
/// anywhere. When a virtual key is required (`enforce_auth_on_inference`), requests the
/// governance plugin does not see (every method but `POST`: model lists) need one here. Then
/// runs the rest of the stack.
async fn authorize(state: &AppState, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if request.method() != http::Method::POST
        && !path.starts_with("/api/")
        && !matches!(path, "/health" | "/metrics")
        && let Err(e) = state.gateway.check_virtual_key(request.headers())
    {
        metrics::counter!("asbru_requests_refused_total", "reason" => "virtual_key").increment(1);
        return ApiError(e).into_response();
    }
    if let Some(control) = &state.control {
        let allowed = if path.starts_with("/api/") {
            if !control.auth().is_enabled()
                && !state.admin_api_without_auth
                && !from_this_machine(&request)
            {
                metrics::counter!("asbru_requests_refused_total", "reason" => "admin_remote")
                    .increment(1);
                return crate::admin::reply::error(&asbru_control::AdminError::new(
                    403,
                    "the admin API answers only clients on this machine while admin authentication is off: \
                     turn on auth_config (admin_username, admin_password, is_enabled) to use it from elsewhere \
                     (or start with --admin-api-without-auth, which lets anyone who reaches the port reconfigure the gateway)",
                ));
            }
            crate::admin::guard::admin_authorized(control, path, request.headers()).await
        } else if matches!(path, "/health" | "/metrics") {
            true
        } else {
            crate::admin::guard::inference_authorized(control, request.headers()).await
        };
        if !allowed {
            metrics::counter!("asbru_requests_refused_total", "reason" => "unauthorized")
                .increment(1);
            return crate::admin::guard::unauthorized();
        }
    }
    catch_panic(request, next).await
}

/// Whether the request's connection comes from this machine.
fn from_this_machine(request: &Request) -> bool {
    request
        .extensions()
        .get::<crate::state::LoopbackPeer>()
        .is_some_and(|p| p.0)
}

/// Runs the rest of the stack; a panic in it becomes a 500 in the OpenAI error shape.
async fn catch_panic(request: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            metrics::counter!("asbru_handler_panics_total").increment(1);
            tracing::error!("a request handler panicked; answered 500");
            ApiError(GatewayError::internal(
                "internal error while handling the request",
            ))
            .into_response()
        }
    }
}

/// Whether a browser origin may use the gateway: a localhost origin (Bifrost's rule), the
/// gateway's own (`own_authority` is the request's `host[:port]`), or one of `allowed`.
fn origin_allowed(origin: &HeaderValue, own_authority: Option<&str>, allowed: &[String]) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    if allowed.iter().any(|a| a == "*") {
        return true;
    }
    let Some((scheme, authority)) = origin.split_once("://") else {
        // `null` (sandboxed frames, files) and anything unparsable.
        return false;
    };
    if !matches!(scheme, "http" | "https") {
        return false;
    }
    let name = host_name(authority);
    if matches!(name, "localhost" | "127.0.0.1" | "::1") || name.ends_with(".localhost") {
        return true;
    }
    if own_authority == Some(authority) {
        return true;
    }
    allowed.iter().any(|pattern| {
        if let Some((p_scheme, p_host)) = pattern.split_once("://") {
            p_scheme == scheme && host_matches(p_host, authority)
        } else {
            host_matches(pattern, authority)
        }
    })
}

/// The answer to a CORS preflight from an allowed origin.
fn preflight_response(headers: &HeaderMap, extra_allowed: &[String]) -> Response {
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let allowed: Vec<String> = requested
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| {
            CORS_HEADERS.contains(&h.as_str())
                || h.starts_with("x-bf-")
                || h.starts_with("x-stainless-")
                || extra_allowed.contains(h)
        })
        .collect();
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, value);
    }
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(origin: &str, own: Option<&str>, list: &[&str]) -> bool {
        let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        origin_allowed(&HeaderValue::from_str(origin).unwrap(), own, &list)
    }

    #[test]
    fn origins() {
        assert!(allowed("http://localhost:3000", None, &[]));
        assert!(allowed("http://127.0.0.1:5173", None, &[]));
        assert!(allowed("http://[::1]:8080", None, &[]));
        assert!(allowed(
            "http://gw.internal:8080",
            Some("gw.internal:8080"),
            &[]
        ));
        assert!(!allowed(
            "http://gw.internal:9999",
            Some("gw.internal:8080"),
            &[]
        ));
        assert!(!allowed(
            "https://evil.example",
            Some("localhost:8080"),
            &[]
        ));
        assert!(!allowed("null", None, &[]));
        assert!(!allowed("http://localhost.evil.example", None, &[]));
        let list = ["https://app.acme.test", "https://*.acme.dev"];
        assert!(allowed("https://app.acme.test", None, &list));
        assert!(!allowed("http://app.acme.test", None, &list));
        assert!(allowed("https://a.acme.dev", None, &list));
        assert!(!allowed("https://acme.dev", None, &list));
        assert!(!allowed("https://evilacme.dev", None, &list));
        assert!(allowed("https://anything.example", None, &["*"]));
    }
}
