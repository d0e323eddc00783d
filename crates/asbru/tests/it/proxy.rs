//! `proxy_config`: a provider's upstream requests go through the configured HTTP or SOCKS5 proxy,
//! with the configured credentials, and only when one is configured. The proxies are tiny ones
//! written here, which record what they were asked to do.

use crate::harness::{TestGateway, chat_body, openai_config, sse_data};
use asbru_mock::{Fault, MockOptions, MockServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, copy_bidirectional};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

// ---------------------------------------------------------------------------------------------
// An HTTP forward proxy: absolute-form requests are rewritten to origin-form and relayed,
// `CONNECT host:port` is answered 200 and tunnelled.

/// One request an HTTP proxy received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HttpSeen {
    /// The request line as received: `POST http://host:port/path HTTP/1.1` or
    /// `CONNECT host:port HTTP/1.1`.
    request_line: String,
    /// The `Proxy-Authorization` header, if one came.
    proxy_authorization: Option<String>,
}

struct HttpProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<HttpSeen>>>,
    task: JoinHandle<()>,
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        // Also ends every connection: they live in the accept loop's JoinSet.
        self.task.abort();
    }
}

impl HttpProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let recorder = Arc::clone(&recorder);
                connections.spawn(async move {
                    let _ = http_proxy_connection(stream, recorder).await;
                });
            }
        });
        Self { addr, seen, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<HttpSeen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn http_proxy_connection(
    stream: TcpStream,
    seen: Arc<Mutex<Vec<HttpSeen>>>,
) -> io::Result<()> {
    // BufReader keeps whatever it read past the head (the start of the body) and hands it on
    // to copy_bidirectional; it passes writes straight through.
    let mut client = BufReader::new(stream);
    let mut request_line = String::new();
    if client.read_line(&mut request_line).await? == 0 {
        return Ok(());
    }
    let request_line = request_line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((line, ""));
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let proxy_authorization = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.clone());
    seen.lock().unwrap().push(HttpSeen {
        request_line: request_line.clone(),
        proxy_authorization,
    });

    let mut parts = request_line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if method == "CONNECT" {
        let Ok(mut upstream) = TcpStream::connect(target).await else {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await?;
            return Ok(());
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }

    let Some(rest) = target.strip_prefix("http://") else {
        client
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let Ok(mut upstream) = TcpStream::connect(authority).await else {
        client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    // One request per connection: the origin closes after answering, so the client does not
    // send a second request down this relay, where the proxy would not see it.
    let mut head = format!("{method} {path} {version}\r\n");
    for (name, value) in &headers {
        let hop_by_hop = ["proxy-authorization", "proxy-connection", "connection"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h));
        if !hop_by_hop {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).await?;
    copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// A SOCKS5 proxy (RFC 1928), with no authentication or username/password (RFC 1929); CONNECT
// only.

/// One SOCKS5 session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SocksSeen {
    /// Authentication methods the client offered (0 = none, 2 = username/password).
    methods: Vec<u8>,
    /// Username and password, when the client logged in.
    credentials: Option<(String, String)>,
    /// `host:port` the client asked to reach, when it got that far.
    destination: Option<String>,
}

struct Socks5Proxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SocksSeen>>>,
    task: JoinHandle<()>,
}

impl Drop for Socks5Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Socks5Proxy {
    /// With `login`, clients must authenticate with exactly these credentials.
    async fn start(login: Option<(&str, &str)>) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorder = Arc::clone(&seen);
        let login = login.map(|(u, p)| (u.to_owned(), p.to_owned()));
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let recorder = Arc::clone(&recorder);
                let login = login.clone();
                connections.spawn(async move {
                    let mut session = SocksSeen::default();
                    let upstream =
                        socks5_handshake(&mut stream, login.as_ref(), &mut session).await;
                    recorder.lock().unwrap().push(session);
                    if let Ok(Some(mut upstream)) = upstream {
                        let _ = copy_bidirectional(&mut stream, &mut upstream).await;
                    }
                });
            }
        });
        Self { addr, seen, task }
    }

    fn seen(&self) -> Vec<SocksSeen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Runs the handshake, filling `session` as it goes; returns the connection to the destination
/// when the client may now relay.
async fn socks5_handshake(
    stream: &mut TcpStream,
    login: Option<&(String, String)>,
    session: &mut SocksSeen,
) -> io::Result<Option<TcpStream>> {
    let mut greeting = [0u8; 2];
    stream.read_exact(&mut greeting).await?;
    if greeting[0] != 5 {
        return Ok(None);
    }
    let mut methods = vec![0u8; usize::from(greeting[1])];
    stream.read_exact(&mut methods).await?;
    session.methods.clone_from(&methods);
    let method = if login.is_some() { 2 } else { 0 };
    if !methods.contains(&method) {
        stream.write_all(&[5, 0xFF]).await?;
        return Ok(None);
    }
    stream.write_all(&[5, method]).await?;

    if let Some((user, password)) = login {
        // RFC 1929: VER=1, ULEN, UNAME, PLEN, PASSWD.
        let mut header = [0u8; 2];
        stream.read_exact(&mut header).await?;
        let mut given_user = vec![0u8; usize::from(header[1])];
        stream.read_exact(&mut given_user).await?;
        let given_password_len = stream.read_u8().await?;
        let mut given_password = vec![0u8; usize::from(given_password_len)];
        stream.read_exact(&mut given_password).await?;
        let given = (
            String::from_utf8_lossy(&given_user).into_owned(),
            String::from_utf8_lossy(&given_password).into_owned(),
        );
        let accepted = header[0] == 1 && given.0 == *user && given.1 == *password;
        session.credentials = Some(given);
        if !accepted {
            stream.write_all(&[1, 1]).await?;
            return Ok(None);
        }
        stream.write_all(&[1, 0]).await?;
    }

    // VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT.
    let mut request = [0u8; 4];
    stream.read_exact(&mut request).await?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            stream.read_exact(&mut ip).await?;
            Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let len = stream.read_u8().await?;
            let mut name = vec![0u8; usize::from(len)];
            stream.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            stream.read_exact(&mut ip).await?;
            format!("[{}]", Ipv6Addr::from(ip))
        }
        _ => return Ok(None),
    };
    let port = stream.read_u16().await?;
    let destination = format!("{host}:{port}");
    session.destination = Some(destination.clone());
    // Replies carry a bound address the client ignores here: 0.0.0.0:0.
    if request[1] != 1 {
        stream.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(None);
    }
    match TcpStream::connect(&destination).await {
        Ok(upstream) => {
            stream.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            Ok(Some(upstream))
        }
        Err(_) => {
            stream.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// The one-provider config with `proxy_config` set on `openai`.
fn proxied_config(mock: &MockServer, proxy: Value) -> Value {
    let mut config = openai_config(mock);
    config["providers"]["openai"]["proxy_config"] = proxy;
    config
}

/// An address nothing listens on.
fn dead_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap()
}

/// Sends a chat completion and checks it came back from the mock.
async fn assert_completion_succeeds(gw: &TestGateway) {
    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["choices"][0]["message"]["content"], "Hello from the mock.",
        "{body}"
    );
}

fn assert_502_naming_openai_without(body: &Value, secret: &str) {
    assert_eq!(body["status_code"], 502, "{body}");
    assert_eq!(body["extra_fields"]["provider"], "openai", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("'openai'"), "{message}");
    assert!(
        !body.to_string().contains(secret),
        "password leaked: {body}"
    );
}

fn stream_body() -> Value {
    json!({
        "model": "openai/gpt-4o-mini",
        "stream": true,
        "messages": [{"role": "user", "content": "Tell me a story"}]
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP proxy.

#[tokio::test]
async fn http_proxy_carries_every_request_with_basic_auth() {
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = proxied_config(
        &mock,
        json!({"type": "http", "url": proxy.url(), "username": "u", "password": "p"}),
    );
    let gw = TestGateway::start_with(mock, config).await;

    assert_completion_succeeds(&gw).await;
    assert_completion_succeeds(&gw).await;

    let expected = HttpSeen {
        request_line: format!("POST {}/v1/chat/completions HTTP/1.1", gw.mock.base_url()),
        proxy_authorization: Some("Basic dTpw".to_owned()), // base64("u:p")
    };
    assert_eq!(proxy.seen(), [expected.clone(), expected]);
    let requests = gw.mock.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer sk-test-1")
    );
}

#[tokio::test]
async fn http_proxy_password_may_come_from_the_environment() {
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = proxied_config(
        &mock,
        json!({"type": "http", "url": proxy.url(), "username": "proxy-user", "password": "env.TEST_PROXY_PASSWORD"}),
    );
    let env = HashMap::from([("TEST_PROXY_PASSWORD".to_owned(), "from-the-env".to_owned())]);
    let gw = TestGateway::start_with_env(mock, config, env).await;

    assert_completion_succeeds(&gw).await;
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].proxy_authorization.as_deref(),
        Some("Basic cHJveHktdXNlcjpmcm9tLXRoZS1lbnY=") // base64("proxy-user:from-the-env")
    );
}

#[tokio::test]
async fn http_proxy_without_credentials_and_with_a_bare_address() {
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    // `host:port` without a scheme gets `http://`.
    let config = proxied_config(
        &mock,
        json!({"type": "http", "url": proxy.addr.to_string()}),
    );
    let gw = TestGateway::start_with(mock, config).await;

    assert_completion_succeeds(&gw).await;
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].request_line.starts_with("POST http://"), "{seen:?}");
    assert_eq!(seen[0].proxy_authorization, None);
    assert_eq!(gw.mock.requests().len(), 1);
}

#[tokio::test]
async fn https_upstreams_are_tunnelled_through_http_proxy_with_connect() {
    // The mock speaks plain HTTP, so the TLS handshake inside the tunnel fails; what matters is
    // that the gateway asked the proxy for a tunnel to the provider, with its credentials.
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let mut config = proxied_config(
        &mock,
        json!({"type": "http", "url": proxy.url(), "username": "proxy-user", "password": "pr0xy-s3cret"}),
    );
    config["providers"]["openai"]["network_config"]["base_url"] =
        json!(format!("https://{}", mock.addr()));
    let gw = TestGateway::start_with(mock, config).await;

    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_502_naming_openai_without(&body, "pr0xy-s3cret");
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "the proxy saw nothing");
    assert_eq!(
        seen[0],
        HttpSeen {
            request_line: format!("CONNECT {} HTTP/1.1", gw.mock.addr()),
            // base64("proxy-user:pr0xy-s3cret")
            proxy_authorization: Some("Basic cHJveHktdXNlcjpwcjB4eS1zM2NyZXQ=".to_owned()),
        }
    );
    assert!(gw.mock.requests().is_empty());
}

#[tokio::test]
async fn streams_flow_through_http_proxy_chunk_by_chunk() {
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = proxied_config(
        &mock,
        json!({"type": "http", "url": proxy.url(), "username": "u", "password": "p"}),
    );
    let gw = TestGateway::start_with(mock, config).await;
    gw.mock.push_fault(Fault::HoldStream);

    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&stream_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    // The mock sent one chunk and holds the rest: it must already have crossed the proxy.
    while !received.windows(2).any(|w| w == b"\n\n") {
        let piece = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .expect(
                "first chunk did not arrive through the proxy while the provider held the stream",
            )
            .unwrap()
            .unwrap();
        received.extend_from_slice(&piece);
    }
    gw.mock.release_streams();
    while let Some(piece) = body.next().await {
        received.extend_from_slice(&piece.unwrap());
    }
    let all = String::from_utf8(received).unwrap();
    assert!(all.ends_with("data: [DONE]\n\n"), "{all}");
    assert!(all.contains("\"content\""), "{all}");

    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].request_line,
        format!("POST {}/v1/chat/completions HTTP/1.1", gw.mock.base_url())
    );
    assert_eq!(seen[0].proxy_authorization.as_deref(), Some("Basic dTpw"));
    let requests = gw.mock.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json().unwrap()["stream"], true);
}

// ---------------------------------------------------------------------------------------------
// SOCKS5 proxy.

#[tokio::test]
async fn socks5_proxy_without_auth_carries_requests() {
    let proxy = Socks5Proxy::start(None).await;
    // Every accepted URL form: socks5://, socks5h:// (the proxy resolves names) and bare.
    for url in [
        format!("socks5://{}", proxy.addr),
        format!("socks5h://{}", proxy.addr),
        proxy.addr.to_string(),
    ] {
        proxy.seen.lock().unwrap().clear();
        let mock = MockServer::start(MockOptions::default()).await.unwrap();
        let config = proxied_config(&mock, json!({"type": "socks5", "url": url}));
        let gw = TestGateway::start_with(mock, config).await;

        assert_completion_succeeds(&gw).await;
        let seen = proxy.seen();
        assert_eq!(seen.len(), 1, "{url}: {seen:?}");
        assert!(seen[0].methods.contains(&0), "{url}: {seen:?}");
        assert_eq!(seen[0].credentials, None, "{url}");
        assert_eq!(
            seen[0].destination,
            Some(gw.mock.addr().to_string()),
            "{url}"
        );
        let requests = gw.mock.requests();
        assert_eq!(requests.len(), 1, "{url}");
        assert_eq!(requests[0].path, "/v1/chat/completions");
        assert_eq!(requests[0].header("proxy-authorization"), None);
    }
}

#[tokio::test]
async fn socks5_proxy_with_username_and_password() {
    let proxy = Socks5Proxy::start(Some(("proxy-user", "pr0xy-s3cret"))).await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = proxied_config(
        &mock,
        json!({"type": "socks5", "url": format!("socks5://{}", proxy.addr), "username": "proxy-user", "password": "pr0xy-s3cret"}),
    );
    let gw = TestGateway::start_with(mock, config).await;

    assert_completion_succeeds(&gw).await;
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "the proxy saw nothing");
    assert!(seen[0].methods.contains(&2), "{seen:?}");
    assert_eq!(
        seen[0].credentials,
        Some(("proxy-user".to_owned(), "pr0xy-s3cret".to_owned()))
    );
    assert_eq!(seen[0].destination, Some(gw.mock.addr().to_string()));
    assert_eq!(gw.mock.requests().len(), 1);
    assert_eq!(
        gw.mock.requests()[0].header("authorization"),
        Some("Bearer sk-test-1")
    );
}

#[tokio::test]
async fn streams_flow_through_socks5_proxy() {
    let proxy = Socks5Proxy::start(Some(("u", "p"))).await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = proxied_config(
        &mock,
        json!({"type": "socks5", "url": format!("socks5://{}", proxy.addr), "username": "u", "password": "p"}),
    );
    let gw = TestGateway::start_with(mock, config).await;

    let response = gw
        .client
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&stream_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let data = sse_data(response).await;
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    assert!(data.len() >= 3, "{data:?}");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].destination, Some(gw.mock.addr().to_string()));
}

#[tokio::test]
async fn socks5_login_refused_is_502_without_the_password() {
    let proxy = Socks5Proxy::start(Some(("proxy-user", "the-right-one"))).await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = proxied_config(
        &mock,
        json!({"type": "socks5", "url": format!("socks5://{}", proxy.addr), "username": "proxy-user", "password": "wr0ng-s3cret"}),
    );
    let gw = TestGateway::start_with(mock, config).await;

    let (status, body) = gw
        .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_502_naming_openai_without(&body, "wr0ng-s3cret");
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "the proxy saw nothing");
    assert_eq!(
        seen[0].credentials,
        Some(("proxy-user".to_owned(), "wr0ng-s3cret".to_owned()))
    );
    assert_eq!(seen[0].destination, None);
    assert!(gw.mock.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Proxy down, no proxy, per-provider scope.

#[tokio::test]
async fn proxy_down_is_502_naming_the_provider_without_the_password() {
    let dead = dead_addr();
    for proxy in [
        json!({"type": "http", "url": format!("http://{dead}"), "username": "proxy-user", "password": "pr0xy-s3cret"}),
        json!({"type": "socks5", "url": format!("socks5://{dead}"), "username": "proxy-user", "password": "pr0xy-s3cret"}),
    ] {
        let mock = MockServer::start(MockOptions::default()).await.unwrap();
        let config = proxied_config(&mock, proxy.clone());
        let gw = TestGateway::start_with(mock, config).await;

        let (status, body) = gw
            .post("/v1/chat/completions", chat_body("openai/gpt-4o"))
            .await;
        assert_eq!(status, 502, "{proxy}: {body}");
        assert_502_naming_openai_without(&body, "pr0xy-s3cret");
        assert!(gw.mock.requests().is_empty(), "{proxy}: went direct");

        let response = gw
            .client
            .post(format!("{}/v1/chat/completions", gw.url))
            .json(&stream_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 502, "{proxy}: stream");
        let text = response.text().await.unwrap();
        assert!(!text.contains("pr0xy-s3cret"), "password leaked: {text}");
        assert!(text.contains("'openai'"), "{text}");
    }
}

#[tokio::test]
async fn type_none_connects_directly() {
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = proxied_config(
        &mock,
        json!({"type": "none", "url": proxy.url(), "username": "u", "password": "p"}),
    );
    let gw = TestGateway::start_with(mock, config).await;

    assert_completion_succeeds(&gw).await;
    assert_eq!(gw.mock.requests().len(), 1);
    assert_eq!(proxy.seen(), []);
}

#[tokio::test]
async fn a_proxy_applies_only_to_its_own_provider() {
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let config = json!({"providers": {
        "openai": {
            "keys": [{"name": "a", "value": "sk-a", "weight": 1}],
            "network_config": {"base_url": mock.base_url()},
            "proxy_config": {"type": "http", "url": proxy.url()}
        },
        "groq": {
            "keys": [{"name": "b", "value": "sk-b", "weight": 1}],
            "network_config": {"base_url": mock.base_url()}
        }
    }});
    let gw = TestGateway::start_with(mock, config).await;

    let (status, body) = gw
        .post(
            "/v1/chat/completions",
            chat_body("groq/llama-3.1-8b-instant"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(proxy.seen(), [], "groq has no proxy_config");
    assert_completion_succeeds(&gw).await;
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].request_line,
        format!("POST {}/v1/chat/completions HTTP/1.1", gw.mock.base_url())
    );
    assert_eq!(gw.mock.requests().len(), 2);
}

#[tokio::test]
async fn type_environment_follows_http_proxy_and_no_proxy() {
    // Through the binary, since the proxy variables are read from the process environment.
    let proxy = HttpProxy::start().await;
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let config = proxied_config(&mock, json!({"type": "environment"}));
    std::fs::write(&path, config.to_string()).unwrap();
    let path = path.display().to_string();
    let with_credentials = format!("http://env-user:env-s3cret@{}", proxy.addr);
    let client = reqwest::Client::new();

    for (env, proxied) in [
        (vec![("HTTP_PROXY", with_credentials.as_str())], true),
        (
            vec![
                ("HTTP_PROXY", with_credentials.as_str()),
                ("NO_PROXY", "127.0.0.1"),
            ],
            false,
        ),
        (vec![], false),
    ] {
        proxy.seen.lock().unwrap().clear();
        mock.clear_requests();
        let served = crate::cli::serve(&["--config", &path], &env).await;
        let response = client
            .post(format!("{}/v1/chat/completions", served.url))
            .json(&chat_body("openai/gpt-4o"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{env:?}");
        assert_eq!(mock.requests().len(), 1, "{env:?}");
        let seen = proxy.seen();
        if proxied {
            assert_eq!(seen.len(), 1, "{env:?}: {seen:?}");
            assert_eq!(
                seen[0].request_line,
                format!("POST {}/v1/chat/completions HTTP/1.1", mock.base_url())
            );
            assert_eq!(
                seen[0].proxy_authorization.as_deref(),
                Some("Basic ZW52LXVzZXI6ZW52LXMzY3JldA==") // base64("env-user:env-s3cret")
            );
        } else {
            assert_eq!(seen, [], "{env:?}");
        }
        served.stop().await;
    }
}
