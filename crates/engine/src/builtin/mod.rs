//! The built-in plugins, in Bifrost's order: `telemetry` first (always, unless the config
//! disables it), then `governance` when the config has virtual keys, model or provider limits or routing
//! rules, or requires a virtual key, then
//! `mocker` when configured. (Bifrost's `logging`, `otel` and `semantic_cache` take their
//! places here as they land.)

mod governance;
mod mocker;
mod routing;
mod telemetry;

use crate::plugin::Plugin;
use asbru_config::Config;
use asbru_governance::counters::Limits;
use asbru_schema::GatewayError;
use std::sync::Arc;

pub use governance::GovernancePlugin;
pub use mocker::{MockerPlugin, MockerStats};
pub use telemetry::TelemetryPlugin;

/// A uniform random draw in `[0, 1)` from the gateway's (seedable) generator.
pub(crate) type Draw = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The built-in plugins in order, and the governance plugin among them, if any.
pub(crate) type BuiltIn = (Vec<Arc<dyn Plugin>>, Option<Arc<GovernancePlugin>>);

/// The built-in plugins `config` enables, in the order their pre-hooks run. `limits` holds the
/// governance counters, which outlive config reloads. Also returns the governance plugin, when
/// there is one, for the requests that do not run plugins.
pub(crate) fn plugins(
    config: &Config,
    limits: &Arc<Limits>,
    draw: Draw,
    prices: &crate::pricing::Pricer,
) -> Result<BuiltIn, GatewayError> {
    let mut plugins: Vec<Arc<dyn Plugin>> = Vec::new();
    if let Some(labels) = telemetry_labels(config) {
        plugins.push(Arc::new(TelemetryPlugin::new(labels)));
    }
    let mut governance = None;
    if config.governance.is_some() || config.requires_virtual_key() {
        let plugin = Arc::new(
            GovernancePlugin::new(
                config.governance.clone().unwrap_or_default(),
                config.requires_virtual_key(),
                Arc::clone(limits),
            )
            .with_routing(
                config.providers.iter().map(|p| p.name.clone()).collect(),
                draw,
            )
            .with_prices(prices.clone()),
        );
        plugins.push(Arc::clone(&plugin) as Arc<dyn Plugin>);
        governance = Some(plugin);
    }
    if let Some(mocker) = &config.plugins.mocker {
        plugins.push(Arc::new(MockerPlugin::new(mocker.clone())?));
    }
    Ok((plugins, governance))
}

/// The custom metric labels (`client.prometheus_labels`, then the telemetry plugin's
/// `custom_labels`), or `None` when telemetry is off.
pub(crate) fn telemetry_labels(config: &Config) -> Option<Vec<String>> {
    if !config.plugins.telemetry {
        return None;
    }
    let mut labels = config.client.prometheus_labels.clone();
    for label in &config.plugins.telemetry_custom_labels {
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    Some(labels)
}
