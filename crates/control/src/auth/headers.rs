//! Reading credentials out of request headers: `Authorization: Basic`, `Authorization: Bearer`
//! and the `token` cookie the login answer sets (the dashboard sends either).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::HeaderMap;
use http::header::{AUTHORIZATION, COOKIE};

/// What the `Authorization` header carries.
pub(crate) enum Authorization<'a> {
    /// `Basic base64(user:pass)`, decoded.
    Basic(String),
    /// `Bearer <token>`.
    Bearer(&'a str),
    /// No header, or a scheme or value we do not take.
    None,
}

/// Reads the `Authorization` header (the scheme is case-insensitive).
pub(crate) fn authorization(headers: &HeaderMap) -> Authorization<'_> {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Authorization::None;
    };
    let Some((scheme, rest)) = value.trim().split_once(' ') else {
        return Authorization::None;
    };
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        decode_basic(rest).map_or(Authorization::None, Authorization::Basic)
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Authorization::Bearer(rest)
    } else {
        Authorization::None
    }
}

/// `base64(user:pass)` → `user:pass`, when it decodes to UTF-8 with a colon.
pub(crate) fn decode_basic(encoded: &str) -> Option<String> {
    let bytes = B64.decode(encoded).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.contains(':').then_some(text)
}

/// The value of the `token` cookie, if any.
pub(crate) fn token_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == "token" && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"'))
}

/// The session token a request carries: `Authorization: Bearer`, else the `token` cookie.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    match authorization(headers) {
        Authorization::Bearer(token) => Some(token),
        _ => token_cookie(headers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn reads_basic_bearer_and_cookie() {
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("basic YWRtaW46cHc="),
        );
        assert!(matches!(authorization(&h), Authorization::Basic(s) if s == "admin:pw"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert!(matches!(authorization(&h), Authorization::Bearer("abc")));
        assert_eq!(session_token(&h), Some("abc"));
        h.remove(AUTHORIZATION);
        h.insert(COOKIE, HeaderValue::from_static("a=b; token=xyz; c=d"));
        assert_eq!(session_token(&h), Some("xyz"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Digest foo"));
        assert!(matches!(authorization(&h), Authorization::None));
    }
}
