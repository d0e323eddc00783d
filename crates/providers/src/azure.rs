//! The adapter for Azure OpenAI: the OpenAI dialect, forwarded untouched like
//! [`crate::OpenAiCompatible`] does, to a URL and with credentials that belong to the key.
//!
//! Every Azure key names its own resource (`azure_key_config.endpoint`), API version and
//! deployments, so the target of a request is only known once the engine picked the key and
//! the model: `{endpoint}/openai/deployments/{deployment}/{chat/completions|completions|embeddings}
//! ?api-version={api_version}`, as Azure's data-plane inference API documents it and Bifrost
//! builds it. `network_config.base_url`, when set, replaces every key's endpoint (private
//! endpoints, tests). The body is the one the engine rewrote (`model` without the provider
//! prefix); Azure routes by the deployment in the path and does not read `model`.
//!
//! Keys authenticate with `api-key: <value>`, or, when they carry Entra ID client credentials
//! (`client_id`, `client_secret`, `tenant_id`), with `Authorization: Bearer <token>` from a
//! [`TokenSource`] per key, fetched once and cached until shortly before it expires.
//!
//! The OpenAI-compatible path pays nothing for this: per-request URLs and async auth live here,
//! in their own adapter, while both share [`Upstream`] for the exchange itself.

use crate::Operation;
use crate::common::{self, Upstream};
use crate::http::{ResponseLimits, Target};
use crate::oauth::TokenSource;
use crate::openai_compatible::ByteStream;
use asbru_config::{KeyConfig, ProviderConfig, ProviderKeyConfig};
use asbru_schema::GatewayError;
use bytes::Bytes;
use http::Method;
use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The header Azure OpenAI reads API keys from.
pub const API_KEY_HEADER: &str = "api-key";

/// Reaches one Azure OpenAI provider. What does not depend on the request (each key's endpoint,
/// API version, deployments and credentials) is prepared when the config is loaded; a request
/// builds only its URL.
#[derive(Debug)]
pub struct Azure {
    upstream: Upstream,
    /// `content-type`, `user-agent`, then `network_config.extra_headers`.
    headers: HeaderMap,
    /// One per `ProviderConfig::keys` entry, same order.
    keys: Vec<AzureKey>,
}

#[derive(Debug)]
struct AzureKey {
    /// The key's endpoint, or `network_config.base_url`; the API path is appended to it.
    endpoint: url::Url,
    api_version: String,
    /// Model → deployment; empty means each model is its own deployment.
    deployments: BTreeMap<String, String>,
    auth: Auth,
}

impl AzureKey {
    fn deployment<'a>(&'a self, model: &'a str) -> &'a str {
        self.deployments.get(model).map_or(model, String::as_str)
    }
}

#[derive(Debug)]
enum Auth {
    /// `api-key`, marked sensitive.
    ApiKey(HeaderValue),
    /// Entra ID client credentials: `Authorization: Bearer <token>`.
    Entra(TokenSource),
}

impl Azure {
    /// Prepares every key. Fails on a key without `azure_key_config` (the config layer refuses
    /// those already) or whose endpoint is not an http(s) URL, naming the key.
    pub fn new(provider: &ProviderConfig, limits: &ResponseLimits) -> Result<Self, GatewayError> {
        let upstream = Upstream::new(provider, limits)?;
        let token_client = Arc::new(upstream.client.clone());
        let base_url = provider
            .network
            .base_url
            .as_deref()
            .filter(|u| !u.is_empty());
        let keys = provider
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let invalid = |why: String| {
                    GatewayError::invalid_request(
                        format!("providers.{}.keys[{i}]: {why}", provider.name),
                        None,
                    )
                };
                let ProviderKeyConfig::Azure(config) = &key.provider_config else {
                    return Err(invalid(
                        "azure_key_config is required for azure keys".into(),
                    ));
                };
                let raw = base_url.unwrap_or(&config.endpoint);
                let endpoint = url::Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && !u.cannot_be_a_base())
                    .ok_or_else(|| {
                        invalid(format!(
                            "azure endpoint {raw:?} is not an http(s) URL \
                             (azure_key_config.endpoint or network_config.base_url)"
                        ))
                    })?;
                let auth = match &config.entra {
                    Some(entra) => Auth::Entra(TokenSource::entra(
                        &provider.name,
                        entra,
                        Arc::clone(&token_client),
                        provider.network.request_timeout,
                    )?),
                    None => Auth::ApiKey(common::secret_header(
                        key.value.expose_secret(),
                        key,
                        &provider.name,
                    )?),
                };
                Ok(AzureKey {
                    endpoint,
                    api_version: config.api_version.clone(),
                    deployments: config.deployments.clone(),
                    auth,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            upstream,
            headers: common::base_headers(provider)?,
            keys,
        })
    }

    /// Chat and text completions, embeddings and model listing: the deployment routes Azure
    /// serves in the OpenAI dialect.
    pub fn supports(&self, op: Operation) -> bool {
        matches!(
            op,
            Operation::ChatCompletion
                | Operation::TextCompletion
                | Operation::Embedding
                | Operation::ListModels
        )
    }

    /// The key's prepared settings, the headers carrying its credentials (fetching an Entra ID
    /// token when the cached one is stale) and its value, to scrub from errors.
    async fn authorize(
        &self,
        key: Option<usize>,
    ) -> Result<(&AzureKey, HeaderMap, Option<&str>), GatewayError> {
        let Some(index) = key else {
            return Err(GatewayError::invalid_request(
                format!(
                    "provider '{}' needs a key: azure keys carry the endpoint and credentials",
                    self.upstream.name
                ),
                None,
            )
            .with_provider(&self.upstream.name));
        };
        let prepared = self.keys.get(index).ok_or_else(|| {
            GatewayError::internal(format!(
                "provider '{}': key {index} is not in the adapter",
                self.upstream.name
            ))
        })?;
        let mut headers = self.headers.clone();
        let secret = match &prepared.auth {
            Auth::ApiKey(value) => {
                headers.insert(HeaderName::from_static(API_KEY_HEADER), value.clone());
                value.to_str().ok()
            }
            Auth::Entra(tokens) => {
                headers.insert(AUTHORIZATION, tokens.authorization().await?);
                None
            }
        };
        Ok((prepared, headers, secret))
    }

    /// `{endpoint}/openai/deployments/{deployment}/{op}?api-version=…` (or `/openai/models`).
    /// The deployment is one percent-encoded path segment, so no model name can reach another
    /// path of the resource.
    fn target(&self, key: &AzureKey, op: Operation, model: &str) -> Result<Target, GatewayError> {
        let tail: &[&str] = match op {
            Operation::ChatCompletion => &["chat", "completions"],
            Operation::TextCompletion => &["completions"],
            Operation::Embedding => &["embeddings"],
            Operation::ListModels
            | Operation::CountTokens
            | Operation::Rerank
            | Operation::Responses => &[],
        };
        let mut url = key.endpoint.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| {
                GatewayError::internal("azure endpoint cannot take a path".to_owned())
            })?;
            path.pop_if_empty();
            if op == Operation::ListModels {
                path.extend(["openai", "models"]);
            } else {
                let deployment = key.deployment(model);
                if matches!(deployment, "" | "." | "..") {
                    return Err(GatewayError::invalid_request(
                        format!("{deployment:?} is not an Azure deployment name"),
                        Some("model"),
                    )
                    .with_provider(&self.upstream.name));
                }
                path.extend(["openai", "deployments", deployment]);
                path.extend(tail);
            }
        }
        url.query_pairs_mut()
            .append_pair("api-version", &key.api_version);
        Target::from_url(url).map_err(|e| {
            GatewayError::internal(format!(
                "provider '{}': invalid upstream URL: {e}",
                self.upstream.name
            ))
        })
    }

    /// Sends an OpenAI-dialect body to the deployment serving `model` on the chosen key, and
    /// returns Azure's answer untouched.
    pub async fn send(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<Bytes, GatewayError> {
        if !self.supports(op) || op == Operation::ListModels {
            return Err(self.upstream.unsupported(op));
        }
        let (prepared, mut headers, secret) = self.authorize(key.map(|(i, _)| i)).await?;
        common::add_forwarded(&mut headers, forward);
        let target = self.target(prepared, op, model)?;
        self.upstream
            .exchange(Method::POST, &target, headers, body, secret)
            .await
    }

    /// Starts a stream from the deployment serving `model`; the SSE bytes are Azure's.
    pub async fn send_stream(
        &self,
        op: Operation,
        key: Option<(usize, &KeyConfig)>,
        model: &str,
        body: Bytes,
        forward: &HeaderMap,
    ) -> Result<ByteStream, GatewayError> {
        if !self.supports(op) || op == Operation::ListModels {
            return Err(self.upstream.unsupported(op));
        }
        let (prepared, mut headers, secret) = self.authorize(key.map(|(i, _)| i)).await?;
        common::add_forwarded(&mut headers, forward);
        let target = self.target(prepared, op, model)?;
        self.upstream.stream(&target, headers, body, secret).await
    }

    /// The models clients can ask this provider for. Keys with `deployments` serve exactly the
    /// models mapped there, so those are listed from the config (each with its `deployment`),
    /// without a request. When a key has no deployments (each model is its own deployment), the
    /// resource's `GET {endpoint}/openai/models` is asked too, through that key. Bifrost does the
    /// same filtering and backfilling; unlike Bifrost, asbru lists the resource's models for such
    /// keys rather than nothing.
    pub async fn list_models(
        &self,
        key: Option<(usize, &KeyConfig)>,
    ) -> Result<Vec<serde_json::Value>, GatewayError> {
        let mut seen = HashSet::new();
        let mut models = Vec::new();
        for k in &self.keys {
            for (model, deployment) in &k.deployments {
                if seen.insert(model.clone()) {
                    models.push(serde_json::json!({
                        "id": model,
                        "object": "model",
                        "created": 0,
                        "owned_by": "azure",
                        "deployment": deployment,
                    }));
                }
            }
        }
        if !self.keys.iter().any(|k| k.deployments.is_empty()) {
            return Ok(models);
        }
        // The key the engine offered when it has no deployments, else the first such key.
        let index = key
            .map(|(i, _)| i)
            .filter(|&i| self.keys.get(i).is_some_and(|k| k.deployments.is_empty()))
            .or_else(|| self.keys.iter().position(|k| k.deployments.is_empty()));
        let (prepared, headers, secret) = self.authorize(index).await?;
        let target = self.target(prepared, Operation::ListModels, "")?;
        let body = self
            .upstream
            .exchange(Method::GET, &target, headers, Bytes::new(), secret)
            .await?;
        #[derive(serde::Deserialize)]
        struct List {
            data: Vec<serde_json::Value>,
        }
        let list: List = serde_json::from_slice(&body).map_err(|e| self.malformed(&e))?;
        for mut model in list.data {
            let Some(object) = model.as_object_mut() else {
                continue;
            };
            let Some(id) = object.get("id").and_then(|v| v.as_str()).map(str::to_owned) else {
                continue;
            };
            if !seen.insert(id) {
                continue;
            }
            // Azure names the creation time `created_at`; OpenAI clients read `created`.
            if !object.contains_key("created") {
                let created = object.get("created_at").cloned().unwrap_or(0.into());
                object.insert("created".to_owned(), created);
            }
            object.entry("object").or_insert_with(|| "model".into());
            object.entry("owned_by").or_insert_with(|| "azure".into());
            models.push(model);
        }
        Ok(models)
    }

    /// The provider answered 2xx with a body that is not what the API promises.
    pub fn malformed(&self, err: &dyn std::fmt::Display) -> GatewayError {
        self.upstream.malformed(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn azure(endpoint: &str, base_url: Option<&str>) -> Azure {
        let mut network = serde_json::json!({});
        if let Some(url) = base_url {
            network["base_url"] = url.into();
        }
        let config = serde_json::json!({"providers": {"azure": {
            "keys": [{"name": "k", "value": "secret-key", "azure_key_config": {
                "endpoint": endpoint, "api_version": "2024-06-01",
                "deployments": {"gpt-4o": "prod 4o"}}}],
            "network_config": network
        }}});
        let loaded = asbru_config::load_str(&config.to_string(), &|_: &str| None).unwrap();
        Azure::new(&loaded.config.providers[0], &ResponseLimits::default()).unwrap()
    }

    #[test]
    fn urls_keep_the_endpoint_path_and_encode_the_deployment() {
        let a = azure("https://gw.example.com/azure/", None);
        let key = &a.keys[0];
        let url = |op, model| a.target(key, op, model).unwrap().as_str().to_owned();
        assert_eq!(
            url(Operation::ChatCompletion, "gpt-4o"),
            "https://gw.example.com/azure/openai/deployments/prod%204o/chat/completions?api-version=2024-06-01"
        );
        assert_eq!(
            url(Operation::Embedding, "a/b?c"),
            "https://gw.example.com/azure/openai/deployments/a%2Fb%3Fc/embeddings?api-version=2024-06-01"
        );
        assert_eq!(
            url(Operation::ListModels, ""),
            "https://gw.example.com/azure/openai/models?api-version=2024-06-01"
        );
        assert!(a.target(key, Operation::TextCompletion, "..").is_err());
    }

    #[test]
    fn base_url_replaces_the_endpoint_and_bad_endpoints_are_refused() {
        let a = azure("https://x.openai.azure.com", Some("http://127.0.0.1:9/"));
        let url = a
            .target(&a.keys[0], Operation::TextCompletion, "m")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9/openai/deployments/m/completions?api-version=2024-06-01"
        );
        let config = serde_json::json!({"providers": {"azure": {"keys": [{"name": "k",
            "value": "v", "azure_key_config": {"endpoint": "not a url"}}]}}});
        let loaded = asbru_config::load_str(&config.to_string(), &|_: &str| None).unwrap();
        let err = Azure::new(&loaded.config.providers[0], &ResponseLimits::default()).unwrap_err();
        assert!(
            err.message().contains("providers.azure.keys[0]"),
            "{}",
            err.message()
        );
        assert!(!format!("{:?}", azure("https://x", None)).contains("secret-key"));
    }
}
