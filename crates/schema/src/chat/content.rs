//! Message content: a string or an array of typed parts.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The `content` of a message: OpenAI accepts a plain string or an array of parts.
///
/// The two forms are kept apart (not normalised to parts) so a body re-serializes as it came, and
/// so a dialect that has a plain-string form (Anthropic does) can use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

impl Content {
    /// The text of the content: the string itself, or the text parts joined without separator
    /// (OpenAI treats consecutive text parts as one text). Non-text parts are skipped.
    pub fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text(t) => Some(t.text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The content as a list of parts (a string becomes one text part).
    pub fn to_parts(&self) -> Vec<ContentPart> {
        match self {
            Self::Text(s) => vec![ContentPart::text(s.clone())],
            Self::Parts(parts) => parts.clone(),
        }
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Self {
        Self::Text(s.to_owned())
    }
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        Self::Text(s)
    }
}

/// One part of an array `content`, selected by its `type`.
///
/// Part types asbru does not know (OpenAI adds new ones, providers have their own) are kept whole
/// in [`ContentPart::Other`] instead of failing the request, so they still reach a provider that
/// understands them.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentPart {
    /// `{"type": "text", "text": …}`
    Text(TextPart),
    /// `{"type": "image_url", "image_url": {"url", "detail"}}`; `url` is an http(s) URL or a
    /// `data:` URL carrying base64.
    ImageUrl(ImagePart),
    /// `{"type": "input_audio", "input_audio": {"data", "format"}}`
    InputAudio(InputAudioPart),
    /// `{"type": "file", "file": {"file_data" | "file_id", "filename"}}`
    File(FilePart),
    /// Any other part, exactly as it came (including its `type`).
    Other(Value),
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(TextPart {
            text: text.into(),
            extra: Map::new(),
        })
    }

    /// An image part with no `detail`.
    pub fn image_url(url: impl Into<String>) -> Self {
        Self::ImageUrl(ImagePart {
            image_url: ImageUrl {
                url: url.into(),
                detail: None,
                extra: Map::new(),
            },
            extra: Map::new(),
        })
    }
}

/// A text part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextPart {
    pub text: String,
    /// `cache_control` and the like.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An image part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePart {
    pub image_url: ImageUrl,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where an image is: `url` is an http(s) URL or `data:<media type>;base64,<data>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    /// `auto`, `low` or `high`: OpenAI's resolution hint; other providers ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ImageUrl {
    /// The media type and base64 payload when the URL is a base64 `data:` URL.
    pub fn as_base64_data(&self) -> Option<(&str, &str)> {
        parse_data_url(&self.url)
    }
}

/// Splits `data:<media type>;base64,<payload>` into media type and payload.
pub(crate) fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, payload) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, payload))
}

/// An audio input part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputAudioPart {
    pub input_audio: InputAudio,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Base64 audio and its format (`wav`, `mp3`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputAudio {
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A file part (PDFs and other documents).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilePart {
    pub file: FileRef,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A file given inline (`file_data`, a base64 `data:` URL) or by an uploaded file's id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl FileRef {
    /// The media type and base64 payload when `file_data` is a base64 `data:` URL.
    pub fn as_base64_data(&self) -> Option<(&str, &str)> {
        self.file_data.as_deref().and_then(parse_data_url)
    }
}

/// Serialization view with the `type` tag in front; borrowed so serializing copies nothing.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TaggedRef<'a> {
    Text(&'a TextPart),
    ImageUrl(&'a ImagePart),
    InputAudio(&'a InputAudioPart),
    File(&'a FilePart),
}

impl Serialize for ContentPart {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(p) => TaggedRef::Text(p).serialize(serializer),
            Self::ImageUrl(p) => TaggedRef::ImageUrl(p).serialize(serializer),
            Self::InputAudio(p) => TaggedRef::InputAudio(p).serialize(serializer),
            Self::File(p) => TaggedRef::File(p).serialize(serializer),
            Self::Other(v) => v.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        let known = matches!(kind, "text" | "image_url" | "input_audio" | "file");
        if !known {
            return Ok(Self::Other(value));
        }
        let Value::Object(mut map) = value else {
            return Err(D::Error::custom("content part must be an object"));
        };
        let kind = match map.remove("type") {
            Some(Value::String(s)) => s,
            _ => return Err(D::Error::custom("content part has no type")),
        };
        let rest = Value::Object(map);
        let part = match kind.as_str() {
            "text" => serde_json::from_value(rest).map(Self::Text),
            "image_url" => serde_json::from_value(rest).map(Self::ImageUrl),
            "input_audio" => serde_json::from_value(rest).map(Self::InputAudio),
            _ => serde_json::from_value(rest).map(Self::File),
        };
        part.map_err(|e| D::Error::custom(format_args!("invalid `{kind}` content part: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_round_trip_and_unknown_parts_survive() {
        let input = json!([
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}},
            {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}}
        ]);
        let c: Content = serde_json::from_value(input.clone()).unwrap();
        let Content::Parts(parts) = &c else {
            panic!("expected parts")
        };
        assert!(matches!(parts[0], ContentPart::Text(_)));
        assert!(matches!(parts[3], ContentPart::File(_)));
        assert!(matches!(parts[4], ContentPart::Other(_)));
        assert_eq!(serde_json::to_value(&c).unwrap(), input);
    }

    #[test]
    fn malformed_known_part_is_an_error() {
        let r: Result<Content, _> = serde_json::from_value(json!([{"type": "text"}]));
        assert!(r.is_err());
    }

    #[test]
    fn data_urls_split() {
        assert_eq!(
            parse_data_url("data:image/png;base64,iVBOR"),
            Some(("image/png", "iVBOR"))
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
        assert_eq!(parse_data_url("data:text/plain,hello"), None);
    }

    #[test]
    fn text_joins_text_parts() {
        let c: Content = serde_json::from_value(json!([
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": {"url": "u"}},
            {"type": "text", "text": "b"}
        ]))
        .unwrap();
        assert_eq!(c.text(), "ab");
    }
}
