//! asbru's HTTP server: the routes, request body limits, and the one place where a
//! [`GatewayError`](asbru_schema::GatewayError) becomes an HTTP response.
//!
//! Owns: the axum router, the accept loop (hyper-util, HTTP/1.1 and HTTP/2 on one port),
//! graceful shutdown, `/metrics`. Must not: hold business logic — every request goes to the
//! engine.

mod anthropic;
mod bedrock;
mod cohere;
mod dropin;
mod edge;
mod error;
mod genai;
mod guard;
mod openai_compat;
mod routes;
mod server;

pub use edge::prometheus_builder;
pub use guard::AllowedHosts;
pub use routes::{AppState, router};
pub use server::{DEFAULT_MAX_CONNECTIONS, ServerOptions, serve};
