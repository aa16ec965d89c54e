//! Signed webhooks: a shared-secret HMAC-SHA256 over `"<timestamp>.<raw body>"`, sent as
//! `X-Nhip-Timestamp: <unix seconds>` and `X-Nhip-Signature: sha256=<hex>`. The call centre
//! (`/v1/telephony/incoming`) and the SMS provider's inbound replies
//! (`/v1/tracking/sms-inbound`) sign this way, and Nhịp's own webhook channel signs its
//! deliveries the same way.

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::http::ApiError;

/// Header carrying the signing instant, unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-nhip-timestamp";
/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-nhip-signature";
/// How far the signing instant may be from now, either way, in seconds.
pub const MAX_SKEW_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// The signature header value for `body` signed at `timestamp` (what the call centre sends).
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn unauthorised(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", message)
}

/// Checks the signature (constant time) and the freshness of the timestamp.
pub fn verify(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let timestamp = header(TIMESTAMP_HEADER)
        .filter(|t| !t.is_empty() && t.len() <= 12 && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| unauthorised("Missing or malformed X-Nhip-Timestamp."))?;
    let signature = header(SIGNATURE_HEADER)
        .and_then(|s| s.trim().strip_prefix("sha256="))
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or_else(|| unauthorised("Missing or malformed X-Nhip-Signature."))?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&signature)
        .map_err(|_| unauthorised("The signature does not match."))?;
    let signed_at: i64 = timestamp
        .parse()
        .map_err(|_| unauthorised("Missing or malformed X-Nhip-Timestamp."))?;
    if (now.timestamp() - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err(unauthorised(
            "The timestamp is more than five minutes from now.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TIMESTAMP_HEADER, timestamp.parse().unwrap());
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    #[test]
    fn signatures_are_checked_with_the_timestamp() {
        let secret = b"call-centre-secret";
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        let ts = now.timestamp().to_string();
        let body = br#"{"call_id":"c1","caller":"0912345678"}"#;
        let good = sign(secret, &ts, body);
        assert!(verify(secret, &headers(&ts, &good), body, now).is_ok());
        assert!(verify(b"other", &headers(&ts, &good), body, now).is_err());
        assert!(verify(secret, &headers(&ts, &good), b"{}", now).is_err());
        let later = (now.timestamp() + 1).to_string();
        assert!(verify(secret, &headers(&later, &good), body, now).is_err());
        let stale = (now.timestamp() - 301).to_string();
        let stale_sig = sign(secret, &stale, body);
        let error = verify(secret, &headers(&stale, &stale_sig), body, now).unwrap_err();
        assert_eq!(error.status, StatusCode::UNAUTHORIZED);
        assert!(verify(secret, &HeaderMap::new(), body, now).is_err());
        assert!(verify(secret, &headers(&ts, "sha256=zz"), body, now).is_err());
    }
}
