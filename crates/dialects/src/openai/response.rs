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
    /// Attempts that failed and were retried before this answer (`network_config.max_retries`);
    /// absent when the first attempt succeeded.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Which entry of the request's `fallbacks` served it (1 = the first); absent when the
    /// primary model did.
    #[serde(skip_serializing_if = "is_zero")]
    pub fallback_index: u32,
    /// Milliseconds the gateway itself spent on the request so far: everything but reading the
    /// client's body and waiting for the provider (asbru's own field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overhead_ms: Option<f64>,
    /// What the request cost in USD, from its usage and the built-in price list: on a JSON
    /// answer, and on the stream chunk that carries the usage; absent when the usage or the
    /// model's price is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// The routing rule that chose the target (Bifrost's `routing_rule_id`); absent when none.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub routing_rule_id: &'a str,
    /// Its name (`routing_rule_name`).
    #[serde(skip_serializing_if = "str::is_empty")]
    pub routing_rule_name: &'a str,
    /// The routing engines that decided where the request went (`routing-rule`, `governance`),
    /// written comma-separated and sent as Bifrost's `routing_engines_used` list; absent when
    /// the request went where it asked.
    #[serde(skip_serializing_if = "str::is_empty", serialize_with = "comma_list")]
    pub routing_engines_used: &'a str,
}

/// `a,b` as `["a","b"]`.
fn comma_list<S: serde::Serializer>(list: &&str, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.split(',').filter(|x| !x.is_empty()))
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the gateway learns from a provider's JSON response while validating it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponseCheck {
    pub usage: Option<Usage>,
}

/// Why a provider's answer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedResponse(pub String);

impl std::fmt::Display for MalformedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks that `body` is a JSON object and reads its top-level `usage`, without parsing the rest.
///
/// A full validating parse of every answer cost about a fifth of the gateway's own CPU per
/// request (measured with callgrind); the answer is forwarded byte for byte anyway, so only what
/// the gateway uses is parsed: the object's braces (which catches truncated bodies) and the
/// `usage` object. OpenAI-compatible servers put `usage` after `choices`, so it is searched from
/// the end; an occurrence inside a string is escaped (`\"usage\"`) and skipped.
pub fn check_response(body: &[u8]) -> Result<ResponseCheck, MalformedResponse> {
    let trimmed = body.trim_ascii();
    if !(trimmed.starts_with(b"{") && trimmed.ends_with(b"}")) {
        return Err(MalformedResponse(format!(
            "expected a JSON object, got {} bytes starting with {:?}",
            body.len(),
            String::from_utf8_lossy(&trimmed[..trimmed.len().min(40)])
        )));
    }
    Ok(ResponseCheck {
        usage: find_usage(trimmed)?,
    })
}

/// Checks a Responses-API `response` object as [`check_response`] checks a chat completion,
/// reading its `usage` in that API's names (`input_tokens`, `output_tokens`). A `usage` that
/// does not read as one (a `metadata` key of that name, say) only leaves usage unknown: the
/// answer itself is forwarded as it is.
pub fn check_responses_answer(body: &[u8]) -> Result<ResponseCheck, MalformedResponse> {
    let trimmed = body.trim_ascii();
    if !(trimmed.starts_with(b"{") && trimmed.ends_with(b"}")) {
        return Err(MalformedResponse(format!(
            "expected a JSON object, got {} bytes starting with {:?}",
            body.len(),
            String::from_utf8_lossy(&trimmed[..trimmed.len().min(40)])
        )));
    }
    let usage = find_last_usage::<super::responses_inspect::ResponsesUsage>(trimmed)
        .ok()
        .flatten()
        .map(Usage::from);
    Ok(ResponseCheck { usage })
}

/// The value of the last unescaped `"usage"` key, if it is an object.
pub(crate) fn find_usage(json: &[u8]) -> Result<Option<Usage>, MalformedResponse> {
    find_last_usage::<Usage>(json)
}

/// The value of the last unescaped `"usage"` key read as `T`, if it is not `null`.
fn find_last_usage<T: serde::de::DeserializeOwned>(
    json: &[u8],
) -> Result<Option<T>, MalformedResponse> {
    let finder = memchr::memmem::FinderRev::new(b"\"usage\"");
    let mut end = json.len();
    while let Some(at) = finder.rfind(&json[..end]) {
        end = at;
        if at > 0 && json[at - 1] == b'\\' {
            continue;
        }
        let rest = json[at + 7..].trim_ascii_start();
        let Some(value) = rest.strip_prefix(b":") else {
            continue;
        };
        let value = value.trim_ascii_start();
        if value.starts_with(b"null") {
            return Ok(None);
        }
        let mut values = serde_json::Deserializer::from_slice(value).into_iter::<T>();
        return match values.next() {
            Some(Ok(usage)) => Ok(Some(usage)),
            Some(Err(e)) => Err(MalformedResponse(format!("invalid `usage`: {e}"))),
            None => Ok(None),
        };
    }
    Ok(None)
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
            retries: 0,
            fallback_index: 0,
            overhead_ms: None,
            cost: None,
            routing_rule_id: "",
            routing_rule_name: "",
            routing_engines_used: "",
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
        // Truncated bodies (a dropped connection, a proxy cutting the answer) are refused.
        assert!(check_response(br#"{"choices":[{"message":{"content":"Hel"#).is_err());
        assert!(check_response(b"<html>oops</html>").is_err());
        assert_eq!(check_response(b"{}").unwrap().usage, None);
        assert_eq!(check_response(br#"{"usage": null}"#).unwrap().usage, None);
        assert!(check_response(br#"{"usage": {"prompt_tokens": "x"}}"#).is_err());
    }

    #[test]
    fn responses_answers_report_usage_in_their_own_names() {
        let body = br#"{"id":"resp_1","object":"response","output":[],
            "usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7},"user":null}"#;
        let usage = check_responses_answer(body).unwrap().usage.unwrap();
        assert_eq!((usage.prompt_tokens, usage.completion_tokens), (5, 2));
        // A metadata key named `usage` leaves usage unknown, never refuses the answer.
        let body = br#"{"id":"resp_1","usage":null,"metadata":{"usage":"batch"}}"#;
        assert_eq!(check_responses_answer(body).unwrap().usage, None);
        assert!(check_responses_answer(br#"{"id":"resp_1""#).is_err());
    }

    #[test]
    fn usage_inside_message_text_is_not_mistaken_for_the_real_one() {
        let body =
            br#"{"choices":[{"message":{"content":"say \"usage\": {\"prompt_tokens\": 99}"}}],
            "usage": {"prompt_tokens": 4, "completion_tokens": 5, "total_tokens": 9},
            "system_fingerprint": "fp"}"#;
        assert_eq!(check_response(body).unwrap().usage.unwrap().total_tokens, 9);
        let body = br#"{"choices":[{"message":{"content":"\"usage\": {\"prompt_tokens\": 99}"}}]}"#;
        assert_eq!(check_response(body).unwrap().usage, None);
    }
}
