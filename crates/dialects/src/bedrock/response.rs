//! Responses: Bedrock Converse to unified (OpenAI-shaped) and back, with the stop-reason and
//! usage mappings the stream conversions share.

use super::error::ConvertError;
use super::request::{assistant_from_blocks, parse_arguments};
use super::types::{
    ContentBlock, ConverseOutput, ConverseResponse, Message as BedrockMessage, Metrics,
    ReasoningContent, ReasoningText, Role, TokenUsage, ToolUseBlock,
};
use asbru_schema::chat::{
    AssistantMessage, ChatResponse, ChatUsage, Choice, Content, ContentPart, FinishReason, Message,
    Nullable, PromptTokensDetails, reasoning_detail_type,
};
use serde_json::{Map, Value};

/// What a Converse answer does not say about itself, and how to read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseOptions {
    /// The response id to report: Converse answers have none, so callers pass the
    /// `x-amzn-requestid` header (or an id of their own).
    pub id: String,
    /// The model to report (the path's `{modelId}`; the body does not repeat it).
    pub model: String,
    /// Unix seconds to report as `created` (this module reads no clock).
    pub created: u64,
    /// The tool that carries a `json_schema` response format
    /// ([`super::request::structured_output_tool`]): its call becomes the message content.
    pub structured_output_tool: Option<String>,
}

/// The OpenAI `finish_reason` for a Bedrock `stopReason`.
///
/// | Bedrock | OpenAI | why |
/// |---|---|---|
/// | `end_turn`, `stop_sequence` | `stop` | natural end (the matched sequence, when the model reports it in `additionalModelResponseFields.stop_sequence`, goes in the choice's `stop`) |
/// | `max_tokens`, `model_context_window_exceeded` | `length` | output cut by a limit |
/// | `tool_use` | `tool_calls` | waiting for tool results |
/// | `guardrail_intervened`, `content_filtered` | `content_filter` | output withheld |
/// | `malformed_tool_use`, `malformed_model_output` | error | the model produced a tool call or output Bedrock could not parse; there is no answer to pass on ([`ConvertError::MalformedOutput`], a retryable 502) |
/// | anything else | passed through | a future reason is better shown than guessed |
pub fn finish_reason_from_bedrock(stop_reason: &str) -> Result<FinishReason, ConvertError> {
    Ok(match stop_reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        "malformed_tool_use" | "malformed_model_output" => {
            return Err(ConvertError::MalformedOutput(stop_reason.to_owned()));
        }
        other => FinishReason::Other(other.to_owned()),
    })
}

/// The Bedrock `stopReason` for an OpenAI `finish_reason`: the inverse of
/// [`finish_reason_from_bedrock`], `stop` becoming `stop_sequence` when a sequence matched.
pub fn stop_reason_to_bedrock(finish: &FinishReason, matched_stop_sequence: bool) -> String {
    match finish {
        FinishReason::Stop if matched_stop_sequence => "stop_sequence",
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls | FinishReason::FunctionCall => "tool_use",
        FinishReason::ContentFilter => "content_filtered",
        FinishReason::Other(s) => s,
    }
    .to_owned()
}

/// Unified usage for Bedrock usage.
///
/// Bedrock's `inputTokens` excludes prompt-cache reads and writes (they are the Anthropic
/// counts, passed through), while OpenAI's `prompt_tokens` counts every input token. So
/// `prompt_tokens` = `inputTokens` + `cacheReadInputTokens` + `cacheWriteInputTokens`,
/// `cached_tokens` = `cacheReadInputTokens`, `cache_write_tokens` = `cacheWriteInputTokens`, and
/// `total_tokens` = prompt + completion. Bedrock does not report reasoning tokens apart from
/// output tokens, so `completion_tokens_details` stays absent rather than claiming zero.
pub fn usage_from_bedrock(usage: &TokenUsage) -> ChatUsage {
    let read = usage.cache_read_input_tokens;
    let write = usage.cache_write_input_tokens;
    let prompt = usage.input_tokens + read.unwrap_or(0) + write.unwrap_or(0);
    ChatUsage {
        prompt_tokens: prompt,
        completion_tokens: usage.output_tokens,
        total_tokens: prompt + usage.output_tokens,
        prompt_tokens_details: (read.is_some() || write.is_some()).then(|| PromptTokensDetails {
            cached_tokens: Some(read.unwrap_or(0)),
            cache_write_tokens: write,
            extra: Map::new(),
        }),
        completion_tokens_details: None,
        extra: Map::new(),
    }
}

/// Bedrock usage for unified usage (the inverse of [`usage_from_bedrock`]; `totalTokens` counts
/// cache reads and writes too, so it equals the unified total).
pub fn usage_to_bedrock(usage: &ChatUsage) -> TokenUsage {
    let details = usage.prompt_tokens_details.as_ref();
    let read = details.and_then(|d| d.cached_tokens);
    let write = details.and_then(|d| d.cache_write_tokens);
    TokenUsage {
        input_tokens: usage
            .prompt_tokens
            .saturating_sub(read.unwrap_or(0))
            .saturating_sub(write.unwrap_or(0)),
        output_tokens: usage.completion_tokens,
        total_tokens: usage.prompt_tokens + usage.completion_tokens,
        cache_read_input_tokens: read,
        cache_write_input_tokens: write,
        extra: Map::new(),
    }
}

/// Converts a Converse response into a unified one-choice response.
///
/// Text blocks are joined into `content`; `toolUse` blocks become `tool_calls` with the input
/// as JSON text; `reasoningContent` becomes `reasoning` plus `reasoning_details` with the
/// signatures (and `redactedContent` as `reasoning.encrypted`). When
/// [`ResponseOptions::structured_output_tool`] is set, that tool's call is the answer: its input
/// becomes the content and a `tool_use` stop becomes `stop`. `metrics.latencyMs` has no OpenAI
/// field and is dropped.
pub fn from_bedrock(
    resp: &ConverseResponse,
    opts: &ResponseOptions,
) -> Result<ChatResponse, ConvertError> {
    let blocks = resp
        .output
        .message
        .as_ref()
        .map(|m| m.content.as_slice())
        .unwrap_or_default();
    let mut message = assistant_from_blocks(blocks);
    let mut finish = finish_reason_from_bedrock(&resp.stop_reason)?;
    if let Some(tool) = &opts.structured_output_tool
        && take_structured_output(&mut message, tool)
        && finish == FinishReason::ToolCalls
        && message.tool_calls.is_none()
    {
        finish = FinishReason::Stop;
    }
    let mut choice_extra = Map::new();
    if let Some(seq) = resp
        .additional_model_response_fields
        .as_ref()
        .and_then(|f| f.get("stop_sequence"))
        .and_then(Value::as_str)
    {
        choice_extra.insert("stop".to_owned(), Value::String(seq.to_owned()));
    }
    choice_extra.insert("logprobs".to_owned(), Value::Null);
    Ok(ChatResponse {
        id: opts.id.clone(),
        object: ChatResponse::OBJECT.to_owned(),
        created: opts.created,
        model: opts.model.clone(),
        choices: vec![Choice {
            index: 0,
            message: Message::Assistant(message),
            finish_reason: Some(finish),
            extra: choice_extra,
        }],
        usage: resp.usage.as_ref().map(usage_from_bedrock),
        extra: Map::new(),
    })
}

/// Moves the structured-output tool's call into the content; true when there was one.
fn take_structured_output(message: &mut AssistantMessage, tool: &str) -> bool {
    let Some(calls) = message.tool_calls.as_mut() else {
        return false;
    };
    let Some(at) = calls.iter().position(|c| c.function.name == tool) else {
        return false;
    };
    let call = calls.remove(at);
    if calls.is_empty() {
        message.tool_calls = None;
    }
    let mut text = message.text().unwrap_or_default();
    text.push_str(&call.function.arguments);
    message.content = Nullable::Value(Content::Text(text));
    true
}

/// Converts a unified response into a Converse response (for the `/bedrock` drop-in route).
///
/// Only the first choice is used (Converse has one). Reasoning comes first (signed or not, as
/// `reasoningText`; encrypted as `redactedContent`), then the text, then `toolUse` blocks with
/// the arguments parsed into JSON. `metrics.latencyMs` is 0: the gateway does not know the
/// provider's latency here, and the field is required.
pub fn to_bedrock(resp: &ChatResponse) -> Result<ConverseResponse, ConvertError> {
    let choice = resp.choices.first().ok_or(ConvertError::NoChoices)?;
    let Message::Assistant(m) = &choice.message else {
        return Err(ConvertError::Unsupported(format!(
            "a `{}` message as a response",
            choice.message.role()
        )));
    };
    let mut content = Vec::new();
    match &m.reasoning_details {
        Some(details) if !details.is_empty() => {
            for d in details {
                if d.kind == reasoning_detail_type::ENCRYPTED {
                    if let Some(data) = &d.data {
                        content.push(ContentBlock::ReasoningContent(
                            ReasoningContent::RedactedContent(data.clone()),
                        ));
                    }
                    continue;
                }
                let text = d.text.clone().or_else(|| d.summary.clone());
                if text.is_some() || d.signature.is_some() {
                    content.push(ContentBlock::ReasoningContent(
                        ReasoningContent::ReasoningText(ReasoningText {
                            text: text.unwrap_or_default(),
                            signature: crate::signature::for_client(
                                d,
                                crate::anthropic::REASONING_FORMAT,
                            ),
                            extra: Map::new(),
                        }),
                    ));
                }
            }
        }
        _ => {
            if let Some(r) = m.reasoning_text().filter(|r| !r.is_empty()) {
                content.push(ContentBlock::ReasoningContent(
                    ReasoningContent::ReasoningText(ReasoningText {
                        text: r.to_owned(),
                        signature: None,
                        extra: Map::new(),
                    }),
                ));
            }
        }
    }
    match m.content.value() {
        Some(Content::Text(t)) if !t.is_empty() => content.push(ContentBlock::Text(t.clone())),
        Some(Content::Parts(parts)) => {
            for part in parts {
                if let ContentPart::Text(t) = part
                    && !t.text.is_empty()
                {
                    content.push(ContentBlock::Text(t.text.clone()));
                }
            }
        }
        _ => {}
    }
    for call in m.tool_calls.iter().flatten() {
        content.push(ContentBlock::ToolUse(ToolUseBlock {
            tool_use_id: call.id.clone(),
            name: call.function.name.clone(),
            input: parse_arguments(call)?,
            extra: Map::new(),
        }));
    }
    let stop_sequence = choice.extra.get("stop").and_then(Value::as_str);
    let stop_reason = choice.finish_reason.as_ref().map_or_else(
        || "end_turn".to_owned(),
        |f| stop_reason_to_bedrock(f, stop_sequence.is_some()),
    );
    Ok(ConverseResponse {
        output: ConverseOutput {
            message: Some(BedrockMessage {
                role: Role::Assistant,
                content,
                extra: Map::new(),
            }),
            extra: Map::new(),
        },
        stop_reason,
        usage: resp.usage.as_ref().map(usage_to_bedrock),
        metrics: Some(Metrics::default()),
        additional_model_response_fields: stop_sequence
            .map(|s| serde_json::json!({"stop_sequence": s})),
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
            ("content_filtered", FinishReason::ContentFilter),
        ];
        for (bedrock, openai) in table {
            assert_eq!(finish_reason_from_bedrock(bedrock).unwrap(), openai);
            assert_eq!(stop_reason_to_bedrock(&openai, false), bedrock);
        }
        assert_eq!(
            finish_reason_from_bedrock("stop_sequence").unwrap(),
            FinishReason::Stop
        );
        assert_eq!(
            stop_reason_to_bedrock(&FinishReason::Stop, true),
            "stop_sequence"
        );
        assert_eq!(
            finish_reason_from_bedrock("guardrail_intervened").unwrap(),
            FinishReason::ContentFilter
        );
        assert_eq!(
            finish_reason_from_bedrock("model_context_window_exceeded").unwrap(),
            FinishReason::Length
        );
        assert!(matches!(
            finish_reason_from_bedrock("malformed_tool_use"),
            Err(ConvertError::MalformedOutput(_))
        ));
        assert!(finish_reason_from_bedrock("malformed_model_output").is_err());
        assert_eq!(
            finish_reason_from_bedrock("new_reason").unwrap(),
            FinishReason::Other("new_reason".into())
        );
    }

    #[test]
    fn usage_counts_cache_in_prompt_tokens_and_back() {
        let b = TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            total_tokens: 1115,
            cache_read_input_tokens: Some(1000),
            cache_write_input_tokens: Some(100),
            extra: Map::new(),
        };
        let u = usage_from_bedrock(&b);
        assert_eq!(u.prompt_tokens, 1110);
        assert_eq!(u.total_tokens, 1115);
        assert_eq!(u.cached_tokens(), 1000);
        assert_eq!(u.cache_write_tokens(), 100);
        assert_eq!(usage_to_bedrock(&u), b);
    }
}
