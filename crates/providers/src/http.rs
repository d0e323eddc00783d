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

/// Default for the largest non-streaming answer accepted from a provider (`asbru serve
/// --max-upstream-response-mb`).
///
/// Why 32 MiB: the biggest legitimate non-streaming answers are embedding batches. A typical big
/// batch — 2,048 inputs (OpenAI's per-request maximum) of 1,536-dimension vectors as
/// `encoding_format: "base64"` (what the OpenAI SDKs request by default) — is 2,048 × 1,536 × 4
/// bytes × 4/3 ≈ 17 MB; the same batch as JSON floats (~12 characters each) is ~38 MB, and
/// 3,072-dimension models as JSON floats reach ~75 MB. Chat, rerank and model-list answers are
/// kilobytes to a few megabytes. 32 MiB passes every base64 batch and float batches up to ~1,400
/// vectors of 1,536 dimensions, while a broken or hostile upstream costs at most 32 MiB per
/// request; deployments sending maximal float batches raise the flag (e.g. to 128).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = DEFAULT_MAX_RESPONSE_MB * 1024 * 1024;

/// [`DEFAULT_MAX_RESPONSE_BYTES`] in MiB, as the flag takes it.
pub const DEFAULT_MAX_RESPONSE_MB: usize = 32;

/// Default budget of bytes buffered from providers' answers at once, over all requests together
/// (`asbru serve --max-buffered-upstream-mb`): eight maximal answers at the default cap.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = DEFAULT_MAX_BUFFERED_MB * 1024 * 1024;

/// [`DEFAULT_MAX_BUFFERED_BYTES`] in MiB, as the flag takes it.
pub const DEFAULT_MAX_BUFFERED_MB: usize = 256;

/// The budget is counted in KiB, so a `u32` acquisition covers any single answer.
const BUDGET_UNIT: usize = 1024;

/// How much of providers' non-streaming answers asbru holds in memory: at most `max_response`
/// bytes for one answer, and at most the budget's size over all answers being buffered at once.
///
/// Built once per process (by the engine's `Gateway`) and cloned into every provider's
/// [`UpstreamClient`], so the budget is shared by all providers and outlives config reloads.
///
/// The budget reserves an answer's bytes as they arrive (or all at once from its
/// `Content-Length`) and keeps them reserved for as long as the buffered answer exists: the
/// [`Bytes`] returned by [`UpstreamResponse::bytes`] carries the reservation, so it is released
/// when the last reference to that buffer is dropped — after the adapter has parsed or
/// translated it, or, for an answer passed through, once the engine has built the client's
/// answer from it. What parsing allocates besides (JSON trees, the translated answer) is not
/// counted. An answer that does not fit in what is left of the budget fails at once
/// ([`TransportErrorKind::BufferFull`]) instead of waiting: waiting while holding part of the
/// budget could deadlock two large answers against each other, and the provider has already
/// done the work, so the client is told plainly.
#[derive(Debug, Clone)]
pub struct ResponseLimits {
    max_response: usize,
    budget: Arc<Budget>,
}

#[derive(Debug)]
struct Budget {
    units: Arc<tokio::sync::Semaphore>,
    /// The budget's size in bytes (a whole number of units).
    bytes: usize,
}

impl Default for ResponseLimits {
    /// The defaults, with a budget of its own (the gateway makes one and shares it).
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_BUFFERED_BYTES)
    }
}

impl ResponseLimits {
    /// At most `max_response` bytes per answer and `max_buffered` bytes (rounded up to a KiB)
    /// buffered at once over all answers sharing these limits (clones share the budget).
    pub fn new(max_response: usize, max_buffered: usize) -> Self {
        let units = max_buffered
            .div_ceil(BUDGET_UNIT)
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            max_response: max_response.max(1),
            budget: Arc::new(Budget {
                units: Arc::new(tokio::sync::Semaphore::new(units)),
                bytes: units * BUDGET_UNIT,
            }),
        }
    }

    /// The largest answer accepted, in bytes.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response
    }

    /// The budget's size in bytes.
    pub fn max_buffered_bytes(&self) -> usize {
        self.budget.bytes
    }

    /// Bytes reserved by answers being buffered now (whole KiB per answer).
    pub fn buffered_bytes(&self) -> usize {
        (self.budget.bytes / BUDGET_UNIT - self.budget.units.available_permits()) * BUDGET_UNIT
    }

    fn reserve(&self) -> Reservation {
        Reservation {
            budget: Arc::clone(&self.budget),
            permit: None,
            units: 0,
        }
    }
}

/// The part of the budget one answer holds; given back (and the gauge lowered) on drop.
#[derive(Debug)]
struct Reservation {
    budget: Arc<Budget>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    units: usize,
}

impl Reservation {
    /// Makes the reservation cover `bytes`; fails at once when the budget has not that much left.
    fn cover(&mut self, bytes: usize) -> Result<(), TransportError> {
        let needed = bytes.div_ceil(BUDGET_UNIT);
        if needed <= self.units {
            return Ok(());
        }
        let full = || {
            metrics::counter!("asbru_upstream_buffer_full_total").increment(1);
            TransportError {
                kind: TransportErrorKind::BufferFull {
                    budget: self.budget.bytes,
                },
                message: format!(
                    "{} bytes of upstream answers are already buffered (budget {} bytes)",
                    (self.budget.bytes / BUDGET_UNIT - self.budget.units.available_permits())
                        * BUDGET_UNIT,
                    self.budget.bytes
                ),
            }
        };
        let more = needed - self.units;
        let permit = u32::try_from(more)
            .ok()
            .and_then(|n| {
                Arc::clone(&self.budget.units)
                    .try_acquire_many_owned(n)
                    .ok()
            })
            .ok_or_else(full)?;
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
        self.units = needed;
        metrics::gauge!("asbru_upstream_buffered_bytes").increment((more * BUDGET_UNIT) as f64);
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.units > 0 {
            metrics::gauge!("asbru_upstream_buffered_bytes")
                .decrement((self.units * BUDGET_UNIT) as f64);
        }
    }
}

/// A whole answer and the budget it holds, as the owner of the [`Bytes`] handed out.
struct Buffered {
    data: BufferedData,
    _reservation: Reservation,
}

enum BufferedData {
    /// The answer arrived in one piece, kept without a copy.
    One(Bytes),
    Many(Vec<u8>),
}

impl AsRef<[u8]> for Buffered {
    fn as_ref(&self) -> &[u8] {
        match &self.data {
            BufferedData::One(b) => b,
            BufferedData::Many(v) => v,
        }
    }
}

/// Upper bound on the TCP connect phase (the request timeout bounds it too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pooled client configured from a provider's `network_config` and `proxy_config`.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    engine: Engine,
    limits: ResponseLimits,
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

    /// The URL without query string, fragment or credentials: safe to show in an error.
    pub fn display_url(&self) -> String {
        let mut url = self.url.clone();
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.to_string()
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
    /// The answer is larger than [`ResponseLimits::max_response_bytes`] (`limit`).
    TooLarge {
        limit: usize,
    },
    /// Buffering the answer would exceed the budget shared by all answers (`budget` bytes).
    BufferFull {
        budget: usize,
    },
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
    limits: ResponseLimits,
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

    /// The body's length as the provider announced it (`Content-Length`), if it did.
    fn announced_len(&self) -> Option<u64> {
        match &self.body {
            ResponseBody::Direct(body) => hyper::body::Body::size_hint(body).exact(),
            ResponseBody::Reqwest(response) => response.content_length(),
        }
    }

    /// Reads the whole body within the [`ResponseLimits`] of the client: refused at once when its
    /// `Content-Length` is over the per-answer cap (nothing is read), and as soon as the cap is
    /// passed otherwise; refused too when the shared budget cannot hold it. The returned buffer
    /// keeps its share of the budget until it is dropped.
    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        let limits = self.limits.clone();
        let max = limits.max_response;
        let too_large = || {
            metrics::counter!("asbru_upstream_response_too_large_total").increment(1);
            TransportError {
                kind: TransportErrorKind::TooLarge { limit: max },
                message: format!("response body larger than {max} bytes"),
            }
        };
        let announced = self.announced_len();
        let mut reservation = limits.reserve();
        let mut data = BufferedData::Many(Vec::new());
        if let Some(len) = announced {
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > max {
                // Dropping the unread body closes the connection instead of draining it.
                return Err(too_large());
            }
            reservation.cover(len)?;
            if len > 0 {
                data = BufferedData::Many(Vec::with_capacity(len));
            }
        }
        let mut pieces = self.into_stream();
        let mut received = 0usize;
        while let Some(piece) = pieces.next().await {
            let piece = piece?;
            if piece.is_empty() {
                continue;
            }
            received = received.saturating_add(piece.len());
            if received > max {
                return Err(too_large());
            }
            reservation.cover(received)?;
            data = match data {
                BufferedData::Many(v) if v.capacity() == 0 && announced.is_none() => {
                    BufferedData::One(piece)
                }
                BufferedData::Many(mut v) => {
                    v.extend_from_slice(&piece);
                    BufferedData::Many(v)
                }
                BufferedData::One(first) => {
                    let mut v = Vec::with_capacity(received);
                    v.extend_from_slice(&first);
                    v.extend_from_slice(&piece);
                    BufferedData::Many(v)
                }
            };
        }
        if received == 0 {
            return Ok(Bytes::new());
        }
        Ok(Bytes::from_owner(Buffered {
            data,
            _reservation: reservation,
        }))
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
    /// A client for one provider; `limits` bound the answers it buffers (share one
    /// [`ResponseLimits`] between all clients so its budget is global).
    pub fn new(
        network: &NetworkConfig,
        proxy: &ProxyConfig,
        limits: &ResponseLimits,
    ) -> Result<Self, GatewayError> {
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
            limits: limits.clone(),
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
                    limits: self.limits.clone(),
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
                    limits: self.limits.clone(),
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

#[cfg(test)]
#[expect(clippy::disallowed_methods, reason = "tests spawn freely")]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn display_url_drops_query_and_credentials() {
        let target =
            Target::parse("https://user:pw@host.example/v1/v1/models?key=secret#f").unwrap();
        assert_eq!(target.display_url(), "https://host.example/v1/v1/models");
    }

    const MIB: usize = 1024 * 1024;

    /// How the raw test server answers every request.
    #[derive(Clone, Copy)]
    enum Answer {
        /// Announces this `Content-Length`, sends 1 KiB of it and then nothing (the connection
        /// stays open): reading the body would hang.
        Announced(usize),
        /// A chunked body of 64 KiB chunks that never ends.
        Endless,
        /// A whole body of this length with its `Content-Length`.
        Exact(usize),
    }

    /// A bare HTTP/1.1 server, so the test controls the exact bytes on the wire.
    async fn raw_server(answer: Answer) -> Target {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/embeddings", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let piece = vec![b' '; 64 * 1024];
                    match answer {
                        Answer::Announced(len) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(&piece[..1024]).await;
                            tokio::time::sleep(Duration::from_secs(60)).await;
                        }
                        Answer::Endless => {
                            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                            let _ = socket.write_all(head.as_bytes()).await;
                            let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
                            chunk.extend_from_slice(&piece);
                            chunk.extend_from_slice(b"\r\n");
                            while socket.write_all(&chunk).await.is_ok() {}
                        }
                        Answer::Exact(len) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
                            );
                            let _ = socket.write_all(head.as_bytes()).await;
                            let _ = socket.write_all(&vec![b' '; len]).await;
                        }
                    }
                });
            }
        });
        Target::parse(&url).unwrap()
    }

    /// Both engines: the direct hyper client, and reqwest (taken for custom TLS settings).
    fn clients(limits: &ResponseLimits) -> [(&'static str, UpstreamClient); 2] {
        let reqwest_network = NetworkConfig {
            insecure_skip_verify: true,
            ..NetworkConfig::default()
        };
        let direct = UpstreamClient::new(&NetworkConfig::default(), &ProxyConfig::None, limits);
        let reqwest = UpstreamClient::new(&reqwest_network, &ProxyConfig::None, limits);
        let (direct, reqwest) = (direct.unwrap(), reqwest.unwrap());
        assert!(matches!(direct.engine, Engine::Direct(_)));
        assert!(matches!(reqwest.engine, Engine::Reqwest(_)));
        [("direct", direct), ("reqwest", reqwest)]
    }

    async fn read(client: &UpstreamClient, target: &Target) -> Result<Bytes, TransportError> {
        let response = client
            .send(Method::POST, target, HeaderMap::new(), Bytes::new())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), response.bytes())
            .await
            .expect("reading the answer was not stopped")
    }

    /// An announced length over the cap is refused without reading the body (the server then
    /// stalls, so reading would hang); a chunked answer that never ends is cut off as soon as it
    /// passes the cap.
    #[tokio::test]
    async fn answers_over_the_cap_are_refused_announced_or_chunked() {
        for answer in [Answer::Announced(2 * MIB), Answer::Endless] {
            let limits = ResponseLimits::new(MIB, 8 * MIB);
            let target = raw_server(answer).await;
            for (engine, client) in clients(&limits) {
                let err = read(&client, &target).await.unwrap_err();
                assert_eq!(
                    err.kind,
                    TransportErrorKind::TooLarge { limit: MIB },
                    "{engine}: {err:?}"
                );
                assert_eq!(limits.buffered_bytes(), 0, "{engine}");
            }
        }
    }

    #[tokio::test]
    async fn answers_up_to_the_cap_are_read_whole() {
        let limits = ResponseLimits::new(MIB, 8 * MIB);
        let target = raw_server(Answer::Exact(MIB)).await;
        for (engine, client) in clients(&limits) {
            let body = read(&client, &target).await.unwrap();
            assert_eq!(body.len(), MIB, "{engine}");
            assert_eq!(
                limits.buffered_bytes(),
                MIB,
                "{engine}: held while the body lives"
            );
            drop(body);
            assert_eq!(limits.buffered_bytes(), 0, "{engine}");
        }
    }

    #[tokio::test]
    async fn answers_that_together_exceed_the_budget_are_refused_and_the_budget_recovers() {
        // Each answer fits the cap, two together do not fit the shared budget.
        let limits = ResponseLimits::new(MIB, MIB + MIB / 2);
        let announced = raw_server(Answer::Exact(MIB)).await;
        let endless = raw_server(Answer::Endless).await;
        for (engine, client) in clients(&limits) {
            let first = read(&client, &announced).await.unwrap();
            assert_eq!(limits.buffered_bytes(), MIB, "{engine}");
            // Refused up front from its Content-Length…
            let err = read(&client, &announced).await.unwrap_err();
            assert_eq!(
                err.kind,
                TransportErrorKind::BufferFull {
                    budget: MIB + MIB / 2
                },
                "{engine}: {err:?}"
            );
            // …or while its pieces arrive, once they pass what is left.
            let err = read(&client, &endless).await.unwrap_err();
            assert!(
                matches!(err.kind, TransportErrorKind::BufferFull { .. }),
                "{engine}: {err:?}"
            );
            assert_eq!(limits.buffered_bytes(), MIB, "{engine}");
            drop(first);
            assert_eq!(limits.buffered_bytes(), 0, "{engine}");
            // With the first answer gone, the next one fits again.
            let again = read(&client, &announced).await.unwrap();
            assert_eq!(again.len(), MIB, "{engine}");
        }
        assert_eq!(limits.buffered_bytes(), 0);
    }

    #[tokio::test]
    async fn concurrent_answers_share_one_budget() {
        let limits = ResponseLimits::new(MIB, MIB + MIB / 2);
        let target = raw_server(Answer::Exact(MIB)).await;
        let [(_, direct), (_, reqwest)] = clients(&limits);
        let (a, b) = tokio::join!(read(&direct, &target), read(&reqwest, &target));
        let refused: Vec<_> = [&a, &b]
            .into_iter()
            .filter_map(|r| r.as_ref().err())
            .collect();
        assert_eq!(refused.len(), 1, "exactly one is refused: {a:?} {b:?}");
        assert!(matches!(
            refused[0].kind,
            TransportErrorKind::BufferFull { .. }
        ));
        drop((a, b));
        assert_eq!(limits.buffered_bytes(), 0);
    }
}
