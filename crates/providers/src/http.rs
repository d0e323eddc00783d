//! The one HTTP client every adapter uses to reach providers.
//!
//! It owns connection pooling, proxies and TLS options for one provider, so that these policies
//! live in one place and can be instrumented or swapped without touching adapters.

use asbru_config::{NetworkConfig, ProxyConfig, ProxyTarget};
use asbru_schema::GatewayError;
use secrecy::ExposeSecret;
use std::time::Duration;

/// Idle keep-alive connections are closed after this long; providers close theirs after a
/// minute or two, and reusing a connection the server already closed costs a failed request.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// A pooled client configured from a provider's `network_config` and `proxy_config`.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    inner: reqwest::Client,
}

impl UpstreamClient {
    pub fn new(network: &NetworkConfig, proxy: &ProxyConfig) -> Result<Self, GatewayError> {
        let mut builder = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(network.request_timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(network.max_conns_per_host)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("asbru/", env!("CARGO_PKG_VERSION")));
        if network.insecure_skip_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        if let Some(pem) = &network.ca_cert_pem {
            builder = builder.tls_certs_merge(parse_certs(pem, "network_config.ca_cert_pem")?);
        }
        builder = match proxy {
            ProxyConfig::None => builder.no_proxy(),
            ProxyConfig::Environment => builder,
            ProxyConfig::Http(target) | ProxyConfig::Socks5(target) => {
                if let Some(pem) = &target.ca_cert_pem {
                    builder =
                        builder.tls_certs_merge(parse_certs(pem, "proxy_config.ca_cert_pem")?);
                }
                builder.proxy(build_proxy(proxy, target)?)
            }
        };
        let inner = builder
            .build()
            .map_err(|e| GatewayError::internal(format!("building the HTTP client failed: {e}")))?;
        Ok(Self { inner })
    }

    /// The underlying client, for adapters to build requests on.
    pub(crate) fn raw(&self) -> &reqwest::Client {
        &self.inner
    }
}

fn build_proxy(kind: &ProxyConfig, target: &ProxyTarget) -> Result<reqwest::Proxy, GatewayError> {
    let url = match kind {
        ProxyConfig::Socks5(_) if !target.url.starts_with("socks5") => {
            format!("socks5://{}", target.url.trim_start_matches("http://"))
        }
        _ => target.url.clone(),
    };
    let mut proxy = reqwest::Proxy::all(&url).map_err(|e| {
        GatewayError::internal(format!("proxy_config.url is not a valid proxy URL: {e}"))
    })?;
    if let Some(user) = &target.username {
        let password = target
            .password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .unwrap_or_default();
        proxy = proxy.basic_auth(user, &password);
    }
    Ok(proxy)
}

fn parse_certs(pem: &str, field: &str) -> Result<Vec<reqwest::Certificate>, GatewayError> {
    reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .map_err(|e| GatewayError::internal(format!("{field} is not a valid PEM certificate: {e}")))
}
