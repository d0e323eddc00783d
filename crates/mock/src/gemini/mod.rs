//! The Gemini API wire format (`generativelanguage.googleapis.com/v1beta`): its routes
//! (`models/{model}:generateContent`, `:streamGenerateContent`, `:embedContent`,
//! `:batchEmbedContents`, `:countTokens`, `GET models`, `GET models/{model}`), the API key in
//! `x-goog-api-key` or `?key=`, request validation with the messages the real API gives, Google's
//! `{"error":{"code","message","status","details"}}` shape, and the answers.
//!
//! Sources: the API reference (`ai.google.dev/api/generate-content`, `…/api/embeddings`,
//! `…/api/tokens`, `…/api/models`), the function-calling, thinking, thought-signature and
//! structured-output guides (`ai.google.dev/gemini-api/docs/…`), and the troubleshooting page
//! for error statuses. Where the docs give no wording, messages follow what the API is seen to
//! answer, in its style; `tests/fixtures/gemini/README.md` names the sources of the fixtures.

mod reply;
mod validate;

pub(crate) use reply::{
    Answer, batch_embed, count_tokens, embed_one, generate, model_list, model_object,
};
pub(crate) use validate::{parse_batch_embed, parse_count_tokens, parse_embed, parse_generate};

use crate::openai::json_bytes;
use crate::state::Shared;
use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{HeaderMap, Method, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

/// Where Google's SDKs send the API key.
pub(crate) const KEY_HEADER: &str = "x-goog-api-key";

/// The frame a `MalformedJson` fault puts into a Gemini stream: a `data:` whose JSON is cut.
pub(crate) const MALFORMED_FRAME: &[u8] =
    b"data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \r\n\r\n";

/// A Gemini route, recognised by its path: `…/models/{model}:{method}` or `…/models[/{model}]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    Generate(&'a str),
    Stream(&'a str),
    Embed(&'a str),
    BatchEmbed(&'a str),
    CountTokens(&'a str),
    Models,
    Model(&'a str),
    /// A `models/{model}:{method}` path with a method Gemini does not have, or a wrong HTTP
    /// method.
    Unknown,
}

impl<'a> Route<'a> {
    /// The Gemini route of a request, or `None` when it is not a Gemini request.
    ///
    /// `models/{model}:{method}` paths are Gemini's alone (no other dialect uses the colon). The
    /// models list paths are shared with OpenAI and Anthropic, so they are Gemini's only under a
    /// `/v1beta/` segment or when the request carries Google's key (header or `key=`).
    pub(crate) fn of(
        method: &Method,
        path: &'a str,
        headers: &HeaderMap,
        query: Option<&str>,
    ) -> Option<Self> {
        let path = path.trim_end_matches('/');
        let at = path.rfind("/models/");
        if let Some(at) = at {
            let rest = &path[at + "/models/".len()..];
            if let Some((model, action)) = rest.split_once(':') {
                let post = method == Method::POST;
                return Some(match (action, post) {
                    ("generateContent", true) => Route::Generate(model),
                    ("streamGenerateContent", true) => Route::Stream(model),
                    ("embedContent", true) => Route::Embed(model),
                    ("batchEmbedContents", true) => Route::BatchEmbed(model),
                    ("countTokens", true) => Route::CountTokens(model),
                    _ => Route::Unknown,
                });
            }
        }
        let gemini = path.contains("/v1beta/")
            || headers.contains_key(KEY_HEADER)
            || query_key(query).is_some();
        if !gemini {
            return None;
        }
        if path.ends_with("/models") {
            return Some(if method == Method::GET {
                Route::Models
            } else {
                Route::Unknown
            });
        }
        match at {
            Some(at) if method == Method::GET => Some(Route::Model(&path[at + "/models/".len()..])),
            _ => Some(Route::Unknown),
        }
    }

    /// The model the path names, for per-model faults.
    pub(crate) fn model(&self) -> Option<&'a str> {
        match self {
            Route::Generate(m)
            | Route::Stream(m)
            | Route::Embed(m)
            | Route::BatchEmbed(m)
            | Route::CountTokens(m)
            | Route::Model(m) => Some(m),
            Route::Models | Route::Unknown => None,
        }
    }

    pub(crate) fn takes_json(&self) -> bool {
        matches!(
            self,
            Route::Generate(_)
                | Route::Stream(_)
                | Route::Embed(_)
                | Route::BatchEmbed(_)
                | Route::CountTokens(_)
        )
    }
}

/// The `key` query parameter (Google's other way to pass the API key).
pub(crate) fn query_key(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .filter(|k| !k.is_empty())
}

/// A query parameter's value.
pub(crate) fn query_param<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// A Google API error: HTTP status, `google.rpc.Code` name, message, and `details`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GeminiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) details: Vec<Value>,
}

/// HTTP status, `google.rpc.Code` name and stock message, from the troubleshooting page.
const STATUSES: [(u16, &str, &str); 9] = [
    (
        400,
        "INVALID_ARGUMENT",
        "Request contains an invalid argument.",
    ),
    (
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials.",
    ),
    (
        403,
        "PERMISSION_DENIED",
        "The caller does not have permission",
    ),
    (404, "NOT_FOUND", "Requested entity was not found."),
    (
        429,
        "RESOURCE_EXHAUSTED",
        "Resource has been exhausted (e.g. check quota).",
    ),
    (
        500,
        "INTERNAL",
        "An internal error has occurred. Please retry or report in \
         https://developers.generativeai.google/guide/troubleshooting",
    ),
    (501, "UNIMPLEMENTED", "Method not implemented."),
    (
        503,
        "UNAVAILABLE",
        "The model is overloaded. Please try again later.",
    ),
    (
        504,
        "DEADLINE_EXCEEDED",
        "Deadline expired before operation could complete.",
    ),
];

impl GeminiError {
    /// A 400 `INVALID_ARGUMENT`, the shape of every validation failure.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_ARGUMENT",
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// An unknown field, refused as Google's JSON parser refuses it, with the
    /// `google.rpc.BadRequest` detail it attaches. `at` is the snake_case path of the object
    /// holding the field (`None` at the top level).
    pub(crate) fn unknown_field(name: &str, at: Option<&str>) -> Self {
        let message = match at {
            Some(at) => {
                format!(
                    "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
                )
            }
            None => format!(
                "Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."
            ),
        };
        let violation = json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": at.map_or_else(|| name.to_owned(), |a| format!("{a}.{name}")),
                                 "description": message}]
        });
        Self {
            details: vec![violation],
            ..Self::invalid(message)
        }
    }

    /// The error for an HTTP status, with its `google.rpc.Code` name and a stock message when
    /// `message` is empty.
    pub(crate) fn from_status(status: u16, message: &str) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = status.as_u16();
        let (name, stock) = match STATUSES.iter().find(|(s, _, _)| *s == code) {
            Some((_, name, stock)) => (*name, *stock),
            None if code >= 500 => ("INTERNAL", STATUSES[5].2),
            None => (
                "FAILED_PRECONDITION",
                "The request was rejected (injected by asbru-mock).",
            ),
        };
        Self {
            status,
            code: name,
            message: if message.is_empty() {
                stock.to_owned()
            } else {
                message.to_owned()
            },
            details: Vec::new(),
        }
    }

    /// The error a `google.rpc.Code` name stands for (used by the error directive), or `None`
    /// for a name the mock does not know.
    pub(crate) fn of_code(name: &str) -> Option<Self> {
        STATUSES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(status, _, _)| Self::from_status(*status, ""))
    }

    fn envelope(&self) -> Value {
        let mut error = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "status": self.code,
        });
        if !self.details.is_empty()
            && let Some(map) = error.as_object_mut()
        {
            map.insert("details".to_owned(), Value::Array(self.details.clone()));
        }
        json!({ "error": error })
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Bytes {
        json_bytes(&self.envelope())
    }

    /// The same error as a stream frame, for failures after a 200 has been sent.
    pub(crate) fn frame(&self) -> Bytes {
        sse_frame(&self.envelope())
    }
}

/// One `data:` frame with the CRLF line ends Google's servers use.
pub(crate) fn sse_frame<T: Serialize>(value: &T) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    let start = buf.len();
    if serde_json::to_writer(&mut buf, value).is_err() {
        buf.truncate(start);
        buf.extend_from_slice(b"{}");
    }
    buf.extend_from_slice(b"\r\n\r\n");
    Bytes::from(buf)
}

/// The key check: `x-goog-api-key`, else `?key=`, else an OAuth bearer token. A missing key is
/// refused with 403 `PERMISSION_DENIED` and a wrong one with 400 `INVALID_ARGUMENT` (reason
/// `API_KEY_INVALID`), as the API does.
pub(crate) fn check_key(
    shared: &Shared,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), GeminiError> {
    let key = presented_key(headers, query);
    match key {
        None if shared.opts.require_auth => Err(GeminiError {
            status: StatusCode::FORBIDDEN,
            code: "PERMISSION_DENIED",
            message: "Method doesn't allow unregistered callers (callers without established \
                      identity). Please use API Key or other form of API consumer identity to \
                      call this API."
                .to_owned(),
            details: Vec::new(),
        }),
        None => Ok(()),
        Some(key) => match &shared.opts.valid_keys {
            Some(valid) if !valid.iter().any(|k| k == key) => Err(GeminiError {
                details: vec![json!({
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"}
                })],
                ..GeminiError::invalid("API key not valid. Please pass a valid API key.")
            }),
            _ => Ok(()),
        },
    }
}

/// The key a Gemini request presents.
pub(crate) fn presented_key<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .or_else(|| query_key(query))
        .or_else(|| {
            headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, key)| key.trim())
                .filter(|k| !k.is_empty())
        })
}

/// The error for a body that is not JSON.
pub(crate) fn unparsable_body() -> GeminiError {
    GeminiError::invalid(
        "Invalid JSON payload received. Unexpected token.\n\nExpected a JSON object.",
    )
}

/// The answer to a path or method the API does not serve.
pub(crate) fn not_found(path: &str) -> GeminiError {
    GeminiError {
        status: StatusCode::NOT_FOUND,
        code: "NOT_FOUND",
        message: format!("The requested URL {path} was not found on this server."),
        details: Vec::new(),
    }
}

/// The 429 a `RateLimited` fault stands for, with the `google.rpc.RetryInfo` detail Google
/// attaches to quota errors.
pub(crate) fn rate_limited(retry_after_secs: u64) -> GeminiError {
    GeminiError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "RESOURCE_EXHAUSTED",
        message: "You exceeded your current quota, please check your plan and billing details."
            .to_owned(),
        details: vec![
            json!({
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]
            }),
            json!({
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": format!("{retry_after_secs}s")
            }),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let h = HeaderMap::new();
        let post = Method::POST;
        assert_eq!(
            Route::of(
                &post,
                "/v1beta/models/gemini-2.5-flash:generateContent",
                &h,
                None
            ),
            Some(Route::Generate("gemini-2.5-flash"))
        );
        assert_eq!(
            Route::of(
                &post,
                "/genai/v1beta/models/m:streamGenerateContent",
                &h,
                Some("alt=sse")
            ),
            Some(Route::Stream("m"))
        );
        assert_eq!(
            Route::of(&post, "/v1beta/models/m:frobnicate", &h, None),
            Some(Route::Unknown)
        );
        assert_eq!(
            Route::of(&Method::GET, "/v1beta/models", &h, None),
            Some(Route::Models)
        );
        assert_eq!(
            Route::of(&Method::GET, "/v1beta/models/gemini-2.5-pro", &h, None),
            Some(Route::Model("gemini-2.5-pro"))
        );
        assert_eq!(Route::of(&Method::GET, "/v1/models", &h, None), None);
        assert_eq!(
            Route::of(&Method::GET, "/v1/models", &h, Some("key=abc")),
            Some(Route::Models)
        );
        assert_eq!(query_param(Some("alt=sse&key=k"), "alt"), Some("sse"));
    }

    #[test]
    fn statuses() {
        for (status, name) in [
            (400, "INVALID_ARGUMENT"),
            (403, "PERMISSION_DENIED"),
            (404, "NOT_FOUND"),
            (429, "RESOURCE_EXHAUSTED"),
            (500, "INTERNAL"),
            (503, "UNAVAILABLE"),
            (504, "DEADLINE_EXCEEDED"),
            (502, "INTERNAL"),
            (418, "FAILED_PRECONDITION"),
        ] {
            let e = GeminiError::from_status(status, "");
            assert_eq!((e.status.as_u16(), e.code), (status, name));
        }
        let body: Value = serde_json::from_slice(&rate_limited(3).body()).unwrap();
        assert_eq!(body["error"]["details"][1]["retryDelay"], "3s");
    }
}
