//! Removing secrets from anything a provider said before it reaches a client or a log.
//!
//! A [`Redactor`] knows a set of secrets and finds each of them in the shapes a provider (or a
//! proxy in front of it) may echo them: as configured, without a leading `Bearer `, JSON-escaped
//! (`/` as `\/`, newlines as `\n`), percent-encoded, and in any ASCII letter case. Every match is
//! replaced by `[REDACTED]`, which contains no character that would need escaping in JSON, so a
//! redacted JSON event stays valid.
//!
//! The engine builds one per provider and configuration snapshot, from every secret of the
//! provider (see [`Redactor::for_provider`]), and runs it over every error and stream event;
//! adapters also build small ones for the credential of one request (an OAuth token).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use asbru_config::{ProviderConfig, ProviderKeyConfig, ProxyConfig};
use asbru_schema::GatewayError;
use secrecy::ExposeSecret;
use std::borrow::Cow;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this are not looked for: they would match ordinary words.
const MIN_SECRET_LEN: usize = 4;

/// PEM lines at least this long are looked for on their own (a quoted piece of a private key).
const MIN_PEM_LINE_LEN: usize = 16;

/// Finds and replaces a fixed set of secrets; cheap to clone (the automaton is shared).
#[derive(Clone, Default)]
pub struct Redactor {
    matcher: Option<std::sync::Arc<AhoCorasick>>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let patterns = self.matcher.as_ref().map_or(0, |m| m.patterns_len());
        f.debug_struct("Redactor")
            .field("patterns", &patterns)
            .finish()
    }
}

impl Redactor {
    /// A redactor for `secrets` and their variants; secrets shorter than 4 bytes are ignored.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns = Vec::new();
        for secret in secrets {
            add_variants(secret.as_ref(), &mut patterns);
        }
        for p in &mut patterns {
            p.make_ascii_lowercase();
        }
        patterns.sort_unstable();
        patterns.dedup();
        if patterns.is_empty() {
            return Self::default();
        }
        let matcher = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns);
        match matcher {
            Ok(m) => Self {
                matcher: Some(std::sync::Arc::new(m)),
            },
            Err(e) => {
                // Only a pattern set beyond the automaton's size limits fails; never expected
                // for a provider's handful of keys.
                tracing::error!(error = %e, "could not build the secret redactor");
                Self::default()
            }
        }
    }

    /// Every secret of a provider's configuration: each key's value, Azure Entra client
    /// secrets, Vertex service-account credentials (and the private key in them), Bedrock
    /// secret keys and session tokens, the proxy password, and `extra_headers` values whose name
    /// says they carry a credential.
    pub fn for_provider(config: &ProviderConfig) -> Self {
        let mut secrets: Vec<String> = Vec::new();
        for key in &config.keys {
            secrets.push(key.value.expose_secret().to_owned());
            match &key.provider_config {
                ProviderKeyConfig::Azure(a) => {
                    if let Some(entra) = &a.entra {
                        secrets.push(entra.client_secret.expose_secret().to_owned());
                    }
                }
                ProviderKeyConfig::Vertex(v) => {
                    if let Some(credentials) = &v.auth_credentials {
                        let json = credentials.expose_secret();
                        secrets.push(json.to_owned());
                        secrets.extend(credential_fields(json));
                    }
                }
                ProviderKeyConfig::Bedrock(b) => {
                    for s in [&b.secret_key, &b.session_token].into_iter().flatten() {
                        secrets.push(s.expose_secret().to_owned());
                    }
                }
                ProviderKeyConfig::Vllm(_) | ProviderKeyConfig::None => {}
            }
        }
        if let ProxyConfig::Http(target) | ProxyConfig::Socks5(target) = &config.proxy
            && let Some(password) = &target.password
        {
            secrets.push(password.expose_secret().to_owned());
        }
        for (name, value) in &config.network.extra_headers {
            let name = name.to_ascii_lowercase();
            if ["auth", "key", "token", "secret", "cookie", "password"]
                .iter()
                .any(|word| name.contains(word))
            {
                secrets.push(value.clone());
            }
        }
        Self::new(secrets)
    }

    /// Whether there is nothing to look for.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Whether `haystack` contains any of the secrets.
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.is_match(haystack))
    }

    /// `text` with every secret replaced; borrowed when there was none.
    pub fn redact_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                let mut out = String::with_capacity(text.len());
                m.replace_all_with(text, &mut out, |_, _, dst| {
                    dst.push_str(REDACTED);
                    true
                });
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// Replaces every secret in `text`, allocating only when there is one.
    pub fn redact_in_place(&self, text: &mut String) {
        if let Cow::Owned(redacted) = self.redact_str(text) {
            *text = redacted;
        }
    }

    /// `bytes` with every secret replaced; borrowed when there was none.
    pub fn redact_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.matcher {
            Some(m) if m.is_match(bytes) => {
                let mut out = Vec::with_capacity(bytes.len());
                m.replace_all_with_bytes(bytes, &mut out, |_, _, dst| {
                    dst.extend_from_slice(REDACTED.as_bytes());
                    true
                });
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(bytes),
        }
    }

    /// `error` with the secrets removed from every string it carries.
    pub fn redact_error(&self, error: GatewayError) -> GatewayError {
        if self.is_empty() {
            return error;
        }
        error.map_strings(|s| self.redact_in_place(s))
    }
}

/// The shapes `secret` may come back in.
fn add_variants(secret: &str, out: &mut Vec<String>) {
    let secret = secret.trim();
    let mut bases = vec![secret];
    if secret.len() > 7 && secret[..7].eq_ignore_ascii_case("bearer ") {
        bases.push(secret[7..].trim_start());
    }
    for base in bases {
        if base.len() < MIN_SECRET_LEN {
            continue;
        }
        out.push(base.to_owned());
        let json = json_escaped(base);
        if json != base {
            out.push(json.clone());
        }
        if json.contains('/') {
            out.push(json.replace('/', "\\/"));
        }
        let percent = percent_encoded(base);
        if percent != base {
            out.push(percent);
        }
        if base.contains("-----BEGIN") {
            out.extend(
                base.lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= MIN_PEM_LINE_LEN && !l.starts_with("-----"))
                    .map(str::to_owned),
            );
        }
    }
}

/// The secret string fields of a service-account (or authorized-user) credentials file.
fn credential_fields(json: &str) -> Vec<String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(json) else {
        return Vec::new();
    };
    [
        "private_key",
        "private_key_id",
        "client_secret",
        "refresh_token",
    ]
    .iter()
    .filter_map(|name| fields.get(*name)?.as_str().map(str::to_owned))
    .collect()
}

/// `text` as it appears inside a JSON string, without the quotes.
fn json_escaped(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(text)
        .to_owned()
}

/// `text` with every byte outside RFC 3986's unreserved set percent-encoded.
fn percent_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live/Ab+cD=0123456789";

    #[test]
    fn finds_the_key_in_any_letter_case() {
        let r = Redactor::new([KEY]);
        assert_eq!(
            r.redact_str(&format!("bad key {KEY}!")),
            "bad key [REDACTED]!"
        );
        let upper = KEY.to_ascii_uppercase();
        assert_eq!(r.redact_str(&format!("x{upper}x")), "x[REDACTED]x");
        assert!(matches!(r.redact_str("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn finds_the_key_with_or_without_bearer() {
        let r = Redactor::new([format!("Bearer {KEY}")]);
        assert_eq!(r.redact_str(&format!("Bearer {KEY}")), REDACTED);
        assert_eq!(r.redact_str(&format!("key={KEY};")), "key=[REDACTED];");
        let r = Redactor::new([KEY]);
        assert_eq!(r.redact_str(&format!("bearer {KEY}")), "bearer [REDACTED]");
    }

    #[test]
    fn finds_escaped_and_encoded_forms() {
        let r = Redactor::new([KEY]);
        let escaped = KEY.replace('/', "\\/");
        let json = format!(r#"{{"error":{{"message":"{escaped}"}}}}"#);
        let out = r.redact_bytes(json.as_bytes());
        assert_eq!(&*out, br#"{"error":{"message":"[REDACTED]"}}"#);
        let encoded = "sk-live%2FAb%2BcD%3D0123456789";
        assert_eq!(r.redact_str(&format!("?key={encoded}")), "?key=[REDACTED]");
        assert_eq!(
            r.redact_str(&format!("?key={}", encoded.to_ascii_lowercase())),
            "?key=[REDACTED]"
        );
        // A PEM key quoted in JSON (newlines escaped) or one line of it.
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAAAA\n-----END PRIVATE KEY-----\n";
        let r = Redactor::new([pem]);
        let quoted = serde_json::to_string(pem).unwrap();
        assert!(!r.redact_str(&quoted).contains("MIIEvQ"));
        assert!(
            !r.redact_str("x MIIEvQIBADANBgkqhkiG9w0BAQEFAASC y")
                .contains("MIIEvQ")
        );
    }

    #[test]
    fn short_or_empty_secrets_are_ignored() {
        let r = Redactor::new(["", "abc", "  "]);
        assert!(r.is_empty());
        assert_eq!(r.redact_str("abc"), "abc");
        // The whole header value is long enough; the two letters after `Bearer ` alone are not.
        let r = Redactor::new(["Bearer ab"]);
        assert_eq!(r.redact_str("Bearer ab, ab"), "[REDACTED], ab");
    }

    #[test]
    fn redacts_every_error_field() {
        let r = Redactor::new([KEY]);
        let e = GatewayError::upstream(
            400,
            format!("m {KEY}"),
            Some(format!("Bearer {KEY}")),
            Some(KEY.to_ascii_uppercase()),
            Some(format!("Bearer {KEY}")),
        );
        let body = String::from_utf8(r.redact_error(e).to_body()).unwrap();
        assert!(!body.to_ascii_lowercase().contains("sk-live"), "{body}");
    }

    #[test]
    fn redaction_then_quoting_never_leaves_a_key_prefix() {
        // The key straddles byte 512 of a non-JSON body: whatever order the steps run in, the
        // quoted text holds no piece of it.
        let body = format!("{}{KEY} tail", "x ".repeat(250));
        assert!(body.find(KEY).unwrap() < 512 && body.find(KEY).unwrap() + KEY.len() > 512);
        let r = Redactor::new([KEY]);
        let redacted_first = r.redact_str(&body);
        let quoted = asbru_schema::quote_prefix(&redacted_first, 512);
        assert!(!quoted.contains("sk-live"), "{quoted}");
        // Cutting first (no redactor knows the key yet) leaves the key out whole.
        let cut_first = asbru_schema::quote_prefix(&body, 512);
        assert!(!cut_first.contains("sk-"), "{cut_first}");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let r = Redactor::new([KEY]);
        assert!(!format!("{r:?}").contains("sk-live"));
    }
}
