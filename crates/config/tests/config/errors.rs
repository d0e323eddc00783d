//! Invalid values: every error is reported, with its exact path.

use crate::common::{fixture, no_env};
use asbru_config::{FieldError, LoadError, load_str};

/// Loads `json` and returns its errors as `path: message` lines; panics if it loads.
fn errors(json: &str) -> Vec<String> {
    match load_str(json, &no_env) {
        Ok(loaded) => panic!("expected errors, loaded: {loaded:#?}"),
        Err(LoadError::Invalid(errors)) => errors.iter().map(FieldError::to_string).collect(),
        Err(e) => panic!("expected LoadError::Invalid, got {e}"),
    }
}

/// One provider `openai` with a valid key plus `extra` (JSON members) spliced in.
fn openai_with(extra: &str) -> String {
    format!(
        r#"{{"providers": {{"openai": {{"keys": [{{"name": "k", "value": "sk-1", "weight": 1}}], {extra}}}}}}}"#
    )
}

#[test]
fn every_error_of_a_file_at_once() {
    let got = errors(&fixture("invalid.json"));
    let expected = [
        "client.max_request_body_size_mb: must be >= 1",
        "client.initial_pool_size: must be >= 1",
        r#"client.mcp_code_mode_binding_level: unknown binding level "global"; expected "server" or "tool""#,
        "framework.pricing.pricing_url: not a valid http(s) URL",
        "framework.pricing.pricing_sync_interval: must be >= 3600",
        "providers.openai.keys[1].weight: must be > 0",
        r#"providers.openai.keys[2].name: duplicate key id "primary" (keys[0] has it too)"#,
        "providers.openai.keys[2].weight: must be > 0",
        r#"providers.openai.keys[3].value: "env." needs a variable name (env.MY_VAR)"#,
        "providers.openai.network_config.base_url: not a valid http(s) URL",
        "providers.openai.network_config.extra_headers.Bad Header: not a valid HTTP header name",
        "providers.openai.network_config.extra_headers.X-Acme: header values cannot contain control characters (CR, LF, …)",
        "providers.openai.network_config.default_request_timeout_in_seconds: must be >= 1",
        "providers.openai.network_config.max_retries: must be >= 0",
        "providers.openai.network_config.retry_backoff_initial_ms: must be >= 0",
        "providers.openai.network_config.ca_cert_pem: not a PEM certificate (expected -----BEGIN CERTIFICATE----- …)",
        "providers.openai.network_config.stream_idle_timeout_in_seconds: must be between 5 and 3600",
        "providers.openai.network_config.max_conns_per_host: must be between 1 and 10000",
        "providers.openai.concurrency_and_buffer_size.concurrency: must be >= 1",
        "providers.openai.concurrency_and_buffer_size.buffer_size: must be >= 1",
        r#"providers.openai.proxy_config.type: unknown proxy type "ftp"; expected one of none, http, socks5, environment"#,
        "providers.groq.proxy_config.url: required for proxy type http",
        "providers.cerebras.proxy_config.type: required: one of none, http, socks5, environment",
        "providers.xai.proxy_config.url: not a valid socks5 proxy URL",
        "providers.xai.proxy_config.ca_cert_pem: not a PEM certificate (expected -----BEGIN CERTIFICATE----- …)",
        "providers.my-llm: unknown provider; custom providers need custom_provider_config.base_provider_type",
        r#"providers.other-llm.custom_provider_config.base_provider_type: unknown provider type "x""#,
        "providers.other-llm.custom_provider_config.request_path_overrides.chat_completion: must be a path starting with '/' or a full http(s) URL",
        "providers.third-llm.custom_provider_config.base_provider_type: required for a custom provider: the built-in provider whose API it speaks (openai, anthropic, gemini, …)",
        "providers.anthropic.custom_provider_config: only custom providers take custom_provider_config; give this one a name that is not a built-in provider",
        "providers.sgl.network_config.base_url: required for sgl: it has no default address",
        "providers.bad/name: provider names must be non-empty, without '/' or spaces (clients write provider/model)",
        "plugins[0].name: required",
        r#"plugins[1].placement: unknown placement "middle"; expected "pre_builtin" or "post_builtin""#,
        "plugins[1].version: must be >= 1",
    ];
    assert_eq!(got, expected);
}

#[test]
fn display_lists_every_error() {
    let err = load_str(&fixture("invalid.json"), &no_env).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("invalid configuration (35 errors)\n"),
        "{text}"
    );
    assert!(text.contains("\n  providers.openai.keys[1].weight: must be > 0\n"));
    assert!(text.ends_with("\n  plugins[1].version: must be >= 1"));
}

#[test]
fn error_messages_never_contain_key_values() {
    let text = load_str(&fixture("invalid.json"), &no_env)
        .unwrap_err()
        .to_string();
    for secret in ["sk-acme-1", "sk-acme-2", "sk-acme-3", "gsk-acme", "sk-ant"] {
        assert!(!text.contains(secret), "{secret} leaked into: {text}");
    }
}

#[test]
fn weight_must_be_positive() {
    let json = r#"{"providers": {"anthropic": {"keys": [
        {"name": "a", "value": "k1", "weight": 1},
        {"name": "b", "value": "k2", "weight": 0}]}}}"#;
    assert_eq!(
        errors(json),
        ["providers.anthropic.keys[1].weight: must be > 0"]
    );
}

#[test]
fn base_url_must_be_http() {
    for bad in [
        "localhost:11434",
        "ftp://example.com",
        "http://",
        "not a url",
    ] {
        let json = openai_with(&format!(r#""network_config": {{"base_url": "{bad}"}}"#));
        assert_eq!(
            errors(&json),
            ["providers.openai.network_config.base_url: not a valid http(s) URL"],
            "{bad}"
        );
    }
}

#[test]
fn concurrency_must_be_at_least_one() {
    let json =
        openai_with(r#""concurrency_and_buffer_size": {"concurrency": 0, "buffer_size": 10}"#);
    assert_eq!(
        errors(&json),
        ["providers.openai.concurrency_and_buffer_size.concurrency: must be >= 1"]
    );
}

#[test]
fn max_request_body_size() {
    assert_eq!(
        errors(r#"{"client": {"max_request_body_size_mb": 0}}"#),
        ["client.max_request_body_size_mb: must be >= 1"]
    );
    assert_eq!(
        errors(r#"{"client": {"max_request_body_size_mb": -3}}"#),
        ["client.max_request_body_size_mb: must be >= 1"]
    );
}

#[test]
fn stream_idle_timeout_range() {
    for (value, ok) in [(4, false), (5, true), (3600, true), (3601, false)] {
        let json = openai_with(&format!(
            r#""network_config": {{"stream_idle_timeout_in_seconds": {value}}}"#
        ));
        let result = load_str(&json, &no_env);
        if ok {
            assert!(result.is_ok(), "{value}");
        } else {
            assert_eq!(
                errors(&json),
                [
                    "providers.openai.network_config.stream_idle_timeout_in_seconds: must be between 5 and 3600"
                ],
                "{value}"
            );
        }
    }
}

#[test]
fn negative_numbers() {
    let json = openai_with(
        r#""network_config": {"max_retries": -1, "retry_backoff_max_ms": -1, "max_conns_per_host": -1}"#,
    );
    assert_eq!(
        errors(&json),
        [
            "providers.openai.network_config.max_retries: must be >= 0",
            "providers.openai.network_config.retry_backoff_max_ms: must be >= 0",
            "providers.openai.network_config.max_conns_per_host: must be between 1 and 10000",
        ]
    );
}

#[test]
fn unknown_provider_needs_custom_config() {
    assert_eq!(
        errors(r#"{"providers": {"my-llm": {"keys": [{"value": "k", "weight": 1}]}}}"#),
        [
            "providers.my-llm: unknown provider; custom providers need custom_provider_config.base_provider_type"
        ]
    );
    // Names are case-sensitive, as in Bifrost; a near miss gets a suggestion.
    assert_eq!(
        errors(r#"{"providers": {"OpenAI": {"keys": [{"value": "k", "weight": 1}]}}}"#),
        [
            "providers.OpenAI: unknown provider; did you mean \"openai\"? custom providers need custom_provider_config.base_provider_type"
        ]
    );
}

#[test]
fn unknown_base_provider_type() {
    let json = r#"{"providers": {"my-llm": {"keys": [],
        "custom_provider_config": {"base_provider_type": "x", "is_key_less": true}}}}"#;
    assert_eq!(
        errors(json),
        [
            r#"providers.my-llm.custom_provider_config.base_provider_type: unknown provider type "x""#
        ]
    );
}

#[test]
fn proxy_types() {
    for (proxy, expected) in [
        (
            r#"{"type": "ftp"}"#,
            r#"providers.openai.proxy_config.type: unknown proxy type "ftp"; expected one of none, http, socks5, environment"#,
        ),
        (
            r#"{"url": "http://p:1"}"#,
            "providers.openai.proxy_config.type: required: one of none, http, socks5, environment",
        ),
        (
            r#"{"type": "socks5"}"#,
            "providers.openai.proxy_config.url: required for proxy type socks5",
        ),
        (
            r#"{"type": "http", "url": "socks5://p:1"}"#,
            "providers.openai.proxy_config.url: not a valid http proxy URL",
        ),
    ] {
        let json = openai_with(&format!(r#""proxy_config": {proxy}"#));
        assert_eq!(errors(&json), [expected], "{proxy}");
    }
    for ok in [
        r#"{"type": "none"}"#,
        r#"{"type": "environment"}"#,
        r#"{"type": "http", "url": "https://proxy.example.com:8443"}"#,
        r#"{"type": "socks5", "url": "socks5h://10.0.0.1:1080", "username": "u", "password": "p"}"#,
    ] {
        let json = openai_with(&format!(r#""proxy_config": {ok}"#));
        assert!(load_str(&json, &no_env).is_ok(), "{ok}");
    }
}

#[test]
fn ollama_needs_a_base_url() {
    assert_eq!(
        errors(r#"{"providers": {"ollama": {"keys": []}}}"#),
        [
            "providers.ollama.network_config.base_url: required for ollama: it has no default address"
        ]
    );
}

#[test]
fn type_errors_name_the_field() {
    let json =
        r#"{"providers": {"openai": {"keys": [{"name": "k", "value": "sk", "weight": "x"}]}}}"#;
    assert_eq!(
        errors(json),
        [r#"providers.openai.keys[0].weight: expected a number, got the string "x""#]
    );
    assert_eq!(
        errors(r#"{"client": {"drop_excess_requests": "yes"}}"#),
        [r#"client.drop_excess_requests: expected true or false, got the string "yes""#]
    );
    assert_eq!(
        errors(r#"{"providers": {"openai": {"keys": {}}}}"#),
        ["providers.openai.keys: expected an array, got an object"]
    );
    assert_eq!(
        errors(r#"{"providers": {"openai": {"network_config": {"max_retries": 1.5}}}}"#),
        [
            "providers.openai.network_config.max_retries: expected a whole number, got the number 1.5"
        ]
    );
}

#[test]
fn duplicate_provider_is_an_error() {
    let json = r#"{"providers": {"openai": {"keys": []}, "openai": {"keys": []}}}"#;
    let got = errors(json);
    assert_eq!(got.len(), 1);
    assert!(got[0].contains(r#"duplicate key "openai""#), "{got:?}");
}

#[test]
fn syntax_errors_keep_their_position() {
    let got = errors("{\n  \"providers\": {\n    \"openai\": {,}\n  }\n}");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("providers.openai: invalid JSON: "),
        "{got:?}"
    );
    assert!(got[0].contains("line 3"), "{got:?}");
}

/// The paths of a file's errors; panics if it loads.
fn error_paths(json: &str) -> Vec<String> {
    match load_str(json, &no_env) {
        Ok(loaded) => panic!("expected errors, loaded: {loaded:#?}"),
        Err(LoadError::Invalid(errors)) => errors.into_iter().map(|e| e.path).collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn protection_that_is_not_enforced_yet_is_an_error_not_a_warning() {
    for (json, path) in [
        (
            r#"{"client": {"required_headers": ["x-team"]}}"#,
            "client.required_headers",
        ),
        (
            r#"{"saml_config": {"enabled": true, "provider": "okta"}}"#,
            "saml_config",
        ),
        (
            r#"{"guardrails_config": {"guardrail_rules": [{"id": 1}]}}"#,
            "guardrails_config",
        ),
    ] {
        assert_eq!(error_paths(json), [path], "{json}");
    }
}

#[test]
fn governance_that_is_enforced_loads() {
    let loaded = load_str(
        r#"{"client": {"enforce_auth_on_inference": true},
            "governance": {
              "rate_limits": [{"id": "r", "request_max_limit": 5, "request_reset_duration": "1m",
                               "token_max_limit": 1000, "token_reset_duration": "1h"}],
              "customers": [{"id": "c", "name": "Acme", "rate_limit_id": "r"}],
              "teams": [{"id": "t", "name": "ML", "customer_id": "c", "rate_limit_id": "r"}],
              "virtual_keys": [{"id": "vk", "value": "sk-bf-1", "team_id": "t", "rate_limit_id": "r",
                                "provider_configs": [{"provider": "openai", "allowed_models": ["gpt-4o"],
                                                      "key_ids": ["k1"], "rate_limit_id": "r"}]}]}}"#,
        &no_env,
    )
    .unwrap();
    let config = loaded.config;
    assert!(config.requires_virtual_key());
    let g = config.governance.unwrap();
    assert_eq!(g.virtual_keys[0].provider_configs[0].keys, ["k1"]);
    assert_eq!(g.rate_limits.len(), 1);

    for (json, required) in [
        (r#"{"client": {"enforce_governance_header": true}}"#, true),
        (r#"{"client": {"enforce_scim_auth": true}}"#, true),
        (
            r#"{"plugins": [{"name": "governance", "enabled": true, "config": {"is_vk_mandatory": true}}]}"#,
            true,
        ),
        (r#"{"governance": {"virtual_keys": []}}"#, false),
    ] {
        let config = load_str(json, &no_env).unwrap().config;
        assert_eq!(config.requires_virtual_key(), required, "{json}");
        assert!(config.governance.is_none(), "{json}");
    }
    // Governance problems are errors at their paths.
    assert_eq!(
        error_paths(
            r#"{"governance": {"virtual_keys": [{"id": "vk", "value": "sk-bf-1", "rate_limit_id": "nope"}]}}"#
        ),
        ["governance.virtual_keys[0].rate_limit_id"]
    );
}

#[test]
fn model_and_provider_limits_and_routing_rules_are_enforced_so_they_load() {
    let loaded = load_str(
        r#"{"governance": {
            "rate_limits": [{"id": "r", "request_max_limit": 1, "request_reset_duration": "1m"}],
            "model_configs": [{"id": "m", "model_name": "gpt-4o", "rate_limit_id": "r"}],
            "providers": [{"name": "openai", "rate_limit_id": "r"}],
            "routing_rules": [{"id": "rr", "cel_expression": "headers[\"x-tier\"] == \"premium\"",
                               "targets": [{"provider": "anthropic", "model": "claude", "weight": 1}]}]}}"#,
        &no_env,
    )
    .unwrap();
    let g = loaded.config.governance.unwrap();
    assert_eq!((g.model_configs.len(), g.providers.len()), (1, 1));
    assert!(loaded.notices.is_empty(), "{:?}", loaded.notices);
}

#[test]
fn a_routing_rule_that_does_not_compile_is_an_error_at_its_expression() {
    let errors = match load_str(
        r#"{"governance": {"routing_rules": [
            {"id": "ok", "targets": [{"provider": "openai", "weight": 1}]},
            {"id": "bad", "cel_expression": "model ==", "targets": [{"provider": "openai", "weight": 0.5}]}]}}"#,
        &no_env,
    ) {
        Err(LoadError::Invalid(errors)) => errors,
        other => panic!("expected errors, got {other:?}"),
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "governance.routing_rules[1].cel_expression",
            "governance.routing_rules[1].targets"
        ]
    );
    assert!(
        errors[0].message.contains("line 1, column"),
        "{}",
        errors[0].message
    );
}

#[test]
fn budgets_are_enforced_so_they_load() {
    let loaded = load_str(
        r#"{"governance": {"budgets": [{"id": "b", "max_limit": 1, "reset_duration": "1d"}],
            "teams": [{"id": "t", "name": "t", "budget_id": "b"}],
            "virtual_keys": [{"id": "vk", "value": "sk-bf-1", "team_id": "t",
                "budgets": [{"id": "b2", "max_limit": 2, "reset_duration": "1h"}],
                "provider_configs": [{"provider": "openai", "budget_id": "b"}]}]}}"#,
        &no_env,
    )
    .unwrap();
    let g = loaded.config.governance.unwrap();
    assert_eq!(g.budgets.len(), 2);
}

#[test]
fn the_published_virtual_keys_example_loads() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../governance/tests/fixtures/example-withvirtualkeys.governance.json"
    ))
    .unwrap();
    // The fixture is the example's `governance` section as published (`{"governance": …}`).
    let loaded = load_str(&text, &|_| Some("set".to_owned())).unwrap();
    let g = loaded.config.governance.unwrap();
    assert_eq!(g.virtual_keys.len(), 2);
    assert!(g.budgets.is_empty());
}

#[test]
fn admin_auth_that_cannot_protect_is_refused() {
    assert_eq!(
        error_paths(r#"{"governance": {"auth_config": {"is_enabled": true}}}"#),
        [
            "governance.auth_config.admin_username",
            "governance.auth_config.admin_password"
        ]
    );
    assert_eq!(
        error_paths(
            r#"{"auth_config": {"is_enabled": true, "admin_username": "a", "admin_password": "env.UNSET_ADMIN_PASSWORD"}}"#
        ),
        ["auth_config.admin_password"]
    );
    let loaded = load_str(
        r#"{"auth_config": {"is_enabled": true, "admin_username": "a", "admin_password": "b"}}"#,
        &no_env,
    )
    .unwrap();
    let auth = loaded.config.auth.unwrap();
    assert!(auth.is_enabled && !auth.disable_auth_on_inference);
    // governance.auth_config, where Bifrost reads it now, wins over the deprecated place.
    let loaded = load_str(
        r#"{"auth_config": {"is_enabled": false}, "governance": {"auth_config": {"is_enabled": true, "admin_username": "g", "admin_password": "p", "disable_auth_on_inference": true}}}"#,
        &no_env,
    )
    .unwrap();
    let auth = loaded.config.auth.unwrap();
    assert_eq!(auth.admin_username, "g");
    assert!(auth.is_enabled && auth.disable_auth_on_inference);
}

#[test]
fn config_store_and_encryption_key_are_checked() {
    assert_eq!(
        error_paths(r#"{"config_store": {"enabled": true, "type": "mysql"}}"#),
        ["config_store.type"]
    );
    assert_eq!(
        error_paths(
            r#"{"config_store": {"enabled": true, "type": "postgres", "config": {"port": "x", "ssl_mode": "sometimes"}}}"#
        ),
        [
            "config_store.config.host",
            "config_store.config.user",
            "config_store.config.db_name",
            "config_store.config.port",
            "config_store.config.ssl_mode"
        ]
    );
    assert_eq!(
        error_paths(r#"{"encryption_key": "env.UNSET_ENCRYPTION_KEY"}"#),
        ["encryption_key"]
    );
    let loaded = load_str(
        r#"{"config_store": {"enabled": true, "type": "postgres", "config": {"host": "db", "port": "6432", "user": "u", "password": "env.PGPW", "db_name": "d", "max_open_conns": 3}}}"#,
        &|v: &str| (v == "PGPW").then(|| "secret".to_owned()),
    )
    .unwrap();
    let asbru_config::StoreChoice::Postgres(pg) = loaded.config.config_store else {
        panic!("postgres expected")
    };
    assert_eq!(
        (
            pg.host.as_str(),
            pg.port,
            pg.max_open_conns,
            pg.ssl_mode.as_str()
        ),
        ("db", 6432, 3, "disable")
    );
    assert!(matches!(
        load_str(
            r#"{"config_store": {"enabled": false, "type": "postgres"}}"#,
            &no_env
        )
        .unwrap()
        .config
        .config_store,
        asbru_config::StoreChoice::Disabled
    ));
    // BIFROST_ENCRYPTION_KEY is read when the file sets none.
    let loaded = load_str("{}", &|v: &str| {
        (v == "BIFROST_ENCRYPTION_KEY").then(|| "k".to_owned())
    })
    .unwrap();
    assert!(loaded.config.encryption_key.is_some());
}

#[test]
fn protection_turned_off_is_fine() {
    for json in [
        r#"{"client": {"enforce_auth_on_inference": false, "required_headers": []}}"#,
        r#"{"auth_config": {"is_enabled": false, "admin_username": "a"}}"#,
        r#"{"governance": {"auth_config": {"is_enabled": false}, "virtual_keys": []}}"#,
        r#"{"plugins": [{"name": "governance", "enabled": false, "config": {"is_vk_mandatory": true}}]}"#,
        r#"{"saml_config": {"enabled": false, "provider": "okta"}}"#,
    ] {
        assert!(load_str(json, &no_env).is_ok(), "{json}");
    }
}

#[test]
fn allowed_origins_are_origins() {
    let loaded = load_str(
        r#"{"client": {"allowed_origins": ["https://App.example.com/", "*", "https://*.acme.test"], "allowed_headers": ["X-Trace"]}}"#,
        &no_env,
    )
    .unwrap();
    assert_eq!(
        loaded.config.client.allowed_origins,
        ["https://app.example.com", "*", "https://*.acme.test"]
    );
    assert_eq!(loaded.config.client.allowed_headers, ["x-trace"]);
    assert_eq!(
        error_paths(r#"{"client": {"allowed_origins": ["not an origin"]}}"#),
        ["client.allowed_origins[0]"]
    );
}

#[test]
fn pricing_override_errors_name_each_field() {
    let got = errors(&openai_with(
        r#""pricing_overrides": [
            {"model_pattern": "gpt-4o", "match_type": "exact", "input_cost_per_token": 1e-6},
            {"model_pattern": "gpt4", "match_type": "wildcard", "request_types": ["chat"],
             "output_cost_per_token": -1, "input_cost": 2},
            {"match_type": "glob"}
        ]"#,
    ));
    assert_eq!(
        got,
        [
            "providers.openai.pricing_overrides[1].input_cost: unknown field",
            "providers.openai.pricing_overrides[1].model_pattern: a wildcard pattern needs a `*` (e.g. \"claude-3*\")",
            "providers.openai.pricing_overrides[1].request_types[0]: unknown request type \"chat\"",
            "providers.openai.pricing_overrides[1].output_cost_per_token: must be a number >= 0 (USD per token)",
            "providers.openai.pricing_overrides[2].model_pattern: required",
            r#"providers.openai.pricing_overrides[2].match_type: unknown match type "glob"; expected "exact", "wildcard" or "regex""#,
        ]
    );
}
