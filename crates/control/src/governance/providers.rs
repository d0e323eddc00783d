//! `/api/governance/providers`: a provider's own budget and rate limit, applying to all its
//! traffic (`governance.providers[]`, keyed by provider name). Only providers the configuration
//! has can be given limits (404 otherwise, as Bifrost answers); their limits are stored as
//! `provider-<name>-budget` / `provider-<name>-rate-limit`.

use super::{body_object, entries, governance_mut, limits, list_mut};
use crate::{AdminError, Control};
use asbru_store::Document;
use serde_json::{Map, Value, json};

fn name_of(entry: &Value) -> Option<&str> {
    entry.get("name").and_then(Value::as_str)
}

/// The stem the provider's own limits are named after.
fn owner_id(name: &str) -> String {
    format!("provider-{name}")
}

fn known(doc: &Document, name: &str) -> Result<(), AdminError> {
    match doc.provider(name) {
        Some(_) => Ok(()),
        None => Err(AdminError::not_found(format!("provider not found: {name}"))),
    }
}

impl Control {
    /// Bifrost's `{"provider", "budget"?, "rate_limit"?}`, with live usage.
    fn provider_governance_view(&self, doc: &Document, entry: &Value) -> Value {
        let mut fields = entry.as_object().cloned().unwrap_or_default();
        limits::attach(doc, self.gateway.governance_limits(), &mut fields);
        let mut view = Map::new();
        view.insert("provider".into(), json!(name_of(entry)));
        for field in ["budget", "rate_limit"] {
            if let Some(v) = fields.remove(field).filter(|v| !v.is_null()) {
                view.insert(field.into(), v);
            }
        }
        Value::Object(view)
    }

    /// `GET /api/governance/providers`: the providers with a budget or a rate limit,
    /// `{"providers": [...], "count": N}`.
    pub fn list_provider_governance(&self) -> Value {
        let doc = self.document();
        let shown: Vec<Value> = entries(&doc, "providers")
            .iter()
            .map(|e| self.provider_governance_view(&doc, e))
            .filter(|v| v.get("budget").is_some() || v.get("rate_limit").is_some())
            .collect();
        json!({"count": shown.len(), "providers": shown})
    }

    /// `PUT /api/governance/providers/{provider_name}`: `budget` and `rate_limit` as for every
    /// owner (`null` or an object without limits removes one).
    pub async fn update_provider_governance(
        &self,
        name: &str,
        body: Value,
    ) -> Result<Value, AdminError> {
        let body = body_object(body)?;
        let (entry, doc) = self
            .change(|doc| {
                known(doc, name)?;
                let governance = governance_mut(doc);
                let stored = list_mut(governance, "providers");
                let at = stored.iter().position(|e| name_of(e) == Some(name));
                let mut entry = match at {
                    Some(i) => stored.remove(i).as_object().cloned().unwrap_or_default(),
                    None => Map::from_iter([("name".to_owned(), json!(name))]),
                };
                limits::apply(governance, &owner_id(name), &mut entry, &body)?;
                // An entry left with nothing but its name says nothing: it is not kept.
                if entry.keys().any(|k| k != "name") {
                    let stored = list_mut(governance, "providers");
                    stored.insert(at.unwrap_or(stored.len()), Value::Object(entry.clone()));
                }
                Ok((Value::Object(entry), doc.clone()))
            })
            .await?;
        Ok(json!({
            "message": "Provider governance updated successfully",
            "provider": self.provider_governance_view(&doc, &entry),
        }))
    }

    /// `DELETE /api/governance/providers/{provider_name}`: the provider's limits go; the
    /// provider stays.
    pub async fn delete_provider_governance(&self, name: &str) -> Result<Value, AdminError> {
        self.change(|doc| {
            known(doc, name)?;
            let governance = governance_mut(doc);
            list_mut(governance, "providers").retain(|e| name_of(e) != Some(name));
            limits::remove_own(governance, &owner_id(name));
            Ok(())
        })
        .await?;
        Ok(json!({"message": "Provider governance deleted successfully"}))
    }
}
