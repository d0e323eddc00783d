//! Why a configuration was refused.

use std::fmt;
use std::path::PathBuf;

/// One invalid value, named by its exact path in the file (`providers.openai.keys[1].weight`), so
/// the operator can go straight to it. Messages never contain secret values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path with `[i]` for array items, as the operator would navigate the file.
    pub path: String,
    /// What is wrong and, where it helps, what is expected instead.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `path`; used by the loader and by later stages (such as the engine
    /// building providers) that find a problem with a specific field.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Why loading failed. `Invalid` carries every problem found, not just the first, so one run of
/// `asbru config check` shows everything there is to fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}", InvalidList(.0))]
    Invalid(Vec<FieldError>),
}

/// Formats the error list: a count, then one error per line.
struct InvalidList<'a>(&'a [FieldError]);

impl fmt::Display for InvalidList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid configuration ({n} error{})",
            if n == 1 { "" } else { "s" }
        )?;
        for e in self.0 {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_lists_every_error() {
        let e = LoadError::Invalid(vec![
            FieldError::new("client.max_request_body_size_mb", "must be >= 1"),
            FieldError::new("providers.openai.keys[1].weight", "must be > 0"),
        ]);
        assert_eq!(
            e.to_string(),
            "invalid configuration (2 errors)\n  client.max_request_body_size_mb: must be >= 1\n  \
             providers.openai.keys[1].weight: must be > 0"
        );
    }

    #[test]
    fn io_names_the_file() {
        let e = LoadError::Io {
            path: PathBuf::from("/etc/asbru/config.json"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory"),
        };
        assert_eq!(
            e.to_string(),
            "cannot read /etc/asbru/config.json: No such file or directory"
        );
    }
}
