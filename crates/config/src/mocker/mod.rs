//! The `mocker` plugin's configuration (Bifrost's `plugins/mocker`): rules that answer requests
//! without calling a provider.
//!
//! The shape is Bifrost's `MockerConfig` key for key, so a Bifrost config file loads unchanged;
//! where Bifrost is loose (Go zero values standing for "unset", durations as raw numbers) the
//! choices are documented on the fields and in `docs/configuration.md`. Everything that can be
//! checked is checked here, at load time, with the field's path — regexes included — so the
//! plugin itself never meets a bad rule.

mod parse;

pub(crate) use parse::parse;

use regex::Regex;
use serde_json::{Map, Value};
use std::time::Duration;

/// `plugins[].config` of the `mocker` plugin.
#[derive(Debug, Clone)]
pub struct MockerConfig {
    /// `enabled` (default true here; Bifrost's Go zero value is false, but a `plugins[]` entry
    /// already has its own `enabled`, so a missing key should not silently turn mocking off).
    pub enabled: bool,
    /// `global_latency`: applied to every rule without its own `latency`.
    pub global_latency: Option<Latency>,
    /// `default_behavior`: what happens when no rule matches (default `passthrough`).
    pub default_behavior: DefaultBehavior,
    /// `rules`, sorted by `priority`, highest first (stable: equal priorities keep file order).
    /// An enabled mocker without rules gets Bifrost's catch-all `default-mock` rule.
    pub rules: Vec<MockRule>,
}

impl Default for MockerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            global_latency: None,
            default_behavior: DefaultBehavior::Passthrough,
            rules: vec![MockRule::catch_all()],
        }
    }
}

/// `default_behavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultBehavior {
    /// Let the request go to its provider.
    Passthrough,
    /// Answer "Mock plugin default response".
    Success,
    /// Fail with "Mock plugin default error" (500).
    Error,
}

/// `latency`/`global_latency`: a simulated provider delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub kind: LatencyKind,
    pub min: Duration,
    /// Only read for `uniform`.
    pub max: Duration,
}

/// `latency.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    /// Always `min`.
    Fixed,
    /// Uniformly between `min` and `max`.
    Uniform,
}

/// One of `rules[]`.
#[derive(Debug, Clone)]
pub struct MockRule {
    pub name: String,
    /// `enabled` (default true; see [`MockerConfig::enabled`]).
    pub enabled: bool,
    pub priority: i64,
    /// `probability` that a matching rule answers, 0..=1. Absent: 1 (Bifrost's unset zero
    /// value means "always"); an explicit 0 never answers, as Bifrost's field doc says.
    pub probability: f64,
    pub conditions: Conditions,
    pub latency: Option<Latency>,
    pub responses: Vec<MockResponse>,
}

impl MockRule {
    /// Bifrost's rule for an enabled mocker configured without rules.
    pub fn catch_all() -> Self {
        Self {
            name: "default-mock".into(),
            enabled: true,
            priority: 1,
            probability: 1.0,
            conditions: Conditions::default(),
            latency: None,
            responses: vec![MockResponse {
                weight: 1.0,
                allow_fallbacks: true,
                kind: ResponseKind::Success(SuccessContent {
                    message: "This is a mock response from the Mocker plugin".into(),
                    ..SuccessContent::default()
                }),
            }],
        }
    }
}

/// `conditions`: all given ones must match; none given matches every request.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub providers: Vec<String>,
    pub models: Vec<String>,
    /// `message_regex`, compiled at load time; matched against the request's messages' text.
    pub message_regex: Option<Regex>,
    /// `request_size` {min, max} in bytes of the request body, both inclusive.
    pub request_size: Option<(u64, u64)>,
}

/// One of `responses[]`.
#[derive(Debug, Clone)]
pub struct MockResponse {
    /// `weight` (0 or absent counts as 1, as in Bifrost).
    pub weight: f64,
    /// `allow_fallbacks` for errors (default true, as Bifrost's nil).
    pub allow_fallbacks: bool,
    pub kind: ResponseKind,
}

/// `type` with its `content` or `error`.
#[derive(Debug, Clone)]
pub enum ResponseKind {
    Success(SuccessContent),
    Error(ErrorContent),
}

/// `content` of a success response.
#[derive(Debug, Clone, Default)]
pub struct SuccessContent {
    pub message: String,
    /// `message_template`: overrides `message`; `{{model}}`, `{{provider}}` and `{{faker.*}}`
    /// are filled in.
    pub message_template: Option<String>,
    /// `model`: reported instead of the requested model.
    pub model: Option<String>,
    pub usage: Option<MockUsage>,
    /// `finish_reason` (default `stop`).
    pub finish_reason: Option<String>,
    /// `custom_fields`: extra top-level members of the answer.
    pub custom_fields: Map<String, Value>,
}

/// `content.usage`; a zero or absent count takes Bifrost's default (10 prompt, 20 completion,
/// their sum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MockUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
}

/// `error` of an error response.
#[derive(Debug, Clone, Default)]
pub struct ErrorContent {
    pub message: String,
    pub error_type: Option<String>,
    pub code: Option<String>,
    /// `status_code` (100..=599; default 500).
    pub status_code: Option<u16>,
}
