//! OAuth2 token endpoints, so credential-based keys can be tested end to end: Google's
//! service-account JWT bearer grant (`POST …/token`, the `token_uri` of a service-account key
//! file) and Entra ID's client-credentials grant (`POST …/{tenant}/oauth2/v2.0/token`).
//!
//! The Google endpoint checks the assertion's RS256 signature against the public key registered
//! with [`crate::MockServer::set_google_service_account`], and its `iss`, `aud` and expiry; the
//! Entra endpoint checks tenant, client id and secret. Issued tokens are remembered: an API
//! request presenting one as `Authorization: Bearer` passes the key check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Who may get tokens, and which tokens were handed out.
#[derive(Default)]
pub(crate) struct OAuthState {
    inner: Mutex<Registered>,
    issued_count: AtomicU64,
}

#[derive(Default)]
struct Registered {
    /// client_email → public key PEM.
    google: HashMap<String, String>,
    /// (tenant, client_id) → client_secret.
    entra: HashMap<(String, String), String>,
    issued: HashSet<String>,
    lifetime_secs: Option<u64>,
}

/// A token endpoint's answer: status and JSON body.
pub(crate) struct TokenReply {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    scope: Option<String>,
    exp: u64,
}

impl OAuthState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registered> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn add_google(&self, email: &str, public_key_pem: &str) {
        self.lock()
            .google
            .insert(email.to_owned(), public_key_pem.to_owned());
    }

    pub(crate) fn add_entra(&self, tenant: &str, client_id: &str, secret: &str) {
        self.lock()
            .entra
            .insert((tenant.to_owned(), client_id.to_owned()), secret.to_owned());
    }

    pub(crate) fn set_lifetime(&self, secs: u64) {
        self.lock().lifetime_secs = Some(secs);
    }

    /// Tokens handed out so far.
    pub(crate) fn issued(&self) -> u64 {
        self.issued_count.load(Ordering::SeqCst)
    }

    pub(crate) fn is_issued(&self, token: &str) -> bool {
        self.lock().issued.contains(token)
    }

    /// Answers `POST path` if it is a token endpoint, `None` otherwise.
    pub(crate) fn handle(&self, path: &str, body: &[u8]) -> Option<TokenReply> {
        let path = path.trim_end_matches('/');
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        if let Some(prefix) = path.strip_suffix("/oauth2/v2.0/token") {
            let tenant = prefix.rsplit('/').next().unwrap_or_default();
            return Some(self.entra(tenant, &form));
        }
        if path.ends_with("/token") {
            return Some(self.google(path, &form));
        }
        None
    }

    fn google(&self, path: &str, form: &HashMap<String, String>) -> TokenReply {
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return refuse(400, "unsupported_grant_type", "Invalid grant_type.");
        }
        let Some(assertion) = form.get("assertion") else {
            return refuse(
                400,
                "invalid_request",
                "Missing required parameter: assertion",
            );
        };
        let Ok(header) = jsonwebtoken::decode_header(assertion) else {
            return refuse(400, "invalid_grant", "Invalid JWT: malformed.");
        };
        if header.alg != jsonwebtoken::Algorithm::RS256 {
            return refuse(
                400,
                "invalid_grant",
                "Invalid JWT: must be signed with RS256.",
            );
        }
        let unverified: Option<Claims> = assertion
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let Some(claims) = unverified else {
            return refuse(400, "invalid_grant", "Invalid JWT: no claims.");
        };
        let Some(pem) = self.lock().google.get(&claims.iss).cloned() else {
            return refuse(400, "invalid_grant", "Invalid JWT Signature.");
        };
        let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()) else {
            return refuse(
                500,
                "internal_failure",
                "mock: registered key is not an RSA PEM",
            );
        };
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[claims.aud.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        if jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation).is_err() {
            return refuse(400, "invalid_grant", "Invalid JWT Signature.");
        }
        // The audience must be this endpoint (the key file's token_uri).
        if !claims.aud.ends_with(path) {
            return refuse(400, "invalid_grant", "Invalid JWT: Failed audience check.");
        }
        if claims.scope.as_deref().is_none_or(str::is_empty) {
            return refuse(
                400,
                "invalid_scope",
                "Invalid OAuth scope or ID token audience provided.",
            );
        }
        let now = now_secs();
        if claims.exp <= now || claims.exp > now + 3600 + 300 {
            return refuse(
                400,
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
            );
        }
        self.grant("ya29.mock")
    }

    fn entra(&self, tenant: &str, form: &HashMap<String, String>) -> TokenReply {
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return refuse(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            );
        }
        let client_id = form.get("client_id").cloned().unwrap_or_default();
        let expected = self
            .lock()
            .entra
            .get(&(tenant.to_owned(), client_id))
            .cloned();
        match expected {
            None => refuse(
                400,
                "unauthorized_client",
                "AADSTS700016: Application not found in the directory.",
            ),
            Some(secret) if form.get("client_secret") != Some(&secret) => refuse(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            ),
            Some(_) if form.get("scope").is_none_or(String::is_empty) => refuse(
                400,
                "invalid_scope",
                "AADSTS1002012: The provided value for scope is not valid.",
            ),
            Some(_) => self.grant("eyJ0.mock-entra"),
        }
    }

    fn grant(&self, prefix: &str) -> TokenReply {
        let n = self.issued_count.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("{prefix}-{n}");
        let lifetime = {
            let mut reg = self.lock();
            reg.issued.insert(token.clone());
            reg.lifetime_secs.unwrap_or(3599)
        };
        let body = json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"});
        TokenReply {
            status: 200,
            body: Bytes::from(body.to_string()),
        }
    }
}

fn refuse(status: u16, error: &str, description: &str) -> TokenReply {
    let body = json!({"error": error, "error_description": description});
    TokenReply {
        status,
        body: Bytes::from(body.to_string()),
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
