//! The Cohere v2 dialect (`POST /v2/chat`, `/v2/embed`, `/v2/rerank`): its wire types and the
//! conversions to and from the unified types, both directions, streaming included.
//!
//! * [`request::to_cohere`] / [`response::from_cohere`] / [`StreamToUnified`] /
//!   [`embed::to_cohere_embed`] / [`rerank::to_cohere_rerank`]: the provider direction, for
//!   sending a unified (OpenAI-shaped) request to Cohere and reading its answer.
//! * [`request::from_cohere`] / [`response::to_cohere`] / [`StreamFromUnified`] /
//!   [`embed::from_cohere_embed_request`] / [`rerank::from_cohere_rerank_request`]: the client
//!   direction, for `/cohere/v2/…` drop-in routes where Cohere's SDKs talk to asbru.
//! * [`error`]: Cohere's `{"message"}` error body to [`asbru_schema::GatewayError`] and back,
//!   and the finish reasons that are failures.
//!
//! Everything here is pure: no IO, no clock (callers pass `created`), no HTTP. Every mapping
//! decision is documented on the function that makes it, and `crates/dialects/tests/cohere.rs`
//! drives each one from Cohere's documented examples.

pub mod embed;
pub mod error;
pub mod request;
pub mod rerank;
pub mod response;
pub mod stream;
pub mod types;

pub use error::{
    ConvertError, StreamError, error_from_cohere, error_to_cohere, error_type_for_status,
    finish_failure,
};
pub use stream::{StreamFromUnified, StreamToUnified, write_event};
pub use types::{ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, StreamEvent};
