//! Raw file → validated [`Config`], collecting every error with its exact path.
//!
//! Rules follow Bifrost's `config.schema.json` (which Bifrost itself enforces at startup), with a
//! few deliberate leniencies where Bifrost's runtime is lenient too or where refusing would help
//! nobody; each is noted where it is applied. Parts of the file asbru does not act on yet are
//! accepted and reported once each as `NotSupportedYet`.

use crate::env::{EnvValue, resolve};
use crate::error::FieldError;
use crate::model::{
    AzureKeyConfig, BedrockKeyConfig, ClientConfig, ConcurrencyConfig, Config,
    DEFAULT_AZURE_API_VERSION, DEFAULT_AZURE_AUTHORITY_HOST, DEFAULT_AZURE_SCOPE,
    DEFAULT_BEDROCK_REGION, EntraCredentials, HeaderFilter, KeyConfig,
    MIN_PRICING_SYNC_INTERVAL_SECS, NetworkConfig, PluginsConfig, PricingConfig, ProviderConfig,
    ProviderKeyConfig, ProxyConfig, ProxyTarget, VertexKeyConfig, VllmKeyConfig,
};
use crate::notice::{Notice, NoticeKind};
use crate::ordered::OrderedMap;
use crate::raw::{
    Object, RawClient, RawConcurrency, RawConfig, RawCustomProvider, RawFramework, RawKey,
    RawNetworkConfig, RawPlugin, RawProvider, RawProxy,
};
use asbru_schema::KnownProvider;
use secrecy::SecretString;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

mod admin;

/// Bifrost's request type names, as used by `custom_provider_config.allowed_requests` and
/// `request_path_overrides` (from `config.schema.json`).
pub const REQUEST_TYPES: &[&str] = &[
    "list_models",
    "text_completion",
    "text_completion_stream",
    "chat_completion",
    "chat_completion_stream",
    "responses",
    "responses_stream",
    "count_tokens",
    "embedding",
    "rerank",
    "speech",
    "speech_stream",
    "transcription",
    "transcription_stream",
    "image_generation",
    "image_generation_stream",
    "image_edit",
    "image_edit_stream",
    "image_variation",
    "video_generation",
    "video_retrieve",
    "video_download",
    "video_delete",
    "video_list",
    "video_remix",
    "batch_create",
    "batch_list",
    "batch_retrieve",
    "batch_cancel",
    "batch_delete",
    "batch_results",
    "file_upload",
    "file_list",
    "file_retrieve",
    "file_delete",
    "file_content",
    "container_create",
    "container_list",
    "container_retrieve",
    "container_delete",
    "container_file_create",
    "container_file_list",
    "container_file_retrieve",
    "container_file_content",
    "container_file_delete",
    "passthrough",
    "passthrough_stream",
];

/// Validates a parsed file. `notices` are those already raised while parsing (unknown keys).
/// Notices come back whether or not there are errors, so the operator sees everything at once.
pub(crate) fn validate(
    raw: RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
    notices: Vec<Notice>,
) -> (Result<Config, Vec<FieldError>>, Vec<Notice>) {
    let mut v = Validator {
        env,
        errors: Vec::new(),
        notices,
    };

    // `$schema` is informational; any value is fine.
    let encryption_key = v.encryption_key(raw.encryption_key.as_deref());
    let auth = v.auth(
        raw.auth_config.as_ref(),
        raw.governance.as_ref().and_then(|g| g.get("auth_config")),
    );
    let client = v.client(raw.client);
    let pricing = raw.framework.map(|f| v.framework(f)).unwrap_or_default();
    let providers = v.providers(raw.providers.unwrap_or_default());
    let governance = v.governance(raw.governance.as_ref());
    v.section("mcp", raw.mcp.as_ref(), "MCP");
    v.section(
        "vector_store",
        raw.vector_store.as_ref(),
        "the vector store",
    );
    let config_store = v.config_store(raw.config_store.as_ref());
    v.section("logs_store", raw.logs_store.as_ref(), "the logs store");
    v.section("cluster_config", raw.cluster_config.as_ref(), "clustering");
    v.protective_section(
        "saml_config",
        raw.saml_config.as_ref(),
        "SAML single sign-on for the dashboard and admin API",
    );
    v.section(
        "load_balancer_config",
        raw.load_balancer_config.as_ref(),
        "adaptive load balancing",
    );
    v.protective_section(
        "guardrails_config",
        raw.guardrails_config.as_ref(),
        "guardrails",
    );
    let plugins = v.plugins(raw.plugins.unwrap_or_default());
    v.section("audit_logs", raw.audit_logs.as_ref(), "audit logs");
    v.section(
        "large_payload_optimization",
        raw.large_payload_optimization.as_ref(),
        "large payload optimization",
    );
    v.section("websocket", raw.websocket.as_ref(), "WebSocket settings");

    if v.errors.is_empty() {
        (
            Ok(Config {
                client,
                governance,
                providers,
                plugins,
                config_store,
                encryption_key,
                auth,
                pricing,
            }),
            v.notices,
        )
    } else {
        (Err(v.errors), v.notices)
    }
}

/// Labels the request metrics carry already; a custom label may not take one of their names.
const RESERVED_LABELS: &[&str] = &[
    "path",
    "method",
    "status",
    "provider",
    "model",
    "virtual_key_id",
    "virtual_key_name",
    "routing_engine_used",
    "routing_rule_id",
    "routing_rule_name",
    "selected_key_id",
    "selected_key_name",
    "number_of_retries",
    "fallback_index",
    "team_id",
    "team_name",
    "customer_id",
    "customer_name",
];

/// A valid Prometheus label name that is not reserved for Prometheus itself (`__…`).
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

struct Validator<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    errors: Vec<FieldError>,
    notices: Vec<Notice>,
}

impl Validator<'_> {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    fn notice(&mut self, kind: NoticeKind, path: impl Into<String>, message: impl Into<String>) {
        self.notices.push(Notice {
            kind,
            path: path.into(),
            message: message.into(),
        });
    }

    /// One `NotSupportedYet` notice: `what` names the feature the key asks for.
    fn unsupported(&mut self, path: impl Into<String>, what: &str) {
        self.notice(
            NoticeKind::NotSupportedYet,
            path,
            format!("{what}: accepted, but ignored for now"),
        );
    }

    /// A setting whose purpose is protection that asbru does not enforce yet. Such a setting is
    /// never accepted and ignored: a gateway asked to require credentials or cap access must not
    /// serve without them, so the file is refused naming it (`serve` does not start, `config
    /// check` reports an error). When the feature lands, this gives way to enforcement.
    fn unenforced(&mut self, path: impl Into<String>, what: &str) {
        self.error(
            path,
            format!(
                "{what} is a protection asbru does not enforce yet; refusing the file rather \
                 than serving without it (remove the setting to run without this protection)"
            ),
        );
    }

    /// Checks an integer against its schema range; `None` when absent or out of range.
    fn int(&mut self, path: &str, value: Option<i64>, min: i64, max: Option<i64>) -> Option<i64> {
        let v = value?;
        if v >= min && max.is_none_or(|max| v <= max) {
            return Some(v);
        }
        let message = match max {
            Some(max) => format!("must be between {min} and {max}"),
            None => format!("must be >= {min}"),
        };
        self.error(path, message);
        None
    }

    /// An unsupported boolean whose default (and harmless value) is `false`.
    fn unsupported_flag(&mut self, path: &str, value: Option<bool>, what: &str) {
        if value == Some(true) {
            self.unsupported(path, what);
        }
    }

    /// An unsupported integer: range-checked like a supported one, reported when not the default.
    fn unsupported_int(
        &mut self,
        path: &str,
        value: Option<i64>,
        min: i64,
        default: i64,
        what: &str,
    ) {
        if self
            .int(path, value, min, None)
            .is_some_and(|v| v != default)
        {
            self.unsupported(path, what);
        }
    }

    /// An unsupported list, reported when not empty.
    fn unsupported_list(&mut self, path: &str, value: Option<&Vec<String>>, what: &str) {
        if value.is_some_and(|l| !l.is_empty()) {
            self.unsupported(path, what);
        }
    }

    /// A whole section kept as JSON: reported once unless it is empty or explicitly turned off
    /// (`"enabled": false`, or `"disabled": true` for `audit_logs`), since then it asks for nothing.
    fn section(&mut self, path: &str, value: Option<&Object>, what: &str) {
        let Some(obj) = value else { return };
        let off = obj.get("enabled") == Some(&Value::Bool(false))
            || obj.get("disabled") == Some(&Value::Bool(true));
        let parts: Vec<&str> = obj
            .iter()
            .filter(|(_, v)| meaningful(v))
            .map(|(k, _)| k.as_str())
            .collect();
        if off || parts.is_empty() {
            return;
        }
        let what = if matches!(path, "governance" | "mcp") {
            format!("{what} ({})", parts.join(", "))
        } else {
            what.to_owned()
        };
        self.unsupported(path, &what);
    }

    /// A whole section whose purpose is protection (SSO, guardrails): refused unless it is
    /// empty or turned off, like [`Self::section`] reports the others.
    fn protective_section(&mut self, path: &str, value: Option<&Object>, what: &str) {
        let Some(obj) = value else { return };
        let off = obj.get("enabled") == Some(&Value::Bool(false))
            || obj.get("disabled") == Some(&Value::Bool(true));
        if !off && obj.values().any(meaningful) {
            self.unenforced(path, what);
        }
    }

    /// `governance`: parsed whole by [`asbru_governance::parse`] (every issue reported at its
    /// path). Enforced: virtual keys (identity, `is_active`, allowed providers, models and
    /// provider keys), the request and token rate limits and the budgets of keys, their provider
    /// configs, teams and customers, and the ownership that names them (budgets are costed
    /// with the built-in price list). Still refused as unenforced: per-model limits
    /// (`model_configs`) and per-provider limits (`providers`). Routing rules and the
    /// fields the parser does not interpret are reported as not supported yet. `None` when the
    /// section defines no virtual key (nothing can then be attributed to an owner).
    fn governance(
        &mut self,
        value: Option<&Object>,
    ) -> Option<Arc<asbru_governance::model::Governance>> {
        let obj = value?;
        let section = Value::Object(obj.clone());
        let g = match asbru_governance::parse::parse(&section, self.env) {
            Ok(g) => g,
            Err(issues) => {
                for issue in issues {
                    self.error(issue.path, issue.message);
                }
                return None;
            }
        };
        // Compiled again by the engine; compiling here makes a bad expression a config error.
        match asbru_governance::rules::RoutingRules::compile(&g.routing_rules) {
            Ok(rules) => {
                for path in rules.ignored() {
                    self.unsupported(path.clone(), "this routing rule field");
                }
            }
            Err(issues) => {
                for issue in issues {
                    self.error(issue.path, issue.message);
                }
                return None;
            }
        }
        for path in &g.ignored {
            self.unsupported(path.clone(), "this governance field");
        }
        for (i, vk) in g.virtual_keys.iter().enumerate() {
            if !vk.mcp_configs.is_empty() {
                self.unsupported(
                    format!("governance.virtual_keys[{i}].mcp_configs"),
                    "MCP access per virtual key (asbru serves no MCP tools)",
                );
            }
        }
        let enforced = !g.virtual_keys.is_empty()
            || !g.model_configs.is_empty()
            || !g.providers.is_empty()
            || !g.routing_rules.is_empty();
        enforced.then(|| Arc::new(g))
    }

    fn client(&mut self, raw: Option<RawClient>) -> ClientConfig {
        let mut out = ClientConfig::default();
        let Some(c) = raw else { return out };

        if let Some(drop) = c.drop_excess_requests {
            out.drop_excess_requests = drop;
        }
        let path = "client.max_request_body_size_mb";
        if let Some(mb) = self.int(path, c.max_request_body_size_mb, 1, None) {
            match usize::try_from(mb)
                .ok()
                .and_then(|mb| mb.checked_mul(1024 * 1024))
            {
                Some(bytes) => out.max_request_body_size_bytes = bytes,
                None => self.error(path, "too large"),
            }
        }

        self.unsupported_int(
            "client.initial_pool_size",
            c.initial_pool_size,
            1,
            300,
            "the object pool size",
        );
        for (i, label) in c.prometheus_labels.iter().flatten().enumerate() {
            if is_label_name(label) && !RESERVED_LABELS.contains(&label.as_str()) {
                out.prometheus_labels.push(label.clone());
            } else {
                self.error(
                    format!("client.prometheus_labels[{i}]"),
                    format!(
                        "expected a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*) other than the built-in labels ({})",
                        RESERVED_LABELS.join(", ")
                    ),
                );
            }
        }
        for (i, origin) in c.allowed_origins.iter().flatten().enumerate() {
            let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
            let pattern = origin.replacen("*.", "", 1);
            if origin == "*" || origin.starts_with("*.") || is_http_url(&pattern) {
                out.allowed_origins.push(origin);
            } else {
                self.error(
                    format!("client.allowed_origins[{i}]"),
                    "expected \"*\", an origin such as \"https://app.example.com\", or a wildcard such as \"https://*.example.com\"",
                );
            }
        }
        out.allowed_headers = c
            .allowed_headers
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        self.unsupported_flag("client.enable_logging", c.enable_logging, "request logging");
        self.unsupported_flag(
            "client.disable_content_logging",
            c.disable_content_logging,
            "content-free request logging",
        );
        out.disable_db_pings_in_health = c.disable_db_pings_in_health.unwrap_or(false);
        self.unsupported_int(
            "client.log_retention_days",
            c.log_retention_days,
            1,
            365,
            "log retention",
        );
        // Enforced by the governance plugin: a request without a virtual key gets a 401.
        out.enforce_auth_on_inference = [
            c.enforce_governance_header,
            c.enforce_auth_on_inference,
            c.enforce_scim_auth,
        ]
        .contains(&Some(true));
        self.unsupported_flag(
            "client.allow_direct_keys",
            c.allow_direct_keys,
            "provider keys sent by clients",
        );
        self.unsupported_flag(
            "client.enable_litellm_fallbacks",
            c.enable_litellm_fallbacks,
            "LiteLLM fallbacks",
        );
        if let Some(filter) = c.header_filter_config {
            let lower = |l: Option<Vec<String>>| {
                l.unwrap_or_default()
                    .into_iter()
                    .map(|h| h.trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect()
            };
            out.header_filter = HeaderFilter {
                allowlist: lower(filter.allowlist),
                denylist: lower(filter.denylist),
            };
        }
        self.unsupported_int(
            "client.async_job_result_ttl",
            c.async_job_result_ttl,
            1,
            3600,
            "the async job result TTL",
        );
        if c.required_headers.as_ref().is_some_and(|l| !l.is_empty()) {
            self.unenforced("client.required_headers", "requiring headers on requests");
        }
        self.unsupported_list(
            "client.logging_headers",
            c.logging_headers.as_ref(),
            "headers captured into logs",
        );
        self.unsupported_flag(
            "client.hide_deleted_virtual_keys_in_filters",
            c.hide_deleted_virtual_keys_in_filters,
            "log filter settings",
        );
        self.unsupported_int(
            "client.mcp_agent_depth",
            c.mcp_agent_depth,
            1,
            10,
            "the MCP agent depth",
        );
        self.unsupported_int(
            "client.mcp_tool_execution_timeout",
            c.mcp_tool_execution_timeout,
            1,
            30,
            "the MCP tool timeout",
        );
        if let Some(level) = c.mcp_code_mode_binding_level.as_deref() {
            let path = "client.mcp_code_mode_binding_level";
            match level {
                "server" => {}
                "tool" => self.unsupported(path, "the MCP code mode binding level"),
                other => self.error(
                    path,
                    format!("unknown binding level \"{other}\"; expected \"server\" or \"tool\""),
                ),
            }
        }
        self.unsupported_int(
            "client.mcp_tool_sync_interval",
            c.mcp_tool_sync_interval,
            0,
            10,
            "the MCP tool sync interval",
        );
        out
    }

    /// `framework.pricing`: the price list's URL (http or https) and how often it is fetched
    /// (seconds, at least Bifrost's minimum of an hour).
    fn framework(&mut self, f: RawFramework) -> PricingConfig {
        let mut out = PricingConfig::default();
        let Some(pricing) = f.pricing else { return out };
        if let Some(url) = pricing.pricing_url.as_deref().filter(|u| !u.is_empty()) {
            if is_http_url(url) {
                out.url = Some(url.to_owned());
            } else {
                self.error("framework.pricing.pricing_url", "not a valid http(s) URL");
            }
        }
        if let Some(secs) = self.int(
            "framework.pricing.pricing_sync_interval",
            pricing.pricing_sync_interval,
            MIN_PRICING_SYNC_INTERVAL_SECS,
            None,
        ) {
            out.sync_interval = Duration::from_secs(secs.unsigned_abs());
        }
        out
    }

    /// `plugins[]`: the built-ins asbru runs (`telemetry`, `mocker`) are read; others are
    /// notices (Bifrost's names that land later, custom and dynamic plugins), never failures.
    fn plugins(&mut self, plugins: Vec<RawPlugin>) -> PluginsConfig {
        let mut out = PluginsConfig::default();
        for (i, p) in plugins.into_iter().enumerate() {
            let path = format!("plugins[{i}]");
            if let Some(placement) = p.placement.as_deref()
                && !matches!(placement, "pre_builtin" | "post_builtin")
            {
                self.error(
                    format!("{path}.placement"),
                    format!(
                        "unknown placement \"{placement}\"; expected \"pre_builtin\" or \"post_builtin\""
                    ),
                );
            }
            self.int(&format!("{path}.version"), p.version, 1, None);
            let enabled = p.enabled != Some(false);
            match p.name.as_deref().filter(|n| !n.is_empty()) {
                None => self.error(format!("{path}.name"), "required"),
                Some("telemetry") => {
                    out.telemetry = enabled;
                    let config = p.config.as_ref();
                    match config.and_then(|c| c.get("custom_labels")) {
                        None | Some(Value::Null) => {}
                        Some(Value::Array(labels)) => {
                            for (j, label) in labels.iter().enumerate() {
                                match label.as_str() {
                                    Some(l) if is_label_name(l) => {
                                        out.telemetry_custom_labels.push(l.to_owned());
                                    }
                                    _ => self.error(
                                        format!("{path}.config.custom_labels[{j}]"),
                                        "expected a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)",
                                    ),
                                }
                            }
                        }
                        Some(_) => self.error(
                            format!("{path}.config.custom_labels"),
                            "expected a list of label names",
                        ),
                    }
                    if config
                        .and_then(|c| c.get("push_gateway"))
                        .and_then(|g| g.get("enabled"))
                        == Some(&Value::Bool(true))
                    {
                        self.unsupported(
                            format!("{path}.config.push_gateway"),
                            "pushing metrics to a Prometheus Push Gateway (scrape /metrics instead)",
                        );
                    }
                }
                Some("mocker") => {
                    let mut errors = Vec::new();
                    let mocker = crate::mocker::parse(
                        p.config.as_ref(),
                        &format!("{path}.config"),
                        &mut |field, message| errors.push((field, message)),
                    );
                    for (field, message) in errors {
                        self.error(field, message);
                    }
                    if enabled && mocker.enabled {
                        out.mocker = Some(mocker);
                    }
                }
                Some(name) => {
                    let vk_mandatory = p
                        .config
                        .as_ref()
                        .and_then(|c| c.get("is_vk_mandatory"))
                        .is_some_and(|v| v == &Value::Bool(true));
                    if name == "governance" {
                        // Governance is built in; its entry is read only for `is_vk_mandatory`,
                        // enforced by the governance plugin (401 without a virtual key).
                        if enabled && vk_mandatory {
                            out.governance_vk_mandatory = true;
                        }
                        continue;
                    }
                    let state = if enabled {
                        ""
                    } else {
                        " (disabled in the file)"
                    };
                    self.unsupported(path, &format!("plugin \"{name}\"{state}"));
                }
            }
        }
        out
    }

    fn providers(&mut self, providers: OrderedMap<RawProvider>) -> Vec<ProviderConfig> {
        providers
            .into_iter()
            .filter_map(|(name, p)| self.provider(name, p))
            .collect()
    }

    /// One provider; `None` when it has errors (they are recorded).
    fn provider(&mut self, name: String, p: RawProvider) -> Option<ProviderConfig> {
        let errors_before = self.errors.len();
        let path = format!("providers.{name}");
        if name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace) {
            self.error(
                &path,
                "provider names must be non-empty, without '/' or spaces (clients write provider/model)",
            );
        }

        let known = KnownProvider::from_name(&name);
        let mut base = known;
        let mut is_key_less = matches!(known, Some(KnownProvider::Ollama | KnownProvider::Sgl));
        let mut allowed_requests = None;
        let mut request_path_overrides = BTreeMap::new();
        match (known, p.custom_provider_config) {
            (Some(_), None) => {}
            (Some(_), Some(_)) => self.error(
                format!("{path}.custom_provider_config"),
                "only custom providers take custom_provider_config; give this one a name that is \
                 not a built-in provider",
            ),
            (None, None) => {
                let hint = did_you_mean(&name)
                    .map(|known| format!("did you mean \"{known}\"? "))
                    .unwrap_or_default();
                self.error(
                    &path,
                    format!(
                        "unknown provider; {hint}custom providers need \
                         custom_provider_config.base_provider_type"
                    ),
                );
            }
            (None, Some(c)) => {
                let custom = self.custom_provider(&path, c);
                base = custom.base;
                is_key_less = custom.is_key_less.unwrap_or(matches!(
                    base,
                    Some(KnownProvider::Ollama | KnownProvider::Sgl)
                ));
                allowed_requests = custom.allowed_requests;
                request_path_overrides = custom.request_path_overrides;
            }
        }

        // Bifrost lets keys of these providers have no `value`: their credentials are in the
        // provider-specific key config (or, for vLLM, the key is optional).
        let value_optional = is_key_less
            || matches!(
                base,
                Some(
                    KnownProvider::Vertex
                        | KnownProvider::Bedrock
                        | KnownProvider::Azure
                        | KnownProvider::Vllm
                )
            );
        let keys = self.keys(&path, p.keys.unwrap_or_default(), value_optional, base);

        let base_url_given = p
            .network_config
            .as_ref()
            .and_then(|n| n.base_url.as_deref())
            .is_some_and(|u| !u.is_empty());
        let network = self.network(&path, p.network_config);
        if let Some(b @ (KnownProvider::Ollama | KnownProvider::Sgl)) = base
            && !base_url_given
        {
            self.error(
                format!("{path}.network_config.base_url"),
                format!("required for {b}: it has no default address"),
            );
        }
        let concurrency = self.concurrency(&path, p.concurrency_and_buffer_size);
        let proxy = self.proxy(&path, p.proxy_config);

        self.unsupported_flag(
            &format!("{path}.send_back_raw_request"),
            p.send_back_raw_request,
            "raw requests in responses",
        );
        self.unsupported_flag(
            &format!("{path}.send_back_raw_response"),
            p.send_back_raw_response,
            "raw responses in responses",
        );
        self.unsupported_flag(
            &format!("{path}.store_raw_request_response"),
            p.store_raw_request_response,
            "raw request/response logging",
        );
        let pricing_overrides = self.pricing_overrides(&path, p.pricing_overrides);

        let base = base?;
        if self.errors.len() > errors_before {
            return None;
        }
        if keys.is_empty() && !is_key_less && base != KnownProvider::Vllm {
            self.notice(
                NoticeKind::NoUsableKey,
                format!("{path}.keys"),
                "no usable key: requests to this provider will fail until one is configured",
            );
        }
        Some(ProviderConfig {
            is_custom: known.is_none(),
            name,
            base,
            is_key_less,
            keys,
            network,
            concurrency,
            proxy,
            allowed_requests,
            request_path_overrides,
            pricing_overrides,
        })
    }

    /// `providers.<name>.pricing_overrides[]`: each override checked field by field; cost
    /// fields asbru does not price with (images, audio, characters, batches, the 128k tier)
    /// are accepted and reported once each.
    fn pricing_overrides(
        &mut self,
        path: &str,
        raw: Option<Vec<Object>>,
    ) -> asbru_governance::pricing::Overrides {
        use asbru_governance::pricing::{PricingOverride, overrides::UNAPPLIED_FIELDS};
        let mut list = Vec::new();
        for (i, entry) in raw.unwrap_or_default().into_iter().enumerate() {
            let at = format!("{path}.pricing_overrides[{i}]");
            for key in UNAPPLIED_FIELDS {
                if entry.get(*key).is_some_and(|v| !v.is_null()) {
                    self.unsupported(
                        format!("{at}.{key}"),
                        "pricing by this unit (asbru prices tokens)",
                    );
                }
            }
            match PricingOverride::parse(&Value::Object(entry), |t| REQUEST_TYPES.contains(&t)) {
                Ok(o) => list.push(o),
                Err(issues) => {
                    for (field, message) in issues {
                        let field_path = if field.is_empty() {
                            at.clone()
                        } else {
                            format!("{at}.{field}")
                        };
                        self.error(field_path, message);
                    }
                }
            }
        }
        asbru_governance::pricing::Overrides::new(list)
    }

    fn custom_provider(&mut self, path: &str, c: RawCustomProvider) -> CustomProvider {
        let path = format!("{path}.custom_provider_config");
        let base = match c.base_provider_type.as_deref() {
            None | Some("") => {
                self.error(
                    format!("{path}.base_provider_type"),
                    "required for a custom provider: the built-in provider whose API it speaks \
                     (openai, anthropic, gemini, …)",
                );
                None
            }
            Some(t) => {
                let base = KnownProvider::from_name(t);
                if base.is_none() {
                    self.error(
                        format!("{path}.base_provider_type"),
                        format!("unknown provider type \"{t}\""),
                    );
                }
                base
            }
        };
        let allowed_requests = c.allowed_requests.map(|allowed| {
            let mut out = BTreeMap::new();
            for (request_type, on) in allowed {
                self.check_request_type(&format!("{path}.allowed_requests"), &request_type);
                out.insert(request_type, on);
            }
            out
        });
        let mut request_path_overrides = BTreeMap::new();
        for (request_type, target) in c.request_path_overrides.unwrap_or_default() {
            let prefix = format!("{path}.request_path_overrides");
            self.check_request_type(&prefix, &request_type);
            if target.starts_with('/') || is_http_url(&target) {
                request_path_overrides.insert(request_type, target);
            } else {
                self.error(
                    format!("{prefix}.{request_type}"),
                    "must be a path starting with '/' or a full http(s) URL",
                );
            }
        }
        CustomProvider {
            base,
            is_key_less: c.is_key_less,
            allowed_requests,
            request_path_overrides,
        }
    }

    /// A request type name that Bifrost does not know is kept (it may be newer than this list)
    /// but reported, since it is most likely a typo that would silently allow or refuse nothing.
    fn check_request_type(&mut self, prefix: &str, request_type: &str) {
        if !REQUEST_TYPES.contains(&request_type) {
            self.notice(
                NoticeKind::UnknownKey,
                format!("{prefix}.{request_type}"),
                "not a request type asbru or Bifrost knows (a typo?)",
            );
        }
    }

    /// Validates every key and returns the usable ones: disabled keys, keys whose `env.VAR` is
    /// unset and keys without a value (where one is needed) are left out, each with a notice.
    ///
    /// `weight` defaults to 1 when left out: Bifrost's schema requires it, but its runtime treats
    /// a missing weight as present, and a key without one plainly means "an ordinary key".
    fn keys(
        &mut self,
        path: &str,
        raw: Vec<RawKey>,
        value_optional: bool,
        base: Option<KnownProvider>,
    ) -> Vec<KeyConfig> {
        let mut out = Vec::with_capacity(raw.len());
        let mut ids: HashMap<String, usize> = HashMap::new();
        for (i, k) in raw.into_iter().enumerate() {
            let kpath = format!("{path}.keys[{i}]");
            let name = k.name.clone().unwrap_or_default();
            let (id, id_field) = match (k.id.clone().filter(|s| !s.is_empty()), name.is_empty()) {
                (Some(id), _) => (id, ".id"),
                (None, false) => (name.clone(), ".name"),
                (None, true) => (format!("key-{i}"), ""),
            };
            if let Some(first) = ids.get(&id) {
                self.error(
                    format!("{kpath}{id_field}"),
                    format!("duplicate key id \"{id}\" (keys[{first}] has it too)"),
                );
            } else {
                ids.insert(id.clone(), i);
            }
            let weight = match k.weight {
                None => 1.0,
                Some(w) if w > 0.0 && w.is_finite() => w,
                Some(_) => {
                    self.error(format!("{kpath}.weight"), "must be > 0");
                    1.0
                }
            };
            self.unsupported_flag(
                &format!("{kpath}.use_for_batch_api"),
                k.use_for_batch_api,
                "the batch and file APIs",
            );
            let key_configs = [
                (
                    "huggingface_key_config",
                    &k.huggingface_key_config,
                    "Hugging Face key config",
                ),
                (
                    "replicate_key_config",
                    &k.replicate_key_config,
                    "Replicate key config",
                ),
            ];
            for (field, config, what) in key_configs {
                if let Some(config) = config.as_ref().filter(|c| !c.is_empty()) {
                    let field_path = format!("{kpath}.{field}");
                    self.unsupported(&field_path, what);
                    for (name, value) in config {
                        self.missing_env_in(&format!("{field_path}.{name}"), value);
                    }
                }
            }
            let provider_config = self.provider_key_config(&kpath, &k, base);

            if k.enabled == Some(false) {
                self.notice(
                    NoticeKind::Info,
                    &kpath,
                    "disabled (enabled: false); this key is left out",
                );
                continue;
            }
            let vpath = format!("{kpath}.value");
            let value = match resolve(k.value.as_deref().unwrap_or(""), self.env) {
                EnvValue::Literal(v) => Some(v.to_owned()),
                EnvValue::Resolved(v) => Some(v),
                EnvValue::Missing(var) => {
                    self.notice(
                        NoticeKind::MissingEnv,
                        &vpath,
                        format!("environment variable {var} is not set; this key is left out"),
                    );
                    None
                }
                EnvValue::EmptyName => {
                    self.error(&vpath, "\"env.\" needs a variable name (env.MY_VAR)");
                    None
                }
            };
            let Some(value) = value else { continue };
            let Some(provider_config) = provider_config else {
                continue;
            };
            if value.is_empty() && !value_optional {
                self.notice(NoticeKind::Info, &vpath, "no value; this key is left out");
                continue;
            }
            // Bifrost falls back to managed identity (DefaultAzureCredential) here; asbru has
            // no such credential source, so the key could never authenticate.
            if value.is_empty()
                && let ProviderKeyConfig::Azure(azure) = &provider_config
                && azure.entra.is_none()
            {
                self.notice(
                    NoticeKind::Info,
                    &vpath,
                    "no value (api-key) and no Entra ID credentials (client_id, client_secret, \
                     tenant_id); managed identity is not supported, so this key is left out",
                );
                continue;
            }
            out.push(KeyConfig {
                id,
                name,
                value: SecretString::from(value),
                models: k.models.unwrap_or_default(),
                blacklisted_models: k.blacklisted_models.unwrap_or_default(),
                weight,
                provider_config,
            });
        }
        out
    }

    /// The key's provider-specific config, for the provider it belongs to. `None` when the key
    /// cannot be used (a required field missing, or an `env.VAR` unset: both reported).
    fn provider_key_config(
        &mut self,
        kpath: &str,
        k: &RawKey,
        base: Option<KnownProvider>,
    ) -> Option<ProviderKeyConfig> {
        let given = [
            (
                "azure_key_config",
                k.azure_key_config.is_some(),
                KnownProvider::Azure,
            ),
            (
                "vertex_key_config",
                k.vertex_key_config.is_some(),
                KnownProvider::Vertex,
            ),
            (
                "bedrock_key_config",
                k.bedrock_key_config.is_some(),
                KnownProvider::Bedrock,
            ),
            (
                "vllm_key_config",
                k.vllm_key_config.is_some(),
                KnownProvider::Vllm,
            ),
        ];
        for (field, present, owner) in given {
            if present && base != Some(owner) {
                self.notice(
                    NoticeKind::Info,
                    format!("{kpath}.{field}"),
                    format!("only read for {} keys; ignored here", owner.as_str()),
                );
            }
        }
        let mut usable = true;
        let config = match base {
            Some(KnownProvider::Azure) => {
                let p = format!("{kpath}.azure_key_config");
                let Some(raw) = &k.azure_key_config else {
                    self.error(
                        &p,
                        "required for azure keys (endpoint, deployments, api_version)",
                    );
                    return None;
                };
                let endpoint =
                    self.required_str(&p, "endpoint", raw.endpoint.as_deref(), &mut usable);
                let api_version = self
                    .optional_str(
                        &format!("{p}.api_version"),
                        raw.api_version.as_deref(),
                        &mut usable,
                    )
                    .unwrap_or_else(|| DEFAULT_AZURE_API_VERSION.to_owned());
                let deployments = self.string_map(
                    &format!("{p}.deployments"),
                    raw.deployments.as_ref(),
                    &mut usable,
                );
                let client_id = self.optional_str(
                    &format!("{p}.client_id"),
                    raw.client_id.as_deref(),
                    &mut usable,
                );
                let client_secret = self.optional_str(
                    &format!("{p}.client_secret"),
                    raw.client_secret.as_deref(),
                    &mut usable,
                );
                let tenant_id = self.optional_str(
                    &format!("{p}.tenant_id"),
                    raw.tenant_id.as_deref(),
                    &mut usable,
                );
                let entra = match (client_id, client_secret, tenant_id) {
                    (Some(client_id), Some(secret), Some(tenant_id)) => Some(EntraCredentials {
                        authority_host: (self.env)("AZURE_AUTHORITY_HOST")
                            .filter(|h| !h.is_empty())
                            .unwrap_or_else(|| DEFAULT_AZURE_AUTHORITY_HOST.to_owned()),
                        tenant_id,
                        client_id,
                        client_secret: SecretString::from(secret),
                        scopes: raw
                            .scopes
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| vec![DEFAULT_AZURE_SCOPE.to_owned()]),
                    }),
                    (None, None, None) => None,
                    _ => {
                        self.error(
                            &p,
                            "Entra ID needs all of client_id, client_secret and tenant_id",
                        );
                        None
                    }
                };
                ProviderKeyConfig::Azure(AzureKeyConfig {
                    endpoint: endpoint
                        .unwrap_or_default()
                        .trim_end_matches('/')
                        .to_owned(),
                    deployments,
                    api_version,
                    entra,
                })
            }
            Some(KnownProvider::Vertex) => {
                let p = format!("{kpath}.vertex_key_config");
                let Some(raw) = &k.vertex_key_config else {
                    self.error(&p, "required for vertex keys (project_id, region)");
                    return None;
                };
                let project_id =
                    self.required_str(&p, "project_id", raw.project_id.as_deref(), &mut usable);
                let region = self.required_str(&p, "region", raw.region.as_deref(), &mut usable);
                let project_number = self.optional_str(
                    &format!("{p}.project_number"),
                    raw.project_number.as_deref(),
                    &mut usable,
                );
                let auth_credentials = self
                    .optional_str(
                        &format!("{p}.auth_credentials"),
                        raw.auth_credentials.as_deref(),
                        &mut usable,
                    )
                    .map(SecretString::from);
                let deployments = self.string_map(
                    &format!("{p}.deployments"),
                    raw.deployments.as_ref(),
                    &mut usable,
                );
                ProviderKeyConfig::Vertex(VertexKeyConfig {
                    project_id: project_id.unwrap_or_default(),
                    project_number,
                    region: region.unwrap_or_default(),
                    auth_credentials,
                    deployments,
                })
            }
            Some(KnownProvider::Bedrock) => {
                let p = format!("{kpath}.bedrock_key_config");
                let Some(raw) = &k.bedrock_key_config else {
                    // A key with only a `value` is a Bedrock API key, for the default region.
                    return Some(ProviderKeyConfig::Bedrock(BedrockKeyConfig {
                        region: DEFAULT_BEDROCK_REGION.to_owned(),
                        ..BedrockKeyConfig::default()
                    }));
                };
                let region = self.required_str(&p, "region", raw.region.as_deref(), &mut usable);
                let access_key = self.optional_str(
                    &format!("{p}.access_key"),
                    raw.access_key.as_deref(),
                    &mut usable,
                );
                let secret_key = self.optional_str(
                    &format!("{p}.secret_key"),
                    raw.secret_key.as_deref(),
                    &mut usable,
                );
                let session_token = self.optional_str(
                    &format!("{p}.session_token"),
                    raw.session_token.as_deref(),
                    &mut usable,
                );
                if access_key.is_some() != secret_key.is_some() {
                    self.error(&p, "access_key and secret_key go together");
                }
                let arn = self.optional_str(&format!("{p}.arn"), raw.arn.as_deref(), &mut usable);
                for (field, value) in [
                    ("role_arn", &raw.role_arn),
                    ("external_id", &raw.external_id),
                    ("session_name", &raw.session_name),
                ] {
                    if value.as_deref().is_some_and(|v| !v.is_empty()) {
                        self.unsupported(format!("{p}.{field}"), "AssumeRole");
                    }
                }
                if raw.batch_s3_config.as_ref().is_some_and(|c| !c.is_empty()) {
                    self.unsupported(format!("{p}.batch_s3_config"), "the batch API");
                }
                let deployments = self.string_map(
                    &format!("{p}.deployments"),
                    raw.deployments.as_ref(),
                    &mut usable,
                );
                ProviderKeyConfig::Bedrock(BedrockKeyConfig {
                    access_key,
                    secret_key: secret_key.map(SecretString::from),
                    session_token: session_token.map(SecretString::from),
                    region: region.unwrap_or_default(),
                    arn,
                    deployments,
                })
            }
            Some(KnownProvider::Vllm) => match &k.vllm_key_config {
                None => ProviderKeyConfig::None,
                Some(raw) => {
                    let p = format!("{kpath}.vllm_key_config");
                    let url = self.required_str(&p, "url", raw.url.as_deref(), &mut usable);
                    let model_name =
                        self.required_str(&p, "model_name", raw.model_name.as_deref(), &mut usable);
                    ProviderKeyConfig::Vllm(VllmKeyConfig {
                        url: url.unwrap_or_default().trim_end_matches('/').to_owned(),
                        model_name: model_name.unwrap_or_default(),
                    })
                }
            },
            _ => ProviderKeyConfig::None,
        };
        usable.then_some(config)
    }

    /// `parent.field`, resolved; a missing or empty value is an error, an unset `env.VAR` a
    /// notice — either way the key is not `usable`.
    fn required_str(
        &mut self,
        parent: &str,
        field: &str,
        raw: Option<&str>,
        usable: &mut bool,
    ) -> Option<String> {
        let path = format!("{parent}.{field}");
        match raw.filter(|v| !v.is_empty()) {
            None => {
                self.error(&path, "required");
                *usable = false;
                None
            }
            Some(_) => {
                let value = self.optional_str(&path, raw, usable);
                if value.is_none() {
                    *usable = false;
                }
                value
            }
        }
    }

    /// An optional string, resolved when it is `env.VAR`; `None` when absent or empty. An unset
    /// variable is reported and makes the key not `usable`.
    fn optional_str(&mut self, path: &str, raw: Option<&str>, usable: &mut bool) -> Option<String> {
        match resolve(raw.filter(|v| !v.is_empty())?, self.env) {
            EnvValue::Literal(v) => Some(v.to_owned()),
            EnvValue::Resolved(v) => Some(v),
            EnvValue::Missing(var) => {
                self.notice(
                    NoticeKind::MissingEnv,
                    path,
                    format!("environment variable {var} is not set; this key is left out"),
                );
                *usable = false;
                None
            }
            EnvValue::EmptyName => {
                self.error(path, "\"env.\" needs a variable name (env.MY_VAR)");
                *usable = false;
                None
            }
        }
    }

    fn string_map(
        &mut self,
        path: &str,
        raw: Option<&OrderedMap<String>>,
        usable: &mut bool,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (name, value) in raw.map(|m| m.0.as_slice()).unwrap_or_default() {
            if let Some(v) = self.optional_str(&format!("{path}.{name}"), Some(value), usable) {
                out.insert(name.clone(), v);
            }
        }
        out
    }

    /// Reports every `env.VAR` string under `value` whose variable is unset (used for the
    /// provider-specific key configs, whose strings Bifrost resolves the same way).
    fn missing_env_in(&mut self, path: &str, value: &Value) {
        match value {
            Value::String(s) => {
                if let EnvValue::Missing(var) = resolve(s, self.env) {
                    self.notice(
                        NoticeKind::MissingEnv,
                        path,
                        format!("environment variable {var} is not set"),
                    );
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.missing_env_in(&format!("{path}[{i}]"), item);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    self.missing_env_in(&format!("{path}.{k}"), item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn network(&mut self, path: &str, raw: Option<RawNetworkConfig>) -> NetworkConfig {
        let mut n = NetworkConfig::default();
        let Some(r) = raw else { return n };
        let p = |key: &str| format!("{path}.network_config.{key}");

        if let Some(url) = r.base_url.filter(|u| !u.is_empty()) {
            if is_http_url(&url) {
                n.base_url = Some(url.trim_end_matches('/').to_owned());
            } else {
                self.error(p("base_url"), "not a valid http(s) URL");
            }
        }
        for (name, value) in r.extra_headers.unwrap_or_default() {
            let hpath = format!("{}.{name}", p("extra_headers"));
            if !is_header_name(&name) {
                self.error(hpath, "not a valid HTTP header name");
            } else if !is_header_value(&value) {
                self.error(
                    hpath,
                    "header values cannot contain control characters (CR, LF, …)",
                );
            } else {
                n.extra_headers.push((name, value));
            }
        }
        let path = p("default_request_timeout_in_seconds");
        if let Some(s) = self.int(&path, r.default_request_timeout_in_seconds, 1, None) {
            n.request_timeout = Duration::from_secs(s.unsigned_abs());
        }
        let path = p("max_retries");
        if let Some(v) = self.int(&path, r.max_retries, 0, None) {
            match u32::try_from(v) {
                Ok(v) => n.max_retries = v,
                Err(_) => self.error(path, format!("must be <= {}", u32::MAX)),
            }
        }
        let path = p("retry_backoff_initial_ms");
        if let Some(ms) = self.int(&path, r.retry_backoff_initial_ms, 0, None) {
            n.retry_backoff_initial = Duration::from_millis(ms.unsigned_abs());
        }
        let path = p("retry_backoff_max_ms");
        if let Some(ms) = self.int(&path, r.retry_backoff_max_ms, 0, None) {
            n.retry_backoff_max = Duration::from_millis(ms.unsigned_abs());
        }
        if let Some(skip) = r.insecure_skip_verify {
            n.insecure_skip_verify = skip;
        }
        n.ca_cert_pem = self.pem(&p("ca_cert_pem"), r.ca_cert_pem);
        let path = p("stream_idle_timeout_in_seconds");
        if let Some(s) = self.int(&path, r.stream_idle_timeout_in_seconds, 5, Some(3600)) {
            n.stream_idle_timeout = Duration::from_secs(s.unsigned_abs());
        }
        let path = p("max_conns_per_host");
        if let Some(v) = self.int(&path, r.max_conns_per_host, 1, Some(10_000)) {
            n.max_conns_per_host = usize::try_from(v).unwrap_or(usize::MAX);
        }
        n.beta_header_overrides = r
            .beta_header_overrides
            .unwrap_or_default()
            .into_iter()
            .map(|(prefix, allowed)| (prefix.trim().to_owned(), allowed))
            .filter(|(prefix, _)| !prefix.is_empty())
            .collect();
        n
    }

    /// A PEM certificate field: empty means absent; anything else must look like PEM.
    fn pem(&mut self, path: &str, raw: Option<String>) -> Option<String> {
        let pem = raw.filter(|s| !s.trim().is_empty())?;
        if pem.contains("-----BEGIN ") && pem.contains("-----END ") {
            Some(pem)
        } else {
            self.error(
                path,
                "not a PEM certificate (expected -----BEGIN CERTIFICATE----- …)",
            );
            None
        }
    }

    /// Missing values take Bifrost's defaults; the schema requires both, but a file that sets only
    /// one plainly means "the default for the other".
    fn concurrency(&mut self, path: &str, raw: Option<RawConcurrency>) -> ConcurrencyConfig {
        let mut c = ConcurrencyConfig::default();
        let Some(r) = raw else { return c };
        let p = |key: &str| format!("{path}.concurrency_and_buffer_size.{key}");
        if let Some(v) = self.int(&p("concurrency"), r.concurrency, 1, None) {
            c.concurrency = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = self.int(&p("buffer_size"), r.buffer_size, 1, None) {
            c.buffer_size = usize::try_from(v).unwrap_or(usize::MAX);
        }
        c
    }

    fn proxy(&mut self, path: &str, raw: Option<RawProxy>) -> ProxyConfig {
        let Some(r) = raw else {
            return ProxyConfig::None;
        };
        let p = |key: &str| format!("{path}.proxy_config.{key}");
        let kind = match r.kind.as_deref() {
            Some("none") => return ProxyConfig::None,
            Some("environment") => return ProxyConfig::Environment,
            Some(kind @ ("http" | "socks5")) => kind,
            Some(other) => {
                self.error(
                    p("type"),
                    format!(
                        "unknown proxy type \"{other}\"; expected one of none, http, socks5, environment"
                    ),
                );
                return ProxyConfig::None;
            }
            None => {
                self.error(
                    p("type"),
                    "required: one of none, http, socks5, environment",
                );
                return ProxyConfig::None;
            }
        };

        let url = match r.url.as_deref().filter(|u| !u.is_empty()) {
            None => {
                self.error(p("url"), format!("required for proxy type {kind}"));
                None
            }
            Some(url) => {
                let url = proxy_url(kind, url);
                if url.is_none() {
                    self.error(p("url"), format!("not a valid {kind} proxy URL"));
                }
                url
            }
        };
        let password = match r.password.as_deref().map(|pw| resolve(pw, self.env)) {
            None | Some(EnvValue::Literal("")) => None,
            Some(EnvValue::Literal(pw)) => Some(SecretString::from(pw)),
            Some(EnvValue::Resolved(pw)) => Some(SecretString::from(pw)),
            Some(EnvValue::Missing(var)) => {
                self.notice(
                    NoticeKind::MissingEnv,
                    p("password"),
                    format!(
                        "environment variable {var} is not set; the proxy is used without a password"
                    ),
                );
                None
            }
            Some(EnvValue::EmptyName) => {
                self.error(p("password"), "\"env.\" needs a variable name (env.MY_VAR)");
                None
            }
        };
        let ca_cert_pem = self.pem(&p("ca_cert_pem"), r.ca_cert_pem);
        let Some(url) = url else {
            return ProxyConfig::None;
        };
        let target = ProxyTarget {
            url,
            username: r.username.filter(|u| !u.is_empty()),
            password,
            ca_cert_pem,
        };
        if kind == "http" {
            ProxyConfig::Http(target)
        } else {
            ProxyConfig::Socks5(target)
        }
    }
}

/// What a valid `custom_provider_config` contributes.
struct CustomProvider {
    base: Option<KnownProvider>,
    is_key_less: Option<bool>,
    allowed_requests: Option<BTreeMap<String, bool>>,
    request_path_overrides: BTreeMap<String, String>,
}

/// Whether a JSON value asks for anything (empty containers and null do not).
/// The built-in provider `name` was probably meant to be: one that differs only by letter case,
/// or by at most two edits (one for short names).
pub(crate) fn did_you_mean(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    let limit = if lower.chars().count() <= 4 { 1 } else { 2 };
    KnownProvider::ALL
        .iter()
        .map(|p| (levenshtein(&lower, p.as_str()), p.as_str()))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, known)| known)
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn meaningful(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
    }
}

/// An absolute `http://` or `https://` URL with a host.
pub(crate) fn is_http_url(s: &str) -> bool {
    s.trim() == s
        && url::Url::parse(s).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
}

/// Normalises a proxy address: a bare `host:port` gets the scheme of its proxy type; the scheme
/// must fit the type (`http`/`https` for HTTP proxies, `socks5`/`socks5h` for SOCKS5).
fn proxy_url(kind: &str, raw: &str) -> Option<String> {
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("{kind}://{raw}")
    };
    let parsed = url::Url::parse(&with_scheme).ok()?;
    let scheme_fits = match kind {
        "http" => matches!(parsed.scheme(), "http" | "https"),
        _ => matches!(parsed.scheme(), "socks5" | "socks5h"),
    };
    let has_host = parsed.host_str().is_some_and(|h| !h.is_empty());
    (scheme_fits && has_host && raw.trim() == raw).then_some(with_scheme)
}

/// An RFC 9110 field name (a token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A field value without control characters other than tab (no header injection).
fn is_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_catches_case_and_small_typos() {
        assert_eq!(levenshtein("antropic", "anthropic"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(did_you_mean("OpenAI"), Some("openai"));
        assert_eq!(did_you_mean("antropic"), Some("anthropic"));
        assert_eq!(did_you_mean("Gemni"), Some("gemini"));
        assert_eq!(did_you_mean("my-company-llm"), None);
        assert_eq!(did_you_mean("abc"), None);
    }

    #[test]
    fn http_urls() {
        assert!(is_http_url("http://localhost:11434"));
        assert!(is_http_url("https://api.example.com/v1/"));
        assert!(!is_http_url("localhost:11434"));
        assert!(!is_http_url("ftp://example.com"));
        assert!(!is_http_url("http://"));
        assert!(!is_http_url(" http://example.com"));
    }

    #[test]
    fn proxy_urls() {
        assert_eq!(
            proxy_url("http", "proxy.internal:3128").as_deref(),
            Some("http://proxy.internal:3128")
        );
        assert_eq!(
            proxy_url("socks5", "socks5h://10.0.0.1:1080").as_deref(),
            Some("socks5h://10.0.0.1:1080")
        );
        assert_eq!(proxy_url("socks5", "http://10.0.0.1:1080"), None);
        assert_eq!(proxy_url("http", "http://"), None);
    }

    #[test]
    fn header_names_and_values() {
        assert!(is_header_name("OpenAI-Organization"));
        assert!(!is_header_name("Bad Header"));
        assert!(!is_header_name(""));
        assert!(is_header_value("a\tb"));
        assert!(!is_header_value("a\r\nX-Injected: 1"));
    }
}
