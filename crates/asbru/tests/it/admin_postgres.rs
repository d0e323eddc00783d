//! The config store on the machine's PostgreSQL (127.0.0.1:5432, trust auth; `ASBRU_TEST_PG_HOST`
//! / `ASBRU_TEST_PG_PORT` / `ASBRU_TEST_PG_USER` override): several nodes on one database, and a
//! database that goes away under load. Each test gets its own database.

use crate::admin_api::{Admin, keys_seen, openai_entry};
use crate::cli::{Served, serve};
use asbru_mock::{MockOptions, MockServer};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

pub(crate) const PASSPHRASE: (&str, &str) =
    ("BIFROST_ENCRYPTION_KEY", "the test store's passphrase");

fn pg_setting(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A fresh database, dropped when the test ends.
pub(crate) struct Database {
    name: String,
}

impl Database {
    pub(crate) async fn create() -> Self {
        let name = format!("asbru_test_{}", uuid_like());
        psql(&format!("CREATE DATABASE {name}")).await;
        Self { name }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args(psql_args(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .output();
    }
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}

fn psql_args(sql: &str) -> Vec<String> {
    vec![
        "-h".into(),
        pg_setting("ASBRU_TEST_PG_HOST", "127.0.0.1"),
        "-p".into(),
        pg_setting("ASBRU_TEST_PG_PORT", "5432"),
        "-U".into(),
        pg_setting("ASBRU_TEST_PG_USER", "postgres"),
        "-d".into(),
        "postgres".into(),
        "-v".into(),
        "ON_ERROR_STOP=1".into(),
        "-c".into(),
        sql.into(),
    ]
}

async fn psql(sql: &str) {
    let output = tokio::process::Command::new("psql")
        .args(psql_args(sql))
        .output()
        .await
        .expect("psql runs (the tests need PostgreSQL; .ci/run installs it)");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A config.json pointing the store at `db` through `port`.
pub(crate) fn store_config(db: &Database, port: u16, providers: Value) -> Value {
    json!({
        "config_store": {"enabled": true, "type": "postgres", "config": {
            "host": "127.0.0.1", "port": port.to_string(),
            "user": pg_setting("ASBRU_TEST_PG_USER", "postgres"),
            "db_name": db.name, "ssl_mode": "disable"
        }},
        "providers": providers,
    })
}

pub(crate) fn pg_port() -> u16 {
    pg_setting("ASBRU_TEST_PG_PORT", "5432").parse().unwrap()
}

async fn serve_with(dir: &Path, config: &Value) -> Served {
    let path = dir.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    serve(&["--config", path.to_str().unwrap()], &[PASSPHRASE]).await
}

#[tokio::test]
async fn two_nodes_on_one_postgres_see_each_others_changes() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let db = Database::create().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = store_config(&db, pg_port(), json!({}));
    let a = serve_with(dir_a.path(), &config).await;
    let b = serve_with(dir_b.path(), &config).await;
    let (admin_a, admin_b) = (Admin::of(&a), Admin::of(&b));
    assert_eq!(admin_b.chat("openai/gpt-4o").await, 400);

    let mut body = openai_entry(&mock, "sk-added-on-node-a-00001");
    body["provider"] = json!("openai");
    let (status, answer) = admin_a.call("POST", "/api/providers", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    let started = Instant::now();
    while admin_b.chat("openai/gpt-4o").await != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "node b never saw the change"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "node b served node a's provider after {:?}",
        started.elapsed()
    );

    // And back: a key rotated on b is what a uses.
    let (_, keys) = admin_b
        .call("GET", "/api/providers/openai/keys", None)
        .await;
    let id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
    let body = json!({"name": "main", "value": "sk-rotated-on-node-b-002", "weight": 1});
    let (status, _) = admin_b
        .call(
            "PUT",
            &format!("/api/providers/openai/keys/{id}"),
            Some(body),
        )
        .await;
    assert_eq!(status, 200);
    let started = Instant::now();
    loop {
        mock.clear_requests();
        assert_eq!(admin_a.chat("openai/gpt-4o").await, 200);
        if keys_seen(&mock) == ["sk-rotated-on-node-b-002"] {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "node a never saw the rotation"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.stop().await;
    b.stop().await;

    // A restart keeps it all.
    let c = serve_with(dir_a.path(), &config).await;
    mock.clear_requests();
    assert_eq!(Admin::of(&c).chat("openai/gpt-4o").await, 200);
    assert_eq!(keys_seen(&mock), ["sk-rotated-on-node-b-002"]);
    c.stop().await;
}

#[tokio::test]
async fn a_postgres_store_needs_an_encryption_key() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, store_config(&db, pg_port(), json!({})).to_string()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_asbru"))
        .args(["serve", "--host", "127.0.0.1", "--port", "0", "--config"])
        .arg(&path)
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("encryption_key"), "{stderr}");
}

/// A TCP relay that can cut the line to the database (what a network partition or a stopped
/// server looks like to the gateway) without touching the machine's PostgreSQL, which other
/// tests share.
pub(crate) struct Cuttable {
    pub(crate) port: u16,
    open: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl Cuttable {
    pub(crate) async fn to(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(AtomicU64::new(0));
        let (open2, generation2) = (Arc::clone(&open), Arc::clone(&generation));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !open2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let born = generation2.load(Ordering::SeqCst);
                let generation = Arc::clone(&generation2);
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let relay = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    let cut = async {
                        while generation.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    tokio::select! {
                        _ = relay => {}
                        () = cut => {}
                    }
                });
            }
        });
        Self {
            port,
            open,
            generation,
        }
    }

    /// Drops every connection and refuses new ones.
    pub(crate) fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_database_going_away_under_load_loses_no_request() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let db = Database::create().await;
    let relay = Cuttable::to(pg_port()).await;
    let dir = tempfile::tempdir().unwrap();
    let providers = json!({"openai": openai_entry(&mock, "sk-under-load-0000000001")});
    let served = serve_with(dir.path(), &store_config(&db, relay.port, providers)).await;
    let admin = Arc::new(Admin::of(&served));

    // Steady load for the whole test.
    let stop = Arc::new(AtomicBool::new(false));
    let (served_ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (admin, stop, ok, failed) = (
                Arc::clone(&admin),
                Arc::clone(&stop),
                Arc::clone(&served_ok),
                Arc::clone(&failed),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    if admin.chat("openai/gpt-4o").await == 200 {
                        ok.fetch_add(1, Ordering::SeqCst);
                    } else {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(200)).await;
    relay.cut();
    // Writes are refused with a clear 503; health shows the store failing.
    let body = json!({"send_back_raw_response": true});
    let (status, answer) = admin
        .call("PUT", "/api/providers/openai", Some(body.clone()))
        .await;
    assert_eq!(status, 503, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("config store"),
        "{answer}"
    );
    let (status, health) = admin.call("GET", "/health", None).await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["components"]["db_pings"], "failed");
    tokio::time::sleep(Duration::from_millis(300)).await;

    relay.restore();
    let started = Instant::now();
    loop {
        let (status, _) = admin.call("GET", "/health", None).await;
        if status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the store never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, answer) = admin.call("PUT", "/api/providers/openai", Some(body)).await;
    assert_eq!(status, 200, "writes resume: {answer}");

    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::SeqCst),
        0,
        "a request failed while the store was away"
    );
    assert!(served_ok.load(Ordering::SeqCst) > 0);
    served.stop().await;
}
