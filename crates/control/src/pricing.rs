//! `/api/governance/pricing-overrides`: pricing overrides managed through the admin API, in
//! Bifrost's shapes (`{id, name, scope_kind, provider_id, match_type, pattern, request_types,
//! patch}`; lists as `{"pricing_overrides": [...], "count": N}`).
//!
//! An override is stored where `config.json` keeps one — `providers.<provider_id>
//! .pricing_overrides[]`, with the cost fields of `patch` flattened and `pattern` as
//! `model_pattern` — so the file and the API describe the same thing and go through the same
//! validator. That is Bifrost's `provider` scope; its other scopes (global, provider key,
//! virtual key) have no place in the file and are refused with the field at fault. Overrides
//! written in the file without an `id` are listed as `file:<provider>:<index>` and can be
//! changed or deleted by that id.

use crate::{AdminError, Control};
use asbru_engine::asbru_governance::pricing::PricingOverride;
use asbru_store::Document;
use serde_json::{Map, Value, json};

/// The fields of an override that are neither cost fields nor stored as they come.
const SHAPE_FIELDS: &[&str] = &[
    "id",
    "name",
    "scope_kind",
    "virtual_key_id",
    "provider_id",
    "provider_key_id",
    "match_type",
    "pattern",
    "request_types",
    "patch",
    "created_at",
    "updated_at",
    "config_hash",
];

fn field_error(field: &str, message: impl Into<String>) -> AdminError {
    let message = message.into();
    AdminError {
        field: Some(field.to_owned()),
        ..AdminError::bad_request(format!("{field}: {message}"))
    }
}

fn not_found(id: &str) -> AdminError {
    AdminError::not_found(format!("pricing override not found: {id}"))
}

/// The id an override is addressed by.
fn id_of(provider: &str, index: usize, stored: &Value) -> String {
    match stored.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => format!("file:{provider}:{index}"),
    }
}

/// Every stored override: (provider, index in its list, stored entry).
fn all(doc: &Document) -> Vec<(String, usize, Value)> {
    let mut out = Vec::new();
    for (provider, entry) in &doc.providers {
        let list = entry
            .get("pricing_overrides")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (i, o) in list.into_iter().enumerate() {
            out.push((provider.clone(), i, o));
        }
    }
    out
}

/// A stored override in Bifrost's API shape.
fn view(provider: &str, index: usize, stored: &Value) -> Value {
    let mut patch = Map::new();
    if let Some(fields) = stored.as_object() {
        for (k, v) in fields {
            if !matches!(
                k.as_str(),
                "id" | "name" | "model_pattern" | "match_type" | "request_types"
            ) {
                patch.insert(k.clone(), v.clone());
            }
        }
    }
    json!({
        "id": id_of(provider, index, stored),
        "name": stored.get("name").cloned().unwrap_or(json!("")),
        "scope_kind": "provider",
        "provider_id": provider,
        "virtual_key_id": null,
        "provider_key_id": null,
        "match_type": stored.get("match_type").cloned().unwrap_or(Value::Null),
        "pattern": stored.get("model_pattern").cloned().unwrap_or(Value::Null),
        "request_types": stored.get("request_types").cloned().unwrap_or(json!([])),
        "patch": patch,
    })
}

/// A request's fields over `base` (an API view, for updates), checked, as the stored entry and
/// the provider it belongs to.
fn to_stored(
    id: &str,
    base: Option<&Map<String, Value>>,
    body: &Map<String, Value>,
) -> Result<(String, Value), AdminError> {
    for key in body.keys() {
        if !SHAPE_FIELDS.contains(&key.as_str()) {
            return Err(field_error(key, "unknown field"));
        }
    }
    let get = |k: &str| body.get(k).or_else(|| base.and_then(|b| b.get(k)));
    let name = match get("name").and_then(Value::as_str).map(str::trim) {
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => return Err(field_error("name", "required")),
    };
    match get("scope_kind").and_then(Value::as_str) {
        Some("provider") => {}
        Some(
            other @ ("global"
            | "provider_key"
            | "virtual_key"
            | "virtual_key_provider"
            | "virtual_key_provider_key"),
        ) => {
            return Err(field_error(
                "scope_kind",
                format!(
                    "\"{other}\" is not supported yet: asbru keeps overrides per provider, as \
                     config.json does (use \"provider\" with provider_id)"
                ),
            ));
        }
        Some(other) => {
            return Err(field_error(
                "scope_kind",
                format!("unknown scope kind \"{other}\""),
            ));
        }
        None => return Err(field_error("scope_kind", "required: \"provider\"")),
    }
    for unsupported in ["virtual_key_id", "provider_key_id"] {
        if get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(field_error(
                unsupported,
                "not supported with scope_kind \"provider\"",
            ));
        }
    }
    let provider = match get("provider_id").and_then(Value::as_str).map(str::trim) {
        Some(p) if !p.is_empty() => p.to_owned(),
        _ => {
            return Err(field_error(
                "provider_id",
                "required for scope_kind \"provider\"",
            ));
        }
    };
    let mut stored = Map::new();
    stored.insert("id".into(), json!(id));
    stored.insert("name".into(), json!(name));
    stored.insert(
        "model_pattern".into(),
        get("pattern").cloned().unwrap_or(Value::Null),
    );
    stored.insert(
        "match_type".into(),
        get("match_type").cloned().unwrap_or(Value::Null),
    );
    if let Some(types) = get("request_types").filter(|v| !v.is_null()) {
        stored.insert("request_types".into(), types.clone());
    }
    match get("patch") {
        None | Some(Value::Null) => {}
        Some(Value::Object(patch)) => {
            for (k, v) in patch {
                if !v.is_null() {
                    stored.insert(k.clone(), v.clone());
                }
            }
        }
        Some(_) => return Err(field_error("patch", "must be an object of cost fields")),
    }
    let stored = Value::Object(stored);
    // The file's checks, with the API's field names.
    if let Err(issues) =
        PricingOverride::parse(&stored, |t| asbru_config::REQUEST_TYPES.contains(&t))
        && let Some((field, message)) = issues.into_iter().next()
    {
        let field = match field.as_str() {
            "model_pattern" => "pattern".to_owned(),
            f if f.starts_with("request_types") || f == "match_type" => f.to_owned(),
            f => format!("patch.{f}"),
        };
        return Err(field_error(&field, message));
    }
    Ok((provider, stored))
}

/// The provider's override list in `doc`, created when missing.
fn list_mut<'a>(doc: &'a mut Document, provider: &str) -> Result<&'a mut Vec<Value>, AdminError> {
    let Some((_, entry)) = doc.providers.iter_mut().find(|(n, _)| n == provider) else {
        return Err(field_error(
            "provider_id",
            format!("provider \"{provider}\" is not configured"),
        ));
    };
    let Some(fields) = entry.as_object_mut() else {
        return Err(AdminError::bad_request(format!(
            "provider \"{provider}\" is not an object"
        )));
    };
    let list = fields
        .entry("pricing_overrides")
        .or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut().ok_or_else(|| {
        field_error(
            "provider_id",
            format!("providers.{provider}.pricing_overrides is not a list"),
        )
    })
}

/// Removes the override `id` from `doc`; returns it as (provider, stored).
fn take(doc: &mut Document, id: &str) -> Result<(String, usize, Value), AdminError> {
    let (provider, index, stored) = all(doc)
        .into_iter()
        .find(|(p, i, o)| id_of(p, *i, o) == id)
        .ok_or_else(|| not_found(id))?;
    list_mut(doc, &provider)?.remove(index);
    Ok((provider, index, stored))
}

impl Control {
    /// `GET /api/governance/pricing-overrides?provider_id=&scope_kind=`.
    pub fn list_pricing_overrides(
        &self,
        provider_id: Option<&str>,
        scope_kind: Option<&str>,
    ) -> Value {
        let doc = self.document();
        let overrides: Vec<Value> = all(&doc)
            .iter()
            .filter(|(p, _, _)| provider_id.is_none_or(|want| want == p))
            .filter(|_| scope_kind.is_none_or(|k| k == "provider"))
            .map(|(p, i, o)| view(p, *i, o))
            .collect();
        json!({"count": overrides.len(), "pricing_overrides": overrides})
    }

    /// `POST /api/governance/pricing-overrides`: 201 with `{"pricing_override": {...}}`.
    pub async fn create_pricing_override(&self, body: Value) -> Result<Value, AdminError> {
        let Value::Object(body) = body else {
            return Err(AdminError::bad_request("the body must be a JSON object"));
        };
        let id = uuid::Uuid::new_v4().to_string();
        let (provider, stored) = to_stored(&id, None, &body)?;
        let index = self
            .change(|doc| {
                let list = list_mut(doc, &provider)?;
                list.push(stored.clone());
                Ok(list.len() - 1)
            })
            .await?;
        Ok(json!({
            "message": "Pricing override created successfully",
            "pricing_override": view(&provider, index, &stored),
        }))
    }

    /// `PUT /api/governance/pricing-overrides/{id}`: the fields given replace the stored ones
    /// (`patch` as a whole); the override may move to another provider.
    pub async fn update_pricing_override(
        &self,
        id: &str,
        body: Value,
    ) -> Result<Value, AdminError> {
        let Value::Object(body) = body else {
            return Err(AdminError::bad_request("the body must be a JSON object"));
        };
        let (provider, index, stored) = self
            .change(|doc| {
                let (old_provider, old_index, old) = take(doc, id)?;
                let base = view(&old_provider, old_index, &old);
                let (provider, stored) = to_stored(id, base.as_object(), &body)?;
                let list = list_mut(doc, &provider)?;
                let index = if provider == old_provider {
                    list.insert(old_index, stored.clone());
                    old_index
                } else {
                    list.push(stored.clone());
                    list.len() - 1
                };
                Ok((provider, index, stored))
            })
            .await?;
        Ok(json!({
            "message": "Pricing override updated successfully",
            "pricing_override": view(&provider, index, &stored),
        }))
    }

    /// `DELETE /api/governance/pricing-overrides/{id}`.
    pub async fn delete_pricing_override(&self, id: &str) -> Result<Value, AdminError> {
        self.change(|doc| take(doc, id).map(|_| ())).await?;
        Ok(json!({"message": "Pricing override deleted successfully"}))
    }
}
