//! asbru's configuration: a Bifrost `config.json` read unchanged, validated with errors that name
//! the exact field, and resolved into the typed [`Config`] the engine runs on.
//!
//! Owns: the raw file shape, `env.VAR` resolution, defaults, validation, the JSON Schema of the
//! file, and the provider list taken from environment variables when there is no file.
//! Must not: open network connections or know how providers are called.
//!
//! Loading never fails for what asbru merely does not do yet: such keys are accepted and come back
//! as [`Notice`]s, as do unknown keys and unset environment variables. Only invalid values fail,
//! all of them reported at once as [`FieldError`]s.

pub mod admin;
mod env;
mod error;
pub mod mocker;
pub mod model;
pub mod notice;
mod ordered;
mod parse;
mod raw;
mod validate;

pub use admin::{AdminPassword, AuthConfig, PostgresSettings, StoreChoice};
pub use env::{ENV_BASE_URLS, ENV_PROVIDER_KEYS, OLLAMA_BASE_URL_VAR, from_env};
pub use error::{FieldError, LoadError};
pub use model::*;
pub use notice::{Notice, NoticeKind};
pub use validate::REQUEST_TYPES;

use std::path::Path;

/// A configuration that loaded, with everything the operator should be told about it (keys not
/// supported yet, unknown keys, unset environment variables, keys left out).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub notices: Vec<Notice>,
}

/// Reads and validates a `config.json`. `env` looks up environment variables (tests pass a
/// closure over a map; production passes `|name| std::env::var(name).ok()`).
pub fn load_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    load_str(&text, env)
}

/// Validates a `config.json` given as text; see [`load_file`].
pub fn load_str(json: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, LoadError> {
    let checked = check_str(json, env);
    match checked.config {
        Some(config) if checked.errors.is_empty() => Ok(Loaded {
            config,
            notices: checked.notices,
        }),
        _ => Err(LoadError::Invalid(checked.errors)),
    }
}

/// Everything found in a `config.json`: the errors and the notices, both kept whatever the other
/// holds, for `asbru config check`.
#[derive(Debug)]
pub struct Checked {
    /// The configuration, when there are no errors.
    pub config: Option<Config>,
    /// Every error found (type errors first, then invalid values).
    pub errors: Vec<FieldError>,
    pub notices: Vec<Notice>,
}

/// Validates a `config.json` given as text, keeping notices even when there are errors.
pub fn check_str(json: &str, env: &dyn Fn(&str) -> Option<String>) -> Checked {
    let parsed = parse::parse(json);
    let mut errors = parsed.errors;
    let Some(raw) = parsed.raw else {
        return Checked {
            config: None,
            errors,
            notices: parsed.notices,
        };
    };
    let (config, notices) = validate::validate(raw, env, parsed.notices);
    let config = match config {
        Ok(c) if errors.is_empty() => Some(c),
        Ok(_) => None,
        Err(more) => {
            errors.extend(more);
            None
        }
    };
    Checked {
        config,
        errors,
        notices,
    }
}

/// The JSON Schema of the file asbru accepts, generated from the raw types so it cannot drift
/// from the parser. Published as `docs/config.schema.json` for editors and CI checks.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(raw::RawConfig).to_value()
}
