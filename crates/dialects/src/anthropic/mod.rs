//! The Anthropic Messages dialect (`POST /v1/messages`): its wire types and the conversions to
//! and from the unified chat types, both directions, streaming included.
//!
//! * [`request::to_anthropic`] / [`response::from_anthropic`] / [`StreamToUnified`]: the provider
//!   direction, for sending a unified (OpenAI-shaped) request to Anthropic and reading its answer.
//! * [`request::from_anthropic`] / [`response::to_anthropic`] / [`StreamFromUnified`]: the client
//!   direction, for the `/anthropic` drop-in routes, where Anthropic SDKs talk to asbru.
//! * [`error`]: Anthropic's error body to [`asbru_schema::GatewayError`] and back.
//!
//! Everything here is pure: no IO, no clock (callers pass `created`), no HTTP. Every mapping
//! decision is documented on the function that makes it, and tests under
//! `crates/dialects/tests/anthropic.rs` drive each one from Anthropic's documented examples.

pub mod error;
pub mod request;
pub mod response;
pub mod stream;
pub mod types;

pub use error::{
    ConvertError, StreamError, error_from_anthropic, error_from_stream_event, error_to_anthropic,
};
pub use request::{DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET, RequestOptions};
pub use stream::{StreamFromUnified, StreamToUnified};
pub use types::{MessagesRequest, MessagesResponse, StreamEvent};
