//! Reading the mocker's `config` value field by field, so that every fault is reported with
//! its own path (`plugins[0].config.rules[1].probability`) and all of them at once, rather than
//! the first serde error.

use super::{
    Conditions, DefaultBehavior, ErrorContent, Latency, LatencyKind, MockResponse, MockRule,
    MockUsage, MockerConfig, ResponseKind, SuccessContent,
};
use regex::Regex;
use serde_json::{Map, Value};
use std::time::Duration;

/// Reports faults as (path, message).
struct Reader<'e> {
    error: &'e mut dyn FnMut(String, String),
}

impl Reader<'_> {
    fn fail(&mut self, path: &str, message: impl Into<String>) {
        (self.error)(path.to_owned(), message.into());
    }

    /// `obj[key]` unless absent or null.
    fn get<'v>(obj: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        obj.get(key).filter(|v| !v.is_null())
    }

    fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        let o = v.as_object();
        if o.is_none() {
            self.fail(path, "expected an object");
        }
        o
    }

    fn bool(&mut self, obj: &Map<String, Value>, key: &str, path: &str, default: bool) -> bool {
        match Self::get(obj, key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.fail(&format!("{path}.{key}"), "expected true or false");
                default
            }
        }
    }

    fn string(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        match Self::get(obj, key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.fail(&format!("{path}.{key}"), "expected a string");
                None
            }
        }
    }

    fn number(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
        match Self::get(obj, key) {
            None => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => {
                self.fail(&format!("{path}.{key}"), "expected a number");
                None
            }
        }
    }

    /// A non-negative integer.
    fn count(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<u64> {
        match Self::get(obj, key) {
            None => None,
            Some(v) => {
                let n = v.as_u64();
                if n.is_none() {
                    self.fail(&format!("{path}.{key}"), "expected an integer >= 0");
                }
                n
            }
        }
    }

    fn strings(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Vec<String> {
        let Some(v) = Self::get(obj, key) else {
            return Vec::new();
        };
        let Some(items) = v.as_array() else {
            self.fail(&format!("{path}.{key}"), "expected a list of strings");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self.fail(&format!("{path}.{key}[{i}]"), "expected a string"),
            }
        }
        out
    }

    fn latency(&mut self, v: &Value, path: &str) -> Option<Latency> {
        let o = self.object(v, path)?;
        let kind = match self.string(o, "type", path).as_deref() {
            Some("fixed") => LatencyKind::Fixed,
            Some("uniform") => LatencyKind::Uniform,
            Some(other) => {
                self.fail(
                    &format!("{path}.type"),
                    format!("unknown latency type \"{other}\"; expected \"fixed\" or \"uniform\""),
                );
                return None;
            }
            None => {
                self.fail(
                    &format!("{path}.type"),
                    "required: \"fixed\" or \"uniform\"",
                );
                return None;
            }
        };
        let min = self.duration(o, "min", path).unwrap_or_default();
        let max = self.duration(o, "max", path).unwrap_or(min);
        if kind == LatencyKind::Uniform && max < min {
            self.fail(&format!("{path}.max"), "must be >= min");
        }
        Some(Latency { kind, min, max })
    }

    /// A number of milliseconds, or a Go duration string (`"250ms"`, `"1.5s"`).
    fn duration(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<Duration> {
        let v = Self::get(obj, key)?;
        let parsed = match v {
            Value::Number(n) => n
                .as_f64()
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| Duration::from_secs_f64(ms / 1000.0)),
            Value::String(s) => go_duration(s),
            _ => None,
        };
        if parsed.is_none() {
            self.fail(
                &format!("{path}.{key}"),
                "expected milliseconds (a number >= 0) or a duration such as \"250ms\" or \"1.5s\"",
            );
        }
        parsed
    }
}

/// Go's `time.ParseDuration` for non-negative values: a sequence of decimal numbers with units
/// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`.
fn go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0.0_f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * secs;
    }
    Some(Duration::from_secs_f64(total))
}

/// Reads and validates the mocker's `config` at `path`, reporting each fault as (field, message).
pub(crate) fn parse(
    config: Option<&Value>,
    path: &str,
    error: &mut dyn FnMut(String, String),
) -> MockerConfig {
    let mut r = Reader { error };
    let mut out = MockerConfig::default();
    let Some(config) = config.filter(|c| !c.is_null()) else {
        return out;
    };
    let Some(o) = r.object(config, path) else {
        return out;
    };
    out.enabled = r.bool(o, "enabled", path, true);
    if let Some(v) = Reader::get(o, "global_latency") {
        out.global_latency = r.latency(v, &format!("{path}.global_latency"));
    }
    out.default_behavior = match r.string(o, "default_behavior", path).as_deref() {
        None | Some("" | "passthrough") => DefaultBehavior::Passthrough,
        Some("success") => DefaultBehavior::Success,
        Some("error") => DefaultBehavior::Error,
        Some(other) => {
            r.fail(
                &format!("{path}.default_behavior"),
                format!(
                    "unknown default behavior \"{other}\"; expected \"passthrough\", \"success\" or \"error\""
                ),
            );
            DefaultBehavior::Passthrough
        }
    };
    match Reader::get(o, "rules") {
        None => {}
        Some(Value::Array(rules)) => {
            let mut parsed: Vec<MockRule> = Vec::with_capacity(rules.len());
            for (i, rule) in rules.iter().enumerate() {
                let rule_path = format!("{path}.rules[{i}]");
                if let Some(rule) = parse_rule(&mut r, rule, &rule_path) {
                    if let Some(j) = parsed.iter().position(|p| p.name == rule.name) {
                        r.fail(
                            &format!("{rule_path}.name"),
                            format!(
                                "duplicate rule name \"{}\" (rules[{j}] has it too)",
                                rule.name
                            ),
                        );
                    }
                    parsed.push(rule);
                }
            }
            if !rules.is_empty() {
                parsed.sort_by_key(|r| std::cmp::Reverse(r.priority));
                out.rules = parsed;
            }
        }
        Some(_) => r.fail(&format!("{path}.rules"), "expected a list of rules"),
    }
    out
}

fn parse_rule(r: &mut Reader<'_>, v: &Value, path: &str) -> Option<MockRule> {
    let o = r.object(v, path)?;
    let name = r.string(o, "name", path).unwrap_or_default();
    if name.is_empty() {
        r.fail(&format!("{path}.name"), "required");
    }
    let enabled = r.bool(o, "enabled", path, true);
    let priority = match Reader::get(o, "priority") {
        None => 0,
        Some(v) => match v.as_i64().filter(|p| (-1000..=1000).contains(p)) {
            Some(p) => p,
            None => {
                r.fail(
                    &format!("{path}.priority"),
                    "must be an integer between -1000 and 1000",
                );
                0
            }
        },
    };
    let probability = match r.number(o, "probability", path) {
        None => 1.0,
        Some(p) if (0.0..=1.0).contains(&p) => p,
        Some(_) => {
            r.fail(&format!("{path}.probability"), "must be between 0 and 1");
            1.0
        }
    };
    let conditions = match Reader::get(o, "conditions") {
        None => Conditions::default(),
        Some(v) => parse_conditions(r, v, &format!("{path}.conditions")),
    };
    let latency = Reader::get(o, "latency").and_then(|v| r.latency(v, &format!("{path}.latency")));
    let mut responses = Vec::new();
    match Reader::get(o, "responses") {
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if let Some(resp) = parse_response(r, item, &format!("{path}.responses[{i}]")) {
                    responses.push(resp);
                }
            }
        }
        Some(Value::Array(_)) | None => {
            r.fail(
                &format!("{path}.responses"),
                "at least one response is required",
            );
        }
        Some(_) => r.fail(&format!("{path}.responses"), "expected a list of responses"),
    }
    Some(MockRule {
        name,
        enabled,
        priority,
        probability,
        conditions,
        latency,
        responses,
    })
}

fn parse_conditions(r: &mut Reader<'_>, v: &Value, path: &str) -> Conditions {
    let mut out = Conditions::default();
    let Some(o) = r.object(v, path) else {
        return out;
    };
    out.providers = r.strings(o, "providers", path);
    out.models = r.strings(o, "models", path);
    if let Some(pattern) = r.string(o, "message_regex", path) {
        match Regex::new(&pattern) {
            Ok(re) => out.message_regex = Some(re),
            Err(e) => r.fail(
                &format!("{path}.message_regex"),
                format!("not a valid regular expression: {}", reason(&e.to_string())),
            ),
        }
    }
    if let Some(v) = Reader::get(o, "request_size") {
        let size_path = format!("{path}.request_size");
        if let Some(s) = r.object(v, &size_path) {
            let min = r.count(s, "min", &size_path).unwrap_or(0);
            let max = r.count(s, "max", &size_path).unwrap_or(u64::MAX);
            if max < min {
                r.fail(&format!("{size_path}.max"), "must be >= min");
            }
            out.request_size = Some((min, max));
        }
    }
    out
}

/// The regex crate's errors span several lines (the pattern, a caret, the reason); the last
/// line names the reason.
fn reason(e: &str) -> String {
    e.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(e)
        .trim()
        .trim_start_matches("error: ")
        .to_owned()
}

fn parse_response(r: &mut Reader<'_>, v: &Value, path: &str) -> Option<MockResponse> {
    let o = r.object(v, path)?;
    let weight = match r.number(o, "weight", path) {
        None => 1.0,
        Some(w) if w < 0.0 => {
            r.fail(&format!("{path}.weight"), "must be >= 0");
            1.0
        }
        Some(0.0) => 1.0,
        Some(w) => w,
    };
    let allow_fallbacks = r.bool(o, "allow_fallbacks", path, true);
    let kind = match r.string(o, "type", path).as_deref() {
        Some("success") => {
            let content_path = format!("{path}.content");
            let Some(c) = Reader::get(o, "content") else {
                r.fail(&content_path, "required for a success response");
                return None;
            };
            ResponseKind::Success(parse_content(r, c, &content_path)?)
        }
        Some("error") => {
            let error_path = format!("{path}.error");
            let Some(e) = Reader::get(o, "error") else {
                r.fail(&error_path, "required for an error response");
                return None;
            };
            ResponseKind::Error(parse_error(r, e, &error_path)?)
        }
        Some(other) => {
            r.fail(
                &format!("{path}.type"),
                format!("unknown response type \"{other}\"; expected \"success\" or \"error\""),
            );
            return None;
        }
        None => {
            r.fail(
                &format!("{path}.type"),
                "required: \"success\" or \"error\"",
            );
            return None;
        }
    };
    Some(MockResponse {
        weight,
        allow_fallbacks,
        kind,
    })
}

fn parse_content(r: &mut Reader<'_>, v: &Value, path: &str) -> Option<SuccessContent> {
    let o = r.object(v, path)?;
    let message = r.string(o, "message", path).unwrap_or_default();
    let message_template = r
        .string(o, "message_template", path)
        .filter(|t| !t.is_empty());
    if message.is_empty() && message_template.is_none() {
        r.fail(
            &format!("{path}.message"),
            "either message or message_template is required",
        );
    }
    let usage = Reader::get(o, "usage").and_then(|u| {
        let usage_path = format!("{path}.usage");
        let u = r.object(u, &usage_path)?;
        Some(MockUsage {
            prompt_tokens: r.count(u, "prompt_tokens", &usage_path).unwrap_or(0),
            completion_tokens: r.count(u, "completion_tokens", &usage_path).unwrap_or(0),
            total_tokens: r.count(u, "total_tokens", &usage_path).unwrap_or(0),
        })
    });
    let custom_fields = match Reader::get(o, "custom_fields") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            r.fail(&format!("{path}.custom_fields"), "expected an object");
            Map::new()
        }
    };
    Some(SuccessContent {
        message,
        message_template,
        model: r.string(o, "model", path).filter(|m| !m.is_empty()),
        usage,
        finish_reason: r.string(o, "finish_reason", path).filter(|f| !f.is_empty()),
        custom_fields,
    })
}

fn parse_error(r: &mut Reader<'_>, v: &Value, path: &str) -> Option<ErrorContent> {
    let o = r.object(v, path)?;
    let message = r.string(o, "message", path).unwrap_or_default();
    if message.is_empty() {
        r.fail(&format!("{path}.message"), "required");
    }
    // Bifrost's `code` is a string; a number (429) is taken as its decimal text.
    let code = match Reader::get(o, "code") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            r.fail(&format!("{path}.code"), "expected a string");
            None
        }
    };
    let status_code = match Reader::get(o, "status_code") {
        None => None,
        Some(v) => match v.as_u64().filter(|s| (100..=599).contains(s)) {
            Some(s) => u16::try_from(s).ok(),
            None => {
                r.fail(
                    &format!("{path}.status_code"),
                    "must be an HTTP status between 100 and 599",
                );
                None
            }
        },
    };
    Some(ErrorContent {
        message,
        error_type: r.string(o, "type", path),
        code,
        status_code,
    })
}

#[cfg(test)]
mod tests {
    use super::go_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(go_duration("0"), Some(Duration::ZERO));
        assert_eq!(go_duration("10"), None);
        assert_eq!(go_duration("fast"), None);
        assert_eq!(go_duration(""), None);
    }
}
