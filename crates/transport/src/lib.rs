//! asbru's HTTP server: the routes, request body limits, and the one place where a
//! [`GatewayError`](asbru_schema::GatewayError) becomes an HTTP response.
//!
//! Owns: the axum router, the accept loop (hyper-util, HTTP/1.1 and HTTP/2 on one port),
//! graceful shutdown, `/metrics`. Must not: hold business logic — every request goes to the
//! engine.

mod accept;
#[expect(
    dead_code,
    reason = "the admin routes wire these handlers and guards in next"
)]
mod admin;
mod anthropic;
mod bedrock;
mod cohere;
mod dropin;
mod edge;
mod error;
mod genai;
mod guard;
mod hosts;
mod openai;
mod openai_compat;
mod ops;
mod respond;
mod routes;
mod server;
mod shared;
mod state;

pub use edge::prometheus_builder;
pub use hosts::AllowedHosts;
pub use routes::router;
pub use server::{DEFAULT_MAX_CONNECTIONS, ServerOptions, serve};
pub use state::AppState;
