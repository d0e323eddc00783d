//! The one driver every translating adapter streams through: a provider's stream body in, OpenAI
//! SSE bytes out (`data: {chunk}` events, then `data: [DONE]`), with the same rules for all of
//! them. Each dialect only says how its bytes become unified chunks ([`Decode`], or
//! [`FrameConvert`] for SSE dialects).
//!
//! The rules:
//! * one output item per upstream piece that produced something, so nothing waits for more input;
//! * an error met after some output of the same piece is sent after that output, and ends the
//!   stream — a truncated or failed stream never ends with `[DONE]`;
//! * `[DONE]` is written only when the dialect says its stream is complete (its end event, or the
//!   body's end after a finish);
//! * optionally, the role-only first chunk is held back until another chunk follows. The engine
//!   commits to a provider once a stream's first item arrives, and Anthropic, Bedrock and Cohere
//!   report overload and similar failures right after their start event; held back, such a
//!   failure is the stream's first item, so the engine can still retry or fall back. Nothing a
//!   client could read is delayed: the held chunk carries no content.

use crate::common;
use crate::openai_compatible::ByteStream;
use asbru_dialects::sse::SseFramer;
use asbru_schema::GatewayError;
use asbru_schema::chat::ChatChunk;
use bytes::Bytes;
use futures_util::StreamExt;

/// Whether a dialect's stream is complete after a piece.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    More,
    /// The end event arrived: `[DONE]` follows and nothing more is read.
    Complete,
}

/// How one dialect's stream body becomes unified chunks.
pub(crate) trait Decode: Send + 'static {
    /// Converts what `piece` completes, appending to `out`. On error, what is in `out` is still
    /// sent, then the error.
    fn piece(&mut self, piece: &[u8], out: &mut Vec<ChatChunk>) -> Result<Progress, GatewayError>;

    /// The body ended before [`Progress::Complete`]: the last chunks of a stream that finished,
    /// or the error of one that was cut short.
    fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError>;
}

/// Translates `pieces` with `decoder` under the rules above; `hold_role_chunk` holds the
/// role-only first chunk back.
pub(crate) fn translate<D: Decode>(
    pieces: ByteStream,
    decoder: D,
    hold_role_chunk: bool,
) -> ByteStream {
    let state = State {
        pieces,
        decoder,
        hold_role_chunk,
        held: Vec::new(),
        chunks: 0,
        pending_error: None,
        done: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(error) = st.pending_error.take() {
                st.done = true;
                return Some((Err(error), st));
            }
            if st.done {
                return None;
            }
            let mut chunks = Vec::new();
            let complete = match st.pieces.next().await {
                Some(Ok(piece)) => match st.decoder.piece(&piece, &mut chunks) {
                    Ok(progress) => progress == Progress::Complete,
                    Err(e) => {
                        st.pending_error = Some(e);
                        false
                    }
                },
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
                None => {
                    st.done = true;
                    match st.decoder.end(&mut chunks) {
                        Ok(()) => true,
                        Err(e) => {
                            st.pending_error = Some(e);
                            false
                        }
                    }
                }
            };
            st.chunks += chunks.len();
            let mut out = std::mem::take(&mut st.held);
            for chunk in &chunks {
                common::write_chunk(&mut out, chunk);
            }
            if complete {
                out.extend_from_slice(b"data: [DONE]\n\n");
                st.done = true;
            } else if st.hold_role_chunk && st.chunks < 2 {
                // Only the role chunk so far: keep it, or drop it when the stream failed that
                // early, so the error alone is the stream's first item.
                if st.pending_error.is_none() {
                    st.held = out;
                }
                continue;
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), st));
            }
        }
    }))
}

struct State<D> {
    pieces: ByteStream,
    decoder: D,
    hold_role_chunk: bool,
    /// Output not sent yet: the role-only first chunk, until another chunk follows.
    held: Vec<u8>,
    /// Unified chunks converted so far.
    chunks: usize,
    /// An error to send after the output that preceded it.
    pending_error: Option<GatewayError>,
    /// `[DONE]` or an error was emitted, or the body ended: nothing more is read.
    done: bool,
}

/// How one SSE dialect's events become unified chunks.
pub(crate) trait FrameConvert: Send + 'static {
    /// One complete SSE event (`event:`/`data:` lines).
    fn frame(&mut self, frame: &[u8], out: &mut Vec<ChatChunk>) -> Result<(), GatewayError>;

    /// Whether the dialect's end event has arrived (Anthropic's `message_stop`, Cohere's
    /// `message-end`); dialects without one (Gemini) end with the body.
    fn complete(&self) -> bool;

    /// The body ended before [`FrameConvert::complete`]: the last chunks, or the error of a
    /// stream cut short.
    fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError>;
}

/// An SSE body framed into events, each handed to a [`FrameConvert`].
pub(crate) struct Sse<C> {
    framer: SseFramer,
    convert: C,
    provider: String,
}

impl<C: FrameConvert> Sse<C> {
    pub(crate) fn new(convert: C, provider: String) -> Self {
        Self {
            framer: SseFramer::default(),
            convert,
            provider,
        }
    }
}

impl<C: FrameConvert> Decode for Sse<C> {
    fn piece(&mut self, piece: &[u8], out: &mut Vec<ChatChunk>) -> Result<Progress, GatewayError> {
        self.framer.push(piece);
        loop {
            let frame = match self.framer.next_event() {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(Progress::More),
                Err(too_large) => {
                    return Err(GatewayError::upstream_unreachable(format!(
                        "provider '{}' sent a stream event larger than {} bytes",
                        self.provider, too_large.limit
                    ))
                    .with_provider(&self.provider));
                }
            };
            self.convert.frame(&frame, out)?;
            if self.convert.complete() {
                return Ok(Progress::Complete);
            }
        }
    }

    /// The last event, if the body ended without its blank line, then the dialect's own end.
    fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), GatewayError> {
        let rest = self.framer.remainder().to_vec();
        if !rest.iter().all(u8::is_ascii_whitespace) {
            self.convert.frame(&rest, out)?;
            if self.convert.complete() {
                return Ok(());
            }
        }
        self.convert.end(out)
    }
}

/// What the adapters' stream tests share: run a translator over given pieces and read its items.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    /// Feeds `pieces` to `translate` and returns each item it yields, as text.
    pub(crate) fn run(
        pieces: Vec<Bytes>,
        translate: impl FnOnce(ByteStream) -> ByteStream,
    ) -> Vec<Result<String, GatewayError>> {
        let input: Vec<Result<Bytes, GatewayError>> = pieces.into_iter().map(Ok).collect();
        let stream = translate(Box::pin(futures_util::stream::iter(input)));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a test runtime");
        rt.block_on(stream.collect::<Vec<_>>())
            .into_iter()
            .map(|r| r.map(|b| String::from_utf8(b.to_vec()).expect("UTF-8 output")))
            .collect()
    }

    /// [`run`] over text pieces.
    pub(crate) fn run_text(
        events: &[&str],
        translate: impl FnOnce(ByteStream) -> ByteStream,
    ) -> Vec<Result<String, GatewayError>> {
        run(
            events.iter().map(|e| Bytes::from(e.to_string())).collect(),
            translate,
        )
    }
}
