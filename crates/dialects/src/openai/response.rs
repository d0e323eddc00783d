//! Checking a provider's JSON response and adding Bifrost's `extra_fields` to it in place.

use asbru_schema::Usage;
use serde::Serialize;

/// Bifrost's `extra_fields`, added to every response and stream chunk the gateway returns.
#[derive(Debug, Clone, Serialize)]
pub struct ExtraFields<'a> {
    /// `chat.completion`, `text.completion`, `embedding`, … (Bifrost's request type names).
    pub request_type: &'a str,
    /// The provider that served the request.
    pub provider: &'a str,
    /// The model as the client named it, without the provider prefix.
    pub model_requested: &'a str,
    /// Milliseconds from receiving the request to this response or chunk.
    pub latency: u64,
    /// Position of this chunk in the stream; absent on non-streaming responses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_index: Option<u64>,
}

/// What the gateway learns from a provider's JSON response while validating it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseCheck {
    pub usage: Option<Usage>,
}

/// Validates that `body` is one well-formed JSON object and reads its `usage`, skipping every
/// other field without building it.
pub fn check_response(body: &[u8]) -> Result<ResponseCheck, serde_json::Error> {
    #[derive(serde::Deserialize)]
    struct Peek {
        usage: Option<Usage>,
    }
    let peek: Peek = serde_json::from_slice(body)?;
    Ok(ResponseCheck { usage: peek.usage })
}

/// Appends `"extra_fields": {…}` as the last member of the JSON object in `body`.
///
/// Returns `None` when `body` does not end with an object (the caller decides what that means);
/// the body is otherwise copied once, never re-serialised.
pub fn append_extra_fields(body: &[u8], extra: &ExtraFields<'_>) -> Option<Vec<u8>> {
    let close = body.iter().rposition(|b| !b.is_ascii_whitespace())?;
    if body[close] != b'}' {
        return None;
    }
    let empty_object = body[..close]
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .is_some_and(|i| body[i] == b'{');
    let mut out = Vec::with_capacity(body.len() + 160);
    out.extend_from_slice(&body[..close]);
    if !empty_object {
        out.push(b',');
    }
    out.extend_from_slice(b"\"extra_fields\":");
    serde_json::to_writer(&mut out, extra).ok()?;
    out.extend_from_slice(&body[close..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn extra() -> ExtraFields<'static> {
        ExtraFields {
            request_type: "chat.completion",
            provider: "openai",
            model_requested: "gpt-4o",
            latency: 12,
            chunk_index: None,
        }
    }

    #[test]
    fn appends_to_object_keeping_the_rest() {
        let body = b"{\"id\":\"x\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,\"total_tokens\":7}}\n";
        let out = append_extra_fields(body, &extra()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "x");
        assert_eq!(v["extra_fields"]["provider"], "openai");
        assert_eq!(v["extra_fields"]["latency"], 12);
        assert!(v["extra_fields"].get("chunk_index").is_none());
        assert!(out.ends_with(b"}\n"));
    }

    #[test]
    fn handles_empty_object_and_rejects_non_objects() {
        let out = append_extra_fields(b"{ }", &extra()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["extra_fields"]["model_requested"], "gpt-4o");
        assert!(append_extra_fields(b"[1]", &extra()).is_none());
        assert!(append_extra_fields(b"", &extra()).is_none());
    }

    #[test]
    fn check_reads_usage_and_rejects_malformed() {
        let c = check_response(br#"{"choices":[{"x":[1,{"y":2}]}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#).unwrap();
        assert_eq!(c.usage.unwrap().total_tokens, 3);
        assert!(check_response(br#"{"choices":[}"#).is_err());
        assert_eq!(check_response(b"{}").unwrap().usage, None);
    }
}
