//! Secrets in admin API answers, as Bifrost shows them: each secret field becomes
//! `{"value": <masked>, "env_var": "env.NAME" | "", "from_env": bool}`, where the masked value
//! keeps the first and last four characters of a long secret (`sk-a************************wxyz`,
//! always 32 characters) and hides a short one entirely. A client may send such an answer back
//! unchanged: a masked value, or `"<redacted>"`, keeps what is stored.

use crate::Env;
use serde_json::{Map, Value, json};

/// The placeholder Bifrost uses for a password it will not show.
pub(crate) const REDACTED: &str = "<redacted>";

/// Where secrets sit in a key entry: (sub-object, or "" for the key itself; fields).
pub(crate) const KEY_SECRETS: &[(&str, &[&str])] = &[
    ("", &["value"]),
    (
        "azure_key_config",
        &["client_id", "client_secret", "tenant_id"],
    ),
    (
        "vertex_key_config",
        &["project_id", "project_number", "region", "auth_credentials"],
    ),
    (
        "bedrock_key_config",
        &[
            "access_key",
            "secret_key",
            "session_token",
            "region",
            "arn",
            "role_arn",
            "external_id",
            "session_name",
        ],
    ),
    ("vllm_key_config", &["url"]),
];

/// Where secrets sit in a provider entry.
pub(crate) const PROVIDER_SECRETS: &[(&str, &[&str])] = &[
    ("network_config", &["ca_cert_pem"]),
    (
        "proxy_config",
        &["url", "username", "password", "ca_cert_pem"],
    ),
];

/// Bifrost's mask: short secrets all stars, long ones first 4 + 24 stars + last 4.
pub(crate) fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(24))
}

/// The value a stored string stands for (`env.NAME` resolved; "" when unset).
fn resolved(stored: &str, env: &Env) -> String {
    match stored.strip_prefix("env.") {
        Some(var) => env(var).unwrap_or_default(),
        None => stored.to_owned(),
    }
}

/// The answer's form of one stored secret string.
fn shown(stored: &str, env: &Env) -> Value {
    let from_env = stored.starts_with("env.");
    json!({
        "value": mask(&resolved(stored, env)),
        "env_var": if from_env { stored } else { "" },
        "from_env": from_env,
    })
}

fn fields_mut<'a>(entry: &'a mut Value, object: &str) -> Option<&'a mut Map<String, Value>> {
    if object.is_empty() {
        entry.as_object_mut()
    } else {
        entry.get_mut(object)?.as_object_mut()
    }
}

fn field<'a>(entry: Option<&'a Value>, object: &str, name: &str) -> Option<&'a str> {
    let entry = entry?;
    let holder = if object.is_empty() {
        Some(entry)
    } else {
        entry.get(object)
    };
    holder?.get(name)?.as_str()
}

/// `entry` with every secret shown masked.
pub(crate) fn redact(entry: &Value, secrets: &[(&str, &[&str])], env: &Env) -> Value {
    let mut out = entry.clone();
    for (object, names) in secrets {
        let Some(fields) = fields_mut(&mut out, object) else {
            continue;
        };
        for name in *names {
            if let Some(Value::String(s)) = fields.get(*name) {
                let masked = shown(s, env);
                fields.insert((*name).to_owned(), masked);
            }
        }
    }
    out
}

/// Turns what a client sent for each secret back into what is stored: the `{value, env_var,
/// from_env}` form becomes its string (`env.NAME` when from the environment), and a masked
/// value or `"<redacted>"` becomes the stored value it stands for.
pub(crate) fn restore(
    incoming: &mut Value,
    stored: Option<&Value>,
    secrets: &[(&str, &[&str])],
    env: &Env,
) {
    for (object, names) in secrets {
        let Some(fields) = fields_mut(incoming, object) else {
            continue;
        };
        for name in *names {
            let Some(sent) = fields.get(*name) else {
                continue;
            };
            let sent = match sent {
                Value::Object(o) => {
                    let from_env = o.get("from_env").and_then(Value::as_bool) == Some(true);
                    let env_var = o.get("env_var").and_then(Value::as_str).unwrap_or("");
                    if from_env && !env_var.is_empty() {
                        env_var.to_owned()
                    } else {
                        o.get("value")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_owned()
                    }
                }
                Value::String(s) => s.clone(),
                _ => continue,
            };
            let current = field(stored, object, name);
            let value = match current {
                Some(current)
                    if sent == REDACTED
                        || (sent.contains('*') && sent == mask(&resolved(current, env))) =>
                {
                    current.to_owned()
                }
                _ => sent,
            };
            fields.insert((*name).to_owned(), Value::String(value));
        }
    }
}

/// Header names whose values are credentials more often than not; their values in a provider's
/// `network_config.extra_headers` are masked like the other secrets (the others, such as
/// `OpenAI-Organization`, stay readable).
fn sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "authorization",
        "key",
        "token",
        "secret",
        "cookie",
        "password",
        "signature",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

fn extra_headers_mut(entry: &mut Value) -> Option<&mut Map<String, Value>> {
    entry
        .get_mut("network_config")?
        .get_mut("extra_headers")?
        .as_object_mut()
}

/// Masks credential-like `extra_headers` values of a provider entry.
pub(crate) fn redact_headers(entry: &mut Value, env: &Env) {
    let Some(headers) = extra_headers_mut(entry) else {
        return;
    };
    for (name, value) in headers.iter_mut() {
        if let Value::String(v) = value
            && sensitive_header(name)
        {
            *v = mask(&resolved(v, env));
        }
    }
}

/// A masked `extra_headers` value sent back unchanged keeps the stored one.
pub(crate) fn restore_headers(incoming: &mut Value, stored: Option<&Value>, env: &Env) {
    let stored = stored
        .and_then(|s| s.get("network_config"))
        .and_then(|n| n.get("extra_headers"));
    let Some(headers) = extra_headers_mut(incoming) else {
        return;
    };
    for (name, value) in headers.iter_mut() {
        let current = stored
            .and_then(|s| s.get(name.as_str()))
            .and_then(Value::as_str);
        if let (Value::String(sent), Some(current)) = (&*value, current)
            && sensitive_header(name)
            && sent.contains('*')
            && *sent == mask(&resolved(current, env))
        {
            *value = Value::String(current.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn env() -> Env {
        Arc::new(|var| (var == "OPENAI_KEY").then(|| "sk-from-the-environment-1234".to_owned()))
    }

    #[test]
    fn credential_headers_are_masked_and_kept_when_sent_back() {
        let stored = json!({"network_config": {"extra_headers": {
            "Authorization": "Bearer upstream-secret-token-123", "OpenAI-Organization": "org-1"}}});
        let mut shown = stored.clone();
        redact_headers(&mut shown, &env());
        let headers = &shown["network_config"]["extra_headers"];
        assert!(!headers.to_string().contains("upstream-secret-token-123"));
        assert_eq!(headers["OpenAI-Organization"], "org-1");
        let mut back = shown.clone();
        restore_headers(&mut back, Some(&stored), &env());
        assert_eq!(back, stored);
    }

    #[test]
    fn masks_like_bifrost() {
        assert_eq!(mask(""), "");
        assert_eq!(mask("short"), "*****");
        let m = mask("sk-abcdefghijklmnopqrstuvwxyz");
        assert_eq!(m.len(), 32);
        assert!(m.starts_with("sk-a") && m.ends_with("wxyz"));
    }

    #[test]
    fn answers_never_hold_a_secret_and_round_trip_keeps_it() {
        let stored = json!({"name": "k", "value": "sk-live-secret-value-9876",
            "azure_key_config": {"endpoint": "https://x", "client_secret": "very-secret-client"}});
        let shown = redact(&stored, KEY_SECRETS, &env());
        let text = shown.to_string();
        assert!(!text.contains("sk-live-secret-value-9876"));
        assert!(!text.contains("very-secret-client"));
        assert_eq!(shown["azure_key_config"]["endpoint"], "https://x");
        assert_eq!(shown["value"]["from_env"], false);
        // Sent back unchanged, the stored values stay.
        let mut back = shown.clone();
        restore(&mut back, Some(&stored), KEY_SECRETS, &env());
        assert_eq!(back, stored);
        // A new value replaces it.
        let mut changed = shown;
        changed["value"] = json!("sk-new");
        restore(&mut changed, Some(&stored), KEY_SECRETS, &env());
        assert_eq!(changed["value"], "sk-new");
    }

    #[test]
    fn env_references_are_shown_and_kept_as_references() {
        let stored = json!({"value": "env.OPENAI_KEY"});
        let shown = redact(&stored, KEY_SECRETS, &env());
        assert_eq!(shown["value"]["env_var"], "env.OPENAI_KEY");
        assert_eq!(shown["value"]["from_env"], true);
        assert_eq!(
            shown["value"]["value"],
            mask("sk-from-the-environment-1234")
        );
        let mut back = shown;
        restore(&mut back, Some(&stored), KEY_SECRETS, &env());
        assert_eq!(back["value"], "env.OPENAI_KEY");
    }
}
