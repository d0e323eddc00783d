//! Browsers can call the gateway (issue 17, §4): a CORS preflight on `/v1/*`, `/v1/responses`
//! and every drop-in route is answered per `client.allowed_origins` (localhost always, as in
//! Bifrost) with the headers each SDK sends and `client.allowed_headers`.

use crate::cli::serve;
use asbru_mock::{MockOptions, MockServer};
use serde_json::json;

const ROUTES: [&str; 8] = [
    "/v1/chat/completions",
    "/v1/responses",
    "/openai/v1/chat/completions",
    "/anthropic/v1/messages",
    "/genai/v1beta/models/gemini-2.0-flash:generateContent",
    "/bedrock/model/anthropic.claude-3-haiku/converse",
    "/cohere/v2/chat",
    "/litellm/v1/chat/completions",
];

#[tokio::test]
async fn preflights_are_answered_on_every_route() {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        json!({
            "client": {"allowed_origins": ["https://app.acme.test"], "allowed_headers": ["x-acme-trace"]},
            "providers": {"openai": {"keys": [{"name": "k", "value": "sk-1", "weight": 1}], "network_config": {"base_url": mock.base_url()}}}
        })
        .to_string(),
    )
    .unwrap();
    let served = serve(&["--config", path.to_str().unwrap()], &[]).await;
    let client = reqwest::Client::new();
    for route in ROUTES {
        for origin in ["http://localhost:5173", "https://app.acme.test"] {
            let response = client
                .request(reqwest::Method::OPTIONS, format!("{}{route}", served.url))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header(
                    "access-control-request-headers",
                    "content-type,x-api-key,anthropic-version,x-goog-api-key,x-acme-trace,x-other",
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 204, "{route} from {origin}");
            let h = response.headers();
            assert_eq!(h["access-control-allow-origin"], origin, "{route}");
            assert_eq!(
                h["access-control-allow-headers"],
                "content-type, x-api-key, anthropic-version, x-goog-api-key, x-acme-trace",
                "{route}"
            );
            assert!(
                h["access-control-allow-methods"]
                    .to_str()
                    .unwrap()
                    .contains("POST")
            );
        }
        let refused = client
            .request(reqwest::Method::OPTIONS, format!("{}{route}", served.url))
            .header("origin", "https://other.example")
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{route}");
        assert!(
            !refused
                .headers()
                .contains_key("access-control-allow-origin")
        );
    }
    assert!(mock.requests().is_empty());
    served.stop().await;
}
