//! Chat responses: Cohere's `POST /v2/chat` answer to a unified `chat.completion` and back.
//!
//! * `finish_reason`: `COMPLETE` and `STOP_SEQUENCE` are `stop`, `MAX_TOKENS` is `length`,
//!   `TOOL_CALL` is `tool_calls`; `ERROR` and `TIMEOUT` are failures, not answers (see
//!   [`super::error::finish_failure`]); anything else passes through lower-cased.
//! * `usage`: `tokens` (what the model read and wrote) are the OpenAI counts, falling back to
//!   `billed_units`; `cached_tokens` is `prompt_tokens_details.cached_tokens`; `billed_units`
//!   is kept beside the counts so converting back loses nothing.
//! * The message: text blocks are `content`, the `tool_plan` is the content when there is no
//!   text, `thinking` blocks are `reasoning`, tool calls keep their ids.

use super::error::{ConvertError, finish_failure};
use super::request::assistant_from_cohere;
use super::types::{
    AssistantMessage, AssistantResponseMessage, Block, ChatResponse as CohereResponse, Content,
    FunctionCall, ToolCall as CohereToolCall, Units, Usage,
};
use asbru_schema::GatewayError;
use asbru_schema::chat::{
    ChatResponse, ChatUsage, Choice, FinishReason, Message, PromptTokensDetails,
};
use serde_json::{Map, Value};

/// The unified finish reason for Cohere's.
pub fn finish_reason_from_cohere(reason: &str) -> FinishReason {
    match reason {
        "COMPLETE" | "STOP_SEQUENCE" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "TOOL_CALL" => FinishReason::ToolCalls,
        other => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

/// Cohere's finish reason for a unified one; `stop` is `COMPLETE` (a stop sequence and a natural
/// end are one reason on OpenAI's side).
pub fn finish_reason_to_cohere(reason: Option<&FinishReason>) -> String {
    match reason {
        None | Some(FinishReason::Stop) => "COMPLETE",
        Some(FinishReason::Length) => "MAX_TOKENS",
        Some(FinishReason::ToolCalls | FinishReason::FunctionCall) => "TOOL_CALL",
        Some(FinishReason::ContentFilter) => "ERROR",
        Some(FinishReason::Other(o)) => return o.to_ascii_uppercase(),
    }
    .to_owned()
}

/// The unified usage for Cohere's.
pub fn usage_from_cohere(usage: &Usage) -> ChatUsage {
    let pick = |f: fn(&Units) -> Option<u64>| {
        usage
            .tokens
            .as_ref()
            .and_then(f)
            .or_else(|| usage.billed_units.as_ref().and_then(f))
            .unwrap_or(0)
    };
    let prompt = pick(|u| u.input_tokens);
    let completion = pick(|u| u.output_tokens);
    let mut extra = Map::new();
    if let Some(billed) = &usage.billed_units
        && let Ok(v) = serde_json::to_value(billed)
    {
        extra.insert("billed_units".to_owned(), v);
    }
    ChatUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: usage.cached_tokens.map(|c| PromptTokensDetails {
            cached_tokens: Some(c),
            cache_write_tokens: None,
            extra: Map::new(),
        }),
        completion_tokens_details: None,
        extra,
    }
}

/// Cohere's usage for a unified one: the counts as `tokens`, `billed_units` as kept by
/// [`usage_from_cohere`] or else the same counts.
pub fn usage_to_cohere(usage: &ChatUsage) -> Usage {
    let tokens = Units {
        input_tokens: Some(usage.prompt_tokens),
        output_tokens: Some(usage.completion_tokens),
        ..Units::default()
    };
    let billed = usage
        .extra
        .get("billed_units")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_else(|| tokens.clone());
    Usage {
        billed_units: Some(billed),
        tokens: Some(tokens),
        cached_tokens: usage
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens),
        extra: Map::new(),
    }
}

/// The unified response for Cohere's; `created` is the Unix time to report (Cohere gives none).
/// An answer that finished with `ERROR` or `TIMEOUT` is the provider's failure.
pub fn from_cohere(
    resp: &CohereResponse,
    model: &str,
    created: u64,
) -> Result<ChatResponse, GatewayError> {
    if let Some(err) = finish_failure(&resp.finish_reason, None) {
        return Err(err);
    }
    let message = assistant_from_cohere(&resp.message.body);
    Ok(ChatResponse {
        id: resp.id.clone(),
        object: ChatResponse::OBJECT.to_owned(),
        created,
        model: model.to_owned(),
        choices: vec![Choice {
            index: 0,
            message: Message::Assistant(message),
            finish_reason: Some(finish_reason_from_cohere(&resp.finish_reason)),
            extra: Map::new(),
        }],
        usage: resp.usage.as_ref().map(usage_from_cohere),
        extra: Map::new(),
    })
}

/// Cohere's answer for a unified response (the `/cohere/v2/chat` drop-in route): the first
/// choice's message, tool calls with their ids, reasoning as a leading `thinking` block.
pub fn to_cohere(resp: &ChatResponse) -> Result<CohereResponse, ConvertError> {
    let choice = resp.choices.first().ok_or(ConvertError::NoChoices)?;
    let Message::Assistant(m) = &choice.message else {
        return Err(ConvertError::NoChoices);
    };
    let text = m.text().unwrap_or_default();
    let calls: Vec<CohereToolCall> = m
        .tool_calls
        .iter()
        .flatten()
        .map(|c| CohereToolCall {
            id: Some(c.id.clone()),
            kind: "function".to_owned(),
            function: FunctionCall {
                name: Some(c.function.name.clone()),
                arguments: c.function.arguments.clone(),
            },
        })
        .collect();
    let mut blocks = Vec::new();
    if let Some(thinking) = m.reasoning_text().filter(|t| !t.is_empty()) {
        blocks.push(Block::Thinking {
            thinking: thinking.to_owned(),
            extra: Map::new(),
        });
    }
    let mut body = AssistantMessage::default();
    if calls.is_empty() {
        blocks.push(Block::Text {
            text,
            extra: Map::new(),
        });
    } else {
        body.tool_plan = (!text.is_empty()).then_some(text);
        body.tool_calls = Some(calls);
    }
    if !blocks.is_empty() {
        body.content = Some(Content::Blocks(blocks));
    }
    Ok(CohereResponse {
        id: resp.id.clone(),
        finish_reason: finish_reason_to_cohere(choice.finish_reason.as_ref()),
        message: AssistantResponseMessage {
            role: "assistant".to_owned(),
            body,
        },
        usage: resp.usage.as_ref().map(usage_to_cohere),
        extra: Map::<String, Value>::new(),
    })
}
