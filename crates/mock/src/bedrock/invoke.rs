//! `POST …/model/{modelId}/invoke` for the embedding models Bedrock serves, each in its own
//! documented body format (the Bedrock user guide's "Amazon Titan Embeddings" and "Cohere Embed"
//! model-parameter pages):
//!
//! * Titan Text Embeddings V2 (`amazon.titan-embed-text-v2…`): `inputText` (required, non-empty),
//!   `dimensions` 256 / 512 / 1024, `normalize`, `embeddingTypes` ⊆ {float, binary}; answers
//!   `embedding`, `inputTextTokenCount`, `embeddingsByType`.
//! * Titan G1 (`amazon.titan-embed-text-v1`, `amazon.titan-embed-g1-text-02`): `inputText` only;
//!   any other key is refused as an extraneous key.
//! * Cohere Embed (`cohere.embed-…`): `texts` (≤ 96, each ≤ 2048 characters), `input_type`
//!   (required, one of the documented values), `truncate`, `embedding_types`; answers
//!   `embeddings` as float lists (`embeddings_floats`) or by type (`embeddings_by_type`), the
//!   input tokens in the `X-Amzn-Bedrock-Input-Token-Count` header.
//!
//! Any other model is a `ValidationException`, as Bedrock answers an embedding body sent to a
//! chat model.

use super::BedrockError;
use crate::openai::{embed, json_bytes};
use crate::state::count_words;
use bytes::Bytes;
use serde_json::{Map, Value, json};

/// The header the input token count travels in.
pub(crate) const INPUT_TOKENS_HEADER: &str = "x-amzn-bedrock-input-token-count";

const TITAN_V2_KEYS: [&str; 4] = ["inputText", "dimensions", "normalize", "embeddingTypes"];
const COHERE_KEYS: [&str; 6] = [
    "texts",
    "images",
    "input_type",
    "truncate",
    "embedding_types",
    "output_dimension",
];
const COHERE_INPUT_TYPES: [&str; 5] = [
    "search_document",
    "search_query",
    "classification",
    "clustering",
    "image",
];
const COHERE_MAX_TEXTS: usize = 96;
const COHERE_MAX_CHARS: usize = 2048;
/// The size of Cohere v3 vectors (v4 defaults to 1536; the mock uses one size).
const COHERE_DIMENSIONS: usize = 1024;

/// An embedding answer: the body and the input token count for the header.
#[derive(Debug)]
pub(crate) struct Invoked {
    pub(crate) body: Bytes,
    pub(crate) input_tokens: u64,
}

fn invalid(message: impl Into<String>) -> BedrockError {
    BedrockError::invalid(message)
}

fn extraneous(key: &str) -> BedrockError {
    invalid(format!(
        "Malformed input request: #: extraneous key [{key}] is not permitted, please reformat \
         your input and try again."
    ))
}

fn object(body: &Value) -> Result<&Map<String, Value>, BedrockError> {
    body.as_object().ok_or_else(|| {
        invalid("Malformed input request: #: expected type: JSONObject, please reformat your input")
    })
}

fn check_keys(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), BedrockError> {
    match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(extraneous(key)),
        None => Ok(()),
    }
}

/// Answers an `InvokeModel` call to `model` (the decoded path id).
pub(crate) fn invoke(body: &Value, model: &str) -> Result<Invoked, BedrockError> {
    let base = model.rsplit('/').next().unwrap_or(model);
    if base.contains("titan-embed-text-v2") {
        titan(body, true)
    } else if base.contains("titan-embed-text-v1") || base.contains("titan-embed-g1-text") {
        titan(body, false)
    } else if base.contains("cohere.embed-") {
        cohere(body)
    } else {
        Err(invalid(format!(
            "The model {model} does not support this request body; the mock serves InvokeModel \
             for Titan Text Embeddings and Cohere Embed only."
        )))
    }
}

fn titan(body: &Value, v2: bool) -> Result<Invoked, BedrockError> {
    let fields = object(body)?;
    check_keys(fields, if v2 { &TITAN_V2_KEYS } else { &["inputText"] })?;
    let text = match fields.get("inputText") {
        Some(Value::String(t)) if !t.is_empty() => t,
        Some(Value::String(_)) => {
            return Err(invalid(
                "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please \
                 reformat your input and try again.",
            ));
        }
        Some(_) => {
            return Err(invalid(
                "Malformed input request: #/inputText: expected type: String, found: JSONArray, \
                 please reformat your input and try again.",
            ));
        }
        None => {
            return Err(invalid(
                "Malformed input request: #: required key [inputText] not found, please \
                 reformat your input and try again.",
            ));
        }
    };
    let dimensions = match fields.get("dimensions") {
        None => {
            if v2 {
                1024
            } else {
                1536
            }
        }
        Some(d) => match d.as_u64() {
            Some(n @ (256 | 512 | 1024)) => n as usize,
            _ => {
                return Err(invalid(format!(
                    "Malformed input request: #/dimensions: {d} is not a valid enum value, \
                     please reformat your input and try again."
                )));
            }
        },
    };
    let vector = embed(text.bytes(), 0, dimensions);
    let tokens = count_words(text);
    let mut answer = json!({"embedding": vector, "inputTextTokenCount": tokens});
    if v2 {
        answer["embeddingsByType"] = json!({"float": vector});
    }
    Ok(Invoked {
        body: json_bytes(&answer),
        input_tokens: tokens,
    })
}

fn cohere(body: &Value) -> Result<Invoked, BedrockError> {
    let fields = object(body)?;
    check_keys(fields, &COHERE_KEYS)?;
    match fields.get("input_type").and_then(Value::as_str) {
        Some(t) if COHERE_INPUT_TYPES.contains(&t) => {}
        Some(t) => {
            return Err(invalid(format!(
                "Malformed input request: #/input_type: {t} is not a valid enum value, please \
                 reformat your input and try again."
            )));
        }
        None => {
            return Err(invalid(
                "Malformed input request: #: required key [input_type] not found, please \
                 reformat your input and try again.",
            ));
        }
    }
    let texts: Vec<&str> = match fields.get("texts") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str().ok_or_else(|| {
                    invalid("Malformed input request: #/texts: expected type: String")
                })
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(invalid(
                "Malformed input request: #: required key [texts] not found, please reformat \
                 your input and try again.",
            ));
        }
    };
    if texts.len() > COHERE_MAX_TEXTS {
        return Err(invalid(format!(
            "Malformed input request: #/texts: expected maximum item count: {COHERE_MAX_TEXTS}, \
             found: {}, please reformat your input and try again.",
            texts.len()
        )));
    }
    if let Some(long) = texts
        .iter()
        .position(|t| t.chars().count() > COHERE_MAX_CHARS)
    {
        return Err(invalid(format!(
            "Malformed input request: #/texts/{long}: expected maxLength: {COHERE_MAX_CHARS}, \
             please reformat your input and try again."
        )));
    }
    let vectors: Vec<Vec<f32>> = texts
        .iter()
        .map(|t| embed(t.bytes(), 2, COHERE_DIMENSIONS))
        .collect();
    let tokens = texts.iter().map(|t| count_words(t)).sum();
    let by_type = fields
        .get("embedding_types")
        .and_then(Value::as_array)
        .is_some_and(|types| !types.is_empty());
    let answer = if by_type {
        json!({"id": "mock-embed", "embeddings": {"float": vectors}, "texts": texts,
               "response_type": "embeddings_by_type"})
    } else {
        json!({"id": "mock-embed", "embeddings": vectors, "texts": texts,
               "response_type": "embeddings_floats"})
    };
    Ok(Invoked {
        body: json_bytes(&answer),
        input_tokens: tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(invoked: &Invoked) -> Value {
        serde_json::from_slice(&invoked.body).unwrap()
    }

    #[test]
    fn titan_v2_answers_the_documented_shape() {
        let out = invoke(
            &json!({"inputText": "hello there", "dimensions": 256}),
            "amazon.titan-embed-text-v2:0",
        )
        .unwrap();
        let v = parsed(&out);
        assert_eq!(v["embedding"].as_array().unwrap().len(), 256);
        assert_eq!(v["inputTextTokenCount"], 2);
        assert_eq!(v["embeddingsByType"]["float"], v["embedding"]);
        assert_eq!(out.input_tokens, 2);
    }

    #[test]
    fn titan_refuses_what_bedrock_refuses() {
        let v2 = "amazon.titan-embed-text-v2:0";
        for bad in [
            json!({}),
            json!({"inputText": ""}),
            json!({"inputText": "x", "dimensions": 300}),
            json!({"inputText": "x", "texts": ["y"]}),
        ] {
            assert_eq!(
                invoke(&bad, v2).unwrap_err().kind,
                "ValidationException",
                "{bad}"
            );
        }
        let err = invoke(
            &json!({"inputText": "x", "dimensions": 256}),
            "amazon.titan-embed-text-v1",
        )
        .unwrap_err();
        assert!(
            err.message.contains("extraneous key [dimensions]"),
            "{err:?}"
        );
    }

    #[test]
    fn cohere_answers_both_shapes_and_validates() {
        let model = "cohere.embed-english-v3";
        let out = invoke(
            &json!({"texts": ["a b", "c"], "input_type": "search_document"}),
            model,
        )
        .unwrap();
        let v = parsed(&out);
        assert_eq!(v["response_type"], "embeddings_floats");
        assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
        assert_eq!(out.input_tokens, 3);
        let out = invoke(
            &json!({"texts": ["a"], "input_type": "search_query", "embedding_types": ["float"]}),
            model,
        )
        .unwrap();
        assert_eq!(
            parsed(&out)["embeddings"]["float"]
                .as_array()
                .unwrap()
                .len(),
            1
        );

        let too_many: Vec<String> = (0..97).map(|i| i.to_string()).collect();
        for bad in [
            json!({"texts": ["a"]}),
            json!({"texts": ["a"], "input_type": "query"}),
            json!({"texts": too_many, "input_type": "search_query"}),
            json!({"inputText": "a", "input_type": "search_query"}),
        ] {
            assert!(invoke(&bad, model).is_err(), "{bad}");
        }
        assert!(invoke(&json!({"inputText": "a"}), "anthropic.claude-3-haiku").is_err());
    }
}
