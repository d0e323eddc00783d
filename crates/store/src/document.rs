//! The stored configuration: reading it, changing it in one transaction, and seeding it from
//! `config.json`.
//!
//! Seeding follows Bifrost's hash-based rule, per provider and per section: each row remembers
//! the hash of the `config.json` entry it was last taken from. At start (and on a file reload),
//! an entry whose hash is unchanged leaves the row alone — what the admin API changed stands —
//! while an entry that changed in the file replaces the row: the file was edited on purpose, so
//! it wins. Entries missing from the store are added; rows missing from the file are kept (they
//! were added through the API).

use crate::pool::{UPSERT_META, counted, now_ms, with_pool};
use crate::{Store, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::BTreeMap;

/// Top-level sections of `config.json` kept in the store; the others (`config_store`,
/// `encryption_key`, `logs_store`, …) say how to start and are always read from the file.
pub const STORED_SECTIONS: &[&str] = &[
    "client",
    "framework",
    "governance",
    "mcp",
    "plugins",
    "auth_config",
];

/// The stored configuration, in `config.json`'s own shape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// Providers in order: name and its `providers.<name>` entry.
    pub providers: Vec<(String, Value)>,
    /// The [`STORED_SECTIONS`] present, by name.
    pub sections: BTreeMap<String, Value>,
}

impl Document {
    pub fn provider(&self, name: &str) -> Option<&Value> {
        self.providers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Replaces the provider's entry, or adds it at the end.
    pub fn set_provider(&mut self, name: &str, entry: Value) {
        match self.providers.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = entry,
            None => self.providers.push((name.to_owned(), entry)),
        }
    }

    pub fn remove_provider(&mut self, name: &str) -> Option<Value> {
        let at = self.providers.iter().position(|(n, _)| n == name)?;
        Some(self.providers.remove(at).1)
    }

    /// The document as `config.json` text's value (for the validator).
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        let mut out: serde_json::Map<String, Value> = self
            .sections
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let providers = self
            .providers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.insert("providers".into(), Value::Object(providers));
        out
    }

    /// Splits a `config.json` value into what the store keeps.
    pub fn from_config_json(file: &serde_json::Map<String, Value>) -> Self {
        let providers = match file.get("providers") {
            Some(Value::Object(p)) => p.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        };
        let sections = STORED_SECTIONS
            .iter()
            .filter_map(|s| file.get(*s).map(|v| ((*s).to_owned(), v.clone())))
            .collect();
        Self {
            providers,
            sections,
        }
    }
}

/// What seeding did with each entry of the file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Entries the store did not have (`providers.openai`, `client`, …): added.
    pub added: Vec<String>,
    /// Entries changed in the file since they were last taken: the file's version replaced the
    /// store's.
    pub replaced: Vec<String>,
    /// Entries unchanged in the file: the store's version (with the API's changes) kept.
    pub kept: Vec<String>,
}

impl SeedReport {
    pub fn changed_anything(&self) -> bool {
        !self.added.is_empty() || !self.replaced.is_empty()
    }
}

/// A `config.json` entry being seeded: `merge(file entry, stored entry)` gives what to store when
/// the file's entry is taken (it can carry over ids the store assigned).
pub struct SeedSource<'a> {
    pub file: &'a Document,
    pub merge: &'a (dyn Fn(&Value, Option<&Value>) -> Value + Sync),
}

/// One stored row, opened.
struct Row_ {
    name: String,
    value: Value,
    file_hash: Option<String>,
}

/// The hash a row remembers of the file entry it came from.
fn entry_hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

const SELECT_PROVIDERS: &str =
    "SELECT name, sealed, file_hash FROM asbru_providers ORDER BY position, name";
const SELECT_SECTIONS: &str = "SELECT name, sealed, file_hash FROM asbru_sections ORDER BY name";
const UPSERT_PROVIDER: &str = "INSERT INTO asbru_providers (name, position, sealed, file_hash, updated_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET position = excluded.position, \
     sealed = excluded.sealed, file_hash = COALESCE(excluded.file_hash, asbru_providers.file_hash), \
     updated_at = excluded.updated_at";
const UPSERT_SECTION: &str = "INSERT INTO asbru_sections (name, sealed, file_hash, updated_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, \
     file_hash = COALESCE(excluded.file_hash, asbru_sections.file_hash), updated_at = excluded.updated_at";
const DELETE_PROVIDER: &str = "DELETE FROM asbru_providers WHERE name = $1";
const DELETE_SECTION: &str = "DELETE FROM asbru_sections WHERE name = $1";
const SELECT_REVISION: &str = "SELECT value FROM asbru_meta WHERE name = 'revision'";
/// Serialises writers across nodes sharing one PostgreSQL (SQLite uses `BEGIN IMMEDIATE`).
const PG_WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(7318045)";
pub(crate) const PG_NOTIFY: &str = "SELECT pg_notify('asbru_config', $1)";

/// Reads both tables' rows (sealed) with `$conn`, a `&mut` connection or transaction.
macro_rules! fetch_rows {
    ($conn:expr) => {{
        counted(2);
        let providers = sqlx::query(SELECT_PROVIDERS).fetch_all(&mut *$conn).await?;
        let sections = sqlx::query(SELECT_SECTIONS).fetch_all(&mut *$conn).await?;
        let mut decoded = [Vec::new(), Vec::new()];
        for (out, rows) in decoded.iter_mut().zip([providers, sections]) {
            for r in &rows {
                out.push((
                    r.try_get("name")?,
                    r.try_get("sealed")?,
                    r.try_get("file_hash")?,
                ));
            }
        }
        let [providers, sections] = decoded;
        (providers, sections)
    }};
}

/// Begins a write transaction that excludes other writers (on every node).
macro_rules! begin_write {
    ($self:expr, $p:expr) => {{
        let mut tx = if $self.pool.is_postgres() {
            $p.begin().await?
        } else {
            $p.begin_with("BEGIN IMMEDIATE").await?
        };
        if $self.pool.is_postgres() {
            counted(1);
            sqlx::query(PG_WRITE_LOCK).execute(&mut *tx).await?;
        }
        tx
    }};
}

/// Writes the rows that differ between `old` and `new` and bumps the revision, inside `$tx`.
/// `$hashes` gives the file hash to record per entry (`None` keeps the row's).
macro_rules! write_changes {
    ($self:expr, $tx:expr, $old:expr, $new:expr, $hashes:expr) => {{
        let (old, new): (&Document, &Document) = ($old, $new);
        let hashes: &BTreeMap<String, String> = $hashes;
        let now = now_ms();
        for (i, (name, value)) in new.providers.iter().enumerate() {
            let same = old
                .providers
                .get(i)
                .is_some_and(|(n, v)| n == name && v == value);
            let hash = hashes.get(&format!("providers.{name}"));
            if same && hash.is_none() {
                continue;
            }
            counted(1);
            sqlx::query(UPSERT_PROVIDER)
                .bind(name)
                .bind(i64::try_from(i).unwrap_or(i64::MAX))
                .bind($self.sealer.seal(value.to_string().as_bytes())?)
                .bind(hash)
                .bind(now)
                .execute(&mut *$tx)
                .await?;
        }
        for (name, _) in &old.providers {
            if new.provider(name).is_none() {
                counted(1);
                sqlx::query(DELETE_PROVIDER)
                    .bind(name)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
        for (name, value) in &new.sections {
            let hash = hashes.get(name);
            if old.sections.get(name) == Some(value) && hash.is_none() {
                continue;
            }
            counted(1);
            sqlx::query(UPSERT_SECTION)
                .bind(name)
                .bind($self.sealer.seal(value.to_string().as_bytes())?)
                .bind(hash)
                .bind(now)
                .execute(&mut *$tx)
                .await?;
        }
        for name in old.sections.keys() {
            if !new.sections.contains_key(name) {
                counted(1);
                sqlx::query(DELETE_SECTION)
                    .bind(name)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
        counted(2);
        let revision: Option<String> = sqlx::query_scalar(SELECT_REVISION)
            .fetch_optional(&mut *$tx)
            .await?;
        let revision = revision.and_then(|r| r.parse::<i64>().ok()).unwrap_or(0) + 1;
        sqlx::query(UPSERT_META)
            .bind("revision")
            .bind(revision.to_string())
            .execute(&mut *$tx)
            .await?;
        if $self.pool.is_postgres() {
            counted(1);
            sqlx::query(PG_NOTIFY)
                .bind(format!("config:{revision}"))
                .execute(&mut *$tx)
                .await?;
        }
        revision
    }};
}

impl Store {
    /// The stored configuration.
    pub async fn load(&self) -> Result<Document, StoreError> {
        let (providers, sections) = with_pool!(&self.pool, p => {
            let mut conn = p.acquire().await?;
            fetch_rows!(conn)
        });
        Ok(self.open_rows(providers, sections)?.0)
    }

    /// The configuration's revision: bumped by every change, on every node.
    pub async fn revision(&self) -> Result<i64, StoreError> {
        counted(1);
        let revision: Option<String> = with_pool!(&self.pool, p => {
            sqlx::query_scalar(SELECT_REVISION).fetch_optional(p).await?
        });
        Ok(revision.and_then(|r| r.parse().ok()).unwrap_or(0))
    }

    /// Changes the configuration in one transaction that excludes every other writer (on every
    /// node): `change` gets the stored document as it is now, edits it, and validates the result;
    /// when it returns `Err`, nothing is written. On success the changed rows are written, the
    /// revision bumped, other nodes notified, and the new document returned.
    pub async fn update<T, E>(
        &self,
        change: impl FnOnce(&mut Document) -> Result<T, E>,
    ) -> Result<Result<(T, Document), E>, StoreError> {
        with_pool!(&self.pool, p => {
            let mut tx = begin_write!(self, p);
            let (providers, sections) = fetch_rows!(tx);
            let (old, _) = self.open_rows(providers, sections)?;
            let mut new = old.clone();
            let out = match change(&mut new) {
                Ok(out) => out,
                Err(e) => return Ok(Err(e)),
            };
            if new != old {
                write_changes!(self, tx, &old, &new, &BTreeMap::new());
                tx.commit().await?;
            }
            Ok(Ok((out, new)))
        })
    }

    /// Seeds the store from `config.json` (see the module docs for what wins), in one
    /// transaction; returns what it did and the resulting document.
    pub async fn seed(&self, source: SeedSource<'_>) -> Result<(SeedReport, Document), StoreError> {
        with_pool!(&self.pool, p => {
            let mut tx = begin_write!(self, p);
            let (providers, sections) = fetch_rows!(tx);
            let (old, file_hashes) = self.open_rows(providers, sections)?;
            let mut new = old.clone();
            let mut report = SeedReport::default();
            let mut take = BTreeMap::new();
            let mut consider = |key: String, file: &Value, stored: Option<&Value>| -> Option<Value> {
                let hash = entry_hash(file);
                let taken = match stored {
                    None => { report.added.push(key.clone()); true }
                    Some(_) if file_hashes.get(&key) == Some(&Some(hash.clone())) => { report.kept.push(key.clone()); false }
                    Some(_) => { report.replaced.push(key.clone()); true }
                };
                taken.then(|| {
                    take.insert(key, hash);
                    (source.merge)(file, stored)
                })
            };
            for (name, file) in &source.file.providers {
                if let Some(v) = consider(format!("providers.{name}"), file, old.provider(name)) {
                    new.set_provider(name, v);
                }
            }
            for (name, file) in &source.file.sections {
                if let Some(v) = consider(name.clone(), file, old.sections.get(name)) {
                    new.sections.insert(name.clone(), v);
                }
            }
            if !take.is_empty() {
                write_changes!(self, tx, &old, &new, &take);
                tx.commit().await?;
            }
            Ok((report, new))
        })
    }

    /// Opens sealed rows into a document, with each entry's recorded file hash.
    fn open_rows(
        &self,
        providers: Vec<(String, String, Option<String>)>,
        sections: Vec<(String, String, Option<String>)>,
    ) -> Result<(Document, BTreeMap<String, Option<String>>), StoreError> {
        let open = |(name, sealed, file_hash): (String, String, Option<String>)| -> Result<Row_, StoreError> {
            let plain = self.sealer.open(&sealed)?;
            let value = serde_json::from_slice(&plain)
                .map_err(|_| StoreError::Damaged(format!("{name}: not JSON")))?;
            Ok(Row_ {
                name,
                value,
                file_hash,
            })
        };
        let mut doc = Document::default();
        let mut hashes = BTreeMap::new();
        for row in providers {
            let row = open(row)?;
            hashes.insert(format!("providers.{}", row.name), row.file_hash);
            doc.providers.push((row.name, row.value));
        }
        for row in sections {
            let row = open(row)?;
            hashes.insert(row.name.clone(), row.file_hash);
            doc.sections.insert(row.name, row.value);
        }
        Ok((doc, hashes))
    }
}
