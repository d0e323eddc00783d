//! asbru's control plane: how the configuration changes while the gateway runs.
//!
//! Owns: starting from `config.json` and the config store (seeding it, Bifrost's hash rule), the
//! admin operations on providers, keys and settings, admin authentication, and following the
//! changes other nodes make. Must not: know HTTP routes (the transport maps requests to these
//! operations) or run on the request path.
//!
//! **One way in for changes.** The admin API, a changed `config.json` and a peer's notification
//! all end the same way: a candidate document goes through the one validator (`config.json`'s),
//! the gateway builds it ([`Gateway::prepare`]), and only then is it written (in one store
//! transaction) and served ([`Gateway::install`]). A change refused at any step leaves both the
//! store and the running gateway as they were.

pub mod auth;
mod error;
mod governance;
mod providers;
mod redact;
mod settings;
mod startup;
mod usage;

pub use auth::Auth;
pub use error::AdminError;
pub use governance::ListQuery;
pub use startup::{Startup, StartupError, startup};

use asbru_config::Config;
use asbru_engine::{Gateway, Prepared};
use asbru_store::{Change, Document, Store};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Looks up environment variables (`env.VAR` references).
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The control plane of one running gateway.
pub struct Control {
    gateway: Arc<Gateway>,
    store: Option<Arc<Store>>,
    env: Env,
    /// `config.json`'s sections that are not stored (`config_store`, `encryption_key`, …): they
    /// say how to start and come from the file only.
    bootstrap: Map<String, Value>,
    /// The document being served.
    document: Mutex<Document>,
    /// One change at a time in this process, from validation to install, so the order changes
    /// are served in is the order they were written in.
    changing: tokio::sync::Mutex<()>,
    auth: Auth,
}

/// How long `/health` waits for the store to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

impl Control {
    pub fn new(gateway: Arc<Gateway>, startup: Startup, env: Env) -> Self {
        let auth = Auth::new(startup.config.auth.as_ref(), startup.store.clone());
        Self {
            gateway,
            store: startup.store,
            env,
            bootstrap: startup.bootstrap,
            document: Mutex::new(startup.document),
            changing: tokio::sync::Mutex::new(()),
            auth,
        }
    }

    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Whether changes are kept in a config store (without one, the admin API is read-only).
    pub fn has_store(&self) -> bool {
        self.store.is_some()
    }

    /// `Ok` when the store answers (or there is none), for `/health`.
    pub async fn ping_store(&self) -> Result<(), String> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("config store not available: {e}")),
            Err(_) => Err("config store not available: no answer within 2 s".into()),
        }
    }

    /// The document being served.
    pub(crate) fn document(&self) -> Document {
        self.document
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Validates a candidate document exactly as `config.json` is validated.
    fn validate(&self, doc: &Document) -> Result<Config, AdminError> {
        validate_document(&self.bootstrap, doc, &self.env)
    }

    /// Builds a candidate document into a gateway state, without serving it.
    fn prepare(&self, doc: &Document) -> Result<(Prepared, Config), AdminError> {
        let config = self.validate(doc)?;
        let prepared = self
            .gateway
            .prepare(config.clone())
            .map_err(|e| AdminError::bad_request(e.message()))?;
        Ok((prepared, config))
    }

    /// Changes the configuration: `edit` works on the stored document as it is now (on every
    /// node), the result is validated and built, then written and served. Returns what `edit`
    /// returned.
    pub(crate) async fn change<T>(
        &self,
        edit: impl FnOnce(&mut Document) -> Result<T, AdminError>,
    ) -> Result<T, AdminError> {
        let Some(store) = &self.store else {
            return Err(AdminError::new(
                405,
                "this gateway has no config store, so changes made here could not be kept: start it with \
                 --app-dir DIR (or set config_store in config.json) to change it through the API",
            ));
        };
        let _one_at_a_time = self.changing.lock().await;
        let outcome = store
            .update(|doc| {
                let out = edit(doc)?;
                let (prepared, config) = self.prepare(doc)?;
                Ok((out, prepared, config))
            })
            .await
            .map_err(|e| AdminError::store_unavailable(&e))?;
        let ((out, prepared, config), doc) = outcome?;
        self.serve(prepared, &config, doc);
        // A change of the admin credentials made here ends the stored sessions (every node).
        self.auth.end_sessions_if_credentials_changed().await;
        Ok(out)
    }

    /// Serves a prepared configuration and remembers its document.
    fn serve(&self, prepared: Prepared, config: &Config, doc: Document) {
        self.gateway.install(prepared);
        self.auth.configure(config.auth.as_ref());
        *self
            .document
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = doc;
    }

    /// Reads the store again and serves what it holds (a peer changed it, or the connection to
    /// it came back). A document that does not validate here is logged and not served.
    pub async fn resync(&self) -> Result<(), AdminError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let _one_at_a_time = self.changing.lock().await;
        self.serve_stored(store, ChangedBy::Peer).await
    }

    /// Serves the store's document if it differs from the one served. The caller holds
    /// `changing`.
    async fn serve_stored(&self, store: &Store, by: ChangedBy) -> Result<(), AdminError> {
        let doc = store
            .load()
            .await
            .map_err(|e| AdminError::store_unavailable(&e))?;
        if doc == self.document() {
            return Ok(());
        }
        let (prepared, config) = self.prepare(&doc)?;
        self.serve(prepared, &config, doc);
        match by {
            // A change of the admin credentials made here ends the stored sessions (every node).
            ChangedBy::ThisNode => self.auth.end_sessions_if_credentials_changed().await,
            // The node that changed the credentials ended the stored sessions.
            ChangedBy::Peer => self.auth.credentials_change_handled_elsewhere(),
        }
        tracing::info!(providers = %self.gateway.provider_names().join(","), "configuration changed in the config store; now serving it");
        Ok(())
    }

    /// Takes a changed `config.json`: with a store, it is seeded (entries changed in the file
    /// win, the others keep the API's changes) and the store then served; without one, the file
    /// is served as it is.
    pub async fn file_changed(&self, file: &Map<String, Value>) -> Result<(), AdminError> {
        match &self.store {
            Some(store) => {
                // Seeding and serving under one lock, so that following our own notification
                // cannot serve the seeded document first, as if a peer had changed it.
                let _one_at_a_time = self.changing.lock().await;
                let report = startup::seed(store, file)
                    .await
                    .map_err(|e| AdminError::store_unavailable(&e))?;
                if report.changed_anything() {
                    tracing::info!(added = ?report.added, replaced = ?report.replaced, "config.json changed: its changed entries replaced the stored ones");
                }
                self.serve_stored(store, ChangedBy::ThisNode).await
            }
            None => {
                let doc = startup::file_document(file);
                let _one_at_a_time = self.changing.lock().await;
                let (prepared, config) = self.prepare(&doc)?;
                self.serve(prepared, &config, doc);
                Ok(())
            }
        }
    }

    /// Follows the changes other nodes make (PostgreSQL), until shutdown. Returns at once for
    /// SQLite, which serves one node, after the first step: reading the admin sessions kept in
    /// the store, so that logins survive a restart (call it at startup with either store).
    pub async fn follow_peers(self: Arc<Self>) {
        let Some(store) = &self.store else { return };
        self.auth.reload_sessions().await;
        let mut changes = loop {
            match store.changes().await {
                Ok(Some(c)) => break c,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for config store changes yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        loop {
            match changes.next().await {
                Change::Sessions => self.auth.reload_sessions().await,
                Change::Config(_) | Change::Resync => {
                    if let Err(e) = self.resync().await {
                        tracing::error!(error = %e, "could not serve the config store's configuration; keeping the running one");
                    }
                    self.auth.reload_sessions().await;
                }
            }
        }
    }
}

/// Who made the change being served: it decides who ends the stored sessions when the admin
/// credentials changed (the node that made the change, once).
#[derive(Clone, Copy)]
enum ChangedBy {
    ThisNode,
    Peer,
}

/// `bootstrap` ∪ `doc`, validated as one `config.json`.
pub(crate) fn validate_document(
    bootstrap: &Map<String, Value>,
    doc: &Document,
    env: &Env,
) -> Result<Config, AdminError> {
    let mut json = bootstrap.clone();
    json.extend(doc.to_json());
    let text = Value::Object(json).to_string();
    let checked = asbru_config::check_str(&text, &|var| env(var));
    match checked.config {
        Some(config) if checked.errors.is_empty() => Ok(config),
        _ => Err(AdminError::invalid(&checked.errors)),
    }
}
