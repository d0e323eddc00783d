//! Parts: a `model` turn to a unified assistant message and back (text, thought summaries,
//! function calls, thought signatures), user content parts both ways, and the ids asbru makes
//! for function calls Google sent without one.
//!
//! ## Thought signatures in `reasoning_details`
//!
//! Gemini returns an opaque `thoughtSignature` on parts of a `model` turn: on the first
//! `functionCall` of each step, on thought summaries, and on a (possibly empty) text part. The
//! docs require sending every signature back on the same part in later turns (Gemini 3 refuses a
//! function-call turn without it). Unified messages have no parts, so each signature travels in
//! a `reasoning_details` entry tagged `format: "google-gemini-v1"` (the value OpenRouter uses
//! for the same purpose, so clients that already keep those entries replay them unchanged):
//!
//! | Gemini part | `reasoning_details` entry |
//! |---|---|
//! | `{"text", "thought": true, "thoughtSignature"?}` | `reasoning.text` with `text` and `signature` |
//! | `{"functionCall", "thoughtSignature"}` | `reasoning.encrypted` with `data` = signature, `id` = the tool call's id |
//! | any other part with `thoughtSignature` | `reasoning.encrypted` with `data` = signature, no `id` |
//!
//! On the way back, entries with `id` go onto the `functionCall` of that tool call, entries
//! without onto the turn's last text part (an empty text part when there is none, as Google
//! itself sends), and `reasoning.text` entries become thought parts again. Entries of another
//! format (Anthropic's signatures) are dropped: Gemini cannot verify them. The signature Google's
//! own OpenAI-compatible endpoint puts on tool calls (`extra_content.google.thought_signature`)
//! is read as well.

use super::error::ConvertError;
use super::types::{Blob, FileData, FunctionCall, Part};
use asbru_schema::chat::{
    AssistantMessage, Content, ContentPart, FilePart, FileRef, ImagePart, ImageUrl, InputAudio,
    InputAudioPart, Nullable, ReasoningDetail, TextPart, ToolCall, reasoning_detail_type,
};
use serde_json::{Map, Value};

/// The `format` of `reasoning_details` entries that carry Gemini signatures.
pub const SIGNATURE_FORMAT: &str = "google-gemini-v1";

/// The placeholder signature Google documents for function calls whose real signature is lost
/// (a history that came from another model): it tells Gemini 3 to skip validation.
pub const SKIP_SIGNATURE_VALIDATOR: &str = "skip_thought_signature_validator";

/// Prefix of the tool-call ids asbru makes for function calls Google sent without `id`. Ids with
/// this prefix are not sent back as `functionCall.id` (Google never issued them).
pub const GENERATED_ID_PREFIX: &str = "call_gm";

/// A stable id for the `n`th function call of a turn that Google sent without one: derived from
/// `seed` (the response id, or the turn's position in a request), so the same answer, streamed
/// or not, converted twice, gets the same ids.
pub fn generated_call_id(seed: &str, n: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{GENERATED_ID_PREFIX}{hash:016x}_{n}")
}

/// Whether a tool-call id is one asbru made (see [`GENERATED_ID_PREFIX`]).
pub fn is_generated_id(id: &str) -> bool {
    id.starts_with(GENERATED_ID_PREFIX)
}

fn format_extra() -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert(
        "format".to_owned(),
        Value::String(SIGNATURE_FORMAT.to_owned()),
    );
    extra
}

/// Whether a reasoning entry carries a Gemini signature (tagged with [`SIGNATURE_FORMAT`]);
/// others (Anthropic's, untagged) are not replayed to Gemini.
fn is_gemini_detail(d: &ReasoningDetail) -> bool {
    d.extra.get("format").and_then(Value::as_str) == Some(SIGNATURE_FORMAT)
}

/// A thought-summary entry.
pub(crate) fn thought_detail(
    index: u32,
    text: String,
    signature: Option<String>,
) -> ReasoningDetail {
    ReasoningDetail {
        kind: reasoning_detail_type::TEXT.to_owned(),
        index: Some(index),
        text: Some(text),
        signature,
        extra: format_extra(),
        ..ReasoningDetail::default()
    }
}

/// A signature entry; `id` names the tool call whose `functionCall` part carried it.
pub(crate) fn signature_detail(
    index: u32,
    signature: String,
    id: Option<String>,
) -> ReasoningDetail {
    ReasoningDetail {
        kind: reasoning_detail_type::ENCRYPTED.to_owned(),
        index: Some(index),
        id,
        data: Some(signature),
        extra: format_extra(),
        ..ReasoningDetail::default()
    }
}

/// A function call's `args` as OpenAI's arguments text (`{}` when absent).
pub(crate) fn arguments_text(args: Option<&Value>) -> String {
    match args {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(v) => serde_json::to_string(v).unwrap_or_else(|_| "{}".to_owned()),
    }
}

/// A tool call's arguments text as the JSON object `args` must be (`""` is `{}`).
pub(crate) fn parse_arguments(call: &ToolCall) -> Result<Value, ConvertError> {
    let text = call.function.arguments.trim();
    if text.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(ConvertError::InvalidToolArguments {
            id: call.id.clone(),
            reason: format!("got {other}"),
        }),
        Err(e) => Err(ConvertError::InvalidToolArguments {
            id: call.id.clone(),
            reason: e.to_string(),
        }),
    }
}

/// A `model` turn's parts as a unified assistant message.
///
/// Text parts are joined into `content`; thought parts become `reasoning` (joined) and
/// `reasoning.text` entries; `functionCall` parts become `tool_calls` (Google's `id` when given,
/// else [`generated_call_id`] from `seed`); signatures become entries as the module doc says.
/// Parts with no unified form (`executableCode`, inline images a model generated) are left out.
pub(crate) fn assistant_from_parts(parts: &[Part], seed: &str) -> AssistantMessage {
    let mut text = String::new();
    let mut has_text = false;
    let mut reasoning = String::new();
    let mut details: Vec<ReasoningDetail> = Vec::new();
    let mut tool_calls = Vec::new();
    let next = |details: &Vec<ReasoningDetail>| u32::try_from(details.len()).unwrap_or(u32::MAX);
    for part in parts {
        if part.is_thought() {
            let t = part.text.clone().unwrap_or_default();
            reasoning.push_str(&t);
            details.push(thought_detail(
                next(&details),
                t,
                part.thought_signature.clone(),
            ));
            continue;
        }
        if let Some(call) = &part.function_call {
            let id = call
                .id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| generated_call_id(seed, tool_calls.len()));
            if let Some(sig) = &part.thought_signature {
                details.push(signature_detail(
                    next(&details),
                    sig.clone(),
                    Some(id.clone()),
                ));
            }
            tool_calls.push(ToolCall::function(
                id,
                call.name.clone(),
                arguments_text(call.args.as_ref()),
            ));
            continue;
        }
        if let Some(t) = &part.text {
            has_text = true;
            text.push_str(t);
        }
        if let Some(sig) = &part.thought_signature {
            details.push(signature_detail(next(&details), sig.clone(), None));
        }
    }
    let has_reasoning = !reasoning.is_empty() || details.iter().any(|d| d.text.is_some());
    AssistantMessage {
        content: if has_text || tool_calls.is_empty() {
            Nullable::Value(Content::Text(text))
        } else {
            Nullable::Null
        },
        name: None,
        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
        reasoning: has_reasoning.then_some(reasoning),
        reasoning_details: (!details.is_empty()).then_some(details),
        extra: Map::new(),
    }
}

/// A unified assistant message as the parts of a `model` turn: signed thought summaries first,
/// then text, then one `functionCall` per tool call, with every Gemini signature put back on its
/// part (see the module doc). Tool-call ids go out as `functionCall.id`, except the ones asbru
/// generated (Google never issued them). With `fill_missing`, a turn whose function
/// calls carry no signature gets [`SKIP_SIGNATURE_VALIDATOR`] on the first one.
pub(crate) fn assistant_to_parts(
    m: &AssistantMessage,
    fill_missing: bool,
) -> Result<Vec<Part>, ConvertError> {
    let mut parts = Vec::new();
    let mut loose_signatures: Vec<&str> = Vec::new();
    let details: Vec<&ReasoningDetail> = m
        .reasoning_details
        .iter()
        .flatten()
        .filter(|d| is_gemini_detail(d))
        .collect();
    for d in &details {
        if d.kind == reasoning_detail_type::TEXT {
            parts.push(Part {
                text: Some(d.text.clone().unwrap_or_default()),
                thought: Some(true),
                thought_signature: d.signature.clone(),
                ..Part::default()
            });
        } else if d.kind == reasoning_detail_type::ENCRYPTED
            && d.id.is_none()
            && let Some(data) = &d.data
        {
            loose_signatures.push(data);
        }
    }
    match m.content.value() {
        Some(Content::Text(t)) if !t.is_empty() => parts.push(Part::text(t.clone())),
        Some(Content::Parts(content)) => {
            for part in content {
                match part {
                    ContentPart::Text(t) if t.text.is_empty() => {}
                    ContentPart::Text(t) => parts.push(Part::text(t.text.clone())),
                    _ => {
                        return Err(ConvertError::Unsupported(
                            "media in an assistant message".to_owned(),
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    if !loose_signatures.is_empty() {
        let at = parts
            .iter()
            .rposition(|p| p.text.is_some() && !p.is_thought());
        let sig = loose_signatures.concat();
        match at {
            Some(i) => parts[i].thought_signature = Some(sig),
            None => parts.push(Part {
                text: Some(String::new()),
                thought_signature: Some(sig),
                ..Part::default()
            }),
        }
    }
    let first_call = parts.len();
    for call in m.tool_calls.iter().flatten() {
        let signature = details
            .iter()
            .find(|d| {
                d.kind == reasoning_detail_type::ENCRYPTED && d.id.as_deref() == Some(&call.id)
            })
            .and_then(|d| d.data.clone())
            .or_else(|| {
                call.extra
                    .get("extra_content")
                    .and_then(|e| e.pointer("/google/thought_signature"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        parts.push(Part {
            thought_signature: signature,
            function_call: Some(FunctionCall {
                id: (!is_generated_id(&call.id) && !call.id.is_empty()).then(|| call.id.clone()),
                name: call.function.name.clone(),
                args: Some(parse_arguments(call)?),
                extra: Map::new(),
            }),
            ..Part::default()
        });
    }
    if fill_missing
        && parts.len() > first_call
        && parts[first_call..]
            .iter()
            .all(|p| p.thought_signature.is_none())
    {
        parts[first_call].thought_signature = Some(SKIP_SIGNATURE_VALIDATOR.to_owned());
    }
    Ok(parts)
}

/// The media type a URL's file extension suggests, for `fileData.mimeType` (which Gemini
/// requires and OpenAI image parts do not carry); `fallback` when the extension says nothing.
pub fn mime_for_url<'a>(url: &str, fallback: &'a str) -> &'a str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => fallback,
    }
}

/// A user content part as a Gemini part.
///
/// Base64 `data:` URLs (images, files) become `inlineData`; http(s) image URLs become `fileData`
/// with the media type guessed from the extension (`image/jpeg` when there is none); files by
/// URL (`file.file_url`, Bifrost's field) become `fileData`; audio becomes `inlineData` of
/// `audio/<format>`. An uploaded file's `file_id` is an OpenAI id Gemini cannot resolve, unless
/// it is a Gemini Files API URI, which is sent as `fileData`.
pub(crate) fn user_part(part: &ContentPart) -> Result<Part, ConvertError> {
    Ok(match part {
        ContentPart::Text(t) => Part::text(t.text.clone()),
        ContentPart::ImageUrl(img) => match img.image_url.as_base64_data() {
            Some((mime, data)) => inline(mime, data),
            None => file(
                &img.image_url.url,
                mime_for_url(&img.image_url.url, "image/jpeg"),
            ),
        },
        ContentPart::InputAudio(a) => {
            let format = a.input_audio.format.as_deref().unwrap_or("wav");
            inline(&format!("audio/{format}"), &a.input_audio.data)
        }
        ContentPart::File(f) => {
            if let Some((mime, data)) = f.file.as_base64_data() {
                inline(mime, data)
            } else if let Some(url) = f.file.extra.get("file_url").and_then(Value::as_str) {
                let mime = f
                    .file
                    .extra
                    .get("mime_type")
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| mime_for_url(url, "application/pdf"));
                file(url, mime)
            } else if let Some(id) = f
                .file
                .file_id
                .as_deref()
                .filter(|id| id.contains("/files/"))
            {
                file(id, mime_for_url(id, "application/pdf"))
            } else {
                return Err(ConvertError::Unsupported(
                    "a file part without base64 data or a URL".to_owned(),
                ));
            }
        }
        // Not an OpenAI part asbru knows: perhaps a Gemini part a client sent on purpose.
        ContentPart::Other(v) => match serde_json::from_value::<Part>(v.clone()) {
            Ok(p) if p.extra.get("type").is_none() => p,
            _ => {
                return Err(ConvertError::Unsupported(format!(
                    "a `{}` content part",
                    v.get("type").and_then(Value::as_str).unwrap_or("unknown")
                )));
            }
        },
    })
}

fn inline(mime: &str, data: &str) -> Part {
    Part {
        inline_data: Some(Blob {
            mime_type: mime.to_owned(),
            data: data.to_owned(),
            extra: Map::new(),
        }),
        ..Part::default()
    }
}

fn file(uri: &str, mime: &str) -> Part {
    Part {
        file_data: Some(FileData {
            mime_type: Some(mime.to_owned()),
            file_uri: uri.to_owned(),
            extra: Map::new(),
        }),
        ..Part::default()
    }
}

/// A Gemini user part as a unified content part (`None` for function responses, which become
/// tool messages, and thought parts).
///
/// `inlineData` of an image becomes an `image_url` with a `data:` URL, of audio an `input_audio`,
/// of anything else a `file` with `file_data`; `fileData` of an image becomes an `image_url`
/// with the URI, of anything else a `file` with Bifrost's `file_url` (and the media type in
/// `mime_type`, so the way back keeps it). Other parts are kept whole in `Other`.
pub(crate) fn user_part_from_gemini(part: &Part) -> Option<ContentPart> {
    if part.function_response.is_some() || part.is_thought() {
        return None;
    }
    if let Some(t) = &part.text {
        return Some(ContentPart::text(t.clone()));
    }
    if let Some(blob) = &part.inline_data {
        let mime = blob.mime_type.as_str();
        if mime.starts_with("image/") {
            return Some(ContentPart::image_url(format!(
                "data:{mime};base64,{}",
                blob.data
            )));
        }
        if let Some(format) = mime.strip_prefix("audio/") {
            return Some(ContentPart::InputAudio(InputAudioPart {
                input_audio: InputAudio {
                    data: blob.data.clone(),
                    format: Some(format.to_owned()),
                    extra: Map::new(),
                },
                extra: Map::new(),
            }));
        }
        return Some(ContentPart::File(FilePart {
            file: FileRef {
                file_data: Some(format!("data:{mime};base64,{}", blob.data)),
                file_id: None,
                filename: None,
                extra: Map::new(),
            },
            extra: Map::new(),
        }));
    }
    if let Some(f) = &part.file_data {
        let mime = f.mime_type.as_deref().unwrap_or("");
        if mime.starts_with("image/") {
            return Some(ContentPart::ImageUrl(ImagePart {
                image_url: ImageUrl {
                    url: f.file_uri.clone(),
                    detail: None,
                    extra: Map::new(),
                },
                extra: Map::new(),
            }));
        }
        let mut extra = Map::new();
        extra.insert("file_url".to_owned(), Value::String(f.file_uri.clone()));
        if !mime.is_empty() {
            extra.insert("mime_type".to_owned(), Value::String(mime.to_owned()));
        }
        return Some(ContentPart::File(FilePart {
            file: FileRef {
                file_data: None,
                file_id: None,
                filename: None,
                extra,
            },
            extra: Map::new(),
        }));
    }
    Some(ContentPart::Other(
        serde_json::to_value(part).unwrap_or(Value::Null),
    ))
}

/// Plain text of unified content, for tool results and system instructions.
pub(crate) fn text_part(text: &str) -> ContentPart {
    ContentPart::Text(TextPart {
        text: text.to_owned(),
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_stable_and_recognisable() {
        let a = generated_call_id("resp-1", 0);
        assert_eq!(a, generated_call_id("resp-1", 0));
        assert_ne!(a, generated_call_id("resp-1", 1));
        assert_ne!(a, generated_call_id("resp-2", 0));
        assert!(is_generated_id(&a));
        assert!(!is_generated_id("call_abc"));
    }

    #[test]
    fn signatures_go_back_where_they_came_from() {
        let parts: Vec<Part> = serde_json::from_value(json!([
            {"text": "planning", "thought": true, "thoughtSignature": "t1"},
            {"text": "Checking."},
            {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "s1"},
            {"functionCall": {"name": "b", "args": {}}},
            {"text": "", "thoughtSignature": "s2"}
        ]))
        .unwrap();
        let m = assistant_from_parts(&parts, "r");
        assert_eq!(m.reasoning.as_deref(), Some("planning"));
        assert_eq!(m.text().as_deref(), Some("Checking."));
        let details = m.reasoning_details.as_ref().unwrap();
        assert_eq!(details.len(), 3);
        let back = assistant_to_parts(&m, false).unwrap();
        let back = serde_json::to_value(&back).unwrap();
        assert_eq!(
            back,
            json!([
                {"text": "planning", "thought": true, "thoughtSignature": "t1"},
                {"text": "Checking.", "thoughtSignature": "s2"},
                {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "s1"},
                {"functionCall": {"name": "b", "args": {}}}
            ])
        );
    }

    #[test]
    fn missing_signatures_can_be_filled() {
        let m = AssistantMessage {
            tool_calls: Some(vec![
                ToolCall::function("call_1", "a", "{}"),
                ToolCall::function("call_2", "b", "{}"),
            ]),
            ..AssistantMessage::default()
        };
        let parts = assistant_to_parts(&m, true).unwrap();
        assert_eq!(
            parts[0].thought_signature.as_deref(),
            Some(SKIP_SIGNATURE_VALIDATOR)
        );
        assert_eq!(parts[1].thought_signature, None);
        assert_eq!(
            parts[0].function_call.as_ref().unwrap().id.as_deref(),
            Some("call_1")
        );
        assert!(
            assistant_to_parts(&m, false).unwrap()[0]
                .thought_signature
                .is_none()
        );
    }

    #[test]
    fn mime_guesses() {
        assert_eq!(
            mime_for_url("https://x/a.PNG?x=1", "image/jpeg"),
            "image/png"
        );
        assert_eq!(
            mime_for_url("https://x/files/abc", "image/jpeg"),
            "image/jpeg"
        );
    }
}
