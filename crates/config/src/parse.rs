//! JSON text → raw types, with exact paths for type errors and a notice for every unknown key.

use crate::error::FieldError;
use crate::notice::{Notice, NoticeKind};
use crate::raw::RawConfig;
use serde_json::Value;
use serde_json::error::Category;

/// Path used for errors that concern the whole document (not JSON, not an object).
const TOP_LEVEL: &str = "(top level)";

/// Most type errors collected in one run; past this, the rest are found on the next run.
const MAX_TYPE_ERRORS: usize = 50;

/// What parsing found: the raw config (unless the file could not be read as one at all), the
/// unknown keys, and every type error.
pub(crate) struct Parsed {
    pub raw: Option<RawConfig>,
    pub notices: Vec<Notice>,
    pub errors: Vec<FieldError>,
}

impl Parsed {
    fn failed(error: FieldError) -> Self {
        Self {
            raw: None,
            notices: Vec::new(),
            errors: vec![error],
        }
    }
}

/// Parses the file. Unknown keys never fail, they come back as `UnknownKey` notices in file order.
/// Type errors are all collected, each named by its path: serde stops at the first one, so the
/// offending value is replaced with `null` (or, where `null` is not accepted either, removed) and
/// the document read again, until it reads. The raw config then read still goes through
/// validation, so one run reports every problem.
pub(crate) fn parse(json: &str) -> Parsed {
    // Editors on Windows like to start files with a byte-order mark; JSON parsers do not.
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    // Checked up front: serde would otherwise happily read a struct from an array.
    match json.trim_start().chars().next() {
        None => return Parsed::failed(FieldError::new(TOP_LEVEL, "the file is empty")),
        Some('{') => {}
        Some(_) => {
            return Parsed::failed(FieldError::new(
                TOP_LEVEL,
                "the file must hold a JSON object ({ ... })",
            ));
        }
    }
    let mut unknown: Vec<String> = Vec::new();
    let mut de = serde_json::Deserializer::from_str(json);
    let parsed = {
        let mut on_ignored = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
        let tracked = serde_ignored::Deserializer::new(&mut de, &mut on_ignored);
        serde_path_to_error::deserialize::<_, RawConfig>(tracked)
    };
    match parsed {
        Ok(raw) => {
            if let Err(e) = de.end() {
                return Parsed::failed(FieldError::new(TOP_LEVEL, json_message(&e)));
            }
            Parsed {
                raw: Some(raw),
                notices: unknown_notices(unknown),
                errors: Vec::new(),
            }
        }
        Err(e) if e.inner().classify() != Category::Data => Parsed::failed(FieldError::new(
            error_path(e.path()),
            json_message(e.inner()),
        )),
        Err(e) => {
            let first = FieldError::new(error_path(e.path()), json_message(e.inner()));
            let mut parsed = collect_type_errors(json);
            // What the document as a value cannot show (a duplicate key: a JSON value keeps the
            // last one) is still reported.
            if !parsed.errors.iter().any(|f| f.path == first.path) {
                parsed.errors.insert(0, first);
            }
            parsed
        }
    }
}

/// The slow path, for a file with type errors: see [`parse`].
fn collect_type_errors(json: &str) -> Parsed {
    let mut value: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return Parsed::failed(FieldError::new(TOP_LEVEL, json_message(&e))),
    };
    let mut errors: Vec<FieldError> = Vec::new();
    let mut last: Option<Vec<Step>> = None;
    while errors.len() < MAX_TYPE_ERRORS {
        let mut unknown: Vec<String> = Vec::new();
        let parsed = {
            let mut on_ignored = |path: serde_ignored::Path<'_>| unknown.push(ignored_path(&path));
            let tracked = serde_ignored::Deserializer::new(&value, &mut on_ignored);
            serde_path_to_error::deserialize::<_, RawConfig>(tracked)
        };
        let e = match parsed {
            Ok(raw) => {
                return Parsed {
                    raw: Some(raw),
                    notices: unknown_notices(unknown),
                    errors,
                };
            }
            Err(e) => e,
        };
        let steps: Vec<Step> = e.path().iter().filter_map(Step::of).collect();
        let path = error_path(e.path());
        if last.as_ref() == Some(&steps) {
            // `null` is not accepted here either: drop the entry from its parent.
            if !remove_at(&mut value, &steps) {
                break;
            }
            last = None;
            continue;
        }
        let got = value_at(&value, &steps);
        errors.push(FieldError::new(&path, type_message(e.inner(), got, &path)));
        let Some(slot) = value_at_mut(&mut value, &steps) else {
            break;
        };
        *slot = Value::Null;
        last = Some(steps);
    }
    Parsed {
        raw: None,
        notices: Vec::new(),
        errors,
    }
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

impl Step {
    fn of(segment: &serde_path_to_error::Segment) -> Option<Self> {
        use serde_path_to_error::Segment;
        match segment {
            Segment::Map { key } => Some(Self::Key(key.clone())),
            Segment::Seq { index } => Some(Self::Index(*index)),
            Segment::Enum { .. } | Segment::Unknown => None,
        }
    }
}

fn value_at<'v>(value: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(i),
    })
}

fn value_at_mut<'v>(value: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    steps.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get_mut(k),
        Step::Index(i) => v.get_mut(i),
    })
}

/// Removes the value at `steps` from the object holding it; false when there is none.
fn remove_at(value: &mut Value, steps: &[Step]) -> bool {
    let Some((Step::Key(key), parent)) = steps.split_last() else {
        return false;
    };
    value_at_mut(value, parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key))
        .is_some()
}

/// `expected <kind>, got <json kind> <value>` for a type error, in a config author's words;
/// serde's own message for anything else.
fn type_message(e: &serde_json::Error, got: Option<&Value>, path: &str) -> String {
    let message = json_message(e);
    let Some(rest) = message.strip_prefix("invalid type: ") else {
        return message;
    };
    let Some((serde_got, expected)) = rest.rsplit_once(", expected ") else {
        return message;
    };
    let got = got.map_or_else(|| serde_got.to_owned(), |v| describe(v, path));
    format!("expected {}, got {got}", expected_kind(expected))
}

/// serde's name for what a field takes, as a config author would say it.
fn expected_kind(serde: &str) -> String {
    match serde {
        "f64" | "f32" => "a number".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize" => {
            "a whole number".to_owned()
        }
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "an object".to_owned(),
        s if s.starts_with("struct ") => "an object".to_owned(),
        s if s.starts_with("a sequence") => "an array".to_owned(),
        s if s.starts_with("a map") => "an object".to_owned(),
        other => other.to_owned(),
    }
}

/// A JSON value's kind and, when short and not under a secret-looking field, the value itself.
fn describe(value: &Value, path: &str) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let field = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
            let secret = ["key", "value", "secret", "password", "token", "credential"]
                .iter()
                .any(|w| field.contains(w));
            if secret || s.chars().count() > 40 {
                format!("a string of {} characters", s.chars().count())
            } else {
                format!("the string {s:?}")
            }
        }
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

fn unknown_notices(unknown: Vec<String>) -> Vec<Notice> {
    unknown
        .into_iter()
        .map(|path| Notice {
            kind: NoticeKind::UnknownKey,
            path,
            message: "neither asbru nor Bifrost knows this key (a typo?); ignored".to_owned(),
        })
        .collect()
}

/// The path of a parse error, without the `?` segments serde_path_to_error uses where it does
/// not know the key yet (a syntax error inside an object).
fn error_path(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    let known: Vec<&str> = path
        .split('.')
        .filter(|s| !s.is_empty() && *s != "?")
        .collect();
    if known.is_empty() {
        TOP_LEVEL.to_owned()
    } else {
        known.join(".")
    }
}

/// serde_json's message. Type errors lose the "at line L column C" suffix, since the path already
/// says where; syntax errors keep it, since there the position is the useful part.
fn json_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    match e.classify() {
        Category::Data => {
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            full.strip_suffix(&suffix).unwrap_or(&full).to_owned()
        }
        Category::Syntax | Category::Eof => format!("invalid JSON: {full}"),
        Category::Io => full,
    }
}

/// Formats a path the way [`serde_path_to_error`] does (`providers.openai.keys[0].weight`), so
/// errors and notices look alike.
fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(json: &str) -> FieldError {
        let mut parsed = parse(json);
        assert_eq!(parsed.errors.len(), 1, "{:?}", parsed.errors);
        parsed.errors.remove(0)
    }

    #[test]
    fn type_error_names_the_path_in_a_config_authors_words() {
        let err =
            parse_err(r#"{"providers": {"openai": {"keys": [{"name": "a", "weight": "heavy"}]}}}"#);
        assert_eq!(
            err.to_string(),
            r#"providers.openai.keys[0].weight: expected a number, got the string "heavy""#
        );
    }

    #[test]
    fn every_type_error_is_collected_and_the_rest_still_reads() {
        let parsed = parse(
            r#"{"client": {"max_request_body_size_mb": "big", "drop_excess_requests": 1},
                "providers": {
                    "openai": {"keys": [{"value": 42, "weight": "heavy"}], "colour": 1},
                    "groq": {"keys": "sk-secret-value"}
                }}"#,
        );
        let errors: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            // In key order within each object (serde_json's maps are sorted).
            [
                "client.drop_excess_requests: expected true or false, got the number 1",
                r#"client.max_request_body_size_mb: expected a whole number, got the string "big""#,
                "providers.groq.keys: expected an array, got a string of 15 characters",
                "providers.openai.keys[0].value: expected a string, got the number 42",
                r#"providers.openai.keys[0].weight: expected a number, got the string "heavy""#,
            ]
        );
        // The file still read (with those values left out): validation can go on, and the
        // unknown keys are reported too.
        assert!(parsed.raw.is_some());
        let paths: Vec<&str> = parsed.notices.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["providers.openai.colour"]);
    }

    #[test]
    fn syntax_error_keeps_position() {
        let err = parse_err("{\n  \"client\": {,}\n}");
        assert_eq!(err.path, "client");
        assert!(err.message.starts_with("invalid JSON: "), "{}", err.message);
        assert!(err.message.contains("line 2"), "{}", err.message);
    }

    #[test]
    fn not_an_object() {
        let err = parse_err("[1, 2]");
        assert_eq!(err.path, TOP_LEVEL);
        assert_eq!(err.message, "the file must hold a JSON object ({ ... })");
        let err = parse_err(" \n");
        assert_eq!(err.to_string(), "(top level): the file is empty");
        let err = parse_err(r#"{"client": []}"#);
        assert_eq!(err.path, "client");
        assert!(
            err.message.contains("expected an object"),
            "{}",
            err.message
        );
        assert!(parse("\u{feff}{}").errors.is_empty());
        let err = parse_err("{} {}");
        assert_eq!(err.path, TOP_LEVEL);
        assert!(
            err.message.contains("trailing characters"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_keys_are_notices_with_paths() {
        let notices = parse(
            r#"{"colour": 1, "client": {"drop_excess": true},
                "providers": {"openai": {"keys": [{"value": "x", "wieght": 2}]}}}"#,
        )
        .notices;
        let paths: Vec<&str> = notices.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "colour",
                "client.drop_excess",
                "providers.openai.keys[0].wieght"
            ]
        );
        assert!(notices.iter().all(|n| n.kind == NoticeKind::UnknownKey));
    }
}
