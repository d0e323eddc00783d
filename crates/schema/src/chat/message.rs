//! Conversation messages, one variant per role.

use super::content::Content;
use super::nullable::Nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One message of a conversation, selected by its `role`.
///
/// Roles are variants rather than a string so a conversion cannot forget one: what a tool result
/// or a system prompt becomes in another dialect is decided in one `match`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Message {
    System(SystemMessage),
    /// OpenAI's newer name for system instructions (o-series models); other dialects treat it as
    /// a system prompt.
    Developer(SystemMessage),
    User(UserMessage),
    Assistant(AssistantMessage),
    Tool(ToolMessage),
    /// The deprecated `function` role (results of legacy `function_call`s); kept so old clients
    /// still parse.
    Function(FunctionMessage),
}

impl Message {
    /// A system message with plain-text content.
    pub fn system(text: impl Into<String>) -> Self {
        Self::System(SystemMessage {
            content: Content::Text(text.into()),
            name: None,
            extra: Map::new(),
        })
    }

    /// A user message with plain-text content.
    pub fn user(text: impl Into<String>) -> Self {
        Self::User(UserMessage {
            content: Content::Text(text.into()),
            name: None,
            extra: Map::new(),
        })
    }

    /// An assistant message with plain-text content.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::Assistant(AssistantMessage {
            content: Nullable::Value(Content::Text(text.into())),
            ..AssistantMessage::default()
        })
    }

    /// The role as OpenAI spells it.
    pub fn role(&self) -> &'static str {
        match self {
            Self::System(_) => "system",
            Self::Developer(_) => "developer",
            Self::User(_) => "user",
            Self::Assistant(_) => "assistant",
            Self::Tool(_) => "tool",
            Self::Function(_) => "function",
        }
    }
}

/// A `system` or `developer` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMessage {
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `user` message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `assistant` message: in a request, an earlier turn being replayed; in a response, the
/// model's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// `null` when the turn only calls tools (OpenAI sends the explicit `null`).
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// The model's reasoning as plain text (Bifrost's name; DeepSeek and xAI say
    /// `reasoning_content`, which stays in `extra` — see [`AssistantMessage::reasoning_text`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// The reasoning as typed blocks with their provider signatures (Bifrost's
    /// `reasoning_details`). Replaying these unchanged is what lets a provider such as Anthropic
    /// verify its own thinking blocks in the next turn of a tool-using conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_details: Option<Vec<ReasoningDetail>>,
    /// `refusal`, `annotations`, `audio`, `function_call`, … kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AssistantMessage {
    /// The reasoning text under either spelling: Bifrost's `reasoning`, else the
    /// `reasoning_content` that DeepSeek-style providers and clients use.
    pub fn reasoning_text(&self) -> Option<&str> {
        self.reasoning
            .as_deref()
            .or_else(|| self.extra.get("reasoning_content").and_then(Value::as_str))
    }

    /// The content's text, if there is content.
    pub fn text(&self) -> Option<String> {
        self.content.value().map(Content::text)
    }
}

/// A tool's result, answering the assistant's tool call with the same id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolMessage {
    pub content: Content,
    pub tool_call_id: String,
    /// Bifrost's extension: the tool failed. Dialects with an error marker carry it (Anthropic's
    /// `tool_result.is_error`); OpenAI ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A legacy `function` role message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionMessage {
    pub name: String,
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    pub content: Nullable<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A complete tool call made by the assistant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The id the tool's result must quote in `tool_call_id`; dialects keep it unchanged so
    /// a conversation can move between them.
    pub id: String,
    /// Always `function` for function tools (OpenAI's `custom` tools use another shape, kept in
    /// `extra`).
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
    /// Bifrost's `index`, Gemini's `extra_content`, …
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn function_type() -> String {
    "function".to_owned()
}

impl ToolCall {
    /// A function call with the given id, name and JSON arguments text.
    pub fn function(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            kind: function_type(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    }
}

/// The function a tool call invokes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// The arguments as JSON *text*, as OpenAI sends them (models can produce invalid JSON, so the
    /// text is kept rather than parsed).
    #[serde(default)]
    pub arguments: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `type` values of [`ReasoningDetail`] that Bifrost defines.
pub mod reasoning_detail_type {
    /// Reasoning text, possibly with a `signature` (Anthropic `thinking` blocks).
    pub const TEXT: &str = "reasoning.text";
    /// A summary of hidden reasoning (OpenAI reasoning summaries).
    pub const SUMMARY: &str = "reasoning.summary";
    /// Opaque encrypted reasoning in `data` (Anthropic `redacted_thinking` blocks).
    pub const ENCRYPTED: &str = "reasoning.encrypted";
}

/// One reasoning block (Bifrost's `reasoning_details` entry), in a message or a stream delta.
///
/// Field names and `type` values are Bifrost's so Bifrost clients can replay them. In a stream,
/// a delta's entry carries a fragment: text, or the signature once it is known, with `index`
/// telling which block it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningDetail {
    /// One of [`reasoning_detail_type`].
    #[serde(rename = "type")]
    pub kind: String,
    /// Position of the block among the message's reasoning blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The provider's integrity signature over `text`; must be sent back byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Encrypted reasoning (`reasoning.encrypted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_round_trip() {
        let input = json!([
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "x"}]},
            {"role": "user", "content": "hi", "name": "ann"},
            {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
            {"role": "function", "name": "f", "content": "old"},
            {"role": "assistant", "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": ""}}
            ]}
        ]);
        let msgs: Vec<Message> = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(msgs[3].role(), "assistant");
        let Message::Assistant(a) = &msgs[3] else {
            panic!("assistant expected")
        };
        assert_eq!(a.content, Nullable::Null);
        assert_eq!(a.tool_calls.as_ref().unwrap()[0].function.name, "f");
        let Message::Assistant(b) = &msgs[6] else {
            panic!("assistant expected")
        };
        assert_eq!(b.content, Nullable::Absent);
        assert_eq!(serde_json::to_value(&msgs).unwrap(), input);
    }

    #[test]
    fn reasoning_under_both_spellings() {
        let a: Message = serde_json::from_value(json!({
            "role": "assistant", "content": "x", "reasoning_content": "thought"
        }))
        .unwrap();
        let Message::Assistant(a) = a else {
            panic!("assistant expected")
        };
        assert_eq!(a.reasoning_text(), Some("thought"));
    }

    #[test]
    fn unknown_role_is_an_error() {
        let r: Result<Message, _> =
            serde_json::from_value(json!({"role": "robot", "content": "x"}));
        assert!(r.is_err());
    }
}
