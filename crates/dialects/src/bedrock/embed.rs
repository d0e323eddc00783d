//! Embeddings on Bedrock: OpenAI's `/v1/embeddings` to `InvokeModel` bodies of the two embedding
//! families Bedrock serves (Amazon Titan Text Embeddings, Cohere Embed) and back.
//!
//! Converse has no embeddings, so embeddings go through `POST /model/{modelId}/invoke`, whose body
//! is the model family's own format:
//! * **Titan** (`amazon.titan-embed-text-v1`, `amazon.titan-embed-g1-text-02`,
//!   `amazon.titan-embed-text-v2:0`) embeds one `inputText` per call and reports
//!   `inputTextTokenCount`; only v2 takes `dimensions` (256, 512 or 1024) and `normalize`. An
//!   OpenAI request with several inputs becomes one call per input.
//! * **Cohere Embed** (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`,
//!   `cohere.embed-v4:0`) embeds up to [`COHERE_MAX_TEXTS`] `texts` per call and requires an
//!   `input_type`; the token count comes back in the `X-Amzn-Bedrock-Input-Token-Count` header,
//!   not the body. Longer lists become several calls.
//!
//! OpenAI has no `input_type`; it is read from the request's `input_type` field when a client
//! sends one (Cohere's SDK vocabulary) and defaults to `search_document`, as Bifrost's does.
//! `dimensions` becomes Cohere v4's `output_dimension`.

use super::error::ConvertError;
use asbru_schema::Usage;
use asbru_schema::openai::{Embedding, EmbeddingRequest, EmbeddingResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Texts Cohere Embed on Bedrock takes per call (documented maximum).
pub const COHERE_MAX_TEXTS: usize = 96;

/// The header Bedrock reports an `InvokeModel` call's input tokens in.
pub const INPUT_TOKENS_HEADER: &str = "x-amzn-bedrock-input-token-count";

/// The `input_type` sent to Cohere when the client named none.
pub const DEFAULT_COHERE_INPUT_TYPE: &str = "search_document";

/// The embedding model families Bedrock serves through `InvokeModel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFamily {
    /// Titan Text Embeddings G1 (`amazon.titan-embed-text-v1`, `amazon.titan-embed-g1-text-02`):
    /// `inputText` only.
    TitanV1,
    /// Titan Text Embeddings V2: `inputText`, `dimensions`, `normalize`, `embeddingTypes`.
    TitanV2,
    /// Cohere Embed v3 and v4.
    Cohere,
}

impl EmbedFamily {
    /// The family of a Bedrock model id, inference-profile id (`us.cohere.embed-v4:0`) or ARN
    /// (`arn:aws:bedrock:…:foundation-model/amazon.titan-embed-text-v2:0`); `None` for models
    /// that are not embedding models asbru knows.
    pub fn of(model_id: &str) -> Option<Self> {
        let base = model_id.rsplit('/').next().unwrap_or(model_id);
        // Cross-region inference profiles put a geography before the provider: `us.`, `eu.`…
        let base = match base.split_once('.') {
            Some((geo, rest))
                if !matches!(geo, "amazon" | "cohere") && rest.contains('.') && geo.len() <= 4 =>
            {
                rest
            }
            _ => base,
        };
        if base.starts_with("amazon.titan-embed-text-v2") {
            Some(Self::TitanV2)
        } else if base.starts_with("amazon.titan-embed-text-v1")
            || base.starts_with("amazon.titan-embed-g1-text")
        {
            Some(Self::TitanV1)
        } else if base.starts_with("cohere.embed-") {
            Some(Self::Cohere)
        } else {
            None
        }
    }
}

/// A Titan Text Embeddings request body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TitanRequest {
    pub input_text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_types: Option<Vec<String>>,
}

/// A Titan Text Embeddings answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TitanResponse {
    pub embedding: Vec<f64>,
    #[serde(default)]
    pub input_text_token_count: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Cohere Embed request body as Bedrock takes it (no `model`: it is in the path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohereRequest {
    pub texts: Vec<String>,
    pub input_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_types: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_dimension: Option<u32>,
}

/// A Cohere Embed answer: `embeddings` is a list of float vectors (`response_type:
/// "embeddings_floats"`) or, when `embedding_types` was sent, an object by type
/// (`"embeddings_by_type"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohereResponse {
    #[serde(default)]
    pub id: Option<String>,
    pub embeddings: CohereEmbeddings,
    #[serde(default)]
    pub response_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The two shapes of Cohere's `embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CohereEmbeddings {
    Floats(Vec<Vec<f64>>),
    ByType {
        #[serde(default)]
        float: Option<Vec<Vec<f64>>>,
        #[serde(flatten)]
        other: Map<String, Value>,
    },
}

impl CohereEmbeddings {
    fn floats(&self) -> Option<&[Vec<f64>]> {
        match self {
            Self::Floats(v) => Some(v),
            Self::ByType { float, .. } => float.as_deref(),
        }
    }
}

/// The text inputs of an OpenAI embeddings request; token-id inputs have no Bedrock form.
fn text_inputs(req: &EmbeddingRequest) -> Result<Vec<&str>, ConvertError> {
    match &req.input {
        Value::String(s) => Ok(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| ConvertError::Unsupported("token-id embedding input".to_owned()))
            })
            .collect(),
        _ => Err(ConvertError::Unsupported(
            "embedding input that is not text".to_owned(),
        )),
    }
}

fn dimensions(req: &EmbeddingRequest) -> Option<u32> {
    req.extra
        .get("dimensions")
        .and_then(Value::as_u64)
        .and_then(|d| u32::try_from(d).ok())
}

/// One Titan body per input. `dimensions` is refused for Titan G1, which has a fixed size.
pub fn to_titan(
    req: &EmbeddingRequest,
    family: EmbedFamily,
) -> Result<Vec<TitanRequest>, ConvertError> {
    let dims = dimensions(req);
    if family == EmbedFamily::TitanV1 && dims.is_some() {
        return Err(ConvertError::Unsupported(
            "`dimensions` (Titan Text Embeddings G1 has a fixed size)".to_owned(),
        ));
    }
    Ok(text_inputs(req)?
        .into_iter()
        .map(|text| TitanRequest {
            input_text: text.to_owned(),
            dimensions: dims,
            normalize: None,
            embedding_types: None,
        })
        .collect())
}

/// Cohere bodies of at most [`COHERE_MAX_TEXTS`] texts each, in input order.
pub fn to_cohere(req: &EmbeddingRequest) -> Result<Vec<CohereRequest>, ConvertError> {
    let input_type = req
        .extra
        .get("input_type")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_COHERE_INPUT_TYPE)
        .to_owned();
    let truncate = req
        .extra
        .get("truncate")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let dims = dimensions(req);
    Ok(text_inputs(req)?
        .chunks(COHERE_MAX_TEXTS)
        .map(|texts| CohereRequest {
            texts: texts.iter().map(|t| (*t).to_owned()).collect(),
            input_type: input_type.clone(),
            truncate: truncate.clone(),
            embedding_types: Some(vec!["float".to_owned()]),
            output_dimension: dims,
        })
        .collect())
}

fn list(model: &str, vectors: Vec<Vec<f64>>, prompt_tokens: u64) -> EmbeddingResponse {
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(i, embedding)| {
            let mut extra = Map::new();
            extra.insert("object".to_owned(), Value::String("embedding".to_owned()));
            Embedding {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                embedding,
                extra,
            }
        })
        .collect();
    let mut extra = Map::new();
    extra.insert("object".to_owned(), Value::String("list".to_owned()));
    EmbeddingResponse {
        data,
        model: model.to_owned(),
        usage: Some(Usage {
            prompt_tokens,
            completion_tokens: 0,
            total_tokens: prompt_tokens,
            ..Usage::default()
        }),
        extra_fields: None,
        extra,
    }
}

/// Titan answers (one per input, in order) as one OpenAI embedding list; usage sums the calls.
pub fn from_titan(responses: Vec<TitanResponse>, model: &str) -> EmbeddingResponse {
    let tokens = responses.iter().map(|r| r.input_text_token_count).sum();
    list(
        model,
        responses.into_iter().map(|r| r.embedding).collect(),
        tokens,
    )
}

/// Cohere answers (one per batch, in order) with each call's input-token header, as one OpenAI
/// embedding list. An answer without float vectors, or with fewer vectors than texts sent, is
/// malformed.
pub fn from_cohere(
    responses: &[(CohereResponse, u64)],
    sent: &[CohereRequest],
    model: &str,
) -> Result<EmbeddingResponse, ConvertError> {
    let mut vectors = Vec::new();
    for ((response, _), request) in responses.iter().zip(sent) {
        let floats = response.embeddings.floats().ok_or_else(|| {
            ConvertError::OutOfOrder("Cohere answered without float embeddings".to_owned())
        })?;
        if floats.len() != request.texts.len() {
            return Err(ConvertError::OutOfOrder(format!(
                "Cohere answered {} embeddings for {} texts",
                floats.len(),
                request.texts.len()
            )));
        }
        vectors.extend(floats.iter().cloned());
    }
    let tokens = responses.iter().map(|(_, t)| t).sum();
    Ok(list(model, vectors, tokens))
}

/// The `InvokeModel` path for a model: `/model/{modelId}/invoke`, the id percent-encoded as
/// for Converse.
pub fn invoke_path(model_id: &str) -> String {
    let converse = super::converse_path(model_id, false);
    let id = converse
        .strip_suffix("/converse")
        .unwrap_or(converse.as_str());
    format!("{id}/invoke")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(input: Value, extra: Value) -> EmbeddingRequest {
        let mut req = EmbeddingRequest::new("m", input);
        if let Value::Object(map) = extra {
            req.extra = map;
        }
        req
    }

    #[test]
    fn families_are_recognised_through_profiles_and_arns() {
        let cases = [
            ("amazon.titan-embed-text-v2:0", Some(EmbedFamily::TitanV2)),
            ("amazon.titan-embed-text-v1", Some(EmbedFamily::TitanV1)),
            ("amazon.titan-embed-g1-text-02", Some(EmbedFamily::TitanV1)),
            ("cohere.embed-english-v3", Some(EmbedFamily::Cohere)),
            ("us.cohere.embed-v4:0", Some(EmbedFamily::Cohere)),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0",
                Some(EmbedFamily::TitanV2),
            ),
            ("anthropic.claude-3-haiku-20240307-v1:0", None),
            ("amazon.nova-lite-v1:0", None),
        ];
        for (id, want) in cases {
            assert_eq!(EmbedFamily::of(id), want, "{id}");
        }
    }

    #[test]
    fn titan_takes_one_input_per_call_and_dimensions_only_on_v2() {
        let req = request(json!(["a", "b"]), json!({"dimensions": 256}));
        let bodies = to_titan(&req, EmbedFamily::TitanV2).unwrap();
        assert_eq!(
            serde_json::to_value(&bodies).unwrap(),
            json!([{"inputText": "a", "dimensions": 256}, {"inputText": "b", "dimensions": 256}])
        );
        assert!(to_titan(&req, EmbedFamily::TitanV1).is_err());
        let tokens = request(json!([[1, 2]]), json!({}));
        assert!(to_titan(&tokens, EmbedFamily::TitanV2).is_err());
    }

    #[test]
    fn titan_answers_become_one_list_with_summed_usage() {
        // The documented V2 response shape.
        let one: TitanResponse = serde_json::from_value(json!({
            "embedding": [0.5, -0.5], "inputTextTokenCount": 3,
            "embeddingsByType": {"float": [0.5, -0.5]}
        }))
        .unwrap();
        let two: TitanResponse =
            serde_json::from_value(json!({"embedding": [1.0, 0.0], "inputTextTokenCount": 4}))
                .unwrap();
        let list = from_titan(vec![one, two], "amazon.titan-embed-text-v2:0");
        let v = serde_json::to_value(&list).unwrap();
        assert_eq!(v["object"], "list");
        assert_eq!(v["data"][1]["index"], 1);
        assert_eq!(v["data"][1]["embedding"], json!([1.0, 0.0]));
        assert_eq!(v["usage"]["prompt_tokens"], 7);
    }

    #[test]
    fn cohere_batches_by_96_and_reads_both_answer_shapes() {
        let inputs: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
        let req = request(json!(inputs), json!({"input_type": "search_query"}));
        let bodies = to_cohere(&req).unwrap();
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0].texts.len(), 96);
        assert_eq!(bodies[1].texts, vec!["t96", "t97", "t98", "t99"]);
        assert_eq!(bodies[0].input_type, "search_query");
        let plain = to_cohere(&request(json!("x"), json!({}))).unwrap();
        assert_eq!(
            serde_json::to_value(&plain[0]).unwrap(),
            json!({"texts": ["x"], "input_type": "search_document", "embedding_types": ["float"]})
        );

        let floats: CohereResponse = serde_json::from_value(json!({
            "id": "a", "embeddings": [[0.1], [0.2]], "response_type": "embeddings_floats",
            "texts": ["p", "q"]
        }))
        .unwrap();
        let by_type: CohereResponse = serde_json::from_value(json!({
            "id": "b", "embeddings": {"float": [[0.3]]}, "response_type": "embeddings_by_type",
            "texts": ["r"]
        }))
        .unwrap();
        let sent = to_cohere(&request(json!(["p", "q"]), json!({}))).unwrap();
        let sent_r = to_cohere(&request(json!(["r"]), json!({}))).unwrap();
        let both = [sent[0].clone(), sent_r[0].clone()];
        let list = from_cohere(&[(floats, 2), (by_type, 1)], &both, "cohere.embed-v4:0").unwrap();
        let v = serde_json::to_value(&list).unwrap();
        assert_eq!(v["data"][2]["embedding"], json!([0.3]));
        assert_eq!(v["data"][2]["index"], 2);
        assert_eq!(v["usage"]["total_tokens"], 3);

        let short: CohereResponse = serde_json::from_value(json!({"embeddings": [[0.1]]})).unwrap();
        assert!(from_cohere(&[(short, 0)], &sent, "m").is_err());
    }

    #[test]
    fn invoke_paths_encode_the_id_like_converse() {
        assert_eq!(
            invoke_path("amazon.titan-embed-text-v2:0"),
            "/model/amazon.titan-embed-text-v2%3A0/invoke"
        );
    }
}
