//! `env.VAR` references in the file, and env-only mode (`from_env`).

use crate::common::{env_of, no_env, notices_of};
use asbru_config::{NoticeKind, from_env, load_str};
use asbru_schema::KnownProvider;
use secrecy::ExposeSecret;

const TWO_KEYS: &str = r#"{"providers": {"openai": {"keys": [
    {"name": "a", "value": "env.TEST_OPENAI_A", "weight": 1},
    {"name": "b", "value": "env.TEST_OPENAI_B", "weight": 3}
]}}}"#;

#[test]
fn env_references_resolve_through_the_given_lookup() {
    let env = env_of(&[("TEST_OPENAI_A", "sk-a"), ("TEST_OPENAI_B", "sk-b")]);
    let loaded = load_str(TWO_KEYS, &env).unwrap();
    let keys = &loaded.config.providers[0].keys;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].value.expose_secret(), "sk-a");
    assert_eq!(keys[1].value.expose_secret(), "sk-b");
    assert!(loaded.notices.is_empty(), "{:?}", loaded.notices);
}

#[test]
fn missing_variable_leaves_the_key_out_with_a_notice() {
    let env = env_of(&[("TEST_OPENAI_B", "sk-b")]);
    let loaded = load_str(TWO_KEYS, &env).unwrap();
    let openai = &loaded.config.providers[0];
    assert_eq!(openai.keys.len(), 1);
    assert_eq!(openai.keys[0].name, "b");

    let missing: Vec<_> = notices_of(&loaded.notices, NoticeKind::MissingEnv).collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].path, "providers.openai.keys[0].value");
    assert!(missing[0].message.contains("TEST_OPENAI_A"));
    assert_eq!(
        missing[0].to_string(),
        "providers.openai.keys[0].value: environment variable TEST_OPENAI_A is not set; \
         this key is left out (missing environment variable)"
    );
}

#[test]
fn all_variables_missing_still_loads() {
    let loaded = load_str(TWO_KEYS, &no_env).unwrap();
    let openai = &loaded.config.providers[0];
    assert!(openai.keys.is_empty());
    assert_eq!(
        notices_of(&loaded.notices, NoticeKind::MissingEnv).count(),
        2
    );
    // And says the provider is left without a key.
    assert!(
        notices_of(&loaded.notices, NoticeKind::NoUsableKey)
            .any(|n| n.path == "providers.openai.keys" && n.message.contains("no usable key"))
    );
}

#[test]
fn empty_variable_counts_as_missing() {
    let env = env_of(&[("TEST_OPENAI_A", ""), ("TEST_OPENAI_B", "sk-b")]);
    let loaded = load_str(TWO_KEYS, &env).unwrap();
    assert_eq!(loaded.config.providers[0].keys.len(), 1);
    assert_eq!(
        notices_of(&loaded.notices, NoticeKind::MissingEnv).count(),
        1
    );
}

#[test]
fn disabled_key_is_not_resolved_or_reported_missing() {
    let json = r#"{"providers": {"openai": {"keys": [
        {"name": "old", "value": "env.TEST_UNSET", "weight": 1, "enabled": false},
        {"name": "new", "value": "sk-new", "weight": 1}]}}}"#;
    let loaded = load_str(json, &no_env).unwrap();
    assert_eq!(loaded.config.providers[0].keys.len(), 1);
    assert_eq!(
        notices_of(&loaded.notices, NoticeKind::MissingEnv).count(),
        0
    );
    let info: Vec<_> = notices_of(&loaded.notices, NoticeKind::Info).collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].path, "providers.openai.keys[0]");
}

#[test]
fn proxy_password_from_env() {
    let json = r#"{"providers": {"openai": {"keys": [{"value": "sk", "weight": 1}],
        "proxy_config": {"type": "http", "url": "http://proxy:3128", "username": "gw",
                         "password": "env.TEST_PROXY_PW"}}}}"#;
    let loaded = load_str(json, &env_of(&[("TEST_PROXY_PW", "pw")])).unwrap();
    let asbru_config::ProxyConfig::Http(proxy) = &loaded.config.providers[0].proxy else {
        panic!("expected an HTTP proxy");
    };
    assert_eq!(proxy.password.as_ref().unwrap().expose_secret(), "pw");

    let loaded = load_str(json, &no_env).unwrap();
    let missing: Vec<_> = notices_of(&loaded.notices, NoticeKind::MissingEnv).collect();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].path, "providers.openai.proxy_config.password");
    assert!(missing[0].message.contains("TEST_PROXY_PW"));
}

#[test]
fn from_env_builds_one_provider_per_variable() {
    let env = env_of(&[
        ("OPENAI_API_KEY", "sk-openai"),
        ("GROQ_API_KEY", " gsk-groq\n"),
        ("HF_TOKEN", "hf-token"),
        ("MISTRAL_API_KEY", ""),
        ("OLLAMA_BASE_URL", "http://localhost:11434/"),
        ("UNRELATED", "x"),
    ]);
    let loaded = from_env(&env);
    let names: Vec<&str> = loaded
        .config
        .providers
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    // Sorted by name; the empty MISTRAL_API_KEY adds nothing.
    assert_eq!(names, ["groq", "huggingface", "ollama", "openai"]);

    let openai = loaded.config.provider("openai").unwrap();
    assert_eq!(openai.base, KnownProvider::OpenAi);
    assert_eq!(openai.keys.len(), 1);
    assert_eq!(openai.keys[0].value.expose_secret(), "sk-openai");
    assert_eq!(openai.keys[0].weight, 1.0);
    assert_eq!(openai.keys[0].id, "OPENAI_API_KEY");
    assert!(openai.keys[0].models.is_empty());

    let groq = loaded.config.provider("groq").unwrap();
    assert_eq!(groq.keys[0].value.expose_secret(), "gsk-groq");

    let hf = loaded.config.provider("huggingface").unwrap();
    assert_eq!(hf.keys[0].value.expose_secret(), "hf-token");

    let ollama = loaded.config.provider("ollama").unwrap();
    assert!(ollama.is_key_less);
    assert!(ollama.keys.is_empty());
    assert_eq!(
        ollama.network.base_url.as_deref(),
        Some("http://localhost:11434")
    );

    assert!(!loaded.config.client.drop_excess_requests);
    assert_eq!(
        loaded.config.client.max_request_body_size_bytes,
        100 * 1024 * 1024
    );

    // One notice per provider, naming its variable.
    assert_eq!(loaded.notices.len(), 4);
    for (provider, var) in [
        ("openai", "OPENAI_API_KEY"),
        ("groq", "GROQ_API_KEY"),
        ("huggingface", "HF_TOKEN"),
        ("ollama", "OLLAMA_BASE_URL"),
    ] {
        assert!(
            loaded
                .notices
                .iter()
                .any(|n| n.path == format!("providers.{provider}") && n.message.contains(var)),
            "no notice for {provider}"
        );
    }
}

#[test]
fn from_env_covers_the_usual_variables() {
    let vars = [
        ("OPENAI_API_KEY", "openai"),
        ("ANTHROPIC_API_KEY", "anthropic"),
        ("GEMINI_API_KEY", "gemini"),
        ("COHERE_API_KEY", "cohere"),
        ("MISTRAL_API_KEY", "mistral"),
        ("GROQ_API_KEY", "groq"),
        ("CEREBRAS_API_KEY", "cerebras"),
        ("OPENROUTER_API_KEY", "openrouter"),
        ("XAI_API_KEY", "xai"),
        ("PERPLEXITY_API_KEY", "perplexity"),
        ("FIREWORKS_API_KEY", "fireworks"),
        ("DEEPSEEK_API_KEY", "deepseek"),
        ("TOGETHER_API_KEY", "together"),
        ("NEBIUS_API_KEY", "nebius"),
        ("PARASAIL_API_KEY", "parasail"),
        ("HUGGINGFACE_API_KEY", "huggingface"),
    ];
    for (var, provider) in vars {
        let loaded = from_env(&env_of(&[(var, "secret")]));
        let names: Vec<&str> = loaded
            .config
            .providers
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, [provider], "{var}");
    }
}

#[test]
fn from_env_with_nothing_set_is_empty() {
    let loaded = from_env(&no_env);
    assert!(loaded.config.providers.is_empty());
    assert!(loaded.notices.is_empty());
}
