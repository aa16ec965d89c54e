//! # Layout
//! The HTTPS adapter behind `nhip_ports::certificates::CertificateSource`: SNS signing
//! certificates downloaded over HTTPS (rustls, no redirects, a time and size limit) and kept
//! by address for the life of the process, or provisioned beforehand in a folder
//! ([`CERTIFICATE_DIR_VAR`]) for a network without a route to SNS; and the visit that confirms
//! an SNS subscription. Every address passes the port's rules before anything is fetched.
//! Used by the AWS wiring and the local runner alike.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use nhip_ports::certificates::{
    CertificateError, CertificateSource, trusted_cert_url, trusted_subscribe_url,
};
use url::Url;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;

/// Time limit of one certificate download.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest certificate file accepted (a real one is about 2 KB).
pub const MAX_CERT_BYTES: usize = 64 * 1024;

/// `NHIP_SNS_CERTIFICATE_DIR`: a folder of SNS signing certificates provisioned beforehand,
/// for a deployment whose network has no route to `sns.<region>.amazonaws.com` (a bank's
/// VPC without internet egress). Each `<name>.pem` file answers for the `SigningCertURL`s
/// ending in `/<name>.pem`; the address itself must still be an SNS one.
pub const CERTIFICATE_DIR_VAR: &str = "NHIP_SNS_CERTIFICATE_DIR";

/// The folder [`CERTIFICATE_DIR_VAR`] names, if it is set and not blank: the one reader of the
/// variable, for the AWS wiring and the local runner alike.
pub fn provisioned_dir(get: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    get(CERTIFICATE_DIR_VAR)
        .map(|dir| dir.trim().to_owned())
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}

/// Downloads signing certificates over HTTPS (rustls, [`FETCH_TIMEOUT`], no redirects) and
/// keeps them by URL for the life of the process. SNS rotates certificates by publishing them
/// at new addresses, so a cached entry never goes stale; only files that parse as a
/// certificate are kept, so the cache holds at most the handful of real SNS certificates.
/// Certificates provisioned in a folder ([`HttpsCertificates::with_provisioned`]) are answered
/// without a download.
pub struct HttpsCertificates {
    /// Built on the first download, not at start: most functions never verify an SNS message.
    client: std::sync::LazyLock<reqwest::Client>,
    cache: Mutex<HashMap<String, String>>,
    provisioned: HashMap<String, String>,
}

impl HttpsCertificates {
    /// A source with its own HTTPS client, built on its first download. Build the source
    /// once per process (Lambda cold start).
    pub fn new() -> Result<Self, CertificateError> {
        let client: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
            reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .https_only(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("the rustls TLS backend initialises")
        });
        Ok(Self {
            client,
            cache: Mutex::new(HashMap::new()),
            provisioned: HashMap::new(),
        })
    }

    /// Adds the certificates provisioned in `dir` (every `*.pem` file; see
    /// [`CERTIFICATE_DIR_VAR`]). A file that is not a PEM X.509 certificate is an error, so a
    /// misprovisioned folder stops the start instead of failing every message later.
    pub fn with_provisioned(mut self, dir: &Path) -> Result<Self, CertificateError> {
        let unreadable = |error: std::io::Error| {
            CertificateError::invalid("the provisioned certificate folder is unreadable", error)
        };
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let path = entry.map_err(unreadable)?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".pem") || !path.is_file() {
                continue;
            }
            let pem = std::fs::read_to_string(&path).map_err(unreadable)?;
            Certificate::from_pem(pem.as_bytes()).map_err(|error| {
                tracing::error!(path = %path.display(), "not a PEM X.509 certificate");
                CertificateError::invalid(
                    "a provisioned file is not a PEM X.509 certificate",
                    error,
                )
            })?;
            self.provisioned.insert(name.to_owned(), pem);
        }
        Ok(self)
    }

    /// [`HttpsCertificates::new`], with the certificates of `dir` when there is one (see
    /// [`provisioned_dir`]).
    pub fn with_folder(dir: Option<&Path>) -> Result<Self, CertificateError> {
        let source = Self::new()?;
        match dir {
            Some(dir) => source.with_provisioned(dir),
            None => Ok(source),
        }
    }

    /// [`HttpsCertificates::with_folder`] of the folder `NHIP_SNS_CERTIFICATE_DIR` names, if
    /// any (`get` reads the environment).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, CertificateError> {
        Self::with_folder(provisioned_dir(get).as_deref())
    }

    fn provisioned_for(&self, url: &Url) -> Option<String> {
        let name = url.path_segments()?.next_back()?;
        self.provisioned.get(name).cloned()
    }

    fn cached(&self, url: &str) -> Option<String> {
        // A poisoned lock only means another request panicked mid-insert of a whole value.
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(url).cloned()
    }

    async fn download(&self, url: Url) -> Result<String, CertificateError> {
        let fetch = |error: reqwest::Error| CertificateError::Fetch {
            source: Box::new(error),
        };
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(fetch)?
            .error_for_status()
            .map_err(fetch)?;
        let too_large = || CertificateError::Invalid {
            reason: "the certificate file is too large",
            source: None,
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_CERT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch)? {
            if body.len() + chunk.len() > MAX_CERT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        String::from_utf8(body).map_err(|error| CertificateError::invalid("not text", error))
    }
}

#[async_trait]
impl CertificateSource for HttpsCertificates {
    async fn pem(&self, url: &str) -> Result<String, CertificateError> {
        let url = trusted_cert_url(url)?;
        if let Some(pem) = self.provisioned_for(&url) {
            return Ok(pem);
        }
        let key = url.as_str().to_owned();
        if let Some(pem) = self.cached(&key) {
            return Ok(pem);
        }
        let pem = self.download(url).await?;
        Certificate::from_pem(pem.as_bytes())
            .map_err(|error| CertificateError::invalid("not a PEM X.509 certificate", error))?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(key, pem.clone());
        Ok(pem)
    }

    async fn confirm(&self, subscribe_url: &str) -> Result<(), CertificateError> {
        let url = trusted_subscribe_url(subscribe_url)?;
        self.client
            .get(url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map(|_| ())
            .map_err(|error| CertificateError::Fetch {
                source: Box::new(error),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT_URL: &str =
        "https://sns.ap-southeast-1.amazonaws.com/SimpleNotificationService-test.pem";
    const FIXTURE: &str = include_str!("../tests/fixtures/SimpleNotificationService-test.pem");

    #[tokio::test]
    async fn provisioned_certificates_answer_without_a_download_for_sns_addresses_only() {
        let folder = tempfile::tempdir().unwrap();
        let dir = folder.path().to_path_buf();
        let name = CERT_URL.rsplit('/').next().unwrap();
        std::fs::write(dir.join(name), FIXTURE).unwrap();
        std::fs::write(dir.join("README.txt"), "not a certificate, not a .pem").unwrap();
        let source = HttpsCertificates::from_env(|var| {
            (var == CERTIFICATE_DIR_VAR).then(|| format!(" {} ", dir.display()))
        })
        .expect("the folder holds one certificate");

        assert_eq!(source.pem(CERT_URL).await.unwrap(), FIXTURE);
        // Another SNS region's address of the same file is the same certificate.
        let other_region = CERT_URL.replace("ap-southeast-1", "eu-west-1");
        assert_eq!(source.pem(&other_region).await.unwrap(), FIXTURE);
        // The file's name on a host that is not SNS is still refused.
        let elsewhere = format!("https://sns.example.com/{name}");
        assert!(matches!(
            source.pem(&elsewhere).await,
            Err(CertificateError::Untrusted { .. })
        ));

        // A .pem file that is not a certificate stops the start.
        std::fs::write(
            dir.join("broken.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
        )
        .unwrap();
        assert!(matches!(
            HttpsCertificates::with_folder(Some(&dir)),
            Err(CertificateError::Invalid { .. })
        ));
        // No variable, or a blank one: no folder read.
        assert!(HttpsCertificates::from_env(|_| None).is_ok());
        assert_eq!(provisioned_dir(|_| Some("  ".to_owned())), None);
    }

    #[tokio::test]
    async fn untrusted_addresses_are_refused_without_fetching() {
        let source = HttpsCertificates::new().expect("client");
        for url in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://127.0.0.1/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
        ] {
            assert!(matches!(
                source.pem(url).await,
                Err(CertificateError::Untrusted { .. })
            ));
        }
        assert!(matches!(
            source.confirm("https://evil.example/confirm").await,
            Err(CertificateError::Untrusted { .. })
        ));
    }
}
