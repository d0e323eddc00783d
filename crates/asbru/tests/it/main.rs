//! Integration tests: the real gateway (router + accept loop, or the built binary) on an ephemeral
//! port, against the mock upstream. One test binary, one module per area.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail the test loudly"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "tests run servers and clients on plain spawned tasks"
)]

mod harness;

mod admin_api;
mod admin_auth;
mod admin_governance;
mod admin_postgres;

mod anthropic;
mod anthropic_route;
mod azure;
mod bedrock;
mod bedrock_route;
mod browsers;
mod chaos;
mod chat;
mod cli;
mod cohere;
mod cohere_route;
mod container;
mod count_tokens;
mod dropin_routes;
mod errors;
mod fallbacks;
mod first_run;
mod forwarding;
mod gemini;
mod genai_route;
mod governance;
mod governance_cluster;
mod governance_routing;
mod hardening;
mod health;
mod keys;
mod lifecycle;
mod mocker;
mod plugins;
mod pricing;
mod proxy;
mod queue;
mod reload;
mod request_log;
mod responses;
mod retries;
mod secrets;
mod sessions;
mod streaming;
mod telemetry;
mod upstream_limits;
mod vertex;
mod vllm;
