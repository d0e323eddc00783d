//! Wire formats asbru speaks, one module per dialect.
//!
//! Owns: reading the few fields the gateway needs from a request body, rewriting it for the
//! provider, framing and inspecting streams, and adding Bifrost's `extra_fields` to responses —
//! all on bytes, without deserialising whole bodies into trees (DESIGN principle 1).
//! Must not: know about keys, queues or HTTP connections. No IO.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod gemini;
pub mod openai;
mod signature;
pub mod sse;
