//! The file as written: Bifrost's `config.json`, key for key.
//!
//! These types mirror Bifrost's `config.schema.json` so that any file Bifrost accepts parses here
//! unchanged. Nothing is validated or defaulted at this level: every field is optional so that the
//! validator (not serde) decides what is missing, and can report every problem at once with its
//! path. Integers are `i64` so that a negative number reaches the validator and gets a clear
//! "must be >= 0" instead of serde's "invalid value: integer `-1`, expected u32".
//!
//! Keys asbru does not act on yet are still typed where that is cheap (`client`, `plugins`,
//! `auth_config`, `framework`), so type errors there are caught too; the large sections
//! (`governance`, `mcp`, the stores, the enterprise keys, provider-specific key configs) are kept as
//! JSON objects until their feature lands.
//!
//! The doc comments here become the descriptions of the JSON Schema asbru publishes
//! (`docs/config.schema.json`), so they are written for users of the file.

use crate::ordered::OrderedMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// A JSON object kept as it is (a section asbru does not read yet).
pub(crate) type Object = Map<String, Value>;

/// asbru configuration file: Bifrost's `config.json`, accepted unchanged.
///
/// Keys asbru does not implement yet are accepted and reported as "not supported yet"; unknown
/// keys are reported as warnings; invalid values are rejected with the exact field path.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "a JSON object")]
#[schemars(deny_unknown_fields, title = "asbru config.json")]
pub(crate) struct RawConfig {
    /// The schema this file follows. Bifrost files use "https://www.getbifrost.ai/schema".
    #[serde(rename = "$schema")]
    #[expect(
        dead_code,
        reason = "informational only; parsed so that the schema lists it"
    )]
    pub schema: Option<String>,
    /// Key that encrypts secrets in the config store (literal or `env.VAR`). Not supported yet.
    pub encryption_key: Option<String>,
    /// Dashboard/API authentication. Deprecated by Bifrost in favour of `governance.auth_config`.
    /// Not supported yet.
    pub auth_config: Option<RawAuthConfig>,
    /// Settings that apply to every request, whatever the provider.
    pub client: Option<RawClient>,
    /// Framework settings: where the model price list is refreshed from.
    pub framework: Option<RawFramework>,
    /// The providers requests can be sent to, by name: a built-in provider name (`openai`,
    /// `anthropic`, …) or any other name together with `custom_provider_config`.
    pub providers: Option<OrderedMap<RawProvider>>,
    /// Virtual keys, budgets, rate limits, teams, customers, routing rules. Not supported yet.
    pub governance: Option<Object>,
    /// MCP (Model Context Protocol) clients and tool settings. Not supported yet.
    pub mcp: Option<Object>,
    /// Vector store for the semantic cache. Not supported yet.
    pub vector_store: Option<Object>,
    /// Database that holds the configuration (sqlite or postgres). Not supported yet.
    pub config_store: Option<Object>,
    /// Database that holds request logs (sqlite or postgres). Not supported yet.
    pub logs_store: Option<Object>,
    /// Bifrost Enterprise: clustering. Not supported yet.
    pub cluster_config: Option<Object>,
    /// Bifrost Enterprise: SAML single sign-on. Not supported yet.
    pub saml_config: Option<Object>,
    /// Bifrost Enterprise: adaptive load balancing. Not supported yet.
    pub load_balancer_config: Option<Object>,
    /// Bifrost Enterprise: guardrails. Not supported yet.
    pub guardrails_config: Option<Object>,
    /// Plugins (telemetry, logging, semantic_cache, otel, maxim, custom ones). Not supported yet.
    pub plugins: Option<Vec<RawPlugin>>,
    /// Bifrost Enterprise: audit logs. Not supported yet.
    pub audit_logs: Option<Object>,
    /// Bifrost Enterprise: large payload streaming. Not supported yet.
    pub large_payload_optimization: Option<Object>,
    /// WebSocket limits (Responses WebSocket mode, realtime). Not supported yet.
    pub websocket: Option<Object>,
}

/// Admin authentication (deprecated location; Bifrost now reads `governance.auth_config`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "auth_config")]
pub(crate) struct RawAuthConfig {
    pub admin_username: Option<String>,
    pub admin_password: Option<String>,
    pub is_enabled: Option<bool>,
    pub disable_auth_on_inference: Option<bool>,
}

/// `client`: settings that apply to every request.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "client")]
pub(crate) struct RawClient {
    /// When a provider's queue is full: `true` rejects the request at once (HTTP 429), `false`
    /// waits for room. Default false.
    #[schemars(extend("default" = false))]
    pub drop_excess_requests: Option<bool>,
    /// Largest accepted request body, in MiB. Default 100.
    #[schemars(range(min = 1), extend("default" = 100))]
    pub max_request_body_size_mb: Option<i64>,
    /// Bifrost's object pool size. Not supported yet (asbru has no such pools).
    #[schemars(range(min = 1), extend("default" = 300))]
    pub initial_pool_size: Option<i64>,
    /// Extra Prometheus label names, valued per request by `x-bf-prom-<label>` headers. Not
    /// supported yet.
    pub prometheus_labels: Option<Vec<String>>,
    /// CORS origins allowed besides localhost (`*`, exact origins, `*.example.com`). Not supported
    /// yet.
    pub allowed_origins: Option<Vec<String>>,
    /// Extra headers allowed for CORS and WebSocket. Not supported yet.
    pub allowed_headers: Option<Vec<String>>,
    /// Log every request to the logs store. Not supported yet.
    pub enable_logging: Option<bool>,
    /// Log metadata only, not message content. Not supported yet.
    pub disable_content_logging: Option<bool>,
    /// Leave database pings out of `/health`. Not supported yet.
    #[schemars(extend("default" = false))]
    pub disable_db_pings_in_health: Option<bool>,
    /// Days request logs are kept. Not supported yet.
    #[schemars(range(min = 1), extend("default" = 365))]
    pub log_retention_days: Option<i64>,
    /// Deprecated by Bifrost: use `enforce_auth_on_inference`. Not supported yet.
    pub enforce_governance_header: Option<bool>,
    /// Require a virtual key (or other auth) on inference routes. Not supported yet.
    pub enforce_auth_on_inference: Option<bool>,
    /// Deprecated by Bifrost: use `enforce_auth_on_inference`. Not supported yet.
    pub enforce_scim_auth: Option<bool>,
    /// Accept provider API keys sent directly by clients. Not supported yet.
    pub allow_direct_keys: Option<bool>,
    /// LiteLLM-style fallbacks (text completion as chat for Groq). Not supported yet.
    pub enable_litellm_fallbacks: Option<bool>,
    /// Which `x-bf-eh-*` headers may be forwarded to providers.
    pub header_filter_config: Option<RawHeaderFilterConfig>,
    /// Seconds async job results are kept. Not supported yet.
    #[schemars(range(min = 1), extend("default" = 3600))]
    pub async_job_result_ttl: Option<i64>,
    /// Headers every request must carry (else 400). Not supported yet.
    pub required_headers: Option<Vec<String>>,
    /// Headers captured into log metadata. Not supported yet.
    pub logging_headers: Option<Vec<String>>,
    /// Hide deleted virtual keys in log filters. Not supported yet.
    #[schemars(extend("default" = false))]
    pub hide_deleted_virtual_keys_in_filters: Option<bool>,
    /// Maximum depth of MCP agent mode. Not supported yet.
    #[schemars(range(min = 1), extend("default" = 10))]
    pub mcp_agent_depth: Option<i64>,
    /// Timeout of one MCP tool call, in seconds. Not supported yet.
    #[schemars(range(min = 1), extend("default" = 30))]
    pub mcp_tool_execution_timeout: Option<i64>,
    /// MCP code mode binding level: `server` or `tool`. Not supported yet.
    pub mcp_code_mode_binding_level: Option<String>,
    /// Minutes between MCP tool list refreshes (0 disables). Not supported yet.
    #[schemars(range(min = 0), extend("default" = 10))]
    pub mcp_tool_sync_interval: Option<i64>,
}

/// `client.header_filter_config`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "header_filter_config")]
pub(crate) struct RawHeaderFilterConfig {
    pub allowlist: Option<Vec<String>>,
    pub denylist: Option<Vec<String>>,
}

/// `framework`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "framework")]
pub(crate) struct RawFramework {
    pub pricing: Option<RawPricing>,
}

/// `framework.pricing`: where the model price list comes from.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "pricing_config")]
pub(crate) struct RawPricing {
    pub pricing_url: Option<String>,
    /// Seconds between price list downloads. Default 86400, minimum 3600.
    #[schemars(range(min = 3600), extend("default" = 86400))]
    pub pricing_sync_interval: Option<i64>,
}

/// One entry of `plugins`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "plugin")]
pub(crate) struct RawPlugin {
    pub enabled: Option<bool>,
    /// Built-in (telemetry, logging, governance, maxim, semantic_cache, otel, …) or custom name.
    pub name: Option<String>,
    /// Read only for the protection it may ask for (`governance`'s `is_vk_mandatory`).
    pub config: Option<Value>,
    /// Path of a dynamic plugin (`.so` or `.wasm`).
    #[expect(
        dead_code,
        reason = "parsed for type checking; read once plugins are supported"
    )]
    pub path: Option<String>,
    pub version: Option<i64>,
    /// `pre_builtin` or `post_builtin`.
    pub placement: Option<String>,
    #[expect(
        dead_code,
        reason = "parsed for type checking; read once plugins are supported"
    )]
    pub order: Option<i64>,
}

/// One provider under `providers`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "provider")]
pub(crate) struct RawProvider {
    /// API keys; requests pick one by weight among those allowed for the model. `ollama`, `sgl`,
    /// `vllm` and key-less custom providers may have none.
    pub keys: Option<Vec<RawKey>>,
    pub network_config: Option<RawNetworkConfig>,
    pub concurrency_and_buffer_size: Option<RawConcurrency>,
    pub proxy_config: Option<RawProxy>,
    /// Add the raw provider request to responses. Not supported yet.
    pub send_back_raw_request: Option<bool>,
    /// Add the raw provider response to responses. Not supported yet.
    pub send_back_raw_response: Option<bool>,
    /// Keep raw request/response for logs only. Not supported yet.
    pub store_raw_request_response: Option<bool>,
    /// Makes this a custom provider: a new name with the wire behaviour of `base_provider_type`.
    pub custom_provider_config: Option<RawCustomProvider>,
    /// Per-model price overrides: `model_pattern`, `match_type` (exact, wildcard, regex), `request_types` and the cost fields.
    pub pricing_overrides: Option<Vec<Object>>,
}

/// One key under `providers.<name>.keys`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "key")]
pub(crate) struct RawKey {
    /// Stable identifier (matched by the `x-bf-api-key-id` header). Defaults to `name`.
    pub id: Option<String>,
    /// Name (matched by the `x-bf-api-key` header).
    pub name: Option<String>,
    /// The API key, literally or as `env.VAR`. A key whose variable is unset is left out (with a
    /// notice).
    pub value: Option<String>,
    /// Models this key may serve; empty means all.
    pub models: Option<Vec<String>>,
    /// Models this key must never serve.
    pub blacklisted_models: Option<Vec<String>>,
    /// Relative weight for load balancing; must be > 0. Default 1 when left out.
    #[schemars(extend("exclusiveMinimum" = 0, "default" = 1))]
    pub weight: Option<f64>,
    /// `false` leaves the key out. Default true.
    #[schemars(extend("default" = true))]
    pub enabled: Option<bool>,
    /// Use this key for batch and file APIs. Not supported yet.
    pub use_for_batch_api: Option<bool>,
    /// Free text for operators.
    #[expect(dead_code, reason = "free text for operators; nothing acts on it")]
    pub description: Option<String>,
    /// Azure OpenAI endpoint, deployments, API version, and optionally Entra ID credentials.
    pub azure_key_config: Option<RawAzureKeyConfig>,
    /// Vertex AI project, region, credentials, deployments.
    pub vertex_key_config: Option<RawVertexKeyConfig>,
    /// AWS Bedrock credentials, region, deployments.
    pub bedrock_key_config: Option<RawBedrockKeyConfig>,
    /// vLLM server URL and the model it serves, for this key.
    pub vllm_key_config: Option<RawVllmKeyConfig>,
    /// Hugging Face deployments. Not supported yet.
    pub huggingface_key_config: Option<Object>,
    /// Replicate deployments. Not supported yet.
    pub replicate_key_config: Option<Object>,
}

/// `keys[].azure_key_config`. Strings may be `env.VAR`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "azure_key_config")]
pub(crate) struct RawAzureKeyConfig {
    /// `https://<resource>.openai.azure.com`. Required.
    pub endpoint: Option<String>,
    /// Model name → deployment name. When given, the key serves only these models; when left
    /// out, every model goes to a deployment of its own name.
    pub deployments: Option<OrderedMap<String>>,
    /// `api-version` query parameter. Default `2024-10-21`.
    pub api_version: Option<String>,
    /// Entra ID (service principal) client id; with `client_secret` and `tenant_id`, tokens
    /// replace the `api-key` header.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub tenant_id: Option<String>,
    /// Token scopes. Default `https://cognitiveservices.azure.com/.default`.
    pub scopes: Option<Vec<String>>,
}

/// `keys[].vertex_key_config`. Strings may be `env.VAR`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "vertex_key_config")]
pub(crate) struct RawVertexKeyConfig {
    /// Google Cloud project id. Required.
    pub project_id: Option<String>,
    pub project_number: Option<String>,
    /// `us-central1`, …, or `global`. Required.
    pub region: Option<String>,
    /// A service-account JSON (the whole document, usually `env.VAR`).
    pub auth_credentials: Option<String>,
    /// Model name → endpoint/deployment id.
    pub deployments: Option<OrderedMap<String>>,
}

/// `keys[].bedrock_key_config`. Strings may be `env.VAR`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "bedrock_key_config")]
pub(crate) struct RawBedrockKeyConfig {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub session_token: Option<String>,
    /// AWS region. Required.
    pub region: Option<String>,
    /// Inference profile ARN prefix for model ids.
    pub arn: Option<String>,
    /// AssumeRole settings. Not supported yet.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    /// Model name → model id or inference profile.
    pub deployments: Option<OrderedMap<String>>,
    /// S3 buckets for batch jobs. Not supported yet.
    pub batch_s3_config: Option<Object>,
}

/// `keys[].vllm_key_config`. Strings may be `env.VAR`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "vllm_key_config")]
pub(crate) struct RawVllmKeyConfig {
    /// Base URL of this key's vLLM server. Required.
    pub url: Option<String>,
    /// The model this server serves; the key is used only for it. Required.
    pub model_name: Option<String>,
}

/// `providers.<name>.network_config`: how upstream requests are sent.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "network_config")]
pub(crate) struct RawNetworkConfig {
    /// Replaces the provider's default base URL (required for `ollama` and `sgl`).
    #[schemars(url)]
    pub base_url: Option<String>,
    /// Headers added to every upstream request, in this order.
    pub extra_headers: Option<OrderedMap<String>>,
    /// Timeout of a whole non-streaming request, in seconds. Default 30.
    #[schemars(range(min = 1), extend("default" = 30))]
    pub default_request_timeout_in_seconds: Option<i64>,
    /// Extra attempts after a retryable failure (429, 5xx, network error). Default 0.
    #[schemars(range(min = 0), extend("default" = 0))]
    pub max_retries: Option<i64>,
    /// First retry delay in milliseconds; doubles per attempt. Default 500.
    #[schemars(range(min = 0), extend("default" = 500))]
    pub retry_backoff_initial_ms: Option<i64>,
    /// Largest retry delay in milliseconds. Default 5000.
    #[schemars(range(min = 0), extend("default" = 5000))]
    pub retry_backoff_max_ms: Option<i64>,
    /// Skip TLS certificate verification (last resort; prefer `ca_cert_pem`).
    #[schemars(extend("default" = false))]
    pub insecure_skip_verify: Option<bool>,
    /// PEM CA certificate(s) to trust for this provider.
    pub ca_cert_pem: Option<String>,
    /// Longest silence between two stream chunks, in seconds. Default 60.
    #[schemars(range(min = 5, max = 3600), extend("default" = 60))]
    pub stream_idle_timeout_in_seconds: Option<i64>,
    /// Most TCP connections to the provider host. Default 5000.
    #[schemars(range(min = 1, max = 10000), extend("default" = 5000))]
    pub max_conns_per_host: Option<i64>,
    /// Anthropic beta header prefixes allowed (`true`) or stripped (`false`) for this provider.
    pub beta_header_overrides: Option<OrderedMap<bool>>,
}

/// `providers.<name>.concurrency_and_buffer_size`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "concurrency_config")]
pub(crate) struct RawConcurrency {
    /// Requests in flight to this provider at once. Default 1000.
    #[schemars(range(min = 1), extend("default" = 1000))]
    pub concurrency: Option<i64>,
    /// Requests allowed to wait for a free slot. Default 5000.
    #[schemars(range(min = 1), extend("default" = 5000))]
    pub buffer_size: Option<i64>,
}

/// `providers.<name>.proxy_config`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "proxy_config")]
pub(crate) struct RawProxy {
    /// `none`, `http`, `socks5` or `environment` (use `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`).
    #[schemars(extend("enum" = ["none", "http", "socks5", "environment"]))]
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Proxy address; required for `http` and `socks5`.
    pub url: Option<String>,
    pub username: Option<String>,
    /// Literal or `env.VAR`.
    pub password: Option<String>,
    /// PEM CA certificate of an SSL-intercepting proxy.
    pub ca_cert_pem: Option<String>,
}

/// `providers.<name>.custom_provider_config`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(expecting = "an object")]
#[schemars(deny_unknown_fields, rename = "custom_provider_config")]
pub(crate) struct RawCustomProvider {
    /// The built-in provider whose wire format this provider speaks (`openai`, `anthropic`, …).
    pub base_provider_type: Option<String>,
    /// Send requests without an API key.
    pub is_key_less: Option<bool>,
    /// Request types allowed (`chat_completion`, `embedding`, …); a type left out is refused.
    /// Without this map every type is allowed.
    pub allowed_requests: Option<OrderedMap<bool>>,
    /// Request type → path (starting with `/`) or full URL replacing the default endpoint.
    pub request_path_overrides: Option<OrderedMap<String>>,
}
