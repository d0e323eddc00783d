//! What every inference route reads first, whatever its dialect: a JSON body within the size
//! limit and the idle timeout, and the gateway's own headers (key pins, session, headers to
//! forward, the headers plugins read), with the request's id and route from the edge.

use asbru_engine::{DEFAULT_SESSION_TTL, KeyPin, MAX_SESSION_TTL, RequestMeta};
use asbru_schema::GatewayError;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, header};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::state::AppState;

/// `GET …/models` query: the gateway's `provider` filter, and Anthropic's paging (`limit`,
/// `after_id`, `before_id`) for Anthropic clients.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ModelsQuery {
    pub(crate) provider: Option<String>,
    pub(crate) limit: Option<usize>,
    pub(crate) after_id: Option<String>,
    pub(crate) before_id: Option<String>,
}

/// What every inference route reads first: the body (bounded by `max_request_body_size_mb`)
/// and the gateway headers (key pins, session, headers to forward), whatever dialect follows.
pub(crate) async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, RequestMeta), GatewayError> {
    let received = Instant::now();
    require_json(headers)?;
    let limit = state.gateway.max_request_body_bytes();
    let body = read_body(headers, body, limit, state.body_read_timeout).await?;
    let edge = crate::edge::current();
    let meta = RequestMeta {
        pin: KeyPin {
            id: header_str(headers, "x-bf-api-key-id"),
            name: header_str(headers, "x-bf-api-key"),
        },
        session: session(headers)?,
        received,
        forward: state.gateway.forwarded_headers(headers),
        route_provider: None,
        dialect_fields: Vec::new(),
        request_id: edge.as_ref().map(|e| Arc::clone(&e.id)),
        route: edge.map(|e| e.route).unwrap_or_default(),
        plugin_headers: state.gateway.plugin_headers(headers),
        client_wait: received.elapsed(),
    };
    Ok((body, meta))
}

/// Refuses a body that does not say it is JSON (415). Every SDK sends `application/json`; a
/// browser can send `text/plain`, form data or no type at all to another site without a CORS
/// preflight, so accepting those would let any web page the operator visits spend the keys.
fn require_json(headers: &HeaderMap) -> Result<(), GatewayError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let ascii_ci =
        |part: Option<&str>, want: &str| part.is_some_and(|p| p.eq_ignore_ascii_case(want));
    let json = essence.eq_ignore_ascii_case("application/json")
        || (ascii_ci(essence.get(..12), "application/")
            && ascii_ci(essence.get(essence.len().saturating_sub(5)..), "+json"));
    if json {
        return Ok(());
    }
    metrics::counter!("asbru_requests_refused_total", "reason" => "content_type").increment(1);
    let got = if content_type.is_empty() {
        "no content-type".to_owned()
    } else {
        format!("content-type {}", asbru_schema::Untrusted(content_type))
    };
    Err(GatewayError::unsupported_media_type(format!(
        "this route takes a JSON body sent as content-type: application/json; got {got}"
    )))
}

/// Reads the whole body, refusing it with 413 as soon as it passes `limit` bytes (a declared
/// `content-length` over the limit is refused before reading anything), and with 408 when the
/// client pauses longer than `idle` between two pieces: a body that never comes must not hold a
/// connection and a task forever.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    idle: Duration,
) -> Result<Bytes, GatewayError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        metrics::counter!("asbru_request_body_too_large_total").increment(1);
        return Err(GatewayError::payload_too_large(limit));
    }
    let mut body = http_body_util::Limited::new(body, limit);
    // Most bodies arrive as one piece, which is kept without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest = bytes::BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => break,
            Ok(Some(Err(e))) if e.is::<http_body_util::LengthLimitError>() => {
                metrics::counter!("asbru_request_body_too_large_total").increment(1);
                return Err(GatewayError::payload_too_large(limit));
            }
            Ok(Some(Err(e))) => {
                return Err(GatewayError::invalid_request(
                    format!("could not read the request body: {e}"),
                    None,
                ));
            }
            Err(_) => {
                metrics::counter!("asbru_request_body_timeouts_total").increment(1);
                return Err(GatewayError::request_timeout(format!(
                    "the request body stopped arriving for {} s",
                    idle.as_secs()
                )));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            None => rest.extend_from_slice(&data),
            Some(earlier) => {
                rest.extend_from_slice(&earlier);
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// Longest accepted `x-bf-session-id` (a UUID is 36 bytes).
const MAX_SESSION_ID_BYTES: usize = 256;

/// `x-bf-session-id` with `x-bf-session-ttl` (seconds, or a number with `s`, `m` or `h`).
fn session(headers: &HeaderMap) -> Result<Option<(String, Duration)>, GatewayError> {
    let Some(id) = header_str(headers, "x-bf-session-id").filter(|id| !id.is_empty()) else {
        return Ok(None);
    };
    // Session ids are kept in memory; a bound on their length bounds the store.
    if id.len() > MAX_SESSION_ID_BYTES {
        return Err(GatewayError::invalid_request(
            format!("x-bf-session-id: longer than {MAX_SESSION_ID_BYTES} bytes"),
            Some("x-bf-session-id"),
        ));
    }
    let ttl = match header_str(headers, "x-bf-session-ttl") {
        None => DEFAULT_SESSION_TTL,
        Some(text) => match parse_ttl(&text) {
            Some(ttl) if ttl <= MAX_SESSION_TTL => ttl,
            Some(_) => {
                return Err(GatewayError::invalid_request(
                    format!(
                        "x-bf-session-ttl: at most {} seconds (7 days)",
                        MAX_SESSION_TTL.as_secs()
                    ),
                    Some("x-bf-session-ttl"),
                ));
            }
            None => {
                return Err(GatewayError::invalid_request(
                    format!(
                        "x-bf-session-ttl: {} is not a duration (e.g. 3600, 90s, 30m, 2h)",
                        asbru_schema::Untrusted(&text)
                    ),
                    Some("x-bf-session-ttl"),
                ));
            }
        },
    };
    Ok(Some((id, ttl)))
}

/// `x-bf-session-ttl` as a duration: seconds, or a number with `s`, `m` or `h`; `None` when it is
/// not one or is zero (saturating, so a huge number is a huge duration, refused by the caller).
pub(crate) fn parse_ttl(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last()? {
        (i, 's') => (&text[..i], 1),
        (i, 'm') => (&text[..i], 60),
        (i, 'h') => (&text[..i], 3600),
        _ => (text, 1),
    };
    let n: u64 = number.parse().ok()?;
    (n > 0).then(|| Duration::from_secs(n.saturating_mul(unit)))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::{MAX_SESSION_ID_BYTES, parse_ttl, require_json, session};
    use http::{HeaderMap, HeaderValue, header};
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn only_json_content_types_are_accepted() {
        let check = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(v) = value {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            }
            require_json(&headers).is_ok()
        };
        assert!(check(Some("application/json")));
        assert!(check(Some("Application/JSON; charset=utf-8")));
        assert!(check(Some("application/vnd.api+json")));
        assert!(!check(Some("application/jsonx")));
        assert!(!check(Some("text/plain")));
        assert!(!check(Some("application/x-www-form-urlencoded")));
        assert!(!check(Some("multipart/form-data; boundary=x")));
        assert!(!check(Some("+json")));
        assert!(!check(None));
    }

    #[test]
    fn session_ttls_parse() {
        assert_eq!(parse_ttl("3600"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_ttl("0"), None);
        assert_eq!(parse_ttl("soon"), None);
        assert_eq!(parse_ttl(""), None);
        assert_eq!(
            parse_ttl("18446744073709551615h"),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    fn headers(id: &[u8], ttl: Option<&[u8]>) -> Option<HeaderMap> {
        let mut h = HeaderMap::new();
        h.insert("x-bf-session-id", HeaderValue::from_bytes(id).ok()?);
        if let Some(ttl) = ttl {
            h.insert("x-bf-session-ttl", HeaderValue::from_bytes(ttl).ok()?);
        }
        Some(h)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_ttl_text_parses_or_is_refused(text in ".{0,24}") {
            if let Some(ttl) = parse_ttl(&text) {
                prop_assert!(ttl > Duration::ZERO);
            }
        }

        #[test]
        fn ttls_in_every_unit_parse(
            n in 1u64..,
            unit in proptest::sample::select(&[("", 1u64), ("s", 1), ("m", 60), ("h", 3600)][..]),
            pad in "[ \t]{0,2}",
        ) {
            let text = format!("{pad}{n}{}{pad}", unit.0);
            prop_assert_eq!(
                parse_ttl(&text),
                Some(Duration::from_secs(n.saturating_mul(unit.1)))
            );
        }

        #[test]
        fn session_headers_are_read_or_refused_with_their_name(
            id in proptest::collection::vec(any::<u8>(), 0..300),
            ttl in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
        ) {
            let Some(h) = headers(&id, ttl.as_deref()) else {
                return Ok(());
            };
            match session(&h) {
                Ok(Some((read, ttl))) => {
                    prop_assert_eq!(read.as_bytes(), &id[..]);
                    prop_assert!(read.len() <= MAX_SESSION_ID_BYTES);
                    prop_assert!(ttl > Duration::ZERO);
                }
                Ok(None) => prop_assert!(
                    id.is_empty() || h.get("x-bf-session-id").is_some_and(|v| v.to_str().is_err())
                ),
                Err(e) => prop_assert!(
                    matches!(e.param(), Some("x-bf-session-id" | "x-bf-session-ttl")),
                    "{:?}",
                    e
                ),
            }
        }
    }
}
