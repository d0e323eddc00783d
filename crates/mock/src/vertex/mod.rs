//! Vertex AI's publisher-model routes: `…/v1/projects/{p}/locations/{r}/publishers/{publisher}/
//! models/{model}:{method}` (and the project-less express-mode `…/v1/publishers/google/models/
//! {model}:{method}`).
//!
//! Google's models (`publishers/google`) take the Gemini API bodies at `:generateContent` and
//! `:streamGenerateContent` (validated and answered by [`crate::gemini`]) and the
//! `instances`/`predictions` embeddings body at `:predict`; Anthropic's (`publishers/anthropic`)
//! take the Messages body at `:rawPredict` and `:streamRawPredict` (validated and answered by
//! [`crate::anthropic`]), except that `model` must not be in the body (the URL names it) and
//! `anthropic_version` must be `vertex-2023-10-16`.
//!
//! Authentication is Google Cloud's: `Authorization: Bearer <token>` with a token the mock's
//! token endpoint issued (see [`crate::oauth`]), or an express-mode API key in `x-goog-api-key`
//! (checked like the Gemini API's). Failures of authentication come in Google's error shape
//! whatever the publisher, as Google's front end sends them.
//!
//! Sources: the Vertex AI REST reference (`projects.locations.publishers.models`: `predict`,
//! `rawPredict`, `streamRawPredict`, `generateContent`, `streamGenerateContent`), the text
//! embeddings API reference (`instances[].content`, `task_type`, `title`,
//! `parameters.outputDimensionality`, `predictions[].embeddings.values` and `.statistics`), and
//! Anthropic's "Claude on Vertex AI" page (`anthropic_version`, the model in the URL).

use crate::anthropic::AnthropicError;
use crate::gemini::{self, GeminiError};
use crate::openai::{embed, json_bytes};
use crate::state::Shared;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Map, Value, json};

/// The `anthropic_version` Claude on Vertex requires in the body.
pub(crate) const ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Vectors of text-embedding models without `outputDimensionality` (text-embedding-005's size).
const DEFAULT_DIMENSIONS: usize = 768;

/// Instances one `:predict` takes at most (text-embedding-005's documented limit).
const MAX_INSTANCES: usize = 250;

/// Who publishes a model, from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Publisher {
    Google,
    Anthropic,
    /// Any other publisher (Mistral, Meta…), which the mock does not serve.
    Other,
}

/// The method after the colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Generate,
    Stream,
    Predict,
    RawPredict,
    StreamRawPredict,
    /// A method this publisher does not have, or a request that is not a `POST`.
    Unknown,
}

/// A Vertex AI publisher-model route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route<'a> {
    /// `None` for the express-mode path, which names no project.
    pub(crate) project: Option<&'a str>,
    pub(crate) region: Option<&'a str>,
    pub(crate) publisher: Publisher,
    pub(crate) model: &'a str,
    pub(crate) action: Action,
}

impl<'a> Route<'a> {
    /// The Vertex route of a request, or `None` when the path is not a publisher-model path.
    pub(crate) fn of(method: &Method, path: &'a str) -> Option<Self> {
        let path = path.trim_end_matches('/');
        let at = path.find("/publishers/")?;
        let (prefix, rest) = (&path[..at], &path[at + "/publishers/".len()..]);
        let (publisher, rest) = rest.split_once("/models/")?;
        let (model, method_name) = rest.split_once(':')?;
        if model.is_empty() || model.contains('/') {
            return None;
        }
        let (project, region) = if prefix.ends_with("/v1") {
            (None, None)
        } else {
            let (head, region) = prefix.rsplit_once("/locations/")?;
            let (head, project) = head.rsplit_once("/projects/")?;
            if !head.ends_with("/v1") || project.is_empty() || region.is_empty() {
                return None;
            }
            (Some(project), Some(region))
        };
        let publisher = match publisher {
            "google" => Publisher::Google,
            "anthropic" => Publisher::Anthropic,
            _ => Publisher::Other,
        };
        let action = match (publisher, method_name, method == Method::POST) {
            (_, _, false) => Action::Unknown,
            (Publisher::Google, "generateContent", true) => Action::Generate,
            (Publisher::Google, "streamGenerateContent", true) => Action::Stream,
            (Publisher::Google, "predict", true) => Action::Predict,
            (Publisher::Anthropic, "rawPredict", true) => Action::RawPredict,
            (Publisher::Anthropic, "streamRawPredict", true) => Action::StreamRawPredict,
            _ => Action::Unknown,
        };
        Some(Self {
            project,
            region,
            publisher,
            model,
            action,
        })
    }

    /// Whether the route is answered in Anthropic's shape (after authentication).
    pub(crate) fn is_anthropic(&self) -> bool {
        self.publisher == Publisher::Anthropic
    }
}

/// The authentication check: a bearer token the mock's token endpoint issued (or one of
/// `valid_keys`), else an API key checked as the Gemini API checks it. Without credentials, or
/// with a bearer token nobody issued, 401 `UNAUTHENTICATED` in the words Google uses.
pub(crate) fn check_auth(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), GeminiError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty());
    let unauthenticated = |message: &str| GeminiError {
        status: StatusCode::UNAUTHORIZED,
        code: "UNAUTHENTICATED",
        message: message.to_owned(),
        details: vec![json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            "domain": "googleapis.com",
            "metadata": {"service": "aiplatform.googleapis.com", "method": "google.cloud.aiplatform.v1.PredictionService"}
        })],
    };
    match bearer {
        Some(token) => {
            let listed = shared
                .opts
                .valid_keys
                .as_ref()
                .is_some_and(|v| v.iter().any(|k| k == token));
            if shared.oauth.is_issued(token) || listed {
                Ok(())
            } else {
                Err(unauthenticated(
                    "Request had invalid authentication credentials. Expected OAuth 2 access \
                     token, login cookie or other valid authentication credential. See \
                     https://developers.google.com/identity/sign-in/web/devconsole-project.",
                ))
            }
        }
        None if gemini::presented_key(headers, query).is_some() => {
            gemini::check_key(shared, headers, query)
        }
        None if !shared.opts.require_auth => Ok(()),
        None => Err(unauthenticated(
            "Request is missing required authentication credential. Expected OAuth 2 access \
             token, login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )),
    }
}

/// Checks a `rawPredict`/`streamRawPredict` body as Claude on Vertex does (no `model`,
/// `anthropic_version` = [`ANTHROPIC_VERSION`]) and returns the Messages body the Anthropic
/// validation takes: the path's model in, `anthropic_version` out, and `stream: true` for
/// `streamRawPredict`.
pub(crate) fn messages_body(
    body: &Value,
    model: &str,
    stream: bool,
) -> Result<Value, AnthropicError> {
    let Value::Object(fields) = body else {
        return Err(AnthropicError::invalid(
            "Input should be a valid dictionary or object to extract fields from",
        ));
    };
    if fields.contains_key("model") {
        return Err(AnthropicError::invalid(
            "model: Extra inputs are not permitted",
        ));
    }
    match fields.get("anthropic_version") {
        None | Some(Value::Null) => {
            return Err(AnthropicError::invalid("anthropic_version: Field required"));
        }
        Some(Value::String(v)) if v == ANTHROPIC_VERSION => {}
        Some(other) => {
            return Err(AnthropicError::invalid(format!(
                "anthropic_version: Input should be '{ANTHROPIC_VERSION}', got {other}"
            )));
        }
    }
    // Vertex takes Anthropic's beta flags in the body, as a list of strings.
    match fields.get("anthropic_beta") {
        None => {}
        Some(Value::Array(betas)) if betas.iter().all(Value::is_string) => {}
        Some(_) => {
            return Err(AnthropicError::invalid(
                "anthropic_beta: Input should be a valid list of strings",
            ));
        }
    }
    let mut fields: Map<String, Value> = fields.clone();
    fields.remove("anthropic_version");
    fields.remove("anthropic_beta");
    fields.insert("model".to_owned(), Value::String(model.to_owned()));
    if stream {
        fields.insert("stream".to_owned(), Value::Bool(true));
    }
    Ok(Value::Object(fields))
}

/// Validates a text-embeddings `:predict` body and answers it: one deterministic unit vector
/// per instance (`outputDimensionality` long), with the per-instance token count in
/// `statistics`, as the text embeddings API reports it.
pub(crate) fn predict(body: &Value, model: &str) -> Result<Bytes, GeminiError> {
    let Value::Object(fields) = body else {
        return Err(gemini::unparsable_body());
    };
    for name in fields.keys() {
        if name != "instances" && name != "parameters" {
            return Err(GeminiError::unknown_field(name, None));
        }
    }
    let Some(Value::Array(instances)) = fields.get("instances") else {
        return Err(GeminiError::invalid(
            "Field 'instances' is required and must be a list.",
        ));
    };
    if instances.is_empty() {
        return Err(GeminiError::invalid(
            "The instances list must not be empty.",
        ));
    }
    // gemini-embedding-001 takes one input text per request.
    if model.starts_with("gemini-embedding") && instances.len() > 1 {
        return Err(GeminiError::invalid(format!(
            "Model {model} only supports 1 instance per request, got {}.",
            instances.len()
        )));
    }
    if instances.len() > MAX_INSTANCES {
        return Err(GeminiError::invalid(format!(
            "The number of instances ({}) exceeds the limit of {MAX_INSTANCES}.",
            instances.len()
        )));
    }
    let dimensions = match fields.get("parameters") {
        None => None,
        Some(Value::Object(params)) => {
            for name in params.keys() {
                if name != "outputDimensionality" && name != "autoTruncate" {
                    return Err(GeminiError::unknown_field(name, Some("parameters")));
                }
            }
            match params.get("outputDimensionality") {
                None => None,
                Some(d) => match d.as_u64().and_then(|d| usize::try_from(d).ok()) {
                    Some(d) if (1..=3072).contains(&d) => Some(d),
                    _ => {
                        return Err(GeminiError::invalid(
                            "outputDimensionality must be a whole number between 1 and 3072.",
                        ));
                    }
                },
            }
        }
        Some(_) => return Err(GeminiError::invalid("parameters must be an object.")),
    };
    let mut predictions = Vec::with_capacity(instances.len());
    for (i, instance) in instances.iter().enumerate() {
        let Value::Object(instance) = instance else {
            return Err(GeminiError::invalid(format!(
                "instances[{i}] must be an object."
            )));
        };
        for name in instance.keys() {
            if !matches!(name.as_str(), "content" | "task_type" | "title") {
                return Err(GeminiError::unknown_field(
                    name,
                    Some(&format!("instances[{i}]")),
                ));
            }
        }
        let Some(Value::String(content)) = instance.get("content") else {
            return Err(GeminiError::invalid(format!(
                "instances[{i}].content is required and must be a string."
            )));
        };
        let values = embed(content.bytes(), 0, dimensions.unwrap_or(DEFAULT_DIMENSIONS));
        let tokens = content.split_whitespace().count().max(1);
        predictions.push(json!({
            "embeddings": {
                "values": values,
                "statistics": {"truncated": false, "token_count": tokens}
            }
        }));
    }
    let characters: usize = instances
        .iter()
        .filter_map(|i| i.get("content").and_then(Value::as_str))
        .map(str::len)
        .sum();
    Ok(json_bytes(&json!({
        "predictions": predictions,
        "metadata": {"billableCharacterCount": characters}
    })))
}

/// The 404 for a publisher-model method Vertex does not serve.
pub(crate) fn not_found(path: &str) -> GeminiError {
    GeminiError {
        status: StatusCode::NOT_FOUND,
        code: "NOT_FOUND",
        message: format!("The requested URL {path} was not found on this server."),
        details: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_project_region_publisher_model_and_method() {
        let r = Route::of(
            &Method::POST,
            "/v1/projects/p-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
        )
        .unwrap();
        assert_eq!(r.project, Some("p-1"));
        assert_eq!(r.region, Some("us-central1"));
        assert_eq!(r.publisher, Publisher::Google);
        assert_eq!(r.model, "gemini-2.5-flash");
        assert_eq!(r.action, Action::Generate);

        let r = Route::of(
            &Method::POST,
            "/prefix/v1/projects/p/locations/global/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict",
        )
        .unwrap();
        assert_eq!(r.region, Some("global"));
        assert!(r.is_anthropic());
        assert_eq!(r.model, "claude-sonnet-4@20250514");
        assert_eq!(r.action, Action::StreamRawPredict);

        let express = Route::of(
            &Method::POST,
            "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
        )
        .unwrap();
        assert_eq!(express.project, None);
        assert_eq!(express.action, Action::Stream);

        // Methods of the other publisher, GETs, and non-Vertex paths.
        let wrong = Route::of(
            &Method::POST,
            "/v1/projects/p/locations/r/publishers/anthropic/models/claude-x:generateContent",
        )
        .unwrap();
        assert_eq!(wrong.action, Action::Unknown);
        let get = Route::of(
            &Method::GET,
            "/v1/projects/p/locations/r/publishers/google/models/m:predict",
        )
        .unwrap();
        assert_eq!(get.action, Action::Unknown);
        assert!(
            Route::of(
                &Method::POST,
                "/v1beta/models/gemini-2.5-flash:generateContent"
            )
            .is_none()
        );
        assert!(Route::of(&Method::POST, "/v1/chat/completions").is_none());
    }

    #[test]
    fn claude_bodies_must_not_name_the_model_and_must_carry_the_vertex_version() {
        let ok = json!({"anthropic_version": ANTHROPIC_VERSION, "max_tokens": 10, "messages": []});
        let body = messages_body(&ok, "claude-x", true).unwrap();
        assert_eq!(body["model"], "claude-x");
        assert_eq!(body["stream"], true);
        assert!(body.get("anthropic_version").is_none());

        let with_model = json!({"model": "claude-x", "anthropic_version": ANTHROPIC_VERSION});
        let e = messages_body(&with_model, "claude-x", false).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("model"), "{}", e.message);

        let missing = json!({"max_tokens": 10, "messages": []});
        let e = messages_body(&missing, "claude-x", false).unwrap_err();
        assert!(e.message.contains("anthropic_version"), "{}", e.message);

        let wrong = json!({"anthropic_version": "2023-06-01", "max_tokens": 10, "messages": []});
        let e = messages_body(&wrong, "claude-x", false).unwrap_err();
        assert!(e.message.contains("vertex-2023-10-16"), "{}", e.message);
    }

    #[test]
    fn predict_answers_one_vector_per_instance_with_token_counts() {
        let body = json!({
            "instances": [{"content": "hello world"}, {"content": "hi", "task_type": "RETRIEVAL_QUERY"}],
            "parameters": {"outputDimensionality": 16}
        });
        let answer: Value =
            serde_json::from_slice(&predict(&body, "text-embedding-005").unwrap()).unwrap();
        let predictions = answer["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), 2);
        assert_eq!(
            predictions[0]["embeddings"]["values"]
                .as_array()
                .unwrap()
                .len(),
            16
        );
        assert_eq!(predictions[0]["embeddings"]["statistics"]["token_count"], 2);

        let unknown = json!({"instances": [{"text": "x"}]});
        let e = predict(&unknown, "text-embedding-005").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("\"text\""), "{}", e.message);
        let empty = json!({"instances": []});
        assert_eq!(
            predict(&empty, "text-embedding-005").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let dims =
            json!({"instances": [{"content": "x"}], "parameters": {"outputDimensionality": 0}});
        assert_eq!(
            predict(&dims, "text-embedding-005").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        let two = json!({"instances": [{"content": "a"}, {"content": "b"}]});
        let e = predict(&two, "gemini-embedding-001").unwrap_err();
        assert!(e.message.contains("1 instance"), "{}", e.message);
    }
}
