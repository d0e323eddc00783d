//! Environment variables: `env.VAR` references in the file, and the provider list taken from the
//! usual `*_API_KEY` variables when there is no file at all.

use crate::model::{
    ClientConfig, ConcurrencyConfig, Config, KeyConfig, NetworkConfig, PluginsConfig,
    ProviderConfig, ProxyConfig,
};
use crate::notice::{Notice, NoticeKind};
use crate::{Loaded, validate};
use asbru_schema::KnownProvider;
use secrecy::SecretString;

/// What a string value of the file turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EnvValue<'a> {
    /// Not an `env.` reference: the value itself.
    Literal(&'a str),
    /// `env.VAR` with `VAR` set (to a non-empty value).
    Resolved(String),
    /// `env.VAR` with `VAR` unset or empty; carries the variable name.
    Missing(&'a str),
    /// `env.` with nothing after it.
    EmptyName,
}

/// Resolves a value that may be written `env.VAR`, as Bifrost does: the `env.` prefix is
/// case-sensitive, and the rest is the variable name. An empty variable counts as unset, since an
/// empty API key or password is never what the operator meant.
pub(crate) fn resolve<'a>(value: &'a str, env: &dyn Fn(&str) -> Option<String>) -> EnvValue<'a> {
    let Some(var) = value.strip_prefix("env.") else {
        return EnvValue::Literal(value);
    };
    if var.is_empty() {
        return EnvValue::EmptyName;
    }
    match env(var) {
        Some(v) if !v.is_empty() => EnvValue::Resolved(v),
        _ => EnvValue::Missing(var),
    }
}

/// Provider API key variables read by [`from_env`], in the order they are tried. When a provider
/// has several (`HUGGINGFACE_API_KEY`, `HF_TOKEN`), the first one set wins.
pub const ENV_PROVIDER_KEYS: &[(&str, KnownProvider)] = &[
    ("OPENAI_API_KEY", KnownProvider::OpenAi),
    ("ANTHROPIC_API_KEY", KnownProvider::Anthropic),
    ("GEMINI_API_KEY", KnownProvider::Gemini),
    ("GOOGLE_API_KEY", KnownProvider::Gemini),
    ("COHERE_API_KEY", KnownProvider::Cohere),
    ("CO_API_KEY", KnownProvider::Cohere),
    ("MISTRAL_API_KEY", KnownProvider::Mistral),
    ("GROQ_API_KEY", KnownProvider::Groq),
    ("CEREBRAS_API_KEY", KnownProvider::Cerebras),
    ("OPENROUTER_API_KEY", KnownProvider::OpenRouter),
    ("XAI_API_KEY", KnownProvider::Xai),
    ("PERPLEXITY_API_KEY", KnownProvider::Perplexity),
    ("FIREWORKS_API_KEY", KnownProvider::Fireworks),
    ("DEEPSEEK_API_KEY", KnownProvider::DeepSeek),
    ("TOGETHER_API_KEY", KnownProvider::Together),
    ("NEBIUS_API_KEY", KnownProvider::Nebius),
    ("PARASAIL_API_KEY", KnownProvider::Parasail),
    ("HUGGINGFACE_API_KEY", KnownProvider::HuggingFace),
    ("HF_TOKEN", KnownProvider::HuggingFace),
    ("ELEVENLABS_API_KEY", KnownProvider::Elevenlabs),
    ("REPLICATE_API_TOKEN", KnownProvider::Replicate),
    ("RUNWAYML_API_SECRET", KnownProvider::Runway),
];

/// Base URL variables read by [`from_env`], each only because the provider's official SDK reads
/// it too: `OPENAI_BASE_URL` (openai-python, openai-node), `ANTHROPIC_BASE_URL` (anthropic SDKs),
/// `GROQ_BASE_URL` (groq SDKs), `CEREBRAS_BASE_URL` (cerebras-cloud-sdk). The value sets the
/// provider's `network_config.base_url`. The OpenAI SDKs' value includes `/v1` (the SDK appends
/// `/chat/completions`), while asbru's paths start with `/v1`: a trailing `/v1` is therefore
/// dropped from `OPENAI_BASE_URL`, with a notice.
pub const ENV_BASE_URLS: &[(&str, KnownProvider)] = &[
    ("OPENAI_BASE_URL", KnownProvider::OpenAi),
    ("ANTHROPIC_BASE_URL", KnownProvider::Anthropic),
    ("GROQ_BASE_URL", KnownProvider::Groq),
    ("CEREBRAS_BASE_URL", KnownProvider::Cerebras),
];

/// The variable that adds a key-less `ollama` provider in env-only mode.
pub const OLLAMA_BASE_URL_VAR: &str = "OLLAMA_BASE_URL";

/// Builds a configuration from environment variables alone, for running with no config file:
/// each provider whose API key variable is set gets one key (weight 1, named after the variable),
/// and `OLLAMA_BASE_URL` adds a key-less `ollama`. Everything else takes Bifrost's defaults.
/// Providers come sorted by name; each gets an `Info` notice saying which variable it came from.
pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Loaded {
    let mut notices = Vec::new();
    let mut providers: Vec<ProviderConfig> = Vec::new();

    for &(var, provider) in ENV_PROVIDER_KEYS {
        if providers.iter().any(|p| p.base == provider) {
            continue;
        }
        let Some(value) = env(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        else {
            continue;
        };
        let mut p = bare_provider(provider);
        if let Some(&(url_var, _)) = ENV_BASE_URLS.iter().find(|(_, b)| *b == provider)
            && let Some(url) = env(url_var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        {
            let path = format!("providers.{}", provider.as_str());
            if !validate::is_http_url(&url) {
                notices.push(Notice {
                    kind: NoticeKind::Info,
                    path,
                    message: format!(
                        "left out: environment variable {url_var} is not a valid http(s) URL"
                    ),
                });
                continue;
            }
            let mut url = url.trim_end_matches('/').to_owned();
            if provider == KnownProvider::OpenAi
                && let Some(stripped) = url.strip_suffix("/v1")
            {
                url = stripped.to_owned();
                notices.push(Notice {
                    kind: NoticeKind::Info,
                    path: path.clone(),
                    message: format!(
                        "{url_var} ends in /v1 as the OpenAI SDKs expect; asbru's paths already \
                         start with /v1, so the base URL used is {url}"
                    ),
                });
            }
            notices.push(Notice {
                kind: NoticeKind::Info,
                path: format!("{path}.network_config.base_url"),
                message: format!("taken from environment variable {url_var}"),
            });
            p.network.base_url = Some(url);
        }
        p.keys.push(KeyConfig {
            id: var.to_owned(),
            name: var.to_owned(),
            value: SecretString::from(value),
            models: Vec::new(),
            blacklisted_models: Vec::new(),
            weight: 1.0,
            provider_config: Default::default(),
        });
        notices.push(Notice {
            kind: NoticeKind::Info,
            path: format!("providers.{}", provider.as_str()),
            message: format!("taken from environment variable {var}"),
        });
        providers.push(p);
    }

    if let Some(url) = env(OLLAMA_BASE_URL_VAR)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        let path = "providers.ollama".to_owned();
        if validate::is_http_url(&url) {
            let mut p = bare_provider(KnownProvider::Ollama);
            p.is_key_less = true;
            p.network.base_url = Some(url.trim_end_matches('/').to_owned());
            providers.push(p);
            notices.push(Notice {
                kind: NoticeKind::Info,
                path,
                message: format!("taken from environment variable {OLLAMA_BASE_URL_VAR}"),
            });
        } else {
            notices.push(Notice {
                kind: NoticeKind::Info,
                path,
                message: format!(
                    "left out: environment variable {OLLAMA_BASE_URL_VAR} is not a valid http(s) URL"
                ),
            });
        }
    }

    providers.sort_by(|a, b| a.name.cmp(&b.name));
    Loaded {
        config: Config {
            client: ClientConfig::default(),
            providers,
            plugins: PluginsConfig::default(),
            config_store: crate::admin::StoreChoice::Default,
            encryption_key: env("BIFROST_ENCRYPTION_KEY")
                .filter(|k| !k.is_empty())
                .map(secrecy::SecretString::from),
            auth: None,
            governance: None,
            pricing: crate::model::PricingConfig::default(),
        },
        notices,
    }
}

/// A built-in provider with defaults everywhere and no keys.
fn bare_provider(provider: KnownProvider) -> ProviderConfig {
    ProviderConfig {
        name: provider.as_str().to_owned(),
        base: provider,
        is_custom: false,
        is_key_less: false,
        keys: Vec::new(),
        network: NetworkConfig::default(),
        concurrency: ConcurrencyConfig::default(),
        proxy: ProxyConfig::None,
        allowed_requests: None,
        request_path_overrides: Default::default(),
        pricing_overrides: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn resolve_literal_and_env() {
        let env = env_of(&[("SET", "v"), ("EMPTY", "")]);
        assert_eq!(resolve("sk-123", &env), EnvValue::Literal("sk-123"));
        assert_eq!(resolve("env.SET", &env), EnvValue::Resolved("v".into()));
        assert_eq!(resolve("env.EMPTY", &env), EnvValue::Missing("EMPTY"));
        assert_eq!(resolve("env.UNSET", &env), EnvValue::Missing("UNSET"));
        assert_eq!(resolve("env.", &env), EnvValue::EmptyName);
        // The prefix is case-sensitive, as in Bifrost.
        assert_eq!(resolve("ENV.SET", &env), EnvValue::Literal("ENV.SET"));
    }

    #[test]
    fn first_variable_of_a_provider_wins() {
        let env = env_of(&[("HF_TOKEN", "hf-2"), ("HUGGINGFACE_API_KEY", "hf-1")]);
        let loaded = from_env(&env);
        assert_eq!(loaded.config.providers.len(), 1);
        assert_eq!(
            loaded.config.providers[0].keys[0].name,
            "HUGGINGFACE_API_KEY"
        );
        assert_eq!(loaded.notices.len(), 1);
    }

    #[test]
    fn sdk_base_url_variables_set_the_base_url() {
        let loaded = from_env(&env_of(&[
            ("OPENAI_API_KEY", "sk-1"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
            ("ANTHROPIC_API_KEY", "sk-2"),
            ("ANTHROPIC_BASE_URL", "https://proxy.example"),
            ("GROQ_API_KEY", "gsk"),
            ("GROQ_BASE_URL", "not a url"),
        ]));
        let urls: Vec<(&str, Option<&str>)> = loaded
            .config
            .providers
            .iter()
            .map(|p| (p.name.as_str(), p.network.base_url.as_deref()))
            .collect();
        assert_eq!(
            urls,
            [
                ("anthropic", Some("https://proxy.example")),
                ("openai", Some("http://127.0.0.1:9")),
            ]
        );
        assert!(loaded.notices.iter().any(|n| {
            n.path == "providers.groq"
                && n.message
                    .contains("GROQ_BASE_URL is not a valid http(s) URL")
        }));
    }

    #[test]
    fn bad_ollama_url_is_left_out_with_a_notice() {
        let loaded = from_env(&env_of(&[("OLLAMA_BASE_URL", "localhost:11434")]));
        assert!(loaded.config.providers.is_empty());
        assert_eq!(loaded.notices.len(), 1);
        assert!(
            loaded.notices[0]
                .message
                .contains("not a valid http(s) URL")
        );
    }
}
