//! Streams: Gemini `streamGenerateContent?alt=sse` chunks to unified chunks, and unified chunks
//! to Gemini chunks.
//!
//! A Gemini stream is a sequence of `data:` events, each a whole [`GenerateContentResponse`]
//! holding the next parts; there are no event names, no end marker (the chunk with a
//! `finishReason` is the last one with content, and it carries the usage), and an error after
//! the 200 arrives as a `data:` holding `{"error": …}`. Both directions are state machines fed
//! one chunk at a time; only function calls are held back on the way to Gemini, because Gemini
//! sends a call whole while OpenAI streams its arguments in pieces.

use super::error::{ConvertError, StreamError, error_from_stream, finish_failure};
use super::parts::{SIGNATURE_FORMAT, arguments_text, generated_call_id, parse_arguments};
use super::response::{
    finish_reason_from_gemini, finish_reason_to_gemini, prompt_block, usage_from_gemini,
    usage_to_gemini,
};
use super::types::{
    Candidate, Content as GeminiContent, FunctionCall, GenerateContentResponse, Part,
    StreamPayload, UsageMetadata, sse_data,
};
use asbru_schema::chat::{
    ChatChunk, ChatUsage, ChunkChoice, Delta, FinishReason, FunctionCallDelta, Nullable,
    ReasoningDetail, ToolCall, ToolCallDelta, reasoning_detail_type,
};
use serde_json::{Map, Value};

/// The most candidates one stream may carry (Gemini's `candidateCount` is at most 8); chunks for
/// a higher index are refused rather than letting a broken upstream grow state at will.
const MAX_CANDIDATES: usize = 8;

/// Per-candidate progress.
#[derive(Debug, Default, Clone)]
struct Progress {
    started: bool,
    finished: bool,
    calls: u32,
    details: u32,
}

/// Turns Gemini stream chunks into unified chunks.
///
/// * A candidate's first chunk is preceded by one with `role: assistant` (and empty content),
///   as OpenAI streams start.
/// * Text parts become `content`; thought parts `reasoning` plus a `reasoning.text` entry with
///   their signature; `functionCall` parts a complete tool call in one delta (index, id, type,
///   name and the whole arguments), with its signature as a `reasoning.encrypted` entry naming
///   the call (ids exactly as the non-streaming conversion makes them).
/// * A `finishReason` gives that candidate's finish chunk (`tool_calls` when it called
///   functions); a failure reason (`MALFORMED_FUNCTION_CALL`, …) or an `{"error": …}` payload is
///   returned as [`StreamError::Upstream`]. A blocked prompt finishes with `content_filter`.
/// * Usage (cumulative on Gemini's side) is kept and sent by [`StreamToUnified::finish`] as a
///   last chunk without choices, as OpenAI's `include_usage` does.
#[derive(Debug)]
pub struct StreamToUnified {
    created: u64,
    id: String,
    model: String,
    candidates: Vec<Progress>,
    usage: Option<UsageMetadata>,
    done: bool,
}

impl StreamToUnified {
    /// `created` is the Unix time reported in every chunk.
    pub fn new(created: u64) -> Self {
        Self {
            created,
            id: String::new(),
            model: String::new(),
            candidates: Vec::new(),
            usage: None,
            done: false,
        }
    }

    /// Handles one complete SSE frame, as [`crate::sse::SseFramer`] returns them; frames without
    /// data give nothing.
    pub fn push_frame(&mut self, frame: &[u8]) -> Result<Vec<ChatChunk>, StreamError> {
        match sse_data(frame) {
            Some(data) if !data.iter().all(u8::is_ascii_whitespace) => self.push(&data),
            _ => Ok(Vec::new()),
        }
    }

    /// Handles one `data:` payload.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<ChatChunk>, StreamError> {
        match StreamPayload::parse(data) {
            Ok(StreamPayload::Chunk(chunk)) => self.push_chunk(&chunk),
            Ok(StreamPayload::Error(e)) => Err(StreamError::Upstream(error_from_stream(&e))),
            Err(e) => Err(StreamError::Malformed(e.to_string())),
        }
    }

    /// Handles one parsed chunk.
    pub fn push_chunk(
        &mut self,
        chunk: &GenerateContentResponse,
    ) -> Result<Vec<ChatChunk>, StreamError> {
        if self.id.is_empty()
            && let Some(id) = &chunk.response_id
        {
            self.id = id.clone();
        }
        if self.model.is_empty()
            && let Some(model) = &chunk.model_version
        {
            self.model = model.clone();
        }
        if let Some(u) = &chunk.usage_metadata {
            self.usage = Some(u.clone());
        }
        let mut out = Vec::new();
        if chunk.candidates.is_empty()
            && let Some(block) = chunk.prompt_feedback.as_ref().and_then(prompt_block)
        {
            let finish = block.map_err(StreamError::Upstream)?;
            self.start(0, &mut out)?;
            out.push(self.chunk(0, Delta::default(), Some(finish)));
            self.done = true;
            return Ok(out);
        }
        for (position, candidate) in chunk.candidates.iter().enumerate() {
            self.candidate(candidate, position, &mut out)?;
        }
        Ok(out)
    }

    /// Call when the upstream body ends. A stream that never finished a candidate is an error
    /// (the client must not take a cut-off answer for a complete one); otherwise this returns
    /// the usage chunk, if Gemini reported usage.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, StreamError> {
        if !self.done {
            return Err(StreamError::Truncated);
        }
        Ok(self
            .usage
            .take()
            .map(|u| {
                let mut last = self.chunk(0, Delta::default(), None);
                last.choices.clear();
                last.usage = Nullable::Value(usage_from_gemini(&u));
                last
            })
            .into_iter()
            .collect())
    }

    /// The usage so far.
    pub fn usage(&self) -> Option<ChatUsage> {
        self.usage.as_ref().map(usage_from_gemini)
    }

    fn progress(&mut self, index: u32) -> Result<&mut Progress, StreamError> {
        let i = usize::try_from(index).unwrap_or(usize::MAX);
        if i >= MAX_CANDIDATES {
            return Err(StreamError::Malformed(format!(
                "candidate index {index} is beyond the {MAX_CANDIDATES} Gemini allows"
            )));
        }
        if i >= self.candidates.len() {
            self.candidates.resize(i + 1, Progress::default());
        }
        Ok(&mut self.candidates[i])
    }

    fn start(&mut self, index: u32, out: &mut Vec<ChatChunk>) -> Result<(), StreamError> {
        let p = self.progress(index)?;
        if !p.started {
            p.started = true;
            let delta = Delta {
                role: Some("assistant".to_owned()),
                content: Nullable::Value(String::new()),
                ..Delta::default()
            };
            out.push(self.chunk(index, delta, None));
        }
        Ok(())
    }

    fn candidate(
        &mut self,
        candidate: &Candidate,
        position: usize,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), StreamError> {
        let index = candidate
            .index
            .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX));
        if let Some(reason) = candidate.finish_reason.as_deref()
            && let Some(err) = finish_failure(reason, candidate.finish_message.as_deref())
        {
            return Err(StreamError::Upstream(err));
        }
        self.start(index, out)?;
        if self.progress(index)?.finished {
            return Ok(());
        }
        let seed = format!("{}/{index}", self.id);
        for part in candidate.content.iter().flat_map(|c| &c.parts) {
            let delta = self.part_delta(index, part, &seed)?;
            if let Some(delta) = delta {
                out.push(self.chunk(index, delta, None));
            }
        }
        if let Some(reason) = candidate.finish_reason.as_deref() {
            let p = self.progress(index)?;
            let calls = p.calls > 0;
            if let Some(finish) = finish_reason_from_gemini(reason, calls) {
                p.finished = true;
                self.done = true;
                out.push(self.chunk(index, Delta::default(), Some(finish)));
            }
        }
        Ok(())
    }

    fn part_delta(
        &mut self,
        index: u32,
        part: &Part,
        seed: &str,
    ) -> Result<Option<Delta>, StreamError> {
        let p = self.progress(index)?;
        let mut details = Vec::new();
        let mut delta = Delta::default();
        if part.is_thought() {
            let text = part.text.clone().unwrap_or_default();
            details.push(super::parts::thought_detail(
                p.details,
                text.clone(),
                part.thought_signature.clone(),
            ));
            p.details += 1;
            delta.reasoning = Some(text);
        } else if let Some(call) = &part.function_call {
            let n = p.calls;
            p.calls += 1;
            let id = call
                .id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| generated_call_id(seed, n as usize));
            if let Some(sig) = &part.thought_signature {
                details.push(super::parts::signature_detail(
                    p.details,
                    sig.clone(),
                    Some(id.clone()),
                ));
                p.details += 1;
            }
            delta.tool_calls = Some(vec![ToolCallDelta {
                index: n,
                id: Some(id),
                kind: Some("function".to_owned()),
                function: Some(FunctionCallDelta {
                    name: Some(call.name.clone()),
                    arguments: Some(arguments_text(call.args.as_ref())),
                    extra: Map::new(),
                }),
                extra: Map::new(),
            }]);
        } else {
            if let Some(sig) = &part.thought_signature {
                details.push(super::parts::signature_detail(p.details, sig.clone(), None));
                p.details += 1;
            }
            if let Some(text) = part.text.as_ref().filter(|t| !t.is_empty()) {
                delta.content = Nullable::Value(text.clone());
            }
        }
        if !details.is_empty() {
            delta.reasoning_details = Some(details);
        }
        let empty = delta == Delta::default();
        Ok((!empty).then_some(delta))
    }

    fn chunk(&self, index: u32, delta: Delta, finish_reason: Option<FinishReason>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: ChatChunk::OBJECT.to_owned(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index,
                delta,
                finish_reason,
                extra: Map::new(),
            }],
            usage: Nullable::Absent,
            extra: Map::new(),
        }
    }
}

/// A tool call being assembled from OpenAI fragments.
#[derive(Debug, Default)]
struct PendingCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// Turns unified chunks into Gemini stream chunks, for clients of the `/genai` drop-in routes.
///
/// Only choice 0 is used. Text and reasoning go out as they come (one chunk per unified chunk
/// that has any); tool calls are assembled from their fragments and sent whole, with the
/// finish reason and usage, in the last chunk, which [`StreamFromUnified::finish`] returns once
/// the unified stream has ended (usage comes after the finish reason in OpenAI streams). Gemini
/// signatures in `reasoning_details` are put back on their parts, as in the non-streaming
/// conversion.
#[derive(Debug, Default)]
pub struct StreamFromUnified {
    id: String,
    model: String,
    calls: Vec<PendingCall>,
    call_signatures: Vec<(String, String)>,
    loose_signatures: String,
    finish: Option<FinishReason>,
    usage: Option<ChatUsage>,
    finished: bool,
}

impl StreamFromUnified {
    /// A converter for one stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one unified chunk, returning the Gemini chunks to send (zero or one).
    pub fn push(&mut self, chunk: &ChatChunk) -> Vec<GenerateContentResponse> {
        if self.finished {
            return Vec::new();
        }
        if self.id.is_empty() {
            self.id.clone_from(&chunk.id);
        }
        if self.model.is_empty() {
            self.model.clone_from(&chunk.model);
        }
        if let Some(u) = chunk.usage.value() {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.choices.iter().find(|c| c.index == 0) else {
            return Vec::new();
        };
        let delta = &choice.delta;
        let mut parts = Vec::new();
        match &delta.reasoning_details {
            Some(details) if !details.is_empty() => {
                for d in details {
                    self.detail(d, &mut parts);
                }
            }
            _ => {
                let text = delta
                    .reasoning
                    .as_deref()
                    .or_else(|| delta.extra.get("reasoning_content").and_then(Value::as_str));
                if let Some(text) = text.filter(|t| !t.is_empty()) {
                    parts.push(thought(text, None));
                }
            }
        }
        if let Some(text) = delta.content.value().filter(|t| !t.is_empty()) {
            parts.push(Part::text(text.clone()));
        }
        for call in delta.tool_calls.iter().flatten() {
            let f = call.function.as_ref();
            let at = match self.calls.iter().position(|c| c.index == call.index) {
                Some(at) => at,
                None => {
                    self.calls.push(PendingCall {
                        index: call.index,
                        ..PendingCall::default()
                    });
                    self.calls.len() - 1
                }
            };
            let pending = &mut self.calls[at];
            if let Some(id) = &call.id {
                pending.id.clone_from(id);
            }
            if let Some(name) = f.and_then(|f| f.name.as_ref()) {
                pending.name.push_str(name);
            }
            if let Some(args) = f.and_then(|f| f.arguments.as_ref()) {
                pending.arguments.push_str(args);
            }
        }
        if let Some(finish) = &choice.finish_reason {
            self.finish = Some(finish.clone());
        }
        if parts.is_empty() {
            return Vec::new();
        }
        vec![self.response(parts, None, None)]
    }

    /// Call once the unified stream has ended normally: returns the last chunk, with the tool
    /// calls, any signature not tied to a call (on an empty text part, as Google sends it), the
    /// finish reason (`STOP` when none came) and usage. Later calls return nothing.
    pub fn finish(&mut self) -> Result<Vec<GenerateContentResponse>, ConvertError> {
        if self.finished {
            return Ok(Vec::new());
        }
        self.finished = true;
        let mut parts = Vec::new();
        for pending in &self.calls {
            let call = ToolCall::function(
                pending.id.clone(),
                pending.name.clone(),
                pending.arguments.clone(),
            );
            let signature = self
                .call_signatures
                .iter()
                .find(|(id, _)| *id == pending.id)
                .map(|(_, sig)| sig.clone());
            parts.push(Part {
                thought_signature: signature,
                function_call: Some(FunctionCall {
                    id: (!pending.id.is_empty() && !super::parts::is_generated_id(&pending.id))
                        .then(|| pending.id.clone()),
                    name: pending.name.clone(),
                    args: Some(parse_arguments(&call)?),
                    extra: Map::new(),
                }),
                ..Part::default()
            });
        }
        if !self.loose_signatures.is_empty() {
            parts.push(Part {
                text: Some(String::new()),
                thought_signature: Some(std::mem::take(&mut self.loose_signatures)),
                ..Part::default()
            });
        }
        let finish = self
            .finish
            .as_ref()
            .map_or_else(|| "STOP".to_owned(), finish_reason_to_gemini);
        let usage = self.usage.as_ref().map(usage_to_gemini);
        Ok(vec![self.response(parts, Some(finish), usage)])
    }

    fn detail(&mut self, d: &ReasoningDetail, parts: &mut Vec<Part>) {
        let gemini = d.extra.get("format").and_then(Value::as_str) == Some(SIGNATURE_FORMAT);
        match d.kind.as_str() {
            reasoning_detail_type::ENCRYPTED => {
                if let (true, Some(data)) = (gemini, &d.data) {
                    match &d.id {
                        Some(id) => self.call_signatures.push((id.clone(), data.clone())),
                        None => self.loose_signatures.push_str(data),
                    }
                }
            }
            _ => {
                let text = d.text.as_deref().or(d.summary.as_deref()).unwrap_or("");
                let signature = d.signature.clone().filter(|_| gemini);
                if !text.is_empty() || signature.is_some() {
                    parts.push(thought(text, signature));
                }
            }
        }
    }

    fn response(
        &self,
        parts: Vec<Part>,
        finish_reason: Option<String>,
        usage: Option<UsageMetadata>,
    ) -> GenerateContentResponse {
        GenerateContentResponse {
            candidates: vec![Candidate {
                content: Some(GeminiContent::new("model", parts)),
                finish_reason,
                index: Some(0),
                finish_message: None,
                extra: Map::new(),
            }],
            prompt_feedback: None,
            usage_metadata: usage,
            model_version: (!self.model.is_empty()).then(|| self.model.clone()),
            response_id: (!self.id.is_empty()).then(|| self.id.clone()),
            extra: Map::new(),
        }
    }
}

fn thought(text: &str, signature: Option<String>) -> Part {
    Part {
        text: Some(text.to_owned()),
        thought: Some(true),
        thought_signature: signature,
        ..Part::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_without_finish_is_truncated() {
        let mut s = StreamToUnified::new(0);
        s.push(br#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]}}]}"#)
            .unwrap();
        assert!(matches!(s.finish(), Err(StreamError::Truncated)));
    }

    #[test]
    fn error_payloads_fail_the_stream() {
        let mut s = StreamToUnified::new(0);
        let err = s
            .push(br#"{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}"#)
            .unwrap_err();
        let StreamError::Upstream(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!(e.status(), 503);
    }

    #[test]
    fn finish_without_chunks_is_still_well_formed() {
        let mut s = StreamFromUnified::new();
        let last = s.finish().unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].candidates[0].finish_reason.as_deref(), Some("STOP"));
        assert!(s.finish().unwrap().is_empty());
    }
}
