//! Access tokens from the mock's token endpoints: Google service-account assertions and Entra
//! ID client credentials, cached and refreshed.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use asbru_config::{EntraCredentials, NetworkConfig, ProxyConfig};
use asbru_mock::{MockOptions, MockServer};
use asbru_providers::oauth::TokenSource;
use asbru_providers::{ResponseLimits, UpstreamClient};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/oauth/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn client() -> Arc<UpstreamClient> {
    Arc::new(
        UpstreamClient::new(
            &NetworkConfig::default(),
            &ProxyConfig::None,
            &ResponseLimits::default(),
        )
        .unwrap(),
    )
}

/// A service-account key file as Google issues it, pointing at the mock.
fn key_file(mock: &MockServer, private_key: &str) -> SecretString {
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": "asbru-test",
        "private_key_id": "0123456789abcdef",
        "private_key": private_key,
        "client_email": "gateway@asbru-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": format!("{}/token", mock.base_url()),
    });
    SecretString::from(json.to_string())
}

async fn mock() -> MockServer {
    let mock = MockServer::start(MockOptions::default()).await.unwrap();
    mock.set_google_service_account(
        "gateway@asbru-test.iam.gserviceaccount.com",
        &fixture("test-key.pub.pem"),
    );
    mock
}

#[tokio::test]
async fn a_service_account_gets_a_token_once_and_refreshes_it_before_expiry() {
    let mock = mock().await;
    let source = TokenSource::google_service_account(
        "vertex",
        &key_file(&mock, &fixture("test-key.pem")),
        client(),
        Duration::from_secs(5),
    )
    .unwrap();
    let first = source.authorization().await.unwrap();
    assert!(first.to_str().unwrap().starts_with("Bearer ya29.mock-"));
    assert!(first.is_sensitive());
    assert_eq!(source.authorization().await.unwrap(), first, "cached");
    assert_eq!(mock.tokens_issued(), 1);

    // Concurrent callers share one refresh.
    let calls = (0..8).map(|_| {
        let s = source.clone();
        async move { s.authorization().await.unwrap() }
    });
    futures_util::future::join_all(calls).await;
    assert_eq!(mock.tokens_issued(), 1);

    // A short-lived token is refreshed at half its lifetime.
    mock.set_token_lifetime(2);
    let fresh = TokenSource::google_service_account(
        "vertex",
        &key_file(&mock, &fixture("test-key.pem")),
        client(),
        Duration::from_secs(5),
    )
    .unwrap();
    let short = fresh.authorization().await.unwrap();
    assert_eq!(mock.tokens_issued(), 2);
    // The clock, not the test, waits: paused only while no request is on the wire.
    tokio::time::pause();
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(fresh.authorization().await.unwrap(), short, "still fresh");
    assert_eq!(mock.tokens_issued(), 2);
    tokio::time::advance(Duration::from_millis(600)).await;
    tokio::time::resume();
    let renewed = fresh.authorization().await.unwrap();
    assert_ne!(renewed, short);
    assert_eq!(mock.tokens_issued(), 3);

    // The mock checked the assertion's signature, audience and scope before issuing.
    let request = mock.requests().into_iter().last().unwrap();
    let body = String::from_utf8(request.body.to_vec()).unwrap();
    assert!(body.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"));
}

#[tokio::test]
async fn an_assertion_signed_with_another_key_is_refused() {
    let mock = mock().await;
    let source = TokenSource::google_service_account(
        "vertex",
        &key_file(&mock, &fixture("other-key.pem")),
        client(),
        Duration::from_secs(5),
    )
    .unwrap();
    let error = source.authorization().await.unwrap_err();
    assert_eq!(error.status(), 401);
    assert!(error.message().contains("Invalid JWT Signature"), "{error}");
    assert_eq!(mock.tokens_issued(), 0);
}

#[tokio::test]
async fn a_file_that_is_not_a_service_account_key_is_a_config_error() {
    let mock = mock().await;
    for bad in [
        SecretString::from("not json"),
        SecretString::from(
            r#"{"type": "authorized_user", "client_email": "x", "private_key": "y"}"#,
        ),
        key_file(
            &mock,
            "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
        ),
    ] {
        let error =
            TokenSource::google_service_account("vertex", &bad, client(), Duration::from_secs(5))
                .unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.message().contains("auth_credentials"), "{error}");
    }
}

fn entra(mock: &MockServer, secret: &str) -> EntraCredentials {
    EntraCredentials {
        authority_host: mock.base_url(),
        tenant_id: "tenant-1".into(),
        client_id: "app-1".into(),
        client_secret: SecretString::from(secret.to_owned()),
        scopes: vec!["https://cognitiveservices.azure.com/.default".into()],
    }
}

#[tokio::test]
async fn entra_client_credentials_get_a_token_and_a_wrong_secret_is_refused() {
    let mock = mock().await;
    mock.set_entra_app("tenant-1", "app-1", "s3cret");
    let good = TokenSource::entra(
        "azure",
        &entra(&mock, "s3cret"),
        client(),
        Duration::from_secs(5),
    )
    .unwrap();
    let token = good.authorization().await.unwrap();
    assert!(
        token
            .to_str()
            .unwrap()
            .starts_with("Bearer eyJ0.mock-entra-")
    );

    let bad = TokenSource::entra(
        "azure",
        &entra(&mock, "wrong"),
        client(),
        Duration::from_secs(5),
    )
    .unwrap();
    let error = bad.authorization().await.unwrap_err();
    assert_eq!(error.status(), 401);
    assert!(error.message().contains("AADSTS7000215"), "{error}");
    assert!(
        !error.message().contains("wrong"),
        "the secret is never echoed"
    );
}
