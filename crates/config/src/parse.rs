//! JSON text → raw types, with exact paths for type errors and a notice for every unknown key.

use crate::error::FieldError;
use crate::notice::{Notice, NoticeKind};
use crate::raw::RawConfig;
use serde_json::error::Category;

/// Path used for errors that concern the whole document (not JSON, not an object).
const TOP_LEVEL: &str = "(top level)";

/// Parses the file. Fails on the first type error (serde cannot go on past one), naming its path;
/// unknown keys never fail, they come back as `UnknownKey` notices in file order.
pub(crate) fn parse(json: &str) -> Result<(RawConfig, Vec<Notice>), FieldError> {
    // Editors on Windows like to start files with a byte-order mark; JSON parsers do not.
    let json = json.strip_prefix('\u{feff}').unwrap_or(json);
    // Checked up front: serde would otherwise happily read a struct from an array.
    match json.trim_start().chars().next() {
        None => return Err(FieldError::new(TOP_LEVEL, "the file is empty")),
        Some('{') => {}
        Some(_) => {
            return Err(FieldError::new(
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
    let raw = parsed.map_err(|e| FieldError::new(error_path(e.path()), json_message(e.inner())))?;
    de.end()
        .map_err(|e| FieldError::new(TOP_LEVEL, json_message(&e)))?;

    let notices = unknown
        .into_iter()
        .map(|path| Notice {
            kind: NoticeKind::UnknownKey,
            path,
            message: "neither asbru nor Bifrost knows this key (a typo?); ignored".to_owned(),
        })
        .collect();
    Ok((raw, notices))
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

    #[test]
    fn type_error_names_the_path_without_position() {
        let err = parse(r#"{"providers": {"openai": {"keys": [{"name": "a", "weight": "x"}]}}}"#)
            .unwrap_err();
        assert_eq!(err.path, "providers.openai.keys[0].weight");
        assert_eq!(err.message, r#"invalid type: string "x", expected f64"#);
    }

    #[test]
    fn syntax_error_keeps_position() {
        let err = parse("{\n  \"client\": {,}\n}").unwrap_err();
        assert_eq!(err.path, "client");
        assert!(err.message.starts_with("invalid JSON: "), "{}", err.message);
        assert!(err.message.contains("line 2"), "{}", err.message);
    }

    #[test]
    fn not_an_object() {
        let err = parse("[1, 2]").unwrap_err();
        assert_eq!(err.path, TOP_LEVEL);
        assert_eq!(err.message, "the file must hold a JSON object ({ ... })");
        let err = parse(" \n").unwrap_err();
        assert_eq!(err.to_string(), "(top level): the file is empty");
        let err = parse(r#"{"client": []}"#).unwrap_err();
        assert_eq!(err.path, "client");
        assert!(
            err.message.contains("expected an object"),
            "{}",
            err.message
        );
        assert!(parse("\u{feff}{}").is_ok());
        let err = parse("{} {}").unwrap_err();
        assert_eq!(err.path, TOP_LEVEL);
        assert!(
            err.message.contains("trailing characters"),
            "{}",
            err.message
        );
    }

    #[test]
    fn unknown_keys_are_notices_with_paths() {
        let (_, notices) = parse(
            r#"{"colour": 1, "client": {"drop_excess": true},
                "providers": {"openai": {"keys": [{"value": "x", "wieght": 2}]}}}"#,
        )
        .unwrap();
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
