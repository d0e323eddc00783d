//! Routing rules: Bifrost's `governance.routing_rules[]`, compiled once and evaluated per request.
//!
//! A rule is a CEL expression over the request (model, provider, headers, the caller's virtual
//! key, team and customer, how much of their limits is used) and the targets the request goes
//! to when it matches. Evaluation follows Bifrost's `plugins/governance/routing.go`:
//! - scopes are tried from the most specific to the least: the virtual key's rules, then its
//!   team's, its customer's, and the global ones;
//! - within a scope, rules run by ascending `priority`; the **first match wins**; disabled
//!   rules never run;
//! - an empty expression always matches; an expression that fails at run time (a type error)
//!   does not match, and a missing header or parameter (`headers["x-tier"]` when the request
//!   has none) is simply false;
//! - the winner's targets are drawn by weight; a target without `provider` or `model` keeps the
//!   request's; `key_id` pins a provider key; the rule's `fallbacks` (`provider/model`, or just
//!   `provider` for the request's model) replace the request's.
//!
//! Compilation happens at config validation ([`RoutingRules::compile`]), so an invalid
//! expression is a config error at `governance.routing_rules[i].cel_expression` with the
//! position CEL reports, not a rule silently skipped at run time. Bifrost's newer `chain_rule`
//! (feeding a rule's result back into evaluation) is not supported: it is reported as such.

use cel::{Context, Env, Program, Value as Cel};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

use crate::parse::{Issue, ROOT};

/// The variables an expression may use (Bifrost's CEL environment).
pub const VARIABLES: &[&str] = &[
    "model",
    "provider",
    "request_type",
    "headers",
    "params",
    "virtual_key_id",
    "virtual_key_name",
    "team_id",
    "team_name",
    "customer_id",
    "customer_name",
    "budget_used",
    "tokens_used",
    "request",
];

/// Which callers a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every request.
    Global,
    /// Requests whose virtual key belongs to a customer (directly or through its team).
    Customer,
    /// Requests whose virtual key belongs to a team.
    Team,
    /// Requests with one virtual key.
    VirtualKey,
}

impl Scope {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "global" => Some(Self::Global),
            "customer" => Some(Self::Customer),
            "team" => Some(Self::Team),
            "virtual_key" => Some(Self::VirtualKey),
            _ => None,
        }
    }
}

/// One of a rule's targets.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTarget {
    /// `None`: the request's provider.
    pub provider: Option<String>,
    /// `None`: the request's model.
    pub model: Option<String>,
    /// A provider key to pin, by id.
    pub key_id: Option<String>,
    /// Share of the rule's traffic; the targets' weights sum to 1.
    pub weight: f64,
}

/// A compiled routing rule.
#[derive(Debug, Clone)]
pub struct RoutingRule {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// The expression as written; empty matches every request.
    pub cel_expression: String,
    /// `None` for an empty expression.
    program: Option<Arc<Program>>,
    /// Whether the expression reads `headers`.
    reads_headers: bool,
    pub targets: Vec<RuleTarget>,
    /// `provider/model` or `provider` (the request's model), in order.
    pub fallbacks: Vec<String>,
    pub scope: Scope,
    /// The virtual key, team or customer id of a scoped rule; `None` for global rules.
    pub scope_id: Option<String>,
    /// Lower runs first within a scope.
    pub priority: i64,
}

/// What a request carries, as the expressions see it.
#[derive(Debug, Clone, Default)]
pub struct RuleInput<'a> {
    /// The model without its provider prefix.
    pub model: &'a str,
    /// The provider the request names (or its route implies); empty when none.
    pub provider: &'a str,
    /// Bifrost's request type: `chat_completion`, `embedding`, `responses`, …
    pub request_type: &'a str,
    /// Request headers; names are matched case-insensitively.
    pub headers: Vec<(String, String)>,
    /// Query parameters; names are matched case-insensitively.
    pub params: Vec<(String, String)>,
    pub virtual_key_id: &'a str,
    pub virtual_key_name: &'a str,
    pub team_id: &'a str,
    pub team_name: &'a str,
    pub customer_id: &'a str,
    pub customer_name: &'a str,
    /// Percent (0–100) of the most used budget that applies to the request.
    pub budget_used: f64,
    /// Percent (0–100) of the most used token window that applies to the request.
    pub tokens_used: f64,
    /// Percent (0–100) of the most used request window that applies to the request.
    pub request: f64,
}

/// The matched rule's decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub rule_id: String,
    pub rule_name: String,
    /// The provider to send to (may be empty when neither the target nor the request names one).
    pub provider: String,
    pub model: String,
    /// A provider key to pin.
    pub key_id: Option<String>,
    /// `provider/model` targets to try after the chosen one, replacing the request's
    /// fallbacks; empty when the rule has none (the request's own stay).
    pub fallbacks: Vec<String>,
}

/// Every rule of a config, compiled, with the environment their expressions run in.
#[derive(Clone, Default)]
pub struct RoutingRules {
    rules: Vec<RoutingRule>,
    env: Option<Arc<Env>>,
    ignored: Vec<String>,
}

impl std::fmt::Debug for RoutingRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|r| &r.id))
            .finish()
    }
}

impl RoutingRules {
    /// Compiles `governance.routing_rules` (as written in the config), reporting every problem
    /// with its path: missing or mistyped fields, an unknown scope, a scoped rule without
    /// `scope_id`, duplicate ids, an expression that does not parse (with CEL's position) or
    /// names an unknown variable, target weights that do not sum to 1.
    pub fn compile(values: &[Value]) -> Result<Self, Vec<Issue>> {
        let mut issues = Vec::new();
        let mut ignored = Vec::new();
        let mut rules = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            let path = format!("{ROOT}.routing_rules[{i}]");
            if let Some(rule) = rule(value, &path, &mut issues, &mut ignored) {
                if rules.iter().any(|r: &RoutingRule| r.id == rule.id) {
                    issues.push(issue(
                        format!("{path}.id"),
                        format!("duplicate id \"{}\"", rule.id),
                    ));
                }
                rules.push(rule);
            }
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        // Stable: equal priorities keep the order they were written in.
        rules.sort_by_key(|r| r.priority);
        let env = (!rules.is_empty()).then(|| Arc::new(Env::stdlib()));
        Ok(Self {
            rules,
            env,
            ignored,
        })
    }

    /// Paths of fields this crate does not read (Bifrost's newer or enterprise fields), for the
    /// config checker to list as not supported instead of dropping them silently.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any enabled rule reads `headers` (so the caller knows to collect them).
    pub fn reads_headers(&self) -> bool {
        self.rules.iter().any(|r| r.enabled && r.reads_headers)
    }

    /// The rules, by ascending priority.
    pub fn rules(&self) -> &[RoutingRule] {
        &self.rules
    }

    /// The first matching rule's decision, trying the scopes from the virtual key's to the
    /// global ones; `draw` (uniform in `[0, 1)`) picks the target among its weights. `None`
    /// when no rule matches: the request goes where it asked.
    pub fn evaluate(&self, input: &RuleInput<'_>, draw: f64) -> Option<Decision> {
        let env = self.env.as_ref()?;
        let chain = [
            (Scope::VirtualKey, input.virtual_key_id),
            (Scope::Team, input.team_id),
            (Scope::Customer, input.customer_id),
            (Scope::Global, ""),
        ];
        let mut context: Option<Context<'_, '_>> = None;
        for (scope, id) in chain {
            if scope != Scope::Global && id.is_empty() {
                continue;
            }
            for rule in self.rules.iter().filter(|r| {
                r.enabled
                    && r.scope == scope
                    && (scope == Scope::Global || r.scope_id.as_deref() == Some(id))
            }) {
                let matched = match &rule.program {
                    None => true,
                    Some(program) => {
                        let ctx = context.get_or_insert_with(|| cel_context(env, input));
                        matches(program, ctx, rule)
                    }
                };
                if matched && let Some(d) = decide(rule, input, draw) {
                    return Some(d);
                }
            }
        }
        None
    }
}

/// The CEL variables of one request.
fn cel_context<'a>(env: &Arc<Env>, input: &RuleInput<'_>) -> Context<'a, 'a> {
    let mut ctx = Context::with_env(Arc::clone(env));
    let lower = |pairs: &[(String, String)]| -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    };
    for (name, value) in [
        ("model", input.model),
        ("provider", input.provider),
        ("request_type", input.request_type),
        ("virtual_key_id", input.virtual_key_id),
        ("virtual_key_name", input.virtual_key_name),
        ("team_id", input.team_id),
        ("team_name", input.team_name),
        ("customer_id", input.customer_id),
        ("customer_name", input.customer_name),
    ] {
        ctx.add_variable_from_value(name, value.to_owned());
    }
    ctx.add_variable_from_value("headers", lower(&input.headers));
    ctx.add_variable_from_value("params", lower(&input.params));
    ctx.add_variable_from_value("budget_used", input.budget_used);
    ctx.add_variable_from_value("tokens_used", input.tokens_used);
    ctx.add_variable_from_value("request", input.request);
    ctx
}

/// Whether `rule` matches: `true` only for a boolean `true`; a missing map key is a plain
/// non-match, any other failure skips the rule with a warning (as Bifrost does).
fn matches(program: &Program, ctx: &Context<'_, '_>, rule: &RoutingRule) -> bool {
    match program.execute(ctx) {
        Ok(Cel::Bool(b)) => b,
        Ok(other) => {
            tracing::warn!(rule = %rule.id, result = ?other.type_of(), "routing rule did not return a boolean; skipped");
            false
        }
        Err(cel::ExecutionError::NoSuchKey(_)) => false,
        Err(e) => {
            tracing::warn!(rule = %rule.id, error = %e, "routing rule failed; skipped");
            false
        }
    }
}

/// The decision of a matched rule: one target drawn by weight.
fn decide(rule: &RoutingRule, input: &RuleInput<'_>, draw: f64) -> Option<Decision> {
    let target = pick(&rule.targets, draw)?;
    let provider = target
        .provider
        .clone()
        .unwrap_or_else(|| input.provider.to_owned());
    let model = target
        .model
        .clone()
        .unwrap_or_else(|| input.model.to_owned());
    let fallbacks = rule
        .fallbacks
        .iter()
        .filter_map(|f| {
            let (p, m) = f.split_once('/').unwrap_or((f.as_str(), ""));
            let (p, m) = (p.trim(), m.trim());
            if p.is_empty() {
                None
            } else if m.is_empty() {
                Some(format!("{p}/{}", input.model))
            } else {
                Some(format!("{p}/{m}"))
            }
        })
        .collect();
    Some(Decision {
        rule_id: rule.id.clone(),
        rule_name: rule.name.clone(),
        provider,
        model,
        key_id: target.key_id.clone(),
        fallbacks,
    })
}

/// The target `draw` (in `[0, 1)`) falls on, by cumulative weight; all-zero weights share
/// evenly. `None` only without targets.
pub fn pick(targets: &[RuleTarget], draw: f64) -> Option<&RuleTarget> {
    let total: f64 = targets.iter().map(|t| t.weight.max(0.0)).sum();
    if targets.is_empty() {
        return None;
    }
    if total <= 0.0 {
        let i = ((draw * targets.len() as f64) as usize).min(targets.len() - 1);
        return targets.get(i);
    }
    let point = draw * total;
    let mut cumulative = 0.0;
    for t in targets {
        cumulative += t.weight.max(0.0);
        if point < cumulative {
            return Some(t);
        }
    }
    targets.last()
}

fn issue(path: impl Into<String>, message: impl Into<String>) -> Issue {
    Issue {
        path: path.into(),
        message: message.into(),
    }
}

/// Fields of a rule that are read; anything else is reported.
const RULE_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "enabled",
    "cel_expression",
    "targets",
    "fallbacks",
    "scope",
    "scope_id",
    "priority",
    "created_at",
    "updated_at",
    "config_hash",
];

fn rule(
    value: &Value,
    path: &str,
    issues: &mut Vec<Issue>,
    ignored: &mut Vec<String>,
) -> Option<RoutingRule> {
    let Some(o) = value.as_object() else {
        issues.push(issue(path, "expected an object"));
        return None;
    };
    let before = issues.len();
    for key in o.keys() {
        if key == "chain_rule" {
            if o[key].as_bool() == Some(true) {
                issues.push(issue(
                    format!("{path}.chain_rule"),
                    "chained routing rules are not supported",
                ));
            }
        } else if !RULE_FIELDS.contains(&key.as_str()) {
            ignored.push(format!("{path}.{key}"));
        }
    }
    let id = required_string(o, "id", path, issues);
    let name = optional_string(o, "name", path, issues);
    let description = optional_string(o, "description", path, issues);
    let enabled = match o.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            issues.push(issue(format!("{path}.enabled"), "expected true or false"));
            true
        }
    };
    let cel_expression = optional_string(o, "cel_expression", path, issues).unwrap_or_default();
    let program = compile_expression(&cel_expression, &format!("{path}.cel_expression"), issues);
    let scope = match optional_string(o, "scope", path, issues) {
        None => Scope::Global,
        Some(s) => Scope::parse(&s).unwrap_or_else(|| {
            issues.push(issue(
                format!("{path}.scope"),
                format!("unknown scope \"{s}\": expected global, customer, team or virtual_key"),
            ));
            Scope::Global
        }),
    };
    let scope_id = optional_string(o, "scope_id", path, issues).filter(|s| !s.is_empty());
    if scope != Scope::Global && scope_id.is_none() {
        issues.push(issue(
            format!("{path}.scope_id"),
            "required for a rule scoped to a customer, team or virtual key",
        ));
    }
    let priority = match o.get("priority") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().unwrap_or_else(|| {
            issues.push(issue(format!("{path}.priority"), "expected an integer"));
            0
        }),
    };
    let targets = targets(o.get("targets"), &format!("{path}.targets"), issues);
    let fallbacks = match o.get("fallbacks") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f.as_str() {
                Some(s) if !s.trim().is_empty() => Some(s.to_owned()),
                _ => {
                    issues.push(issue(
                        format!("{path}.fallbacks[{i}]"),
                        "expected \"provider/model\" or \"provider\"",
                    ));
                    None
                }
            })
            .collect(),
        Some(_) => {
            issues.push(issue(
                format!("{path}.fallbacks"),
                "expected an array of strings",
            ));
            Vec::new()
        }
    };
    if issues.len() > before {
        return None;
    }
    let id = id?;
    let reads_headers = program
        .as_ref()
        .is_some_and(|p| p.references().variables().contains(&"headers"));
    Some(RoutingRule {
        reads_headers,
        name: name.unwrap_or_else(|| id.clone()),
        id,
        description,
        enabled,
        cel_expression,
        program,
        targets,
        fallbacks,
        scope,
        scope_id,
        priority,
    })
}

/// Compiles one expression; a parse error is reported with CEL's line and column, and a
/// variable outside [`VARIABLES`] is refused (cel-go refuses undeclared names at compile time).
fn compile_expression(source: &str, path: &str, issues: &mut Vec<Issue>) -> Option<Arc<Program>> {
    if source.trim().is_empty() {
        return None;
    }
    let program = match Program::compile(source) {
        Ok(p) => p,
        Err(errors) => {
            let message = errors
                .errors
                .iter()
                .map(|e| format!("line {}, column {}: {}", e.pos.0, e.pos.1 + 1, e.msg))
                .collect::<Vec<_>>()
                .join("; ");
            issues.push(issue(path, format!("invalid CEL expression: {message}")));
            return None;
        }
    };
    let references = program.references();
    let mut unknown: Vec<&str> = references
        .variables()
        .into_iter()
        .filter(|v| !VARIABLES.contains(v))
        .collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        issues.push(issue(
            path,
            format!(
                "unknown variable{} {}: expressions may use {}",
                if unknown.len() > 1 { "s" } else { "" },
                unknown.join(", "),
                VARIABLES.join(", ")
            ),
        ));
        return None;
    }
    Some(Arc::new(program))
}

fn targets(value: Option<&Value>, path: &str, issues: &mut Vec<Issue>) -> Vec<RuleTarget> {
    let Some(Value::Array(items)) = value else {
        issues.push(issue(path, "expected a non-empty array of targets"));
        return Vec::new();
    };
    if items.is_empty() {
        issues.push(issue(path, "expected at least one target"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, t) in items.iter().enumerate() {
        let tpath = format!("{path}[{i}]");
        let Some(o) = t.as_object() else {
            issues.push(issue(tpath, "expected an object"));
            continue;
        };
        let weight = match o.get("weight") {
            None | Some(Value::Null) if items.len() == 1 => 1.0,
            Some(v) if v.as_f64().is_some_and(|w| (0.0..=1.0).contains(&w)) => {
                v.as_f64().unwrap_or(0.0)
            }
            _ => {
                issues.push(issue(
                    format!("{tpath}.weight"),
                    "expected a number from 0 to 1",
                ));
                0.0
            }
        };
        out.push(RuleTarget {
            provider: optional_string(o, "provider", &tpath, issues).filter(|s| !s.is_empty()),
            model: optional_string(o, "model", &tpath, issues).filter(|s| !s.is_empty()),
            key_id: optional_string(o, "key_id", &tpath, issues).filter(|s| !s.is_empty()),
            weight,
        });
    }
    let total: f64 = out.iter().map(|t| t.weight).sum();
    if !out.is_empty() && (total - 1.0).abs() > 1e-6 {
        issues.push(issue(
            path,
            format!("the targets' weights must sum to 1 (they sum to {total})"),
        ));
    }
    out
}

fn required_string(
    o: &Map<String, Value>,
    key: &str,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => {
            issues.push(issue(
                format!("{path}.{key}"),
                "expected a non-empty string",
            ));
            None
        }
    }
}

fn optional_string(
    o: &Map<String, Value>,
    key: &str,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            issues.push(issue(format!("{path}.{key}"), "expected a string"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compile(rules: Value) -> RoutingRules {
        RoutingRules::compile(rules.as_array().unwrap()).unwrap()
    }

    fn errors(rules: Value) -> Vec<Issue> {
        RoutingRules::compile(rules.as_array().unwrap()).unwrap_err()
    }

    fn one(expr: &str) -> RoutingRules {
        compile(json!([{
            "id": "r", "name": "R", "cel_expression": expr,
            "targets": [{"provider": "anthropic", "model": "claude", "weight": 1}]
        }]))
    }

    fn input() -> RuleInput<'static> {
        RuleInput {
            model: "gpt-4o",
            provider: "openai",
            request_type: "chat_completion",
            headers: vec![("X-Tier".into(), "premium".into())],
            params: vec![("Region".into(), "eu".into())],
            virtual_key_id: "vk-1",
            virtual_key_name: "engineering-key",
            team_id: "team-1",
            team_name: "ML",
            customer_id: "cust-1",
            customer_name: "Acme",
            budget_used: 85.0,
            tokens_used: 10.0,
            request: 50.0,
        }
    }

    /// The expressions Bifrost's routing-rules documentation shows.
    #[test]
    fn the_documented_expressions_match_as_bifrost_evaluates_them() {
        let cases = [
            ("model == \"gpt-4o\"", true),
            ("model.startsWith(\"gpt-\")", true),
            ("model.contains(\"4o\")", true),
            ("model.matches(\"^gpt-4.*\")", true),
            ("model in [\"gpt-4o\", \"gpt-4-turbo\"]", true),
            (
                "provider == \"openai\" && request_type == \"chat_completion\"",
                true,
            ),
            ("headers[\"x-tier\"] == \"premium\"", true),
            ("headers[\"X-TIER\"] == \"premium\"", false),
            ("params[\"region\"] == \"eu\"", true),
            ("budget_used > 80", true),
            ("budget_used > 90.5", false),
            ("tokens_used < 50 && request >= 50", true),
            ("team_name == \"ML\" || customer_id == \"x\"", true),
            ("virtual_key_name.startsWith(\"eng\")", true),
            ("customer_name == \"Acme\" && !(team_id == \"\")", true),
            // A header the request does not carry is false, not an error.
            ("headers[\"x-missing\"] == \"yes\"", false),
            ("\"x-tier\" in headers", true),
            ("model == \"claude\"", false),
            ("", true),
        ];
        for (expr, expected) in cases {
            let got = one(expr).evaluate(&input(), 0.5).is_some();
            assert_eq!(got, expected, "{expr}");
        }
    }

    #[test]
    fn an_expression_that_fails_at_run_time_does_not_match() {
        assert!(one("model > 3").evaluate(&input(), 0.5).is_none());
        assert!(one("model").evaluate(&input(), 0.5).is_none());
    }

    #[test]
    fn invalid_expressions_are_config_errors_with_their_position() {
        let e = errors(json!([
            {"id": "a", "cel_expression": "model == ", "targets": [{"provider": "openai", "weight": 1}]},
            {"id": "b", "cel_expression": "tier == \"x\"", "targets": [{"provider": "openai", "weight": 1}]}
        ]));
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].path, "governance.routing_rules[0].cel_expression");
        assert!(
            e[0].message
                .starts_with("invalid CEL expression: line 1, column"),
            "{}",
            e[0].message
        );
        assert_eq!(e[1].path, "governance.routing_rules[1].cel_expression");
        assert!(
            e[1].message.contains("unknown variable tier"),
            "{}",
            e[1].message
        );
    }

    #[test]
    fn shapes_are_checked_with_paths() {
        let e = errors(json!([
            {"id": "a", "targets": [{"provider": "openai", "weight": 0.5}, {"provider": "x", "weight": 0.3}]},
            {"id": "b", "scope": "team", "targets": []},
            {"id": "c", "scope": "galaxy", "targets": [{"weight": 1}], "priority": "high"},
            {"id": "a", "targets": [{"provider": "openai", "weight": 1}], "chain_rule": true}
        ]));
        let paths: Vec<&str> = e.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "governance.routing_rules[0].targets",
                "governance.routing_rules[1].scope_id",
                "governance.routing_rules[1].targets",
                "governance.routing_rules[2].scope",
                "governance.routing_rules[2].priority",
                "governance.routing_rules[3].chain_rule",
            ],
            "{e:?}"
        );
        assert!(e[0].message.contains("sum to 1"), "{}", e[0].message);
    }

    #[test]
    fn scopes_go_from_the_key_to_global_and_priority_orders_each() {
        let rules = compile(json!([
            {"id": "global-first", "priority": 0, "targets": [{"provider": "g", "weight": 1}]},
            {"id": "team-late", "scope": "team", "scope_id": "team-1", "priority": 5,
             "targets": [{"provider": "t5", "weight": 1}]},
            {"id": "team-early", "scope": "team", "scope_id": "team-1", "priority": 1,
             "targets": [{"provider": "t1", "weight": 1}]},
            {"id": "vk-nomatch", "scope": "virtual_key", "scope_id": "vk-1",
             "cel_expression": "model == \"other\"", "targets": [{"provider": "v", "weight": 1}]},
            {"id": "other-team", "scope": "team", "scope_id": "team-2", "priority": -1,
             "targets": [{"provider": "o", "weight": 1}]},
            {"id": "disabled", "scope": "customer", "scope_id": "cust-1", "enabled": false,
             "targets": [{"provider": "c", "weight": 1}]}
        ]));
        let d = rules.evaluate(&input(), 0.1).unwrap();
        assert_eq!(
            (d.rule_id.as_str(), d.provider.as_str()),
            ("team-early", "t1")
        );
        assert_eq!(
            d.model, "gpt-4o",
            "a target without a model keeps the request's"
        );
        // Without a key, only global rules apply.
        let anonymous = RuleInput {
            virtual_key_id: "",
            team_id: "",
            customer_id: "",
            ..input()
        };
        assert_eq!(
            rules.evaluate(&anonymous, 0.1).unwrap().rule_id,
            "global-first"
        );
    }

    #[test]
    fn targets_are_drawn_by_weight_and_fallbacks_fill_the_model() {
        let rules = compile(json!([{
            "id": "split", "name": "Split",
            "targets": [
                {"provider": "openai", "model": "gpt-4o-mini", "weight": 0.7},
                {"provider": "azure", "key_id": "k-eu", "weight": 0.3}
            ],
            "fallbacks": ["anthropic/claude-3-5-sonnet", "groq"]
        }]));
        let low = rules.evaluate(&input(), 0.69).unwrap();
        assert_eq!(
            (low.provider.as_str(), low.model.as_str()),
            ("openai", "gpt-4o-mini")
        );
        assert_eq!(low.key_id, None);
        let high = rules.evaluate(&input(), 0.7).unwrap();
        assert_eq!(
            (high.provider.as_str(), high.model.as_str()),
            ("azure", "gpt-4o")
        );
        assert_eq!(high.key_id.as_deref(), Some("k-eu"));
        assert_eq!(
            high.fallbacks,
            ["anthropic/claude-3-5-sonnet", "groq/gpt-4o"]
        );
        assert_eq!(high.rule_name, "Split");
    }
}
