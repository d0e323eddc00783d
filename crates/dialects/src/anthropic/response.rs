//! Responses: Anthropic Messages to unified (OpenAI-shaped) and back, with the stop-reason and
//! usage mappings the stream conversions share.

use super::error::ConvertError;
use super::request::assistant_from_blocks;
use super::types::{
    ContentBlock, MessagesResponse, RedactedThinkingBlock, Role, ThinkingBlock, ToolUseBlock,
    Usage as AnthropicUsage,
};
use asbru_schema::chat::{
    ChatResponse, ChatUsage, Choice, Content, ContentPart, FinishReason, Message,
    PromptTokensDetails, reasoning_detail_type,
};
use serde_json::{Map, Value, json};

/// The OpenAI `finish_reason` for an Anthropic `stop_reason`.
///
/// | Anthropic | OpenAI | why |
/// |---|---|---|
/// | `end_turn`, `stop_sequence` | `stop` | natural end; the matched sequence goes in the choice's `stop` (Bifrost's field) |
/// | `max_tokens`, `model_context_window_exceeded` | `length` | output cut by a limit |
/// | `tool_use` | `tool_calls` | waiting for tool results |
/// | `refusal` | `content_filter` | output withheld for safety |
/// | `pause_turn` | `stop` | a server tool paused a long turn; OpenAI has no such state, and the content so far is complete as far as it goes (the client may send it back to continue) |
/// | anything else | passed through | a future reason is better shown than guessed |
pub fn finish_reason_from_anthropic(stop_reason: &str) -> FinishReason {
    match stop_reason {
        "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The Anthropic `stop_reason` for an OpenAI `finish_reason`: the inverse of
/// [`finish_reason_from_anthropic`], with `stop` becoming `stop_sequence` when the matched
/// sequence is known.
pub fn stop_reason_to_anthropic(finish: &FinishReason, stop_sequence: Option<&str>) -> String {
    match finish {
        FinishReason::Stop if stop_sequence.is_some() => "stop_sequence",
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls | FinishReason::FunctionCall => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(s) => s,
    }
    .to_owned()
}

/// Unified usage for Anthropic usage.
///
/// Anthropic's `input_tokens` excludes cache reads and writes; OpenAI's `prompt_tokens` includes
/// every input token. So `prompt_tokens` is the sum of the three, `cached_tokens` is
/// `cache_read_input_tokens` and `cache_write_tokens` is `cache_creation_input_tokens`.
/// Anthropic does not report thinking tokens apart from output tokens, so
/// `completion_tokens_details` stays absent rather than claiming zero.
pub fn usage_from_anthropic(usage: &AnthropicUsage) -> ChatUsage {
    let cache_read = usage.cache_read_input_tokens;
    let cache_write = usage.cache_creation_input_tokens;
    let prompt = usage.input_tokens + cache_read.unwrap_or(0) + cache_write.unwrap_or(0);
    ChatUsage {
        prompt_tokens: prompt,
        completion_tokens: usage.output_tokens,
        total_tokens: prompt + usage.output_tokens,
        prompt_tokens_details: (cache_read.is_some() || cache_write.is_some()).then(|| {
            PromptTokensDetails {
                cached_tokens: Some(cache_read.unwrap_or(0)),
                cache_write_tokens: cache_write,
                extra: Map::new(),
            }
        }),
        completion_tokens_details: None,
        extra: Map::new(),
    }
}

/// Anthropic usage for unified usage (the inverse of [`usage_from_anthropic`]).
pub fn usage_to_anthropic(usage: &ChatUsage) -> AnthropicUsage {
    let details = usage.prompt_tokens_details.as_ref();
    let cache_read = details.and_then(|d| d.cached_tokens);
    let cache_write = details.and_then(|d| d.cache_write_tokens);
    AnthropicUsage {
        input_tokens: usage
            .prompt_tokens
            .saturating_sub(cache_read.unwrap_or(0))
            .saturating_sub(cache_write.unwrap_or(0)),
        output_tokens: usage.completion_tokens,
        cache_creation_input_tokens: cache_write,
        cache_read_input_tokens: cache_read,
        extra: Map::new(),
    }
}

/// Converts an Anthropic response into a unified one-choice response.
///
/// `created` is the Unix time to report (Anthropic responses carry none, and this module does no
/// IO). Text blocks are joined into `content`; `tool_use` blocks become `tool_calls` with the
/// input as JSON text; `thinking` and `redacted_thinking` become `reasoning` plus
/// `reasoning_details` with their signatures. Server-tool blocks (`server_tool_use`,
/// `web_search_tool_result`) have no OpenAI form and are left out.
pub fn from_anthropic(resp: &MessagesResponse, created: u64) -> ChatResponse {
    let message = assistant_from_blocks(&resp.content);
    let mut choice_extra = Map::new();
    if let Some(seq) = &resp.stop_sequence {
        choice_extra.insert("stop".to_owned(), Value::String(seq.clone()));
    }
    choice_extra.insert("logprobs".to_owned(), Value::Null);
    ChatResponse {
        id: resp.id.clone(),
        object: ChatResponse::OBJECT.to_owned(),
        created,
        model: resp.model.clone(),
        choices: vec![Choice {
            index: 0,
            message: Message::Assistant(message),
            finish_reason: resp
                .stop_reason
                .as_deref()
                .map(finish_reason_from_anthropic),
            extra: choice_extra,
        }],
        usage: Some(usage_from_anthropic(&resp.usage)),
        extra: Map::new(),
    }
}

/// Converts a unified response into an Anthropic response (for the `/anthropic` drop-in routes).
///
/// Only the first choice is used (Anthropic has one). Reasoning blocks come first (signed ones as
/// `thinking`, encrypted ones as `redacted_thinking`; reasoning text without details becomes one
/// `thinking` block with an empty signature, since Anthropic's SDKs require the field), then the
/// text, then `tool_use` blocks with the arguments parsed into an object.
pub fn to_anthropic(resp: &ChatResponse) -> Result<MessagesResponse, ConvertError> {
    let choice = resp.choices.first().ok_or(ConvertError::NoChoices)?;
    let mut content = Vec::new();
    let Message::Assistant(m) = &choice.message else {
        return Err(ConvertError::Unsupported(format!(
            "a `{}` message as a response",
            choice.message.role()
        )));
    };
    match &m.reasoning_details {
        Some(details) if !details.is_empty() => {
            for d in details {
                match d.kind.as_str() {
                    reasoning_detail_type::ENCRYPTED => {
                        if let Some(data) = &d.data {
                            content.push(ContentBlock::RedactedThinking(RedactedThinkingBlock {
                                data: data.clone(),
                                extra: Map::new(),
                            }));
                        }
                    }
                    _ => {
                        let text = d.text.clone().or_else(|| d.summary.clone());
                        if text.is_some() || d.signature.is_some() {
                            content.push(ContentBlock::Thinking(ThinkingBlock {
                                thinking: text.unwrap_or_default(),
                                signature: Some(super::client_signature(d).unwrap_or_default()),
                                extra: Map::new(),
                            }));
                        }
                    }
                }
            }
        }
        _ => {
            if let Some(reasoning) = m.reasoning_text().filter(|r| !r.is_empty()) {
                content.push(ContentBlock::Thinking(ThinkingBlock {
                    thinking: reasoning.to_owned(),
                    signature: Some(String::new()),
                    extra: Map::new(),
                }));
            }
        }
    }
    match m.content.value() {
        Some(Content::Text(t)) if !t.is_empty() => content.push(ContentBlock::text(t.clone())),
        Some(Content::Parts(parts)) => {
            for part in parts {
                if let ContentPart::Text(t) = part
                    && !t.text.is_empty()
                {
                    content.push(ContentBlock::text(t.text.clone()));
                }
            }
        }
        _ => {}
    }
    for call in m.tool_calls.iter().flatten() {
        let text = call.function.arguments.trim();
        let input = if text.is_empty() {
            json!({})
        } else {
            serde_json::from_str(text).map_err(|source| ConvertError::InvalidToolArguments {
                id: call.id.clone(),
                source,
            })?
        };
        content.push(ContentBlock::ToolUse(ToolUseBlock {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input,
            extra: Map::new(),
        }));
    }

    let stop_sequence = choice
        .extra
        .get("stop")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(MessagesResponse {
        id: resp.id.clone(),
        kind: "message".to_owned(),
        role: Role::Assistant,
        content,
        model: resp.model.clone(),
        stop_reason: choice
            .finish_reason
            .as_ref()
            .map(|f| stop_reason_to_anthropic(f, stop_sequence.as_deref())),
        stop_sequence,
        usage: resp
            .usage
            .as_ref()
            .map(usage_to_anthropic)
            .unwrap_or_default(),
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_map_both_ways() {
        let table = [
            ("end_turn", FinishReason::Stop),
            ("max_tokens", FinishReason::Length),
            ("tool_use", FinishReason::ToolCalls),
            ("refusal", FinishReason::ContentFilter),
        ];
        for (anthropic, openai) in table {
            assert_eq!(finish_reason_from_anthropic(anthropic), openai);
            assert_eq!(stop_reason_to_anthropic(&openai, None), anthropic);
        }
        assert_eq!(
            finish_reason_from_anthropic("stop_sequence"),
            FinishReason::Stop
        );
        assert_eq!(
            stop_reason_to_anthropic(&FinishReason::Stop, Some("END")),
            "stop_sequence"
        );
        assert_eq!(
            finish_reason_from_anthropic("pause_turn"),
            FinishReason::Stop
        );
        assert_eq!(
            finish_reason_from_anthropic("model_context_window_exceeded"),
            FinishReason::Length
        );
        assert_eq!(
            finish_reason_from_anthropic("something_new"),
            FinishReason::Other("something_new".into())
        );
    }

    #[test]
    fn usage_counts_cache_in_prompt_tokens_and_back() {
        let a = AnthropicUsage {
            input_tokens: 10,
            output_tokens: 5,
            cache_creation_input_tokens: Some(100),
            cache_read_input_tokens: Some(1000),
            extra: Map::new(),
        };
        let u = usage_from_anthropic(&a);
        assert_eq!(u.prompt_tokens, 1110);
        assert_eq!(u.total_tokens, 1115);
        assert_eq!(u.cached_tokens(), 1000);
        assert_eq!(u.cache_write_tokens(), 100);
        assert_eq!(usage_to_anthropic(&u), a);
    }
}
