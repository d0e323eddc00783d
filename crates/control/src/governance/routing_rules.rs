//! `/api/governance/routing-rules`: routing rules in Bifrost's newest shape (`name`,
//! `description`, `enabled`, `chain_rule`, `cel_expression`, weighted `targets[]`, `fallbacks`,
//! `scope` / `scope_id`, `priority`, `query`), stored in `governance.routing_rules` as
//! `config.json` writes them. Answers use Bifrost's keys: `rules` for the list, `rule` for one.

use super::entity::{Kind, no_detach};
use super::field_error;
use super::listing::ListQuery;
use crate::{AdminError, Control};
use serde_json::{Map, Value, json};

const ROUTING_RULES: Kind = Kind {
    list: "routing_rules",
    one: "rule",
    many: "rules",
    label: "Routing rule",
    fields: &[
        "name",
        "description",
        "enabled",
        "chain_rule",
        "cel_expression",
        "targets",
        "fallbacks",
        "scope",
        "scope_id",
        "priority",
        "query",
    ],
    required: "name",
    search: &["id", "name", "description"],
    owns_limits: false,
    defaults,
    check,
    detach: no_detach,
};

const SCOPES: &[&str] = &["global", "team", "customer", "virtual_key"];

/// Bifrost's defaults: enabled, global, priority 0.
fn defaults(rule: &mut Map<String, Value>) {
    rule.insert("enabled".into(), json!(true));
    rule.insert("scope".into(), json!("global"));
    rule.insert("priority".into(), json!(0));
}

/// Bifrost's checks: at least one target, each weight above 0 and all summing to 1; a known
/// scope, with a `scope_id` unless global (a global rule's `scope_id` is dropped).
fn check(rule: &mut Map<String, Value>, _others: &[Value]) -> Result<(), AdminError> {
    let Some(Value::Array(targets)) = rule.get("targets") else {
        return Err(field_error("targets", "at least one target is required"));
    };
    if targets.is_empty() {
        return Err(field_error("targets", "at least one target is required"));
    }
    let mut sum = 0.0;
    for (i, target) in targets.iter().enumerate() {
        if !target.is_object() {
            return Err(field_error(&format!("targets[{i}]"), "must be an object"));
        }
        for f in ["provider", "model", "key_id"] {
            if target
                .get(f)
                .is_some_and(|v| !v.is_null() && !v.is_string())
            {
                return Err(field_error(
                    &format!("targets[{i}].{f}"),
                    "must be a string",
                ));
            }
        }
        match target.get("weight").and_then(Value::as_f64) {
            Some(w) if w > 0.0 => sum += w,
            _ => {
                return Err(field_error(
                    &format!("targets[{i}].weight"),
                    "must be a number above 0",
                ));
            }
        }
    }
    if (sum - 1.0).abs() > 1e-6 {
        return Err(field_error(
            "targets",
            format!("the weights must sum to 1 (they sum to {sum})"),
        ));
    }
    let scope = match rule.get("scope") {
        Some(Value::String(s)) if SCOPES.contains(&s.as_str()) => s.clone(),
        _ => {
            return Err(field_error(
                "scope",
                format!("must be one of {}", SCOPES.join(", ")),
            ));
        }
    };
    if scope == "global" {
        rule.remove("scope_id");
    } else if rule
        .get("scope_id")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(field_error(
            "scope_id",
            "is required when scope is not global",
        ));
    }
    if rule.get("priority").is_some_and(|p| !p.is_i64()) {
        return Err(field_error("priority", "must be a whole number"));
    }
    if rule.get("cel_expression").is_some_and(|e| !e.is_string()) {
        return Err(field_error("cel_expression", "must be a string"));
    }
    Ok(())
}

impl Control {
    /// `GET /api/governance/routing-rules?scope=&scope_id=&search=&limit=&offset=`.
    pub fn list_routing_rules(&self, query: &ListQuery) -> Value {
        self.list_entities(&ROUTING_RULES, query, |r| {
            ListQuery::matches(query.scope.as_deref(), r, "scope")
                && ListQuery::matches(query.scope_id.as_deref(), r, "scope_id")
        })
    }

    /// `GET /api/governance/routing-rules/{rule_id}`: `{"rule": {...}}`.
    pub fn get_routing_rule(&self, id: &str) -> Result<Value, AdminError> {
        self.get_entity(&ROUTING_RULES, id)
    }

    /// `POST /api/governance/routing-rules`.
    pub async fn create_routing_rule(&self, body: Value) -> Result<Value, AdminError> {
        self.create_entity(&ROUTING_RULES, body).await
    }

    /// `PUT /api/governance/routing-rules/{rule_id}`.
    pub async fn update_routing_rule(&self, id: &str, body: Value) -> Result<Value, AdminError> {
        self.update_entity(&ROUTING_RULES, id, body).await
    }

    /// `DELETE /api/governance/routing-rules/{rule_id}`.
    pub async fn delete_routing_rule(&self, id: &str) -> Result<Value, AdminError> {
        self.delete_entity(&ROUTING_RULES, id).await
    }
}
