//! The asbru engine: the provider registry, key selection, per-provider queues and the request
//! pipeline — everything between a request and the provider, with no HTTP server in it.
//!
//! This is also asbru's Rust library (the equivalent of Bifrost's Go SDK): build a [`Gateway`]
//! from a config, then call [`Gateway::chat`], [`Gateway::chat_stream`] or [`Gateway::embed`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use asbru_engine::{Gateway, ChatMessage, ChatRequest};
//! let loaded = asbru_config::load_str(
//!     r#"{"providers": {"openai": {"keys": [{"name": "main", "value": "env.OPENAI_API_KEY", "weight": 1}]}}}"#,
//!     &|var| std::env::var(var).ok(),
//! )?;
//! let gateway = Gateway::new(loaded.config)?;
//! let answer = gateway
//!     .chat(ChatRequest::new("openai/gpt-4o-mini", vec![ChatMessage::user("Hello!")]))
//!     .await?;
//! println!("{}", answer.choices[0].message.content_text().unwrap_or_default());
//! # Ok(()) }
//! ```
//!
//! Must not: parse HTTP requests or know routes; that is the transport's job.

mod api;
mod background;
pub mod builtin;
mod context;
mod estimate;
mod forward;
mod gateway;
mod health;
mod keys;
mod outcome;
mod plugin;
pub mod pricing;
mod queue;
mod retry;
mod sessions;
mod stream;

pub use api::ChunkStream;
/// The governance foundation (counters and their clocks), for embedders and tests.
pub use asbru_governance;
pub use asbru_providers::Operation;
pub use asbru_schema::openai::{
    ChatChunk, ChatMessage, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse,
};
pub use asbru_schema::{GatewayError, Usage};
pub use background::Background;
pub use context::{AttemptRecord, Identity, RequestContext, Route, RouteTarget, Routing, Timings};
pub use forward::{EXTRA_HEADER_PREFIX, forwarded_headers};
pub use gateway::{
    DEFAULT_MAX_STREAM_DURATION, Gateway, GatewayOptions, GatewayResponse, KeyHealth, ModelList,
    ModelListFailure, Prepared, ProviderHealth, RequestMeta, new_request_id,
};
pub use health::{CircuitState, Clock, HealthPolicy, HealthSnapshot, ManualClock, SystemClock};
pub use keys::KeyPin;
pub use outcome::{engine_took_request, track_request};
pub use plugin::{
    Answer, Finished, Plugin, PluginError, Plugins, PreHook, RequestBody, ShortCircuit,
    StreamChunk, TargetCheck, TargetGuard, TargetLimits, Waiting,
};
pub use sessions::{DEFAULT_SESSION_TTL, MAX_SESSION_TTL};
pub use stream::SseStream;
