//! Tool use in chat completions, checked as OpenAI checks it: the `tools` list, `tool_choice`
//! (and `parallel_tool_calls`, which also needs tools), and the pairing of every `tool` message
//! with a call of the assistant message before it.
//!
//! Nothing here runs for a request without tools, tool calls or tool messages: the benchmark's
//! requests take none of these paths.
//!
//! Where OpenAI's wording is known (from its API's answers quoted in public bug reports) it is
//! kept, typos included ("preceeding"); the rest follows the shape of its other messages.

use super::ApiError;
use serde_json::Value;

/// The longest function name OpenAI accepts.
const MAX_NAME_LEN: usize = 64;

/// A function the answer must call: its name and its `parameters` schema (`Value::Null` when
/// the tool has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Forced<'a> {
    pub(crate) name: &'a str,
    pub(crate) parameters: &'a Value,
}

/// A function tool of the request.
struct Function<'a> {
    name: &'a str,
    parameters: &'a Value,
}

/// Reads `tools` and `tool_choice`: the function the answer must call, if the choice forces
/// one (`"required"`: the first function; `{"type":"function",…}`: the named one;
/// The refusal of a tool parameter in a request without tools.
fn needs_tools(param: &str) -> ApiError {
    ApiError::invalid(
        format!(
            "Invalid value for '{param}': '{param}' is only allowed when 'tools' are specified."
        ),
        Some(param),
        None,
    )
}

/// `{"type":"allowed_tools",…}` with mode `"required"`: the first allowed one). `"auto"`,
/// `"none"` and no choice answer in text.
pub(crate) fn forced_call(body: &Value) -> Result<Option<Forced<'_>>, ApiError> {
    let choice = body.get("tool_choice").filter(|c| !c.is_null());
    let tools = match body.get("tools") {
        None | Some(Value::Null) => None,
        Some(Value::Array(tools)) if tools.is_empty() => {
            return Err(ApiError::invalid(
                "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                Some("tools"),
                Some("empty_array"),
            ));
        }
        Some(Value::Array(tools)) => Some(tools),
        Some(other) => {
            return Err(ApiError::wrong_type("tools", "an array of objects", other));
        }
    };
    let Some(tools) = tools else {
        // `"none"` asks for what a request without tools gets anyway.
        if choice.is_some_and(|c| c.as_str() != Some("none")) {
            return Err(needs_tools("tool_choice"));
        }
        if body
            .get("parallel_tool_calls")
            .is_some_and(|p| !p.is_null())
        {
            return Err(needs_tools("parallel_tool_calls"));
        }
        return Ok(None);
    };
    let functions = functions(tools)?;
    let Some(choice) = choice else {
        return Ok(None);
    };
    let named = |name: &str, param: &str| {
        functions
            .iter()
            .find(|f| f.name == name)
            .map(|f| Forced {
                name: f.name,
                parameters: f.parameters,
            })
            .ok_or_else(|| {
                ApiError::invalid(
                    format!(
                        "Invalid value for 'tool_choice': function '{name}' not found in 'tools'."
                    ),
                    Some(param),
                    None,
                )
            })
    };
    let first = || {
        functions.first().map(|f| Forced {
            name: f.name,
            parameters: f.parameters,
        })
    };
    match choice {
        Value::String(mode) => match mode.as_str() {
            "none" | "auto" => Ok(None),
            "required" => Ok(first()),
            other => Err(ApiError::invalid(
                format!(
                    "Invalid value: '{other}'. Supported values are: 'none', 'auto', and 'required'."
                ),
                Some("tool_choice"),
                Some("invalid_value"),
            )),
        },
        Value::Object(fields) => match fields.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = fields
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .ok_or_else(|| ApiError::missing("tool_choice.function.name"))?;
                let Value::String(name) = name else {
                    return Err(ApiError::wrong_type(
                        "tool_choice.function.name",
                        "a string",
                        name,
                    ));
                };
                named(name, "tool_choice").map(Some)
            }
            Some("allowed_tools") => allowed_tools(fields.get("allowed_tools"), &named),
            // Custom tools take free text, which the mock does not script: it answers in text.
            Some("custom") => Ok(None),
            Some(other) => Err(ApiError::invalid(
                format!(
                    "Invalid value: '{other}'. Supported values are: 'function', 'allowed_tools', and 'custom'."
                ),
                Some("tool_choice.type"),
                Some("invalid_value"),
            )),
            None => Err(ApiError::missing("tool_choice.type")),
        },
        other => Err(ApiError::wrong_type(
            "tool_choice",
            "a string or an object",
            other,
        )),
    }
}

/// `{"type":"allowed_tools","allowed_tools":{"mode","tools"}}`: each listed function must be
/// among `tools`; mode `"required"` calls the first one, `"auto"` answers in text.
fn allowed_tools<'a>(
    allowed: Option<&'a Value>,
    named: &dyn Fn(&str, &str) -> Result<Forced<'a>, ApiError>,
) -> Result<Option<Forced<'a>>, ApiError> {
    let Some(Value::Object(allowed)) = allowed else {
        return Err(ApiError::missing("tool_choice.allowed_tools"));
    };
    let required = match allowed.get("mode").and_then(Value::as_str) {
        Some("required") => true,
        Some("auto") => false,
        Some(other) => {
            return Err(ApiError::invalid(
                format!("Invalid value: '{other}'. Supported values are: 'auto' and 'required'."),
                Some("tool_choice.allowed_tools.mode"),
                Some("invalid_value"),
            ));
        }
        None => return Err(ApiError::missing("tool_choice.allowed_tools.mode")),
    };
    let Some(Value::Array(listed)) = allowed.get("tools") else {
        return Err(ApiError::missing("tool_choice.allowed_tools.tools"));
    };
    let mut first = None;
    for (i, tool) in listed.iter().enumerate() {
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            continue;
        }
        let param = format!("tool_choice.allowed_tools.tools[{i}].function.name");
        let name = tool
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::missing(&param))?;
        let found = named(name, &param)?;
        first.get_or_insert(found);
    }
    Ok(first.filter(|_| required))
}

/// The function tools of a `tools` list, checked entry by entry. Custom tools are accepted
/// and never called.
fn functions(tools: &[Value]) -> Result<Vec<Function<'_>>, ApiError> {
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let Value::Object(fields) = tool else {
            return Err(ApiError::wrong_type(
                &format!("tools[{i}]"),
                "an object",
                tool,
            ));
        };
        let kind = match fields.get("type") {
            None | Some(Value::Null) => return Err(ApiError::missing(&format!("tools[{i}].type"))),
            Some(Value::String(kind)) => kind.as_str(),
            Some(other) => {
                return Err(ApiError::wrong_type(
                    &format!("tools[{i}].type"),
                    "a string",
                    other,
                ));
            }
        };
        match kind {
            "function" => {}
            "custom" => {
                name_of(fields.get("custom"), &format!("tools[{i}].custom"))?;
                continue;
            }
            other => {
                return Err(ApiError::invalid(
                    format!(
                        "Invalid value: '{other}'. Supported values are: 'function' and 'custom'."
                    ),
                    Some(&format!("tools[{i}].type")),
                    Some("invalid_value"),
                ));
            }
        }
        let path = format!("tools[{i}].function");
        let function = fields.get("function");
        let name = name_of(function, &path)?;
        let parameters = match function.and_then(|f| f.get("parameters")) {
            None | Some(Value::Null) => &Value::Null,
            Some(schema @ Value::Object(_)) => schema,
            Some(other) => {
                return Err(ApiError::wrong_type(
                    &format!("{path}.parameters"),
                    "an object",
                    other,
                ));
            }
        };
        out.push(Function { name, parameters });
    }
    Ok(out)
}

/// The `name` of a tool definition at `path`, checked against OpenAI's pattern and length.
fn name_of<'a>(definition: Option<&'a Value>, path: &str) -> Result<&'a str, ApiError> {
    let Some(Value::Object(definition)) = definition else {
        return match definition {
            None | Some(Value::Null) => Err(ApiError::missing(path)),
            Some(other) => Err(ApiError::wrong_type(path, "an object", other)),
        };
    };
    let param = format!("{path}.name");
    let name = match definition.get("name") {
        None | Some(Value::Null) => return Err(ApiError::missing(&param)),
        Some(Value::String(name)) => name.as_str(),
        Some(other) => return Err(ApiError::wrong_type(&param, "a string", other)),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
            ),
            Some(&param),
            Some("invalid_value"),
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(ApiError::invalid(
            format!(
                "Invalid '{param}': string too long. Expected a string with maximum length {MAX_NAME_LEN}, but got a string with length {} instead.",
                name.len()
            ),
            Some(&param),
            Some("string_above_max_length"),
        ));
    }
    Ok(name)
}

/// Follows the conversation's tool turns as the messages are read: an assistant message's
/// `tool_calls` must each be answered by the `tool` messages right after it, and a `tool`
/// message must answer one of them.
#[derive(Default)]
pub(crate) struct Turns<'a> {
    /// The index of the last assistant message with calls, while only tool messages followed.
    open: Option<usize>,
    /// Its call ids, each with whether a tool message answered it yet.
    calls: Vec<(&'a str, bool)>,
    /// Whether the last message read was a tool result.
    last_is_tool: bool,
}

impl<'a> Turns<'a> {
    /// Reads message `i` (its role already checked).
    pub(crate) fn see(
        &mut self,
        i: usize,
        role: &str,
        fields: &'a serde_json::Map<String, Value>,
    ) -> Result<(), ApiError> {
        self.last_is_tool = role == "tool";
        if role == "tool" {
            return self.answer(i, fields);
        }
        self.close()?;
        if role == "assistant"
            && let Some(calls) = fields.get("tool_calls").filter(|c| !c.is_null())
        {
            self.open_calls(i, calls)?;
        }
        Ok(())
    }

    /// After the last message: calls still unanswered are refused, as OpenAI refuses them.
    pub(crate) fn finish(mut self) -> Result<bool, ApiError> {
        self.close()?;
        Ok(self.last_is_tool)
    }

    fn open_calls(&mut self, i: usize, calls: &'a Value) -> Result<(), ApiError> {
        let Value::Array(calls) = calls else {
            return Err(ApiError::wrong_type(
                &format!("messages[{i}].tool_calls"),
                "an array of objects",
                calls,
            ));
        };
        self.calls.clear();
        for (j, call) in calls.iter().enumerate() {
            let path = format!("messages[{i}].tool_calls[{j}]");
            let Value::Object(call) = call else {
                return Err(ApiError::wrong_type(&path, "an object", call));
            };
            let id = match call.get("id") {
                None | Some(Value::Null) => return Err(ApiError::missing(&format!("{path}.id"))),
                Some(Value::String(id)) => id.as_str(),
                Some(other) => {
                    return Err(ApiError::wrong_type(
                        &format!("{path}.id"),
                        "a string",
                        other,
                    ));
                }
            };
            match call.get("type").and_then(Value::as_str) {
                Some("function") => {
                    for field in ["name", "arguments"] {
                        let param = format!("{path}.function.{field}");
                        match call.get("function").and_then(|f| f.get(field)) {
                            None | Some(Value::Null) => return Err(ApiError::missing(&param)),
                            Some(Value::String(_)) => {}
                            Some(other) => {
                                return Err(ApiError::wrong_type(&param, "a string", other));
                            }
                        }
                    }
                }
                Some("custom") => {}
                Some(other) => {
                    return Err(ApiError::invalid(
                        format!(
                            "Invalid value: '{other}'. Supported values are: 'function' and 'custom'."
                        ),
                        Some(&format!("{path}.type")),
                        Some("invalid_value"),
                    ));
                }
                None => return Err(ApiError::missing(&format!("{path}.type"))),
            }
            self.calls.push((id, false));
        }
        if !self.calls.is_empty() {
            self.open = Some(i);
        }
        Ok(())
    }

    fn answer(
        &mut self,
        i: usize,
        fields: &'a serde_json::Map<String, Value>,
    ) -> Result<(), ApiError> {
        if self.open.is_none() {
            return Err(ApiError::invalid(
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                Some(&format!("messages.[{i}].role")),
                None,
            ));
        }
        let param = format!("messages.[{i}].tool_call_id");
        let id = match fields.get("tool_call_id") {
            None | Some(Value::Null) => return Err(ApiError::missing(&param)),
            Some(Value::String(id)) => id.as_str(),
            Some(other) => return Err(ApiError::wrong_type(&param, "a string", other)),
        };
        let Some(call) = self.calls.iter_mut().find(|(call, _)| *call == id) else {
            return Err(ApiError::invalid(
                format!(
                    "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message."
                ),
                Some(&param),
                None,
            ));
        };
        call.1 = true;
        Ok(())
    }

    /// Ends the tool results of the open assistant message, if any.
    fn close(&mut self) -> Result<(), ApiError> {
        let Some(at) = self.open.take() else {
            return Ok(());
        };
        let missing: Vec<&str> = self
            .calls
            .iter()
            .filter(|(_, answered)| !answered)
            .map(|(id, _)| *id)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ApiError::invalid(
            format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                missing.join(", ")
            ),
            Some(&format!("messages.[{at}].role")),
            None,
        ))
    }
}
