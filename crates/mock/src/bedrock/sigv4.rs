//! An independent SigV4 verifier: the mock recomputes the canonical request, the string to sign
//! and the HMAC-SHA256 signing-key chain itself (with `hmac` and `sha2`, not `aws-sigv4`), so a
//! test that signs with the AWS crate and passes here proves the gateway's signing against a
//! second implementation of the algorithm, as Bedrock would check it.
//!
//! Source: "Create a signed AWS API request" and "Elements of an AWS API request signature" in
//! the IAM user guide (canonical request, string to sign, signing key, signature).

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm SigV4 (as opposed to SigV4a) uses.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far `x-amz-date` may be from the mock's clock, as AWS allows.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Why a signed request is refused; each maps to the exception AWS answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SigV4Failure {
    /// The `Authorization` value is not a SigV4 header (`IncompleteSignatureException`).
    Malformed(String),
    /// The access key is not the configured one (`UnrecognizedClientException`).
    UnknownAccessKey,
    /// The credential scope names another service or a bad terminator
    /// (`InvalidSignatureException`).
    WrongScope(String),
    /// `x-amz-date` is missing, malformed, off the scope's date, or too far from now
    /// (`InvalidSignatureException`).
    BadDate(String),
    /// The recomputed signature differs (`InvalidSignatureException`).
    Mismatch,
}

impl SigV4Failure {
    /// The exception name and the message AWS gives.
    pub(crate) fn exception(&self) -> (&'static str, String) {
        match self {
            Self::Malformed(m) => ("IncompleteSignatureException", m.clone()),
            Self::UnknownAccessKey => (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".to_owned(),
            ),
            Self::WrongScope(m) | Self::BadDate(m) => ("InvalidSignatureException", m.clone()),
            Self::Mismatch => (
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details."
                    .to_owned(),
            ),
        }
    }
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
struct Parsed<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse(authorization: &str) -> Result<Parsed<'_>, SigV4Failure> {
    let malformed = |m: &str| SigV4Failure::Malformed(m.to_owned());
    let rest = authorization
        .strip_prefix(ALGORITHM)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| {
            malformed("Authorization header requires the AWS4-HMAC-SHA256 algorithm.")
        })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let missing = |name: &str| {
        SigV4Failure::Malformed(format!("Authorization header requires '{name}' parameter."))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope.as_slice() else {
        return Err(malformed(
            "Credential should have exactly five parts: access key, date, region, service and \
             aws4_request.",
        ));
    };
    if *terminator != "aws4_request" {
        return Err(SigV4Failure::WrongScope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not \
             '{terminator}'."
        )));
    }
    Ok(Parsed {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// URI-encodes every byte but the unreserved ones (and `/` when `keep_slash`), upper-case hex,
/// as SigV4 specifies.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The canonical query string: pairs sorted by name then value, each side URI-encoded (the raw
/// query is decoded first so that what the client encoded is not encoded twice).
fn canonical_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), false),
                uri_encode(&percent_decode(v), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A header's canonical value: all its values trimmed, inner runs of spaces collapsed, joined by
/// commas.
fn canonical_header_value(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `YYYYMMDD'T'HHMMSS'Z'` to a time.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3_600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// The request being checked.
pub(crate) struct Signed<'a> {
    pub(crate) method: &'a str,
    /// The path exactly as it arrived (still percent-encoded).
    pub(crate) raw_path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// The access key id of a SigV4 `Authorization` value, for per-key faults.
pub(crate) fn access_key_of(authorization: &str) -> Option<&str> {
    parse(authorization).ok().map(|p| p.access_key)
}

/// Verifies a SigV4-signed request for service `bedrock` against the configured key pair.
pub(crate) fn verify(
    req: &Signed<'_>,
    authorization: &str,
    access_key: &str,
    secret_key: &str,
    now: SystemTime,
) -> Result<(), SigV4Failure> {
    let p = parse(authorization)?;
    if p.access_key != access_key {
        return Err(SigV4Failure::UnknownAccessKey);
    }
    if p.service != "bedrock" {
        return Err(SigV4Failure::WrongScope(format!(
            "Credential should be scoped to correct service: 'bedrock'. (got '{}')",
            p.service
        )));
    }
    let amz_date = req
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            SigV4Failure::BadDate(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
                 header."
                    .to_owned(),
            )
        })?;
    let signed_at = parse_amz_date(amz_date)
        .ok_or_else(|| SigV4Failure::BadDate(format!("Invalid X-Amz-Date: {amz_date}")))?;
    if !amz_date.starts_with(p.date) {
        return Err(SigV4Failure::BadDate(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from \
             HTTP: '{}' != '{}'",
            p.date,
            &amz_date[..8]
        )));
    }
    let skew = now
        .duration_since(signed_at)
        .unwrap_or_else(|e| e.duration());
    if skew > MAX_SKEW {
        return Err(SigV4Failure::BadDate(format!(
            "Signature expired: {amz_date} is now earlier or later than the 15 minutes the \
             mock's clock allows."
        )));
    }
    let mut sorted = p.signed_headers.clone();
    sorted.sort_unstable();
    if sorted != p.signed_headers || !p.signed_headers.contains(&"host") {
        return Err(SigV4Failure::Malformed(
            "SignedHeaders must be sorted, lower-case, and include host.".to_owned(),
        ));
    }
    if req.headers.contains_key("x-amz-security-token")
        && !p.signed_headers.contains(&"x-amz-security-token")
    {
        return Err(SigV4Failure::Mismatch);
    }

    let body_hash = sha256_hex(req.body);
    let payload_hash = match req
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some("UNSIGNED-PAYLOAD") => "UNSIGNED-PAYLOAD".to_owned(),
        Some(sent) if sent != body_hash => return Err(SigV4Failure::Mismatch),
        _ => body_hash,
    };
    let mut canonical = String::with_capacity(512);
    canonical.push_str(req.method);
    canonical.push('\n');
    canonical.push_str(&uri_encode(req.raw_path, true));
    canonical.push('\n');
    canonical.push_str(&canonical_query(req.query));
    canonical.push('\n');
    for name in &p.signed_headers {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(&canonical_header_value(req.headers, name));
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&p.signed_headers.join(";"));
    canonical.push('\n');
    canonical.push_str(&payload_hash);

    let scope = format!("{}/{}/{}/aws4_request", p.date, p.region, p.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), p.date.as_bytes());
    let k_region = hmac(&k_date, p.region.as_bytes());
    let k_service = hmac(&k_region, p.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let sent = unhex(p.signature).ok_or(SigV4Failure::Mismatch)?;
    let mut mac = HmacSha256::new_from_slice(&k_signing).map_err(|_| SigV4Failure::Mismatch)?;
    mac.update(string_to_sign.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&sent).map_err(|_| SigV4Failure::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The signing-key example of the SigV4 documentation ("Derive a signing key"): secret
    /// `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, 20120215, us-east-1, iam.
    #[test]
    fn signing_key_matches_the_documented_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let k_date = hmac(format!("AWS4{secret}").as_bytes(), b"20120215");
        let k_region = hmac(&k_date, b"us-east-1");
        let k_service = hmac(&k_region, b"iam");
        let k_signing = hmac(&k_service, b"aws4_request");
        assert_eq!(
            hex(&k_signing),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn dates_and_encoding() {
        assert_eq!(
            parse_amz_date("20150830T123600Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_440_938_160))
        );
        assert_eq!(parse_amz_date("2015-08-30"), None);
        assert_eq!(
            uri_encode("/model/a.b-v1%3A0/converse", true),
            "/model/a.b-v1%253A0/converse"
        );
        assert_eq!(canonical_query(Some("b=2&a=x%20y")), "a=x%20y&b=2");
        assert_eq!(unhex("0aff"), Some(vec![10, 255]));
    }
}
