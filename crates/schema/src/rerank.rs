//! The rerank request and response of `POST /v1/rerank`, in Bifrost's shape
//! (`core/schemas/rerank.go` and the HTTP handler's flat request body).
//!
//! A request names `provider/model`, a `query` and the `documents` to order; a document is a
//! plain string or `{"text", "id", "meta"}`, as Bifrost, Cohere and vLLM all accept. The answer
//! lists the documents by index with their `relevance_score`, best first.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// `POST /v1/rerank`'s body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankRequest {
    pub model: String,
    pub query: String,
    pub documents: Vec<RerankDocument>,
    /// How many results to return (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Put each document back beside its score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    /// `fallbacks` and provider-specific parameters.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One document to rank. Deserializes from a bare string too.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RerankDocument {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
}

impl RerankDocument {
    /// A document with only text.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

impl<'de> Deserialize<'de> for RerankDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Object {
            text: String,
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            meta: Option<Map<String, Value>>,
        }
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self::text(text)),
            value @ Value::Object(_) => {
                let o: Object = serde_json::from_value(value).map_err(D::Error::custom)?;
                Ok(Self {
                    text: o.text,
                    id: o.id,
                    meta: o.meta,
                })
            }
            _ => Err(D::Error::custom(
                "a document must be a string or an object with `text`",
            )),
        }
    }
}

/// The answer of `POST /v1/rerank`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Best first.
    pub results: Vec<RerankResult>,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<RerankUsage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One ranked document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// The document's position in the request.
    pub index: u32,
    pub relevance_score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<RerankDocument>,
}

/// Bifrost's usage for rerank: token counts (zero when the provider gives none) and the search
/// units Cohere bills rerank in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerankUsage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_units: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_as_strings_or_objects() {
        let r: RerankRequest = serde_json::from_value(json!({
            "model": "cohere/rerank-v3.5",
            "query": "q",
            "documents": ["a", {"text": "b", "id": "d2", "meta": {"k": 1}}],
            "top_n": 1,
            "fallbacks": ["x/y"]
        }))
        .unwrap();
        assert_eq!(r.documents[0], RerankDocument::text("a"));
        assert_eq!(r.documents[1].id.as_deref(), Some("d2"));
        assert_eq!(r.top_n, Some(1));
        assert!(r.extra.contains_key("fallbacks"));
        let bad: Result<RerankRequest, _> =
            serde_json::from_value(json!({"model": "m", "query": "q", "documents": [1]}));
        assert!(bad.is_err());
    }
}
