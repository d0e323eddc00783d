//! `asbru config check` and `asbru config schema`.

use asbru_config::{LoadError, Notice, NoticeKind};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Loads `file`, builds every provider, and prints each error and notice with its field path:
/// all of them in one run, notices included when there are errors. Exit status 0 when the gateway
/// would start with this file, 1 otherwise.
pub fn run(file: &Path) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(source) => {
            let e = LoadError::Io {
                path: file.to_path_buf(),
                source,
            };
            let _ = writeln!(out, "{e}");
            return ExitCode::FAILURE;
        }
    };
    let checked = asbru_config::check_str(&text, &|var| std::env::var(var).ok());
    let mut errors: Vec<String> = checked.errors.iter().map(ToString::to_string).collect();
    let mut notices = checked.notices;
    let mut serving: Vec<String> = Vec::new();
    if let Some(config) = checked.config {
        notices.extend(asbru_providers::support_notices(&config));
        serving = config
            .providers
            .iter()
            .filter(|p| p.can_serve())
            .map(|p| p.name.clone())
            .collect();
        if let Err(e) = asbru_engine::Gateway::new(config) {
            errors.push(e.message().to_owned());
        }
    }
    let lines = notice_lines(&notices);
    if errors.is_empty() {
        let _ = writeln!(out, "{}", file.display());
    } else {
        let _ = writeln!(out, "{}: {} error(s)", file.display(), errors.len());
        for e in &errors {
            let _ = writeln!(out, "  error: {e}");
        }
    }
    for line in &lines {
        let _ = writeln!(out, "  {line}");
    }
    if !errors.is_empty() {
        return ExitCode::FAILURE;
    }
    let _ = writeln!(
        out,
        "ok: {} provider(s) [{}], {} notice(s)",
        serving.len(),
        serving.join(", "),
        lines.len()
    );
    ExitCode::SUCCESS
}

/// `info: …` or `warning: …`, one line per notice.
fn notice_lines(notices: &[Notice]) -> Vec<String> {
    notices
        .iter()
        .map(|n| {
            let level = match n.kind {
                NoticeKind::Info => "info",
                _ => "warning",
            };
            format!("{level}: {n}")
        })
        .collect()
}

pub fn print_schema() -> ExitCode {
    let schema = asbru_config::json_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    ExitCode::SUCCESS
}
