//! Authenticating requests to AWS Bedrock: SigV4 signing with an access key (and optional
//! session token), or a Bedrock API key sent as a bearer token.
//!
//! Signing uses the official `aws-sigv4` crate (no AWS SDK): the canonical request, the string to
//! sign and the HMAC chain are AWS's own code, so what Bedrock verifies is what was signed. The
//! signature covers the method, the path (as sent, percent-encoded once more, as SigV4 requires
//! for every service but S3), the query, the headers present when signing, and a SHA-256 of the
//! exact body bytes — so sign last, after every header and the final body are in place.
//!
//! Credentials are never logged: the types keep secrets in [`SecretString`], and the headers
//! this module writes (`authorization`, `x-amz-security-token`) are marked sensitive so hyper
//! and tracing do not print them.

use asbru_schema::GatewayError;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use secrecy::{ExposeSecret, SecretString};
use std::time::SystemTime;

/// The SigV4 service name Bedrock's runtime endpoints verify against.
pub const SIGNING_SERVICE: &str = "bedrock";

/// The runtime endpoint of a region (`https://bedrock-runtime.{region}.amazonaws.com`), where
/// Converse and ConverseStream are served.
pub fn runtime_base_url(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}

/// An AWS access key for SigV4, with the region it signs for (Bifrost's `bedrock_key_config`:
/// `access_key`, `secret_key`, `session_token`, `region`).
#[derive(Clone)]
pub struct AwsSigV4 {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Present for temporary credentials (STS, assumed roles); sent as `x-amz-security-token`
    /// and covered by the signature.
    pub session_token: Option<SecretString>,
    pub region: String,
}

impl std::fmt::Debug for AwsSigV4 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSigV4")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[REDACTED]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("region", &self.region)
            .finish()
    }
}

/// How a Bedrock request is authenticated.
#[derive(Debug, Clone)]
pub enum BedrockAuth {
    /// Sign every request with SigV4.
    SigV4(AwsSigV4),
    /// A Bedrock API key (the long- or short-term keys Bedrock issues), sent as
    /// `Authorization: Bearer <key>`; no signing.
    ApiKey(SecretString),
}

impl BedrockAuth {
    /// Adds the authentication headers to a request whose URI, headers and body are final.
    /// `now` is the signing time (passed in so tests are deterministic; callers use
    /// `SystemTime::now()`).
    pub fn apply<B: AsRef<[u8]>>(
        &self,
        request: &mut Request<B>,
        now: SystemTime,
    ) -> Result<(), GatewayError> {
        match self {
            Self::SigV4(creds) => sign_request(request, creds, now),
            Self::ApiKey(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", key.expose_secret()))
                    .map_err(|_| {
                        GatewayError::invalid_request(
                            "the Bedrock API key contains characters not allowed in a header",
                            None,
                        )
                    })?;
                value.set_sensitive(true);
                request.headers_mut().insert(AUTHORIZATION, value);
                Ok(())
            }
        }
    }
}

/// Signs `request` with SigV4 for service [`SIGNING_SERVICE`] in `creds.region`: adds
/// `authorization`, `x-amz-date` and, with a session token, `x-amz-security-token`.
///
/// The URI must be absolute (the host is signed) and already percent-encoded the way it will be
/// sent (see `asbru_dialects::bedrock::converse_path`).
pub fn sign_request<B: AsRef<[u8]>>(
    request: &mut Request<B>,
    creds: &AwsSigV4,
    now: SystemTime,
) -> Result<(), GatewayError> {
    let signing_error = |what: &str, e: &dyn std::fmt::Display| {
        GatewayError::internal(format!("could not sign the Bedrock request ({what}): {e}"))
    };
    let identity: Identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose_secret().to_owned(),
        creds
            .session_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        None,
        "asbru-config",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&creds.region)
        .name(SIGNING_SERVICE)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| signing_error("parameters", &e))?
        .into();
    let uri = request.uri().to_string();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let signable = SignableRequest::new(
        request.method().as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Bytes(request.body().as_ref()),
    )
    .map_err(|e| signing_error("request", &e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing_error("signature", &e))?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    for name in ["authorization", "x-amz-security-token"] {
        if let Some(value) = request.headers_mut().get_mut(name) {
            value.set_sensitive(true);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn creds(token: Option<&str>) -> AwsSigV4 {
        AwsSigV4 {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(SecretString::from),
            region: "us-east-1".to_owned(),
        }
    }

    fn request() -> Request<Vec<u8>> {
        Request::builder()
            .method("POST")
            .uri("https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.nova-lite-v1%3A0/converse")
            .header("content-type", "application/json")
            .body(br#"{"messages":[]}"#.to_vec())
            .unwrap()
    }

    #[test]
    fn sigv4_adds_the_documented_headers() {
        let mut req = request();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
        BedrockAuth::SigV4(creds(Some("session-token")))
            .apply(&mut req, at)
            .unwrap();
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders="
        ));
        assert!(auth.contains("x-amz-security-token"));
        assert!(req.headers()["authorization"].is_sensitive());
        assert_eq!(req.headers()["x-amz-date"], "20150830T123600Z");
        assert_eq!(req.headers()["x-amz-security-token"], "session-token");
        assert!(!format!("{:?}", creds(Some("t"))).contains("EXAMPLEKEY"));
    }

    #[test]
    fn api_keys_are_bearer_tokens() {
        let mut req = request();
        BedrockAuth::ApiKey(SecretString::from("bedrock-api-key-1"))
            .apply(&mut req, SystemTime::now())
            .unwrap();
        assert_eq!(req.headers()["authorization"], "Bearer bedrock-api-key-1");
        assert!(!req.headers().contains_key("x-amz-date"));
    }
}
