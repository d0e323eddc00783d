//! Estimating the tokens of a stream the client left before its final usage arrived.
//!
//! Providers report usage in a stream's last event; a client that disconnects earlier still
//! made the provider generate what was forwarded so far, so the gateway charges an estimate:
//! output tokens = characters of generated text forwarded ÷ 4 (rounded up), input tokens = the
//! request body sent upstream ÷ 4 bytes (the rule budgets reserve with). The request is then
//! marked `usage_estimated` on its context and log line.

use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// Characters per token assumed by the estimates (OpenAI's rule of thumb for English text).
pub(crate) const CHARS_PER_TOKEN: u64 = 4;

/// Tokens for `chars` characters (or bytes) of text.
pub(crate) fn tokens_of(chars: u64) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN)
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(default, borrow)]
    choices: Option<Vec<Choice<'a>>>,
    /// Responses-API `*.delta` events (text, reasoning, function-call arguments).
    #[serde(default, borrow)]
    delta: Option<DeltaText<'a>>,
}

/// A Responses event's `delta`: generated text, or something else (ignored).
#[derive(Deserialize)]
#[serde(untagged)]
enum DeltaText<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// Text completions stream `text`.
    #[serde(default, borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(default, borrow)]
    content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tool_calls: Option<Vec<ToolCall<'a>>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(default, borrow)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    arguments: Option<Cow<'a, str>>,
}

/// Characters of generated text in one SSE event (an OpenAI chunk or a Responses event);
/// 0 for events that carry none or are not JSON.
pub(crate) fn generated_chars(event: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(event);
    let mut total = 0u64;
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let Ok(parsed) = serde_json::from_str::<Event<'_>>(data.trim_start()) else {
            continue;
        };
        let n = |s: &Option<Cow<'_, str>>| s.as_deref().map_or(0, |s| s.chars().count() as u64);
        if let Some(DeltaText::Text(t)) = &parsed.delta {
            total += t.chars().count() as u64;
        }
        for choice in parsed.choices.iter().flatten() {
            total += n(&choice.text);
            if let Some(d) = &choice.delta {
                total += n(&d.content) + n(&d.reasoning_content) + n(&d.reasoning) + n(&d.refusal);
                for call in d.tool_calls.iter().flatten() {
                    if let Some(f) = &call.function {
                        total += n(&f.name) + n(&f.arguments);
                    }
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_generated_text_of_chunks_and_events() {
        let chunk = br#"data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hello, wo"}}]}

"#;
        assert_eq!(generated_chars(chunk), 9);
        let nulls = br#"data: {"choices":[{"delta":{"role":null,"content":"abcd","tool_calls":null},"logprobs":null}],"usage":null}"#;
        assert_eq!(generated_chars(nulls), 4);
        let tool = br#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}

"#;
        assert_eq!(generated_chars(tool), 1 + 7);
        let text = br#"data: {"choices":[{"text":"abc","index":0}]}"#;
        assert_eq!(generated_chars(text), 3);
        let responses = b"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"h\xc3\xa9llo\"}\n\n";
        assert_eq!(generated_chars(responses), 5, "characters, not bytes");
        assert_eq!(generated_chars(b"data: [DONE]\n\n"), 0);
        assert_eq!(generated_chars(b": keep-alive\n\n"), 0);
        assert_eq!(tokens_of(9), 3);
        assert_eq!(tokens_of(0), 0);
    }
}
