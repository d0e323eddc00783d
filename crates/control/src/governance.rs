//! `/api/governance/virtual-keys`: virtual keys managed through the admin API, in Bifrost's
//! request shapes (`name`, `description`, `is_active`, `team_id` / `customer_id`,
//! `provider_configs[]`, an inline `rate_limit` and `budget`).
//!
//! A virtual key is stored where `config.json` keeps it — `governance.virtual_keys[]`, its inline
//! limits becoming `governance.rate_limits[]` / `budgets[]` entries named after the key — so the
//! same validator judges it (a budget is refused while budgets are not enforced) and the same
//! change path serves it. Its value (`sk-bf-<uuid>`) is shown whole once, in the answer that
//! creates it; afterwards it is masked like every other secret.

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

fn list_mut<'a>(governance: &'a mut Map<String, Value>, name: &str) -> &'a mut Vec<Value> {
    let list = governance.entry(name).or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut()
        .unwrap_or_else(|| unreachable!("made an array just above"))
}

fn id_of(entry: &Value) -> Option<&str> {
    entry.get("id").and_then(Value::as_str)
}

fn not_found(id: &str) -> AdminError {
    AdminError::not_found(format!("virtual key not found: {id}"))
}

/// The id of the rate limit or budget a key's inline limit is stored as.
fn own_limit_id(key_id: &str, what: &str) -> String {
    format!("{key_id}-{what}")
}

/// Puts an inline limit (`rate_limit` or `budget` of a request) into its list under the key's own
/// id, replacing an earlier one, and points `field` of `target` at it.
fn store_inline_limit(
    governance: &mut Map<String, Value>,
    list: &str,
    id: String,
    limit: &Value,
    target: &mut Map<String, Value>,
    field: &str,
) -> Result<(), AdminError> {
    let Value::Object(limit) = limit else {
        return Err(AdminError {
            field: Some(field.replace("_id", "")),
            ..AdminError::bad_request(format!("{}: must be an object", field.replace("_id", "")))
        });
    };
    let mut entry = limit.clone();
    entry.insert("id".into(), json!(id));
    let entries = list_mut(governance, list);
    entries.retain(|e| id_of(e) != Some(id.as_str()));
    entries.push(Value::Object(entry));
    target.insert(field.into(), json!(id));
    Ok(())
}

impl Control {
    /// A virtual key as the API shows it: its value masked (unless `reveal`), its rate limit and
    /// budget inline.
    fn virtual_key_view(&self, doc: &Document, key: &Value, reveal: bool) -> Value {
        let mut view = key.clone();
        let governance = doc.sections.get("governance");
        let find = |list: &str, id: Option<&Value>| {
            let id = id?.as_str()?;
            governance?
                .get(list)?
                .as_array()?
                .iter()
                .find(|e| id_of(e) == Some(id))
                .cloned()
        };
        let rate_limit = find("rate_limits", key.get("rate_limit_id"));
        let budget = find("budgets", key.get("budget_id"));
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
            fields.insert("rate_limit".into(), rate_limit.unwrap_or(Value::Null));
            fields.insert("budget".into(), budget.unwrap_or(Value::Null));
        }
        view
    }

    fn virtual_keys(doc: &Document) -> Vec<Value> {
        doc.sections
            .get("governance")
            .and_then(|g| g.get("virtual_keys"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    /// `GET /api/governance/virtual-keys?search=&limit=&offset=`:
    /// `{"virtual_keys": [...], "count": N, "total_count": M, "limit", "offset"}`.
    pub fn list_virtual_keys(
        &self,
        search: Option<&str>,
        limit: Option<usize>,
        offset: Option<usize>,
    ) -> Value {
        let doc = self.document();
        let needle = search.map(str::to_ascii_lowercase);
        let matching: Vec<Value> = Self::virtual_keys(&doc)
            .into_iter()
            .filter(|k| {
                needle.as_deref().is_none_or(|n| {
                    ["id", "name", "description"].iter().any(|f| {
                        k.get(*f)
                            .and_then(Value::as_str)
                            .is_some_and(|v| v.to_ascii_lowercase().contains(n))
                    })
                })
            })
            .collect();
        let total = matching.len();
        let offset = offset.unwrap_or(0);
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|k| self.virtual_key_view(&doc, k, false))
            .collect();
        json!({
            "virtual_keys": page,
            "count": page.len(),
            "total_count": total,
            "limit": limit,
            "offset": offset,
        })
    }

    /// `GET /api/governance/virtual-keys/{id}`: `{"virtual_key": {...}}`.
    pub fn get_virtual_key(&self, id: &str) -> Result<Value, AdminError> {
        let doc = self.document();
        let key = Self::virtual_keys(&doc)
            .into_iter()
            .find(|k| id_of(k) == Some(id))
            .ok_or_else(|| not_found(id))?;
        Ok(json!({"virtual_key": self.virtual_key_view(&doc, &key, false)}))
    }

    /// `POST /api/governance/virtual-keys`: makes a key (`sk-bf-<uuid>`), answered with its whole
    /// value — the only time it is shown.
    pub async fn create_virtual_key(&self, body: Value) -> Result<Value, AdminError> {
        let Value::Object(body) = body else {
            return Err(AdminError::bad_request("the body must be a JSON object"));
        };
        if body
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(|n| n.trim().is_empty())
        {
            return Err(AdminError {
                field: Some("name".into()),
                ..AdminError::bad_request("name: required")
            });
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
    /// `rate_limit` or `budget` replaces the key's own); the value stays.
    pub async fn update_virtual_key(&self, id: &str, body: Value) -> Result<Value, AdminError> {
        let Value::Object(body) = body else {
            return Err(AdminError::bad_request("the body must be a JSON object"));
        };
        let (key, doc) = self
            .change(|doc| {
                let keys = Self::virtual_keys(doc);
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
            for (list, what) in [("rate_limits", "rate-limit"), ("budgets", "budget")] {
                let own = own_limit_id(id, what);
                list_mut(governance, list).retain(|e| id_of(e) != Some(own.as_str()));
            }
            Ok(())
        })
        .await?;
        Ok(json!({"message": "Virtual key deleted successfully"}))
    }
}

/// Applies a create or update request to a stored key (and its own limits).
fn apply_request(
    doc: &mut Document,
    id: &str,
    key: &mut Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<(), AdminError> {
    for field in KEY_FIELDS {
        match body.get(*field) {
            Some(Value::Null) => {
                key.remove(*field);
            }
            Some(v) => {
                key.insert((*field).into(), v.clone());
            }
            None => {}
        }
    }
    let governance = governance_mut(doc);
    for (field, list, what, id_field) in [
        ("rate_limit", "rate_limits", "rate-limit", "rate_limit_id"),
        ("budget", "budgets", "budget", "budget_id"),
    ] {
        match body.get(field) {
            None => {}
            Some(Value::Null) => {
                let own = own_limit_id(id, what);
                list_mut(governance, list).retain(|e| id_of(e) != Some(own.as_str()));
                key.remove(id_field);
            }
            Some(limit) => {
                store_inline_limit(
                    governance,
                    list,
                    own_limit_id(id, what),
                    limit,
                    key,
                    id_field,
                )?;
            }
        }
    }
    Ok(())
}
