//! Injected failures, and the serde form the control route accepts.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A failure the mock injects into one request, so tests can drive the gateway through every
/// upstream failure mode it has to survive (error statuses, throttling, timeouts, dead
/// connections, truncated or broken streams) without a real provider.
///
/// Its JSON form (for `POST /__mock/faults`) is internally tagged by `type`:
/// `{"type":"status","status":503,"message":"..."}`, `{"type":"rate_limited","retry_after_secs":2}`,
/// `{"type":"delay","ms":500}`, `{"type":"reset"}`, `{"type":"stream_cut","after_chunks":2}`,
/// `{"type":"malformed_json"}`, `{"type":"hold_stream"}`,
/// `{"type":"oversized","bytes":2097152,"chunked":false}`,
/// `{"type":"body","status":400,"body":"...","content_type":"text/plain"}`,
/// `{"type":"stream_event","after_chunks":1,"event":"data: {...}\n\n"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultRepr", into = "FaultRepr")]
pub enum Fault {
    /// Answer with this HTTP status and an OpenAI-style error body; an empty `message` picks a
    /// stock message for the status. Models provider outages (5xx) and rejections (4xx).
    Status { status: u16, message: String },
    /// Answer 429 with a `Retry-After` header, as a throttled provider does, so tests can check
    /// that the gateway honours or forwards the hint.
    RateLimited { retry_after_secs: u64 },
    /// Wait this long before answering normally, to push the gateway past its upstream timeout.
    Delay(Duration),
    /// Close the TCP connection with a reset and no response, so the client sees a connection
    /// error rather than any HTTP status.
    Reset,
    /// Send this many stream frames (counting the first, role-only chunk), then drop the
    /// connection without the final chunk or `[DONE]`. For a non-streaming request, half of the
    /// body is sent before the connection is dropped.
    StreamCut { after_chunks: usize },
    /// Answer 200 `application/json` with a body that does not parse; in a stream, the second
    /// `data:` frame is not valid JSON.
    MalformedJson,
    /// Send the first stream frame, then wait for [`crate::MockServer::release_streams`] before
    /// the rest, so a test can prove the gateway forwards chunks as they come. A non-streaming
    /// answer is held whole.
    HoldStream,
    /// Answer 200 `application/json` with a body of `bytes` bytes (whitespace), as a broken or
    /// hostile upstream might, to test the gateway's limits on the answers it buffers: announced
    /// by `Content-Length`, or with `chunked` sent in pieces without a length.
    Oversized { bytes: usize, chunked: bool },
    /// Answer with exactly this status and body (`content_type` defaults to
    /// `application/json`), whatever the dialect: a provider error of any shape, or a proxy's
    /// page, for tests of how the gateway quotes and scrubs what providers say.
    Body {
        status: u16,
        content_type: String,
        body: String,
    },
    /// Send this many stream frames (counting the first), then the raw SSE `event` text (for
    /// example `data: {"error":{...}}\n\n`), then end the stream: a provider failing mid-stream
    /// after answering 200. A non-streaming request is answered normally.
    StreamEvent { after_chunks: usize, event: String },
}

impl Fault {
    /// A [`Fault::Status`] with the stock message for `status`.
    pub fn status(status: u16) -> Self {
        Fault::Status {
            status,
            message: String::new(),
        }
    }
}

/// The wire form of [`Fault`]: internally tagged, with `Delay` in milliseconds, because a
/// `Duration` would otherwise serialise as an awkward `{secs, nanos}` struct.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum FaultRepr {
    Status {
        status: u16,
        #[serde(default)]
        message: String,
    },
    RateLimited {
        #[serde(default = "default_retry_after")]
        retry_after_secs: u64,
    },
    Delay {
        ms: u64,
    },
    // Empty struct variants rather than unit ones: serde ignores unknown fields on unit
    // variants of internally tagged enums, and a typo should not pass silently.
    Reset {},
    StreamCut {
        #[serde(default)]
        after_chunks: usize,
    },
    MalformedJson {},
    HoldStream {},
    Oversized {
        bytes: usize,
        #[serde(default)]
        chunked: bool,
    },
    Body {
        status: u16,
        #[serde(default = "default_content_type")]
        content_type: String,
        body: String,
    },
    StreamEvent {
        #[serde(default)]
        after_chunks: usize,
        event: String,
    },
}

fn default_content_type() -> String {
    "application/json".to_owned()
}

fn default_retry_after() -> u64 {
    1
}

impl TryFrom<FaultRepr> for Fault {
    type Error = String;

    fn try_from(repr: FaultRepr) -> Result<Self, Self::Error> {
        Ok(match repr {
            FaultRepr::Status { status, message } => {
                if !(400..=599).contains(&status) {
                    return Err(format!(
                        "status fault needs an error status (400-599), got {status}"
                    ));
                }
                Fault::Status { status, message }
            }
            FaultRepr::RateLimited { retry_after_secs } => Fault::RateLimited { retry_after_secs },
            FaultRepr::Delay { ms } => Fault::Delay(Duration::from_millis(ms)),
            FaultRepr::Reset {} => Fault::Reset,
            FaultRepr::StreamCut { after_chunks } => Fault::StreamCut { after_chunks },
            FaultRepr::MalformedJson {} => Fault::MalformedJson,
            FaultRepr::HoldStream {} => Fault::HoldStream,
            FaultRepr::Oversized { bytes, chunked } => Fault::Oversized { bytes, chunked },
            FaultRepr::Body {
                status,
                content_type,
                body,
            } => {
                if !(100..=599).contains(&status) {
                    return Err(format!("body fault needs an HTTP status, got {status}"));
                }
                Fault::Body {
                    status,
                    content_type,
                    body,
                }
            }
            FaultRepr::StreamEvent {
                after_chunks,
                event,
            } => Fault::StreamEvent {
                after_chunks,
                event,
            },
        })
    }
}

impl From<Fault> for FaultRepr {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Status { status, message } => FaultRepr::Status { status, message },
            Fault::RateLimited { retry_after_secs } => FaultRepr::RateLimited { retry_after_secs },
            Fault::Delay(d) => FaultRepr::Delay {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            Fault::Reset => FaultRepr::Reset {},
            Fault::StreamCut { after_chunks } => FaultRepr::StreamCut { after_chunks },
            Fault::MalformedJson => FaultRepr::MalformedJson {},
            Fault::HoldStream => FaultRepr::HoldStream {},
            Fault::Oversized { bytes, chunked } => FaultRepr::Oversized { bytes, chunked },
            Fault::Body {
                status,
                content_type,
                body,
            } => FaultRepr::Body {
                status,
                content_type,
                body,
            },
            Fault::StreamEvent {
                after_chunks,
                event,
            } => FaultRepr::StreamEvent {
                after_chunks,
                event,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip() {
        let cases = [
            (
                r#"{"type":"status","status":503,"message":"down"}"#,
                Fault::Status {
                    status: 503,
                    message: "down".into(),
                },
            ),
            (
                r#"{"type":"rate_limited","retry_after_secs":7}"#,
                Fault::RateLimited {
                    retry_after_secs: 7,
                },
            ),
            (
                r#"{"type":"delay","ms":250}"#,
                Fault::Delay(Duration::from_millis(250)),
            ),
            (r#"{"type":"reset"}"#, Fault::Reset),
            (
                r#"{"type":"stream_cut","after_chunks":3}"#,
                Fault::StreamCut { after_chunks: 3 },
            ),
            (r#"{"type":"malformed_json"}"#, Fault::MalformedJson),
            (r#"{"type":"hold_stream"}"#, Fault::HoldStream),
            (
                r#"{"type":"body","status":400,"content_type":"text/plain","body":"no"}"#,
                Fault::Body {
                    status: 400,
                    content_type: "text/plain".into(),
                    body: "no".into(),
                },
            ),
            (
                r#"{"type":"stream_event","after_chunks":2,"event":"data: x\n\n"}"#,
                Fault::StreamEvent {
                    after_chunks: 2,
                    event: "data: x\n\n".into(),
                },
            ),
        ];
        for (json, fault) in cases {
            let parsed: Fault = serde_json::from_str(json).unwrap();
            assert_eq!(parsed, fault);
            assert_eq!(serde_json::to_string(&fault).unwrap(), json);
        }
    }

    #[test]
    fn defaults_and_rejections() {
        let f: Fault = serde_json::from_str(r#"{"type":"status","status":500}"#).unwrap();
        assert_eq!(
            f,
            Fault::Status {
                status: 500,
                message: String::new()
            }
        );
        let f: Fault = serde_json::from_str(r#"{"type":"rate_limited"}"#).unwrap();
        assert_eq!(
            f,
            Fault::RateLimited {
                retry_after_secs: 1
            }
        );
        assert!(serde_json::from_str::<Fault>(r#"{"type":"status","status":200}"#).is_err());
        assert!(serde_json::from_str::<Fault>(r#"{"type":"nope"}"#).is_err());
        assert!(serde_json::from_str::<Fault>(r#"{"type":"reset","extra":1}"#).is_err());
    }
}
