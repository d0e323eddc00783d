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

/// Marks a signature the Anthropic drop-in route hands to its client for another provider's
/// reasoning (a Gemini thought signature): `asbru-sig:{format}:{signature}`. Anthropic clients
/// treat signatures as opaque and send them back as they got them, so the route can give the
/// reasoning its origin back and replay it to the provider that signed it.
const CLIENT_SIGNATURE_PREFIX: &str = "asbru-sig:";

/// The signature an Anthropic client is given for `detail`: its own for Anthropic reasoning
/// (and for untagged entries), wrapped with its format for another provider's.
pub(crate) fn client_signature(detail: &asbru_schema::chat::ReasoningDetail) -> Option<String> {
    let signature = detail.signature.as_ref()?;
    match detail
        .extra
        .get("format")
        .and_then(serde_json::Value::as_str)
    {
        Some(format) if format != REASONING_FORMAT && !format.contains(':') => {
            Some(format!("{CLIENT_SIGNATURE_PREFIX}{format}:{signature}"))
        }
        _ => Some(signature.clone()),
    }
}

/// The `extra` (its `format` tag) and the signature of a thinking block an Anthropic client
/// sent back: the origin [`client_signature`] wrapped in, or Anthropic's own.
pub(crate) fn from_client_signature(
    signature: Option<&str>,
) -> (serde_json::Map<String, serde_json::Value>, Option<String>) {
    let unwrapped = signature
        .and_then(|s| s.strip_prefix(CLIENT_SIGNATURE_PREFIX))
        .and_then(|rest| rest.split_once(':'));
    match unwrapped {
        Some((format, original)) => {
            let mut extra = serde_json::Map::new();
            extra.insert("format".to_owned(), format.into());
            (extra, Some(original.to_owned()))
        }
        None => (tagged(), signature.map(str::to_owned)),
    }
}

pub use error::{
    ConvertError, StreamError, error_from_anthropic, error_from_stream_event, error_to_anthropic,
};
pub use request::{DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET, RequestOptions};
pub use stream::{StreamFromUnified, StreamToUnified};
pub use types::{MessagesRequest, MessagesResponse, StreamEvent};

#[cfg(test)]
mod tests {
    use super::*;
    use asbru_schema::chat::ReasoningDetail;

    #[test]
    fn another_providers_signature_survives_an_anthropic_client() {
        let mut gemini = ReasoningDetail {
            signature: Some("CiQB0e2Kb".to_owned()),
            ..ReasoningDetail::default()
        };
        gemini
            .extra
            .insert("format".to_owned(), "google-gemini-v1".into());
        let given = client_signature(&gemini).unwrap();
        assert_eq!(given, "asbru-sig:google-gemini-v1:CiQB0e2Kb");
        let (extra, back) = from_client_signature(Some(&given));
        assert_eq!(back.as_deref(), Some("CiQB0e2Kb"));
        assert_eq!(extra["format"], "google-gemini-v1");

        // Anthropic's own signatures pass untouched both ways, and stay tagged as Anthropic's.
        let own = ReasoningDetail {
            signature: Some("EqQBCgIYAh".to_owned()),
            extra: tagged(),
            ..ReasoningDetail::default()
        };
        assert_eq!(client_signature(&own).as_deref(), Some("EqQBCgIYAh"));
        let (extra, back) = from_client_signature(Some("EqQBCgIYAh"));
        assert_eq!(back.as_deref(), Some("EqQBCgIYAh"));
        assert_eq!(extra["format"], REASONING_FORMAT);
    }
}
