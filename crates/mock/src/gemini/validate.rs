//! Validation of Gemini request bodies, refusing what the real API refuses with the messages it
//! gives: unknown fields as Google's JSON parser reports them, field paths in the proto's
//! snake_case (`contents[1].parts[0]`), and the conversation rules of function calling
//! (roles, call/response pairing, thought signatures on Gemini 3). Both spellings of field names
//! are accepted, as the API accepts them.

use super::GeminiError;
use crate::state::count_words;
use serde_json::{Map, Value};

/// What an inline image costs, per the token guide (an image up to 384 px is 258 tokens).
const MEDIA_TOKENS: u64 = 258;

/// In a user turn's text, asks the mock to fail with this `google.rpc.Code` name (an HTTP error,
/// or a mid-stream `{"error"}` frame after the first chunk when streaming).
pub(crate) const ERROR_DIRECTIVE: &str = "asbru-mock:error=";

/// In a user turn's text, asks the mock to finish with this `finishReason` and no content
/// (`SAFETY`, `MALFORMED_FUNCTION_CALL`, …).
pub(crate) const FINISH_DIRECTIVE: &str = "asbru-mock:finish=";

const TOP_FIELDS: [&str; 8] = [
    "model",
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "safetySettings",
    "generationConfig",
    "cachedContent",
];

const GENERATION_FIELDS: [&str; 21] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "imageConfig",
    "mediaResolution",
    "routingConfig",
];

const PART_FIELDS: [&str; 12] = [
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "thought",
    "thoughtSignature",
    "videoMetadata",
    "partMetadata",
    "mediaResolution",
];

/// The members of a part's `data` oneof.
const PART_DATA: [&str; 7] = [
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
];

const TOOL_FIELDS: [&str; 9] = [
    "functionDeclarations",
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "fileSearch",
    "computerUse",
    "googleMaps",
    "mcpServers",
];

const DECLARATION_FIELDS: [&str; 7] = [
    "name",
    "description",
    "parameters",
    "parametersJsonSchema",
    "response",
    "responseJsonSchema",
    "behavior",
];

/// How the model may call functions (`toolConfig.functionCallingConfig.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Auto,
    Any,
    None,
    Validated,
}

/// A declared function.
pub(crate) struct Function<'a> {
    pub(crate) name: &'a str,
    pub(crate) schema: Option<&'a Value>,
}

/// A validated `generateContent` request: what the answer depends on.
pub(crate) struct GenerateRequest<'a> {
    pub(crate) model: &'a str,
    pub(crate) functions: Vec<Function<'a>>,
    pub(crate) mode: Mode,
    pub(crate) allowed: Vec<&'a str>,
    /// Whether the model thinks (all thinking models do unless the budget is 0).
    pub(crate) thinking: bool,
    pub(crate) include_thoughts: bool,
    pub(crate) max_output_tokens: Option<u64>,
    pub(crate) stop_sequences: Vec<&'a str>,
    pub(crate) json: bool,
    pub(crate) schema: Option<&'a Value>,
    pub(crate) candidates: u32,
    pub(crate) prompt_tokens: u64,
    /// The last turn answers function calls: the mock answers in text.
    pub(crate) answers_function: bool,
    pub(crate) fail_with: Option<GeminiError>,
    pub(crate) finish_with: Option<String>,
}

/// A validated embedding request.
pub(crate) struct EmbedRequest {
    pub(crate) text: String,
    pub(crate) dimensions: Option<usize>,
}

fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field under either spelling.
fn get<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    obj.get(name)
        .or_else(|| obj.get(&snake(name)))
        .filter(|v| !v.is_null())
}

/// Refuses the first field not in `allowed` (lowerCamel names; snake_case spellings pass).
fn known_fields(
    obj: &Map<String, Value>,
    allowed: &[&str],
    at: Option<&str>,
) -> Result<(), GeminiError> {
    match obj
        .keys()
        .find(|k| !allowed.contains(&k.as_str()) && !allowed.contains(&camel(k).as_str()))
    {
        Some(k) => Err(GeminiError::unknown_field(k, at)),
        None => Ok(()),
    }
}

fn invalid_at(path: &str, problem: &str) -> GeminiError {
    GeminiError::invalid(format!("* GenerateContentRequest.{path}: {problem}\n"))
}

fn object<'v>(path: &str, v: &'v Value) -> Result<&'v Map<String, Value>, GeminiError> {
    v.as_object().ok_or_else(|| {
        GeminiError::invalid(format!(
            "Invalid value at '{path}', Proto field is not repeating, cannot start list."
        ))
    })
}

fn array<'v>(path: &str, v: &'v Value) -> Result<&'v Vec<Value>, GeminiError> {
    v.as_array().ok_or_else(|| {
        GeminiError::invalid(format!(
            "Invalid value at '{path}', starting an object on a scalar field"
        ))
    })
}

/// Validates a `generateContent` / `streamGenerateContent` body for `model` (from the URL).
pub(crate) fn parse_generate<'a>(
    body: &'a Value,
    model: &'a str,
) -> Result<GenerateRequest<'a>, GeminiError> {
    let Value::Object(fields) = body else {
        return Err(super::unparsable_body());
    };
    known_fields(fields, &TOP_FIELDS, None)?;
    let mut req = GenerateRequest {
        model,
        functions: Vec::new(),
        mode: Mode::Auto,
        allowed: Vec::new(),
        thinking: true,
        include_thoughts: false,
        max_output_tokens: None,
        stop_sequences: Vec::new(),
        json: false,
        schema: None,
        candidates: 1,
        prompt_tokens: 0,
        answers_function: false,
        fail_with: None,
        finish_with: None,
    };
    if let Some(system) = get(fields, "systemInstruction") {
        let system = object("system_instruction", system)?;
        known_fields(system, &["role", "parts"], Some("system_instruction"))?;
        for (j, part) in get(system, "parts")
            .map(|p| array("system_instruction.parts", p))
            .transpose()?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let part = object(&format!("system_instruction.parts[{j}]"), part)?;
            if let Some(Value::String(t)) = get(part, "text") {
                req.prompt_tokens += count_words(t);
            }
        }
    }
    tools(fields, &mut req)?;
    tool_config(fields, &mut req)?;
    generation_config(fields, &mut req)?;
    contents(fields, &mut req)?;
    Ok(req)
}

fn tools<'a>(
    fields: &'a Map<String, Value>,
    req: &mut GenerateRequest<'a>,
) -> Result<(), GeminiError> {
    let Some(tools) = get(fields, "tools") else {
        return Ok(());
    };
    for (i, tool) in array("tools", tools)?.iter().enumerate() {
        let at = format!("tools[{i}]");
        let tool = object(&at, tool)?;
        known_fields(tool, &TOOL_FIELDS, Some(&at))?;
        let Some(decls) = get(tool, "functionDeclarations") else {
            continue;
        };
        for (j, decl) in array(&at, decls)?.iter().enumerate() {
            let path = format!("{at}.function_declarations[{j}]");
            let decl = object(&path, decl)?;
            known_fields(decl, &DECLARATION_FIELDS, Some(&path))?;
            let name = match get(decl, "name") {
                Some(Value::String(n)) => n.as_str(),
                _ => return Err(invalid_at(&format!("{path}.name"), "property is missing")),
            };
            let valid = (1..=64).contains(&name.len())
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'));
            if !valid {
                return Err(invalid_at(
                    &format!("{path}.name"),
                    "Invalid function name. Must start with a letter or an underscore. Must be \
                     alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or \
                     dashes (-), with a maximum length of 64.",
                ));
            }
            let parameters = get(decl, "parameters");
            let json_schema = get(decl, "parametersJsonSchema");
            if parameters.is_some() && json_schema.is_some() {
                return Err(invalid_at(
                    &path,
                    "parameters and parameters_json_schema cannot both be set",
                ));
            }
            if req.functions.iter().any(|f| f.name == name) {
                return Err(invalid_at(
                    &format!("{path}.name"),
                    &format!("Duplicate function declaration name: {name}"),
                ));
            }
            let description = get(decl, "description")
                .and_then(Value::as_str)
                .unwrap_or("");
            let schema = json_schema.or(parameters);
            let properties = schema
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .map_or(0, Map::len);
            req.prompt_tokens += count_words(name) + count_words(description) + properties as u64;
            req.functions.push(Function { name, schema });
        }
    }
    Ok(())
}

fn tool_config<'a>(
    fields: &'a Map<String, Value>,
    req: &mut GenerateRequest<'a>,
) -> Result<(), GeminiError> {
    let Some(config) = get(fields, "toolConfig") else {
        return Ok(());
    };
    let config = object("tool_config", config)?;
    known_fields(
        config,
        &["functionCallingConfig", "retrievalConfig"],
        Some("tool_config"),
    )?;
    let Some(calling) = get(config, "functionCallingConfig") else {
        return Ok(());
    };
    let path = "tool_config.function_calling_config";
    let calling = object(path, calling)?;
    known_fields(calling, &["mode", "allowedFunctionNames"], Some(path))?;
    req.mode = match get(calling, "mode").and_then(Value::as_str) {
        None | Some("AUTO" | "MODE_UNSPECIFIED") => Mode::Auto,
        Some("ANY") => Mode::Any,
        Some("NONE") => Mode::None,
        Some("VALIDATED") => Mode::Validated,
        Some(other) => {
            return Err(GeminiError::invalid(format!(
                "Invalid value at '{path}.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), \"{other}\""
            )));
        }
    };
    if let Some(names) = get(calling, "allowedFunctionNames") {
        if !matches!(req.mode, Mode::Any | Mode::Validated) {
            return Err(invalid_at(
                &format!("{path}.allowed_function_names"),
                "allowed_function_names may only be set when mode is ANY or VALIDATED.",
            ));
        }
        for name in array(path, names)? {
            let Some(name) = name.as_str() else {
                continue;
            };
            if !req.functions.iter().any(|f| f.name == name) {
                return Err(invalid_at(
                    &format!("{path}.allowed_function_names"),
                    &format!("function '{name}' is not declared in tools"),
                ));
            }
            req.allowed.push(name);
        }
    }
    if req.mode == Mode::Any && req.functions.is_empty() {
        return Err(invalid_at(
            path,
            "function calling config is set without function declarations",
        ));
    }
    Ok(())
}

fn generation_config<'a>(
    fields: &'a Map<String, Value>,
    req: &mut GenerateRequest<'a>,
) -> Result<(), GeminiError> {
    let Some(config) = get(fields, "generationConfig") else {
        return Ok(());
    };
    let path = "generation_config";
    let config = object(path, config)?;
    known_fields(config, &GENERATION_FIELDS, Some(path))?;
    let number = |name: &str| get(config, name).and_then(Value::as_f64);
    if let Some(t) = number("temperature")
        && !(0.0..=2.0).contains(&t)
    {
        return Err(invalid_at(
            &format!("{path}.temperature"),
            "temperature must be in the range [0.0, 2.0]",
        ));
    }
    if let Some(p) = number("topP")
        && !(0.0..=1.0).contains(&p)
    {
        return Err(invalid_at(
            &format!("{path}.top_p"),
            "top_p must be in the range [0.0, 1.0]",
        ));
    }
    if let Some(n) = get(config, "candidateCount") {
        match n.as_u64() {
            Some(n @ 1..=8) => req.candidates = u32::try_from(n).unwrap_or(1),
            _ => {
                return Err(invalid_at(
                    &format!("{path}.candidate_count"),
                    "candidate_count must be in the range [1, 8]",
                ));
            }
        }
    }
    if let Some(max) = get(config, "maxOutputTokens") {
        match max.as_u64() {
            Some(m) if m >= 1 => req.max_output_tokens = Some(m),
            _ => {
                return Err(invalid_at(
                    &format!("{path}.max_output_tokens"),
                    "max_output_tokens must be positive",
                ));
            }
        }
    }
    if let Some(stops) = get(config, "stopSequences") {
        let stops = array(&format!("{path}.stop_sequences"), stops)?;
        if stops.len() > 5 {
            return Err(invalid_at(
                &format!("{path}.stop_sequences"),
                "stop_sequences must have at most 5 entries",
            ));
        }
        req.stop_sequences = stops.iter().filter_map(Value::as_str).collect();
    }
    let mime = get(config, "responseMimeType").and_then(Value::as_str);
    let schema = get(config, "responseSchema");
    let json_schema = get(config, "responseJsonSchema");
    if schema.is_some() && json_schema.is_some() {
        return Err(invalid_at(
            path,
            "response_schema and response_json_schema cannot both be set",
        ));
    }
    if (schema.is_some() || json_schema.is_some()) && mime != Some("application/json") {
        return Err(invalid_at(
            &format!("{path}.response_mime_type"),
            "response_mime_type must be 'application/json' when a response schema is set",
        ));
    }
    if let Some(m) = mime
        && !matches!(m, "text/plain" | "application/json" | "text/x.enum")
    {
        return Err(invalid_at(
            &format!("{path}.response_mime_type"),
            &format!(
                "allowed mimetypes are `text/plain`, `application/json`, and `text/x.enum`, \
                 got `{m}`"
            ),
        ));
    }
    req.json = mime == Some("application/json");
    req.schema = json_schema.or(schema);
    if let Some(thinking) = get(config, "thinkingConfig") {
        let at = format!("{path}.thinking_config");
        let thinking = object(&at, thinking)?;
        known_fields(
            thinking,
            &["includeThoughts", "thinkingBudget", "thinkingLevel"],
            Some(&at),
        )?;
        req.include_thoughts =
            get(thinking, "includeThoughts").and_then(Value::as_bool) == Some(true);
        let budget = get(thinking, "thinkingBudget");
        let level = get(thinking, "thinkingLevel");
        if budget.is_some() && level.is_some() {
            return Err(invalid_at(
                &at,
                "thinking_budget and thinking_level cannot both be set",
            ));
        }
        if let Some(budget) = budget {
            let pro = req.model.contains("pro");
            let (low, high) = if pro { (128, 32_768) } else { (0, 24_576) };
            match budget.as_i64() {
                Some(0) if pro => {
                    return Err(GeminiError::invalid(
                        "Budget 0 is invalid. This model only works in thinking mode.",
                    ));
                }
                Some(0) => req.thinking = false,
                Some(-1) => {}
                Some(b) if (low..=high).contains(&b) => {}
                _ => {
                    return Err(GeminiError::invalid(format!(
                        "The thinking budget {budget} is invalid. Please choose a value between \
                         {low} and {high}."
                    )));
                }
            }
        }
        if let Some(level) = level {
            let valid = level.as_str().is_some_and(|l| {
                matches!(
                    l.to_ascii_lowercase().as_str(),
                    "minimal" | "low" | "medium" | "high"
                )
            });
            if !valid {
                return Err(GeminiError::invalid(format!(
                    "Invalid value at '{at}.thinking_level' (type.googleapis.com/google.ai.generativelanguage.v1beta.ThinkingConfig.ThinkingLevel), {level}"
                )));
            }
            if !gemini_3(req.model) {
                return Err(GeminiError::invalid(
                    "Thinking level is not supported for this model.",
                ));
            }
        }
    }
    Ok(())
}

/// Gemini 3 and later take thinking levels and enforce thought signatures on function calls.
pub(crate) fn gemini_3(model: &str) -> bool {
    model
        .strip_prefix("gemini-")
        .and_then(|rest| rest.split(['-', '.']).next())
        .and_then(|major| major.parse::<u32>().ok())
        .is_some_and(|major| major >= 3)
}

/// What one turn holds, for the pairing rules.
struct Turn<'a> {
    model: bool,
    calls: Vec<(&'a str, bool)>,
    responses: Vec<&'a str>,
    other: bool,
    text: Vec<&'a str>,
}

fn contents<'a>(
    fields: &'a Map<String, Value>,
    req: &mut GenerateRequest<'a>,
) -> Result<(), GeminiError> {
    let items = match get(fields, "contents") {
        None => {
            return Err(GeminiError::invalid(
                "* GenerateContentRequest.contents: contents is not specified\n",
            ));
        }
        Some(v) => array("contents", v)?,
    };
    if items.is_empty() {
        return Err(GeminiError::invalid(
            "* GenerateContentRequest.contents: contents is not specified\n",
        ));
    }
    let mut turns: Vec<Turn<'a>> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("contents[{i}]");
        let content = object(&at, item)?;
        known_fields(content, &["role", "parts"], Some(&at))?;
        let model = match get(content, "role").and_then(Value::as_str) {
            None | Some("" | "user") => false,
            Some("model") => true,
            Some(_) => {
                return Err(GeminiError::invalid(
                    "Please use a valid role: user, model.",
                ));
            }
        };
        let parts = match get(content, "parts") {
            Some(p) => array(&format!("{at}.parts"), p)?,
            None => {
                return Err(invalid_at(
                    &format!("{at}.parts"),
                    "contents.parts must not be empty.",
                ));
            }
        };
        if parts.is_empty() {
            return Err(invalid_at(
                &format!("{at}.parts"),
                "contents.parts must not be empty.",
            ));
        }
        let mut turn = Turn {
            model,
            calls: Vec::new(),
            responses: Vec::new(),
            other: false,
            text: Vec::new(),
        };
        for (j, part) in parts.iter().enumerate() {
            part_of(&format!("{at}.parts[{j}]"), part, &mut turn, req)?;
        }
        turns.push(turn);
    }
    pairing(&turns, req.model)?;
    if let Some(last) = turns.last()
        && !last.model
    {
        req.answers_function = !last.responses.is_empty();
        req.fail_with = last.text.iter().find_map(|t| error_directive(t));
        req.finish_with = last.text.iter().find_map(|t| finish_directive(t));
    }
    Ok(())
}

fn part_of<'a>(
    at: &str,
    part: &'a Value,
    turn: &mut Turn<'a>,
    req: &mut GenerateRequest<'_>,
) -> Result<(), GeminiError> {
    let part = object(at, part)?;
    known_fields(part, &PART_FIELDS, Some(at))?;
    let set: Vec<&str> = PART_DATA
        .iter()
        .copied()
        .filter(|k| get(part, k).is_some())
        .collect();
    match set.as_slice() {
        [] => {
            return Err(invalid_at(
                &format!("{at}.data"),
                "required oneof field 'data' must have one initialized field",
            ));
        }
        [_] => {}
        [_, second, ..] => {
            return Err(GeminiError::invalid(format!(
                "Invalid value at '{at}' (oneof), oneof field 'data' is already set. Cannot set \
                 '{second}'"
            )));
        }
    }
    let signed = get(part, "thoughtSignature").is_some_and(Value::is_string);
    if let Some(Value::String(t)) = get(part, "text") {
        if get(part, "thought").and_then(Value::as_bool) != Some(true) {
            req.prompt_tokens += count_words(t);
            turn.text.push(t);
        }
        turn.other = true;
    } else if let Some(call) = get(part, "functionCall") {
        let call = object(&format!("{at}.function_call"), call)?;
        known_fields(
            call,
            &["id", "name", "args"],
            Some(&format!("{at}.function_call")),
        )?;
        let name = get(call, "name").and_then(Value::as_str).ok_or_else(|| {
            invalid_at(&format!("{at}.function_call.name"), "property is missing")
        })?;
        let args = get(call, "args")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        req.prompt_tokens += count_words(name) + args as u64;
        turn.calls.push((name, signed));
    } else if let Some(resp) = get(part, "functionResponse") {
        let path = format!("{at}.function_response");
        let resp = object(&path, resp)?;
        known_fields(
            resp,
            &[
                "id",
                "name",
                "response",
                "willContinue",
                "scheduling",
                "parts",
            ],
            Some(&path),
        )?;
        let name = get(resp, "name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid_at(&format!("{path}.name"), "property is missing"))?;
        match get(resp, "response") {
            Some(Value::Object(r)) => {
                req.prompt_tokens += count_words(&Value::Object(r.clone()).to_string())
            }
            _ => {
                return Err(invalid_at(
                    &format!("{path}.response"),
                    "property is missing",
                ));
            }
        }
        turn.responses.push(name);
    } else if let Some(blob) = get(part, "inlineData") {
        let path = format!("{at}.inline_data");
        let blob = object(&path, blob)?;
        known_fields(blob, &["mimeType", "data"], Some(&path))?;
        let data = get(blob, "data").and_then(Value::as_str).unwrap_or("");
        let base64ish = data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
        if data.is_empty() || !base64ish {
            return Err(GeminiError::invalid(format!(
                "Invalid value at '{path}.data' (TYPE_BYTES), Base64 decoding failed for \"{}\"",
                data.chars().take(32).collect::<String>()
            )));
        }
        if get(blob, "mimeType")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(invalid_at(
                &format!("{path}.mime_type"),
                "property is missing",
            ));
        }
        req.prompt_tokens += MEDIA_TOKENS;
        turn.other = true;
    } else if let Some(file) = get(part, "fileData") {
        let path = format!("{at}.file_data");
        let file = object(&path, file)?;
        known_fields(file, &["mimeType", "fileUri", "displayName"], Some(&path))?;
        if get(file, "fileUri")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(invalid_at(
                &format!("{path}.file_uri"),
                "property is missing",
            ));
        }
        req.prompt_tokens += MEDIA_TOKENS;
        turn.other = true;
    } else {
        turn.other = true;
    }
    Ok(())
}

/// The function-calling conversation rules: a function-call turn follows a user turn or a
/// function-response turn; a function-response turn follows a function-call turn and answers
/// each of its calls; on Gemini 3, the first call of each step of the current turn carries a
/// thought signature.
fn pairing(turns: &[Turn<'_>], model: &str) -> Result<(), GeminiError> {
    // The current turn starts after the last user turn with content other than responses.
    let current = turns
        .iter()
        .rposition(|t| !t.model && t.responses.is_empty())
        .unwrap_or(0);
    for (i, turn) in turns.iter().enumerate() {
        let previous = i.checked_sub(1).and_then(|p| turns.get(p));
        if turn.model && !turn.calls.is_empty() {
            let after_user = previous.is_some_and(|p| !p.model);
            if !after_user {
                return Err(GeminiError::invalid(
                    "Please ensure that function call turn comes immediately after a user turn \
                     or after a function response turn.",
                ));
            }
            if gemini_3(model)
                && i > current
                && let Some((name, false)) = turn.calls.first()
            {
                let position = turns[..i]
                    .iter()
                    .map(|t| t.calls.len() + t.responses.len())
                    .sum::<usize>()
                    + 1;
                return Err(GeminiError::invalid(format!(
                    "Function call is missing a thought_signature in functionCall parts. This is \
                     required for tools to work correctly, and missing thought_signature may lead \
                     to degraded model performance. Additional data, function call `{name}` , \
                     position {position}. Please refer to \
                     https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
                )));
            }
        }
        if !turn.responses.is_empty() {
            let calls = previous.filter(|p| p.model).map(|p| &p.calls);
            let Some(calls) = calls.filter(|c| !c.is_empty()) else {
                return Err(GeminiError::invalid(
                    "Please ensure that function response turn comes immediately after a \
                     function call turn.",
                ));
            };
            if calls.len() != turn.responses.len() {
                return Err(GeminiError::invalid(
                    "Please ensure that the number of function response parts is equal to the \
                     number of function call parts of the function call turn.",
                ));
            }
            let mut expected: Vec<&str> = calls.iter().map(|(n, _)| *n).collect();
            for name in &turn.responses {
                match expected.iter().position(|n| n == name) {
                    Some(k) => {
                        expected.remove(k);
                    }
                    None => {
                        return Err(GeminiError::invalid(format!(
                            "Please ensure that function response names match the function call \
                             names of the function call turn; `{name}` was not called."
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

fn directive_value<'t>(text: &'t str, directive: &str) -> Option<&'t str> {
    let at = text.find(directive)? + directive.len();
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The error an [`ERROR_DIRECTIVE`] asks for, if it names a known status.
pub(crate) fn error_directive(text: &str) -> Option<GeminiError> {
    GeminiError::of_code(directive_value(text, ERROR_DIRECTIVE)?)
}

fn finish_directive(text: &str) -> Option<String> {
    directive_value(text, FINISH_DIRECTIVE)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Validates an `embedContent` body.
pub(crate) fn parse_embed(body: &Value) -> Result<EmbedRequest, GeminiError> {
    let Value::Object(fields) = body else {
        return Err(super::unparsable_body());
    };
    embed_entry(fields, None)
}

fn embed_entry(fields: &Map<String, Value>, at: Option<&str>) -> Result<EmbedRequest, GeminiError> {
    known_fields(
        fields,
        &[
            "model",
            "content",
            "taskType",
            "title",
            "outputDimensionality",
        ],
        at,
    )?;
    let prefix = at.map_or_else(String::new, |a| format!("{a}."));
    let content = get(fields, "content").ok_or_else(|| {
        GeminiError::invalid(format!(
            "* EmbedContentRequest.{prefix}content: content is not specified\n"
        ))
    })?;
    let content = object(&format!("{prefix}content"), content)?;
    let parts = get(content, "parts")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            GeminiError::invalid(format!(
                "* EmbedContentRequest.{prefix}content.parts: contents.parts must not be empty.\n"
            ))
        })?;
    let text: String = parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    let dimensions = match get(fields, "outputDimensionality") {
        None => None,
        Some(d) => match d.as_u64() {
            Some(d @ 1..=3072) => Some(usize::try_from(d).unwrap_or(768)),
            _ => {
                return Err(GeminiError::invalid(format!(
                    "* EmbedContentRequest.{prefix}output_dimensionality: \
                     output_dimensionality must be in the range [1, 3072]\n"
                )));
            }
        },
    };
    Ok(EmbedRequest { text, dimensions })
}

/// Validates a `batchEmbedContents` body: each entry names the URL's model.
pub(crate) fn parse_batch_embed(
    body: &Value,
    model: &str,
) -> Result<Vec<EmbedRequest>, GeminiError> {
    let Value::Object(fields) = body else {
        return Err(super::unparsable_body());
    };
    known_fields(fields, &["requests"], None)?;
    let requests = get(fields, "requests")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            GeminiError::invalid(
                "* BatchEmbedContentsRequest.requests: requests is not specified\n",
            )
        })?;
    let expected = format!("models/{model}");
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let at = format!("requests[{i}]");
            let r = object(&at, r)?;
            match get(r, "model").and_then(Value::as_str) {
                Some(m) if m == expected => {}
                Some(m) => {
                    return Err(GeminiError::invalid(format!(
                        "* BatchEmbedContentsRequest.{at}.model: Model '{m}' does not match the \
                         model in the request URL '{expected}'.\n"
                    )));
                }
                None => {
                    return Err(GeminiError::invalid(format!(
                        "* BatchEmbedContentsRequest.{at}.model: model is required\n"
                    )));
                }
            }
            embed_entry(r, Some(&at))
        })
        .collect()
}

/// Validates a `countTokens` body, returning the prompt's token count: bare `contents` or a
/// whole `generateContentRequest`, not both.
pub(crate) fn parse_count_tokens(body: &Value, model: &str) -> Result<u64, GeminiError> {
    let Value::Object(fields) = body else {
        return Err(super::unparsable_body());
    };
    known_fields(fields, &["contents", "generateContentRequest"], None)?;
    match (
        get(fields, "contents"),
        get(fields, "generateContentRequest"),
    ) {
        (Some(_), Some(_)) => Err(GeminiError::invalid(
            "* CountTokensRequest: contents and generate_content_request cannot both be set\n",
        )),
        (Some(contents), None) => {
            let wrapped =
                Value::Object(Map::from_iter([("contents".to_owned(), contents.clone())]));
            parse_generate(&wrapped, model).map(|r| r.prompt_tokens)
        }
        (None, Some(inner)) => {
            let Some(inner_fields) = inner.as_object() else {
                return Err(super::unparsable_body());
            };
            if get(inner_fields, "model").is_none() {
                return Err(GeminiError::invalid(
                    "* GenerateContentRequest.model: unexpected model name format\n",
                ));
            }
            parse_generate(inner, model).map(|r| r.prompt_tokens)
        }
        (None, None) => Err(GeminiError::invalid(
            "* GenerateContentRequest.contents: contents is not specified\n",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(body: Value, model: &str) -> String {
        match parse_generate(&body, model) {
            Ok(_) => String::from("<ok>"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn messages_from_the_api() {
        let m = "gemini-2.5-flash";
        assert_eq!(
            err(json!({"contents": []}), m),
            "* GenerateContentRequest.contents: contents is not specified\n"
        );
        assert_eq!(
            err(
                json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
                m
            ),
            "Please use a valid role: user, model."
        );
        assert_eq!(
            err(
                json!({"contents": [{"parts": [{"text": "x"}]}], "foo": 1}),
                m
            ),
            "Invalid JSON payload received. Unknown name \"foo\": Cannot find field."
        );
        assert_eq!(
            err(
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"max_tokens": 1}}),
                m
            ),
            "Invalid JSON payload received. Unknown name \"max_tokens\" at 'generation_config': Cannot find field."
        );
        assert!(
            err(
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}),
                "gemini-2.5-pro"
            )
            .starts_with("Budget 0 is invalid")
        );
        assert!(
            err(
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"thinkingConfig": {"thinkingBudget": 99999}}}),
                m
            )
            .contains("between 0 and 24576")
        );
        assert_eq!(
            err(
                json!({"system_instruction": {"parts": [{"text": "s"}]}, "contents": [{"parts": [{"text": "x"}]}],
                       "generation_config": {"thinking_config": {"thinking_budget": 0}}}),
                m
            ),
            "<ok>"
        );
    }

    #[test]
    fn pairing_rules() {
        let m = "gemini-2.5-flash";
        let call = json!({"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]});
        let user = json!({"role": "user", "parts": [{"text": "hi"}]});
        let resp = |name: &str| json!({"role": "user", "parts": [{"functionResponse": {"name": name, "response": {"output": 1}}}]});
        assert_eq!(err(json!({"contents": [user, call, resp("f")]}), m), "<ok>");
        assert!(
            err(json!({"contents": [user, resp("f")]}), m)
                .starts_with("Please ensure that function response turn")
        );
        assert!(
            err(json!({"contents": [user, call, resp("g")]}), m).contains("`g` was not called")
        );
        assert!(
            err(
                json!({"contents": [user, call, resp("f")]}),
                "gemini-3-pro-preview"
            )
            .starts_with("Function call is missing a thought_signature")
        );
        let signed = json!({"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "s"}]});
        assert_eq!(
            err(
                json!({"contents": [user, signed, resp("f")]}),
                "gemini-3-pro-preview"
            ),
            "<ok>"
        );
    }

    #[test]
    fn directives() {
        assert_eq!(
            error_directive("x asbru-mock:error=UNAVAILABLE")
                .unwrap()
                .status
                .as_u16(),
            503
        );
        assert!(error_directive("asbru-mock:error=NOPE").is_none());
        assert_eq!(
            finish_directive("asbru-mock:finish=SAFETY please").as_deref(),
            Some("SAFETY")
        );
    }
}
