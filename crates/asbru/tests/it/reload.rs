//! Hot reload of the config file: on change and on SIGHUP, atomically, invalid files refused.

use crate::cli::{Served, serve};
use asbru_mock::{Fault, MockOptions, MockServer};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

fn config(mock: &MockServer, key: &str) -> Value {
    json!({"providers": {"openai": {
        "keys": [{"name": "k", "value": key, "weight": 1}],
        "network_config": {"base_url": mock.base_url()}
    }}})
}

fn write(path: &Path, value: &Value) {
    // Write then rename, as editors and config management tools do.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, value.to_string()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn chat(url: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn last_key(mock: &MockServer) -> String {
    mock.requests()
        .last()
        .and_then(|r| r.header("authorization").map(str::to_owned))
        .unwrap_or_default()
}

/// Sends requests until the mock sees `key`, or fails after 5 s.
async fn wait_for_key(url: &str, mock: &MockServer, key: &str) {
    let started = Instant::now();
    loop {
        assert_eq!(chat(url).await, 200);
        if last_key(mock) == format!("Bearer {key}") {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "config with {key} was not loaded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the gateway has logged `text`, or fails after 5 s.
async fn wait_for_log(served: &Served, text: &str) {
    let started = Instant::now();
    while !served.log.lock().unwrap().contains(text) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the gateway never logged {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_changed_file_is_reloaded_and_an_invalid_one_is_refused() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    write(&path, &config(&mock, "sk-one"));
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    wait_for_key(&served.url, &mock, "sk-one").await;

    write(&path, &config(&mock, "sk-two"));
    wait_for_key(&served.url, &mock, "sk-two").await;

    write(
        &path,
        &json!({"providers": {"openai": {"keys": [{"name": "k", "value": "sk-three", "weight": -1}]}}}),
    );
    wait_for_log(&served, "not reloaded").await;
    assert_eq!(chat(&served.url).await, 200);
    assert_eq!(
        last_key(&mock),
        "Bearer sk-two",
        "an invalid config replaced the running one"
    );
    let log = served.stop().await;
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(log.contains("not reloaded"), "{log}");
    assert!(log.contains("providers.openai.keys[0].weight"), "{log}");
}

#[tokio::test]
async fn sighup_reloads_when_watching_is_off() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    write(&path, &config(&mock, "sk-one"));
    let served = serve(
        &[
            "--config",
            path.to_str().unwrap(),
            "--watch-config",
            "false",
        ],
        &[],
    )
    .await;
    write(&path, &config(&mock, "sk-two"));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(chat(&served.url).await, 200);
    assert_eq!(
        last_key(&mock),
        "Bearer sk-one",
        "reloaded without being asked"
    );
    let pid = served.child.id().unwrap();
    tokio::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .await
        .unwrap();
    wait_for_key(&served.url, &mock, "sk-two").await;
    served.stop().await;
}

#[tokio::test]
async fn no_request_is_dropped_while_reloading_under_load() {
    let mock = MockServer::start(MockOptions {
        latency: Duration::from_millis(20),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    write(&path, &config(&mock, "sk-0"));
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    let url = served.url.clone();
    let load = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let batch = (0..10).map(|_| chat(&url));
            statuses.extend(futures_util::future::join_all(batch).await);
        }
        statuses
    });
    for i in 1..=5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        write(&path, &config(&mock, &format!("sk-{i}")));
    }
    let statuses = load.await.unwrap();
    assert_eq!(statuses.len(), 400);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let log = served.stop().await;
    assert!(log.contains("configuration reloaded"), "{log}");
}

/// A reload that leaves a provider's queue settings alone keeps its queue: requests admitted
/// before the reload still count against `concurrency` after it.
#[tokio::test]
async fn a_reload_keeps_an_unchanged_queue_and_its_requests() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let base_url = mock.base_url();
    let config = |weight: f64, concurrency: u32| -> Value {
        json!({"providers": {"openai": {
            "keys": [{"name": "k", "value": "sk-k", "weight": weight}],
            "network_config": {"base_url": base_url},
            "concurrency_and_buffer_size": {"concurrency": concurrency, "buffer_size": 1}
        }}, "client": {"drop_excess_requests": true}})
    };
    let load = |value: Value| {
        asbru_config::load_str(&value.to_string(), &|_: &str| None)
            .unwrap()
            .config
    };
    let first = config(1.0, 1);
    let gw = crate::harness::TestGateway::start_with(mock, first).await;
    // One request in flight and one waiting fill concurrency 1 + buffer 1.
    gw.mock
        .push_faults(Fault::Delay(Duration::from_millis(1500)), 2);
    let held: Vec<_> = (0..2)
        .map(|_| {
            let url = gw.url.clone();
            tokio::spawn(async move { chat(&url).await })
        })
        .collect();
    // Both admitted: one upstream, one waiting for the worker.
    let started = Instant::now();
    while gw.gateway.queue_admitted() != [("openai".to_owned(), 2)] {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the queue never filled: {:?}",
            gw.gateway.queue_admitted()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    gw.gateway.reload(load(config(2.0, 1))).unwrap();
    assert_eq!(
        chat(&gw.url).await,
        429,
        "the held requests still fill the queue"
    );

    // New queue settings mean a new queue.
    gw.gateway.reload(load(config(2.0, 2))).unwrap();
    assert_eq!(chat(&gw.url).await, 200);
    for request in held {
        assert_eq!(request.await.unwrap(), 200);
    }
}
