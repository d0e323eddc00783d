//! `/api/governance/virtual-keys`: virtual keys (`name`, `description`, `is_active`,
//! `team_id` / `customer_id`, `provider_configs[]`, an inline `rate_limit` and `budget`).
//!
//! What sets them apart from the other entities is their value (`sk-bf-<uuid>`): shown whole
//! once, in the answer that creates it, and masked like every other secret afterwards.

use super::listing::ListQuery;
use super::{
    apply_fields, body_object, entries, field_error, governance_mut, id_of, limits, list_mut,
};
use crate::redact::mask;
use crate::{AdminError, Control};
use asbru_store::Document;
use serde_json::{Map, Value, json};

/// Fields of a virtual key a request may set directly.
const KEY_FIELDS: &[&str] = &[
    "name",
    "description",
    "is_active",
    "team_id",
    "customer_id",
    "provider_configs",
];

fn not_found(id: &str) -> AdminError {
    AdminError::not_found(format!("virtual key not found: {id}"))
}

/// Applies a create or update request to a stored key (and its own limits).
fn apply_request(
    doc: &mut Document,
    id: &str,
    key: &mut Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<(), AdminError> {
    if let Some(name) = body.get("name")
        && name.as_str().is_none_or(|n| n.trim().is_empty())
    {
        return Err(field_error("name", "must be a non-empty string"));
    }
    // A key belongs to a team or a customer: Bifrost refuses both at once, and naming one
    // replaces the other (so one `PUT` moves a key from a customer to a team).
    let names = |f: &str| body.get(f).is_some_and(|v| !v.is_null());
    if names("team_id") && names("customer_id") {
        return Err(field_error(
            "team_id",
            "a virtual key belongs to a team or a customer, not both",
        ));
    }
    apply_fields(key, body, KEY_FIELDS);
    if names("team_id") {
        key.remove("customer_id");
    }
    if names("customer_id") {
        key.remove("team_id");
    }
    limits::apply(governance_mut(doc), id, key, body)
}

impl Control {
    /// A virtual key as the API shows it: its value masked (unless `reveal`), its rate limit and
    /// budget inline with their live usage.
    fn virtual_key_view(&self, doc: &Document, key: &Value, reveal: bool) -> Value {
        let mut view = key.clone();
        if let Some(fields) = view.as_object_mut() {
            if !reveal && let Some(Value::String(value)) = fields.get("value") {
                let shown = if value.starts_with("env.") {
                    value.clone()
                } else {
                    mask(value)
                };
                fields.insert("value".into(), json!(shown));
            }
            fields.entry("is_active").or_insert(json!(true));
            fields.entry("provider_configs").or_insert(json!([]));
            limits::attach(doc, self.gateway.governance_limits(), fields);
        }
        view
    }

    /// `GET /api/governance/virtual-keys?search=&team_id=&customer_id=&limit=&offset=`:
    /// `{"virtual_keys": [...], "count": N, "total_count": M, "limit", "offset"}`.
    pub fn list_virtual_keys(&self, query: &ListQuery) -> Value {
        let doc = self.document();
        let matching = entries(&doc, "virtual_keys").into_iter().filter(|k| {
            ListQuery::matches(query.team_id.as_deref(), k, "team_id")
                && ListQuery::matches(query.customer_id.as_deref(), k, "customer_id")
        });
        query.answer(
            "virtual_keys",
            matching,
            &["id", "name", "description"],
            |k| self.virtual_key_view(&doc, k, false),
        )
    }

    /// `GET /api/governance/virtual-keys/{id}`: `{"virtual_key": {...}}`.
    pub fn get_virtual_key(&self, id: &str) -> Result<Value, AdminError> {
        let doc = self.document();
        let key = entries(&doc, "virtual_keys")
            .into_iter()
            .find(|k| id_of(k) == Some(id))
            .ok_or_else(|| not_found(id))?;
        Ok(json!({"virtual_key": self.virtual_key_view(&doc, &key, false)}))
    }

    /// `POST /api/governance/virtual-keys`: makes a key (`sk-bf-<uuid>`), answered with its whole
    /// value — the only time it is shown.
    pub async fn create_virtual_key(&self, body: Value) -> Result<Value, AdminError> {
        let body = body_object(body)?;
        if !body.contains_key("name") {
            return Err(field_error("name", "is required"));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let value = format!("sk-bf-{}", uuid::Uuid::new_v4());
        let (key, doc) = self
            .change(|doc| {
                let mut key = Map::new();
                key.insert("id".into(), json!(id));
                key.insert("value".into(), json!(value));
                key.insert("is_active".into(), json!(true));
                apply_request(doc, &id, &mut key, &body)?;
                list_mut(governance_mut(doc), "virtual_keys").push(Value::Object(key.clone()));
                Ok((Value::Object(key), doc.clone()))
            })
            .await?;
        Ok(json!({
            "message": "Virtual key created successfully",
            "virtual_key": self.virtual_key_view(&doc, &key, true),
        }))
    }

    /// `PUT /api/governance/virtual-keys/{id}`: the fields given replace the stored ones (an inline
    /// `rate_limit` or `budget` updates the key's own); the value stays.
    pub async fn update_virtual_key(&self, id: &str, body: Value) -> Result<Value, AdminError> {
        let body = body_object(body)?;
        let (key, doc) = self
            .change(|doc| {
                let keys = entries(doc, "virtual_keys");
                let at = keys
                    .iter()
                    .position(|k| id_of(k) == Some(id))
                    .ok_or_else(|| not_found(id))?;
                let mut key = keys[at].as_object().cloned().unwrap_or_default();
                apply_request(doc, id, &mut key, &body)?;
                list_mut(governance_mut(doc), "virtual_keys")[at] = Value::Object(key.clone());
                Ok((Value::Object(key), doc.clone()))
            })
            .await?;
        Ok(json!({
            "message": "Virtual key updated successfully",
            "virtual_key": self.virtual_key_view(&doc, &key, false),
        }))
    }

    /// `DELETE /api/governance/virtual-keys/{id}`: the key and the limits made for it.
    pub async fn delete_virtual_key(&self, id: &str) -> Result<Value, AdminError> {
        self.change(|doc| {
            let governance = governance_mut(doc);
            let keys = list_mut(governance, "virtual_keys");
            let before = keys.len();
            keys.retain(|k| id_of(k) != Some(id));
            if keys.len() == before {
                return Err(not_found(id));
            }
            limits::remove_own(governance, id);
            Ok(())
        })
        .await?;
        Ok(json!({"message": "Virtual key deleted successfully"}))
    }
}
