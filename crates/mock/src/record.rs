//! The bounded log of requests the mock received.

use bytes::Bytes;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// One request as the mock received it, so tests can check what the gateway actually sent
/// upstream: which key, which headers, and the body after the gateway rewrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path exactly as sent, including any base-URL prefix.
    pub path: String,
    pub query: Option<String>,
    /// Header names are lower-case (as HTTP/2 and hyper normalise them); values that are not
    /// UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RecordedRequest {
    /// The first value of a header, looked up case-insensitively, since tests name headers the
    /// way they read best.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of a query parameter (percent-decoded), e.g. Azure's `api-version`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The Azure OpenAI deployment the request addressed (the path segment after
    /// `/openai/deployments/`, percent-decoded), so tests can check the model → deployment
    /// mapping.
    pub fn azure_deployment(&self) -> Option<String> {
        let (_, rest) = self.path.split_once("/openai/deployments/")?;
        let segment = rest.split('/').next()?.as_bytes();
        let mut out = Vec::with_capacity(segment.len());
        let mut i = 0;
        while i < segment.len() {
            let hex = segment
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match (segment[i], hex) {
                (b'%', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (byte, _) => {
                    out.push(byte);
                    i += 1;
                }
            }
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    /// The body parsed as JSON, or `None` when it is not JSON; most upstream bodies are.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text, lossily, for assertions on non-JSON bodies.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The control route's form: headers as an object (repeated names joined with `", "`), the body
/// as text and, when it parses, as JSON too, so that scripts can index into it directly.
impl Serialize for RecordedRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Headers<'a>(&'a [(String, String)]);
        impl Serialize for Headers<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut merged: Vec<(&str, String)> = Vec::with_capacity(self.0.len());
                for (name, value) in self.0 {
                    match merged.iter_mut().find(|(n, _)| *n == name.as_str()) {
                        Some((_, v)) => {
                            v.push_str(", ");
                            v.push_str(value);
                        }
                        None => merged.push((name.as_str(), value.clone())),
                    }
                }
                let mut map = serializer.serialize_map(Some(merged.len()))?;
                for (name, value) in &merged {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }

        let mut s = serializer.serialize_struct("RecordedRequest", 6)?;
        s.serialize_field("method", &self.method)?;
        s.serialize_field("path", &self.path)?;
        s.serialize_field("query", &self.query)?;
        s.serialize_field("headers", &Headers(&self.headers))?;
        s.serialize_field("body", &self.body_text())?;
        s.serialize_field("json", &self.json())?;
        s.end()
    }
}

/// A ring buffer of the most recent requests; bounded so that a long soak or benchmark run
/// cannot grow the mock without limit.
pub(crate) struct Recorder {
    max: usize,
    log: Mutex<VecDeque<RecordedRequest>>,
}

impl Recorder {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            log: Mutex::new(VecDeque::with_capacity(max.min(1024))),
        }
    }

    pub(crate) fn push(&self, request: RecordedRequest) {
        if self.max == 0 {
            return;
        }
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        while log.len() >= self.max {
            log.pop_front();
        }
        log.push_back(request);
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedRequest> {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter().cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(n: usize) -> RecordedRequest {
        RecordedRequest {
            method: "POST".into(),
            path: format!("/{n}"),
            query: None,
            headers: vec![
                ("x-a".into(), "1".into()),
                ("x-a".into(), "2".into()),
                ("Authorization".into(), "Bearer k".into()),
            ],
            body: Bytes::from_static(br#"{"model":"m"}"#),
        }
    }

    #[test]
    fn bounded_keeps_newest() {
        let r = Recorder::new(3);
        for n in 0..5 {
            r.push(req(n));
        }
        let paths: Vec<_> = r.snapshot().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/2", "/3", "/4"]);
        r.clear();
        assert!(r.snapshot().is_empty());
    }

    #[test]
    fn helpers_and_serialisation() {
        let r = req(0);
        assert_eq!(r.header("authorization"), Some("Bearer k"));
        assert_eq!(r.header("X-A"), Some("1"));
        assert_eq!(r.json().unwrap()["model"], "m");
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["headers"]["x-a"], "1, 2");
        assert_eq!(v["json"]["model"], "m");
        assert_eq!(v["body"], r#"{"model":"m"}"#);
        assert_eq!(v["query"], serde_json::Value::Null);
    }
}
