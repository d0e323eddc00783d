//! The validated configuration the engine runs on.
//!
//! Everything here is resolved: `env.VAR` references are read, defaults are filled in, weights are
//! checked. The engine never sees the raw `config.json` shape.

use asbru_schema::KnownProvider;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::time::Duration;

/// Bifrost's default for `client.max_request_body_size_mb`.
pub const DEFAULT_MAX_REQUEST_BODY_SIZE_MB: usize = 100;
/// Bifrost's defaults for `network_config` (`core/schemas/provider.go`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_RETRIES: u32 = 0;
pub const DEFAULT_RETRY_BACKOFF_INITIAL: Duration = Duration::from_millis(500);
pub const DEFAULT_RETRY_BACKOFF_MAX: Duration = Duration::from_millis(5000);
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_MAX_CONNS_PER_HOST: usize = 5000;
/// Bifrost's defaults for `concurrency_and_buffer_size`.
pub const DEFAULT_CONCURRENCY: usize = 1000;
pub const DEFAULT_BUFFER_SIZE: usize = 5000;

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub client: ClientConfig,
    /// Providers in the order they appear in the file (then by name for env-derived ones).
    pub providers: Vec<ProviderConfig>,
    /// The built-in plugins the file configures, as `plugins[]` lists them.
    pub plugins: PluginsConfig,
    /// `config_store`: where the configuration is kept once the admin API may change it.
    pub config_store: crate::admin::StoreChoice,
    /// `encryption_key` (or `BIFROST_ENCRYPTION_KEY`): the passphrase that seals the store.
    pub encryption_key: Option<secrecy::SecretString>,
    /// Admin authentication, when configured (enabled or not).
    pub auth: Option<crate::admin::AuthConfig>,
    /// The `governance` section, when it defines at least one virtual key.
    pub governance: Option<std::sync::Arc<asbru_governance::model::Governance>>,
    /// `framework.pricing`: where the model price list is refreshed from.
    pub pricing: PricingConfig,
}

/// Bifrost's default `framework.pricing.pricing_sync_interval` (24 h).
pub const DEFAULT_PRICING_SYNC_INTERVAL: Duration = Duration::from_secs(86_400);
/// Bifrost's smallest `pricing_sync_interval` (1 h).
pub const MIN_PRICING_SYNC_INTERVAL_SECS: i64 = 3600;

/// `framework.pricing`. Without a `pricing_url` the built-in price list is used and nothing is
/// downloaded (asbru does not reach out to Bifrost's default URL on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingConfig {
    /// An http(s) URL serving Bifrost's datasheet (or asbru's catalog format).
    pub url: Option<String>,
    /// Time between downloads.
    pub sync_interval: Duration,
}

impl Default for PricingConfig {
    fn default() -> Self {
        Self {
            url: None,
            sync_interval: DEFAULT_PRICING_SYNC_INTERVAL,
        }
    }
}

impl Config {
    /// Whether an inference request without a virtual key is refused (401):
    /// `client.enforce_auth_on_inference` (or a deprecated alias) or the governance plugin's
    /// `is_vk_mandatory`.
    pub fn requires_virtual_key(&self) -> bool {
        self.client.enforce_auth_on_inference || self.plugins.governance_vk_mandatory
    }
}

/// What `plugins[]` sets for the built-in plugins asbru runs.
#[derive(Debug, Clone)]
pub struct PluginsConfig {
    /// `telemetry`: on unless an entry disables it (Bifrost always loads it).
    pub telemetry: bool,
    /// `telemetry.config.custom_labels`, added to `client.prometheus_labels`.
    pub telemetry_custom_labels: Vec<String>,
    /// `mocker`, when an enabled entry configures it.
    pub mocker: Option<crate::mocker::MockerConfig>,
    /// The governance plugin's `is_vk_mandatory` (on an enabled entry).
    pub governance_vk_mandatory: bool,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            telemetry: true,
            telemetry_custom_labels: Vec::new(),
            mocker: None,
            governance_vk_mandatory: false,
        }
    }
}

impl Config {
    /// The provider clients call `name` (as in `name/model`), if configured.
    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }
}

/// `client` section: what applies to every request regardless of provider.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// When the provider queue is full: `true` answers 429 at once, `false` waits for room.
    pub drop_excess_requests: bool,
    /// Largest accepted request body, in bytes.
    pub max_request_body_size_bytes: usize,
    /// `header_filter_config`: which `x-bf-eh-*` headers reach providers.
    pub header_filter: HeaderFilter,
    /// `allowed_origins`: browser origins allowed besides localhost ones and the gateway's own,
    /// lower case without a trailing `/`: `*`, exact (`https://app.example.com`) or wildcard
    /// (`https://*.example.com`, `*.example.com`).
    pub allowed_origins: Vec<String>,
    /// `allowed_headers`: request headers (lower case) a browser may send cross-origin, besides
    /// the ones every client API needs.
    pub allowed_headers: Vec<String>,
    /// `prometheus_labels`: custom labels on the request metrics, valued per request by the
    /// `x-bf-prom-<label>` header (empty when absent).
    pub prometheus_labels: Vec<String>,
    /// `disable_db_pings_in_health`: `/health` does not ping the config store.
    pub disable_db_pings_in_health: bool,
    /// `enforce_auth_on_inference` (or its deprecated aliases `enforce_governance_header`,
    /// `enforce_scim_auth`): inference requests need a virtual key.
    pub enforce_auth_on_inference: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            drop_excess_requests: false,
            max_request_body_size_bytes: DEFAULT_MAX_REQUEST_BODY_SIZE_MB * 1024 * 1024,
            header_filter: HeaderFilter::default(),
            allowed_origins: Vec::new(),
            allowed_headers: Vec::new(),
            prometheus_labels: Vec::new(),
            disable_db_pings_in_health: false,
            enforce_auth_on_inference: false,
        }
    }
}

/// `client.header_filter_config`: header names (lower case) a client may or may not forward to
/// providers with `x-bf-eh-<name>`. A non-empty allowlist forwards only its names; the denylist
/// then removes names. Credentials and hop-by-hop headers are never forwarded, whatever the lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderFilter {
    pub allowlist: Vec<String>,
    pub denylist: Vec<String>,
}

impl HeaderFilter {
    /// Whether the lists let `name` (lower case) through.
    pub fn allows(&self, name: &str) -> bool {
        (self.allowlist.is_empty() || self.allowlist.iter().any(|a| a == name))
            && !self.denylist.iter().any(|d| d == name)
    }
}

/// One entry of `providers`.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The name clients use in `provider/model` (a known name, or a custom one).
    pub name: String,
    /// The wire behaviour: the provider itself, or `custom_provider_config.base_provider_type`.
    pub base: KnownProvider,
    /// True when `name` is not a known provider (it came with `custom_provider_config`).
    pub is_custom: bool,
    /// `custom_provider_config.is_key_less`: requests go out without an API key.
    pub is_key_less: bool,
    /// Usable keys only (disabled keys and keys whose env var is missing are left out, and
    /// reported as notices).
    pub keys: Vec<KeyConfig>,
    pub network: NetworkConfig,
    pub concurrency: ConcurrencyConfig,
    pub proxy: ProxyConfig,
    /// `custom_provider_config.allowed_requests`; `None` means everything is allowed.
    pub allowed_requests: Option<BTreeMap<String, bool>>,
    /// `custom_provider_config.request_path_overrides`: request type → path or full URL.
    pub request_path_overrides: BTreeMap<String, String>,
    /// `pricing_overrides`: prices replacing the catalog's for this provider's models.
    pub pricing_overrides: asbru_governance::pricing::Overrides,
}

impl ProviderConfig {
    /// Whether a request type (Bifrost's names: `chat_completion`, `chat_completion_stream`,
    /// `text_completion`, `embedding`, `list_models`, …) is allowed for this provider.
    pub fn allows(&self, request_type: &str) -> bool {
        match &self.allowed_requests {
            None => true,
            Some(map) => map.get(request_type).copied().unwrap_or(false),
        }
    }

    /// Whether the provider can serve a request at all: it has a usable key, or needs none
    /// (key-less providers, and vLLM whose key is optional).
    pub fn can_serve(&self) -> bool {
        !self.keys.is_empty() || self.is_key_less || self.base == KnownProvider::Vllm
    }
}

/// One API key of a provider.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// `id` if given, else `name`, else `key-{index}`; what `x-bf-api-key-id` matches.
    pub id: String,
    /// `name` (what `x-bf-api-key` matches); may be empty.
    pub name: String,
    /// The resolved secret. Debug output prints `[REDACTED]`.
    pub value: SecretString,
    /// Allow-list of models; empty means every model.
    pub models: Vec<String>,
    /// Models this key must never serve.
    pub blacklisted_models: Vec<String>,
    /// Relative weight for random selection; > 0.
    pub weight: f64,
    /// The provider-specific part (`azure_key_config`, …), for the providers that have one.
    pub provider_config: ProviderKeyConfig,
}

impl KeyConfig {
    /// Whether this key may serve `model` (the part after `provider/`): its allow and deny
    /// lists, and for vLLM keys the one model their server serves.
    pub fn allows_model(&self, model: &str) -> bool {
        (self.models.is_empty() || self.models.iter().any(|m| m == model))
            && !self.blacklisted_models.iter().any(|m| m == model)
            && match &self.provider_config {
                ProviderKeyConfig::Vllm(v) => v.model_name == model,
                // As in Bifrost, a key with deployments serves only the models mapped there.
                ProviderKeyConfig::Azure(a) => {
                    a.deployments.is_empty() || a.deployments.contains_key(model)
                }
                _ => true,
            }
    }
}

/// Bifrost's provider-specific key settings, resolved (`env.VAR` read, defaults filled in).
#[derive(Debug, Clone, Default)]
pub enum ProviderKeyConfig {
    #[default]
    None,
    Azure(AzureKeyConfig),
    Vertex(VertexKeyConfig),
    Bedrock(BedrockKeyConfig),
    Vllm(VllmKeyConfig),
}

/// Bifrost's default `azure_key_config.api_version`.
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";
/// The token scope of Azure OpenAI for Entra ID credentials.
pub const DEFAULT_AZURE_SCOPE: &str = "https://cognitiveservices.azure.com/.default";

#[derive(Debug, Clone)]
pub struct AzureKeyConfig {
    /// Without a trailing slash.
    pub endpoint: String,
    /// Model → deployment. When empty, every model is sent to a deployment of its own name;
    /// otherwise the key serves only the models listed.
    pub deployments: BTreeMap<String, String>,
    pub api_version: String,
    /// Service-principal credentials; when set, bearer tokens replace the `api-key` header.
    pub entra: Option<EntraCredentials>,
}

impl AzureKeyConfig {
    /// The deployment serving `model`.
    pub fn deployment<'a>(&'a self, model: &'a str) -> &'a str {
        self.deployments.get(model).map_or(model, String::as_str)
    }
}

/// Entra ID's public authority, unless `AZURE_AUTHORITY_HOST` names another (sovereign clouds,
/// tests), as the Azure SDKs do.
pub const DEFAULT_AZURE_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

#[derive(Debug, Clone)]
pub struct EntraCredentials {
    /// `https://login.microsoftonline.com`, or `AZURE_AUTHORITY_HOST`.
    pub authority_host: String,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct VertexKeyConfig {
    pub project_id: String,
    pub project_number: Option<String>,
    /// A region, or `global`.
    pub region: String,
    /// The service-account JSON; `None` means the key's `value` is an API key.
    pub auth_credentials: Option<SecretString>,
    pub deployments: BTreeMap<String, String>,
}

/// The region of a Bedrock key given only as an API key `value`.
pub const DEFAULT_BEDROCK_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Default)]
pub struct BedrockKeyConfig {
    /// With `secret_key`: SigV4 signing. Without: the key's `value` is a Bedrock API key.
    pub access_key: Option<String>,
    pub secret_key: Option<SecretString>,
    pub session_token: Option<SecretString>,
    pub region: String,
    pub arn: Option<String>,
    pub deployments: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct VllmKeyConfig {
    /// Without a trailing slash.
    pub url: String,
    pub model_name: String,
}

/// `network_config`, with Bifrost's defaults filled in.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Overrides the provider's default base URL; no trailing slash.
    pub base_url: Option<String>,
    /// Sent with every upstream request (after the gateway's own headers, so they can override).
    pub extra_headers: Vec<(String, String)>,
    /// Whole-request timeout for non-streaming calls.
    pub request_timeout: Duration,
    pub max_retries: u32,
    pub retry_backoff_initial: Duration,
    pub retry_backoff_max: Duration,
    /// Longest silence allowed between two stream chunks.
    pub stream_idle_timeout: Duration,
    pub max_conns_per_host: usize,
    pub insecure_skip_verify: bool,
    pub ca_cert_pem: Option<String>,
    /// `beta_header_overrides`: Anthropic beta header prefixes to allow (`true`) or strip
    /// (`false`) for this provider, in config order; the longest matching prefix decides.
    pub beta_header_overrides: Vec<(String, bool)>,
}

impl NetworkConfig {
    /// Whether the Anthropic beta `token` may be sent to this provider: the longest matching
    /// override decides, and tokens no override names are sent.
    pub fn allows_beta(&self, token: &str) -> bool {
        beta_allowed(&self.beta_header_overrides, token)
    }
}

/// [`NetworkConfig::allows_beta`] on a copy of the overrides an adapter keeps.
pub fn beta_allowed(overrides: &[(String, bool)], token: &str) -> bool {
    overrides
        .iter()
        .filter(|(prefix, _)| token.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .is_none_or(|(_, allowed)| *allowed)
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            extra_headers: Vec::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_backoff_initial: DEFAULT_RETRY_BACKOFF_INITIAL,
            retry_backoff_max: DEFAULT_RETRY_BACKOFF_MAX,
            stream_idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
            max_conns_per_host: DEFAULT_MAX_CONNS_PER_HOST,
            insecure_skip_verify: false,
            ca_cert_pem: None,
            beta_header_overrides: Vec::new(),
        }
    }
}

/// `concurrency_and_buffer_size`: in-flight permits and the bounded wait queue behind them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcurrencyConfig {
    pub concurrency: usize,
    pub buffer_size: usize,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            buffer_size: DEFAULT_BUFFER_SIZE,
        }
    }
}

/// `proxy_config` for upstream connections.
#[derive(Debug, Clone, Default)]
pub enum ProxyConfig {
    /// Direct connections (also `type: "none"`).
    #[default]
    None,
    /// HTTP CONNECT proxy.
    Http(ProxyTarget),
    /// SOCKS5 proxy.
    Socks5(ProxyTarget),
    /// Use `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` from the environment.
    Environment,
}

/// Where a proxy is and how to log in to it.
#[derive(Debug, Clone)]
pub struct ProxyTarget {
    pub url: String,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub ca_cert_pem: Option<String>,
}
