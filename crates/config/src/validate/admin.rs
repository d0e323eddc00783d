//! Validation of `config_store`, `encryption_key` and admin auth (both locations).

use super::Validator;
use crate::admin::{AdminPassword, AuthConfig, PostgresSettings, StoreChoice};
use crate::env::{EnvValue, resolve};
use crate::raw::{Object, RawAuthConfig};
use secrecy::SecretString;
use serde_json::Value;

/// Bifrost's default pool sizes for a PostgreSQL store.
const DEFAULT_MAX_OPEN_CONNS: u32 = 10;
const DEFAULT_MAX_IDLE_CONNS: u32 = 5;

/// `sslmode` values PostgreSQL accepts.
const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

impl Validator<'_> {
    /// A string that protects something (a password, a key): literal or `env.VAR`; an unset
    /// variable is an error, since going on without it would run open.
    pub(super) fn protective_secret(&mut self, path: &str, raw: &str) -> Option<String> {
        match resolve(raw, self.env) {
            EnvValue::Literal(v) => Some(v.to_owned()),
            EnvValue::Resolved(v) => Some(v),
            EnvValue::Missing(var) => {
                self.error(path, format!("environment variable {var} is not set"));
                None
            }
            EnvValue::EmptyName => {
                self.error(path, "\"env.\" needs a variable name (env.MY_VAR)");
                None
            }
        }
    }

    /// `encryption_key`, else the `BIFROST_ENCRYPTION_KEY` variable as Bifrost reads it.
    pub(super) fn encryption_key(&mut self, raw: Option<&str>) -> Option<SecretString> {
        let value = match raw.filter(|k| !k.is_empty()) {
            Some(raw) => self.protective_secret("encryption_key", raw)?,
            None => (self.env)("BIFROST_ENCRYPTION_KEY").filter(|k| !k.is_empty())?,
        };
        Some(SecretString::from(value))
    }

    /// `config_store`.
    pub(super) fn config_store(&mut self, raw: Option<&Object>) -> StoreChoice {
        let Some(obj) = raw else {
            return StoreChoice::Default;
        };
        match obj.get("enabled") {
            Some(Value::Bool(false)) => return StoreChoice::Disabled,
            Some(Value::Bool(true)) | None => {}
            Some(_) => {
                self.error("config_store.enabled", "must be a boolean");
                return StoreChoice::Disabled;
            }
        }
        let empty = Object::new();
        let config = match obj.get("config") {
            Some(Value::Object(c)) => c,
            None | Some(Value::Null) => &empty,
            Some(_) => {
                self.error("config_store.config", "must be an object");
                &empty
            }
        };
        let text = |v: &mut Self, field: &str| -> Option<String> {
            let path = format!("config_store.config.{field}");
            match config.get(field) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => v.protective_secret(&path, s),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(_) => {
                    v.error(path, "must be a string");
                    None
                }
            }
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("sqlite") | None if obj.get("type").is_none_or(Value::is_string) => {
                StoreChoice::Sqlite {
                    path: text(self, "path").map(Into::into),
                }
            }
            Some("postgres") => {
                let required = |v: &mut Self, field: &str| {
                    let value = text(v, field);
                    if value.is_none() {
                        v.error(
                            format!("config_store.config.{field}"),
                            "required for a postgres store",
                        );
                    }
                    value.unwrap_or_default()
                };
                let host = required(self, "host");
                let user = required(self, "user");
                let db_name = required(self, "db_name");
                let port = match text(self, "port") {
                    None => 5432,
                    Some(p) => p.parse().unwrap_or_else(|_| {
                        self.error("config_store.config.port", "must be a port number");
                        5432
                    }),
                };
                let ssl_mode = text(self, "ssl_mode").unwrap_or_else(|| "disable".into());
                if !SSL_MODES.contains(&ssl_mode.as_str()) {
                    self.error(
                        "config_store.config.ssl_mode",
                        format!("must be one of {}", SSL_MODES.join(", ")),
                    );
                }
                let conns = |v: &mut Self, field: &str, default: u32| match text(v, field) {
                    None => default,
                    Some(n) => match n.parse::<u32>() {
                        Ok(n) if n >= 1 => n,
                        _ => {
                            v.error(
                                format!("config_store.config.{field}"),
                                "must be a whole number >= 1",
                            );
                            default
                        }
                    },
                };
                let max_open_conns = conns(self, "max_open_conns", DEFAULT_MAX_OPEN_CONNS);
                let max_idle_conns = conns(self, "max_idle_conns", DEFAULT_MAX_IDLE_CONNS);
                StoreChoice::Postgres(PostgresSettings {
                    host,
                    port,
                    user,
                    password: text(self, "password").map(SecretString::from),
                    db_name,
                    ssl_mode,
                    max_open_conns,
                    max_idle_conns,
                })
            }
            _ => {
                self.error("config_store.type", "must be \"sqlite\" or \"postgres\"");
                StoreChoice::Disabled
            }
        }
    }

    /// Admin auth: `governance.auth_config` (where Bifrost reads it now) wins over the
    /// deprecated top-level `auth_config`.
    pub(super) fn auth(
        &mut self,
        top_level: Option<&RawAuthConfig>,
        governance: Option<&Value>,
    ) -> Option<AuthConfig> {
        if let Some(value) = governance.filter(|v| !v.is_null()) {
            return match serde_json::from_value::<RawAuthConfig>(value.clone()) {
                Ok(raw) => self.auth_config("governance.auth_config", &raw),
                Err(e) => {
                    self.error("governance.auth_config", e.to_string());
                    None
                }
            };
        }
        self.auth_config("auth_config", top_level?)
    }

    fn auth_config(&mut self, path: &str, raw: &RawAuthConfig) -> Option<AuthConfig> {
        let is_enabled = raw.is_enabled.unwrap_or(false);
        let username = match raw.admin_username.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => self.protective_secret(&format!("{path}.admin_username"), u),
            None => None,
        };
        let password = match raw.admin_password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => self.protective_secret(&format!("{path}.admin_password"), p),
            None => None,
        };
        if is_enabled {
            if username.is_none() && raw.admin_username.as_deref().is_none_or(str::is_empty) {
                self.error(
                    format!("{path}.admin_username"),
                    "required when is_enabled is true",
                );
            }
            if password.is_none() && raw.admin_password.as_deref().is_none_or(str::is_empty) {
                self.error(
                    format!("{path}.admin_password"),
                    "required when is_enabled is true",
                );
            }
        }
        Some(AuthConfig {
            admin_username: username.unwrap_or_default(),
            admin_password: AdminPassword::from_configured(password.unwrap_or_default()),
            is_enabled,
            disable_auth_on_inference: raw.disable_auth_on_inference.unwrap_or(false),
        })
    }
}
