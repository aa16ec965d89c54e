//! The signing certificates of SNS messages delivered over HTTP(S), and the addresses they
//! may come from. SNS signs each message with the key of the certificate at its
//! `SigningCertURL`; a source answers that certificate ([`CertificateSource::pem`]) and
//! visits a subscription's `SubscribeURL` to confirm it. Both addresses must pass the rules
//! here first, whichever source answers, so a forged message cannot make Nhịp fetch anything
//! but an SNS address. The HTTPS source is `nhip-sns-https`; checking a message's signature
//! is the messaging feature's.

use async_trait::async_trait;
use url::{Host, Url};

/// Longest `SigningCertURL` considered.
const MAX_CERT_URL_LEN: usize = 512;

/// A boxed error kept as the source of a [`CertificateError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why no certificate could be answered.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The address is not an SNS one.
    #[error("untrusted SNS address: {reason}")]
    Untrusted {
        /// Which rule the address breaks.
        reason: &'static str,
    },
    /// What was found there is not a usable certificate.
    #[error("unusable SNS signing certificate: {reason}")]
    Invalid {
        /// What is wrong.
        reason: &'static str,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The certificate could not be downloaded, or the confirmation visit failed.
    #[error("could not reach SNS")]
    Fetch {
        /// The transport or HTTP status error.
        #[source]
        source: BoxError,
    },
}

impl CertificateError {
    /// An unusable certificate, with its cause.
    pub fn invalid(reason: &'static str, source: impl Into<BoxError>) -> Self {
        CertificateError::Invalid {
            reason,
            source: Some(source.into()),
        }
    }
}

fn untrusted(reason: &'static str) -> CertificateError {
    CertificateError::Untrusted { reason }
}

/// Where signing certificates come from: HTTPS (or a provisioned folder) in production, a map
/// in tests.
#[async_trait]
pub trait CertificateSource: Send + Sync {
    /// The PEM text of the certificate at `url`. Implementations must refuse an address that
    /// [`trusted_cert_url`] refuses.
    async fn pem(&self, url: &str) -> Result<String, CertificateError>;

    /// Confirms a subscription by visiting its `SubscribeURL` (only an https address on an SNS
    /// host, after the confirmation's own signature was verified).
    async fn confirm(&self, subscribe_url: &str) -> Result<(), CertificateError>;
}

/// A `SubscribeURL` Nhịp may visit: https on `sns.<region>.amazonaws.com`, no user
/// information or port.
pub fn trusted_subscribe_url(raw: &str) -> Result<Url, CertificateError> {
    if raw.is_empty() || raw.len() > 2048 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(untrusted("not a plain URL"));
    }
    let url = Url::parse(raw).map_err(|_| untrusted("not a URL"))?;
    let host_ok = matches!(url.host(), Some(Host::Domain(host)) if is_sns_host(host));
    if url.scheme() != "https"
        || !url.username().is_empty()
        || url.password().is_some()
        || url.port().is_some()
        || !host_ok
    {
        return Err(untrusted("not https on sns.<region>.amazonaws.com"));
    }
    Ok(url)
}

/// Checks that `raw` is an SNS signing-certificate address and answers it parsed (the one to
/// fetch): `https`, host exactly `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`,
/// no user info, no port other than 443, no query or fragment, a path ending in `.pem`.
pub fn trusted_cert_url(raw: &str) -> Result<Url, CertificateError> {
    if raw.is_empty() {
        return Err(untrusted("missing"));
    }
    if raw.len() > MAX_CERT_URL_LEN {
        return Err(untrusted("too long"));
    }
    // The URL parser silently drops tabs and newlines and maps non-ASCII hosts through IDNA;
    // a real SNS address has neither, so refuse them before parsing.
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(untrusted(
            "contains whitespace, control or non-ASCII characters",
        ));
    }
    let url = Url::parse(raw).map_err(|_| untrusted("not a URL"))?;
    if url.scheme() != "https" {
        return Err(untrusted("not https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(untrusted("carries user information"));
    }
    // `Url` drops the scheme's default port, so an explicit `:443` reads as none here.
    if url.port().is_some() {
        return Err(untrusted("names a port"));
    }
    match url.host() {
        Some(Host::Domain(host)) if is_sns_host(host) => {}
        _ => {
            return Err(untrusted("host is not sns.<region>.amazonaws.com"));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(untrusted("has a query or fragment"));
    }
    if !url.path().ends_with(".pem") || url.path().len() <= "/.pem".len() {
        return Err(untrusted("path does not end in .pem"));
    }
    Ok(url)
}

/// `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`, nothing before or after.
fn is_sns_host(host: &str) -> bool {
    let Some(rest) = host.strip_prefix("sns.") else {
        return false;
    };
    let region = rest
        .strip_suffix(".amazonaws.com")
        .or_else(|| rest.strip_suffix(".amazonaws.com.cn"));
    region.is_some_and(is_region)
}

/// An AWS region name: `<2 letters>(-<letters>)+-<digits>`, e.g. `ap-southeast-1`,
/// `us-gov-west-1`, `cn-north-1`.
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    parts.len() >= 3
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 3
        && last.bytes().all(|b| b.is_ascii_digit())
}
