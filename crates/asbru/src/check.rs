//! `asbru config check` and `asbru config schema`.

use asbru_config::{LoadError, Loaded, NoticeKind};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Loads `file`, builds every provider, and prints each error and notice with its field path.
/// Exit status 0 when the gateway would start with this file, 1 otherwise.
pub fn run(file: &Path) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let loaded = match asbru_config::load_file(file, &|var| std::env::var(var).ok()) {
        Ok(l) => l,
        Err(LoadError::Invalid(errors)) => {
            let _ = writeln!(out, "{}: {} error(s)", file.display(), errors.len());
            for e in errors {
                let _ = writeln!(out, "  error: {e}");
            }
            return ExitCode::FAILURE;
        }
        Err(e) => {
            let _ = writeln!(out, "{e}");
            return ExitCode::FAILURE;
        }
    };
    let report = Report::of(&loaded);
    let _ = writeln!(out, "{}", file.display());
    for line in &report.lines {
        let _ = writeln!(out, "  {line}");
    }
    match asbru_engine::Gateway::new(loaded.config) {
        Ok(gateway) => {
            let names = gateway.provider_names();
            let _ = writeln!(
                out,
                "ok: {} provider(s) [{}], {} notice(s)",
                names.len(),
                names.join(", "),
                report.lines.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(out, "  error: {}", e.message());
            ExitCode::FAILURE
        }
    }
}

/// Every notice of a loaded config, including providers without an adapter yet.
pub struct Report {
    pub lines: Vec<String>,
}

impl Report {
    pub fn of(loaded: &Loaded) -> Self {
        let lines = loaded
            .notices
            .iter()
            .chain(asbru_providers::support_notices(&loaded.config).iter())
            .map(|n| {
                let level = match n.kind {
                    NoticeKind::Info => "info",
                    _ => "warning",
                };
                format!("{level}: {n}")
            })
            .collect();
        Self { lines }
    }
}

pub fn print_schema() -> ExitCode {
    let schema = asbru_config::json_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    let _ = writeln!(std::io::stdout().lock(), "{text}");
    ExitCode::SUCCESS
}
