//! Reasoning signatures across a drop-in route's client: when the route's dialect carries a
//! signature field (Anthropic's `thinking.signature`, Bedrock's `reasoningText.signature`) and
//! the reasoning was signed by another provider (a Gemini thought signature), the client is given
//! `asbru-sig:{format}:{signature}`. Clients treat signatures as opaque and send them back as
//! they got them, so the route can restore the reasoning's origin and replay it to the provider
//! that signed it — and never to another one, which would refuse it.

use asbru_schema::chat::ReasoningDetail;
use serde_json::{Map, Value};

const PREFIX: &str = "asbru-sig:";

/// The `format` tag of a reasoning entry, if it has one.
pub(crate) fn format_of(detail: &ReasoningDetail) -> Option<&str> {
    detail.extra.get("format").and_then(Value::as_str)
}

/// The signature a client of a dialect whose own reasoning is tagged `own_format` (or untagged)
/// is given for `detail`: its own as it is, another provider's wrapped with its format.
pub(crate) fn for_client(detail: &ReasoningDetail, own_format: &str) -> Option<String> {
    let signature = detail.signature.as_ref()?;
    match format_of(detail) {
        Some(format) if format != own_format && !format.contains(':') => {
            Some(format!("{PREFIX}{format}:{signature}"))
        }
        _ => Some(signature.clone()),
    }
}

/// The `extra` (the `format` tag) and signature of reasoning a client sent back: the origin
/// [`for_client`] wrapped in, else `own` (the dialect's own tag, or nothing).
pub(crate) fn from_client(
    signature: Option<&str>,
    own: Map<String, Value>,
) -> (Map<String, Value>, Option<String>) {
    let unwrapped = signature
        .and_then(|s| s.strip_prefix(PREFIX))
        .and_then(|rest| rest.split_once(':'));
    match unwrapped {
        Some((format, original)) => {
            let mut extra = Map::new();
            extra.insert("format".to_owned(), format.into());
            (extra, Some(original.to_owned()))
        }
        None => (own, signature.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemini_detail() -> ReasoningDetail {
        let mut d = ReasoningDetail {
            signature: Some("CiQB0e2Kb".to_owned()),
            ..ReasoningDetail::default()
        };
        d.extra
            .insert("format".to_owned(), "google-gemini-v1".into());
        d
    }

    #[test]
    fn another_providers_signature_survives_a_client() {
        let given = for_client(&gemini_detail(), "anthropic-claude-v1").unwrap();
        assert_eq!(given, "asbru-sig:google-gemini-v1:CiQB0e2Kb");
        let (extra, back) = from_client(Some(&given), Map::new());
        assert_eq!(back.as_deref(), Some("CiQB0e2Kb"));
        assert_eq!(extra["format"], "google-gemini-v1");
    }

    #[test]
    fn own_and_untagged_signatures_pass_untouched() {
        let untagged = ReasoningDetail {
            signature: Some("EqQBCgIYAh".to_owned()),
            ..ReasoningDetail::default()
        };
        assert_eq!(
            for_client(&untagged, "anthropic-claude-v1").as_deref(),
            Some("EqQBCgIYAh")
        );
        let mut own = Map::new();
        own.insert("format".to_owned(), "anthropic-claude-v1".into());
        let (extra, back) = from_client(Some("EqQBCgIYAh"), own.clone());
        assert_eq!(back.as_deref(), Some("EqQBCgIYAh"));
        assert_eq!(extra, own);
    }
}
