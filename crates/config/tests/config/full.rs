//! A realistic file with every section of Bifrost's schema present.

use crate::common::{env_of, fixture, paths_of};
use asbru_config::{Loaded, NoticeKind, ProxyConfig, load_str};
use asbru_schema::KnownProvider;
use secrecy::ExposeSecret;
use std::collections::BTreeSet;
use std::time::Duration;

fn load_full() -> Loaded {
    let env = env_of(&[
        ("ACME_OPENAI_KEY_1", "sk-acme-from-env-0001"),
        ("ACME_ANTHROPIC_KEY", "sk-ant-acme"),
        ("ACME_PROXY_PASSWORD", "proxy-secret"),
        ("ACME_AZURE_KEY", "azure-secret"),
    ]);
    match load_str(&fixture("full.json"), &env) {
        Ok(loaded) => loaded,
        Err(e) => panic!("full.json must load: {e}"),
    }
}

#[test]
fn providers_keep_file_order() {
    let loaded = load_full();
    let names: Vec<&str> = loaded
        .config
        .providers
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "openai",
            "anthropic",
            "azure",
            "bedrock",
            "vertex",
            "mistral",
            "groq",
            "ollama",
            "vllm",
            "acme-llamacpp"
        ]
    );
}

#[test]
fn client_settings() {
    let client = load_full().config.client;
    assert!(client.drop_excess_requests);
    assert_eq!(client.max_request_body_size_bytes, 20 * 1024 * 1024);
}

#[test]
fn openai_keys_network_concurrency_proxy() {
    let loaded = load_full();
    let openai = loaded.config.provider("openai").unwrap();
    assert_eq!(openai.base, KnownProvider::OpenAi);
    assert!(!openai.is_custom);
    assert!(!openai.is_key_less);

    // keys[2] references an unset variable and is left out.
    let ids: Vec<&str> = openai.keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["oa-primary", "openai-mini-only"]);
    let primary = &openai.keys[0];
    assert_eq!(primary.name, "openai-primary");
    assert_eq!(primary.value.expose_secret(), "sk-acme-from-env-0001");
    assert_eq!(primary.weight, 0.7);
    assert!(primary.models.is_empty());
    assert_eq!(primary.blacklisted_models, ["o1-pro"]);
    assert!(primary.allows_model("gpt-4o"));
    assert!(!primary.allows_model("o1-pro"));
    let mini = &openai.keys[1];
    assert_eq!(mini.value.expose_secret(), "sk-acme-literal-0002");
    assert_eq!(mini.weight, 0.3);
    assert!(mini.allows_model("gpt-4o-mini"));
    assert!(!mini.allows_model("gpt-4o"));

    let n = &openai.network;
    assert_eq!(
        n.base_url.as_deref(),
        Some("https://openai-egress.acme.test/v1")
    );
    assert_eq!(
        n.extra_headers,
        [
            ("OpenAI-Organization".to_owned(), "org-acme".to_owned()),
            ("X-Acme-Route".to_owned(), "primary".to_owned()),
            ("Accept-Language".to_owned(), "en".to_owned()),
        ]
    );
    assert_eq!(n.request_timeout, Duration::from_secs(120));
    assert_eq!(n.max_retries, 3);
    assert_eq!(n.retry_backoff_initial, Duration::from_millis(250));
    assert_eq!(n.retry_backoff_max, Duration::from_millis(8000));
    assert_eq!(n.stream_idle_timeout, Duration::from_secs(90));
    assert_eq!(n.max_conns_per_host, 256);
    assert!(!n.insecure_skip_verify);
    assert_eq!(n.ca_cert_pem, None);

    assert_eq!(openai.concurrency.concurrency, 64);
    assert_eq!(openai.concurrency.buffer_size, 256);

    let ProxyConfig::Http(proxy) = &openai.proxy else {
        panic!("expected an HTTP proxy, got {:?}", openai.proxy);
    };
    assert_eq!(proxy.url, "http://egress-proxy.acme.test:3128");
    assert_eq!(proxy.username.as_deref(), Some("gateway"));
    assert_eq!(
        proxy.password.as_ref().map(|p| p.expose_secret()),
        Some("proxy-secret")
    );
    assert!(openai.allowed_requests.is_none());
    assert!(openai.allows("chat_completion"));
}

#[test]
fn defaults_fill_what_is_left_out() {
    let loaded = load_full();
    let anthropic = loaded.config.provider("anthropic").unwrap();
    assert_eq!(anthropic.network.request_timeout, Duration::from_secs(300));
    assert_eq!(anthropic.network.max_retries, 0);
    assert_eq!(
        anthropic.network.retry_backoff_initial,
        Duration::from_millis(500)
    );
    assert_eq!(
        anthropic.network.retry_backoff_max,
        Duration::from_millis(5000)
    );
    assert_eq!(
        anthropic.network.stream_idle_timeout,
        Duration::from_secs(60)
    );
    assert_eq!(anthropic.network.max_conns_per_host, 5000);
    assert_eq!(anthropic.concurrency.concurrency, 1000);
    assert_eq!(anthropic.concurrency.buffer_size, 5000);
    assert!(matches!(anthropic.proxy, ProxyConfig::None));
    assert_eq!(anthropic.keys.len(), 1);
    assert_eq!(anthropic.keys[0].weight, 1.0);
}

#[test]
fn disabled_and_unnamed_keys() {
    let loaded = load_full();
    let mistral = loaded.config.provider("mistral").unwrap();
    let ids: Vec<&str> = mistral.keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["mistral-new"]);
    assert_eq!(mistral.keys[0].weight, 2.0);
    assert!(loaded.notices.iter().any(|n| n.kind == NoticeKind::Info
        && n.path == "providers.mistral.keys[0]"
        && n.message.contains("disabled")));

    let groq = loaded.config.provider("groq").unwrap();
    assert_eq!(groq.keys[0].id, "key-0");
    assert_eq!(groq.keys[0].name, "");
    let ProxyConfig::Socks5(proxy) = &groq.proxy else {
        panic!("expected a SOCKS5 proxy, got {:?}", groq.proxy);
    };
    assert_eq!(proxy.url, "socks5://10.20.0.5:1080");
    assert!(proxy.password.is_none());
}

#[test]
fn keys_whose_credentials_live_in_key_configs_are_kept() {
    let loaded = load_full();
    for name in ["bedrock", "vertex", "vllm"] {
        let p = loaded.config.provider(name).unwrap();
        assert_eq!(p.keys.len(), 1, "{name}");
        assert_eq!(p.keys[0].value.expose_secret(), "", "{name}");
    }
    let vllm = loaded.config.provider("vllm").unwrap();
    assert!(!vllm.is_key_less);
}

#[test]
fn keyless_ollama() {
    let loaded = load_full();
    let ollama = loaded.config.provider("ollama").unwrap();
    assert!(ollama.is_key_less);
    assert!(ollama.keys.is_empty());
    assert_eq!(
        ollama.network.base_url.as_deref(),
        Some("http://gpu-box.acme.test:11434")
    );
    assert!(matches!(ollama.proxy, ProxyConfig::None));
}

#[test]
fn custom_provider_on_openai() {
    let loaded = load_full();
    let custom = loaded.config.provider("acme-llamacpp").unwrap();
    assert!(custom.is_custom);
    assert_eq!(custom.base, KnownProvider::OpenAi);
    assert!(custom.is_key_less);
    assert!(custom.keys.is_empty());
    assert!(custom.allows("chat_completion"));
    assert!(custom.allows("chat_completion_stream"));
    assert!(custom.allows("list_models"));
    assert!(!custom.allows("embedding"));
    assert!(!custom.allows("speech"));
    assert_eq!(
        custom
            .request_path_overrides
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [
            ("chat_completion", "/completion/chat"),
            ("list_models", "http://10.20.0.9:8081/v1/models"),
        ]
    );
    assert_eq!(custom.concurrency.concurrency, 4);
    assert!(matches!(custom.proxy, ProxyConfig::Environment));
}

#[test]
fn every_unsupported_key_is_reported_exactly_once() {
    let loaded = load_full();
    let reported = paths_of(&loaded, NoticeKind::NotSupportedYet);
    let unique: BTreeSet<&str> = reported.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), reported.len(), "duplicates in {reported:#?}");
    let expected: BTreeSet<&str> = [
        "encryption_key",
        "auth_config",
        "client.initial_pool_size",
        "client.prometheus_labels",
        "client.allowed_origins",
        "client.allowed_headers",
        "client.enable_logging",
        "client.disable_content_logging",
        "client.log_retention_days",
        "client.enforce_auth_on_inference",
        "client.header_filter_config",
        "client.required_headers",
        "client.logging_headers",
        "client.mcp_agent_depth",
        "framework.pricing.pricing_url",
        "providers.openai.keys[1].use_for_batch_api",
        "providers.openai.send_back_raw_response",
        "providers.openai.pricing_overrides",
        "providers.anthropic.network_config.beta_header_overrides",
        "providers.azure.keys[0].azure_key_config",
        "providers.bedrock.keys[0].bedrock_key_config",
        "providers.vertex.keys[0].vertex_key_config",
        "providers.vllm.keys[0].vllm_key_config",
        "governance",
        "mcp",
        "vector_store",
        "config_store",
        "cluster_config",
        "load_balancer_config",
        "guardrails_config",
        "plugins[0]",
        "plugins[1]",
        "plugins[2]",
        "audit_logs",
        "large_payload_optimization",
        "websocket",
    ]
    .into_iter()
    .collect();
    assert_eq!(unique, expected);
}

#[test]
fn sections_turned_off_or_at_default_are_not_reported() {
    let loaded = load_full();
    let reported = paths_of(&loaded, NoticeKind::NotSupportedYet);
    for quiet in [
        "logs_store",                         // "enabled": false
        "saml_config",                        // "enabled": false
        "client.disable_db_pings_in_health",  // false, the default
        "client.async_job_result_ttl",        // 3600, the default
        "client.mcp_code_mode_binding_level", // "server", the default
        "client.allow_direct_keys",           // false
        "providers.openai.send_back_raw_request",
        "framework.pricing.pricing_sync_interval",
    ] {
        assert!(!reported.iter().any(|p| p == quiet), "{quiet} reported");
    }
}

#[test]
fn plugin_notices_name_the_plugin() {
    let loaded = load_full();
    let messages: Vec<&str> = loaded
        .notices
        .iter()
        .filter(|n| n.path.starts_with("plugins["))
        .map(|n| n.message.as_str())
        .collect();
    assert_eq!(messages.len(), 3);
    assert!(messages[0].contains("\"telemetry\""));
    assert!(messages[1].contains("\"semantic_cache\""));
    assert!(messages[2].contains("\"acme-audit\" (disabled in the file)"));
}

#[test]
fn missing_environment_variables_are_named() {
    let loaded = load_full();
    let missing: Vec<(String, String)> = loaded
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::MissingEnv)
        .map(|n| (n.path.clone(), n.message.clone()))
        .collect();
    let expected = [
        ("providers.openai.keys[2].value", "ACME_OPENAI_KEY_UNSET"),
        (
            "providers.azure.keys[0].azure_key_config.endpoint",
            "ACME_AZURE_ENDPOINT",
        ),
        (
            "providers.bedrock.keys[0].bedrock_key_config.access_key",
            "ACME_AWS_ACCESS_KEY_ID",
        ),
        (
            "providers.bedrock.keys[0].bedrock_key_config.secret_key",
            "ACME_AWS_SECRET_ACCESS_KEY",
        ),
        (
            "providers.vertex.keys[0].vertex_key_config.auth_credentials",
            "ACME_GCP_CREDENTIALS",
        ),
        (
            "providers.groq.proxy_config.password",
            "ACME_SOCKS_PASSWORD",
        ),
    ];
    assert_eq!(missing.len(), expected.len(), "{missing:#?}");
    for ((path, message), (want_path, var)) in missing.iter().zip(expected) {
        assert_eq!(path, want_path);
        assert!(message.contains(var), "{message} should name {var}");
    }
}

#[test]
fn no_unknown_keys_in_a_schema_conforming_file() {
    let loaded = load_full();
    assert_eq!(
        paths_of(&loaded, NoticeKind::UnknownKey),
        Vec::<String>::new()
    );
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let loaded = load_full();
    let debug = format!("{loaded:?}");
    for secret in [
        "sk-acme-from-env-0001",
        "sk-acme-literal-0002",
        "proxy-secret",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug output");
    }
}
