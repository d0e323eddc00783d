//! Typed governance entities, as Bifrost's `governance` config section describes them.
//!
//! The shapes follow Bifrost's published schema and its newer data model at once, because
//! config files of both ages exist: an owner (customer, team, virtual key, VK provider config,
//! model config, provider) may name one budget (`budget_id`) or several (`budget_ids`, or
//! `budgets[]` of ids or inline budget objects); here it always has a list, [`BudgetIds`]. These
//! types hold validated data only — [`crate::parse`] builds them and refuses anything
//! inconsistent — so code using them can trust every reference to resolve.

use jiff::Timestamp;
use serde_json::Value;

use crate::counters::{CounterRef, CounterSpec, Limits, usd_to_nanos};
use crate::duration::ResetDuration;

/// Budget ids attached to one owner; every one names an entry of [`Governance::budgets`].
pub type BudgetIds = Vec<String>;

/// The whole governance section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Governance {
    /// Spending limits in US dollars, including budgets declared inline on an owner.
    pub budgets: Vec<Budget>,
    /// Request and token rate limits.
    pub rate_limits: Vec<RateLimit>,
    /// Customers: the top of the ownership tree.
    pub customers: Vec<Customer>,
    /// Teams, optionally under a customer.
    pub teams: Vec<Team>,
    /// Virtual keys, the credentials clients present.
    pub virtual_keys: Vec<VirtualKey>,
    /// Limits that apply to every request for a model (optionally on one provider).
    pub model_configs: Vec<ModelConfig>,
    /// Limits that apply to every request to a provider.
    pub providers: Vec<ProviderGovernance>,
    /// `routing_rules`, kept as written: evaluating them is a separate component's job.
    pub routing_rules: Vec<Value>,
    /// `auth_config`, kept as written: admin authentication is handled elsewhere.
    pub auth_config: Option<Value>,
    /// JSON paths of fields this crate does not interpret (newer or enterprise fields), so a
    /// config checker can list them as "not supported yet" instead of dropping them silently.
    pub ignored: Vec<String>,
}

/// A spending limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Unique among budgets.
    pub id: String,
    /// Limit in US dollars; never negative.
    pub max_limit: f64,
    /// Window length.
    pub reset_duration: ResetDuration,
    /// Whether windows snap to UTC calendar boundaries.
    pub calendar_aligned: bool,
    /// Dollars already spent in the current window.
    pub current_usage: f64,
    /// When the current window began; `None` means when loaded.
    pub last_reset: Option<Timestamp>,
}

impl Budget {
    /// The counter configuration for this budget, in nano-dollars.
    pub fn counter_spec(&self) -> CounterSpec {
        CounterSpec {
            limit: usd_to_nanos(self.max_limit),
            reset: self.reset_duration,
            calendar_aligned: self.calendar_aligned,
            used: usd_to_nanos(self.current_usage),
            last_reset: self.last_reset,
        }
    }
}

/// One half of a rate limit: a maximum count over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Maximum count per window.
    pub max: u64,
    /// Window length.
    pub reset_duration: ResetDuration,
    /// Count already used in the current window.
    pub current_usage: u64,
    /// When the current window began; `None` means when loaded.
    pub last_reset: Option<Timestamp>,
}

impl Window {
    fn counter_spec(&self, calendar_aligned: bool) -> CounterSpec {
        CounterSpec {
            limit: self.max,
            reset: self.reset_duration,
            calendar_aligned,
            used: self.current_usage,
            last_reset: self.last_reset,
        }
    }
}

/// A rate limit: independent token and request windows, either of which may be absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Unique among rate limits.
    pub id: String,
    /// `token_max_limit` over `token_reset_duration`.
    pub tokens: Option<Window>,
    /// `request_max_limit` over `request_reset_duration`.
    pub requests: Option<Window>,
    /// Whether both windows snap to UTC calendar boundaries (newer field; default false).
    pub calendar_aligned: bool,
}

/// A customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Unique among customers.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Budgets charged for every request of the customer's keys and teams.
    pub budget_ids: BudgetIds,
    /// Rate limit applied to the customer as a whole.
    pub rate_limit_id: Option<String>,
    /// Whether this owner's budgets and rate limit reset on UTC calendar boundaries (Bifrost's
    /// newer owner-level flag; the parser stamps it onto the budgets and rate limit).
    pub calendar_aligned: bool,
}

/// A team.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// Unique among teams.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The customer the team belongs to, if any.
    pub customer_id: Option<String>,
    /// Budgets charged for every request of the team's keys.
    pub budget_ids: BudgetIds,
    /// Rate limit applied to the team as a whole.
    pub rate_limit_id: Option<String>,
    /// Whether this owner's budgets and rate limit reset on UTC calendar boundaries (Bifrost's
    /// newer owner-level flag; the parser stamps it onto the budgets and rate limit).
    pub calendar_aligned: bool,
    /// `profile`, `config`, `claims`: free-form, kept as written.
    pub profile: Option<Value>,
    /// See [`Team::profile`].
    pub config: Option<Value>,
    /// See [`Team::profile`].
    pub claims: Option<Value>,
}

/// Who a virtual key belongs to; Bifrost allows a team or a customer, not both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Nobody: only the key's own limits apply.
    None,
    /// A team (and through it, possibly a customer).
    Team(String),
    /// A customer directly.
    Customer(String),
}

/// A virtual key.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualKey {
    /// Unique among virtual keys.
    pub id: String,
    /// Display name; the id when the config gives none.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// The secret clients send, after resolving `env.VAR`; unique among virtual keys.
    pub value: String,
    /// Inactive keys are refused (403); default true.
    pub is_active: bool,
    /// Team or customer.
    pub owner: Owner,
    /// The key's own budgets.
    pub budget_ids: BudgetIds,
    /// The key's own rate limit.
    pub rate_limit_id: Option<String>,
    /// Whether this owner's budgets and rate limit reset on UTC calendar boundaries (Bifrost's
    /// newer owner-level flag; the parser stamps it onto the budgets and rate limit).
    pub calendar_aligned: bool,
    /// Which providers the key may use, and their limits. Bifrost denies by default: no
    /// provider configs means no provider, unless `allow_all_providers`.
    pub provider_configs: Vec<ProviderConfig>,
    /// Bifrost v2.1's `allow_all_providers`: every provider is allowed, configured or not.
    pub allow_all_providers: bool,
    /// Which MCP clients and tools the key may use; kept as written for the MCP component.
    pub mcp_configs: Vec<Value>,
}

/// A virtual key's permission to use one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// Provider name, e.g. `openai`.
    pub provider: String,
    /// Load-balancing weight. `None` (absent or `null`, as with Bifrost's `*float64`) means
    /// the provider is allowed but not chosen by weighted routing.
    pub weight: Option<f64>,
    /// Models allowed through this provider, as written (`*` and empty lists keep whatever
    /// meaning the router gives them).
    pub allowed_models: Vec<String>,
    /// Provider keys this virtual key may use, by key id or name, from `allowed_keys`,
    /// `key_ids` or the `key_id` (else `name`) of each `keys[]` object. Empty means the config
    /// restricts nothing, following the published schema.
    pub keys: Vec<String>,
    /// True when every provider key is allowed: `key_ids: ["*"]` or `allow_all_keys: true`.
    pub allow_all_keys: bool,
    /// Budgets for this key on this provider.
    pub budget_ids: BudgetIds,
    /// Rate limit for this key on this provider.
    pub rate_limit_id: Option<String>,
    /// Whether this owner's budgets and rate limit reset on UTC calendar boundaries (Bifrost's
    /// newer owner-level flag; the parser stamps it onto the budgets and rate limit).
    pub calendar_aligned: bool,
}

/// Limits on one model, everywhere or on one provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Unique among model configs.
    pub id: String,
    /// The model the limits apply to.
    pub model_name: String,
    /// Only on this provider, if set.
    pub provider: Option<String>,
    /// Budgets.
    pub budget_ids: BudgetIds,
    /// Rate limit.
    pub rate_limit_id: Option<String>,
    /// Whether this owner's budgets and rate limit reset on UTC calendar boundaries (Bifrost's
    /// newer owner-level flag; the parser stamps it onto the budgets and rate limit).
    pub calendar_aligned: bool,
}

/// Limits on one provider for all traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderGovernance {
    /// Provider name; unique among provider entries.
    pub name: String,
    /// Budgets.
    pub budget_ids: BudgetIds,
    /// Rate limit.
    pub rate_limit_id: Option<String>,
    /// Whether this owner's budgets and rate limit reset on UTC calendar boundaries (Bifrost's
    /// newer owner-level flag; the parser stamps it onto the budgets and rate limit).
    pub calendar_aligned: bool,
}

impl Governance {
    /// The budget with this id.
    pub fn budget(&self, id: &str) -> Option<&Budget> {
        self.budgets.iter().find(|b| b.id == id)
    }

    /// The rate limit with this id.
    pub fn rate_limit(&self, id: &str) -> Option<&RateLimit> {
        self.rate_limits.iter().find(|r| r.id == id)
    }

    /// The virtual key whose secret is `value`.
    pub fn virtual_key_by_value(&self, value: &str) -> Option<&VirtualKey> {
        self.virtual_keys.iter().find(|vk| vk.value == value)
    }

    /// Every counter the section defines: one per budget, one per configured rate-limit
    /// window. Feeding these to [`Limits::upsert`] makes the registry match the config.
    pub fn counter_specs(&self) -> Vec<(CounterRef, CounterSpec)> {
        let mut out = Vec::with_capacity(self.budgets.len() + 2 * self.rate_limits.len());
        for b in &self.budgets {
            out.push((CounterRef::budget(b.id.clone()), b.counter_spec()));
        }
        for r in &self.rate_limits {
            if let Some(w) = &r.requests {
                out.push((
                    CounterRef::requests(r.id.clone()),
                    w.counter_spec(r.calendar_aligned),
                ));
            }
            if let Some(w) = &r.tokens {
                out.push((
                    CounterRef::tokens(r.id.clone()),
                    w.counter_spec(r.calendar_aligned),
                ));
            }
        }
        out
    }

    /// Registers (or reconfigures) every counter of the section in `limits`.
    pub fn load_into(&self, limits: &Limits) {
        for (r, spec) in self.counter_specs() {
            limits.upsert(r, spec);
        }
    }
}
