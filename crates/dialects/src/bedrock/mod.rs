//! The AWS Bedrock Converse dialect (`POST /model/{modelId}/converse` and `/converse-stream`):
//! its wire types, the conversions to and from the unified chat types both directions, the AWS
//! event-stream framing of ConverseStream, and error mapping.
//!
//! * [`request::to_bedrock`] / [`response::from_bedrock`] / [`StreamToUnified`]: the provider
//!   direction, for sending a unified (OpenAI-shaped) request to Bedrock and reading its answer
//!   (JSON, or the binary event stream fed in any pieces).
//! * [`request::from_bedrock`] / [`response::to_bedrock`] / [`StreamFromUnified`]: the client
//!   direction, for a future `/bedrock` drop-in route where AWS SDKs talk to asbru.
//! * [`eventstream`]: `application/vnd.amazon.eventstream` framing both ways, with CRC checks
//!   and a bounded message size.
//! * [`error`]: Bedrock's error responses and stream exceptions to
//!   [`asbru_schema::GatewayError`] and back.
//!
//! Request signing (SigV4, or the Bedrock API-key bearer) is not here — this crate does no IO
//! and knows no keys — but in `asbru_providers::bedrock_auth`.
//!
//! Everything here is pure: no IO, no clock, no HTTP. Every mapping decision is documented on
//! the function that makes it, and `crates/dialects/tests/bedrock.rs` drives each one from
//! Bedrock's documented examples.

pub mod embed;
pub mod error;
pub mod eventstream;
pub mod request;
pub mod response;
pub mod stream;
pub mod types;

pub use error::{
    ConvertError, StreamError, error_from_bedrock, error_from_stream_exception, error_to_bedrock,
    error_to_stream_exception,
};
pub use eventstream::{FrameDecoder, FrameError, encode_event, parse_event};
pub use request::{RequestOptions, structured_output_tool};
pub use response::ResponseOptions;
pub use stream::{StreamFromUnified, StreamToUnified};
pub use types::{ConverseRequest, ConverseResponse, StreamEvent};

/// The request path for a model: `/model/{modelId}/converse` (or `/converse-stream`), with the
/// id percent-encoded as the AWS SDKs encode it (`:` and `/` of versioned ids and ARNs become
/// `%3A` and `%2F`), so the path is one segment whatever the id holds — and so SigV4 signs the
/// same path the SDKs would.
pub fn converse_path(model_id: &str, stream: bool) -> String {
    let mut path = String::with_capacity(model_id.len() + 24);
    path.push_str("/model/");
    for b in model_id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            path.push(char::from(b));
        } else {
            path.push_str(&format!("%{b:02X}"));
        }
    }
    path.push_str(if stream {
        "/converse-stream"
    } else {
        "/converse"
    });
    path
}

/// The model id in a Converse path (`…/model/{modelId}/converse[-stream]`), percent-decoded,
/// and whether it is the streaming operation; `None` for any other path.
pub fn parse_converse_path(path: &str) -> Option<(String, bool)> {
    let path = path.trim_end_matches('/');
    let (rest, stream) = if let Some(rest) = path.strip_suffix("/converse-stream") {
        (rest, true)
    } else {
        (path.strip_suffix("/converse")?, false)
    };
    let at = rest.rfind("/model/")?;
    let raw = &rest[at + "/model/".len()..];
    if raw.is_empty() || raw.contains('/') {
        return None;
    }
    Some((percent_decode(raw)?, stream))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_encode_and_decode() {
        let id = "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0";
        let p = converse_path(id, true);
        assert!(p.starts_with("/model/arn%3Aaws%3Abedrock"));
        assert!(p.contains("%2Fus.anthropic"));
        assert_eq!(parse_converse_path(&p), Some((id.to_owned(), true)));
        assert_eq!(
            parse_converse_path("/bedrock/model/amazon.nova-lite-v1:0/converse"),
            Some(("amazon.nova-lite-v1:0".to_owned(), false))
        );
        assert_eq!(parse_converse_path("/model//converse"), None);
        assert_eq!(parse_converse_path("/v1/chat/completions"), None);
        assert_eq!(parse_converse_path("/model/x%G1/converse"), None);
    }
}
