//! Unknown keys: reported with their path, never an error, never silently dropped.

use crate::common::{no_env, paths_of};
use asbru_config::{NoticeKind, load_str};

#[test]
fn unknown_keys_at_every_level() {
    let json = r#"{
        "$schema": "https://www.getbifrost.ai/schema",
        "colour": "blue",
        "client": {"drop_excess_request": true},
        "framework": {"pricing": {"pricing_uri": "https://x.test"}},
        "providers": {
            "openai": {
                "keys": [{"name": "k", "value": "sk", "weight": 1, "wieght": 2}],
                "network_config": {"base_url": "https://api.openai.com/v1", "timeout": 5},
                "concurrency_and_buffer_size": {"concurrency": 1, "buffer_size": 1, "queue": 3},
                "proxy_config": {"type": "none", "host": "p"},
                "send_back_raw": true
            },
            "my-llm": {
                "keys": [],
                "custom_provider_config": {
                    "base_provider_type": "openai", "is_keyless": true,
                    "allowed_requests": {"chat_completion": true, "chat_completions": true}
                }
            }
        },
        "plugins": [{"enabled": true, "name": "otel", "placment": "pre_builtin"}]
    }"#;
    let loaded = load_str(json, &no_env).unwrap();
    assert_eq!(
        paths_of(&loaded, NoticeKind::UnknownKey),
        [
            "colour",
            "client.drop_excess_request",
            "framework.pricing.pricing_uri",
            "providers.openai.keys[0].wieght",
            "providers.openai.network_config.timeout",
            "providers.openai.concurrency_and_buffer_size.queue",
            "providers.openai.proxy_config.host",
            "providers.openai.send_back_raw",
            "providers.my-llm.custom_provider_config.is_keyless",
            "plugins[0].placment",
            // Request type names are checked after parsing, so they come last.
            "providers.my-llm.custom_provider_config.allowed_requests.chat_completions",
        ]
    );
    // The misspelt flag did not take effect, and loading went on.
    assert!(!loaded.config.client.drop_excess_requests);
    let notice = loaded.notices.iter().find(|n| n.path == "colour").unwrap();
    assert_eq!(
        notice.to_string(),
        "colour: neither asbru nor Bifrost knows this key (a typo?); ignored (unknown key)"
    );
}

#[test]
fn unknown_keys_inside_sections_kept_as_json_are_not_reported() {
    // Sections asbru does not read yet are taken whole; their keys are Bifrost's business.
    let json = r#"{"governance": {"routing_rules": [{"id": "r", "whatever": 1,
        "targets": [{"provider": "openai", "weight": 1}]}]}}"#;
    let loaded = load_str(json, &no_env).unwrap();
    assert!(paths_of(&loaded, NoticeKind::UnknownKey).is_empty());
    assert_eq!(
        paths_of(&loaded, NoticeKind::NotSupportedYet),
        ["governance.routing_rules[0].whatever"]
    );
}

#[test]
fn empty_file_object_loads_with_defaults() {
    let loaded = load_str("{}", &no_env).unwrap();
    assert!(loaded.config.providers.is_empty());
    assert!(loaded.notices.is_empty());
    assert!(!loaded.config.client.drop_excess_requests);
}
