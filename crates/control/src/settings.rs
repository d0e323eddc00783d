//! `GET/PUT /api/config`: the client settings, the framework settings and admin auth, in
//! Bifrost's shape.

use crate::redact::REDACTED;
use crate::{AdminError, Control};
use serde_json::{Map, Value, json};

/// Bifrost's client defaults, shown for settings the configuration leaves out.
fn client_defaults() -> Value {
    json!({
        "drop_excess_requests": false,
        "initial_pool_size": 300,
        "prometheus_labels": [],
        "allowed_origins": [],
        "allowed_headers": [],
        "enable_logging": false,
        "disable_content_logging": false,
        "disable_db_pings_in_health": false,
        "log_retention_days": 365,
        "enforce_auth_on_inference": false,
        "allow_direct_keys": false,
        "max_request_body_size_mb": asbru_config::DEFAULT_MAX_REQUEST_BODY_SIZE_MB,
        "enable_litellm_fallbacks": false,
        "header_filter_config": {"allowlist": [], "denylist": []},
        "required_headers": [],
        "logging_headers": [],
    })
}

/// Where the document keeps admin auth: `governance.auth_config` (Bifrost's newest place), else
/// the deprecated top-level `auth_config`.
fn stored_auth(doc: &asbru_store::Document) -> Option<&Value> {
    doc.sections
        .get("governance")
        .and_then(|g| g.get("auth_config"))
        .filter(|a| !a.is_null())
        .or_else(|| doc.sections.get("auth_config"))
}

impl Control {
    /// `GET /api/config`.
    pub fn config_view(&self) -> Value {
        let doc = self.document();
        let mut client = client_defaults();
        if let (Some(fields), Some(Value::Object(set))) =
            (client.as_object_mut(), doc.sections.get("client"))
        {
            for (k, v) in set {
                fields.insert(k.clone(), v.clone());
            }
        }
        let auth = stored_auth(&doc);
        let text = |field: &str| {
            auth.and_then(|a| a.get(field))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let flag = |field: &str| {
            auth.and_then(|a| a.get(field))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        json!({
            "client_config": client,
            "framework_config": doc.sections.get("framework").cloned().unwrap_or_else(|| json!({})),
            "auth_config": {
                "admin_username": text("admin_username"),
                "admin_password": if text("admin_password").is_empty() { "" } else { REDACTED },
                "is_enabled": flag("is_enabled"),
                "disable_auth_on_inference": flag("disable_auth_on_inference"),
            },
            "is_db_connected": self.has_store(),
            "is_cache_connected": false,
            "is_logs_connected": false,
        })
    }

    /// `PUT /api/config`: `{"client_config"?, "framework_config"?, "auth_config"?}`. A section
    /// given replaces the stored one; `"<redacted>"` as the password keeps the stored one; a new
    /// password is stored hashed (Argon2id); any change to auth ends every admin session.
    pub async fn update_config(&self, body: Value) -> Result<Value, AdminError> {
        let Value::Object(body) = body else {
            return Err(AdminError::bad_request("the body must be a JSON object"));
        };
        let new_auth = match body.get("auth_config") {
            Some(Value::Object(a)) => Some(self.auth_to_store(a.clone()).await?),
            Some(Value::Null) | None => None,
            Some(_) => {
                return Err(AdminError {
                    field: Some("auth_config".into()),
                    ..AdminError::bad_request("auth_config: must be an object")
                });
            }
        };
        self.change(|doc| {
            for (field, section) in [
                ("client_config", "client"),
                ("framework_config", "framework"),
            ] {
                match body.get(field) {
                    Some(Value::Object(o)) => {
                        doc.sections
                            .insert(section.into(), Value::Object(o.clone()));
                    }
                    Some(Value::Null) | None => {}
                    Some(_) => {
                        return Err(AdminError {
                            field: Some(field.into()),
                            ..AdminError::bad_request(format!("{field}: must be an object"))
                        });
                    }
                }
            }
            let Some(mut auth) = new_auth else {
                return Ok(());
            };
            let before = stored_auth(doc).cloned();
            if auth.get("admin_password").and_then(Value::as_str) == Some(REDACTED) {
                let kept = before
                    .as_ref()
                    .and_then(|b| b.get("admin_password"))
                    .cloned();
                auth.insert("admin_password".into(), kept.unwrap_or(Value::Null));
            }
            let auth = Value::Object(auth);
            let governance = doc
                .sections
                .entry("governance".into())
                .or_insert_with(|| json!({}));
            if let Some(g) = governance.as_object_mut() {
                g.insert("auth_config".into(), auth.clone());
            }
            doc.sections.remove("auth_config");
            Ok(())
        })
        .await?;
        // Changed credentials end every session: `change` sees to it.
        Ok(json!({"status": "success", "message": "configuration updated successfully"}))
    }

    /// A clear new password is hashed before it is stored (`env.VAR` references stay as they are).
    async fn auth_to_store(
        &self,
        mut auth: Map<String, Value>,
    ) -> Result<Map<String, Value>, AdminError> {
        if let Some(Value::String(pw)) = auth.get("admin_password")
            && !pw.is_empty()
            && pw != REDACTED
            && !pw.starts_with("env.")
            && !pw.starts_with("$argon2")
        {
            let clear = pw.clone();
            let hashed = tokio::task::spawn_blocking(move || crate::auth::hash_password(&clear))
                .await
                .map_err(|_| AdminError::new(500, "password hashing failed"))?
                .map_err(|_| AdminError::new(500, "password hashing failed"))?;
            auth.insert("admin_password".into(), Value::String(hashed));
        }
        Ok(auth)
    }
}
