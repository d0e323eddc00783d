//! Parsing and validating the `governance` config section.
//!
//! An operator fixing a config wants every mistake at once, each pointing at its place, so the
//! parser never stops at the first problem: it collects [`Issue`]s with exact JSON paths
//! (`governance.virtual_keys[2].budget_id`) and only returns the typed [`Governance`] when there
//! are none. Checks: field types, required fields, duplicate ids, references to budgets, rate
//! limits, teams and customers that do not exist, a virtual key with both a team and a
//! customer, negative limits, bad reset durations and timestamps, and virtual-key values that
//! are missing or point at an unset environment variable. Fields it does not interpret are
//! listed in [`Governance::ignored`], not refused, because newer Bifrost versions add fields.

use std::collections::HashMap;
use std::fmt;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::duration::ResetDuration;
use crate::model::{
    Budget, BudgetIds, Customer, Governance, ModelConfig, Owner, ProviderConfig,
    ProviderGovernance, RateLimit, Team, VirtualKey, Window,
};

/// One problem in the section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// JSON path, e.g. `governance.virtual_keys[2].budget_id`.
    pub path: String,
    /// What is wrong, e.g. `unknown budget "b-x"`.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The root path used in issues.
pub const ROOT: &str = "governance";

/// Parses and validates a `governance` section.
///
/// `env` resolves `env.VAR` references in virtual-key values (the gateway passes a lookup of the
/// process environment; tests pass a map). Returns every issue found when there is any.
pub fn parse(
    section: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Governance, Vec<Issue>> {
    let mut p = Parser {
        issues: Vec::new(),
        ignored: Vec::new(),
        env,
        inline_budgets: Vec::new(),
        declared: Vec::new(),
    };
    let g = p.section(section);
    if p.issues.is_empty() {
        Ok(g)
    } else {
        Err(p.issues)
    }
}

/// A JSON object being read: remembers which keys were consumed so the rest can be reported.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    used: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    fn field_path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// The value at `key`, with JSON `null` treated as absent (Go's decoder does the same).
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }
}

struct Parser<'e> {
    issues: Vec<Issue>,
    ignored: Vec<String>,
    env: &'e dyn Fn(&str) -> Option<String>,
    /// Budgets declared inline in an owner's `budgets[]`, with the path they came from.
    inline_budgets: Vec<(String, Budget)>,
    /// Every (kind, id) written, even on entities that failed to parse, so a reference to a
    /// declared-but-broken entity is not reported a second time as unknown.
    declared: Vec<(&'static str, String)>,
}

impl Parser<'_> {
    fn issue(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(Issue {
            path: path.into(),
            message: message.into(),
        });
    }

    fn declare(&mut self, kind: &'static str, id: Option<&String>) {
        if let Some(id) = id {
            self.declared.push((kind, id.clone()));
        }
    }

    fn is_declared(&self, kind: &str, id: &str) -> bool {
        self.declared.iter().any(|(k, d)| *k == kind && d == id)
    }

    fn object<'a>(&mut self, v: &'a Value, path: String) -> Option<Obj<'a>> {
        match v.as_object() {
            Some(map) => Some(Obj {
                map,
                path,
                used: Vec::new(),
            }),
            None => {
                self.issue(path, "expected an object");
                None
            }
        }
    }

    fn finish(&mut self, o: Obj<'_>) {
        for k in o.map.keys() {
            if !o.used.contains(&k.as_str()) {
                self.ignored.push(o.field_path(k));
            }
        }
    }

    fn array<'a>(&mut self, o: &mut Obj<'a>, key: &'static str) -> &'a [Value] {
        match o.get(key) {
            None => &[],
            Some(Value::Array(items)) => items,
            Some(_) => {
                self.issue(o.field_path(key), "expected an array");
                &[]
            }
        }
    }

    fn string(&mut self, o: &mut Obj<'_>, key: &'static str) -> Option<String> {
        match o.get(key) {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.issue(o.field_path(key), "expected a string");
                None
            }
        }
    }

    /// A required, non-empty string.
    fn required(&mut self, o: &mut Obj<'_>, key: &'static str) -> Option<String> {
        let path = o.field_path(key);
        let present = o.map.get(key).is_some_and(|v| !v.is_null());
        match self.string(o, key) {
            Some(s) if s.trim().is_empty() => {
                self.issue(path, "must not be empty");
                None
            }
            Some(s) => Some(s),
            None => {
                if !present {
                    self.issue(path, "is required");
                }
                None
            }
        }
    }

    fn bool(&mut self, o: &mut Obj<'_>, key: &'static str, default: bool) -> bool {
        match o.get(key) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.issue(o.field_path(key), "expected true or false");
                default
            }
        }
    }

    fn non_negative_f64(&mut self, o: &mut Obj<'_>, key: &'static str) -> Option<f64> {
        match o.get(key) {
            None => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x >= 0.0 && x.is_finite() => Some(x),
                _ => {
                    self.issue(o.field_path(key), format!("must not be negative (got {n})"));
                    None
                }
            },
            Some(_) => {
                self.issue(o.field_path(key), "expected a number");
                None
            }
        }
    }

    fn non_negative_int(&mut self, o: &mut Obj<'_>, key: &'static str) -> Option<u64> {
        match o.get(key) {
            None => None,
            Some(Value::Number(n)) => {
                if let Some(x) = n.as_u64() {
                    Some(x)
                } else if n.as_i64().is_some_and(|x| x < 0) || n.as_f64().is_some_and(|x| x < 0.0) {
                    self.issue(o.field_path(key), format!("must not be negative (got {n})"));
                    None
                } else {
                    self.issue(
                        o.field_path(key),
                        format!("expected a whole number (got {n})"),
                    );
                    None
                }
            }
            Some(_) => {
                self.issue(o.field_path(key), "expected a whole number");
                None
            }
        }
    }

    fn duration(&mut self, o: &mut Obj<'_>, key: &'static str) -> Option<ResetDuration> {
        let s = self.string(o, key)?;
        match ResetDuration::parse(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.issue(o.field_path(key), e.to_string());
                None
            }
        }
    }

    fn timestamp(&mut self, o: &mut Obj<'_>, key: &'static str) -> Option<Timestamp> {
        let s = self.string(o, key)?;
        match s.parse::<Timestamp>() {
            Ok(t) => Some(t),
            Err(_) => {
                self.issue(
                    o.field_path(key),
                    format!("invalid date-time {s:?} (expected RFC 3339)"),
                );
                None
            }
        }
    }

    fn string_list(&mut self, o: &mut Obj<'_>, key: &'static str) -> Vec<String> {
        let path = o.field_path(key);
        let items = self.array(o, key);
        let mut out = Vec::with_capacity(items.len());
        for (i, v) in items.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(s.to_owned()),
                None => self.issue(format!("{path}[{i}]"), "expected a string"),
            }
        }
        out
    }

    /// `budget_id`, `budget_ids` and `budgets[]` (ids or inline budget objects), merged, each
    /// with the path it was written at.
    fn budget_ids(&mut self, o: &mut Obj<'_>) -> Vec<(String, String)> {
        let mut ids = Vec::new();
        if let Some(id) = self.string(o, "budget_id") {
            ids.push((o.field_path("budget_id"), id));
        }
        let list_path = o.field_path("budget_ids");
        for (i, id) in self.string_list(o, "budget_ids").into_iter().enumerate() {
            ids.push((format!("{list_path}[{i}]"), id));
        }
        let path = o.field_path("budgets");
        for (i, v) in self.array(o, "budgets").iter().enumerate() {
            let item_path = format!("{path}[{i}]");
            match v {
                Value::String(s) => ids.push((item_path, s.clone())),
                Value::Object(_) => {
                    let has_id = v.get("id").is_some_and(|id| !id.is_null());
                    if let Some(mut b) = self.budget(v, item_path.clone(), !has_id) {
                        if !has_id {
                            // An inline budget without an id is named by where it is written,
                            // which is unique and stable across reloads of the same file.
                            b.id.clone_from(&item_path);
                        }
                        ids.push((item_path.clone(), b.id.clone()));
                        self.inline_budgets.push((item_path, b));
                    }
                }
                _ => self.issue(item_path, "expected a budget id or a budget object"),
            }
        }
        ids
    }

    fn section(&mut self, v: &Value) -> Governance {
        let mut g = Governance::default();
        let Some(mut o) = self.object(v, ROOT.to_owned()) else {
            return g;
        };

        let mut budget_paths = Vec::new();
        for (i, b) in self.array(&mut o, "budgets").iter().enumerate() {
            let path = format!("{ROOT}.budgets[{i}]");
            if let Some(b) = self.budget(b, path.clone(), false) {
                budget_paths.push(path);
                g.budgets.push(b);
            }
        }
        let mut rate_limit_paths = Vec::new();
        for (i, r) in self.array(&mut o, "rate_limits").iter().enumerate() {
            let path = format!("{ROOT}.rate_limits[{i}]");
            if let Some(r) = self.rate_limit(r, path.clone()) {
                rate_limit_paths.push(path);
                g.rate_limits.push(r);
            }
        }

        // Owners, remembering where each reference was written for the reference checks.
        let mut refs = Refs::default();
        for (i, c) in self.array(&mut o, "customers").iter().enumerate() {
            let path = format!("{ROOT}.customers[{i}]");
            if let Some(c) = self.customer(c, &path, &mut refs) {
                g.customers.push(c);
            }
        }
        for (i, t) in self.array(&mut o, "teams").iter().enumerate() {
            let path = format!("{ROOT}.teams[{i}]");
            if let Some(t) = self.team(t, &path, &mut refs) {
                g.teams.push(t);
            }
        }
        let mut vk_paths = Vec::new();
        for (i, vk) in self.array(&mut o, "virtual_keys").iter().enumerate() {
            let path = format!("{ROOT}.virtual_keys[{i}]");
            if let Some(vk) = self.virtual_key(vk, &path, &mut refs) {
                vk_paths.push(path);
                g.virtual_keys.push(vk);
            }
        }
        let mut model_paths = Vec::new();
        for (i, m) in self.array(&mut o, "model_configs").iter().enumerate() {
            let path = format!("{ROOT}.model_configs[{i}]");
            if let Some(m) = self.model_config(m, &path, &mut refs) {
                model_paths.push(path);
                g.model_configs.push(m);
            }
        }
        let mut provider_paths = Vec::new();
        for (i, pg) in self.array(&mut o, "providers").iter().enumerate() {
            let path = format!("{ROOT}.providers[{i}]");
            if let Some(pg) = self.provider_governance(pg, &path, &mut refs) {
                provider_paths.push(path);
                g.providers.push(pg);
            }
        }
        g.routing_rules = self.array(&mut o, "routing_rules").to_vec();
        g.auth_config = o.get("auth_config").cloned();
        self.finish(o);

        for (path, b) in std::mem::take(&mut self.inline_budgets) {
            budget_paths.push(path);
            g.budgets.push(b);
        }

        // Uniqueness.
        self.unique(
            g.budgets.iter().map(|b| b.id.as_str()),
            &budget_paths,
            "id",
            "budget",
        );
        self.unique(
            g.rate_limits.iter().map(|r| r.id.as_str()),
            &rate_limit_paths,
            "id",
            "rate limit",
        );
        self.unique(
            g.customers.iter().map(|c| c.id.as_str()),
            &refs.customer_paths,
            "id",
            "customer",
        );
        self.unique(
            g.teams.iter().map(|t| t.id.as_str()),
            &refs.team_paths,
            "id",
            "team",
        );
        self.unique(
            g.virtual_keys.iter().map(|v| v.id.as_str()),
            &vk_paths,
            "id",
            "virtual key",
        );
        self.unique(
            g.virtual_keys.iter().map(|v| v.value.as_str()),
            &vk_paths,
            "value",
            "virtual key value",
        );
        // Names are unique in Bifrost's store too; a repeated id already reported covers its
        // (defaulted) name.
        let names: Vec<&str> = g
            .virtual_keys
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let id_repeated = g.virtual_keys[..i].iter().any(|w| w.id == v.id);
                if id_repeated { "" } else { v.name.as_str() }
            })
            .collect();
        self.unique(names.iter().copied(), &vk_paths, "name", "virtual key name");
        self.unique(
            g.model_configs.iter().map(|m| m.id.as_str()),
            &model_paths,
            "id",
            "model config",
        );
        let model_scopes: Vec<String> = g
            .model_configs
            .iter()
            .map(|m| format!("{}@{}", m.model_name, m.provider.as_deref().unwrap_or("*")))
            .collect();
        self.unique(
            model_scopes.iter().map(String::as_str),
            &model_paths,
            "model_name",
            "model and provider",
        );
        self.unique(
            g.providers.iter().map(|p| p.name.as_str()),
            &provider_paths,
            "name",
            "provider",
        );

        // References.
        let budget_ids: HashMap<&str, &Budget> =
            g.budgets.iter().map(|b| (b.id.as_str(), b)).collect();
        for (path, owner_budgets) in &refs.budgets {
            let mut durations: Vec<(ResetDuration, &str)> = Vec::new();
            for (id_path, id) in owner_budgets {
                match budget_ids.get(id.as_str()) {
                    None if self.is_declared("budget", id) => {}
                    None => self.issue(id_path.clone(), format!("unknown budget {id:?}")),
                    Some(b) => {
                        if let Some((_, other)) =
                            durations.iter().find(|(d, _)| *d == b.reset_duration)
                        {
                            self.issue(
                                id_path.clone(),
                                format!(
                                    "budgets {other:?} and {id:?} of {path} both reset every {}; each budget of an owner needs its own reset duration",
                                    b.reset_duration
                                ),
                            );
                        } else {
                            durations.push((b.reset_duration, id));
                        }
                    }
                }
            }
        }
        let rate_limit_ids: Vec<&str> = g.rate_limits.iter().map(|r| r.id.as_str()).collect();
        for (path, id) in &refs.rate_limits {
            if !rate_limit_ids.contains(&id.as_str()) && !self.is_declared("rate limit", id) {
                self.issue(path.clone(), format!("unknown rate limit {id:?}"));
            }
        }
        let team_ids: Vec<&str> = g.teams.iter().map(|t| t.id.as_str()).collect();
        for (path, id) in &refs.teams {
            if !team_ids.contains(&id.as_str()) && !self.is_declared("team", id) {
                self.issue(path.clone(), format!("unknown team {id:?}"));
            }
        }
        let customer_ids: Vec<&str> = g.customers.iter().map(|c| c.id.as_str()).collect();
        for (path, id) in &refs.customers {
            if !customer_ids.contains(&id.as_str()) && !self.is_declared("customer", id) {
                self.issue(path.clone(), format!("unknown customer {id:?}"));
            }
        }

        // Calendar alignment set on owners applies to their budgets and rate limits; a budget
        // shared by an aligned and a rolling owner is aligned (it can only have one window).
        for (budgets, rate_limit) in &refs.aligned {
            for b in g.budgets.iter_mut().filter(|b| budgets.contains(&b.id)) {
                b.calendar_aligned = true;
            }
            if let Some(id) = rate_limit {
                for r in g.rate_limits.iter_mut().filter(|r| &r.id == id) {
                    r.calendar_aligned = true;
                }
            }
        }

        g.ignored = std::mem::take(&mut self.ignored);
        g
    }

    /// Reports every repeat of a key after its first occurrence; empty keys are skipped.
    fn unique<'s>(
        &mut self,
        keys: impl Iterator<Item = &'s str>,
        paths: &[String],
        field: &str,
        what: &str,
    ) {
        let mut first: HashMap<&str, usize> = HashMap::new();
        for (i, k) in keys.enumerate() {
            if k.is_empty() {
                continue; // nothing to compare (the entry's own issue is reported elsewhere)
            }
            if let Some(&j) = first.get(k) {
                let (Some(here), Some(there)) = (paths.get(i), paths.get(j)) else {
                    continue;
                };
                let shown = if field == "value" {
                    "(hidden)".to_owned()
                } else {
                    format!("{k:?}")
                };
                self.issue(
                    format!("{here}.{field}"),
                    format!("duplicate {what} {shown} (first at {there})"),
                );
            } else {
                first.insert(k, i);
            }
        }
    }

    fn budget(&mut self, v: &Value, path: String, id_optional: bool) -> Option<Budget> {
        let mut o = self.object(v, path)?;
        let id = if id_optional {
            self.string(&mut o, "id")
        } else {
            self.required(&mut o, "id")
        };
        self.declare("budget", id.as_ref());
        let max_path = o.field_path("max_limit");
        let present = o.map.get("max_limit").is_some_and(|v| !v.is_null());
        let max_limit = self.non_negative_f64(&mut o, "max_limit");
        if !present {
            self.issue(max_path, "is required");
        }
        let dur_path = o.field_path("reset_duration");
        let has_dur = o.map.get("reset_duration").is_some_and(|v| !v.is_null());
        let reset_duration = self.duration(&mut o, "reset_duration");
        if !has_dur {
            self.issue(dur_path, "is required");
        }
        let calendar_aligned = self.bool(&mut o, "calendar_aligned", false);
        let current_usage = self
            .non_negative_f64(&mut o, "current_usage")
            .unwrap_or(0.0);
        let last_reset = self.timestamp(&mut o, "last_reset");
        self.finish(o);
        Some(Budget {
            id: if id_optional {
                id.unwrap_or_default()
            } else {
                id?
            },
            max_limit: max_limit?,
            reset_duration: reset_duration?,
            calendar_aligned,
            current_usage,
            last_reset,
        })
    }

    fn window(&mut self, o: &mut Obj<'_>, prefix: &'static str) -> Option<Window> {
        let (max_key, dur_key, usage_key, reset_key) = match prefix {
            "token" => (
                "token_max_limit",
                "token_reset_duration",
                "token_current_usage",
                "token_last_reset",
            ),
            _ => (
                "request_max_limit",
                "request_reset_duration",
                "request_current_usage",
                "request_last_reset",
            ),
        };
        let max = self.non_negative_int(o, max_key);
        let dur_given = o.map.get(dur_key).is_some_and(|v| !v.is_null());
        let reset_duration = self.duration(o, dur_key);
        let current_usage = self.non_negative_int(o, usage_key).unwrap_or(0);
        let last_reset = self.timestamp(o, reset_key);
        let max_given = o.map.get(max_key).is_some_and(|v| !v.is_null());
        if max_given && !dur_given {
            self.issue(o.field_path(dur_key), format!("is required with {max_key}"));
        }
        Some(Window {
            max: max?,
            reset_duration: reset_duration?,
            current_usage,
            last_reset,
        })
    }

    fn rate_limit(&mut self, v: &Value, path: String) -> Option<RateLimit> {
        let mut o = self.object(v, path)?;
        let id = self.required(&mut o, "id");
        self.declare("rate limit", id.as_ref());
        let tokens = self.window(&mut o, "token");
        let requests = self.window(&mut o, "request");
        let calendar_aligned = self.bool(&mut o, "calendar_aligned", false);
        self.finish(o);
        Some(RateLimit {
            id: id?,
            tokens,
            requests,
            calendar_aligned,
        })
    }

    /// Reads an owner's budget and rate-limit references and records them for checking.
    ///
    /// Also reads the owner's `calendar_aligned` (Bifrost's newer data model puts it on the
    /// owner, not the budget); `inherited` is the parent's flag, for a virtual key's provider
    /// configs. An aligned owner's budgets and rate limit are stamped aligned after parsing.
    fn limits_of(&mut self, o: &mut Obj<'_>, refs: &mut Refs, inherited: bool) -> Limits {
        let id_paths = self.budget_ids(o);
        let budget_ids: BudgetIds = id_paths.iter().map(|(_, id)| id.clone()).collect();
        refs.budgets.push((o.path.clone(), id_paths));
        let rate_limit_id = self.string(o, "rate_limit_id");
        if let Some(id) = &rate_limit_id {
            refs.rate_limits
                .push((o.field_path("rate_limit_id"), id.clone()));
        }
        let calendar_aligned = self.bool(o, "calendar_aligned", false) || inherited;
        if calendar_aligned {
            refs.aligned
                .push((budget_ids.clone(), rate_limit_id.clone()));
        }
        Limits {
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        }
    }

    fn customer(&mut self, v: &Value, path: &str, refs: &mut Refs) -> Option<Customer> {
        let mut o = self.object(v, path.to_owned())?;
        let id = self.required(&mut o, "id");
        self.declare("customer", id.as_ref());
        let name = self.required(&mut o, "name");
        let Limits {
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        } = self.limits_of(&mut o, refs, false);
        self.finish(o);
        let c = Customer {
            id: id?,
            name: name?,
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        };
        refs.customer_paths.push(path.to_owned());
        Some(c)
    }

    fn team(&mut self, v: &Value, path: &str, refs: &mut Refs) -> Option<Team> {
        let mut o = self.object(v, path.to_owned())?;
        let id = self.required(&mut o, "id");
        self.declare("team", id.as_ref());
        let name = self.required(&mut o, "name");
        let customer_id = self.string(&mut o, "customer_id");
        if let Some(c) = &customer_id {
            refs.customers
                .push((o.field_path("customer_id"), c.clone()));
        }
        let Limits {
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        } = self.limits_of(&mut o, refs, false);
        let profile = o.get("profile").cloned();
        let config = o.get("config").cloned();
        let claims = o.get("claims").cloned();
        self.finish(o);
        let t = Team {
            id: id?,
            name: name?,
            customer_id,
            budget_ids,
            rate_limit_id,
            calendar_aligned,
            profile,
            config,
            claims,
        };
        refs.team_paths.push(path.to_owned());
        Some(t)
    }

    fn virtual_key(&mut self, v: &Value, path: &str, refs: &mut Refs) -> Option<VirtualKey> {
        let mut o = self.object(v, path.to_owned())?;
        let id = self.required(&mut o, "id");
        let name = self.string(&mut o, "name");
        let description = self.string(&mut o, "description");
        let value = self.vk_value(&mut o);
        let is_active = self.bool(&mut o, "is_active", true);
        let team_id = self.string(&mut o, "team_id");
        let customer_id = self.string(&mut o, "customer_id");
        let owner = match (team_id, customer_id) {
            (Some(_), Some(_)) => {
                self.issue(path, "team_id and customer_id are mutually exclusive; a virtual key belongs to a team or a customer");
                Owner::None
            }
            (Some(t), None) => {
                refs.teams.push((o.field_path("team_id"), t.clone()));
                Owner::Team(t)
            }
            (None, Some(c)) => {
                refs.customers
                    .push((o.field_path("customer_id"), c.clone()));
                Owner::Customer(c)
            }
            (None, None) => Owner::None,
        };
        let Limits {
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        } = self.limits_of(&mut o, refs, false);
        let pc_path = o.field_path("provider_configs");
        let mut provider_configs = Vec::new();
        for (i, pc) in self.array(&mut o, "provider_configs").iter().enumerate() {
            if let Some(pc) =
                self.provider_config(pc, format!("{pc_path}[{i}]"), refs, calendar_aligned)
            {
                provider_configs.push(pc);
            }
        }
        let allow_all_providers = self.bool(&mut o, "allow_all_providers", false);
        let mcp_configs = self.array(&mut o, "mcp_configs").to_vec();
        self.finish(o);
        let id = id?;
        Some(VirtualKey {
            name: name.unwrap_or_else(|| id.clone()),
            id,
            description,
            value: value?,
            is_active,
            owner,
            budget_ids,
            rate_limit_id,
            calendar_aligned,
            provider_configs,
            allow_all_providers,
            mcp_configs,
        })
    }

    /// A virtual key's secret: a literal, or `env.VAR` resolved through the env lookup.
    fn vk_value(&mut self, o: &mut Obj<'_>) -> Option<String> {
        let path = o.field_path("value");
        let raw = self.required(o, "value")?;
        let Some(var) = raw.strip_prefix("env.") else {
            return Some(raw);
        };
        match (self.env)(var) {
            Some(v) if !v.trim().is_empty() => Some(v),
            Some(_) => {
                self.issue(path, format!("environment variable {var} is empty"));
                None
            }
            None => {
                self.issue(path, format!("environment variable {var} is not set"));
                None
            }
        }
    }

    fn provider_config(
        &mut self,
        v: &Value,
        path: String,
        refs: &mut Refs,
        vk_aligned: bool,
    ) -> Option<ProviderConfig> {
        let mut o = self.object(v, path)?;
        let provider = self.required(&mut o, "provider");
        let weight = self.non_negative_f64(&mut o, "weight");
        let allowed_models = self.string_list(&mut o, "allowed_models");
        let mut keys = self.string_list(&mut o, "allowed_keys");
        keys.extend(self.string_list(&mut o, "key_ids"));
        let keys_path = o.field_path("keys");
        for (i, k) in self.array(&mut o, "keys").iter().enumerate() {
            let item = match k {
                Value::String(s) => Some(s.clone()),
                Value::Object(m) => m
                    .get("key_id")
                    .or_else(|| m.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                _ => None,
            };
            match item {
                Some(s) => keys.push(s),
                None => self.issue(
                    format!("{keys_path}[{i}]"),
                    "expected a key id, or an object with key_id or name",
                ),
            }
        }
        let mut allow_all_keys = self.bool(&mut o, "allow_all_keys", false);
        if keys.iter().any(|k| k == "*") {
            allow_all_keys = true;
            keys.retain(|k| k != "*");
        }
        let Limits {
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        } = self.limits_of(&mut o, refs, vk_aligned);
        // Bifrost's storage fields; they carry nothing a config file decides.
        o.used.extend(["id", "virtual_key_id"]);
        self.finish(o);
        Some(ProviderConfig {
            provider: provider?,
            weight,
            allowed_models,
            keys,
            allow_all_keys,
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        })
    }

    fn model_config(&mut self, v: &Value, path: &str, refs: &mut Refs) -> Option<ModelConfig> {
        let mut o = self.object(v, path.to_owned())?;
        let id = self.required(&mut o, "id");
        let model_name = self.required(&mut o, "model_name");
        let provider = self.string(&mut o, "provider");
        let Limits {
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        } = self.limits_of(&mut o, refs, false);
        self.finish(o);
        Some(ModelConfig {
            id: id?,
            model_name: model_name?,
            provider,
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        })
    }

    fn provider_governance(
        &mut self,
        v: &Value,
        path: &str,
        refs: &mut Refs,
    ) -> Option<ProviderGovernance> {
        let mut o = self.object(v, path.to_owned())?;
        let name = self.required(&mut o, "name");
        let Limits {
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        } = self.limits_of(&mut o, refs, false);
        self.finish(o);
        Some(ProviderGovernance {
            name: name?,
            budget_ids,
            rate_limit_id,
            calendar_aligned,
        })
    }
}

/// An owner's limits as read by `limits_of`.
struct Limits {
    budget_ids: BudgetIds,
    rate_limit_id: Option<String>,
    calendar_aligned: bool,
}

/// References written in the section, with the path of each, checked once everything is read.
#[derive(Default)]
struct Refs {
    /// Budgets and rate limits of calendar-aligned owners.
    aligned: Vec<(BudgetIds, Option<String>)>,
    /// Per owner: its path, then (path, id) for each budget reference.
    budgets: Vec<(String, Vec<(String, String)>)>,
    rate_limits: Vec<(String, String)>,
    teams: Vec<(String, String)>,
    customers: Vec<(String, String)>,
    customer_paths: Vec<String>,
    team_paths: Vec<String>,
}
