//! `/api/governance/*`: the governance entities managed through the admin API, in Bifrost's
//! request and answer shapes.
//!
//! Every entity is stored where `config.json` keeps it — the `governance` section's lists
//! (`virtual_keys`, `teams`, `customers`, `model_configs`, `providers`, `routing_rules`) — so
//! the same validator judges it and the same change path ([`Control::change`]) serves it. An
//! entity's inline `budget` / `rate_limit` becomes a `budgets[]` / `rate_limits[]` entry named
//! after it (`<id>-budget`, `<id>-rate-limit`) and goes away with it.
//!
//! One job per file: [`listing`] filters and pages lists, [`limits`] stores inline limits and
//! shows them with live usage, [`entity`] is the create/read/update/delete every id-keyed
//! entity shares; the other files describe one entity each.

mod entity;
mod limits;
mod listing;

mod customers;
mod model_configs;
mod providers;
mod routing_rules;
mod teams;
mod usage;
mod virtual_keys;

pub use listing::ListQuery;

use crate::AdminError;
use asbru_store::Document;
use serde_json::{Map, Value, json};

/// The `governance` section of a document, made an object if it was missing or not one.
fn governance_mut(doc: &mut Document) -> &mut Map<String, Value> {
    let governance = doc
        .sections
        .entry("governance".into())
        .or_insert_with(|| json!({}));
    if !governance.is_object() {
        *governance = json!({});
    }
    governance
        .as_object_mut()
        .unwrap_or_else(|| unreachable!("made an object just above"))
}

/// One list of the governance section, made an array if it was missing or not one.
fn list_mut<'a>(governance: &'a mut Map<String, Value>, name: &str) -> &'a mut Vec<Value> {
    let list = governance.entry(name).or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut()
        .unwrap_or_else(|| unreachable!("made an array just above"))
}

/// One list of a document's governance section, as stored (empty when absent).
fn entries(doc: &Document, name: &str) -> Vec<Value> {
    doc.sections
        .get("governance")
        .and_then(|g| g.get(name))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn id_of(entry: &Value) -> Option<&str> {
    entry.get("id").and_then(Value::as_str)
}

/// A 400 naming the request field at fault.
fn field_error(field: &str, message: impl std::fmt::Display) -> AdminError {
    AdminError {
        field: Some(field.to_owned()),
        ..AdminError::bad_request(format!("{field}: {message}"))
    }
}

/// A request body that must be a JSON object.
fn body_object(body: Value) -> Result<Map<String, Value>, AdminError> {
    match body {
        Value::Object(o) => Ok(o),
        _ => Err(AdminError::bad_request("the body must be a JSON object")),
    }
}

/// Copies the `fields` a request gives onto a stored entry: `null` removes a field, and so
/// does an empty `*_id` (Bifrost clears `customer_id` with `""`).
fn apply_fields(entry: &mut Map<String, Value>, body: &Map<String, Value>, fields: &[&str]) {
    for field in fields {
        match body.get(*field) {
            None => {}
            Some(Value::Null) => {
                entry.remove(*field);
            }
            Some(Value::String(s)) if s.is_empty() && field.ends_with("_id") => {
                entry.remove(*field);
            }
            Some(v) => {
                entry.insert((*field).into(), v.clone());
            }
        }
    }
}
