//! What an admin operation answers when it cannot do what was asked.

use asbru_config::FieldError;

/// An admin operation's failure: the HTTP status, a message for the operator, and the field at
/// fault when there is one. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub status: u16,
    pub message: String,
    /// The path of the field at fault, as in `config.json` (`providers.openai.keys[0].weight`).
    pub field: Option<String>,
    /// Seconds to wait before trying again (a throttled login), sent as `Retry-After`.
    pub retry_after_secs: Option<u64>,
}

impl AdminError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            field: None,
            retry_after_secs: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }

    /// Too many attempts: try again in `secs` seconds (sent as `Retry-After`).
    pub fn too_many(message: impl Into<String>, secs: u64) -> Self {
        Self {
            retry_after_secs: Some(secs),
            ..Self::new(429, message)
        }
    }

    /// The store cannot be written: the change is refused, and the gateway goes on serving.
    pub fn store_unavailable(e: &asbru_store::StoreError) -> Self {
        tracing::warn!(error = %e, "admin write refused: the config store is unavailable");
        Self::new(
            503,
            format!(
                "the config store is unavailable, nothing was changed; try again when it is back ({e})"
            ),
        )
    }

    /// A change the validator refused: every error listed, the first one's field named.
    pub fn invalid(errors: &[FieldError]) -> Self {
        let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Self {
            status: 400,
            message: format!("invalid configuration: {}", listed.join("; ")),
            field: errors.first().map(|e| e.path.clone()),
            retry_after_secs: None,
        }
    }
}
