//! Inspecting an OpenAI-dialect SSE stream event by event while it is forwarded.

use super::response::{ExtraFields, append_extra_fields, find_usage};
use crate::sse::single_data_line;
use asbru_schema::Usage;
use bytes::Bytes;
use memchr::memmem;

/// What to do with one upstream event.
#[derive(Debug, PartialEq, Eq)]
pub enum ChunkAction {
    /// Send these bytes to the client.
    Forward(Bytes),
    /// Send nothing (a usage-only chunk the gateway asked for and the client did not).
    Drop,
}

/// Follows one stream: numbers its chunks, adds `extra_fields`, picks up usage and notices the
/// end marker, touching each event's JSON only where it must.
#[derive(Debug, Default)]
pub struct StreamInspector {
    drop_usage_only_chunk: bool,
    cost_of: Option<CostFn>,
    usage: Option<Usage>,
    chunk_index: u64,
    saw_done: bool,
    saw_error: bool,
}

impl StreamInspector {
    /// `drop_usage_only_chunk`: the gateway added `include_usage` itself, so the trailing chunk
    /// with no choices is for the gateway only.
    pub fn new(drop_usage_only_chunk: bool) -> Self {
        Self {
            drop_usage_only_chunk,
            ..Self::default()
        }
    }

    /// Prices the usage: the chunk that carries it gets `extra_fields.cost`.
    pub fn with_cost(
        mut self,
        cost_of: impl Fn(&Usage) -> Option<f64> + Send + Sync + 'static,
    ) -> Self {
        self.cost_of = Some(CostFn(Box::new(cost_of)));
        self
    }

    /// Handles one complete event. `extra` is filled by the caller; its `chunk_index` is set here.
    pub fn inspect(&mut self, event: Bytes, extra: &ExtraFields<'_>) -> ChunkAction {
        let Some(data) = single_data_line(&event) else {
            return ChunkAction::Forward(event);
        };
        if data.trim_ascii() == b"[DONE]" {
            self.saw_done = true;
            return ChunkAction::Forward(event);
        }
        if data.starts_with(b"{\"error\"") {
            self.saw_error = true;
            return ChunkAction::Forward(event);
        }
        // Only chunks that carry a non-null `usage` are parsed, and only that object.
        let mut cost = None;
        if memmem::find(data, b"\"usage\"").is_some()
            && let Ok(Some(usage)) = find_usage(data)
        {
            self.usage = Some(usage);
            cost = self.cost_of.as_ref().and_then(|f| (f.0)(&usage));
            if self.drop_usage_only_chunk && has_empty_choices(data) {
                return ChunkAction::Drop;
            }
        }
        let extra = ExtraFields {
            chunk_index: Some(self.chunk_index),
            cost: cost.or(extra.cost),
            ..extra.clone()
        };
        self.chunk_index += 1;
        match append_extra_fields(data, &extra) {
            Some(json) => {
                let mut out = Vec::with_capacity(json.len() + 8);
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&json);
                out.extend_from_slice(b"\n\n");
                ChunkAction::Forward(Bytes::from(out))
            }
            None => ChunkAction::Forward(event),
        }
    }

    /// The last usage any chunk carried.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Whether the provider ended the stream properly with `data: [DONE]`.
    pub fn saw_done(&self) -> bool {
        self.saw_done
    }

    /// Whether the provider sent an error event inside the stream.
    pub fn saw_error(&self) -> bool {
        self.saw_error
    }

    /// Chunks forwarded so far (the next chunk's index).
    pub fn chunks(&self) -> u64 {
        self.chunk_index
    }
}

/// Prices a usage (the provider and model are the caller's).
struct CostFn(Box<PriceUsage>);

type PriceUsage = dyn Fn(&Usage) -> Option<f64> + Send + Sync;

impl std::fmt::Debug for CostFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CostFn")
    }
}

/// Whether the chunk's `choices` is an empty array (the usage-only chunk at the end of a stream).
fn has_empty_choices(data: &[u8]) -> bool {
    let Some(at) = memmem::find(data, b"\"choices\"") else {
        return true;
    };
    let rest = data[at + 9..].trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b":") else {
        return false;
    };
    let Some(rest) = rest.trim_ascii_start().strip_prefix(b"[") else {
        return false;
    };
    rest.trim_ascii_start().starts_with(b"]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn extra() -> ExtraFields<'static> {
        ExtraFields {
            request_type: "chat.completion.chunk",
            provider: "groq",
            model_requested: "llama",
            latency: 5,
            chunk_index: None,
            retries: 0,
            fallback_index: 0,
            overhead_ms: None,
            cost: None,
            routing_rule_id: "",
            routing_rule_name: "",
            routing_engines_used: "",
        }
    }

    fn data_json(action: &ChunkAction) -> Value {
        let ChunkAction::Forward(b) = action else {
            panic!("dropped")
        };
        serde_json::from_slice(single_data_line(b).unwrap()).unwrap()
    }

    #[test]
    fn numbers_chunks_and_adds_extra_fields() {
        let mut s = StreamInspector::new(false);
        let a = s.inspect(
            Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"),
            &extra(),
        );
        let b = s.inspect(
            Bytes::from_static(b"data: {\"choices\":[{\"delta\":{}}],\"usage\":null}\n\n"),
            &extra(),
        );
        assert_eq!(data_json(&a)["extra_fields"]["chunk_index"], 0);
        assert_eq!(data_json(&a)["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(data_json(&b)["extra_fields"]["chunk_index"], 1);
        assert_eq!(data_json(&b)["extra_fields"]["provider"], "groq");
        assert!(s.usage().is_none());
    }

    #[test]
    fn picks_usage_and_drops_gateway_only_usage_chunk() {
        let usage_chunk = b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":3,\"total_tokens\":5}}\n\n";
        let mut s = StreamInspector::new(true);
        assert_eq!(
            s.inspect(Bytes::from_static(usage_chunk), &extra()),
            ChunkAction::Drop
        );
        assert_eq!(s.usage().unwrap().total_tokens, 5);

        let mut s = StreamInspector::new(false);
        let kept = s.inspect(Bytes::from_static(usage_chunk), &extra());
        assert_eq!(data_json(&kept)["usage"]["total_tokens"], 5);
    }

    #[test]
    fn empty_choices_are_recognised_with_any_spacing() {
        assert!(has_empty_choices(br#"{"choices":[],"usage":{}}"#));
        assert!(has_empty_choices(br#"{"choices" : [ ] ,"usage":{}}"#));
        assert!(has_empty_choices(br#"{"usage":{}}"#));
        assert!(!has_empty_choices(br#"{"choices":[{"index":0}]}"#));
    }

    #[test]
    fn done_comments_and_errors_pass_unchanged() {
        let mut s = StreamInspector::new(false);
        for ev in [
            &b": ping\n\n"[..],
            b"data: [DONE]\n\n",
            b"data: {\"error\":{\"message\":\"x\"}}\n\n",
        ] {
            assert_eq!(
                s.inspect(Bytes::copy_from_slice(ev), &extra()),
                ChunkAction::Forward(Bytes::copy_from_slice(ev))
            );
        }
        assert!(s.saw_done());
        assert!(s.saw_error());
        assert_eq!(s.chunks(), 0);
    }
}
