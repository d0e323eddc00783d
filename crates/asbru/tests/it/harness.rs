//! Starting a gateway against the mock for one test.

use asbru_engine::{Gateway, GatewayOptions};
use asbru_mock::{MockOptions, MockServer};
use asbru_transport::{AppState, ServerOptions};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// A gateway served on 127.0.0.1:<ephemeral> by the real accept loop, and its mock upstream.
pub struct TestGateway {
    pub url: String,
    pub gateway: Arc<Gateway>,
    pub mock: MockServer,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A config with one `openai` provider on the mock and one key `sk-test-1`.
pub fn openai_config(mock: &MockServer) -> Value {
    json!({
        "providers": {
            "openai": {
                "keys": [{"name": "main", "value": "sk-test-1", "models": [], "weight": 1.0}],
                "network_config": {"base_url": mock.base_url()}
            }
        }
    })
}

impl TestGateway {
    /// A mock with default options and the one-provider config.
    pub async fn start() -> Self {
        let mock = MockServer::start(MockOptions::default()).await.unwrap();
        let config = openai_config(&mock);
        Self::start_with(mock, config).await
    }

    /// Serves `config` (values may use `env.TEST_*` resolved from `env`).
    pub async fn start_with_env(
        mock: MockServer,
        config: Value,
        env: HashMap<String, String>,
    ) -> Self {
        Self::start_with_options(mock, config, env, GatewayOptions::default()).await
    }

    /// Serves `config` with a chosen clock, seed and health policy.
    pub async fn start_with_options(
        mock: MockServer,
        config: Value,
        env: HashMap<String, String>,
        options: GatewayOptions,
    ) -> Self {
        let lookup = move |var: &str| env.get(var).cloned();
        let loaded = asbru_config::load_str(&config.to_string(), &lookup).unwrap();
        let gateway = Arc::new(Gateway::with_options(loaded.config, options).unwrap());
        let router = asbru_transport::router(AppState {
            gateway: Arc::clone(&gateway),
            metrics: None,
            allowed_hosts: asbru_transport::AllowedHosts::loopback(),
            body_read_timeout: std::time::Duration::from_secs(30),
            control: None,
            admin_api_without_auth: false,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(asbru_transport::serve(
            listener,
            router,
            ServerOptions::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            url,
            gateway,
            mock,
            client: reqwest::Client::new(),
            stop: Some(stop),
        }
    }

    pub async fn start_with(mock: MockServer, config: Value) -> Self {
        Self::start_with_env(mock, config, HashMap::new()).await
    }

    /// POSTs JSON to `path` and returns status and parsed body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_with(path, body, &[]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: Value,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.url)).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!("response is not JSON: {}", String::from_utf8_lossy(&bytes))
        });
        (status, value)
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// POSTs a JSON body to `path` and returns the response unread (for streams).
    pub async fn post_stream(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

/// A minimal chat body.
pub fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Hello there"}]})
}

/// Reads an SSE response to its end and returns the `data:` payloads.
pub async fn sse_data(response: reqwest::Response) -> Vec<String> {
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter_map(|event| event.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(str::to_owned)
        .collect()
}
