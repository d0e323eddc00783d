//! The `mocker` plugin (Bifrost's `plugins/mocker`): answers requests by rules, without calling
//! a provider — for tests, demos and load tests of everything around the provider.
//!
//! A request is looked at by the rules in priority order; the first enabled rule whose
//! conditions all match takes it. That rule answers with the chance its `probability` gives
//! (otherwise the request goes on to its provider, as in Bifrost), after its latency (or the
//! global one), with one of its responses picked by weight. No matching rule: the
//! `default_behavior`. Only chat, text completions and the Responses API are answered; other
//! operations (embeddings, rerank, token counts) always pass through.

mod answer;
mod stats;
mod template;

use crate::context::RequestContext;
use crate::plugin::{Answer, Plugin, PluginError, PreHook, RequestBody, ShortCircuit};
use answer::Reply;
use asbru_config::mocker::{
    DefaultBehavior, Latency, LatencyKind, MockResponse, MockRule, MockerConfig, ResponseKind,
    SuccessContent,
};
use asbru_schema::GatewayError;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use stats::{Counters, Outcome};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

pub use stats::MockerStats;

/// Bifrost's mocker.
#[derive(Debug)]
pub struct MockerPlugin {
    config: MockerConfig,
    rng: Mutex<SmallRng>,
    counters: Counters,
}

/// The request's primary target, as conditions and templates see it.
struct Target<'a> {
    provider: &'a str,
    model: &'a str,
}

impl MockerPlugin {
    pub fn new(config: MockerConfig) -> Result<Self, GatewayError> {
        let counters = Counters::new(config.rules.iter().map(|r| r.name.clone()));
        Ok(Self {
            config,
            rng: Mutex::new(SmallRng::from_rng(&mut rand::rng())),
            counters,
        })
    }

    /// Makes probabilities, weights and latencies reproducible (tests).
    #[must_use]
    pub fn with_seed(self, seed: u64) -> Self {
        *self.rng.lock().unwrap_or_else(PoisonError::into_inner) = SmallRng::seed_from_u64(seed);
        self
    }

    /// Hit statistics since the plugin was built.
    pub fn stats(&self) -> MockerStats {
        self.counters.snapshot()
    }

    fn random(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .random::<f64>()
    }

    /// The primary target as the engine resolved it; a model that names no configured
    /// provider has provider `""` (only rules without provider conditions can match it).
    fn target<'a>(&self, ctx: &'a RequestContext) -> Target<'a> {
        let (provider, model) = ctx
            .primary_target()
            .unwrap_or(("", ctx.model_requested.as_str()));
        Target { provider, model }
    }

    /// The first enabled rule (by priority) whose conditions all match, and its index.
    fn matching(&self, target: &Target<'_>, body: &RequestBody<'_>) -> Option<(usize, &MockRule)> {
        let mut text: Option<String> = None;
        self.config.rules.iter().enumerate().find(|(_, rule)| {
            let c = &rule.conditions;
            rule.enabled
                && (c.providers.is_empty() || c.providers.iter().any(|p| p == target.provider))
                && (c.models.is_empty() || c.models.iter().any(|m| m == target.model))
                && c.request_size.is_none_or(|(min, max)| {
                    let size = body.bytes().len() as u64;
                    (min..=max).contains(&size)
                })
                && c.message_regex.as_ref().is_none_or(|re| {
                    re.is_match(text.get_or_insert_with(|| message_text(body.json())))
                })
        })
    }

    fn delay(&self, latency: Option<&Latency>) -> Option<Duration> {
        let l = latency?;
        let d = match l.kind {
            LatencyKind::Uniform if l.max > l.min => l.min + (l.max - l.min).mul_f64(self.random()),
            _ => l.min,
        };
        (!d.is_zero()).then_some(d)
    }

    /// One response, picked by weight.
    fn pick<'r>(&self, responses: &'r [MockResponse]) -> Option<&'r MockResponse> {
        if responses.len() <= 1 {
            return responses.first();
        }
        let total: f64 = responses.iter().map(|r| r.weight).sum();
        let mut roll = self.random() * total;
        for r in responses {
            if roll < r.weight {
                return Some(r);
            }
            roll -= r.weight;
        }
        responses.last()
    }

    fn success(&self, ctx: &RequestContext, target: &Target<'_>, reply: Reply) -> ShortCircuit {
        let answer = if ctx.stream {
            Answer::Stream(answer::stream(ctx.operation(), &reply))
        } else {
            Answer::Json(answer::json(ctx.operation(), &reply))
        };
        let mut short = ShortCircuit::new(answer);
        if !target.provider.is_empty() {
            short.provider = Some(target.provider.to_owned());
        }
        short
    }

    fn reply(&self, c: &SuccessContent, target: &Target<'_>) -> Reply {
        let text = match &c.message_template {
            Some(t) => {
                let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
                template::fill(t, target.provider, target.model, &mut *rng)
            }
            None => c.message.clone(),
        };
        let u = c.usage.unwrap_or_default();
        let or = |n: u64, default: u64| if n == 0 { default } else { n };
        let (prompt, completion) = (or(u.prompt_tokens, 10), or(u.completion_tokens, 20));
        Reply {
            text,
            model: c.model.clone().unwrap_or_else(|| target.model.to_owned()),
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: or(u.total_tokens, prompt + completion),
            finish_reason: c.finish_reason.clone().unwrap_or_else(|| "stop".into()),
            custom_fields: c.custom_fields.clone(),
        }
    }

    fn default_behavior(&self, ctx: &RequestContext, target: &Target<'_>) -> PreHook {
        match self.config.default_behavior {
            DefaultBehavior::Passthrough => {
                self.counters.record(&Outcome::Passthrough);
                PreHook::Continue
            }
            DefaultBehavior::Success => {
                self.counters.record(&Outcome::Success(None));
                let reply = Reply {
                    text: "Mock plugin default response".into(),
                    model: target.model.to_owned(),
                    prompt_tokens: 5,
                    completion_tokens: 10,
                    total_tokens: 15,
                    finish_reason: "stop".into(),
                    custom_fields: serde_json::Map::new(),
                };
                PreHook::ShortCircuit(self.success(ctx, target, reply))
            }
            DefaultBehavior::Error => {
                self.counters.record(&Outcome::Error(None));
                PreHook::ShortCircuit(ShortCircuit::new(Answer::Error {
                    error: GatewayError::upstream(
                        500,
                        "Mock plugin default error",
                        None,
                        None,
                        None,
                    ),
                    allow_fallbacks: true,
                }))
            }
        }
    }
}

/// The text of the request's messages, joined by spaces: chat `messages[].content` (strings
/// or text parts), a completion's `prompt`, a Responses request's `instructions` and `input`.
fn message_text(body: Option<&Value>) -> String {
    fn push(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|i| push(i, out)),
            Value::Object(o) => {
                if let Some(t) = o.get("text") {
                    push(t, out);
                } else if let Some(c) = o.get("content") {
                    push(c, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Some(body) = body {
        for key in ["messages", "prompt", "instructions", "input"] {
            if let Some(v) = body.get(key) {
                push(v, &mut out);
            }
        }
    }
    out.join(" ")
}

impl Plugin for MockerPlugin {
    fn name(&self) -> &str {
        "mocker"
    }

    fn pre(
        &self,
        ctx: &mut RequestContext,
        body: &RequestBody<'_>,
    ) -> Result<PreHook, PluginError> {
        if !self.config.enabled || !answer::supported(ctx.operation()) {
            return Ok(PreHook::Continue);
        }
        let target = self.target(ctx);
        let Some((index, rule)) = self.matching(&target, body) else {
            return Ok(self.default_behavior(ctx, &target));
        };
        // `probability` 1 always answers, 0 never (the random draw is in [0, 1)).
        if rule.probability < 1.0 && self.random() >= rule.probability {
            self.counters.record(&Outcome::Passthrough);
            return Ok(PreHook::Continue);
        }
        let Some(response) = self.pick(&rule.responses) else {
            self.counters.record(&Outcome::Passthrough);
            return Ok(PreHook::Continue);
        };
        let delay = self.delay(
            rule.latency
                .as_ref()
                .or(self.config.global_latency.as_ref()),
        );
        let mut short = match &response.kind {
            ResponseKind::Error(e) => {
                self.counters.record(&Outcome::Error(Some(index)));
                ShortCircuit::new(Answer::Error {
                    error: GatewayError::upstream(
                        e.status_code.unwrap_or(500),
                        e.message.clone(),
                        e.error_type.clone(),
                        e.code.clone(),
                        None,
                    ),
                    allow_fallbacks: response.allow_fallbacks,
                })
            }
            ResponseKind::Success(c) => {
                self.counters.record(&Outcome::Success(Some(index)));
                let reply = self.reply(c, &target);
                self.success(ctx, &target, reply)
            }
        };
        short.after = delay;
        Ok(PreHook::ShortCircuit(short))
    }
}

#[cfg(test)]
mod tests;
