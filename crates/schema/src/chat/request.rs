//! The chat-completion request.

use super::message::Message;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// A chat-completion request in OpenAI's shape (`POST /v1/chat/completions`).
///
/// The parameters every dialect conversion needs are typed; the rest (`n`, `seed`, `logprobs`,
/// `metadata`, `frequency_penalty`, Bifrost's `fallbacks`, provider-specific knobs, …) stay in
/// `extra` and go wherever the target dialect can carry them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// `provider/model` as the client sent it, or the provider's own model name once routed.
    pub model: String,
    pub messages: Vec<Message>,
    /// Kept as a JSON number so `1` is not rewritten as `1.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<Number>,
    /// Legacy output limit; newer OpenAI models want `max_completion_tokens`. Dialects read
    /// [`ChatRequest::output_limit`], which honours both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Output limit including reasoning tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// OpenAI's `none` | `minimal` | `low` | `medium` | `high` (a string, so new levels pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Bifrost's reasoning parameters; `max_tokens` here is an explicit thinking budget, which
    /// dialects with budgets (Anthropic) prefer over `reasoning_effort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// A request with the given model and messages and nothing else.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            ..Self::default()
        }
    }

    /// The output-token limit: `max_completion_tokens` when set, else `max_tokens`.
    pub fn output_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// The requested reasoning effort, from `reasoning_effort` or Bifrost's `reasoning.effort`.
    pub fn effort(&self) -> Option<&str> {
        self.reasoning_effort
            .as_deref()
            .or_else(|| self.reasoning.as_ref()?.effort.as_deref())
    }

    /// True when the client asked for a stream.
    pub fn is_stream(&self) -> bool {
        self.stream == Some(true)
    }
}

/// `stop`: one sequence or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    /// The sequences as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Ask for a final chunk carrying `usage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// `function` for function tools; other types (OpenAI `custom`, provider server tools) keep
    /// their definition in `extra`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDefinition>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Tool {
    /// A function tool.
    pub fn function(
        name: impl Into<String>,
        description: Option<String>,
        parameters: Option<Value>,
    ) -> Self {
        Self {
            kind: "function".to_owned(),
            function: Some(FunctionDefinition {
                name: name.into(),
                description,
                parameters,
                strict: None,
                extra: Map::new(),
            }),
            extra: Map::new(),
        }
    }
}

/// A function tool's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The arguments' JSON Schema, kept as given (key order matters to models and to caches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tool_choice`: a mode string or a named tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(ToolChoiceMode),
    Named(NamedToolChoice),
    /// Shapes asbru does not model (OpenAI's `allowed_tools`, `custom`), kept as they came.
    Other(Value),
}

/// The string forms of `tool_choice`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolChoiceMode {
    /// Never call a tool.
    None,
    /// The model decides.
    Auto,
    /// Call at least one tool.
    Required,
}

/// `{"type": "function", "function": {"name": …}}`: call this tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: NamedFunction,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NamedToolChoice {
    /// Force the named function.
    pub fn function(name: impl Into<String>) -> Self {
        Self {
            kind: "function".to_owned(),
            function: NamedFunction {
                name: name.into(),
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    }
}

/// The function named by a [`NamedToolChoice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedFunction {
    pub name: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text (the default).
    Text {
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// Any valid JSON object.
    JsonObject {
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// JSON matching a schema.
    JsonSchema {
        json_schema: JsonSchemaFormat,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
}

/// The schema of a `json_schema` response format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Bifrost's `reasoning` request object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningConfig {
    /// Explicitly switch reasoning on or off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Same values as `reasoning_effort`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// Thinking budget in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_request_round_trips() {
        let input = json!({
            "model": "openai/gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "temperature": 1,
            "top_p": 0.9,
            "max_tokens": 100,
            "max_completion_tokens": 200,
            "stop": ["a", "b"],
            "stream": true,
            "stream_options": {"include_usage": true},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "parallel_tool_calls": false,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}, "strict": true}},
            "reasoning_effort": "low",
            "reasoning": {"max_tokens": 2048},
            "user": "u",
            "seed": 7,
            "fallbacks": ["anthropic/claude"]
        });
        let r: ChatRequest = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(r.output_limit(), Some(200));
        assert_eq!(r.effort(), Some("low"));
        assert_eq!(r.stop.as_ref().unwrap().to_vec(), vec!["a", "b"]);
        assert!(matches!(r.tool_choice, Some(ToolChoice::Named(_))));
        assert!(matches!(
            r.response_format,
            Some(ResponseFormat::JsonSchema { .. })
        ));
        assert_eq!(r.extra.get("seed"), Some(&json!(7)));
        assert_eq!(serde_json::to_value(&r).unwrap(), input);
    }

    #[test]
    fn tool_choice_forms() {
        let m: ToolChoice = serde_json::from_value(json!("required")).unwrap();
        assert_eq!(m, ToolChoice::Mode(ToolChoiceMode::Required));
        let other =
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}});
        let o: ToolChoice = serde_json::from_value(other.clone()).unwrap();
        assert_eq!(o, ToolChoice::Other(other));
    }

    #[test]
    fn stop_as_string() {
        let r: ChatRequest =
            serde_json::from_value(json!({"model": "m", "messages": [], "stop": "END"})).unwrap();
        assert_eq!(r.stop, Some(Stop::One("END".into())));
    }
}
