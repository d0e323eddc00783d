//! `/api/governance/model-configs`: limits on one model, everywhere or on one provider
//! (`model_name`, `provider`, an inline `budget` and `rate_limit`). A second config for the same
//! model and provider is refused with 409, as Bifrost does.

use super::entity::{Kind, no_defaults, no_detach};
use super::field_error;
use super::listing::ListQuery;
use crate::{AdminError, Control};
use serde_json::{Map, Value};

const MODEL_CONFIGS: Kind = Kind {
    list: "model_configs",
    one: "model_config",
    many: "model_configs",
    label: "Model config",
    fields: &["model_name", "provider"],
    required: "model_name",
    search: &["id", "model_name", "provider"],
    owns_limits: true,
    defaults: no_defaults,
    check,
    detach: no_detach,
};

/// `provider` is a string when given; one config per model and provider.
fn check(entry: &mut Map<String, Value>, others: &[Value]) -> Result<(), AdminError> {
    let provider = match entry.get("provider") {
        None => None,
        Some(Value::String(p)) => Some(p.as_str()),
        Some(_) => return Err(field_error("provider", "must be a provider name")),
    };
    let model = entry.get("model_name").and_then(Value::as_str);
    let taken = others.iter().any(|o| {
        o.get("model_name").and_then(Value::as_str) == model
            && o.get("provider").and_then(Value::as_str) == provider
    });
    if taken {
        let model = model.unwrap_or_default();
        return Err(AdminError::conflict(match provider {
            Some(p) => {
                format!("Model config for model '{model}' with provider '{p}' already exists")
            }
            None => format!("Model config for model '{model}' (global) already exists"),
        }));
    }
    Ok(())
}

impl Control {
    /// `GET /api/governance/model-configs?search=&limit=&offset=`.
    pub fn list_model_configs(&self, query: &ListQuery) -> Value {
        self.list_entities(&MODEL_CONFIGS, query, |_| true)
    }

    /// `GET /api/governance/model-configs/{mc_id}`: `{"model_config": {...}}`.
    pub fn get_model_config(&self, id: &str) -> Result<Value, AdminError> {
        self.get_entity(&MODEL_CONFIGS, id)
    }

    /// `POST /api/governance/model-configs`.
    pub async fn create_model_config(&self, body: Value) -> Result<Value, AdminError> {
        self.create_entity(&MODEL_CONFIGS, body).await
    }

    /// `PUT /api/governance/model-configs/{mc_id}`.
    pub async fn update_model_config(&self, id: &str, body: Value) -> Result<Value, AdminError> {
        self.update_entity(&MODEL_CONFIGS, id, body).await
    }

    /// `DELETE /api/governance/model-configs/{mc_id}`: the config and its own limits.
    pub async fn delete_model_config(&self, id: &str) -> Result<Value, AdminError> {
        self.delete_entity(&MODEL_CONFIGS, id).await
    }
}
