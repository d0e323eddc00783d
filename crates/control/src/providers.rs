//! Admin operations on providers and their keys, in Bifrost's shapes (newest: a provider's keys
//! are managed under `/api/providers/{provider}/keys`, and its answer does not list them).

use crate::redact::{
    KEY_SECRETS, PROVIDER_SECRETS, redact, redact_headers, restore, restore_headers,
};
use crate::startup::with_key_ids;
use crate::{AdminError, Control};
use serde_json::{Map, Value, json};

/// Bifrost's `network_config` defaults, shown when a provider sets none.
fn default_network_config() -> Value {
    json!({
        "default_request_timeout_in_seconds": 30,
        "max_retries": 0,
        "retry_backoff_initial_ms": 500,
        "retry_backoff_max_ms": 5000,
        "stream_idle_timeout_in_seconds": 60,
    })
}

fn default_concurrency() -> Value {
    json!({"concurrency": asbru_config::DEFAULT_CONCURRENCY, "buffer_size": asbru_config::DEFAULT_BUFFER_SIZE})
}

fn object(body: Value, what: &str) -> Result<Map<String, Value>, AdminError> {
    match body {
        Value::Object(o) => Ok(o),
        _ => Err(AdminError::bad_request(format!(
            "{what} must be a JSON object"
        ))),
    }
}

fn keys_of(entry: &Value) -> Vec<Value> {
    entry
        .get("keys")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn key_id(key: &Value) -> Option<&str> {
    key.get("id").and_then(Value::as_str)
}

impl Control {
    fn not_found(name: &str) -> AdminError {
        AdminError::not_found(format!("provider not found: {name}"))
    }

    /// A provider as the API shows it (secrets masked, defaults filled in, keys left out).
    fn provider_view(&self, name: &str, entry: &Value) -> Value {
        let mut view = redact(entry, PROVIDER_SECRETS, &self.env);
        redact_headers(&mut view, &self.env);
        let Some(fields) = view.as_object_mut() else {
            return json!({"name": name});
        };
        fields.remove("keys");
        fields.insert("name".into(), json!(name));
        fields
            .entry("network_config")
            .or_insert_with(default_network_config);
        fields
            .entry("concurrency_and_buffer_size")
            .or_insert_with(default_concurrency);
        fields.entry("proxy_config").or_insert(Value::Null);
        for flag in [
            "send_back_raw_request",
            "send_back_raw_response",
            "store_raw_request_response",
        ] {
            fields.entry(flag).or_insert(json!(false));
        }
        let serving = self.gateway.provider_names().iter().any(|p| p == name);
        fields.insert(
            "provider_status".into(),
            json!(if serving { "active" } else { "error" }),
        );
        view
    }

    /// A key as the API shows it.
    fn key_view(&self, provider: &str, key: &Value) -> Value {
        let mut view = redact(key, KEY_SECRETS, &self.env);
        if let Some(fields) = view.as_object_mut() {
            fields.insert("provider".into(), json!(provider));
            fields.entry("models").or_insert(json!([]));
            fields.entry("blacklisted_models").or_insert(json!([]));
            fields.entry("weight").or_insert(json!(1.0));
            fields.entry("enabled").or_insert(json!(true));
        }
        view
    }

    /// `GET /api/providers`: `{"providers": [...], "total": N}`, by name.
    pub fn list_providers(&self) -> Value {
        let mut doc = self.document();
        doc.providers.sort_by(|a, b| a.0.cmp(&b.0));
        let providers: Vec<Value> = doc
            .providers
            .iter()
            .map(|(name, entry)| self.provider_view(name, entry))
            .collect();
        json!({"total": providers.len(), "providers": providers})
    }

    /// `GET /api/providers/{provider}`.
    pub fn get_provider(&self, name: &str) -> Result<Value, AdminError> {
        let doc = self.document();
        let entry = doc.provider(name).ok_or_else(|| Self::not_found(name))?;
        Ok(self.provider_view(name, entry))
    }

    /// `POST /api/providers`: `{"provider": name, ...}`; 409 when it exists. Keys may be given
    /// here too, so one call adds a provider that can serve.
    pub async fn create_provider(&self, body: Value) -> Result<Value, AdminError> {
        let mut body = object(body, "the body")?;
        let name = match body.remove("provider").or_else(|| body.remove("name")) {
            Some(Value::String(n)) if !n.trim().is_empty() => n.trim().to_owned(),
            _ => {
                return Err(AdminError {
                    field: Some("provider".into()),
                    ..AdminError::bad_request("provider: required (the provider's name)")
                });
            }
        };
        let mut entry = Value::Object(body);
        if let Some(keys) = entry.get_mut("keys").and_then(Value::as_array_mut) {
            for key in keys.iter_mut() {
                restore(key, None, KEY_SECRETS, &self.env);
            }
        }
        restore(&mut entry, None, PROVIDER_SECRETS, &self.env);
        let entry = with_key_ids(entry, None);
        let stored = self
            .change(|doc| {
                if doc.provider(&name).is_some() {
                    return Err(AdminError::conflict(format!(
                        "provider {name} already exists"
                    )));
                }
                doc.set_provider(&name, entry.clone());
                Ok(entry)
            })
            .await?;
        Ok(self.provider_view(&name, &stored))
    }

    /// `PUT /api/providers/{provider}`: provider-level settings (creates the provider when
    /// missing). Keys are refused here, as in Bifrost: they have their own routes.
    pub async fn update_provider(&self, name: &str, body: Value) -> Result<Value, AdminError> {
        let body = object(body, "the body")?;
        if body
            .get("keys")
            .and_then(Value::as_array)
            .is_some_and(|k| !k.is_empty())
        {
            return Err(AdminError {
                field: Some("keys".into()),
                ..AdminError::bad_request(
                    "keys are not accepted on this endpoint; use POST/PUT /api/providers/{provider}/keys[/{key_id}] to manage keys",
                )
            });
        }
        let name = name.to_owned();
        let stored = self
            .change(|doc| {
                let current = doc.provider(&name).cloned().unwrap_or_else(|| json!({}));
                let mut entry = current.clone();
                let fields = entry.as_object_mut().ok_or_else(|| {
                    AdminError::bad_request("the stored provider is not an object")
                })?;
                for (field, value) in &body {
                    if matches!(
                        field.as_str(),
                        "keys" | "provider" | "name" | "provider_status"
                    ) {
                        continue;
                    }
                    if value.is_null() {
                        fields.remove(field);
                    } else {
                        fields.insert(field.clone(), value.clone());
                    }
                }
                restore(&mut entry, Some(&current), PROVIDER_SECRETS, &self.env);
                restore_headers(&mut entry, Some(&current), &self.env);
                doc.set_provider(&name, entry.clone());
                Ok(entry)
            })
            .await?;
        Ok(self.provider_view(&name, &stored))
    }

    /// `DELETE /api/providers/{provider}`.
    pub async fn delete_provider(&self, name: &str) -> Result<Value, AdminError> {
        self.change(|doc| {
            doc.remove_provider(name)
                .map(drop)
                .ok_or_else(|| Self::not_found(name))
        })
        .await?;
        Ok(json!({"name": name}))
    }

    /// `GET /api/providers/{provider}/keys`: `{"keys": [...], "total": N}`.
    pub fn list_keys(&self, provider: &str) -> Result<Value, AdminError> {
        let doc = self.document();
        let entry = doc
            .provider(provider)
            .ok_or_else(|| Self::not_found(provider))?;
        let keys: Vec<Value> = keys_of(entry)
            .iter()
            .map(|k| self.key_view(provider, k))
            .collect();
        Ok(json!({"total": keys.len(), "keys": keys}))
    }

    /// `GET /api/keys`: every provider's keys, as a list.
    pub fn all_keys(&self) -> Value {
        let doc = self.document();
        let keys: Vec<Value> = doc
            .providers
            .iter()
            .flat_map(|(name, entry)| keys_of(entry).into_iter().map(move |k| (name.clone(), k)))
            .map(|(name, k)| self.key_view(&name, &k))
            .collect();
        Value::Array(keys)
    }

    /// `GET /api/providers/{provider}/keys/{key_id}`.
    pub fn get_key(&self, provider: &str, id: &str) -> Result<Value, AdminError> {
        let doc = self.document();
        let entry = doc
            .provider(provider)
            .ok_or_else(|| Self::not_found(provider))?;
        keys_of(entry)
            .iter()
            .find(|k| key_id(k) == Some(id))
            .map(|k| self.key_view(provider, k))
            .ok_or_else(|| key_not_found(id))
    }

    /// Changes a provider's keys: `edit` gets them as stored now (404 when the provider is
    /// missing) and returns the key to answer with.
    async fn change_keys(
        &self,
        provider: &str,
        edit: impl FnOnce(&mut Vec<Value>) -> Result<Value, AdminError>,
    ) -> Result<Value, AdminError> {
        let key = self
            .change(|doc| {
                let mut entry = doc
                    .provider(provider)
                    .cloned()
                    .ok_or_else(|| Self::not_found(provider))?;
                let mut keys = keys_of(&entry);
                let key = edit(&mut keys)?;
                entry["keys"] = Value::Array(keys);
                doc.set_provider(provider, entry);
                Ok(key)
            })
            .await?;
        Ok(self.key_view(provider, &key))
    }

    /// `POST /api/providers/{provider}/keys`: adds a key (given an id when it has none).
    pub async fn create_key(&self, provider: &str, body: Value) -> Result<Value, AdminError> {
        let mut key = Value::Object(object(body, "the key")?);
        restore(&mut key, None, KEY_SECRETS, &self.env);
        let mut wrapped = with_key_ids(json!({"keys": [key]}), None);
        let key = wrapped["keys"][0].take();
        let id = key_id(&key).unwrap_or_default().to_owned();
        self.change_keys(provider, |keys| {
            if keys.iter().any(|k| key_id(k) == Some(id.as_str())) {
                return Err(AdminError::conflict(format!("key {id} already exists")));
            }
            keys.push(key.clone());
            Ok(key)
        })
        .await
    }

    /// `PUT /api/providers/{provider}/keys/{key_id}`: replaces the key; masked secrets sent back
    /// keep the stored ones, so a client can edit a key it was shown.
    pub async fn update_key(
        &self,
        provider: &str,
        id: &str,
        body: Value,
    ) -> Result<Value, AdminError> {
        let mut key = Value::Object(object(body, "the key")?);
        self.change_keys(provider, |keys| {
            let slot = keys
                .iter_mut()
                .find(|k| key_id(k) == Some(id))
                .ok_or_else(|| key_not_found(id))?;
            restore(&mut key, Some(slot), KEY_SECRETS, &self.env);
            if let Some(fields) = key.as_object_mut() {
                fields.insert("id".into(), json!(id));
                fields.remove("provider");
            }
            *slot = key.clone();
            Ok(key)
        })
        .await
    }

    /// `DELETE /api/providers/{provider}/keys/{key_id}`.
    pub async fn delete_key(&self, provider: &str, id: &str) -> Result<Value, AdminError> {
        self.change_keys(provider, |keys| {
            let at = keys
                .iter()
                .position(|k| key_id(k) == Some(id))
                .ok_or_else(|| key_not_found(id))?;
            Ok(keys.remove(at))
        })
        .await
    }
}

fn key_not_found(id: &str) -> AdminError {
    AdminError::not_found(format!("key not found: {id}"))
}
