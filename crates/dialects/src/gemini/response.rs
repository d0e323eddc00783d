//! Responses: Gemini `generateContent` to unified (OpenAI-shaped) and back, with the finish
//! reason and usage mappings the stream conversions share.

use super::error::{ConvertError, finish_failure};
use super::parts::{assistant_from_parts, assistant_to_parts};
use super::types::{
    Candidate, Content as GeminiContent, GenerateContentResponse, PromptFeedback, UsageMetadata,
};
use asbru_schema::GatewayError;
use asbru_schema::chat::{
    AssistantMessage, ChatResponse, ChatUsage, Choice, CompletionTokensDetails, Content,
    FinishReason, Message, Nullable, PromptTokensDetails,
};
use serde_json::{Map, Value};

/// The OpenAI `finish_reason` for a Gemini `finishReason`.
///
/// | Gemini | OpenAI | why |
/// |---|---|---|
/// | `STOP` | `stop`, or `tool_calls` when the turn calls functions | Gemini has no separate reason for a function-call turn |
/// | `MAX_TOKENS` | `length` | |
/// | `SAFETY`, `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, `IMAGE_SAFETY`, `IMAGE_PROHIBITED_CONTENT`, `IMAGE_RECITATION` | `content_filter` | output withheld by a filter |
/// | `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`, `TOO_MANY_TOOL_CALLS` | an error, see [`finish_failure`] | no usable answer |
/// | `FINISH_REASON_UNSPECIFIED` | none | |
/// | anything else (`LANGUAGE`, `OTHER`, …) | passed through, lower-cased | better shown than guessed |
pub fn finish_reason_from_gemini(reason: &str, calls_functions: bool) -> Option<FinishReason> {
    Some(match reason {
        "STOP" if calls_functions => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        "FINISH_REASON_UNSPECIFIED" | "" => return None,
        other => FinishReason::Other(other.to_ascii_lowercase()),
    })
}

/// The Gemini `finishReason` for an OpenAI `finish_reason` (the inverse of
/// [`finish_reason_from_gemini`]; `content_filter` becomes `SAFETY`).
pub fn finish_reason_to_gemini(finish: &FinishReason) -> String {
    match finish {
        FinishReason::Stop | FinishReason::ToolCalls | FinishReason::FunctionCall => {
            "STOP".to_owned()
        }
        FinishReason::Length => "MAX_TOKENS".to_owned(),
        FinishReason::ContentFilter => "SAFETY".to_owned(),
        FinishReason::Other(s) => s.to_ascii_uppercase(),
    }
}

/// Unified usage for Gemini usage.
///
/// `prompt_tokens` is `promptTokenCount` (which already includes cached tokens) plus
/// `toolUsePromptTokenCount`; `completion_tokens` is `candidatesTokenCount` plus
/// `thoughtsTokenCount`, since OpenAI counts reasoning inside completion tokens;
/// `cachedContentTokenCount` becomes `cached_tokens` and `thoughtsTokenCount`
/// `reasoning_tokens`. `total_tokens` is Google's total when given.
pub fn usage_from_gemini(u: &UsageMetadata) -> ChatUsage {
    let prompt = u.prompt_token_count.unwrap_or(0) + u.tool_use_prompt_token_count.unwrap_or(0);
    let thoughts = u.thoughts_token_count;
    let completion = u.candidates_token_count.unwrap_or(0) + thoughts.unwrap_or(0);
    ChatUsage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: u.total_token_count.unwrap_or(prompt + completion),
        prompt_tokens_details: u
            .cached_content_token_count
            .map(|cached| PromptTokensDetails {
                cached_tokens: Some(cached),
                cache_write_tokens: None,
                extra: Map::new(),
            }),
        completion_tokens_details: thoughts.map(|t| CompletionTokensDetails {
            reasoning_tokens: Some(t),
            extra: Map::new(),
        }),
        extra: Map::new(),
    }
}

/// Gemini usage for unified usage (the inverse of [`usage_from_gemini`]).
pub fn usage_to_gemini(u: &ChatUsage) -> UsageMetadata {
    let reasoning = u
        .completion_tokens_details
        .as_ref()
        .and_then(|d| d.reasoning_tokens);
    UsageMetadata {
        prompt_token_count: Some(u.prompt_tokens),
        candidates_token_count: Some(u.completion_tokens.saturating_sub(reasoning.unwrap_or(0))),
        cached_content_token_count: u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens),
        thoughts_token_count: reasoning,
        tool_use_prompt_token_count: None,
        total_token_count: Some(u.total_tokens),
        extra: Map::new(),
    }
}

/// What a blocked prompt (`promptFeedback.blockReason`, no candidates) means.
///
/// A block for content (`SAFETY`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `IMAGE_SAFETY`) is answered
/// as OpenAI answers filtered output: an empty message with `finish_reason: content_filter`, so
/// clients handle it the way they already do. A block for an unspecified reason (`OTHER`) says
/// nothing a client can act on and becomes a 400 error carrying the reason.
pub fn prompt_block(feedback: &PromptFeedback) -> Option<Result<FinishReason, GatewayError>> {
    let reason = feedback.block_reason.as_deref()?;
    Some(match reason {
        "SAFETY" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "IMAGE_SAFETY" => {
            Ok(FinishReason::ContentFilter)
        }
        other => Err(GatewayError::upstream(
            400,
            format!("Gemini blocked the prompt (blockReason {other})"),
            Some("INVALID_ARGUMENT".to_owned()),
            Some(other.to_owned()),
            None,
        )),
    })
}

/// Converts a Gemini answer into a unified response: one choice per candidate.
///
/// `created` is the Unix time to report (Gemini answers carry none). The id is Google's
/// `responseId` and the model its `modelVersion`. Each candidate's parts become an assistant
/// message as [`super::parts`] describes (tool calls without Google ids get stable generated
/// ones), its finish reason maps through [`finish_reason_from_gemini`], and usage through
/// [`usage_from_gemini`]. A candidate that finished with a failure reason, a prompt blocked for
/// no stated cause, or an answer without candidates is an error, never an empty `stop`.
pub fn from_gemini(
    resp: &GenerateContentResponse,
    created: u64,
) -> Result<ChatResponse, GatewayError> {
    let id = resp.response_id.clone().unwrap_or_default();
    let model = resp.model_version.clone().unwrap_or_default();
    let mut choices = Vec::with_capacity(resp.candidates.len().max(1));
    if resp.candidates.is_empty() {
        let finish = match resp.prompt_feedback.as_ref().and_then(prompt_block) {
            Some(result) => result?,
            None => {
                return Err(GatewayError::upstream(
                    502,
                    "Gemini answered without any candidate",
                    Some("INTERNAL".to_owned()),
                    None,
                    None,
                ));
            }
        };
        choices.push(Choice {
            index: 0,
            message: Message::Assistant(AssistantMessage {
                content: Nullable::Value(Content::Text(String::new())),
                ..AssistantMessage::default()
            }),
            finish_reason: Some(finish),
            extra: logprobs_null(),
        });
    }
    for (position, candidate) in resp.candidates.iter().enumerate() {
        choices.push(choice(candidate, position, &id)?);
    }
    Ok(ChatResponse {
        id,
        object: ChatResponse::OBJECT.to_owned(),
        created,
        model,
        choices,
        usage: resp.usage_metadata.as_ref().map(usage_from_gemini),
        extra: Map::new(),
    })
}

fn logprobs_null() -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("logprobs".to_owned(), Value::Null);
    extra
}

fn choice(candidate: &Candidate, position: usize, id: &str) -> Result<Choice, GatewayError> {
    if let Some(reason) = candidate.finish_reason.as_deref()
        && let Some(err) = finish_failure(reason, candidate.finish_message.as_deref())
    {
        return Err(err);
    }
    let index = candidate
        .index
        .unwrap_or_else(|| u32::try_from(position).unwrap_or(u32::MAX));
    let seed = format!("{id}/{index}");
    let parts = candidate.content.as_ref().map_or(&[][..], |c| &c.parts[..]);
    let message = assistant_from_parts(parts, &seed);
    let calls = message.tool_calls.is_some();
    Ok(Choice {
        index,
        message: Message::Assistant(message),
        finish_reason: candidate
            .finish_reason
            .as_deref()
            .and_then(|r| finish_reason_from_gemini(r, calls)),
        extra: logprobs_null(),
    })
}

/// Converts a unified response into a Gemini answer (for the `/genai` drop-in routes): one
/// candidate per choice, parts as [`super::parts`] builds them (signatures restored), the
/// finish reason through [`finish_reason_to_gemini`], usage through [`usage_to_gemini`],
/// `responseId` from the id and `modelVersion` from the model.
pub fn to_gemini(resp: &ChatResponse) -> Result<GenerateContentResponse, ConvertError> {
    if resp.choices.is_empty() {
        return Err(ConvertError::NoChoices);
    }
    let mut candidates = Vec::with_capacity(resp.choices.len());
    for choice in &resp.choices {
        let Message::Assistant(m) = &choice.message else {
            return Err(ConvertError::Unsupported(format!(
                "a `{}` message as a response",
                choice.message.role()
            )));
        };
        let parts = assistant_to_parts(m, false)?;
        candidates.push(Candidate {
            content: Some(GeminiContent::new("model", parts)),
            finish_reason: choice.finish_reason.as_ref().map(finish_reason_to_gemini),
            index: Some(choice.index),
            finish_message: None,
            extra: Map::new(),
        });
    }
    Ok(GenerateContentResponse {
        candidates,
        prompt_feedback: None,
        usage_metadata: resp.usage.as_ref().map(usage_to_gemini),
        model_version: (!resp.model.is_empty()).then(|| resp.model.clone()),
        response_id: (!resp.id.is_empty()).then(|| resp.id.clone()),
        extra: Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        assert_eq!(
            finish_reason_from_gemini("STOP", true),
            Some(FinishReason::ToolCalls)
        );
        assert_eq!(
            finish_reason_from_gemini("STOP", false),
            Some(FinishReason::Stop)
        );
        assert_eq!(
            finish_reason_from_gemini("MAX_TOKENS", false),
            Some(FinishReason::Length)
        );
        for r in [
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
        ] {
            assert_eq!(
                finish_reason_from_gemini(r, false),
                Some(FinishReason::ContentFilter)
            );
        }
        assert_eq!(
            finish_reason_from_gemini("LANGUAGE", false),
            Some(FinishReason::Other("language".into()))
        );
        assert_eq!(
            finish_reason_from_gemini("FINISH_REASON_UNSPECIFIED", false),
            None
        );
        for f in [
            FinishReason::Stop,
            FinishReason::Length,
            FinishReason::ContentFilter,
        ] {
            let back = finish_reason_from_gemini(&finish_reason_to_gemini(&f), false);
            assert_eq!(back, Some(f));
        }
    }

    #[test]
    fn usage_both_ways() {
        let g = UsageMetadata {
            prompt_token_count: Some(100),
            candidates_token_count: Some(20),
            cached_content_token_count: Some(60),
            thoughts_token_count: Some(30),
            tool_use_prompt_token_count: None,
            total_token_count: Some(150),
            extra: Map::new(),
        };
        let u = usage_from_gemini(&g);
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (100, 50, 150)
        );
        assert_eq!(u.cached_tokens(), 60);
        assert_eq!(u.reasoning_tokens(), 30);
        assert_eq!(usage_to_gemini(&u), g);
    }
}
