//! The `asbru-mock` binary: startup line, serving, control routes and clean SIGTERM exit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_prints_address_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_asbru-mock"))
        .args(["--port", "0", "--threads", "1", "--stream-chunks", "2"])
        .args(["--valid-key", "sk-bin", "--model", "only-model"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected startup line {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let models: serde_json::Value = serde_json::from_slice(
        &c.get(format!("{base}/v1/models"))
            .bearer_auth("sk-bin")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(models["data"][0]["id"], "only-model");

    let resp = c
        .get(format!("{base}/v1/models"))
        .bearer_auth("sk-other")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let resp = c
        .post(format!("{base}/__mock/faults"))
        .body(r#"{"fault":{"type":"status","status":502}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = c
        .get(format!("{base}/v1/models"))
        .bearer_auth("sk-bin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 502);

    let recorded: serde_json::Value = serde_json::from_slice(
        &c.get(format!("{base}/__mock/requests"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(recorded.as_array().unwrap().len(), 3);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}
