//! Validation of Converse and ConverseStream bodies, refusing what the real API refuses with a
//! `ValidationException` naming the field (`messages.2.content.0`), and the input-token count.

use super::BedrockError;
use crate::state::count_words;
use serde_json::{Map, Value};

/// Top-level fields the Converse request syntax lists; any other is refused.
const REQUEST_FIELDS: [&str; 10] = [
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "promptVariables",
    "additionalModelResponseFieldPaths",
    "requestMetadata",
    "performanceConfig",
];

/// `inferenceConfig` members.
const INFERENCE_FIELDS: [&str; 4] = ["maxTokens", "temperature", "topP", "stopSequences"];

/// `ContentBlock` union members the API documents.
const BLOCK_MEMBERS: [&str; 11] = [
    "text",
    "image",
    "document",
    "video",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
    "citationsContent",
    "searchResult",
];

const IMAGE_FORMATS: [&str; 4] = ["png", "jpeg", "gif", "webp"];

/// Anthropic's smallest thinking budget, which Bedrock passes on.
const MIN_THINKING_BUDGET: u64 = 1024;

/// What a media block costs in the mock's token accounting.
const MEDIA_TOKENS: u64 = 100;

/// Put in the last user turn's text, `asbru-mock:error=TYPE` makes the answer fail with that
/// exception (`ThrottlingException`, `throttlingException`, …): before the answer for Converse,
/// mid-stream as an exception message for ConverseStream.
pub(crate) const ERROR_DIRECTIVE: &str = "asbru-mock:error=";

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolDef {
    pub(crate) name: String,
    pub(crate) schema: Value,
}

/// `toolConfig.toolChoice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    Auto,
    Any,
    Tool(String),
}

/// A validated request: what the answer depends on.
#[derive(Debug, Clone)]
pub(crate) struct ConverseReq {
    pub(crate) model: String,
    pub(crate) max_tokens: Option<u64>,
    pub(crate) stop_sequences: Vec<String>,
    pub(crate) tools: Vec<ToolDef>,
    pub(crate) tool_choice: Choice,
    pub(crate) thinking: bool,
    /// The last user turn holds `toolResult` blocks: the model answers them in text.
    pub(crate) answers_tool_result: bool,
    pub(crate) input_tokens: u64,
    pub(crate) fail_with: Option<BedrockError>,
}

fn invalid(message: impl Into<String>) -> BedrockError {
    BedrockError::invalid(message)
}

fn extraneous(path: &str, key: &str) -> BedrockError {
    invalid(format!(
        "Malformed input request: {path}extraneous key [{key}] is not permitted, please reformat \
         your input and try again."
    ))
}

fn constraint(path: &str, value: &Value, rule: &str) -> BedrockError {
    invalid(format!(
        "1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: \
         {rule}"
    ))
}

/// Validates a Converse body for `model` (the path's id).
pub(crate) fn parse_converse(body: &Value, model: &str) -> Result<ConverseReq, BedrockError> {
    let Some(obj) = body.as_object() else {
        return Err(super::unparsable_body());
    };
    if let Some(key) = obj.keys().find(|k| !REQUEST_FIELDS.contains(&k.as_str())) {
        return Err(extraneous("", key));
    }
    let mut input_tokens = 0;

    if let Some(system) = obj.get("system") {
        let blocks = system
            .as_array()
            .ok_or_else(|| invalid("system: must be a list of SystemContentBlock objects"))?;
        for (i, block) in blocks.iter().enumerate() {
            let (name, inner) = single_member(block, &format!("system.{i}"))?;
            match name {
                "text" => input_tokens += count_words(text_of(inner, &format!("system.{i}"))?),
                "guardContent" | "cachePoint" => {}
                other => return Err(extraneous(&format!("system.{i}: "), other)),
            }
        }
    }

    let (tools, tool_choice) = match obj.get("toolConfig") {
        None => (Vec::new(), Choice::Auto),
        Some(config) => tool_config(config)?,
    };

    let messages = obj
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("The messages field is required and must be a list."))?;
    if messages.is_empty() {
        return Err(invalid(
            "A conversation must start with a user message. Try again with a conversation that \
             starts with a user message.",
        ));
    }
    let mut previous_role = "";
    let mut previous_tool_uses: Vec<String> = Vec::new();
    let mut answers_tool_result = false;
    let mut fail_with = None;
    let mut uses_tools = false;
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages.{i}");
        let Some(message) = message.as_object() else {
            return Err(invalid(format!("{path}: must be a Message object")));
        };
        if let Some(key) = message.keys().find(|k| *k != "role" && *k != "content") {
            return Err(extraneous(&format!("{path}: "), key));
        }
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(constraint(
                &format!("{path}.member.role"),
                message.get("role").unwrap_or(&Value::Null),
                "Member must satisfy enum value set: [user, assistant]",
            ));
        }
        if i == 0 && role != "user" {
            return Err(invalid(
                "A conversation must start with a user message. Try again with a conversation \
                 that starts with a user message.",
            ));
        }
        if role == previous_role {
            return Err(invalid(
                "A conversation must alternate between user and assistant roles. Make sure the \
                 conversation alternates between user and assistant roles and try again.",
            ));
        }
        let content = message
            .get("content")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "The content field in the Message object at {path} is empty. Add a \
                     ContentBlock object to the content field and try again."
                ))
            })?;
        let mut tool_uses = Vec::new();
        let mut results = Vec::new();
        let mut texts = Vec::new();
        for (j, block) in content.iter().enumerate() {
            let at = format!("{path}.content.{j}");
            let (name, inner) = single_member(block, &at)?;
            match name {
                "text" => {
                    let t = text_of(inner, &at)?;
                    if t.trim().is_empty() {
                        return Err(invalid(format!(
                            "The text field in the ContentBlock object at {at} is blank. Add \
                             text to the text field, and try again."
                        )));
                    }
                    input_tokens += count_words(t);
                    texts.push(t);
                }
                "image" => {
                    image(inner, &at)?;
                    input_tokens += MEDIA_TOKENS;
                }
                "document" | "video" => input_tokens += MEDIA_TOKENS,
                "toolUse" => {
                    uses_tools = true;
                    if role != "assistant" {
                        return Err(invalid(format!(
                            "{at}: toolUse blocks are only allowed in assistant messages."
                        )));
                    }
                    let id = inner
                        .get("toolUseId")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid(format!("{at}.toolUse: toolUseId is required")))?;
                    if inner.get("name").and_then(Value::as_str).is_none() {
                        return Err(invalid(format!("{at}.toolUse: name is required")));
                    }
                    if inner.get("input").is_none() {
                        return Err(invalid(format!("{at}.toolUse: input is required")));
                    }
                    input_tokens += 1 + count_words(&inner["input"].to_string());
                    tool_uses.push(id.to_owned());
                }
                "toolResult" => {
                    uses_tools = true;
                    if role != "user" {
                        return Err(invalid(format!(
                            "{at}: toolResult blocks are only allowed in user messages."
                        )));
                    }
                    let id = inner
                        .get("toolUseId")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            invalid(format!("{at}.toolResult: toolUseId is required"))
                        })?;
                    if !previous_tool_uses.iter().any(|u| u == id) {
                        return Err(invalid(format!(
                            "The toolResult block at {at} has toolUseId {id}, which does not \
                             match any toolUse block of the previous assistant message."
                        )));
                    }
                    if let Some(status) = inner.get("status")
                        && status != "success"
                        && status != "error"
                    {
                        return Err(constraint(
                            &format!("{at}.toolResult.status"),
                            status,
                            "Member must satisfy enum value set: [success, error]",
                        ));
                    }
                    input_tokens +=
                        1 + count_words(&inner.get("content").unwrap_or(&Value::Null).to_string());
                    results.push(id.to_owned());
                }
                "reasoningContent" if role != "assistant" => {
                    return Err(invalid(format!(
                        "{at}: reasoningContent blocks are only allowed in assistant messages."
                    )));
                }
                _ => {}
            }
        }
        if role == "user"
            && let Some(missing) = previous_tool_uses.iter().find(|u| !results.contains(u))
        {
            return Err(invalid(format!(
                "Expected toolResult blocks at {path}.content for the following Ids: \
                     {missing}"
            )));
        }
        if role == "user" {
            answers_tool_result = !results.is_empty();
            fail_with = texts.iter().find_map(|t| directive(t));
        }
        previous_tool_uses = tool_uses;
        previous_role = if role == "user" { "user" } else { "assistant" };
    }
    if uses_tools && obj.get("toolConfig").is_none() {
        return Err(invalid(
            "The toolConfig field must be defined when using toolUse and toolResult content \
             blocks.",
        ));
    }

    let mut max_tokens = None;
    let mut stop_sequences = Vec::new();
    if let Some(config) = obj.get("inferenceConfig") {
        let config = config
            .as_object()
            .ok_or_else(|| invalid("inferenceConfig: must be an object"))?;
        if let Some(key) = config
            .keys()
            .find(|k| !INFERENCE_FIELDS.contains(&k.as_str()))
        {
            return Err(extraneous("inferenceConfig: ", key));
        }
        if let Some(v) = config.get("maxTokens") {
            match v.as_u64() {
                Some(n) if n >= 1 => max_tokens = Some(n),
                _ => {
                    return Err(constraint(
                        "inferenceConfig.maxTokens",
                        v,
                        "Member must have value greater than or equal to 1",
                    ));
                }
            }
        }
        for field in ["temperature", "topP"] {
            if let Some(v) = config.get(field)
                && !v.as_f64().is_some_and(|x| (0.0..=1.0).contains(&x))
            {
                return Err(constraint(
                    &format!("inferenceConfig.{field}"),
                    v,
                    "Member must have value between 0 and 1",
                ));
            }
        }
        if let Some(v) = config.get("stopSequences") {
            let seqs = v
                .as_array()
                .filter(|a| a.iter().all(|s| s.as_str().is_some_and(|s| !s.is_empty())))
                .ok_or_else(|| {
                    constraint(
                        "inferenceConfig.stopSequences",
                        v,
                        "Member must be a list of non-empty strings",
                    )
                })?;
            stop_sequences = seqs
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
    }

    let thinking = thinking(obj.get("additionalModelRequestFields"), max_tokens)?;

    Ok(ConverseReq {
        model: model.to_owned(),
        max_tokens,
        stop_sequences,
        tools,
        tool_choice,
        thinking,
        answers_tool_result,
        input_tokens,
        fail_with,
    })
}

/// Whether Anthropic-style thinking is on, checking the budget as the model would.
fn thinking(fields: Option<&Value>, max_tokens: Option<u64>) -> Result<bool, BedrockError> {
    let Some(fields) = fields else {
        return Ok(false);
    };
    if !fields.is_object() {
        return Err(invalid("additionalModelRequestFields: must be an object"));
    }
    if fields
        .get("reasoningConfig")
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str)
        == Some("enabled")
    {
        return Ok(true);
    }
    let Some(thinking) = fields.get("thinking") else {
        return Ok(false);
    };
    match thinking.get("type").and_then(Value::as_str) {
        Some("enabled") => {
            let budget = thinking
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    invalid("The model returned the following errors: thinking.enabled.budget_tokens: Field required")
                })?;
            if budget < MIN_THINKING_BUDGET {
                return Err(invalid(format!(
                    "The model returned the following errors: thinking.enabled.budget_tokens: \
                     Input should be greater than or equal to {MIN_THINKING_BUDGET}"
                )));
            }
            if let Some(max) = max_tokens
                && budget >= max
            {
                return Err(invalid(
                    "The model returned the following errors: `max_tokens` must be greater than \
                     `thinking.budget_tokens`.",
                ));
            }
            Ok(true)
        }
        Some("adaptive") => Ok(true),
        _ => Ok(false),
    }
}

fn tool_config(config: &Value) -> Result<(Vec<ToolDef>, Choice), BedrockError> {
    let config = config
        .as_object()
        .ok_or_else(|| invalid("toolConfig: must be an object"))?;
    if let Some(key) = config.keys().find(|k| *k != "tools" && *k != "toolChoice") {
        return Err(extraneous("toolConfig: ", key));
    }
    let list = config
        .get("tools")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            invalid("1 validation error detected: Value at 'toolConfig.tools' failed to satisfy constraint: Member must have length greater than or equal to 1")
        })?;
    let mut tools = Vec::new();
    for (i, tool) in list.iter().enumerate() {
        let at = format!("toolConfig.tools.{i}");
        let (name, inner) = single_member(tool, &at)?;
        if name != "toolSpec" {
            continue;
        }
        let tool_name = inner.get("name").and_then(Value::as_str).unwrap_or("");
        let valid = !tool_name.is_empty()
            && tool_name.len() <= 64
            && tool_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(constraint(
                &format!("{at}.member.toolSpec.name"),
                inner.get("name").unwrap_or(&Value::Null),
                "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+ and have length \
                 between 1 and 64",
            ));
        }
        let schema = inner
            .get("inputSchema")
            .and_then(|s| s.get("json"))
            .filter(|s| s.is_object())
            .ok_or_else(|| {
                invalid(format!(
                    "{at}.toolSpec: inputSchema.json is required and must be an object"
                ))
            })?;
        if tools.iter().any(|t: &ToolDef| t.name == tool_name) {
            return Err(invalid(format!(
                "The tool name {tool_name} is used more than once in toolConfig.tools."
            )));
        }
        tools.push(ToolDef {
            name: tool_name.to_owned(),
            schema: schema.clone(),
        });
    }
    let choice = match config.get("toolChoice") {
        None => Choice::Auto,
        Some(choice) => {
            let (name, inner) = single_member(choice, "toolConfig.toolChoice")?;
            match name {
                "auto" => Choice::Auto,
                "any" => Choice::Any,
                "tool" => {
                    let wanted = inner.get("name").and_then(Value::as_str).unwrap_or("");
                    if !tools.iter().any(|t| t.name == wanted) {
                        return Err(invalid(format!(
                            "The tool {wanted} named in toolConfig.toolChoice is not in \
                             toolConfig.tools."
                        )));
                    }
                    Choice::Tool(wanted.to_owned())
                }
                other => return Err(extraneous("toolConfig.toolChoice: ", other)),
            }
        }
    };
    Ok((tools, choice))
}

fn image(inner: &Value, at: &str) -> Result<(), BedrockError> {
    let format = inner.get("format").and_then(Value::as_str).unwrap_or("");
    if !IMAGE_FORMATS.contains(&format) {
        return Err(constraint(
            &format!("{at}.image.format"),
            inner.get("format").unwrap_or(&Value::Null),
            "Member must satisfy enum value set: [png, jpeg, gif, webp]",
        ));
    }
    let source = inner
        .get("source")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid(format!("{at}.image: source is required")))?;
    match (source.get("bytes"), source.get("s3Location")) {
        (Some(Value::String(b)), None) if is_base64(b) => Ok(()),
        (None, Some(loc))
            if loc
                .get("uri")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with("s3://")) =>
        {
            Ok(())
        }
        _ => Err(invalid(format!(
            "{at}.image.source: exactly one of bytes (base64) or s3Location is required"
        ))),
    }
}

fn is_base64(s: &str) -> bool {
    !s.is_empty()
        && s.len().is_multiple_of(4)
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// A union object's one member, refusing unknown members and objects with several.
fn single_member<'a>(value: &'a Value, at: &str) -> Result<(&'a str, &'a Value), BedrockError> {
    let map: &Map<String, Value> = value
        .as_object()
        .ok_or_else(|| invalid(format!("{at}: must be an object")))?;
    let mut iter = map.iter();
    match (iter.next(), iter.next()) {
        (Some((name, inner)), None) => {
            let known = at.starts_with("toolConfig")
                || at.starts_with("system")
                || BLOCK_MEMBERS.contains(&name.as_str());
            if !known {
                return Err(extraneous(&format!("{at}: "), name));
            }
            Ok((name, inner))
        }
        _ => Err(invalid(format!(
            "{at}: a union must set exactly one member"
        ))),
    }
}

fn text_of<'a>(value: &'a Value, at: &str) -> Result<&'a str, BedrockError> {
    value
        .as_str()
        .ok_or_else(|| invalid(format!("{at}.text: must be a string")))
}

/// The exception an `asbru-mock:error=TYPE` directive names, when TYPE is one the API has.
fn directive(text: &str) -> Option<BedrockError> {
    let at = text.find(ERROR_DIRECTIVE)?;
    let kind: String = text[at + ERROR_DIRECTIVE.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let err = BedrockError::of_kind(&kind, None);
    err.kind.eq_ignore_ascii_case(&kind).then_some(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(body: Value) -> ConverseReq {
        parse_converse(&body, "m").unwrap()
    }

    fn err(body: Value) -> String {
        parse_converse(&body, "m").unwrap_err().message
    }

    #[test]
    fn basic_requests_pass() {
        let r = ok(
            json!({"messages": [{"role": "user", "content": [{"text": "hi there"}]}],
            "inferenceConfig": {"maxTokens": 10, "temperature": 0.5}}),
        );
        assert_eq!(r.max_tokens, Some(10));
        assert_eq!(r.input_tokens, 2);
    }

    #[test]
    fn refusals() {
        assert!(err(json!({"messages": [], "foo": 1})).contains("extraneous key [foo]"));
        assert!(err(json!({"messages": []})).contains("must start with a user message"));
        assert!(
            err(
                json!({"messages": [{"role": "user", "content": [{"text": "a"}]},
            {"role": "user", "content": [{"text": "b"}]}]})
            )
            .contains("alternate")
        );
        assert!(
            err(json!({"messages": [{"role": "system", "content": [{"text": "a"}]}]}))
                .contains("enum value set")
        );
        assert!(
            err(json!({"messages": [{"role": "user", "content": [{"text": " "}]}]}))
                .contains("blank")
        );
        assert!(
            err(
                json!({"messages": [{"role": "user", "content": [{"text": "a"}]}],
            "inferenceConfig": {"maxTokens": 0}})
            )
            .contains("greater than or equal to 1")
        );
        assert!(
            err(
                json!({"messages": [{"role": "user", "content": [{"text": "a"}]}],
            "inferenceConfig": {"temperature": 1.5}})
            )
            .contains("between 0 and 1")
        );
        assert!(
            err(json!({"messages": [{"role": "user", "content": [
            {"toolResult": {"toolUseId": "t1", "content": [{"text": "x"}]}}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {}}}}]}}))
            .contains("does not match")
        );
        assert!(err(json!({"messages": [
            {"role": "user", "content": [{"text": "a"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "x"}]}}]}
        ]})).contains("toolConfig field must be defined"));
    }

    #[test]
    fn directives() {
        assert_eq!(
            directive("x asbru-mock:error=throttlingException").map(|e| e.kind),
            Some("ThrottlingException")
        );
        assert!(directive("asbru-mock:error=madeUp").is_none());
    }
}
