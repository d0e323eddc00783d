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

/// The `format` tag on `reasoning_details` entries that carry Anthropic thinking (the value
/// OpenRouter uses). Entries tagged for another provider (Gemini's thought signatures) are never
/// replayed to Anthropic, which would refuse signatures it did not make; untagged entries are,
/// for clients that send them back without the tag.
pub const REASONING_FORMAT: &str = "anthropic-claude-v1";

/// Whether a reasoning entry came from another provider.
pub(crate) fn is_foreign(detail: &asbru_schema::chat::ReasoningDetail) -> bool {
    detail
        .extra
        .get("format")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|f| f != REASONING_FORMAT)
}

/// The `extra` of a reasoning entry made here: just its `format` tag.
pub(crate) fn tagged() -> serde_json::Map<String, serde_json::Value> {
    let mut extra = serde_json::Map::new();
    extra.insert(
        "format".to_owned(),
        serde_json::Value::String(REASONING_FORMAT.to_owned()),
    );
    extra
}

/// The signature an Anthropic client is given for `detail` (another provider's wrapped with its
/// origin; see [`crate::signature`]).
pub(crate) fn client_signature(detail: &asbru_schema::chat::ReasoningDetail) -> Option<String> {
    crate::signature::for_client(detail, REASONING_FORMAT)
}

/// The `extra` (its `format` tag) and the signature of a thinking block an Anthropic client
/// sent back.
pub(crate) fn from_client_signature(
    signature: Option<&str>,
) -> (serde_json::Map<String, serde_json::Value>, Option<String>) {
    crate::signature::from_client(signature, tagged())
}

pub use error::{
    ConvertError, StreamError, error_from_anthropic, error_from_stream_event, error_to_anthropic,
};
pub use request::{DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET, RequestOptions};
pub use stream::{StreamFromUnified, StreamToUnified};
pub use types::{MessagesRequest, MessagesResponse, StreamEvent};
