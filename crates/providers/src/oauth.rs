//! OAuth2 access tokens for keys that are credentials rather than API keys: a Google service
//! account (Vertex: an RS256-signed JWT exchanged at the account's `token_uri`) and Entra ID
//! client credentials (Azure). A token is fetched on first use, reused until shortly before it
//! expires, and refreshed by one request at a time while the others wait for it.

use crate::error_map::from_transport;
use crate::http::{Target, UpstreamClient};
use asbru_config::EntraCredentials;
use asbru_schema::GatewayError;
use bytes::Bytes;
use http::Method;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
// tokio's clock (the system clock unless a test pauses it), so a test can move past a token's
// refresh time without waiting for it.
use tokio::time::Instant;

/// Google's scope for Vertex AI.
pub const GOOGLE_CLOUD_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long a signed assertion is valid (Google accepts at most an hour).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
/// Refresh this long before expiry (or at half the lifetime of short-lived tokens).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Bound on a token endpoint's answer; real ones are a few kilobytes.
const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// Where a key's access tokens come from.
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    provider: String,
    grant: Grant,
    client: Arc<UpstreamClient>,
    timeout: Duration,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

enum Grant {
    ServiceAccount {
        email: String,
        key: jsonwebtoken::EncodingKey,
        key_id: Option<String>,
        token_uri: Target,
        token_uri_text: String,
        scope: String,
    },
    ClientCredentials {
        token_url: Target,
        client_id: String,
        client_secret: SecretString,
        scope: String,
    },
}

struct Cached {
    header: HeaderValue,
    refresh_at: Instant,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner.grant {
            Grant::ServiceAccount { .. } => "service_account",
            Grant::ClientCredentials { .. } => "client_credentials",
        };
        f.debug_struct("TokenSource")
            .field("provider", &self.inner.provider)
            .field("grant", &kind)
            .finish_non_exhaustive()
    }
}

/// The fields of a service-account key file that signing needs.
#[derive(Deserialize)]
struct ServiceAccountFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    /// A source for a Google service account given as its JSON key file. Fails (as a config
    /// error naming `provider`) when the file is not a service-account key or its key is not an
    /// RSA private key in PEM.
    pub fn google_service_account(
        provider: &str,
        json: &SecretString,
        client: Arc<UpstreamClient>,
        timeout: Duration,
    ) -> Result<Self, GatewayError> {
        let invalid = |why: &str| {
            GatewayError::invalid_request(
                format!("providers.{provider}: vertex_key_config.auth_credentials {why}"),
                None,
            )
        };
        let file: ServiceAccountFile = serde_json::from_str(json.expose_secret())
            .map_err(|_| invalid("is not a service-account JSON key file"))?;
        if file.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err(invalid(
                "must be a key of type service_account (other credential types are not supported)",
            ));
        }
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(file.private_key.as_bytes())
            .map_err(|_| invalid("has a private_key that is not an RSA key in PEM"))?;
        let token_uri_text = file
            .token_uri
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned());
        let token_uri = Target::parse(&token_uri_text)
            .map_err(|e| invalid(&format!("has an invalid token_uri: {e}")))?;
        Ok(Self::new(
            provider,
            Grant::ServiceAccount {
                email: file.client_email,
                key,
                key_id: file.private_key_id,
                token_uri,
                token_uri_text,
                scope: GOOGLE_CLOUD_SCOPE.to_owned(),
            },
            client,
            timeout,
        ))
    }

    /// A source for Entra ID client credentials (a service principal).
    pub fn entra(
        provider: &str,
        credentials: &EntraCredentials,
        client: Arc<UpstreamClient>,
        timeout: Duration,
    ) -> Result<Self, GatewayError> {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            credentials.authority_host.trim_end_matches('/'),
            credentials.tenant_id
        );
        let token_url = Target::parse(&url).map_err(|e| {
            GatewayError::invalid_request(
                format!("providers.{provider}: invalid Entra ID token URL {url:?}: {e}"),
                None,
            )
        })?;
        Ok(Self::new(
            provider,
            Grant::ClientCredentials {
                token_url,
                client_id: credentials.client_id.clone(),
                client_secret: credentials.client_secret.clone(),
                scope: credentials.scopes.join(" "),
            },
            client,
            timeout,
        ))
    }

    fn new(provider: &str, grant: Grant, client: Arc<UpstreamClient>, timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                provider: provider.to_owned(),
                grant,
                client,
                timeout,
                cache: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// `Authorization: Bearer <token>`, from the cache while it is fresh.
    pub async fn authorization(&self) -> Result<HeaderValue, GatewayError> {
        let mut cache = self.inner.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.header.clone());
        }
        let fetched = tokio::time::timeout(self.inner.timeout, self.fetch())
            .await
            .map_err(|_| {
                self.error(
                    504,
                    &format!(
                        "the token endpoint did not answer within {}s",
                        self.inner.timeout.as_secs()
                    ),
                )
            })??;
        let header = fetched.header.clone();
        *cache = Some(fetched);
        Ok(header)
    }

    async fn fetch(&self) -> Result<Cached, GatewayError> {
        let (target, form) = match &self.inner.grant {
            Grant::ServiceAccount {
                email,
                key,
                key_id,
                token_uri,
                token_uri_text,
                scope,
            } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let claims = Claims {
                    iss: email,
                    scope,
                    aud: token_uri_text,
                    iat: now,
                    exp: now + ASSERTION_LIFETIME.as_secs(),
                };
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
                header.kid = key_id.clone();
                let assertion = jsonwebtoken::encode(&header, &claims, key)
                    .map_err(|e| self.error(500, &format!("could not sign the assertion: {e}")))?;
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
                    .append_pair("assertion", &assertion)
                    .finish();
                (token_uri, form)
            }
            Grant::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            } => {
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "client_credentials")
                    .append_pair("client_id", client_id)
                    .append_pair("client_secret", client_secret.expose_secret())
                    .append_pair("scope", scope)
                    .finish();
                (token_url, form)
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let started = Instant::now();
        let response = self
            .inner
            .client
            .send(Method::POST, target, headers, Bytes::from(form))
            .await
            .map_err(|e| from_transport(&e, &self.inner.provider))?;
        let status = response.status;
        let body = response
            .bytes()
            .await
            .map_err(|e| from_transport(&e, &self.inner.provider))?;
        if body.len() > MAX_TOKEN_RESPONSE {
            return Err(self.error(502, "the token endpoint's answer is too large"));
        }
        if !status.is_success() {
            // OAuth error bodies carry `error` and `error_description`, never the secret sent.
            let detail = String::from_utf8_lossy(&body);
            let status = if status.as_u16() == 400 || status.as_u16() == 401 {
                401
            } else {
                502
            };
            return Err(self.error(
                status,
                &format!(
                    "the token endpoint refused the credentials: {}",
                    detail.chars().take(500).collect::<String>()
                ),
            ));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| self.error(502, "the token endpoint's answer has no access_token"))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let mut header = HeaderValue::from_str(&format!("Bearer {}", answer.access_token))
            .map_err(|_| self.error(502, "the access token is not a valid header value"))?;
        header.set_sensitive(true);
        Ok(Cached {
            header,
            refresh_at: started + lifetime - margin,
        })
    }

    fn error(&self, status: u16, why: &str) -> GatewayError {
        let message = format!(
            "provider '{}': could not get an access token: {why}",
            self.inner.provider
        );
        let e = if status == 504 {
            GatewayError::upstream_timeout(message)
        } else {
            GatewayError::upstream(
                status,
                message,
                Some("authentication_error".to_owned()),
                Some("token_exchange_failed".to_owned()),
                None,
            )
        };
        e.with_provider(&self.inner.provider)
    }
}
