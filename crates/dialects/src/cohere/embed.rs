//! Embeddings: OpenAI's `/v1/embeddings` to Cohere's `POST /v2/embed` and back.
//!
//! Inputs are `texts`; `input_type` is required by Cohere's v3+ models and is taken from the
//! request's `input_type` (a Cohere parameter passed through) or defaults to
//! `search_document`, as Bifrost does; `embedding_types` is `["float"]`, the only type OpenAI's
//! shape can carry; `dimensions` is `output_dimension`. `usage.prompt_tokens` is
//! `meta.billed_units.input_tokens`.

use super::error::ConvertError;
use super::types::{EmbedRequest, EmbedResponse, Meta, Units};
use asbru_schema::Usage;
use asbru_schema::openai::{Embedding, EmbeddingRequest, EmbeddingResponse};
use serde_json::{Map, Value, json};

/// The `input_type` when the request names none.
pub const DEFAULT_INPUT_TYPE: &str = "search_document";

/// The Cohere embed request for a unified one. Token-id inputs have no Cohere form.
pub fn to_cohere_embed(req: &EmbeddingRequest) -> Result<EmbedRequest, ConvertError> {
    let texts: Vec<String> = match &req.input {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ConvertError::Unsupported("token-id embedding input".to_owned()))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(ConvertError::Unsupported(
                "embedding input that is not text".to_owned(),
            ));
        }
    };
    let mut extra = Map::new();
    for key in ["truncate", "max_tokens"] {
        if let Some(v) = req.extra.get(key) {
            extra.insert(key.to_owned(), v.clone());
        }
    }
    Ok(EmbedRequest {
        model: req.model.clone(),
        texts: Some(texts),
        input_type: req
            .extra
            .get("input_type")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_INPUT_TYPE)
            .to_owned(),
        embedding_types: Some(vec!["float".to_owned()]),
        output_dimension: req
            .extra
            .get("dimensions")
            .and_then(Value::as_u64)
            .and_then(|d| u32::try_from(d).ok()),
        extra,
    })
}

/// The unified embeddings answer for Cohere's: one entry per `embeddings.float` vector.
pub fn from_cohere_embed(
    resp: &EmbedResponse,
    model: &str,
) -> Result<EmbeddingResponse, ConvertError> {
    let vectors = resp
        .embeddings
        .get("float")
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::Unsupported("an embed answer without `float`".to_owned()))?;
    let data = vectors
        .iter()
        .zip(0u32..)
        .map(|(v, index)| Embedding {
            index,
            embedding: v
                .as_array()
                .map(|xs| xs.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
            extra: Map::from_iter([("object".to_owned(), json!("embedding"))]),
        })
        .collect();
    let billed = resp.meta.as_ref().and_then(|m| m.billed_units.as_ref());
    let prompt = billed.and_then(|b| b.input_tokens).unwrap_or(0);
    Ok(EmbeddingResponse {
        data,
        model: model.to_owned(),
        usage: Some(Usage {
            prompt_tokens: prompt,
            completion_tokens: 0,
            total_tokens: prompt,
            ..Usage::default()
        }),
        extra_fields: None,
        extra: Map::from_iter([("object".to_owned(), json!("list"))]),
    })
}

/// The unified embeddings request for a Cohere one (the `/cohere/v2/embed` drop-in route):
/// `texts` as `input`, `input_type` kept, `output_dimension` as `dimensions`.
pub fn from_cohere_embed_request(req: &EmbedRequest) -> EmbeddingRequest {
    let mut out = EmbeddingRequest::new(
        req.model.clone(),
        Value::from(req.texts.clone().unwrap_or_default()),
    );
    out.extra.insert(
        "input_type".to_owned(),
        Value::String(req.input_type.clone()),
    );
    if let Some(d) = req.output_dimension {
        out.extra.insert("dimensions".to_owned(), Value::from(d));
    }
    out.extra.insert(
        "encoding_format".to_owned(),
        Value::String("float".to_owned()),
    );
    out
}

/// Cohere's embed answer for a unified one.
pub fn to_cohere_embed_response(resp: &EmbeddingResponse, id: &str) -> EmbedResponse {
    let vectors: Vec<Value> = resp
        .data
        .iter()
        .map(|e| Value::from(e.embedding.clone()))
        .collect();
    EmbedResponse {
        id: id.to_owned(),
        embeddings: Map::from_iter([("float".to_owned(), Value::Array(vectors))]),
        texts: None,
        meta: resp.usage.map(|u| Meta {
            billed_units: Some(Units {
                input_tokens: Some(u.prompt_tokens),
                ..Units::default()
            }),
            ..Meta::default()
        }),
        extra: Map::from_iter([("response_type".to_owned(), json!("embeddings_by_type"))]),
    }
}
