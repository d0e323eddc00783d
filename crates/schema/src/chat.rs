//! The unified chat-completion types: the OpenAI chat-completions shape, typed, plus Bifrost's
//! extensions (reasoning text and `reasoning_details` with signatures, `reasoning` parameters,
//! `is_error` on tool results).
//!
//! Every dialect converts to and from these types, so they must be able to hold anything any
//! dialect can say about a chat. They follow OpenAI's field names because OpenAI is the dialect
//! most clients speak and the one Bifrost's unified schema follows; fields that only other
//! providers know (Anthropic's thinking signatures, for instance) use the names Bifrost chose so
//! that Bifrost clients keep working against asbru.
//!
//! Two promises hold for every type here:
//!
//! * **Nothing is lost.** Each object keeps the fields it does not name in a flattened `extra`
//!   map, so a request, response or chunk deserialized from valid OpenAI JSON serializes back to
//!   equal JSON. Where OpenAI distinguishes an absent field from an explicit `null` (an assistant
//!   message's `content`, a chunk's `usage`), the type is [`Nullable`] so both survive.
//! * **Numbers keep their spelling.** `temperature` and `top_p` are [`serde_json::Number`], not
//!   `f64`, so `1` stays `1` and does not come back as `1.0`.
//!
//! These types are for the translation path. The pass-through path (OpenAI client to an
//! OpenAI-compatible provider) never builds them; see DESIGN principle 1.

mod content;
mod message;
mod nullable;
mod request;
mod response;

pub use content::{
    Content, ContentPart, FilePart, FileRef, ImagePart, ImageUrl, InputAudio, InputAudioPart,
    TextPart,
};
pub use message::{
    AssistantMessage, FunctionCall, FunctionMessage, Message, ReasoningDetail, SystemMessage,
    ToolCall, ToolMessage, UserMessage, reasoning_detail_type,
};
pub use nullable::Nullable;
pub use request::{
    ChatRequest, FunctionDefinition, JsonSchemaFormat, NamedFunction, NamedToolChoice,
    ReasoningConfig, ResponseFormat, Stop, StreamOptions, Tool, ToolChoice, ToolChoiceMode,
};
pub use response::{
    ChatChunk, ChatResponse, ChatUsage, Choice, ChunkChoice, CompletionTokensDetails, Delta,
    FinishReason, FunctionCallDelta, PromptTokensDetails, ToolCallDelta,
};
