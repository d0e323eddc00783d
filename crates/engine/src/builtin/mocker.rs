//! The `mocker` plugin: answers requests by rules, without calling a provider.

use crate::plugin::Plugin;
use asbru_config::mocker::MockerConfig;
use asbru_schema::GatewayError;

/// Bifrost's mocker.
#[derive(Debug)]
pub struct MockerPlugin {
    _config: MockerConfig,
}

impl MockerPlugin {
    pub fn new(config: MockerConfig) -> Result<Self, GatewayError> {
        Ok(Self { _config: config })
    }
}

impl Plugin for MockerPlugin {
    fn name(&self) -> &str {
        "mocker"
    }
}
