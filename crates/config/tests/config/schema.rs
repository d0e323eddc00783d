//! The published JSON Schema: generated from the raw types, checked in as
//! `docs/config.schema.json`. Run with `ASBRU_UPDATE_SCHEMA=1` to rewrite the file.

use asbru_config::{json_schema, load_file};
use serde_json::Value;
use std::path::PathBuf;

fn schema_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/config.schema.json")
}

#[test]
fn schema_is_an_object_schema_with_the_top_level_sections() {
    let schema = json_schema();
    assert_eq!(schema["type"], "object");
    assert!(
        schema["$schema"]
            .as_str()
            .is_some_and(|s| s.starts_with("https://json-schema.org/")),
        "{}",
        schema["$schema"]
    );
    let properties = schema["properties"].as_object().unwrap();
    for key in [
        "$schema",
        "encryption_key",
        "auth_config",
        "client",
        "framework",
        "providers",
        "governance",
        "mcp",
        "vector_store",
        "config_store",
        "logs_store",
        "cluster_config",
        "saml_config",
        "load_balancer_config",
        "guardrails_config",
        "plugins",
        "audit_logs",
        "large_payload_optimization",
        "websocket",
    ] {
        assert!(properties.contains_key(key), "missing {key}");
    }
    assert_eq!(properties.len(), 19);
    // Every `$ref` resolves to a definition.
    let defs = schema["$defs"].as_object().unwrap();
    let mut refs = Vec::new();
    collect_refs(&schema, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/$defs/")
            .unwrap_or_else(|| panic!("odd $ref {r}"));
        assert!(defs.contains_key(name), "dangling $ref {r}");
    }
}

#[test]
fn provider_schema_describes_keys_and_network() {
    let schema = json_schema();
    let defs = &schema["$defs"];
    let key = &defs["key"]["properties"];
    for field in [
        "id",
        "name",
        "value",
        "models",
        "weight",
        "enabled",
        "azure_key_config",
    ] {
        assert!(key.get(field).is_some(), "key.{field}");
    }
    let network = &defs["network_config"]["properties"];
    assert_eq!(network["stream_idle_timeout_in_seconds"]["minimum"], 5);
    assert_eq!(network["stream_idle_timeout_in_seconds"]["maximum"], 3600);
    assert_eq!(defs["client"]["additionalProperties"], false);
}

fn collect_refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                match (k.as_str(), item) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => collect_refs(item, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

#[test]
fn docs_schema_file_is_up_to_date() {
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&json_schema()).unwrap()
    );
    let path = schema_file();
    if std::env::var_os("ASBRU_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date; regenerate it with ASBRU_UPDATE_SCHEMA=1 cargo test -p asbru-config --test config",
        path.display()
    );
}

#[test]
fn fixtures_load_from_files() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    // full.json asks for protections asbru refuses rather than ignores; read from a file, the
    // refusal is the same as from a string.
    let err = load_file(&dir.join("full.json"), &|_: &str| None).unwrap_err();
    assert!(err.to_string().contains("client.required_headers"), "{err}");

    let missing = dir.join("no-such-file.json");
    let err = load_file(&missing, &|_: &str| None).unwrap_err();
    assert!(matches!(err, asbru_config::LoadError::Io { .. }));
    assert!(err.to_string().starts_with("cannot read "), "{err}");
}

#[test]
fn load_file_reads_a_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        r#"{"providers": {"groq": {"keys": [{"name": "g", "value": "gsk", "weight": 1}]}}}"#,
    )
    .unwrap();
    let loaded = load_file(&path, &|_: &str| None).unwrap();
    assert_eq!(loaded.config.providers[0].name, "groq");
}
