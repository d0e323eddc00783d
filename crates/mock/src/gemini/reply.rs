//! The mock's Gemini answers: `generateContent` (JSON), `streamGenerateContent` (SSE with
//! `alt=sse`, else a JSON array of the same chunks, as the API streams without it), embeddings,
//! token counts and models.
//!
//! The answer is scripted by the request, so tests drive it through a gateway:
//! - the text is [`crate::MockOptions::content`], as in the other dialects; with
//!   `responseMimeType: application/json` it is a JSON value instead (a sample of the schema, or
//!   `{"response": content}`);
//! - `includeThoughts` puts a thought part with a `thoughtSignature` first, and a thinking model
//!   (any whose budget is not 0) reports `thoughtsTokenCount`;
//! - a `stopSequences` entry found in the text cuts it there (`STOP`); `maxOutputTokens` smaller
//!   than the answer cuts it to that many words (`MAX_TOKENS`);
//! - with function declarations and mode `AUTO`, `ANY` or `VALIDATED`, the answer is one
//!   `functionCall` (to the first allowed or declared function, arguments sampled from its
//!   schema, with a `thoughtSignature` when the model thinks), unless the last turn answers
//!   function calls (then it answers in text);
//! - `asbru-mock:error=STATUS` in the last user turn fails the request (mid-stream as an
//!   `{"error"}` frame after the first chunk), and `asbru-mock:finish=REASON` finishes with
//!   that reason and no content.
//!
//! A token is a whitespace word, as everywhere in the mock.

use super::validate::{EmbedRequest, GenerateRequest, Mode};
use super::{GeminiError, sse_frame};
use crate::openai::{embed, json_bytes};
use crate::script::{first_words, sample, signature, split};
use crate::state::{Shared, count_words};
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// The thought summary the mock shows with `includeThoughts`.
const THOUGHT: &str =
    "**Answering** The user asked a question; I will answer with the configured reply.";

/// Dimensions of an embedding when the request does not ask for a number.
const DEFAULT_DIMENSIONS: usize = 768;

/// How a `generateContent` answer is delivered.
pub(crate) enum Answer {
    Json(Bytes),
    Frames(Vec<Bytes>),
}

/// What the answer holds, before it is framed.
struct Plan {
    thought: Option<String>,
    text: String,
    call: Option<(String, Value)>,
    finish: String,
    finish_message: Option<String>,
    signature: Option<String>,
    output_tokens: u64,
    thought_tokens: u64,
}

fn plan(shared: &Shared, req: &GenerateRequest<'_>) -> Plan {
    let thought_tokens = if req.thinking {
        count_words(THOUGHT)
    } else {
        0
    };
    let signature = req.thinking.then(|| signature(req.model, THOUGHT));
    let thought = (req.thinking && req.include_thoughts).then(|| THOUGHT.to_owned());
    if let Some(reason) = &req.finish_with {
        return Plan {
            thought: None,
            text: String::new(),
            call: None,
            finish: reason.clone(),
            finish_message: (reason == "MALFORMED_FUNCTION_CALL")
                .then(|| "Malformed function call: print(default_api.get_weather(".to_owned()),
            signature: None,
            output_tokens: 0,
            thought_tokens,
        };
    }
    let base = if req.json {
        match req.schema {
            Some(schema) => sample(schema, 0).to_string(),
            None => json!({ "response": shared.opts.content }).to_string(),
        }
    } else {
        shared.opts.content.clone()
    };
    let stop = req
        .stop_sequences
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| base.find(*s))
        .min();
    let mut text = stop.map_or(base.as_str(), |at| &base[..at]).to_owned();
    let truncated = req
        .max_output_tokens
        .is_some_and(|max| count_words(&text) > max);
    if let Some(max) = req.max_output_tokens.filter(|_| truncated) {
        text = first_words(&text, max).to_owned();
    }
    let call = if truncated || req.answers_function || req.json || req.mode == Mode::None {
        None
    } else {
        let name = req
            .allowed
            .first()
            .copied()
            .or_else(|| req.functions.first().map(|f| f.name));
        name.and_then(|name| req.functions.iter().find(|f| f.name == name))
            .map(|f| {
                let args = match f.schema.map(|s| sample(s, 0)) {
                    Some(Value::Object(a)) => Value::Object(a),
                    _ => Value::Object(Map::new()),
                };
                (f.name.to_owned(), args)
            })
    };
    let output_tokens = match &call {
        Some((name, args)) => count_words(name) + args.as_object().map_or(0, Map::len) as u64,
        None => count_words(&text),
    };
    Plan {
        thought,
        text: if call.is_some() { String::new() } else { text },
        call,
        finish: if truncated { "MAX_TOKENS" } else { "STOP" }.to_owned(),
        finish_message: None,
        signature,
        output_tokens,
        thought_tokens,
    }
}

fn usage(req: &GenerateRequest<'_>, plan: &Plan) -> Value {
    let candidates = plan.output_tokens * u64::from(req.candidates);
    let mut usage = json!({
        "promptTokenCount": req.prompt_tokens,
        "candidatesTokenCount": candidates,
        "totalTokenCount": req.prompt_tokens + candidates + plan.thought_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": req.prompt_tokens}],
    });
    if plan.thought_tokens > 0
        && let Some(map) = usage.as_object_mut()
    {
        map.insert(
            "thoughtsTokenCount".to_owned(),
            Value::from(plan.thought_tokens),
        );
    }
    usage
}

/// One chunk (or the whole answer): every candidate gets the same parts.
fn response(
    req: &GenerateRequest<'_>,
    seq: u64,
    parts: &[Value],
    finish: Option<(&str, Option<&str>)>,
    usage: Option<Value>,
) -> Value {
    let candidates: Vec<Value> = (0..req.candidates)
        .map(|index| {
            let mut c = Map::new();
            if !parts.is_empty() {
                c.insert(
                    "content".to_owned(),
                    json!({"role": "model", "parts": parts}),
                );
            }
            if let Some((reason, message)) = finish {
                c.insert("finishReason".to_owned(), Value::String(reason.to_owned()));
                if let Some(m) = message {
                    c.insert("finishMessage".to_owned(), Value::String(m.to_owned()));
                }
            }
            c.insert("index".to_owned(), Value::from(index));
            Value::Object(c)
        })
        .collect();
    let mut out = Map::new();
    out.insert("candidates".to_owned(), Value::Array(candidates));
    if let Some(u) = usage {
        out.insert("usageMetadata".to_owned(), u);
    }
    out.insert(
        "modelVersion".to_owned(),
        Value::String(req.model.to_owned()),
    );
    out.insert(
        "responseId".to_owned(),
        Value::String(format!("mockresp{seq:012}")),
    );
    Value::Object(out)
}

fn thought_part(plan: &Plan) -> Option<Value> {
    plan.thought.as_ref().map(|t| {
        let mut p = json!({"text": t, "thought": true});
        if let (Some(map), Some(sig)) = (p.as_object_mut(), &plan.signature) {
            map.insert("thoughtSignature".to_owned(), Value::String(sig.clone()));
        }
        p
    })
}

fn call_part(plan: &Plan) -> Option<Value> {
    plan.call.as_ref().map(|(name, args)| {
        let mut p = json!({"functionCall": {"name": name, "args": args}});
        if let (Some(map), Some(sig)) = (p.as_object_mut(), &plan.signature) {
            map.insert("thoughtSignature".to_owned(), Value::String(sig.clone()));
        }
        p
    })
}

/// The answer to a validated `generateContent` (`stream: None`) or `streamGenerateContent`
/// (`Some(sse)`) request.
pub(crate) fn generate(
    shared: &Shared,
    req: &GenerateRequest<'_>,
    seq: u64,
    stream: Option<bool>,
) -> Result<Answer, GeminiError> {
    let Some(sse) = stream else {
        if let Some(err) = &req.fail_with {
            return Err(err.clone());
        }
        let plan = plan(shared, req);
        let mut parts: Vec<Value> = thought_part(&plan).into_iter().collect();
        if !plan.text.is_empty() {
            parts.push(json!({"text": plan.text}));
        }
        parts.extend(call_part(&plan));
        let finish = (plan.finish.as_str(), plan.finish_message.as_deref());
        return Ok(Answer::Json(json_bytes(&response(
            req,
            seq,
            &parts,
            Some(finish),
            Some(usage(req, &plan)),
        ))));
    };
    let plan = plan(shared, req);
    let mut chunks: Vec<Vec<Value>> = Vec::new();
    if let Some(t) = thought_part(&plan) {
        chunks.push(vec![t]);
    }
    if !plan.text.is_empty() {
        let pieces = shared.opts.stream_chunks.max(1);
        for piece in split(&plan.text, pieces) {
            chunks.push(vec![json!({"text": piece})]);
        }
    }
    if let Some(c) = call_part(&plan) {
        chunks.push(vec![c]);
    }
    if chunks.is_empty() {
        chunks.push(Vec::new());
    }
    let last = chunks.len() - 1;
    let mut values = Vec::with_capacity(chunks.len() + 1);
    for (i, parts) in chunks.iter().enumerate() {
        let (finish, usage) = if i == last {
            (
                Some((plan.finish.as_str(), plan.finish_message.as_deref())),
                Some(usage(req, &plan)),
            )
        } else {
            (None, None)
        };
        values.push(response(req, seq, parts, finish, usage));
        if i == 0
            && let Some(err) = &req.fail_with
        {
            if sse {
                let mut frames: Vec<Bytes> = values.iter().map(sse_frame).collect();
                frames.push(err.frame());
                return Ok(Answer::Frames(frames));
            }
            return Err(err.clone());
        }
    }
    if sse {
        Ok(Answer::Frames(values.iter().map(sse_frame).collect()))
    } else {
        Ok(Answer::Json(json_bytes(&Value::Array(values))))
    }
}

fn vector(req: &EmbedRequest) -> Value {
    let values = embed(
        req.text.as_bytes().iter().copied(),
        0,
        req.dimensions.unwrap_or(DEFAULT_DIMENSIONS),
    );
    json!({ "values": values })
}

/// `embedContent`: a deterministic unit vector per text.
pub(crate) fn embed_one(req: &EmbedRequest) -> Bytes {
    json_bytes(&json!({ "embedding": vector(req) }))
}

/// `batchEmbedContents`: one vector per entry, in order.
pub(crate) fn batch_embed(reqs: &[EmbedRequest]) -> Bytes {
    let embeddings: Vec<Value> = reqs.iter().map(vector).collect();
    json_bytes(&json!({ "embeddings": embeddings }))
}

/// `countTokens`.
pub(crate) fn count_tokens(total: u64) -> Bytes {
    json_bytes(&json!({
        "totalTokens": total,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]
    }))
}

fn model(id: &str) -> Value {
    let embedding = id.contains("embedding");
    let methods: &[&str] = if embedding {
        &["embedContent", "batchEmbedContents", "countTokens"]
    } else {
        &[
            "generateContent",
            "countTokens",
            "createCachedContent",
            "batchGenerateContent",
        ]
    };
    let mut m = json!({
        "name": format!("models/{id}"),
        "version": "001",
        "displayName": id,
        "description": format!("{id}, served by asbru-mock"),
        "inputTokenLimit": if embedding { 2048 } else { 1_048_576 },
        "outputTokenLimit": if embedding { 1 } else { 65_536 },
        "supportedGenerationMethods": methods,
    });
    if !embedding && let Some(map) = m.as_object_mut() {
        for (k, v) in [
            ("temperature", json!(1)),
            ("topP", json!(0.95)),
            ("topK", json!(64)),
            ("maxTemperature", json!(2)),
            ("thinking", json!(true)),
        ] {
            map.insert(k.to_owned(), v);
        }
    }
    m
}

/// `GET models`: a page of `pageSize` (default 50, at most 1000) from `pageToken` (the index
/// the previous page stopped at).
pub(crate) fn model_list(models: &[String], query: Option<&str>) -> Result<Bytes, GeminiError> {
    let size = match super::query_param(query, "pageSize") {
        None => 50,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n.min(1000),
            _ => {
                return Err(GeminiError::invalid(format!(
                    "Invalid value at 'page_size' (TYPE_INT32), \"{s}\""
                )));
            }
        },
    };
    let start = match super::query_param(query, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|&i| i <= models.len())
            .ok_or_else(|| GeminiError::invalid("Invalid page token."))?,
    };
    let end = (start + size).min(models.len());
    let page: Vec<Value> = models[start..end].iter().map(|m| model(m)).collect();
    let mut out = json!({ "models": page });
    if end < models.len()
        && let Some(map) = out.as_object_mut()
    {
        map.insert("nextPageToken".to_owned(), Value::String(end.to_string()));
    }
    Ok(json_bytes(&out))
}

/// `GET models/{model}`.
pub(crate) fn model_object(models: &[String], id: &str) -> Result<Bytes, GeminiError> {
    if models.iter().any(|m| m == id) {
        Ok(json_bytes(&model(id)))
    } else {
        Err(GeminiError {
            status: http::StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: format!(
                "models/{id} is not found for API version v1beta, or is not supported for \
                 GetModel. Call ListModels to see the list of available models and their \
                 supported methods."
            ),
            details: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockOptions;
    use crate::gemini::parse_generate;

    fn answer(body: Value, model: &str) -> Value {
        let shared = Shared::new(MockOptions::default());
        let req = parse_generate(&body, model).unwrap();
        match generate(&shared, &req, 3, None).unwrap() {
            Answer::Json(b) => serde_json::from_slice(&b).unwrap(),
            Answer::Frames(_) => panic!("frames"),
        }
    }

    #[test]
    fn scripted_answers() {
        let hi = json!([{"role": "user", "parts": [{"text": "hi"}]}]);
        let plain = answer(json!({"contents": hi}), "gemini-2.5-flash");
        assert_eq!(
            plain["candidates"][0]["content"]["parts"][0]["text"],
            "Hello from the mock."
        );
        assert_eq!(plain["candidates"][0]["finishReason"], "STOP");
        assert_eq!(plain["usageMetadata"]["candidatesTokenCount"], 4);

        let short = answer(
            json!({"contents": hi, "generationConfig": {"maxOutputTokens": 2}}),
            "gemini-2.5-flash",
        );
        assert_eq!(short["candidates"][0]["finishReason"], "MAX_TOKENS");
        assert_eq!(
            short["candidates"][0]["content"]["parts"][0]["text"],
            "Hello from"
        );

        let tools = json!([{"functionDeclarations": [{"name": "get_weather",
            "parameters": {"type": "OBJECT", "properties": {"location": {"type": "STRING"}}, "required": ["location"]}}]}]);
        let call = answer(
            json!({"contents": hi, "tools": tools, "generationConfig": {"thinkingConfig": {"includeThoughts": true}}}),
            "gemini-2.5-flash",
        );
        let parts = &call["candidates"][0]["content"]["parts"];
        assert_eq!(parts[0]["thought"], true);
        assert!(parts[0]["thoughtSignature"].is_string());
        assert_eq!(
            parts[1]["functionCall"]["args"],
            json!({"location": "mock"})
        );
        assert!(parts[1]["thoughtSignature"].is_string());

        let none = answer(
            json!({"contents": hi, "tools": tools, "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}),
            "gemini-2.5-flash",
        );
        assert!(none["candidates"][0]["content"]["parts"][0]["text"].is_string());
    }
}
