//! AWS event-stream framing (`application/vnd.amazon.eventstream`), the binary format of
//! ConverseStream answers, and the mapping between its messages and [`StreamEvent`]s.
//!
//! A message is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), typed
//! headers, a payload, and a CRC32 of everything before it. Header and payload parsing, and the
//! message CRC, are the official `aws-smithy-eventstream` crate's; this module adds what a proxy
//! needs around it:
//!
//! * [`FrameDecoder`] takes the body in whatever pieces the network delivers (a message split
//!   across reads, several messages in one read) and hands out whole messages;
//! * the prelude is checked *as soon as it arrives*, so a corrupt or hostile length is refused
//!   at once instead of making the decoder wait for (and buffer) gigabytes that never come;
//! * every message is bounded by [`FrameDecoder::with_limit`] (default
//!   [`DEFAULT_MAX_MESSAGE_BYTES`]).
//!
//! A decoder that has failed stays failed: a byte stream that lost its framing cannot be
//! resynchronised.

use super::types::{
    ContentBlockDeltaEvent, ContentBlockStartEvent, ContentBlockStopEvent, MessageStartEvent,
    MessageStopEvent, MetadataEvent, StreamEvent, StreamException,
};
use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Buf, Bytes, BytesMut};
use serde::Serialize;
use serde_json::{Map, Value};

/// The media type of an event-stream body.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The largest message the decoder accepts unless told otherwise: the event-stream format's own
/// limit (16 MiB). Bedrock's events are a few hundred bytes; this only stops a broken length from
/// growing the buffer without end.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Prelude (12 bytes) plus the trailing message CRC (4 bytes): the smallest possible message.
const PRELUDE_BYTES: usize = 12;
const MIN_MESSAGE_BYTES: usize = PRELUDE_BYTES + 4;

/// Why a byte stream is not a valid event stream.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A message's prelude announces more bytes than the limit.
    #[error("event-stream message of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge { len: usize, limit: usize },
    /// The prelude's CRC does not match its lengths.
    #[error(
        "event-stream prelude checksum mismatch (computed {computed:#010x}, sent {sent:#010x})"
    )]
    PreludeChecksum { computed: u32, sent: u32 },
    /// A prelude announcing fewer bytes than a prelude and a CRC take.
    #[error("event-stream message length {0} is shorter than the 16-byte minimum")]
    TooShort(u32),
    /// Headers, payload or the message CRC are wrong (the crate's verdict).
    #[error("invalid event-stream message: {0}")]
    Invalid(String),
    /// The decoder failed earlier and the stream cannot be resynchronised.
    #[error("the event stream already failed")]
    Poisoned,
    /// A header the message type requires is missing or not a string.
    #[error("event-stream message has no string `{0}` header")]
    MissingHeader(&'static str),
    /// `:message-type` is not `event`, `exception` or `error`.
    #[error("unknown event-stream message type `{0}`")]
    UnknownMessageType(String),
    /// The payload of a known event is not the documented JSON.
    #[error("`{event_type}` event payload is not the documented JSON: {reason}")]
    Payload { event_type: String, reason: String },
}

/// Cuts an event-stream body, fed in arbitrary pieces, into messages.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: BytesMut,
    limit: usize,
    /// The length announced by a prelude already checked, while its message is incomplete.
    pending: Option<usize>,
    failed: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder with the [`DEFAULT_MAX_MESSAGE_BYTES`] limit.
    pub fn new() -> Self {
        Self::with_limit(DEFAULT_MAX_MESSAGE_BYTES)
    }

    /// A decoder refusing messages longer than `limit` bytes.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            limit: limit.max(MIN_MESSAGE_BYTES),
            pending: None,
            failed: false,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// The next whole message, `None` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        if self.failed {
            return Err(FrameError::Poisoned);
        }
        let result = self.next_inner();
        if result.is_err() {
            self.failed = true;
            self.buf.clear();
        }
        result
    }

    fn next_inner(&mut self) -> Result<Option<Message>, FrameError> {
        let len = match self.pending {
            Some(len) => len,
            None => {
                if self.buf.len() < PRELUDE_BYTES {
                    return Ok(None);
                }
                let len = check_prelude(&self.buf[..PRELUDE_BYTES], self.limit)?;
                self.pending = Some(len);
                len
            }
        };
        if self.buf.len() < len {
            return Ok(None);
        }
        self.pending = None;
        let mut frame = self.buf.split_to(len).freeze();
        let message =
            read_message_from(&mut frame).map_err(|e| FrameError::Invalid(e.to_string()))?;
        if frame.has_remaining() {
            return Err(FrameError::Invalid(
                "headers and payload do not fill the announced length".to_owned(),
            ));
        }
        Ok(Some(message))
    }

    /// Bytes received that do not form a whole message yet. Non-zero at the end of the body
    /// means the stream was cut mid-message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

/// Validates a 12-byte prelude and returns the message length it announces.
fn check_prelude(prelude: &[u8], limit: usize) -> Result<usize, FrameError> {
    let word = |i: usize| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&prelude[i..i + 4]);
        u32::from_be_bytes(b)
    };
    let total = word(0);
    let sent = word(8);
    let computed = crc32fast::hash(&prelude[..8]);
    if computed != sent {
        return Err(FrameError::PreludeChecksum { computed, sent });
    }
    let len = usize::try_from(total).unwrap_or(usize::MAX);
    if len < MIN_MESSAGE_BYTES {
        return Err(FrameError::TooShort(total));
    }
    if len > limit {
        return Err(FrameError::TooLarge { len, limit });
    }
    Ok(len)
}

/// Encodes one message (headers, payload, both CRCs).
pub fn encode_message(message: &Message) -> Result<Bytes, FrameError> {
    let mut out = BytesMut::with_capacity(message.payload().len() + 128);
    write_message_to(message, &mut out).map_err(|e| FrameError::Invalid(e.to_string()))?;
    Ok(out.freeze())
}

/// The string value of a header.
pub fn header_str<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}

/// Reads a message as a ConverseStream event.
///
/// `:message-type: event` messages are dispatched on `:event-type`; `exception` messages on
/// `:exception-type` with a `{"message"}` payload; `error` messages carry their code and message
/// in `:error-code` and `:error-message` headers. Unknown event types become
/// [`StreamEvent::Unknown`] (AWS adds events); a known event whose payload does not parse is an
/// error.
pub fn parse_event(message: &Message) -> Result<StreamEvent, FrameError> {
    let message_type = header_str(message, ":message-type").unwrap_or("event");
    let payload = message.payload();
    match message_type {
        "event" => {
            let event_type = header_str(message, ":event-type")
                .ok_or(FrameError::MissingHeader(":event-type"))?;
            let bad = |e: serde_json::Error| FrameError::Payload {
                event_type: event_type.to_owned(),
                reason: e.to_string(),
            };
            Ok(match event_type {
                "messageStart" => {
                    StreamEvent::MessageStart(serde_json::from_slice(payload).map_err(bad)?)
                }
                "contentBlockStart" => {
                    StreamEvent::ContentBlockStart(serde_json::from_slice(payload).map_err(bad)?)
                }
                "contentBlockDelta" => {
                    StreamEvent::ContentBlockDelta(serde_json::from_slice(payload).map_err(bad)?)
                }
                "contentBlockStop" => {
                    StreamEvent::ContentBlockStop(serde_json::from_slice(payload).map_err(bad)?)
                }
                "messageStop" => {
                    StreamEvent::MessageStop(serde_json::from_slice(payload).map_err(bad)?)
                }
                "metadata" => StreamEvent::Metadata(serde_json::from_slice(payload).map_err(bad)?),
                other => StreamEvent::Unknown {
                    event_type: other.to_owned(),
                    payload: serde_json::from_slice(payload).unwrap_or(Value::Null),
                },
            })
        }
        "exception" => {
            let kind = header_str(message, ":exception-type")
                .ok_or(FrameError::MissingHeader(":exception-type"))?;
            let mut extra = match serde_json::from_slice::<Value>(payload) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            let message = match extra.remove("message").or_else(|| extra.remove("Message")) {
                Some(Value::String(m)) => m,
                _ => String::from_utf8_lossy(payload).into_owned(),
            };
            Ok(StreamEvent::Exception(StreamException {
                kind: kind.to_owned(),
                message,
                extra,
            }))
        }
        "error" => Ok(StreamEvent::Exception(StreamException {
            kind: header_str(message, ":error-code")
                .ok_or(FrameError::MissingHeader(":error-code"))?
                .to_owned(),
            message: header_str(message, ":error-message")
                .unwrap_or_default()
                .to_owned(),
            extra: Map::new(),
        })),
        other => Err(FrameError::UnknownMessageType(other.to_owned())),
    }
}

fn header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

fn json_payload<T: Serialize>(value: &T) -> Result<Bytes, FrameError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| FrameError::Invalid(e.to_string()))
}

/// The event-stream message for an event, with the headers Bedrock sends: `:event-type`,
/// `:content-type: application/json` and `:message-type: event` (or, for an exception,
/// `:exception-type` and `:message-type: exception`, with `{"message"}` as the payload).
pub fn event_message(event: &StreamEvent) -> Result<Message, FrameError> {
    let payload = match event {
        StreamEvent::MessageStart(e) => json_payload::<MessageStartEvent>(e)?,
        StreamEvent::ContentBlockStart(e) => json_payload::<ContentBlockStartEvent>(e)?,
        StreamEvent::ContentBlockDelta(e) => json_payload::<ContentBlockDeltaEvent>(e)?,
        StreamEvent::ContentBlockStop(e) => json_payload::<ContentBlockStopEvent>(e)?,
        StreamEvent::MessageStop(e) => json_payload::<MessageStopEvent>(e)?,
        StreamEvent::Metadata(e) => json_payload::<MetadataEvent>(e)?,
        StreamEvent::Unknown { payload, .. } => json_payload(payload)?,
        StreamEvent::Exception(e) => {
            let mut body = e.extra.clone();
            body.insert("message".to_owned(), Value::String(e.message.clone()));
            let headers = vec![
                header(":exception-type", &e.kind),
                header(":content-type", "application/json"),
                header(":message-type", "exception"),
            ];
            return Ok(Message::new_from_parts(headers, json_payload(&body)?));
        }
    };
    let headers = vec![
        header(":event-type", event.event_type()),
        header(":content-type", "application/json"),
        header(":message-type", "event"),
    ];
    Ok(Message::new_from_parts(headers, payload))
}

/// An event as event-stream bytes, ready to write.
pub fn encode_event(event: &StreamEvent) -> Result<Bytes, FrameError> {
    encode_message(&event_message(event)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bedrock::types::Role;

    fn start() -> StreamEvent {
        StreamEvent::MessageStart(MessageStartEvent {
            role: Role::Assistant,
            extra: Map::new(),
        })
    }

    #[test]
    fn byte_by_byte_decoding() {
        let bytes = encode_event(&start()).unwrap();
        let mut d = FrameDecoder::new();
        for (i, b) in bytes.iter().enumerate() {
            d.push(&[*b]);
            let m = d.next_message().unwrap();
            assert_eq!(m.is_some(), i == bytes.len() - 1);
            if let Some(m) = m {
                assert_eq!(parse_event(&m).unwrap(), start());
            }
        }
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn a_huge_announced_length_is_refused_at_the_prelude() {
        let mut prelude = Vec::new();
        prelude.extend_from_slice(&u32::MAX.to_be_bytes());
        prelude.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&prelude);
        prelude.extend_from_slice(&crc.to_be_bytes());
        let mut d = FrameDecoder::with_limit(1024);
        d.push(&prelude);
        assert!(matches!(d.next_message(), Err(FrameError::TooLarge { .. })));
        assert!(matches!(d.next_message(), Err(FrameError::Poisoned)));
    }
}
