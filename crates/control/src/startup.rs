//! Starting up: `config.json` and the config store become the document the gateway serves.
//!
//! With a store, the file seeds it (Bifrost's hash rule, see `asbru_store`) and the store is what
//! is served. Without one, the file is. With neither, the providers found in the environment are
//! served, as before there was a store.

use crate::{AdminError, Env};
use asbru_config::{Config, FieldError, Notice};
use asbru_store::{
    Document, STORED_SECTIONS, SeedReport, SeedSource, Store, StoreError, StoreLocation,
};
use serde_json::{Map, Value};
use std::sync::Arc;

/// What the gateway starts with.
pub struct Startup {
    /// The configuration to serve.
    pub config: Config,
    pub notices: Vec<Notice>,
    /// What seeding the store from the file did (with a store and a file).
    pub seeded: Option<SeedReport>,
    pub(crate) store: Option<Arc<Store>>,
    pub(crate) document: Document,
    pub(crate) bootstrap: Map<String, Value>,
}

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The stored configuration (with the file's changes) does not validate.
    #[error("the configuration in the config store is invalid: {}", list(.0))]
    Invalid(Vec<FieldError>),
}

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Opens the store (when `location` is given), seeds it from `file`, and validates what is to
/// be served. `passphrase` is the `encryption_key`.
pub async fn startup(
    file: Option<&Map<String, Value>>,
    location: Option<&StoreLocation>,
    passphrase: Option<&str>,
    env: &Env,
) -> Result<Startup, StartupError> {
    let bootstrap = file.map(bootstrap_of).unwrap_or_default();
    let (store, document, seeded) = match location {
        Some(location) => {
            let store = Arc::new(Store::open(location, passphrase).await?);
            let seeded = match file {
                Some(file) => Some(seed(&store, file).await?),
                None => None,
            };
            let document = store.load().await?;
            (Some(store), document, seeded)
        }
        None => (None, file.map(file_document).unwrap_or_default(), None),
    };
    let (config, notices) = if file.is_none() && document == Document::default() {
        let loaded = asbru_config::from_env(&|var| env(var));
        (loaded.config, loaded.notices)
    } else {
        let mut json = bootstrap.clone();
        json.extend(document.to_json());
        let checked = asbru_config::check_str(&Value::Object(json).to_string(), &|var| env(var));
        match checked.config {
            Some(c) if checked.errors.is_empty() => (c, checked.notices),
            _ => return Err(StartupError::Invalid(checked.errors)),
        }
    };
    Ok(Startup {
        config,
        notices,
        seeded,
        store,
        document,
        bootstrap,
    })
}

/// Seeds the store from the file; the stored entries get key ids.
pub(crate) async fn seed(
    store: &Store,
    file: &Map<String, Value>,
) -> Result<SeedReport, StoreError> {
    let file = Document::from_config_json(file);
    let merge = |file: &Value, stored: Option<&Value>| {
        hash_admin_password(with_key_ids(file.clone(), stored))
    };
    let (report, _) = store
        .seed(SeedSource {
            file: &file,
            merge: &merge,
        })
        .await?;
    Ok(report)
}

/// An admin password written in clear in the file (`auth_config.admin_password`, at the top
/// level or under `governance`) is stored as its Argon2id hash; `env.VAR` references stay as
/// they are (the secret then lives in the environment, not the store). Runs when an entry is
/// seeded, so once per changed file, not per request.
pub(crate) fn hash_admin_password(mut entry: Value) -> Value {
    let auth = match entry.get_mut("auth_config") {
        Some(inner) => inner,
        None => &mut entry,
    };
    if let Some(Value::String(pw)) = auth.get_mut("admin_password")
        && !pw.is_empty()
        && !pw.starts_with("env.")
        && !pw.starts_with("$argon2")
    {
        match crate::auth::hash_password(pw) {
            Ok(hash) => *pw = hash,
            Err(e) => {
                tracing::error!(error = %e, "could not hash the admin password; it is stored sealed but not hashed")
            }
        }
    }
    entry
}

/// The file as a document, its keys given ids (for a gateway without a store).
pub(crate) fn file_document(file: &Map<String, Value>) -> Document {
    let mut doc = Document::from_config_json(file);
    for (_, entry) in &mut doc.providers {
        *entry = with_key_ids(std::mem::take(entry), None);
    }
    doc
}

/// The file's sections that are not stored.
fn bootstrap_of(file: &Map<String, Value>) -> Map<String, Value> {
    file.iter()
        .filter(|(k, _)| k.as_str() != "providers" && !STORED_SECTIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Gives every key of a provider entry an `id`: the stored key of the same name keeps its id,
/// others get a new one — so a key keeps its id when the file is edited, and the admin API can
/// name it.
pub(crate) fn with_key_ids(mut entry: Value, stored: Option<&Value>) -> Value {
    let stored_keys = stored
        .and_then(|s| s.get("keys"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(keys) = entry.get_mut("keys").and_then(Value::as_array_mut) {
        for key in keys.iter_mut().filter_map(Value::as_object_mut) {
            if key
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| !id.is_empty())
            {
                continue;
            }
            let id = key
                .get("name")
                .and_then(|name| {
                    stored_keys
                        .iter()
                        .find(|k| k.get("name") == Some(name))
                        .and_then(|k| k.get("id"))
                        .cloned()
                })
                .unwrap_or_else(|| Value::String(uuid::Uuid::new_v4().to_string()));
            key.insert("id".into(), id);
        }
    }
    entry
}

impl From<AdminError> for StartupError {
    fn from(e: AdminError) -> Self {
        Self::Invalid(vec![FieldError::new(
            e.field.unwrap_or_default(),
            e.message,
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::hash_admin_password;
    use serde_json::json;

    #[test]
    fn clear_admin_passwords_are_stored_hashed_and_references_kept() {
        let governance = hash_admin_password(
            json!({"auth_config": {"admin_password": "pw", "is_enabled": true}}),
        );
        let stored = governance["auth_config"]["admin_password"]
            .as_str()
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        let top = hash_admin_password(json!({"admin_password": "pw"}));
        assert!(
            top["admin_password"]
                .as_str()
                .unwrap()
                .starts_with("$argon2id$")
        );
        let reference = json!({"admin_password": "env.ADMIN_PASSWORD"});
        assert_eq!(hash_admin_password(reference.clone()), reference);
        let provider = json!({"keys": [{"value": "sk-1"}]});
        assert_eq!(hash_admin_password(provider.clone()), provider);
    }
}
