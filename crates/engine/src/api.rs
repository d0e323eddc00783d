//! The typed Rust API over the byte-level pipeline: what a Rust program calls instead of HTTP.
//!
//! Requests are serialised once and go through exactly the same pipeline as HTTP requests, so
//! the library and the server cannot drift apart.

use crate::gateway::{Gateway, GatewayResponse, RequestMeta};
use crate::stream::SseStream;
use asbru_dialects::sse::{SseFramer, single_data_line};
use asbru_providers::Operation;
use asbru_schema::GatewayError;
use asbru_schema::openai::{
    ChatChunk, ChatRequest, ChatResponse, EmbeddingRequest, EmbeddingResponse,
};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use std::pin::Pin;

/// Typed chunks of a streamed chat completion; boxed so callers can poll it without pinning.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, GatewayError>> + Send>>;

impl Gateway {
    /// A chat completion (non-streaming).
    pub async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, GatewayError> {
        from_json(self.send_chat(&request, false).await?)
    }

    /// A streamed chat completion: chunks as the provider produces them. A failure after the
    /// stream started arrives as an `Err` item, and the stream ends after it.
    pub async fn chat_stream(&self, request: ChatRequest) -> Result<ChunkStream, GatewayError> {
        match self.send_chat(&request, true).await? {
            GatewayResponse::Stream { stream, .. } => Ok(Box::pin(chunks(stream))),
            GatewayResponse::Json { .. } => Err(GatewayError::internal(
                "expected a stream from a streaming request",
            )),
        }
    }

    /// Embeddings; floats are requested unless the caller set `encoding_format` itself.
    pub async fn embed(
        &self,
        mut request: EmbeddingRequest,
    ) -> Result<EmbeddingResponse, GatewayError> {
        request
            .extra
            .entry("encoding_format")
            .or_insert_with(|| serde_json::Value::String("float".into()));
        let body = to_bytes(&request)?;
        let response = self
            .handle_openai(Operation::Embedding, &body, RequestMeta::default())
            .await?;
        from_json(response)
    }
}

impl Gateway {
    /// Serialises a chat request with `stream` set and sends it through the pipeline.
    async fn send_chat(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<GatewayResponse, GatewayError> {
        let mut body = to_json(request)?;
        set_stream(&mut body, stream);
        self.handle_openai(
            Operation::ChatCompletion,
            &to_bytes(&body)?,
            RequestMeta::default(),
        )
        .await
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, GatewayError> {
    serde_json::to_value(value).map_err(|e| {
        GatewayError::invalid_request(format!("request cannot be serialised: {e}"), None)
    })
}

fn to_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, GatewayError> {
    serde_json::to_vec(value).map_err(|e| {
        GatewayError::invalid_request(format!("request cannot be serialised: {e}"), None)
    })
}

fn set_stream(body: &mut serde_json::Value, stream: bool) {
    if let Some(map) = body.as_object_mut() {
        map.insert("stream".into(), serde_json::Value::Bool(stream));
    }
}

fn from_json<T: DeserializeOwned>(response: GatewayResponse) -> Result<T, GatewayError> {
    match response {
        GatewayResponse::Json { body, .. } => serde_json::from_slice(&body).map_err(|e| {
            GatewayError::upstream_unreachable(format!(
                "provider response does not have the expected shape: {e}"
            ))
        }),
        GatewayResponse::Stream { .. } => Err(GatewayError::internal(
            "expected a JSON answer from a non-streaming request",
        )),
    }
}

/// Turns the SSE byte stream back into typed chunks for Rust callers.
fn chunks(stream: SseStream) -> impl Stream<Item = Result<ChatChunk, GatewayError>> + Send {
    let state = (stream, SseFramer::default(), false);
    futures_util::stream::unfold(state, |(mut stream, mut framer, mut done)| async move {
        loop {
            if done {
                return None;
            }
            if let Ok(Some(event)) = framer.next_event() {
                let Some(data) = single_data_line(&event) else {
                    continue;
                };
                if data == b"[DONE]" {
                    return None;
                }
                let item = parse_chunk(data);
                done = item.is_err();
                return Some((item, (stream, framer, done)));
            }
            match stream.next().await {
                Some(bytes) => framer.push(&bytes),
                None => done = true,
            }
        }
    })
}

fn parse_chunk(data: &[u8]) -> Result<ChatChunk, GatewayError> {
    #[derive(serde::Deserialize)]
    struct ErrorEvent {
        error: ErrorObject,
        status_code: Option<u16>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorObject {
        message: String,
        #[serde(rename = "type")]
        error_type: Option<String>,
        code: Option<String>,
    }
    if let Ok(event) = serde_json::from_slice::<ErrorEvent>(data) {
        return Err(GatewayError::upstream(
            event.status_code.unwrap_or(502),
            event.error.message,
            event.error.error_type,
            event.error.code,
            None,
        ));
    }
    serde_json::from_slice(data).map_err(|e| {
        GatewayError::upstream_unreachable(format!("stream chunk has an unexpected shape: {e}"))
    })
}
