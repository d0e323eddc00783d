//! The OpenAI wire format: request validation with OpenAI's error messages, and the response
//! objects (chat completion, chunk, text completion, embedding list, model list, error). Chat
//! completions, whose answer is scripted by the request, live in [`chat`], their tool checks in
//! [`tools`].

mod chat;
mod tools;

pub(crate) use chat::{chat_completion, chat_stream, parse_chat, plan as plan_chat};

use crate::state::{Shared, count_words};
use bytes::Bytes;
use http::StatusCode;
use serde::Serialize;
use serde_json::Value;

/// Every model the mock lists reports this creation time; any fixed value serves.
const MODEL_CREATED: u64 = 1_686_935_002;
/// Dimensions of an embedding when the request does not ask for a number.
pub(crate) const DEFAULT_DIMENSIONS: usize = 8;
/// An upper bound on requested dimensions, so one request cannot make the mock allocate
/// gigabytes.
const MAX_DIMENSIONS: u64 = 65_536;
const FINGERPRINT: &str = "fp_asbru_mock";

/// An OpenAI error response: status plus the `{"error":{message,type,param,code}}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) kind: &'static str,
    pub(crate) param: Option<String>,
    pub(crate) code: Option<&'static str>,
}

impl ApiError {
    /// A 400 `invalid_request_error`, the shape of every OpenAI validation failure.
    pub(crate) fn invalid(
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.map(str::to_owned),
            code,
        }
    }

    fn missing(param: &str) -> Self {
        Self::invalid(
            format!("Missing required parameter: '{param}'."),
            Some(param),
            Some("missing_required_parameter"),
        )
    }

    fn wrong_type(param: &str, expected: &str, got: &Value) -> Self {
        Self::invalid(
            format!(
                "Invalid type for '{param}': expected {expected}, but got {} instead.",
                type_name(got)
            ),
            Some(param),
            Some("invalid_type"),
        )
    }

    pub(crate) fn body(&self) -> Bytes {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            message: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            param: Option<&'a str>,
            code: Option<&'a str>,
        }
        json_bytes(&Envelope {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        })
    }
}

/// Serialises one of this module's response types. They contain no maps with non-string keys
/// nor failing `Serialize` impls, so the error branch is unreachable in practice.
pub(crate) fn json_bytes<T: Serialize>(value: &T) -> Bytes {
    serde_json::to_vec(value).map_or_else(|_| Bytes::from_static(b"{}"), Bytes::from)
}

/// One SSE event carrying `value` as JSON.
fn sse_frame<T: Serialize>(value: &T) -> Bytes {
    let mut buf = Vec::with_capacity(320);
    buf.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut buf, value).is_err() {
        buf.truncate(6);
        buf.extend_from_slice(b"{}");
    }
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

/// The stream terminator OpenAI sends after the last chunk.
pub(crate) const SSE_DONE: &[u8] = b"data: [DONE]\n\n";

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The error OpenAI gives when the body is not JSON at all.
pub(crate) fn unparsable_body() -> ApiError {
    ApiError::invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't \
         using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was \
         sent was not valid JSON. If you have trouble figuring out how to fix this, please visit \
         https://help.openai.com/)",
        None,
        None,
    )
}

/// The parameters shared by the generation endpoints, checked as OpenAI checks them.
pub(crate) struct Common<'a> {
    pub(crate) model: &'a str,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
    pub(crate) n: usize,
}

fn common(body: &Value) -> Result<Common<'_>, ApiError> {
    let model = required_model(body)?;
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(ApiError::wrong_type("stream", "a boolean", other)),
    };
    let include_usage = match body.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(opts)) => {
            if !stream {
                return Err(ApiError::invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    Some("stream_options"),
                    None,
                ));
            }
            match opts.get("include_usage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(ApiError::wrong_type(
                        "stream_options.include_usage",
                        "a boolean",
                        other,
                    ));
                }
            }
        }
        Some(other) => return Err(ApiError::wrong_type("stream_options", "an object", other)),
    };
    let n = bounded_int(body, "n", 1, 128)?;
    Ok(Common {
        model,
        stream,
        include_usage,
        n,
    })
}

fn require_object(body: &Value) -> Result<(), ApiError> {
    if body.is_object() {
        Ok(())
    } else {
        Err(ApiError::invalid(
            format!(
                "Invalid type for request body: expected an object, but got {} instead.",
                type_name(body)
            ),
            None,
            Some("invalid_type"),
        ))
    }
}

/// A validated legacy completion request.
pub(crate) struct TextRequest<'a> {
    pub(crate) common: Common<'a>,
    /// One entry per prompt; each gets `n` choices.
    pub(crate) prompts: usize,
    pub(crate) prompt_tokens: u64,
}

pub(crate) fn parse_text(body: &Value) -> Result<TextRequest<'_>, ApiError> {
    require_object(body)?;
    let common = common(body)?;
    let invalid = || {
        ApiError::invalid(
            "Invalid prompt: expected a string, an array of strings, an array of tokens or an array of token arrays.",
            Some("prompt"),
            Some("invalid_type"),
        )
    };
    let (prompts, prompt_tokens) = match body.get("prompt") {
        None | Some(Value::Null) => return Err(ApiError::missing("prompt")),
        Some(Value::String(p)) => (1, count_words(p)),
        Some(Value::Array(items)) if items.is_empty() => return Err(invalid()),
        Some(Value::Array(items)) => {
            if items.iter().all(Value::is_string) {
                let words = items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(count_words)
                    .sum();
                (items.len(), words)
            } else if items.iter().all(Value::is_u64) {
                (1, items.len() as u64)
            } else if items
                .iter()
                .all(|i| i.as_array().is_some_and(|t| t.iter().all(Value::is_u64)))
            {
                let tokens = items
                    .iter()
                    .filter_map(Value::as_array)
                    .map(|t| t.len() as u64)
                    .sum();
                (items.len(), tokens)
            } else {
                return Err(invalid());
            }
        }
        Some(_) => return Err(invalid()),
    };
    Ok(TextRequest {
        common,
        prompts,
        prompt_tokens,
    })
}

/// A validated embeddings request.
pub(crate) struct EmbeddingRequest<'a> {
    pub(crate) model: &'a str,
    pub(crate) inputs: Vec<EmbeddingInput<'a>>,
    pub(crate) dimensions: usize,
    pub(crate) base64: bool,
}

/// One input to embed: text, or an already tokenized text.
pub(crate) enum EmbeddingInput<'a> {
    Text(&'a str),
    Tokens(&'a [Value]),
}

/// `POST /v1/responses/input_tokens`: a word count of every text the request carries
/// (`instructions`, `input` strings and text parts, tool definitions), as OpenAI's
/// `response.input_tokens` object.
pub(crate) fn input_tokens(body: &Value) -> Result<Bytes, ApiError> {
    let Value::Object(fields) = body else {
        return Err(unparsable_body());
    };
    if !fields.get("model").is_some_and(Value::is_string) {
        return Err(ApiError::missing("model"));
    }
    fn words(v: &Value) -> u64 {
        match v {
            Value::String(s) => count_words(s),
            Value::Array(items) => items.iter().map(words).sum(),
            Value::Object(map) => map
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "type" | "role" | "call_id" | "id"))
                .map(|(_, v)| words(v))
                .sum(),
            _ => 0,
        }
    }
    let total: u64 = ["instructions", "input", "tools"]
        .iter()
        .filter_map(|k| fields.get(*k))
        .map(words)
        .sum();
    Ok(json_bytes(&serde_json::json!({
        "object": "response.input_tokens",
        "input_tokens": total,
    })))
}

pub(crate) fn parse_embeddings(body: &Value) -> Result<EmbeddingRequest<'_>, ApiError> {
    require_object(body)?;
    let model = required_model(body)?;
    let invalid = || {
        ApiError::invalid(
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            Some("input"),
            None,
        )
    };
    let inputs = match body.get("input") {
        None | Some(Value::Null) => return Err(ApiError::missing("input")),
        Some(Value::String(s)) if s.is_empty() => return Err(invalid()),
        Some(Value::String(s)) => vec![EmbeddingInput::Text(s)],
        Some(Value::Array(items)) if items.is_empty() => return Err(invalid()),
        Some(Value::Array(items)) => {
            if items
                .iter()
                .all(|i| i.as_str().is_some_and(|s| !s.is_empty()))
            {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(EmbeddingInput::Text)
                    .collect()
            } else if items.iter().all(Value::is_u64) {
                vec![EmbeddingInput::Tokens(items)]
            } else if items.iter().all(|i| {
                i.as_array()
                    .is_some_and(|t| !t.is_empty() && t.iter().all(Value::is_u64))
            }) {
                items
                    .iter()
                    .filter_map(Value::as_array)
                    .map(|t| EmbeddingInput::Tokens(t))
                    .collect()
            } else {
                return Err(invalid());
            }
        }
        Some(_) => return Err(invalid()),
    };
    let dimensions = bounded_int(body, "dimensions", DEFAULT_DIMENSIONS, MAX_DIMENSIONS)?;
    let base64 = match body.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(Value::String(f)) => {
            return Err(ApiError::invalid(
                format!("Invalid value: '{f}'. Supported values are: 'float' and 'base64'."),
                Some("encoding_format"),
                Some("invalid_value"),
            ));
        }
        Some(other) => return Err(ApiError::wrong_type("encoding_format", "a string", other)),
    };
    Ok(EmbeddingRequest {
        model,
        inputs,
        dimensions,
        base64,
    })
}

#[derive(Serialize, Clone, Copy)]
struct PromptDetails {
    cached_tokens: u64,
    audio_tokens: u64,
}

#[derive(Serialize, Clone, Copy)]
struct CompletionDetails {
    reasoning_tokens: u64,
    audio_tokens: u64,
    accepted_prediction_tokens: u64,
    rejected_prediction_tokens: u64,
}

#[derive(Serialize, Clone, Copy)]
struct ChatUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    prompt_tokens_details: PromptDetails,
    completion_tokens_details: CompletionDetails,
}

impl ChatUsage {
    fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: PromptDetails {
                cached_tokens: 0,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }
}

#[derive(Serialize, Clone, Copy)]
struct TextUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

/// Identity of one response: its id, creation time and the model echoed back.
pub(crate) struct Meta<'a> {
    pub(crate) id: &'a str,
    pub(crate) created: u64,
    pub(crate) model: &'a str,
}

#[derive(Serialize)]
struct TextCompletion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: Vec<TextChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Option<TextUsage>>,
}

#[derive(Serialize)]
struct TextChoice<'a> {
    text: &'a str,
    index: usize,
    logprobs: Option<()>,
    finish_reason: Option<&'static str>,
}

fn text_usage(shared: &Shared, req: &TextRequest<'_>) -> TextUsage {
    let completion_tokens = shared.content_tokens * (req.prompts * req.common.n) as u64;
    TextUsage {
        prompt_tokens: req.prompt_tokens,
        completion_tokens,
        total_tokens: req.prompt_tokens + completion_tokens,
    }
}

pub(crate) fn text_completion(shared: &Shared, meta: &Meta<'_>, req: &TextRequest<'_>) -> Bytes {
    let choices = (0..req.prompts * req.common.n)
        .map(|index| TextChoice {
            text: &shared.opts.content,
            index,
            logprobs: None,
            finish_reason: Some("stop"),
        })
        .collect();
    json_bytes(&TextCompletion {
        id: meta.id,
        object: "text_completion",
        created: meta.created,
        model: meta.model,
        system_fingerprint: FINGERPRINT,
        choices,
        usage: Some(Some(text_usage(shared, req))),
    })
}

/// The data frames of a streamed text completion, `[DONE]` included: one chunk per content
/// piece and choice, a `finish_reason` chunk per choice, then the usage chunk if requested.
pub(crate) fn text_stream(shared: &Shared, meta: &Meta<'_>, req: &TextRequest<'_>) -> Vec<Bytes> {
    let choices = req.prompts * req.common.n;
    let include_usage = req.common.include_usage;
    let chunk = |index: usize, text: &str, finish_reason: Option<&'static str>| {
        sse_frame(&TextCompletion {
            id: meta.id,
            object: "text_completion",
            created: meta.created,
            model: meta.model,
            system_fingerprint: FINGERPRINT,
            choices: vec![TextChoice {
                text,
                index,
                logprobs: None,
                finish_reason,
            }],
            usage: include_usage.then_some(None),
        })
    };
    let mut frames = Vec::with_capacity((shared.pieces.len() + 1) * choices + 2);
    for piece in &shared.pieces {
        for index in 0..choices {
            frames.push(chunk(index, piece, None));
        }
    }
    for index in 0..choices {
        frames.push(chunk(index, "", Some("stop")));
    }
    if include_usage {
        frames.push(sse_frame(&TextCompletion {
            id: meta.id,
            object: "text_completion",
            created: meta.created,
            model: meta.model,
            system_fingerprint: FINGERPRINT,
            choices: Vec::new(),
            usage: Some(Some(text_usage(shared, req))),
        }));
    }
    frames.push(Bytes::from_static(SSE_DONE));
    frames
}

#[derive(Serialize)]
struct EmbeddingList<'a> {
    object: &'static str,
    data: Vec<EmbeddingItem>,
    model: &'a str,
    usage: EmbeddingUsage,
}

#[derive(Serialize)]
struct EmbeddingItem {
    object: &'static str,
    index: usize,
    embedding: EmbeddingValue,
}

#[derive(Serialize)]
#[serde(untagged)]
enum EmbeddingValue {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingUsage {
    prompt_tokens: u64,
    total_tokens: u64,
}

pub(crate) fn embeddings(req: &EmbeddingRequest<'_>) -> Bytes {
    let mut prompt_tokens = 0;
    let data = req
        .inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = match input {
                EmbeddingInput::Text(text) => {
                    prompt_tokens += count_words(text);
                    embed(text.as_bytes().iter().copied(), 0, req.dimensions)
                }
                EmbeddingInput::Tokens(tokens) => {
                    prompt_tokens += tokens.len() as u64;
                    let bytes = tokens
                        .iter()
                        .filter_map(Value::as_u64)
                        .flat_map(u64::to_le_bytes);
                    embed(bytes, 1, req.dimensions)
                }
            };
            let embedding = if req.base64 {
                EmbeddingValue::Base64(base64_f32(&vector))
            } else {
                EmbeddingValue::Float(vector)
            };
            EmbeddingItem {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    json_bytes(&EmbeddingList {
        object: "list",
        data,
        model: req.model,
        usage: EmbeddingUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
    })
}

/// A deterministic unit vector for the given input: FNV-1a of the bytes seeds a splitmix64
/// sequence. `domain` keeps text and token inputs with equal bytes apart.
pub(crate) fn embed(bytes: impl Iterator<Item = u8>, domain: u64, dimensions: usize) -> Vec<f32> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ domain;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut state = hash;
    let mut vector: Vec<f32> = (0..dimensions)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            // The top 24 bits map exactly onto an f32 in [-1, 1).
            ((z >> 40) as f32 / (1u32 << 23) as f32) - 1.0
        })
        .collect();
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut vector {
            *x /= norm;
        }
    }
    vector
}

/// Little-endian f32s, base64-encoded: OpenAI's `encoding_format: "base64"`.
fn base64_f32(vector: &[f32]) -> String {
    let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
    base64_encode(&bytes)
}

/// Standard base64 with padding (RFC 4648 §4).
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 0x3f) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if group.len() > 1 { sextet(6) } else { '=' });
        out.push(if group.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

#[derive(Serialize)]
struct Model<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    owned_by: &'static str,
}

#[derive(Serialize)]
struct ModelList<'a> {
    object: &'static str,
    data: Vec<Model<'a>>,
}

fn model(id: &str) -> Model<'_> {
    Model {
        id,
        object: "model",
        created: MODEL_CREATED,
        owned_by: "openai",
    }
}

pub(crate) fn model_list(models: &[String]) -> Bytes {
    json_bytes(&ModelList {
        object: "list",
        data: models.iter().map(|m| model(m)).collect(),
    })
}

pub(crate) fn model_object(id: &str) -> Bytes {
    json_bytes(&model(id))
}

/// The request's `model`, refused the way OpenAI refuses a missing or mistyped one.
fn required_model(body: &Value) -> Result<&str, ApiError> {
    match body.get("model") {
        Some(Value::String(m)) if !m.is_empty() => Ok(m.as_str()),
        None | Some(Value::Null) | Some(Value::String(_)) => Err(ApiError::invalid(
            "you must provide a model parameter",
            Some("model"),
            None,
        )),
        Some(other) => Err(ApiError::wrong_type("model", "a string", other)),
    }
}

/// An optional integer field between 1 and `max`, refused the way OpenAI refuses it.
fn bounded_int(body: &Value, field: &str, default: usize, max: u64) -> Result<usize, ApiError> {
    let Some(v) = body.get(field).filter(|v| !v.is_null()) else {
        return Ok(default);
    };
    match v.as_u64() {
        Some(0) => Err(ApiError::invalid(
            format!(
                "Invalid '{field}': integer below minimum value. Expected a value >= 1, but got 0 instead."
            ),
            Some(field),
            Some("integer_below_min_value"),
        )),
        Some(n) if n <= max => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        Some(n) => Err(ApiError::invalid(
            format!(
                "Invalid '{field}': integer above maximum value. Expected a value <= {max}, but got {n} instead."
            ),
            Some(field),
            Some("integer_above_max_value"),
        )),
        None => Err(ApiError::wrong_type(field, "an integer", v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_known_answers() {
        assert_eq!(base64_encode(b""), "");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_encode(b"foo"), "Zm9v");
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
    }

    #[test]
    fn embeddings_are_deterministic_unit_vectors() {
        let a = embed(b"hello".iter().copied(), 0, 16);
        let b = embed(b"hello".iter().copied(), 0, 16);
        let c = embed(b"hellp".iter().copied(), 0, 16);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}
