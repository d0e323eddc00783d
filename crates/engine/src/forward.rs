//! Headers a client asks the gateway to pass on to the provider: `x-bf-eh-<name>: value` is sent
//! upstream as `<name>: value` (Bifrost's convention), and an `anthropic-beta` header is passed
//! on as is, so Anthropic SDK users keep their beta features.
//!
//! Credentials, hop-by-hop headers and the headers that frame or sign the request are never
//! forwarded, whatever `client.header_filter_config` says: a client must not be able to replace
//! the provider key the gateway holds, smuggle a second body length, or break a SigV4 signature.
//! Within those, the configured allowlist and denylist decide.

use asbru_config::HeaderFilter;
use http::header::{HeaderMap, HeaderName};

/// The prefix of headers meant for the provider.
pub const EXTRA_HEADER_PREFIX: &str = "x-bf-eh-";

/// The one provider header a client may send without the prefix.
const ANTHROPIC_BETA: &str = "anthropic-beta";

/// Never forwarded (lower case).
const NEVER: [&str; 21] = [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// Whether a header name may never be forwarded: the list above, and every `x-bf-` (the
/// gateway's own) and `x-amz-` (request signing) header.
fn never(name: &str) -> bool {
    NEVER.contains(&name) || name.starts_with("x-bf-") || name.starts_with("x-amz-")
}

/// The headers of `inbound` to send upstream, names without the prefix, values unchanged (all
/// values of a repeated header kept).
pub fn forwarded_headers(inbound: &HeaderMap, filter: &HeaderFilter) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in inbound {
        let target = match name.as_str().strip_prefix(EXTRA_HEADER_PREFIX) {
            Some(rest) => rest,
            None if name.as_str() == ANTHROPIC_BETA => ANTHROPIC_BETA,
            None => continue,
        };
        if target.is_empty() || never(target) || !filter.allows(target) {
            continue;
        }
        if let Ok(target) = HeaderName::from_bytes(target.as_bytes()) {
            out.append(target, value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn inbound(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn prefixed_headers_are_forwarded_and_credentials_never() {
        let h = inbound(&[
            ("x-bf-eh-x-trace", "t1"),
            ("x-bf-eh-openai-organization", "org-1"),
            ("x-bf-eh-authorization", "Bearer stolen"),
            ("x-bf-eh-x-api-key", "k"),
            ("x-bf-eh-content-length", "1"),
            ("x-bf-eh-x-amz-date", "20250101T000000Z"),
            ("x-bf-eh-x-bf-vk", "vk"),
            ("anthropic-beta", "prompt-caching-2024-07-31"),
            ("x-bf-eh-anthropic-beta", "files-api-2025-04-14"),
            ("x-other", "not forwarded"),
            ("authorization", "Bearer client"),
        ]);
        let out = forwarded_headers(&h, &HeaderFilter::default());
        assert_eq!(out.get("x-trace").unwrap(), "t1");
        assert_eq!(out.get("openai-organization").unwrap(), "org-1");
        let betas: Vec<_> = out.get_all("anthropic-beta").iter().collect();
        assert_eq!(betas.len(), 2);
        assert_eq!(out.len(), 4, "{out:?}");
    }

    #[test]
    fn the_filter_lists_apply() {
        let h = inbound(&[("x-bf-eh-a", "1"), ("x-bf-eh-b", "2"), ("x-bf-eh-c", "3")]);
        let allow = HeaderFilter {
            allowlist: vec!["a".into(), "b".into()],
            denylist: vec!["b".into()],
        };
        let out = forwarded_headers(&h, &allow);
        assert_eq!(out.len(), 1);
        assert!(out.contains_key("a"));
    }
}
