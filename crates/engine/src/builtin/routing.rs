//! Where a request goes, decided by the governance plugin before anything is admitted — in
//! Bifrost's order (`plugins/governance/main.go`, `HTTPTransportPreHook`):
//!
//! 1. **routing rules** (`governance.routing_rules`, see [`asbru_governance::rules`]): the first
//!    matching rule of the caller's scopes sends the request to one of its targets (pinning a
//!    key if the target says so) and replaces its fallbacks with the rule's, if it has any;
//! 2. **the virtual key's load balancing**: a model named without a provider (`gpt-4o`, not
//!    `openai/gpt-4o`) goes to one of the key's `provider_configs` that allow it, drawn by
//!    `weight` (a config with no weight is allowed but never drawn); a config over its own
//!    budget or rate limit is left out; configured providers only. When the request brings no
//!    `fallbacks`, the other eligible providers follow as fallbacks, heaviest first.
//!
//! A rule that names a provider makes the model explicit, so load balancing does not run after
//! it (as in Bifrost, where the rule writes `provider/model` into the body). What decided is
//! recorded in the request's identity (`routing_rule_id`, `routing_rule_name`, and the engines
//! `routing-rule` / `governance`), which `extra_fields` and the metrics' labels report.

use super::Draw;
use super::governance::{model_allowed, owner_counters, scoped_counters};
use crate::context::{RequestContext, RouteTarget};
use asbru_governance::counters::{CounterKind, CounterRef, Limits};
use asbru_governance::model::{Customer, Governance, ProviderConfig, Team, VirtualKey};
use asbru_governance::rules::{RoutingRules, RuleInput};

/// Bifrost's names for the routing engines (`schemas.RoutingEngine*`).
const ENGINE_RULE: &str = "routing-rule";
const ENGINE_GOVERNANCE: &str = "governance";

/// The routing half of the governance plugin.
pub(super) struct Router {
    rules: RoutingRules,
    /// Providers the gateway has configured: load balancing never picks another.
    providers: Vec<String>,
    draw: Draw,
}

/// Who is calling, as governance resolved it.
pub(super) struct Caller<'a> {
    pub(super) vk: Option<&'a VirtualKey>,
    pub(super) team: Option<&'a Team>,
    pub(super) customer: Option<&'a Customer>,
}

impl Router {
    /// Rules that do not compile are left out (the config validator refuses them first).
    pub(super) fn new(governance: &Governance, providers: Vec<String>, draw: Draw) -> Self {
        let rules = RoutingRules::compile(&governance.routing_rules).unwrap_or_else(|issues| {
            for issue in issues {
                tracing::error!(%issue, "routing rule refused");
            }
            RoutingRules::default()
        });
        Self {
            rules,
            providers,
            draw,
        }
    }

    /// Whether routing can change anything for a request without a virtual key.
    pub(super) fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Routes the request (see the module's doc), recording what decided.
    pub(super) fn route(
        &self,
        ctx: &mut RequestContext,
        g: &Governance,
        limits: &Limits,
        caller: &Caller<'_>,
    ) {
        let (provider, mut model) = match ctx.primary_target() {
            Some((p, m)) => (p.to_owned(), m.to_owned()),
            None => (String::new(), ctx.model_requested.clone()),
        };
        let mut provider_named = ctx.provider_requested();
        if !self.rules.is_empty() {
            let decision = {
                let input = self.input(ctx, g, limits, caller, &provider, &model);
                self.rules.evaluate(&input, (self.draw)())
            };
            if let Some(d) = decision {
                tracing::debug!(rule = %d.rule_id, provider = %d.provider, model = %d.model, "routing rule matched");
                ctx.identity.routing_rule_id = d.rule_id;
                ctx.identity.routing_rule_name = d.rule_name;
                add_engine(ctx, ENGINE_RULE);
                let fallbacks = (!d.fallbacks.is_empty()).then(|| {
                    d.fallbacks
                        .iter()
                        .map(|f| {
                            let (p, m) = f.split_once('/').unwrap_or(("", f));
                            RouteTarget::new(p, m)
                        })
                        .collect()
                });
                provider_named = !d.provider.is_empty();
                ctx.route_to(
                    RouteTarget {
                        provider: d.provider.clone(),
                        model: d.model.clone(),
                        key_id: d.key_id,
                    },
                    fallbacks,
                );
                model = d.model;
            }
        }
        if provider_named {
            return;
        }
        let Some(vk) = caller.vk else { return };
        self.balance(ctx, limits, vk, &model);
    }

    /// Whether any rule reads request headers (the plugin then asks the engine for them all).
    pub(super) fn reads_headers(&self) -> bool {
        self.rules.reads_headers()
    }

    /// The virtual key's weighted choice of provider for a bare `model`.
    fn balance(&self, ctx: &mut RequestContext, limits: &Limits, vk: &VirtualKey, model: &str) {
        let mut weighted: Vec<(&ProviderConfig, f64)> = vk
            .provider_configs
            .iter()
            .filter(|pc| self.providers.contains(&pc.provider))
            .filter(|pc| model_allowed(pc, &pc.provider, model))
            .filter(|pc| !over_limit(limits, pc))
            .filter_map(|pc| pc.weight.map(|w| (pc, w.max(0.0))))
            .collect();
        if weighted.is_empty() {
            return;
        }
        let total: f64 = weighted.iter().map(|(_, w)| w).sum();
        let point = (self.draw)() * total;
        let mut cumulative = 0.0;
        let mut chosen = weighted.len() - 1;
        for (i, (_, w)) in weighted.iter().enumerate() {
            cumulative += w;
            if point < cumulative {
                chosen = i;
                break;
            }
        }
        let (pc, _) = weighted.remove(chosen);
        let fallbacks = (ctx.requested_fallbacks().is_empty() && !weighted.is_empty()).then(|| {
            // Stable: equal weights keep the key's order.
            weighted.sort_by(|a, b| b.1.total_cmp(&a.1));
            weighted
                .iter()
                .map(|(pc, _)| RouteTarget::new(pc.provider.clone(), model))
                .collect()
        });
        tracing::debug!(provider = %pc.provider, model, "virtual key load balancing chose a provider");
        add_engine(ctx, ENGINE_GOVERNANCE);
        ctx.route_to(RouteTarget::new(pc.provider.clone(), model), fallbacks);
    }

    /// The CEL variables of this request.
    fn input<'a>(
        &self,
        ctx: &'a RequestContext,
        g: &Governance,
        limits: &Limits,
        caller: &Caller<'a>,
        provider: &'a str,
        model: &'a str,
    ) -> RuleInput<'a> {
        let mut counters = Vec::new();
        if let Some(vk) = caller.vk {
            if let Some(pc) = vk
                .provider_configs
                .iter()
                .find(|pc| pc.provider == provider)
            {
                owner_counters(pc.rate_limit_id.as_deref(), &pc.budget_ids, &mut counters);
            }
            owner_counters(vk.rate_limit_id.as_deref(), &vk.budget_ids, &mut counters);
        }
        if let Some(t) = caller.team {
            owner_counters(t.rate_limit_id.as_deref(), &t.budget_ids, &mut counters);
        }
        if let Some(c) = caller.customer {
            owner_counters(c.rate_limit_id.as_deref(), &c.budget_ids, &mut counters);
        }
        scoped_counters(g, provider, model, &mut counters);
        let percent = |kind: CounterKind| percent_used(limits, &counters, kind);
        let headers = ctx
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        RuleInput {
            model,
            provider,
            request_type: ctx.operation().request_type(ctx.stream),
            headers,
            params: Vec::new(),
            virtual_key_id: &ctx.identity.virtual_key_id,
            virtual_key_name: &ctx.identity.virtual_key_name,
            team_id: &ctx.identity.team_id,
            team_name: &ctx.identity.team_name,
            customer_id: &ctx.identity.customer_id,
            customer_name: &ctx.identity.customer_name,
            budget_used: percent(CounterKind::Budget),
            tokens_used: percent(CounterKind::Tokens),
            request: percent(CounterKind::Requests),
        }
    }
}

/// Appends `engine` to the request's routing engines (comma-separated, no repeats).
fn add_engine(ctx: &mut RequestContext, engine: &str) {
    let engines = &mut ctx.identity.routing_engine;
    if engines.split(',').any(|e| e == engine) {
        return;
    }
    if !engines.is_empty() {
        engines.push(',');
    }
    engines.push_str(engine);
}

/// The highest share (0–100) of its limit that any counter of `kind` among `counters` has used.
fn percent_used(limits: &Limits, counters: &[CounterRef], kind: CounterKind) -> f64 {
    counters
        .iter()
        .filter(|c| c.kind == kind)
        .filter_map(|c| limits.snapshot(c))
        .map(|s| {
            if s.limit == 0 {
                100.0
            } else {
                (s.used as f64 * 100.0 / s.limit as f64).min(100.0)
            }
        })
        .fold(0.0, f64::max)
}

/// Whether a provider config's own budget or rate limit is used up (Bifrost's
/// `isProviderBudgetViolated` / `isProviderRateLimitViolated`): such a provider is not drawn.
fn over_limit(limits: &Limits, pc: &ProviderConfig) -> bool {
    let mut counters = Vec::new();
    owner_counters(pc.rate_limit_id.as_deref(), &pc.budget_ids, &mut counters);
    counters
        .iter()
        .filter_map(|c| limits.snapshot(c))
        .any(|s| s.used >= s.limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use asbru_governance::counters::{CounterSpec, ManualClock, Usage};
    use asbru_governance::duration::ResetDuration;
    use std::sync::Arc;

    fn limits_with(counter: &CounterRef, limit: u64, used: u64) -> Limits {
        let limits = Limits::new(Arc::new(ManualClock::new(
            "2026-01-01T00:00:00Z".parse().unwrap(),
        )));
        limits.upsert(
            counter.clone(),
            CounterSpec {
                limit,
                reset: ResetDuration::parse("1h").unwrap(),
                calendar_aligned: false,
                used,
                last_reset: None,
            },
        );
        limits
    }

    #[test]
    fn the_percentage_is_the_most_used_counter_of_its_kind() {
        let requests = CounterRef::requests("rl");
        let limits = limits_with(&requests, 4, 3);
        let budget = CounterRef::budget("b");
        limits.upsert(
            budget.clone(),
            CounterSpec {
                limit: 10,
                reset: ResetDuration::parse("1d").unwrap(),
                calendar_aligned: false,
                used: 1,
                last_reset: None,
            },
        );
        let counters = [requests, budget, CounterRef::tokens("absent")];
        assert_eq!(
            percent_used(&limits, &counters, CounterKind::Requests),
            75.0
        );
        assert_eq!(percent_used(&limits, &counters, CounterKind::Budget), 10.0);
        assert_eq!(percent_used(&limits, &counters, CounterKind::Tokens), 0.0);
    }

    #[test]
    fn a_provider_config_is_over_its_limit_once_a_window_is_used_up() {
        let pc = ProviderConfig {
            provider: "openai".into(),
            weight: Some(1.0),
            allowed_models: Vec::new(),
            keys: Vec::new(),
            allow_all_keys: false,
            budget_ids: Vec::new(),
            rate_limit_id: Some("rl".into()),
            calendar_aligned: false,
        };
        let requests = CounterRef::requests("rl");
        let limits = limits_with(&requests, 2, 1);
        assert!(!over_limit(&limits, &pc));
        limits
            .admit(std::slice::from_ref(&requests), Usage::request(0.0, 0))
            .unwrap()
            .settle(Usage::request(0.0, 0));
        assert!(over_limit(&limits, &pc));
    }
}
