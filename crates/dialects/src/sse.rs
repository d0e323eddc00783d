//! Server-sent-event framing over a byte stream that arrives in arbitrary pieces.
//!
//! The gateway forwards streams event by event: as soon as one complete event (ending in a blank
//! line) has arrived it is handed on, so nothing waits for the end of the stream, and a partial
//! event is never sent to a client that might parse it. The buffer is bounded so a provider that
//! never ends an event cannot grow memory without limit.

use bytes::{Bytes, BytesMut};
use memchr::memmem;

/// Largest single event accepted, counting its terminating blank line. One event is one chunk of a completion; a few hundred KB is
/// already extreme (a tool call's arguments in one delta), so 4 MiB only guards against runaways.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// The upstream sent an event larger than the framer's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge {
    pub limit: usize,
}

/// Splits a byte stream into complete SSE events (each returned with its terminating blank line).
#[derive(Debug)]
pub struct SseFramer {
    buf: BytesMut,
    max_event_bytes: usize,
    /// How far `buf` has already been searched for a terminator, so a slowly arriving event is not
    /// rescanned from its start on every piece.
    scanned: usize,
}

impl Default for SseFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseFramer {
    pub fn new(max_event_bytes: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            max_event_bytes,
            scanned: 0,
        }
    }

    /// Adds a piece of the stream.
    pub fn push(&mut self, piece: &[u8]) {
        self.buf.extend_from_slice(piece);
    }

    /// The next complete event, if one has fully arrived; [`EventTooLarge`] once the event being
    /// read (terminator included) is longer than the limit — as soon as the bytes waiting for
    /// their terminator pass it, or when a complete event that arrived at once is longer. The
    /// same bytes give the same events and the same error however they were split.
    pub fn next_event(&mut self) -> Result<Option<Bytes>, EventTooLarge> {
        // Back up 3 bytes so a terminator split across two pieces is still found.
        let from = self.scanned.saturating_sub(3);
        match find_terminator(&self.buf[from..]) {
            Some((at, len)) => {
                let end = from + at + len;
                // Checked here too, not only while waiting: an event over the limit is refused
                // whether it arrived in one piece or in many.
                if end > self.max_event_bytes {
                    return Err(EventTooLarge {
                        limit: self.max_event_bytes,
                    });
                }
                self.scanned = 0;
                Ok(Some(self.buf.split_to(end).freeze()))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() > self.max_event_bytes {
                    Err(EventTooLarge {
                        limit: self.max_event_bytes,
                    })
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Bytes of an unfinished event left when the stream ended.
    pub fn remainder(&self) -> &[u8] {
        &self.buf
    }
}

/// Position and length of the first blank-line terminator (`\n\n` or `\r\n\r\n`).
fn find_terminator(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = memmem::find(buf, b"\n\n").map(|i| (i, 2));
    let crlf = memmem::find(buf, b"\r\n\r\n").map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// The payload of an event's `data:` field when the event has exactly one data line (what every
/// OpenAI-compatible server sends); `None` for comments, multi-line data or events without data.
pub fn single_data_line(event: &[u8]) -> Option<&[u8]> {
    let mut data = None;
    for line in event.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(rest) = line.strip_prefix(b"data:") {
            if data.is_some() {
                return None;
            }
            data = Some(rest.strip_prefix(b" ").unwrap_or(rest));
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(f: &mut SseFramer) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(e) = f.next_event().unwrap() {
            out.push(e.to_vec());
        }
        out
    }

    #[test]
    fn splits_events_and_keeps_partial_tail() {
        let mut f = SseFramer::default();
        f.push(b"data: {\"a\":1}\n\ndata: {\"b\"");
        assert_eq!(drain(&mut f), vec![b"data: {\"a\":1}\n\n".to_vec()]);
        f.push(b":2}\n");
        assert!(drain(&mut f).is_empty());
        f.push(b"\ndata: [DONE]\n\n");
        assert_eq!(
            drain(&mut f),
            vec![
                b"data: {\"b\":2}\n\n".to_vec(),
                b"data: [DONE]\n\n".to_vec()
            ]
        );
        assert!(f.remainder().is_empty());
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let stream = b"data: one\r\n\r\n: comment\n\ndata: two\n\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut f = SseFramer::default();
            f.push(&stream[..cut]);
            let mut events = drain(&mut f);
            f.push(&stream[cut..]);
            events.extend(drain(&mut f));
            assert_eq!(events.concat(), stream.to_vec(), "cut at {cut}");
            assert_eq!(events.len(), 4, "cut at {cut}");
        }
    }

    #[test]
    fn oversized_event_is_an_error() {
        let mut f = SseFramer::new(8);
        f.push(b"data: 0123456789");
        assert_eq!(f.next_event(), Err(EventTooLarge { limit: 8 }));
    }

    #[test]
    fn a_complete_event_over_the_limit_is_refused_even_in_one_piece() {
        // Found by the split property: arriving whole used to get it through, arriving slowly
        // did not.
        let mut f = SseFramer::new(8);
        f.push(b"data: 0123456789\n\n");
        assert_eq!(f.next_event(), Err(EventTooLarge { limit: 8 }));
        let mut f = SseFramer::new(8);
        f.push(b"data:\n\n");
        assert_eq!(f.next_event().unwrap().unwrap().as_ref(), b"data:\n\n");
    }

    #[test]
    fn single_data_line_reads_payload() {
        assert_eq!(
            single_data_line(b"data: {\"x\":1}\n\n"),
            Some(&b"{\"x\":1}"[..])
        );
        assert_eq!(
            single_data_line(b"data:[DONE]\r\n\r\n"),
            Some(&b"[DONE]"[..])
        );
        assert_eq!(single_data_line(b": ping\n\n"), None);
        assert_eq!(single_data_line(b"data: a\ndata: b\n\n"), None);
    }
}
