//! Unified types every asbru layer shares: provider names, `provider/model` references, token usage
//! and the gateway error with its OpenAI-compatible body.
//!
//! This crate does no IO. It is the vocabulary that the config loader, the provider adapters, the
//! engine and the HTTP transport agree on, so none of them has to know another's internals.

pub mod chat;
pub mod error;
pub mod model_ref;
pub mod openai;
pub mod provider;
pub mod rerank;
pub mod untrusted;
pub mod usage;

pub use error::{Attempt, ErrorKind, GatewayError, quote_prefix};
pub use model_ref::ModelRef;
pub use provider::KnownProvider;
pub use untrusted::Untrusted;
pub use usage::Usage;
