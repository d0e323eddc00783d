//! The one HTTP client every adapter uses to reach providers.
//!
//! It owns connection pooling, proxies and TLS options for one provider, so these policies live in
//! one place and adapters only build requests.
//!
//! Two engines sit behind it. Direct connections — the default, and what nearly every deployment
//! uses — go through hyper-util's pooled client with rustls (the platform's trust store): the
//! fewest layers between the gateway and the socket, measured in `bench/` to matter for the
//! gateway's CPU per request. Connections through a proxy (`proxy_config`: http, socks5,
//! environment) or with custom TLS trust (`ca_cert_pem`, `insecure_skip_verify`) go through
//! reqwest, which implements those semantics (CONNECT tunnels, absolute-form requests, SOCKS,
//! `NO_PROXY`) completely.

use asbru_config::{NetworkConfig, ProxyConfig, ProxyTarget};
use asbru_schema::GatewayError;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http::{HeaderMap, Method, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use secrecy::ExposeSecret;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Idle keep-alive connections are closed after this long; providers close theirs after a
/// minute or two, and reusing a connection the server already closed costs a failed request.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Largest non-streaming response body accepted from a provider. The biggest legitimate answers
/// are embedding batches (2,048 inputs × 3,072 floats is about 75 MB of JSON); anything past this
/// is a broken or hostile upstream, refused rather than held in memory.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Upper bound on the TCP connect phase (the request timeout bounds it too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled client configured from a provider's `network_config` and `proxy_config`.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    engine: Engine,
    /// Requests go through `proxy_config`; errors say so, so operators look at the proxy too.
    proxied: bool,
}

#[derive(Clone)]
enum Engine {
    Direct(Box<Client<HttpsConnector<HttpConnector>, Full<Bytes>>>),
    Reqwest(reqwest::Client),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Direct(_) => "Direct",
            Self::Reqwest(_) => "Reqwest",
        })
    }
}

/// Where a request goes, parsed once when the config is loaded.
#[derive(Debug, Clone)]
pub struct Target {
    uri: Uri,
    url: reqwest::Url,
}

impl Target {
    pub fn parse(s: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(s).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("unsupported scheme {:?}", url.scheme()));
        }
        let uri = s.parse::<Uri>().map_err(|e| e.to_string())?;
        Ok(Self { uri, url })
    }

    /// A target from a URL built per request (Azure's per-key, per-deployment URLs).
    pub fn from_url(url: reqwest::Url) -> Result<Self, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("unsupported scheme {:?}", url.scheme()));
        }
        let uri = url.as_str().parse::<Uri>().map_err(|e| e.to_string())?;
        Ok(Self { uri, url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

/// A failure to exchange bytes with the provider (as opposed to an error answer from it).
#[derive(Debug)]
pub struct TransportError {
    pub kind: TransportErrorKind,
    /// The innermost cause (refused, reset, …); never contains headers.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportErrorKind {
    Connect,
    Timeout,
    Broken,
}

/// The provider's answer: status now, body when read.
pub struct UpstreamResponse {
    pub status: StatusCode,
    /// `Retry-After` in seconds, when the provider sent it (429 and 503 answers).
    pub retry_after: Option<Duration>,
    /// The response headers of the direct client (the reqwest response keeps its own); read
    /// through [`UpstreamResponse::header`].
    headers: HeaderMap,
    body: ResponseBody,
}

/// Reads `Retry-After` given in seconds (the form providers use; HTTP dates are ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    // `try_`: a provider's `Retry-After: 1e300` must not panic the worker; past what a
    // `Duration` holds it is ignored (waits are capped by the retry policy anyway).
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

#[cfg(test)]
mod retry_after_tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_never_a_panic() {
        let of = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::RETRY_AFTER, v.parse().unwrap());
            retry_after(&h)
        };
        assert_eq!(of("3"), Some(Duration::from_secs(3)));
        assert_eq!(of("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(of("1e300"), None);
        assert_eq!(of("-1"), None);
        assert_eq!(of("NaN"), None);
        assert_eq!(of("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}

enum ResponseBody {
    Direct(hyper::body::Incoming),
    Reqwest(reqwest::Response),
}

/// Body pieces as they arrive.
pub type PieceStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

impl UpstreamResponse {
    /// A response header as text, for the providers that report more than the status in them
    /// (Bedrock's `x-amzn-errortype` and `x-amzn-requestid`); `None` when absent or not text.
    pub fn header(&self, name: &str) -> Option<&str> {
        let headers = match &self.body {
            ResponseBody::Direct(_) => &self.headers,
            ResponseBody::Reqwest(response) => response.headers(),
        };
        headers.get(name)?.to_str().ok()
    }

    /// Reads the whole body, refusing one larger than [`MAX_RESPONSE_BYTES`].
    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        let too_large = || {
            metrics::counter!("asbru_upstream_response_too_large_total").increment(1);
            TransportError {
                kind: TransportErrorKind::Broken,
                message: format!("response body larger than {MAX_RESPONSE_BYTES} bytes"),
            }
        };
        match self.body {
            ResponseBody::Direct(body) => {
                match http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
                    .collect()
                    .await
                {
                    Ok(collected) => Ok(collected.to_bytes()),
                    Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
                    Err(e) => Err(transport_error(TransportErrorKind::Broken, e.as_ref())),
                }
            }
            ResponseBody::Reqwest(mut response) => {
                let mut out = bytes::BytesMut::new();
                while let Some(piece) = response.chunk().await.map_err(|e| from_reqwest(&e))? {
                    if out.len() + piece.len() > MAX_RESPONSE_BYTES {
                        return Err(too_large());
                    }
                    out.extend_from_slice(&piece);
                }
                Ok(out.freeze())
            }
        }
    }

    /// The body as a stream of pieces, each yielded as soon as it arrives.
    pub fn into_stream(self) -> PieceStream {
        match self.body {
            ResponseBody::Direct(body) => Box::pin(
                body.into_data_stream()
                    .map(|r| r.map_err(|e| transport_error(TransportErrorKind::Broken, &e))),
            ),
            ResponseBody::Reqwest(response) => Box::pin(
                response
                    .bytes_stream()
                    .map(|r| r.map_err(|e| from_reqwest(&e))),
            ),
        }
    }
}

impl UpstreamClient {
    pub fn new(network: &NetworkConfig, proxy: &ProxyConfig) -> Result<Self, GatewayError> {
        let direct = matches!(proxy, ProxyConfig::None)
            && !network.insecure_skip_verify
            && network.ca_cert_pem.is_none();
        let engine = if direct {
            Engine::Direct(Box::new(direct_client(network)?))
        } else {
            Engine::Reqwest(reqwest_client(network, proxy)?)
        };
        Ok(Self {
            engine,
            proxied: !matches!(proxy, ProxyConfig::None),
        })
    }

    /// Sends one request. The body is sent as is; `headers` must include `content-type`.
    pub async fn send(
        &self,
        method: Method,
        target: &Target,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<UpstreamResponse, TransportError> {
        match &self.engine {
            Engine::Direct(client) => {
                let mut request = http::Request::new(Full::new(body));
                *request.method_mut() = method;
                *request.uri_mut() = target.uri.clone();
                *request.headers_mut() = headers;
                let response = client.request(request).await.map_err(|e| {
                    let kind = if e.is_connect() {
                        TransportErrorKind::Connect
                    } else {
                        TransportErrorKind::Broken
                    };
                    transport_error(kind, &e)
                })?;
                let (parts, body) = response.into_parts();
                Ok(UpstreamResponse {
                    status: parts.status,
                    retry_after: retry_after(&parts.headers),
                    headers: parts.headers,
                    body: ResponseBody::Direct(body),
                })
            }
            Engine::Reqwest(client) => {
                let response = client
                    .request(method, target.url.clone())
                    .headers(headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        let mut error = from_reqwest(&e);
                        if self.proxied {
                            error.message = format!("through proxy_config: {}", error.message);
                        }
                        error
                    })?;
                Ok(UpstreamResponse {
                    status: response.status(),
                    retry_after: retry_after(response.headers()),
                    headers: HeaderMap::new(),
                    body: ResponseBody::Reqwest(response),
                })
            }
        }
    }
}

fn direct_client(
    network: &NetworkConfig,
) -> Result<Client<HttpsConnector<HttpConnector>, Full<Bytes>>, GatewayError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier)
        .map_err(|e| GatewayError::internal(format!("TLS setup failed: {e}")))?
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(network.request_timeout.min(CONNECT_TIMEOUT)));
    // HTTP/1.1 only, on purpose: hyper's pool keeps a single HTTP/2 connection per host, and
    // providers cap it at ~100 concurrent streams, after which requests queue inside the client
    // (TensorZero documents the same trap). A pool of HTTP/1.1 connections has no such ceiling and
    // is what Bifrost (fasthttp) uses too.
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(network.max_conns_per_host)
        .build(https))
}

fn reqwest_client(
    network: &NetworkConfig,
    proxy: &ProxyConfig,
) -> Result<reqwest::Client, GatewayError> {
    let mut builder = reqwest::Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(network.request_timeout.min(CONNECT_TIMEOUT))
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(network.max_conns_per_host)
        .redirect(reqwest::redirect::Policy::none());
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
                builder = builder.tls_certs_merge(parse_certs(pem, "proxy_config.ca_cert_pem")?);
            }
            builder.proxy(build_proxy(proxy, target)?)
        }
    };
    builder
        .build()
        .map_err(|e| GatewayError::internal(format!("building the HTTP client failed: {e}")))
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

/// Keeps the innermost cause, which says what actually happened (refused, reset, DNS…).
fn transport_error(
    kind: TransportErrorKind,
    err: &(dyn std::error::Error + 'static),
) -> TransportError {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    TransportError {
        kind,
        message: cause.to_string(),
    }
}

fn from_reqwest(err: &reqwest::Error) -> TransportError {
    let kind = if err.is_timeout() {
        TransportErrorKind::Timeout
    } else if err.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Broken
    };
    transport_error(kind, err)
}
