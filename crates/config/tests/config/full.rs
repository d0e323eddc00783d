//! A realistic file with every section of Bifrost's schema present.

use crate::common::{env_of, fixture, no_env, paths_of};
use asbru_config::{
    FieldError, LoadError, Loaded, NoticeKind, ProviderKeyConfig, ProxyConfig, load_str,
};
use asbru_schema::KnownProvider;
use secrecy::ExposeSecret;
use std::collections::BTreeSet;
use std::time::Duration;

/// The protection settings of `full.json`, which asbru does not enforce yet and therefore refuses
/// (its virtual key, rate limit, budget, team and `enforce_auth_on_inference` are enforced).
const UNENFORCED: [&str; 2] = ["client.required_headers", "guardrails_config"];

/// `full.json` without its protection settings, so that everything else can be checked. Edited
/// as text, since a `serde_json::Value` would reorder the keys whose order the tests check.
fn full_without_protection() -> String {
    let mut text = fixture("full.json");
    for (from, to) in [
        ("\"is_enabled\": true", "\"is_enabled\": false"),
        (
            "\"enforce_auth_on_inference\": true",
            "\"enforce_auth_on_inference\": false",
        ),
        (
            "\"required_headers\": [\"x-acme-team\"]",
            "\"required_headers\": []",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        text = text.replacen(from, to, 1);
    }
    for section in ["\"governance\": ", "\"guardrails_config\": "] {
        text = empty_object_at(&text, section);
    }
    text
}

/// `text` with the object that follows `key` replaced by `{}`.
fn empty_object_at(text: &str, key: &str) -> String {
    let open = text.find(key).unwrap() + key.len();
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        depth += match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        };
        if depth == 0 {
            return format!("{}{{}}{}", &text[..open], &text[open + i + 1..]);
        }
    }
    panic!("unbalanced object after {key}");
}

fn full_env() -> impl Fn(&str) -> Option<String> {
    env_of(&[
        ("ACME_OPENAI_KEY_1", "sk-acme-from-env-0001"),
        ("ACME_ANTHROPIC_KEY", "sk-ant-acme"),
        ("ACME_PROXY_PASSWORD", "proxy-secret"),
        ("ACME_AZURE_KEY", "azure-secret"),
        ("ACME_AZURE_ENDPOINT", "https://acme.openai.azure.com/"),
        ("ACME_AWS_ACCESS_KEY_ID", "AKIDACME"),
        ("ACME_AWS_SECRET_ACCESS_KEY", "aws-secret-acme"),
        ("ACME_GCP_CREDENTIALS", "{\"type\": \"service_account\"}"),
        ("ACME_GATEWAY_ENCRYPTION_KEY", "a passphrase for the store"),
        ("ACME_ADMIN_PASSWORD", "admin-password"),
    ])
}

fn load_full() -> Loaded {
    match load_str(&full_without_protection(), &full_env()) {
        Ok(loaded) => loaded,
        Err(e) => panic!("full.json must load: {e}"),
    }
}

#[test]
fn protection_settings_that_are_not_enforced_refuse_the_file_naming_each() {
    let errors = match load_str(&fixture("full.json"), &full_env()) {
        Ok(loaded) => panic!("full.json asks for protection asbru does not enforce: {loaded:#?}"),
        Err(LoadError::Invalid(errors)) => errors,
        Err(e) => panic!("unexpected error {e}"),
    };
    let paths: BTreeSet<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, UNENFORCED.into_iter().collect(), "{errors:#?}");
    for e in &errors {
        assert!(
            FieldError::to_string(e).contains("does not enforce yet"),
            "{e}"
        );
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
fn provider_key_configs_are_typed_and_resolved() {
    let loaded = load_full();
    let azure = &loaded.config.provider("azure").unwrap().keys[0];
    let ProviderKeyConfig::Azure(az) = &azure.provider_config else {
        panic!("{:?}", azure.provider_config);
    };
    assert_eq!(az.endpoint, "https://acme.openai.azure.com");
    assert_eq!(az.api_version, "2024-10-21");
    assert_eq!(az.deployment("gpt-4o"), "gpt-4o-eastus");
    assert_eq!(az.deployment("gpt-4.1"), "gpt-4.1");
    assert!(az.entra.is_none());

    let bedrock = &loaded.config.provider("bedrock").unwrap().keys[0];
    let ProviderKeyConfig::Bedrock(b) = &bedrock.provider_config else {
        panic!("{:?}", bedrock.provider_config);
    };
    assert_eq!(b.access_key.as_deref(), Some("AKIDACME"));
    assert_eq!(
        b.secret_key.as_ref().unwrap().expose_secret(),
        "aws-secret-acme"
    );
    assert_eq!(b.region, "us-east-1");
    assert!(
        !format!("{bedrock:?}").contains("aws-secret-acme"),
        "secrets stay redacted"
    );

    let vertex = &loaded.config.provider("vertex").unwrap().keys[0];
    let ProviderKeyConfig::Vertex(v) = &vertex.provider_config else {
        panic!("{:?}", vertex.provider_config);
    };
    assert_eq!(
        (v.project_id.as_str(), v.region.as_str()),
        ("acme-ml", "us-central1")
    );
    assert!(v.auth_credentials.is_some());

    let filter = &loaded.config.client.header_filter;
    assert!(filter.allowlist.is_empty());
    assert_eq!(filter.denylist, ["cookie", "x-internal-token"]);
    assert!(filter.allows("anthropic-beta") && !filter.allows("x-internal-token"));
    let anthropic = &loaded.config.provider("anthropic").unwrap().network;
    assert!(!anthropic.allows_beta("redact-thinking-2026-02-01"));
    assert!(anthropic.allows_beta("prompt-caching-2024-07-31"));
    let vllm = &loaded.config.provider("vllm").unwrap().keys[0];
    assert!(vllm.allows_model("meta-llama/Llama-3.1-8B-Instruct"));
    assert!(
        !vllm.allows_model("other-model"),
        "a vLLM key serves its one model"
    );
}

#[test]
fn provider_key_configs_report_missing_fields_and_env() {
    let config = r#"{"providers": {
        "azure": {"keys": [
            {"name": "no-config", "value": "k"},
            {"name": "no-endpoint", "value": "k", "azure_key_config": {"api_version": "2024-10-21"}},
            {"name": "half-entra", "value": "k", "azure_key_config": {"endpoint": "https://x", "client_id": "c"}}
        ]},
        "bedrock": {"keys": [
            {"name": "unset", "bedrock_key_config": {"region": "us-east-1", "access_key": "env.NOPE_AK", "secret_key": "env.NOPE_SK"}}
        ]},
        "openai": {"keys": [
            {"name": "stray", "value": "sk", "azure_key_config": {"endpoint": "https://x"}}
        ]}
    }}"#;
    let Err(LoadError::Invalid(errors)) = load_str(config, &no_env) else {
        panic!("must be refused");
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"providers.azure.keys[0].azure_key_config"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"providers.azure.keys[1].azure_key_config.endpoint"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"providers.azure.keys[2].azure_key_config"),
        "{paths:?}"
    );

    let ok = r#"{"providers": {
        "bedrock": {"keys": [
            {"name": "unset", "bedrock_key_config": {"region": "us-east-1", "access_key": "env.NOPE_AK", "secret_key": "env.NOPE_SK"}}
        ]},
        "openai": {"keys": [
            {"name": "stray", "value": "sk", "azure_key_config": {"endpoint": "https://x"}}
        ]}
    }}"#;
    let loaded = load_str(ok, &no_env).unwrap();
    assert!(loaded.config.provider("bedrock").unwrap().keys.is_empty());
    assert!(
        paths_of(&loaded, NoticeKind::MissingEnv)
            .contains(&"providers.bedrock.keys[0].bedrock_key_config.access_key".to_owned())
    );
    assert!(
        paths_of(&loaded, NoticeKind::Info)
            .contains(&"providers.openai.keys[0].azure_key_config".to_owned())
    );
    assert_eq!(loaded.config.provider("openai").unwrap().keys.len(), 1);
}

/// An Azure key needs an `api-key` value or Entra ID credentials; without either (Bifrost would
/// try managed identity) it is left out with a notice, and the others stay.
#[test]
fn azure_keys_without_credentials_are_left_out() {
    let config = r#"{"providers": {"azure": {"keys": [
        {"name": "nothing", "azure_key_config": {"endpoint": "https://x.openai.azure.com"}},
        {"name": "entra", "azure_key_config": {"endpoint": "https://x.openai.azure.com",
            "client_id": "c", "client_secret": "s", "tenant_id": "t"}},
        {"name": "api-key", "value": "k", "azure_key_config": {"endpoint": "https://x.openai.azure.com"}}
    ]}}}"#;
    let loaded = load_str(config, &no_env).unwrap();
    let ids: Vec<&str> = loaded
        .config
        .provider("azure")
        .unwrap()
        .keys
        .iter()
        .map(|k| k.id.as_str())
        .collect();
    assert_eq!(ids, ["entra", "api-key"]);
    assert!(
        paths_of(&loaded, NoticeKind::Info).contains(&"providers.azure.keys[0].value".to_owned())
    );
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
fn telemetry_and_its_labels_are_read() {
    let loaded = load_full();
    let config = &loaded.config;
    assert_eq!(config.client.prometheus_labels, ["team", "environment"]);
    assert!(config.plugins.telemetry);
    assert_eq!(config.plugins.telemetry_custom_labels, ["team"]);
    assert!(config.plugins.mocker.is_none());
}

#[test]
fn every_unsupported_key_is_reported_exactly_once() {
    let loaded = load_full();
    let reported = paths_of(&loaded, NoticeKind::NotSupportedYet);
    let unique: BTreeSet<&str> = reported.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), reported.len(), "duplicates in {reported:#?}");
    let expected: BTreeSet<&str> = [
        "client.initial_pool_size",
        "client.enable_logging",
        "client.disable_content_logging",
        "client.log_retention_days",
        "client.logging_headers",
        "client.mcp_agent_depth",
        "providers.openai.keys[1].use_for_batch_api",
        "providers.openai.send_back_raw_response",
        "mcp",
        "vector_store",
        "cluster_config",
        "load_balancer_config",
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
    // `telemetry` is a built-in asbru runs: read, not a notice.
    assert_eq!(messages.len(), 2);
    assert!(messages[0].contains("\"semantic_cache\""));
    assert!(messages[1].contains("\"acme-audit\" (disabled in the file)"));
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

#[test]
fn the_store_its_key_and_admin_auth_are_read() {
    let loaded = match load_str(&fixture("full.json"), &full_env()) {
        Ok(_) => panic!("full.json still asks for unenforced protection"),
        Err(_) => load_full(),
    };
    let config = &loaded.config;
    assert!(matches!(
        &config.config_store,
        asbru_config::StoreChoice::Sqlite { path: Some(p) } if p.to_str() == Some("/var/lib/acme-gateway/config.db")
    ));
    assert_eq!(
        config
            .encryption_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned())
            .as_deref(),
        Some("a passphrase for the store")
    );
    let auth = config.auth.as_ref().expect("auth_config is read");
    assert!(
        matches!(&auth.admin_password, asbru_config::AdminPassword::Clear(p) if p.expose_secret() == "admin-password")
    );
    assert!(!auth.admin_username.is_empty());
}

#[test]
fn pricing_overrides_and_the_price_list_url_are_read() {
    let config = load_full().config;
    let openai = config.provider("openai").unwrap();
    let o = openai
        .pricing_overrides
        .find("gpt-4o-mini", "chat_completion_stream")
        .expect("the wildcard covers gpt-4o-mini");
    assert_eq!(o.model_pattern, "gpt-4o*");
    assert_eq!(o.patch.input, Some(0.0000025));
    assert_eq!(o.patch.output, Some(0.00001));
    assert!(
        openai
            .pricing_overrides
            .find("gpt-4.1", "chat_completion")
            .is_none()
    );
    assert!(
        config
            .provider("anthropic")
            .unwrap()
            .pricing_overrides
            .is_empty()
    );
    assert!(
        config
            .pricing
            .url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    );
}
