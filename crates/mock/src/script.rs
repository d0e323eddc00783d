//! Scripted-answer helpers every dialect's mock shares: cutting text to a token budget,
//! splitting it into stream pieces, stand-in signatures, and sample tool arguments.

use crate::openai::base64_encode;
use serde_json::{Map, Value};

/// How deep [`sample`] follows nested schemas.
const MAX_SCHEMA_DEPTH: usize = 8;

/// The first `n` whitespace words of `text`, with the spacing between them.
pub(crate) fn first_words(text: &str, n: u64) -> &str {
    if n == 0 {
        return "";
    }
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                words += 1;
                if words == n {
                    return &text[..i];
                }
            }
            in_word = false;
        } else {
            in_word = true;
        }
    }
    text
}

/// A deterministic stand-in for the opaque signature of a thinking block.
pub(crate) fn signature(model: &str, thinking: &str) -> String {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for b in model.bytes().chain([0]).chain(thinking.bytes()) {
        state ^= u64::from(b);
        state = state.wrapping_mul(0x0100_0000_01b3);
    }
    let bytes: Vec<u8> = (0..6)
        .flat_map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)).to_le_bytes()
        })
        .collect();
    base64_encode(&bytes)
}

/// A value satisfying `schema` in the simple cases tools use (either schema dialect: Google's
/// upper-case type names are read too).
pub(crate) fn sample(schema: &Value, depth: usize) -> Value {
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    let kind = match schema.get("type") {
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_owned(),
        _ if schema.get("properties").is_some() => "object".to_owned(),
        _ => "string".to_owned(),
    };
    match kind.as_str() {
        "object" => {
            let mut out = Map::new();
            let props = schema.get("properties").and_then(Value::as_object);
            if depth >= MAX_SCHEMA_DEPTH {
                return Value::Object(out);
            }
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for (name, prop) in props.into_iter().flatten() {
                if required.is_empty() || required.contains(&name.as_str()) {
                    out.insert(name.clone(), sample(prop, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" if depth < MAX_SCHEMA_DEPTH => Value::Array(vec![sample(
            schema.get("items").unwrap_or(&Value::Null),
            depth + 1,
        )]),
        "array" => Value::Array(Vec::new()),
        "integer" => Value::from(1),
        "number" => Value::from(1.5),
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => Value::String("mock".to_owned()),
    }
}

/// `text` in up to `n` consecutive pieces of near-equal character length, none empty (fewer
/// pieces when the text is shorter than `n` characters).
pub(crate) fn split(text: &str, n: usize) -> Vec<&str> {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let chars = bounds.len() - 1;
    (0..n)
        .map(|i| &text[bounds[i * chars / n]..bounds[(i + 1) * chars / n]])
        .filter(|piece| !piece.is_empty())
        .collect()
}
