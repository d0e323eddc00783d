//! The AWS Bedrock drop-in route: `POST /bedrock/model/{modelId}/converse` and
//! `/converse-stream` (and the same paths at the root), so the AWS SDKs' `bedrock-runtime`
//! clients work against asbru by changing only their endpoint URL, whichever provider serves
//! the request.
//!
//! The Converse request becomes the unified chat request ([`asbru_dialects::bedrock`]'s client
//! direction), goes through the engine exactly like `/v1/chat/completions` (keys, queues,
//! retries, fallbacks, health — no bypass), and the answer comes back as a Converse response,
//! or as ConverseStream's binary AWS event stream (`application/vnd.amazon.eventstream`, every
//! message with both CRCs) translated chunk by chunk: `messageStart`, content blocks (tool
//! blocks opened by `contentBlockStart`, text and reasoning by their first
//! `contentBlockDelta`) each closed by `contentBlockStop`, `messageStop` with the stop reason,
//! then `metadata` with the usage. Errors are Bedrock's: the documented status, the exception
//! name in `x-amzn-errortype` and `{"message"}` as the body, so the SDKs raise a `ClientError`
//! with the right code; a failure after the stream started is an exception message
//! (`:message-type: exception`), as Bedrock sends it.
//!
//! The SDKs sign every request with SigV4 using the client's own credentials. asbru neither
//! checks nor forwards that signature (`authorization`, `x-amz-*` are never forwarded): it holds
//! the provider credentials itself, as for every other route.
//!
//! A model id without a configured `provider/` prefix (`anthropic.claude-…-v1:0`, an inference
//! profile ARN) is served by the `bedrock` provider.

use crate::accept::accept;
use crate::dropin::{self, ChatAnswer, StreamOut, parse_json, translate_stream};
use crate::respond::{json_response, streaming_response};
use crate::state::{AppState, RouteSet};
use asbru_dialects::bedrock::error::ERROR_TYPE_HEADER;
use asbru_dialects::bedrock::eventstream::CONTENT_TYPE as EVENT_STREAM_CONTENT_TYPE;
use asbru_dialects::bedrock::request::from_bedrock;
use asbru_dialects::bedrock::response::to_bedrock;
use asbru_dialects::bedrock::types::Metrics;
use asbru_dialects::bedrock::{
    ConverseRequest, StreamEvent, StreamFromUnified, encode_event, error_to_bedrock,
    error_to_stream_exception,
};
use asbru_schema::GatewayError;
use asbru_schema::chat::ChatChunk;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Map;
use std::convert::Infallible;
use std::time::Instant;

/// The provider a model without `provider/` goes to on this route.
const ROUTE_PROVIDER: &str = "bedrock";

/// The Bedrock Runtime paths, mounted under `/bedrock`, `/litellm`, `/langchain` and the root.
///
/// One wildcard rather than `/model/{modelId}/converse`: the SDKs percent-encode the id (`:`
/// and the `/` of ARNs and of `openai/gpt-4o-mini` become `%3A` and `%2F`), but a client that
/// sends the `/` as it is still names the model, and any other operation under `/model/`
/// (`invoke`, …) gets Bedrock's own 404 instead of the gateway's.
pub(crate) fn routes() -> RouteSet {
    vec![("/model/{*operation}", post(converse))]
}

/// The two operations served, by the last segment of the path.
const CONVERSE: &str = "converse";
const CONVERSE_STREAM: &str = "converse-stream";

/// `POST /bedrock/model/{modelId}/converse` and `/converse-stream`.
async fn converse(
    State(state): State<AppState>,
    operation: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let served = match operation {
        Ok(Path(operation)) => match model_and_stream(&operation) {
            Ok((model, stream)) => serve(&state, model, stream, &headers, body).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(GatewayError::invalid_request(
            format!("modelId: the path cannot be decoded: {e}"),
            Some("modelId"),
        )),
    };
    served.unwrap_or_else(|e| error_response(&e))
}

/// The model id (percent-decoded by the router) and whether the operation is the streaming one,
/// from `{modelId}/converse[-stream]`.
fn model_and_stream(operation: &str) -> Result<(&str, bool), GatewayError> {
    let (model, op) = operation.rsplit_once('/').unwrap_or(("", operation));
    let stream = match op {
        CONVERSE => false,
        CONVERSE_STREAM => true,
        _ => {
            return Err(GatewayError::no_route(format!(
                "POST /model/{{modelId}}/{op} is not served: this route serves Converse \
                 (/model/{{modelId}}/converse) and ConverseStream (/model/{{modelId}}/converse-stream)"
            )));
        }
    };
    if model.is_empty() {
        return Err(GatewayError::invalid_request(
            "modelId: the path names no model (/model/{modelId}/converse)",
            Some("modelId"),
        ));
    }
    Ok((model, stream))
}

async fn serve(
    state: &AppState,
    model: &str,
    stream: bool,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let (body, meta) = accept(state, headers, body).await?;
    let request: ConverseRequest = parse_json(&body)?;
    if request.messages.is_empty() {
        // Optional in the API only for prompt-management resources, which asbru does not have.
        return Err(GatewayError::invalid_request(
            "messages: at least one message is required",
            Some("messages"),
        ));
    }
    let chat = from_bedrock(&request, model, stream).map_err(|e| {
        GatewayError::invalid_request(format!("this request cannot be served: {e}"), None)
    })?;
    let started = Instant::now();
    match dropin::chat(state, meta, chat, ROUTE_PROVIDER).await? {
        ChatAnswer::Json(unified) => {
            let mut answer = to_bedrock(&unified).map_err(|e| {
                GatewayError::upstream_unreachable(format!(
                    "the provider's answer has no Converse form: {e}"
                ))
            })?;
            answer.metrics = Some(latency(started));
            let bytes = serde_json::to_vec(&answer)
                .map_err(|e| GatewayError::internal(format!("serializing the answer: {e}")))?;
            Ok(json_response(StatusCode::OK, bytes))
        }
        ChatAnswer::Stream(stream) => {
            let events = BedrockEvents {
                converter: StreamFromUnified::new(),
                started,
            };
            Ok(streaming_response(
                EVENT_STREAM_CONTENT_TYPE,
                Body::from_stream(translate_stream(stream, events).map(Ok::<Bytes, Infallible>)),
            ))
        }
    }
}

/// `metrics.latencyMs`: what the gateway measured from sending the request to the engine until
/// the answer (or, for a stream, its end) — the provider's latency as this client sees it.
fn latency(started: Instant) -> Metrics {
    Metrics {
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        extra: Map::new(),
    }
}

/// An error as Bedrock answers one: its documented status, the exception name in
/// `x-amzn-errortype`, and `{"message": …}`.
fn error_response(error: &GatewayError) -> Response {
    let (status, kind, body) = error_to_bedrock(error);
    let mut response = dropin::error_response(error, status, &body);
    if let Ok(value) = HeaderValue::from_str(&kind) {
        response.headers_mut().insert(ERROR_TYPE_HEADER, value);
    }
    response
}

/// ConverseStream's event stream: every event one binary message with Bedrock's headers
/// (`:event-type`, `:content-type`, `:message-type`), and an exception message for a failure
/// after the start.
struct BedrockEvents {
    converter: StreamFromUnified,
    started: Instant,
}

impl StreamOut for BedrockEvents {
    fn chunk(&mut self, chunk: &ChatChunk, out: &mut Vec<u8>) -> Result<(), String> {
        for event in self.converter.push(chunk).map_err(|e| e.to_string())? {
            write_event(out, &event)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        for mut event in self.converter.finish() {
            if let StreamEvent::Metadata(metadata) = &mut event {
                metadata.metrics = Some(latency(self.started));
            }
            write_event(out, &event)?;
        }
        Ok(())
    }

    fn error(&mut self, error: &GatewayError, out: &mut Vec<u8>) {
        let exception = StreamEvent::Exception(error_to_stream_exception(error));
        // An exception is a short JSON message under three string headers: its encoding has
        // nothing that can fail.
        if let Ok(bytes) = encode_event(&exception) {
            out.extend_from_slice(&bytes);
        }
    }
}

fn write_event(out: &mut Vec<u8>, event: &StreamEvent) -> Result<(), String> {
    let bytes = encode_event(event).map_err(|e| e.to_string())?;
    out.extend_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::model_and_stream;

    #[test]
    fn operations_split_off_the_model_id() {
        assert_eq!(
            model_and_stream("amazon.nova-lite-v1:0/converse").unwrap(),
            ("amazon.nova-lite-v1:0", false)
        );
        assert_eq!(
            model_and_stream("openai/gpt-4o-mini/converse-stream").unwrap(),
            ("openai/gpt-4o-mini", true)
        );
        let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0";
        assert_eq!(
            model_and_stream(&format!("{arn}/converse")).unwrap(),
            (arn, false)
        );
        assert_eq!(model_and_stream("converse").unwrap_err().status(), 400);
        assert_eq!(model_and_stream("/converse").unwrap_err().status(), 400);
        assert_eq!(model_and_stream("m/invoke").unwrap_err().status(), 404);
    }
}
