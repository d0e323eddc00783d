//! Headers a client asks the gateway to pass on to the provider: `x-bf-eh-<name>: value` is sent
//! upstream as `<name>: value` (Bifrost's convention), and an `anthropic-beta` header is passed
//! on as is, so Anthropic SDK users keep their beta features.
//!
//! Credentials, hop-by-hop headers, the headers that frame or sign the request, and those that
//! change the answer's encoding or range, the client's apparent address, or the method and URL a
//! proxy acts on are never forwarded, whatever `client.header_filter_config` says: a client must
//! not be able to replace the provider key the gateway holds, smuggle a second body length, break
//! a SigV4 signature, or get an answer (gzip, a byte range) the gateway cannot read.
//! Within those, the configured allowlist and denylist decide.

use asbru_config::HeaderFilter;
use http::header::{HeaderMap, HeaderName};

/// The prefix of headers meant for the provider.
pub const EXTRA_HEADER_PREFIX: &str = "x-bf-eh-";

/// The one provider header a client may send without the prefix.
const ANTHROPIC_BETA: &str = "anthropic-beta";

/// Never forwarded (lower case): credentials, the headers that frame or sign the body, hop-by-hop
/// headers, and the ones that change what the provider answers or who it thinks is asking (a
/// compressed or partial answer the gateway cannot read, a spoofed client address, another method
/// or URL behind a proxy that honours overrides).
const NEVER: [&str; 38] = [
    // Credentials.
    "authorization",
    "x-api-key",
    "api-key",
    "x-goog-api-key",
    "cookie",
    "set-cookie",
    // Framing and hop-by-hop.
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "content-range",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    // The shape of the answer: the gateway reads it, so it must be whole and uncompressed.
    "accept-encoding",
    "range",
    "if-range",
    // Who is asking, as proxies tell it.
    "forwarded",
    "via",
    "max-forwards",
    "x-real-ip",
    "x-client-ip",
    "true-client-ip",
    "client-ip",
    "cf-connecting-ip",
    "fastly-client-ip",
    "x-cluster-client-ip",
    // Another method or URL than the one the gateway sends.
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-rewrite-url",
    "x-override-url",
    "x-host",
    "x-proxyuser-ip",
];

/// Never forwarded either: every header starting with one of these (the gateway's own `x-bf-`,
/// SigV4's `x-amz-`, `proxy-authorization` and the other `proxy-` headers, `x-forwarded-for` and
/// its `x-forwarded-` relatives, `x-original-url` and its `x-original-` relatives).
const NEVER_PREFIXES: [&str; 5] = ["x-bf-", "x-amz-", "proxy-", "x-forwarded-", "x-original-"];

/// Whether a header name may never be forwarded, whatever the configured lists say.
fn never(name: &str) -> bool {
    NEVER.contains(&name) || NEVER_PREFIXES.iter().any(|p| name.starts_with(p))
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
    fn answer_shaping_proxy_and_override_headers_are_never_forwarded() {
        let risky = [
            "accept-encoding",
            "range",
            "if-range",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-proto",
            "forwarded",
            "x-real-ip",
            "via",
            "max-forwards",
            "te",
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            "x-original-url",
            "x-original-method",
            "x-rewrite-url",
            "proxy-authorization",
            "proxy-connection",
        ];
        let pairs: Vec<(String, &str)> = risky
            .iter()
            .map(|name| (format!("x-bf-eh-{name}"), "x"))
            .chain([("x-bf-eh-x-trace".to_owned(), "t")])
            .collect();
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let h = inbound(&pairs);
        // Not even an allowlist naming them lets them through.
        let allow_all = HeaderFilter {
            allowlist: risky
                .iter()
                .map(|n| (*n).to_owned())
                .chain(["x-trace".to_owned()])
                .collect(),
            denylist: Vec::new(),
        };
        for filter in [HeaderFilter::default(), allow_all] {
            let out = forwarded_headers(&h, &filter);
            assert_eq!(out.len(), 1, "{out:?}");
            assert_eq!(out.get("x-trace").unwrap(), "t");
        }
        for name in risky {
            assert!(never(name), "{name}");
        }
        assert!(!never("openai-organization"));
        assert!(!never("x-trace-id"));
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
