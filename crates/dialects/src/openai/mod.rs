//! The OpenAI dialect (chat completions, completions, embeddings, responses) on the
//! pass-through path, and the Responses API's conversions for providers that only chat
//! (`responses`: the request, `responses_answer`: the response object, `responses_stream`: the
//! typed event stream, `responses_inspect`: what the engine reads from any Responses stream).
//!
//! When a client speaks OpenAI and the provider does too, the gateway reads only `model`,
//! `stream`, `stream_options` and Bifrost's `fallbacks`, rewrites `model` to the provider's name
//! for it, drops the gateway-only fields, and copies every other field as the raw bytes it came
//! in. Responses get Bifrost's `extra_fields` spliced in before their closing brace.

mod request;
mod response;
pub mod responses;
pub mod responses_answer;
pub mod responses_inspect;
pub mod responses_stream;
mod stream;

pub use request::{RequestView, RewriteOptions};
pub use response::{
    ExtraFields, MalformedResponse, ResponseCheck, append_extra_fields, check_response,
    check_responses_answer,
};
pub use stream::{ChunkAction, StreamInspector};
