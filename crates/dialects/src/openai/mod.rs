//! The OpenAI dialect (chat completions, completions, embeddings) on the pass-through path.
//!
//! When a client speaks OpenAI and the provider does too, the gateway reads only `model`,
//! `stream`, `stream_options` and Bifrost's `fallbacks`, rewrites `model` to the provider's name
//! for it, drops the gateway-only fields, and copies every other field as the raw bytes it came
//! in. Responses get Bifrost's `extra_fields` spliced in before their closing brace.

mod request;
mod response;
pub mod responses;
mod stream;

pub use request::{RequestView, RewriteOptions};
pub use response::{
    ExtraFields, MalformedResponse, ResponseCheck, append_extra_fields, check_response,
};
pub use stream::{ChunkAction, StreamInspector};
