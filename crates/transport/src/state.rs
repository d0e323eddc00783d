//! What every handler reaches: the shared state, and the shape of a route set.

use asbru_engine::Gateway;
use axum::routing::MethodRouter;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::Duration;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    /// Renders `/metrics`; `None` when no recorder is installed (tests, library use).
    pub metrics: Option<PrometheusHandle>,
    /// The `Host` names served (`--allowed-hosts`).
    pub allowed_hosts: crate::hosts::AllowedHosts,
    /// Longest pause allowed while a client sends a request body (`--client-read-timeout`);
    /// past it the request is answered 408.
    pub body_read_timeout: Duration,
    /// The control plane behind the admin API and admin auth; `None` when asbru is embedded
    /// without one (the admin routes then answer 503).
    pub control: Option<Arc<asbru_control::Control>>,
    /// `--admin-api-without-auth`: clients on other machines may use `/api` while admin auth is
    /// off (by default only loopback clients may).
    pub admin_api_without_auth: bool,
}

/// Whether the client's connection comes from this machine (set on every request by the accept
/// loop; absent when the router is driven without it, as in some tests, which counts as remote).
#[derive(Debug, Clone, Copy)]
pub struct LoopbackPeer(pub bool);

/// A set of routes speaking one client API, as (path, handlers) pairs, so the same set can be
/// mounted under several prefixes and joined with others.
pub(crate) type RouteSet = Vec<(&'static str, MethodRouter<AppState>)>;
