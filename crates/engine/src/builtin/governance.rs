//! The `governance` plugin: Bifrost's virtual keys, routing, rate limits and budgets, enforced
//! in process.
//!
//! Pre-hook, in Bifrost's order (`plugins/governance/main.go`, newest `decide`):
//! 1. the virtual key, from `x-bf-vk` (any value), else `Authorization: Bearer sk-bf-…`,
//!    `x-api-key: sk-bf-…` or `x-goog-api-key: sk-bf-…`. None while one is required, or an
//!    unknown one: 401 `access_not_found`; none and not required: only the limits every request
//!    has (`model_configs`, `providers`) and the global routing rules apply — and nothing at all
//!    runs when the config has neither;
//! 2. inactive key: 403 `access_blocked`;
//! 3. routing ([`super::routing`]): routing rules, then the key's weighted providers for a bare
//!    model — the checks below apply to where the request is then going;
//! 4. the primary target's provider not allowed to the key: 403 `provider_blocked`; its model
//!    not allowed on that provider: 403 `model_blocked`;
//! 5. rate limits of the key's provider config, the model's and provider's own limits, the key,
//!    its team and its customer: every request and token window needs headroom, else 429
//!    `request_limited` / `token_limited` with `Retry-After`; then their budgets, else 402
//!    `budget_exceeded`. Admission reserves one request, the body's output-token cap and the
//!    request's worst-case cost at the primary model's price.
//!
//! None of these errors lets the request's fallbacks be tried. The fallbacks themselves are
//! held to the same rules when they are tried ([`TargetGuard`]): a provider or model the key may
//! not use fails that target, and a fallback's provider config, model and provider limits are
//! admitted then. Which provider keys may serve the request (`provider_configs[].keys`) is
//! enforced in key selection through the same guard.
//!
//! Post-hook: every admission is settled with one request, the tokens the answer reported and
//! the request's cost (0 when either is unknown).

use super::Draw;
use super::routing::{Caller, Router};
use crate::context::{Identity, RequestContext};
use crate::plugin::{
    Answer, Finished, Plugin, PluginError, PreHook, RequestBody, ShortCircuit, TargetCheck,
    TargetGuard, TargetLimits,
};
use asbru_config::KeyConfig;
use asbru_governance::counters::{
    Admission, CounterKind, CounterRef, Limits, Refusal, Usage, usd_to_nanos,
};
use asbru_governance::model::{Customer, Governance, Owner, ProviderConfig, Team, VirtualKey};
use asbru_schema::GatewayError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The prefix of virtual-key values in the shared credential headers.
const VK_PREFIX: &str = "sk-bf-";

/// Bifrost's governance plugin (virtual keys and rate limits).
pub struct GovernancePlugin {
    governance: Arc<Governance>,
    /// Virtual-key value → index in `governance.virtual_keys`.
    by_value: HashMap<String, usize>,
    required: bool,
    limits: Arc<Limits>,
    /// The prices budgets reserve at: the gateway's list under the providers' overrides (the
    /// built-in list until [`GovernancePlugin::with_prices`]).
    prices: Option<crate::pricing::Pricer>,
    /// Routing rules and the virtual keys' load balancing ([`super::routing`]).
    router: Router,
    /// Whether any request, with a virtual key or not, has something to check or route:
    /// `model_configs`, `providers` or routing rules exist.
    applies_to_all: bool,
}

impl std::fmt::Debug for GovernancePlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernancePlugin")
            .field("virtual_keys", &self.governance.virtual_keys.len())
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl GovernancePlugin {
    /// The team and customer a key belongs to (the customer through the team, or directly).
    fn owners<'g>(&'g self, vk: &VirtualKey) -> (Option<&'g Team>, Option<&'g Customer>) {
        let g = &self.governance;
        match &vk.owner {
            Owner::None => (None, None),
            Owner::Team(t) => {
                let team = g.teams.iter().find(|x| &x.id == t);
                let customer = team
                    .and_then(|t| t.customer_id.as_ref())
                    .and_then(|c| g.customers.iter().find(|x| &x.id == c));
                (team, customer)
            }
            Owner::Customer(c) => (None, g.customers.iter().find(|x| &x.id == c)),
        }
    }

    /// Registers this config's rate-limit windows in the shared counters, or reconfigures the
    /// existing ones (which keep their usage): done when the config starts serving, so a config
    /// prepared but never installed changes nothing.
    pub fn load_counters(&self) {
        self.governance.load_into(&self.limits);
    }

    /// For requests that do not go through the plugins (model lists): when a virtual key is
    /// required, the 401 or 403 for headers without a known, active one.
    pub fn check_headers(&self, headers: &http::HeaderMap) -> Result<(), GatewayError> {
        if !self.required {
            return Ok(());
        }
        let value = virtual_key_in(|name| headers.get(name).and_then(|v| v.to_str().ok()));
        let Some(value) = value else {
            return Err(missing_key());
        };
        let Some(&index) = self.by_value.get(value) else {
            return Err(unknown_key());
        };
        let vk = &self.governance.virtual_keys[index];
        if vk.is_active {
            Ok(())
        } else {
            Err(inactive_key(vk))
        }
    }

    /// The plugin for `governance` (empty when the config has none), refusing requests without
    /// a virtual key when `required`, counting in `limits` (which outlive config reloads).
    /// Its counters are registered (or reconfigured) by [`GovernancePlugin::load_counters`],
    /// when the config is installed.
    pub fn new(governance: Arc<Governance>, required: bool, limits: Arc<Limits>) -> Self {
        let by_value = governance
            .virtual_keys
            .iter()
            .enumerate()
            .map(|(i, vk)| (vk.value.clone(), i))
            .collect();
        let applies_to_all = !governance.model_configs.is_empty()
            || !governance.providers.is_empty()
            || !governance.routing_rules.is_empty();
        let router = Router::new(&governance, Vec::new(), Arc::new(|| 0.0));
        Self {
            governance,
            by_value,
            required,
            limits,
            prices: None,
            router,
            applies_to_all,
        }
    }

    /// Reserves budgets at the prices requests are charged at (the list in force, overrides
    /// included).
    #[must_use]
    pub(crate) fn with_prices(mut self, prices: crate::pricing::Pricer) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Routes with the gateway's configured `providers` (load balancing picks no other) and its
    /// random `draw` (seeded in tests).
    #[must_use]
    pub(crate) fn with_routing(mut self, providers: Vec<String>, draw: Draw) -> Self {
        self.router = Router::new(&self.governance, providers, draw);
        self
    }
}

/// The virtual key the request carries, if any.
fn virtual_key(ctx: &RequestContext) -> Option<&str> {
    virtual_key_in(|name| ctx.header(name))
}

/// The virtual key among headers read by `header`.
fn virtual_key_in<'h>(header: impl Fn(&str) -> Option<&'h str>) -> Option<&'h str> {
    if let Some(v) = header("x-bf-vk").map(str::trim).filter(|v| !v.is_empty()) {
        return Some(v);
    }
    let bearer = header("authorization").and_then(|v| {
        let v = v.trim();
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    [bearer, header("x-api-key"), header("x-goog-api-key")]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|v| v.starts_with(VK_PREFIX))
}

/// The output-token cap the body asks for: what admission reserves on token windows.
#[cfg(test)]
fn reserved_tokens(body: &RequestBody<'_>) -> u64 {
    output_cap(body).unwrap_or(0)
}

/// The body's output cap, read without building a JSON tree: every governed request pays for
/// this, and a typed read that skips the other fields allocates nothing.
fn output_cap(body: &RequestBody<'_>) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Caps {
        max_tokens: Option<serde_json::Number>,
        max_completion_tokens: Option<serde_json::Number>,
        max_output_tokens: Option<serde_json::Number>,
    }
    let caps: Caps = serde_json::from_slice(body.bytes()).ok()?;
    [
        caps.max_tokens,
        caps.max_completion_tokens,
        caps.max_output_tokens,
    ]
    .into_iter()
    .flatten()
    .find_map(|n| n.as_u64())
}

/// Output tokens a budget reservation assumes when the body sets no cap.
const DEFAULT_OUTPUT_RESERVATION: u64 = 4096;

/// The worst case a budget reserves for a request to `provider`'s `model`, in USD: the body's
/// size / 4 as input tokens at the input price, plus the output cap (else
/// [`DEFAULT_OUTPUT_RESERVATION`]) at the output price. 0 when the model has no price (the
/// request is then admitted on headroom alone and settles at 0).
#[cfg(test)]
fn reserved_cost(provider: &str, model: &str, body: &RequestBody<'_>) -> f64 {
    let price = asbru_governance::pricing::Catalog::builtin()
        .price(provider, model)
        .copied();
    reserved_cost_of(price, body.bytes().len(), output_cap(body))
}

/// [`reserved_cost`] at `price`, for a body of `body_len` bytes with output cap `cap` (read
/// once per request).
fn reserved_cost_of(
    price: Option<asbru_governance::pricing::Price>,
    body_len: usize,
    cap: Option<u64>,
) -> f64 {
    let Some(price) = price else {
        return 0.0;
    };
    let input = (body_len as u64).div_ceil(4);
    let output = cap.unwrap_or(DEFAULT_OUTPUT_RESERVATION);
    input as f64 * price.input + output as f64 * price.output
}

fn missing_key() -> GatewayError {
    GatewayError::unauthorized(
        "virtual key required: send it in the x-bf-vk header (or as \
         Authorization: Bearer sk-bf-…, x-api-key: sk-bf-… or x-goog-api-key: sk-bf-…)",
        "access_not_found",
    )
}

fn unknown_key() -> GatewayError {
    GatewayError::unauthorized(
        "virtual key not found: check the value sent in x-bf-vk (or Authorization: \
         Bearer, x-api-key, x-goog-api-key)",
        "access_not_found",
    )
}

fn inactive_key(vk: &VirtualKey) -> GatewayError {
    GatewayError::forbidden(
        format!("virtual key '{}' is blocked (inactive)", vk.name),
        "access_blocked",
    )
}

fn refuse(error: GatewayError) -> PreHook {
    PreHook::ShortCircuit(ShortCircuit::new(Answer::Error {
        error,
        allow_fallbacks: false,
    }))
}

/// The 429 for a refused rate limit, the 402 for a refused budget.
fn rate_limited(refusal: &Refusal) -> GatewayError {
    let (what, code) = match refusal.counter.kind {
        CounterKind::Tokens => ("token", "token_limited"),
        CounterKind::Requests => ("request", "request_limited"),
        CounterKind::Budget => {
            return GatewayError::budget_exceeded(format!(
                "Budget exceeded: budget '{}' reached ({} used of {}); resets in {}s",
                refusal.counter.id,
                refusal.amount(refusal.used),
                refusal.amount(refusal.limit),
                refusal.retry_after_secs
            ))
            .with_retry_after(Some(Duration::from_secs(refusal.retry_after_secs)));
        }
    };
    GatewayError::rate_limited(
        format!(
            "Rate limit exceeded: {what} limit of rate limit '{}' reached ({} used of {}); resets in {}s",
            refusal.counter.id,
            refusal.amount(refusal.used),
            refusal.amount(refusal.limit),
            refusal.retry_after_secs
        ),
        code,
    )
    .with_retry_after(Some(Duration::from_secs(refusal.retry_after_secs)))
}

/// The rate-limit counters of a rate limit id (both windows; absent ones impose nothing).
fn counters_of(id: &str, out: &mut Vec<CounterRef>) {
    out.push(CounterRef::requests(id));
    out.push(CounterRef::tokens(id));
}

/// A governed request — by a virtual key, or only by the limits every request to a model or
/// provider has: what its targets and keys may be, and its admissions.
struct Governed {
    governance: Arc<Governance>,
    /// The virtual key's index; `None` for a request without one.
    vk: Option<usize>,
    limits: Arc<Limits>,
    reservation: Usage,
    state: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    admissions: Vec<Admission>,
    /// Counters (rate-limit windows and budgets) already admitted for this request.
    admitted: Vec<CounterRef>,
}

/// The counters of an owner (provider config, key, team, customer): its rate limit's windows
/// and its budgets.
pub(super) fn owner_counters(
    rate_limit_id: Option<&str>,
    budget_ids: &[String],
    out: &mut Vec<CounterRef>,
) {
    if let Some(id) = rate_limit_id {
        counters_of(id, out);
    }
    out.extend(budget_ids.iter().map(|b| CounterRef::budget(b.as_str())));
}

/// The counters that apply to every request for `model` on `provider`, with a virtual key or
/// without (Bifrost's `EvaluateModelAndProviderRequest` runs before any key is looked at): the
/// `model_configs` for that model (on any provider, or on this one) and the `providers` entry
/// for that provider.
pub(super) fn scoped_counters(
    g: &Governance,
    provider: &str,
    model: &str,
    out: &mut Vec<CounterRef>,
) {
    for mc in &g.model_configs {
        let named = mc.model_name == model
            || mc
                .model_name
                .strip_prefix(provider)
                .and_then(|rest| rest.strip_prefix('/'))
                == Some(model);
        if named && mc.provider.as_deref().is_none_or(|p| p == provider) {
            owner_counters(mc.rate_limit_id.as_deref(), &mc.budget_ids, out);
        }
    }
    for pg in g.providers.iter().filter(|pg| pg.name == provider) {
        owner_counters(pg.rate_limit_id.as_deref(), &pg.budget_ids, out);
    }
}

/// Whether a virtual key's provider config lets `model` through on `provider`: `*`, the model,
/// or `provider/model` in `allowed_models`; an empty list restricts nothing (the published
/// schema's reading).
pub(super) fn model_allowed(pc: &ProviderConfig, provider: &str, model: &str) -> bool {
    pc.allowed_models.is_empty()
        || pc.allowed_models.iter().any(|m| {
            m == "*"
                || m == model
                || m.strip_prefix(provider)
                    .and_then(|rest| rest.strip_prefix('/'))
                    == Some(model)
        })
}

impl Governed {
    fn vk(&self) -> Option<&VirtualKey> {
        self.vk.map(|i| &self.governance.virtual_keys[i])
    }

    fn provider_config(&self, provider: &str) -> Option<&ProviderConfig> {
        self.vk()?
            .provider_configs
            .iter()
            .find(|pc| pc.provider == provider)
    }

    /// The counters a target brings: the key's provider config's, then the model's and the
    /// provider's own limits.
    fn target_counters(&self, provider: &str, model: &str) -> Vec<CounterRef> {
        let mut counters = Vec::new();
        if let Some(pc) = self.provider_config(provider) {
            owner_counters(pc.rate_limit_id.as_deref(), &pc.budget_ids, &mut counters);
        }
        scoped_counters(&self.governance, provider, model, &mut counters);
        counters
    }

    /// 403 when the key may not use `provider`, or `model` on it (never without a key).
    fn check_access(&self, provider: &str, model: &str) -> Result<(), GatewayError> {
        let Some(vk) = self.vk() else {
            return Ok(());
        };
        let Some(pc) = self.provider_config(provider) else {
            if vk.allow_all_providers {
                return Ok(());
            }
            return Err(GatewayError::forbidden(
                format!(
                    "virtual key '{}' is not allowed to use provider '{provider}'",
                    vk.name
                ),
                "provider_blocked",
            ));
        };
        if model_allowed(pc, provider, model) {
            Ok(())
        } else {
            Err(GatewayError::forbidden(
                format!(
                    "virtual key '{}' is not allowed to use model '{model}' on provider '{provider}'",
                    vk.name
                ),
                "model_blocked",
            ))
        }
    }

    /// Admits the counters (rate-limit windows, budgets) not yet admitted for this request;
    /// the counters check rate limits before budgets. On this node's own counters the decision
    /// is immediate; counters shared through Redis are decided by the returned future.
    fn admit(self: &Arc<Self>, counters: Vec<CounterRef>) -> TargetCheck {
        let new: Vec<CounterRef> = {
            let held = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let mut new: Vec<CounterRef> = Vec::with_capacity(counters.len());
            for c in counters {
                if !held.admitted.contains(&c) && !new.contains(&c) {
                    new.push(c);
                }
            }
            new
        };
        if new.is_empty() {
            return TargetCheck::Ready(Ok(()));
        }
        if !self.limits.is_shared() {
            let admitted = self.limits.admit(&new, self.reservation);
            return TargetCheck::Ready(match admitted {
                Ok(admission) => {
                    self.hold(admission, new);
                    Ok(())
                }
                Err(refusal) => Err(rate_limited(&refusal)),
            });
        }
        let admitting = self.limits.admit_shared(new.clone(), self.reservation);
        let me = Arc::clone(self);
        TargetCheck::Wait(Box::pin(async move {
            let admission = admitting.await.map_err(|r| rate_limited(&r))?;
            me.hold(admission, new);
            Ok(())
        }))
    }

    /// Keeps an admission until the request is settled.
    fn hold(&self, admission: Admission, counters: Vec<CounterRef>) {
        let mut held = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        held.admissions.push(admission);
        held.admitted.extend(counters);
    }

    /// Settles every admission with the request's real usage and cost.
    fn settle(&self, tokens: u64, cost_usd: f64) {
        let admissions = std::mem::take(
            &mut self
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .admissions,
        );
        for a in admissions {
            a.settle(Usage {
                cost_nanos: usd_to_nanos(cost_usd),
                tokens,
                requests: 1,
            });
        }
    }
}

/// The guard the engine asks before each target; shares the request's [`Governed`].
struct Guard(Arc<Governed>);

impl TargetGuard for Guard {
    fn check_target(&self, provider: &str, model: &str) -> TargetCheck {
        if let Err(e) = self.0.check_access(provider, model) {
            return TargetCheck::Ready(Err(e));
        }
        self.0.admit(self.0.target_counters(provider, model))
    }

    fn allows_key(&self, provider: &str, key: &KeyConfig) -> bool {
        match self.0.provider_config(provider) {
            None => true,
            Some(pc) => {
                pc.allow_all_keys
                    || pc.keys.is_empty()
                    || pc.keys.iter().any(|k| *k == key.id || *k == key.name)
            }
        }
    }
}

/// The governed request's state, for the post-hook.
#[derive(Clone)]
struct GovernedSlot(Arc<Governed>);

impl Plugin for GovernancePlugin {
    fn name(&self) -> &str {
        "governance"
    }

    fn headers(&self) -> Vec<String> {
        if self.router.reads_headers() {
            // Routing rules may test any header (`headers["x-tier"]`).
            return vec!["*".to_owned()];
        }
        ["x-bf-vk", "authorization", "x-api-key", "x-goog-api-key"]
            .map(str::to_owned)
            .to_vec()
    }

    fn pre(
        &self,
        ctx: &mut RequestContext,
        body: &RequestBody<'_>,
    ) -> Result<PreHook, PluginError> {
        let value = virtual_key(ctx);
        let index = match value {
            None if self.required => return Ok(refuse(missing_key())),
            None if !self.applies_to_all => return Ok(PreHook::Continue),
            None => None,
            Some(value) => match self.by_value.get(value) {
                Some(&index) => Some(index),
                None => return Ok(refuse(unknown_key())),
            },
        };
        let g = &self.governance;
        let vk = index.map(|i| &g.virtual_keys[i]);
        let (team, customer) = vk.map_or((None, None), |vk| self.owners(vk));
        if let Some(vk) = vk {
            ctx.identity = Identity {
                virtual_key_id: vk.id.clone(),
                virtual_key_name: vk.name.clone(),
                team_id: team.map(|t| t.id.clone()).unwrap_or_default(),
                team_name: team.map(|t| t.name.clone()).unwrap_or_default(),
                customer_id: customer.map(|c| c.id.clone()).unwrap_or_default(),
                customer_name: customer.map(|c| c.name.clone()).unwrap_or_default(),
                ..std::mem::take(&mut ctx.identity)
            };
            if !vk.is_active {
                return Ok(refuse(inactive_key(vk)));
            }
        }
        // Where the request goes, before anything is checked against it.
        let caller = Caller { vk, team, customer };
        if vk.is_some() || self.router.has_rules() {
            self.router.route(ctx, g, &self.limits, &caller);
        }
        let cap = output_cap(body);
        let governed = Arc::new(Governed {
            governance: Arc::clone(g),
            vk: index,
            limits: Arc::clone(&self.limits),
            reservation: Usage {
                cost_nanos: usd_to_nanos(ctx.primary_target().map_or(0.0, |(p, m)| {
                    let price = match &self.prices {
                        Some(prices) => prices.price(p, m, ctx.operation().request_type(false)),
                        None => asbru_governance::pricing::Catalog::builtin()
                            .price(p, m)
                            .copied(),
                    };
                    reserved_cost_of(price, body.bytes().len(), cap)
                })),
                tokens: cap.unwrap_or(0),
                requests: 1,
            },
            state: Mutex::new(Held::default()),
        });
        // Rate limits, then budgets: the primary provider's config, the model's and the
        // provider's own limits, the key, its team, its customer.
        let mut counters = Vec::new();
        if let Some((provider, model)) = ctx.primary_target() {
            if let Err(e) = governed.check_access(provider, model) {
                return Ok(refuse(e));
            }
            counters = governed.target_counters(provider, model);
        }
        if let Some(vk) = vk {
            owner_counters(vk.rate_limit_id.as_deref(), &vk.budget_ids, &mut counters);
        }
        if let Some(t) = team {
            owner_counters(t.rate_limit_id.as_deref(), &t.budget_ids, &mut counters);
        }
        if let Some(c) = customer {
            owner_counters(c.rate_limit_id.as_deref(), &c.budget_ids, &mut counters);
        }
        let admitting = governed.admit(counters);
        ctx.extensions
            .insert(TargetLimits(Arc::new(Guard(Arc::clone(&governed)))));
        ctx.extensions.insert(GovernedSlot(governed));
        Ok(match admitting {
            TargetCheck::Ready(Ok(())) => PreHook::Continue,
            TargetCheck::Ready(Err(e)) => refuse(e),
            TargetCheck::Wait(admitting) => PreHook::Wait(Box::pin(async move {
                match admitting.await {
                    Ok(()) => PreHook::Continue,
                    Err(e) => refuse(e),
                }
            })),
        })
    }

    fn post(&self, ctx: &mut RequestContext, finished: &Finished<'_>) -> Result<(), PluginError> {
        let Some(GovernedSlot(governed)) = ctx.extensions.remove::<GovernedSlot>() else {
            return Ok(());
        };
        let usage = match finished {
            Finished::Success { usage } => usage.as_ref().or(ctx.usage.as_ref()),
            _ => ctx.usage.as_ref(),
        };
        let tokens = usage.map_or(0, |u| {
            if u.total_tokens > 0 {
                u.total_tokens
            } else {
                u.prompt_tokens + u.completion_tokens
            }
        });
        governed.settle(tokens, ctx.cost.unwrap_or(0.0));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_in(headers: &[(&str, &str)]) -> Option<String> {
        virtual_key_in(|name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v))
            .map(str::to_owned)
    }

    #[test]
    fn the_virtual_key_comes_from_x_bf_vk_then_prefixed_credentials() {
        assert_eq!(
            key_in(&[("x-bf-vk", "anything")]).as_deref(),
            Some("anything")
        );
        assert_eq!(
            key_in(&[("x-bf-vk", "vk-a"), ("authorization", "Bearer sk-bf-b")]).as_deref(),
            Some("vk-a")
        );
        assert_eq!(
            key_in(&[("authorization", "bearer sk-bf-b")]).as_deref(),
            Some("sk-bf-b")
        );
        assert_eq!(key_in(&[("authorization", "Bearer sk-openai")]), None);
        assert_eq!(key_in(&[("authorization", "Basic sk-bf-b")]), None);
        assert_eq!(
            key_in(&[("x-api-key", "sk-ant"), ("x-goog-api-key", "sk-bf-g")]).as_deref(),
            Some("sk-bf-g")
        );
        assert_eq!(
            key_in(&[("x-api-key", "sk-bf-a")]).as_deref(),
            Some("sk-bf-a")
        );
        assert_eq!(key_in(&[("x-bf-vk", "  ")]), None);
    }

    #[test]
    fn a_budget_reserves_the_worst_case_at_the_model_price() {
        let body = r#"{"max_tokens": 100}"#; // 19 bytes: 5 input tokens
        let cost = reserved_cost("openai", "gpt-4o", &RequestBody::new(body.as_bytes()));
        // 5 × 2.5e-6 + 100 × 10e-6 = 0.0000125 + 0.001
        assert!((cost - 0.001_012_5).abs() < 1e-12, "{cost}");
        let body = r#"{"model": "gpt-4o"}"#; // 19 bytes, no cap: 4096 output tokens
        let cost = reserved_cost("openai", "gpt-4o", &RequestBody::new(body.as_bytes()));
        // 5 × 2.5e-6 + 4096 × 10e-6 = 0.0000125 + 0.04096
        assert!((cost - 0.040_972_5).abs() < 1e-12, "{cost}");
        assert_eq!(
            reserved_cost(
                "openai",
                "no-such-model",
                &RequestBody::new(body.as_bytes())
            ),
            0.0
        );
    }

    #[test]
    fn the_reservation_is_the_output_cap() {
        let tokens = |body: &str| reserved_tokens(&RequestBody::new(body.as_bytes()));
        assert_eq!(tokens(r#"{"max_tokens": 40}"#), 40);
        assert_eq!(tokens(r#"{"max_completion_tokens": 30}"#), 30);
        assert_eq!(tokens(r#"{"max_output_tokens": 20}"#), 20);
        assert_eq!(tokens(r#"{"model": "m"}"#), 0);
        assert_eq!(tokens("not json"), 0);
    }
}
