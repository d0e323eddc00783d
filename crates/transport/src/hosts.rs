//! The `Host` names the gateway answers to (`--allowed-hosts`): on loopback, only loopback names
//! by default, so a web page whose DNS name is re-bound to 127.0.0.1 cannot reach the gateway
//! through the operator's browser (DNS rebinding).

use axum::extract::Request;
use http::header;

/// Which `Host` names the gateway answers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedHosts {
    /// Any host (the default when listening on a non-loopback address).
    #[default]
    Any,
    /// Only these names (lower case, without port); `*.example.com` allows subdomains.
    /// Shared: the state that holds it is cloned for every request.
    Only(std::sync::Arc<[String]>),
}

impl AllowedHosts {
    /// The loopback names: the default when the gateway listens on a loopback address.
    pub fn loopback() -> Self {
        Self::Only(
            vec![
                "localhost".to_owned(),
                "*.localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ]
            .into(),
        )
    }

    /// Parses `--allowed-hosts`: comma-separated names, or `*` for any.
    pub fn parse(list: &str) -> Result<Self, String> {
        let names: Vec<String> = list
            .split(',')
            .map(|n| n.trim().trim_start_matches('[').trim_end_matches(']'))
            .filter(|n| !n.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        if names.is_empty() {
            return Err("--allowed-hosts: empty; give host names, or * for any".to_owned());
        }
        if names.iter().any(|n| n == "*") {
            return Ok(Self::Any);
        }
        if let Some(bad) = names
            .iter()
            .find(|n| n.contains(['/', ':', ' ']) && !is_ipv6(n))
        {
            return Err(format!(
                "--allowed-hosts: {bad:?} is not a host name (no scheme, path or port)"
            ));
        }
        Ok(Self::Only(names.into()))
    }

    pub(crate) fn allows(&self, host: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Only(names) => names.iter().any(|n| host_matches(n, host)),
        }
    }
}

fn is_ipv6(name: &str) -> bool {
    name.parse::<std::net::Ipv6Addr>().is_ok()
}

/// `pattern` is a lower-case name or `*.suffix`; `host` is a name in any letter case. Compared
/// without allocating: this runs on every request.
pub(crate) fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            let Some(cut) = host.len().checked_sub(suffix.len() + 1) else {
                return false;
            };
            cut > 0
                && host.as_bytes()[cut] == b'.'
                && host
                    .get(cut + 1..)
                    .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
        }
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// The request's `host[:port]`: the URI authority (HTTP/2, absolute-form) or the `Host` header.
pub(crate) fn request_authority(request: &Request) -> Option<&str> {
    match request.uri().authority() {
        Some(a) => Some(a.as_str()),
        None => request.headers().get(header::HOST)?.to_str().ok(),
    }
}

/// The host name of an authority, without port or IPv6 brackets.
pub(crate) fn host_name(authority: &str) -> &str {
    match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let loopback = AllowedHosts::loopback();
        assert!(loopback.allows("localhost"));
        assert!(loopback.allows("127.0.0.1"));
        assert!(loopback.allows("::1"));
        assert!(loopback.allows("app.localhost"));
        assert!(loopback.allows("LocalHost"));
        assert!(!loopback.allows(".localhost"));
        assert!(!loopback.allows("rebind.evil.example"));
        assert!(!loopback.allows(""));
        assert_eq!(AllowedHosts::parse("*"), Ok(AllowedHosts::Any));
        let list = AllowedHosts::parse("GW.example.com, [::1], *.corp.test").unwrap();
        assert!(list.allows("gw.example.com"));
        assert!(list.allows("::1"));
        assert!(list.allows("a.corp.test"));
        assert!(list.allows("A.Corp.TEST"));
        assert!(!list.allows("acorp.test"));
        assert!(!list.allows("corp.test"));
        assert!(AllowedHosts::parse("http://x").is_err());
        assert!(AllowedHosts::parse(" , ").is_err());
    }
}
