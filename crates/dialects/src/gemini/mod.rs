//! The Google Gemini API dialect (`generativelanguage.googleapis.com/v1beta`): its wire types
//! and the conversions to and from the unified chat types, both directions, streaming and
//! embeddings included.
//!
//! * [`request::to_gemini`] / [`response::from_gemini`] / [`StreamToUnified`] /
//!   [`embed::to_gemini_batch`]: the provider direction, for sending a unified (OpenAI-shaped)
//!   request to Gemini and reading its answer.
//! * [`request::from_gemini`] / [`response::to_gemini`] / [`StreamFromUnified`] /
//!   [`embed::from_gemini_batch_request`]: the client direction, for the `/genai` drop-in routes,
//!   where Google's SDKs talk to asbru.
//! * [`error`]: Google's error body to [`asbru_schema::GatewayError`] and back, and the finish
//!   reasons that are failures.
//! * [`parts`]: how thought signatures ride in `reasoning_details` so multi-turn function
//!   calling with thinking replays them.
//! * [`schema`]: JSON Schema to Google's OpenAPI subset, for [`SchemaMode::OpenApi`].
//!
//! Everything here is pure: no IO, no clock (callers pass `created`), no HTTP. The model and
//! whether to stream are in Gemini's URL (`models/{model}:streamGenerateContent?alt=sse`), so
//! callers pass them. Every mapping decision is documented on the function that makes it, and
//! `crates/dialects/tests/gemini.rs` drives each one from Google's documented examples.

pub mod embed;
pub mod error;
pub mod parts;
pub mod request;
pub mod response;
pub mod schema;
pub mod stream;
pub mod types;

pub use error::{
    ConvertError, StreamError, error_from_gemini, error_from_stream, error_to_gemini,
    finish_failure,
};
pub use parts::{SIGNATURE_FORMAT, SKIP_SIGNATURE_VALIDATOR};
pub use request::{RequestOptions, SchemaMode, ThinkingStyle};
pub use stream::{StreamFromUnified, StreamToUnified};
pub use types::{GenerateContentRequest, GenerateContentResponse, StreamPayload};
