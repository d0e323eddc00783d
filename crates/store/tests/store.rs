//! The config store against real SQLite and the machine's PostgreSQL (127.0.0.1:5432, trust auth;
//! `ASBRU_TEST_PG_HOST` / `_PORT` / `_USER` override). Every behaviour is checked on both.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use asbru_store::{Change, Document, PostgresOptions, SeedSource, Session, Store, StoreLocation};
use serde_json::{Value, json};
use std::time::Duration;

fn pg_setting(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

fn psql(sql: &str) {
    let status = std::process::Command::new("psql")
        .args([
            "-h",
            &pg_setting("ASBRU_TEST_PG_HOST", "127.0.0.1"),
            "-p",
            &pg_setting("ASBRU_TEST_PG_PORT", "5432"),
            "-U",
            &pg_setting("ASBRU_TEST_PG_USER", "postgres"),
            "-d",
            "postgres",
            "-qc",
            sql,
        ])
        .status()
        .expect("psql runs (scripts/ensure-postgres.sh installs PostgreSQL)");
    assert!(status.success(), "{sql}");
}

/// A fresh store location of each kind; the guard removes it afterwards.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Self::Postgres(db) = self {
            psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

impl Place {
    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let db = format!("asbru_store_test_{}_{nanos}", std::process::id());
        psql(&format!("CREATE DATABASE {db}"));
        Self::Postgres(db)
    }

    fn location(&self) -> StoreLocation {
        match self {
            Self::Sqlite(dir) => StoreLocation::Sqlite {
                path: dir.path().join("config.db"),
            },
            Self::Postgres(db) => StoreLocation::Postgres(PostgresOptions {
                host: pg_setting("ASBRU_TEST_PG_HOST", "127.0.0.1"),
                port: pg_setting("ASBRU_TEST_PG_PORT", "5432").parse().unwrap(),
                user: pg_setting("ASBRU_TEST_PG_USER", "postgres"),
                password: None,
                db_name: db.clone(),
                ssl_mode: "disable".into(),
                max_open_conns: 4,
                max_idle_conns: 1,
            }),
        }
    }
}

fn both() -> [Place; 2] {
    [Place::sqlite(), Place::postgres()]
}

const KEY: &str = "a passphrase for the tests";

fn file(openai_key: &str, groq_key: &str) -> Document {
    let mut doc = Document::default();
    doc.set_provider(
        "openai",
        json!({"keys": [{"name": "k", "value": openai_key}]}),
    );
    doc.set_provider("groq", json!({"keys": [{"name": "k", "value": groq_key}]}));
    doc.sections
        .insert("client".into(), json!({"drop_excess_requests": true}));
    doc
}

fn as_is(file: &Value, _: Option<&Value>) -> Value {
    file.clone()
}

#[tokio::test]
async fn a_refused_change_writes_nothing_and_an_accepted_one_is_kept() {
    for place in both() {
        let store = Store::open(&place.location(), Some(KEY)).await.unwrap();
        let before = store.revision().await.unwrap();
        let refused: Result<((), Document), &str> = store
            .update(|doc| {
                doc.set_provider("openai", json!({"keys": []}));
                Err("invalid")
            })
            .await
            .unwrap();
        assert_eq!(refused.unwrap_err(), "invalid");
        assert_eq!(store.load().await.unwrap(), Document::default());
        assert_eq!(store.revision().await.unwrap(), before);

        let accepted: Result<((), Document), &str> = store
            .update(|doc| {
                doc.set_provider("openai", json!({"keys": [{"value": "sk-1"}]}));
                Ok(())
            })
            .await
            .unwrap();
        let (_, doc) = accepted.unwrap();
        assert_eq!(store.load().await.unwrap(), doc);
        assert_eq!(store.revision().await.unwrap(), before + 1);
        store.close().await;
        // Reopened, it is still there.
        let store = Store::open(&place.location(), Some(KEY)).await.unwrap();
        assert_eq!(store.load().await.unwrap(), doc);
    }
}

#[tokio::test]
async fn seeding_adds_keeps_unchanged_entries_and_takes_changed_ones() {
    for place in both() {
        let store = Store::open(&place.location(), Some(KEY)).await.unwrap();
        let first = file("sk-openai-1", "gsk-1");
        let (report, _) = store
            .seed(SeedSource {
                file: &first,
                merge: &as_is,
            })
            .await
            .unwrap();
        assert_eq!(
            report.added,
            ["providers.openai", "providers.groq", "client"]
        );

        // The API changes both providers.
        let _: Result<((), Document), ()> = store
            .update(|doc| {
                doc.set_provider(
                    "openai",
                    json!({"keys": [{"name": "k", "value": "api-openai"}]}),
                );
                doc.set_provider(
                    "groq",
                    json!({"keys": [{"name": "k", "value": "api-groq"}]}),
                );
                Ok(())
            })
            .await
            .unwrap();
        // The same file again: the API's changes stand.
        let (report, doc) = store
            .seed(SeedSource {
                file: &first,
                merge: &as_is,
            })
            .await
            .unwrap();
        assert!(!report.changed_anything(), "{report:?}");
        assert_eq!(
            doc.provider("openai").unwrap()["keys"][0]["value"],
            "api-openai"
        );
        // The file's openai entry edited: it wins; groq keeps the API's version.
        let edited = file("sk-openai-2", "gsk-1");
        let (report, doc) = store
            .seed(SeedSource {
                file: &edited,
                merge: &as_is,
            })
            .await
            .unwrap();
        assert_eq!(report.replaced, ["providers.openai"]);
        assert_eq!(
            doc.provider("openai").unwrap()["keys"][0]["value"],
            "sk-openai-2"
        );
        assert_eq!(
            doc.provider("groq").unwrap()["keys"][0]["value"],
            "api-groq"
        );
        assert_eq!(store.load().await.unwrap(), doc);
    }
}

#[tokio::test]
async fn the_passphrase_must_match_and_secrets_are_sealed() {
    for place in both() {
        let store = Store::open(&place.location(), Some(KEY)).await.unwrap();
        let _: Result<((), Document), ()> = store
            .update(|doc| {
                doc.set_provider(
                    "openai",
                    json!({"keys": [{"value": "sk-sealed-secret-value"}]}),
                );
                Ok(())
            })
            .await
            .unwrap();
        store.close().await;
        let wrong = Store::open(&place.location(), Some("another passphrase")).await;
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("does not open this store")
        );
        let none = Store::open(&place.location(), None).await;
        assert!(none.unwrap_err().to_string().contains("encryption_key"));
        if let Place::Sqlite(dir) = &place {
            for entry in std::fs::read_dir(dir.path()).unwrap() {
                let bytes = std::fs::read(entry.unwrap().path()).unwrap();
                assert!(!bytes.windows(22).any(|w| w == b"sk-sealed-secret-value"));
            }
        }
    }
}

#[tokio::test]
async fn sessions_are_shared_and_expire() {
    for place in both() {
        let store = Store::open(&place.location(), Some(KEY)).await.unwrap();
        let live = Session {
            token_hash: "a".repeat(64),
            expires_at_ms: 2_000,
        };
        let ended = Session {
            token_hash: "b".repeat(64),
            expires_at_ms: 1_000,
        };
        store.create_session(&live, 0, 10).await.unwrap();
        store.create_session(&ended, 0, 10).await.unwrap();
        assert_eq!(
            store.live_sessions(1_500).await.unwrap(),
            std::slice::from_ref(&live)
        );
        store.delete_session(&live.token_hash).await.unwrap();
        assert!(store.live_sessions(1_500).await.unwrap().is_empty());
        store.create_session(&live, 0, 10).await.unwrap();
        store.delete_all_sessions().await.unwrap();
        assert!(store.live_sessions(0).await.unwrap().is_empty());
        // Past the cap, the sessions that would end soonest go.
        for (i, expires) in [30, 10, 20].into_iter().enumerate() {
            let s = Session {
                token_hash: format!("{i}").repeat(64),
                expires_at_ms: expires,
            };
            store.create_session(&s, 0, 2).await.unwrap();
        }
        let mut left: Vec<i64> = store
            .live_sessions(0)
            .await
            .unwrap()
            .iter()
            .map(|s| s.expires_at_ms)
            .collect();
        left.sort_unstable();
        assert_eq!(left, [20, 30]);
    }
}

#[tokio::test]
async fn postgres_nodes_are_told_of_each_others_changes() {
    let place = Place::postgres();
    let a = Store::open(&place.location(), Some(KEY)).await.unwrap();
    let b = Store::open(&place.location(), Some(KEY)).await.unwrap();
    let mut changes = b.changes().await.unwrap().unwrap();
    let _: Result<((), Document), ()> = a
        .update(|doc| {
            doc.set_provider("openai", json!({"keys": []}));
            Ok(())
        })
        .await
        .unwrap();
    let revision = a.revision().await.unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap();
    assert_eq!(change, Change::Config(revision));
    a.create_session(
        &Session {
            token_hash: "c".repeat(64),
            expires_at_ms: i64::MAX,
        },
        0,
        10,
    )
    .await
    .unwrap();
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap();
    assert_eq!(change, Change::Sessions);
    // SQLite serves one node: no notifications.
    let sqlite = Place::sqlite();
    let store = Store::open(&sqlite.location(), None).await.unwrap();
    assert!(store.changes().await.unwrap().is_none());
}
