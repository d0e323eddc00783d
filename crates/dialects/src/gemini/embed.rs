//! Embeddings: OpenAI's `/v1/embeddings` to Gemini's `embedContent` / `batchEmbedContents`
//! and back.
//!
//! Gemini embeds one `content` per `embedContent` call, and a list through
//! `batchEmbedContents`, whose entries each name the model. The provider direction always uses
//! the batch form (one code path, one round trip for any number of inputs); the client direction
//! reads both. OpenAI's `dimensions` is Gemini's `outputDimensionality`; Gemini's `taskType` and
//! `title` travel in the unified request's `extra` as `task_type` and `title`. Gemini reports no
//! token usage for embeddings, so `usage` stays absent.

use super::error::ConvertError;
use super::types::{
    BatchEmbedContentsRequest, BatchEmbedContentsResponse, Content, ContentEmbedding,
    EmbedContentRequest, EmbedContentResponse, Part,
};
use asbru_schema::openai::{Embedding, EmbeddingRequest, EmbeddingResponse};
use serde_json::{Map, Value};

/// `models/{model}`, the form Gemini wants inside request bodies.
pub fn model_path(model: &str) -> String {
    if model.starts_with("models/") {
        model.to_owned()
    } else {
        format!("models/{model}")
    }
}

/// The model id without the `models/` prefix.
pub fn model_id(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

/// A unified embeddings request as a `batchEmbedContents` body: one entry per input string.
/// Token-id inputs (arrays of integers) have no Gemini form and are refused.
pub fn to_gemini_batch(req: &EmbeddingRequest) -> Result<BatchEmbedContentsRequest, ConvertError> {
    let inputs: Vec<&str> = match &req.input {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| ConvertError::Unsupported("token-id embedding input".to_owned()))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ConvertError::Unsupported(
                "embedding input that is not text".to_owned(),
            ));
        }
    };
    let model = model_path(&req.model);
    let dimensions = req
        .extra
        .get("dimensions")
        .and_then(Value::as_u64)
        .and_then(|d| u32::try_from(d).ok());
    let text = |key: &str| {
        req.extra
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let requests = inputs
        .into_iter()
        .map(|input| EmbedContentRequest {
            model: Some(model.clone()),
            content: Content {
                role: None,
                parts: vec![Part::text(input)],
                extra: Map::new(),
            },
            task_type: text("task_type"),
            title: text("title"),
            output_dimensionality: dimensions,
            extra: Map::new(),
        })
        .collect();
    Ok(BatchEmbedContentsRequest {
        requests,
        extra: Map::new(),
    })
}

fn embedding(index: usize, values: &[f64]) -> Embedding {
    let mut extra = Map::new();
    extra.insert("object".to_owned(), Value::String("embedding".to_owned()));
    Embedding {
        index: u32::try_from(index).unwrap_or(u32::MAX),
        embedding: values.to_vec(),
        extra,
    }
}

fn list(model: &str, data: Vec<Embedding>) -> EmbeddingResponse {
    let mut extra = Map::new();
    extra.insert("object".to_owned(), Value::String("list".to_owned()));
    EmbeddingResponse {
        data,
        model: model_id(model).to_owned(),
        usage: None,
        extra_fields: None,
        extra,
    }
}

/// A `batchEmbedContents` answer as an OpenAI embedding list, in input order.
pub fn from_gemini_batch(resp: &BatchEmbedContentsResponse, model: &str) -> EmbeddingResponse {
    let data = resp
        .embeddings
        .iter()
        .enumerate()
        .map(|(i, e)| embedding(i, &e.values))
        .collect();
    list(model, data)
}

/// An `embedContent` answer as an OpenAI embedding list of one.
pub fn from_gemini_single(resp: &EmbedContentResponse, model: &str) -> EmbeddingResponse {
    list(model, vec![embedding(0, &resp.embedding.values)])
}

/// The text of a Gemini content to embed (its text parts joined).
fn content_text(content: &Content) -> String {
    content
        .parts
        .iter()
        .filter_map(|p| p.text.as_deref())
        .collect::<Vec<_>>()
        .join("")
}

fn unified(model: &str, input: Value, first: Option<&EmbedContentRequest>) -> EmbeddingRequest {
    let mut extra = Map::new();
    if let Some(first) = first {
        if let Some(d) = first.output_dimensionality {
            extra.insert("dimensions".to_owned(), Value::from(d));
        }
        if let Some(t) = &first.task_type {
            extra.insert("task_type".to_owned(), Value::String(t.clone()));
        }
        if let Some(t) = &first.title {
            extra.insert("title".to_owned(), Value::String(t.clone()));
        }
    }
    EmbeddingRequest {
        model: model_id(model).to_owned(),
        input,
        extra,
    }
}

/// An `embedContent` body (model from the URL) as a unified request with one input.
pub fn from_gemini_single_request(req: &EmbedContentRequest, model: &str) -> EmbeddingRequest {
    unified(model, Value::String(content_text(&req.content)), Some(req))
}

/// A `batchEmbedContents` body as a unified request with one input per entry; the first
/// entry's options stand for all (OpenAI has one set per request).
pub fn from_gemini_batch_request(req: &BatchEmbedContentsRequest, model: &str) -> EmbeddingRequest {
    let inputs = req
        .requests
        .iter()
        .map(|r| Value::String(content_text(&r.content)))
        .collect();
    unified(model, Value::Array(inputs), req.requests.first())
}

fn vector(e: &Embedding) -> ContentEmbedding {
    ContentEmbedding {
        values: e.embedding.clone(),
        extra: Map::new(),
    }
}

/// A unified embedding list as a `batchEmbedContents` answer, ordered by `index`.
pub fn to_gemini_batch_response(resp: &EmbeddingResponse) -> BatchEmbedContentsResponse {
    let mut data: Vec<&Embedding> = resp.data.iter().collect();
    data.sort_by_key(|e| e.index);
    BatchEmbedContentsResponse {
        embeddings: data.into_iter().map(vector).collect(),
        extra: Map::new(),
    }
}

/// A unified embedding list of one as an `embedContent` answer.
pub fn to_gemini_single_response(
    resp: &EmbeddingResponse,
) -> Result<EmbedContentResponse, ConvertError> {
    let first = resp.data.first().ok_or(ConvertError::NoChoices)?;
    Ok(EmbedContentResponse {
        embedding: vector(first),
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batch_both_ways() {
        let mut req = EmbeddingRequest::new("text-embedding-004", json!(["a b", "c"]));
        req.extra.insert("dimensions".into(), json!(256));
        let batch = to_gemini_batch(&req).unwrap();
        assert_eq!(batch.requests.len(), 2);
        assert_eq!(
            batch.requests[0].model.as_deref(),
            Some("models/text-embedding-004")
        );
        assert_eq!(batch.requests[1].output_dimensionality, Some(256));
        let back = from_gemini_batch_request(&batch, "models/text-embedding-004");
        assert_eq!(back, req);
        assert!(to_gemini_batch(&EmbeddingRequest::new("m", json!([[1, 2]]))).is_err());
    }
}
