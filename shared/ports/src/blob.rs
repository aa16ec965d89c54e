//! The blob-store port: files kept beside the table (template attachments such as a product
//! brochure or a contract form, generated weekly reports). S3 in AWS (`nhip-aws`), a folder
//! locally (`nhip-local`).

use std::error::Error as StdError;

use async_trait::async_trait;

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// MIME type, e.g. `application/pdf`.
    pub content_type: String,
}

/// Largest blob Nhịp stores (SES caps a whole e-mail at 40 MB; attachments stay well below).
pub const MAX_BLOB_BYTES: usize = 10 * 1024 * 1024;

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The key or content is unacceptable (bad characters, too large).
    #[error("invalid blob request: {reason}")]
    Invalid {
        /// What was wrong.
        reason: String,
    },
    /// The backend failed or could not be reached.
    #[error("blob store unavailable")]
    Unavailable {
        /// The underlying error, kept whole.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// Checks a blob key: 1–512 bytes of `[A-Za-z0-9._/-]`, no empty segment, no `..` segment,
/// not starting with `/`. Both adapters apply it, so a key valid locally is valid in S3 and
/// cannot escape the local folder.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    if ok {
        Ok(())
    } else {
        Err(BlobError::Invalid {
            reason: "blob keys are 1–512 characters of A–Z, a–z, 0–9, '.', '_', '-' and '/' \
                     separated segments"
                .into(),
        })
    }
}

/// Where files are kept.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// The backend's name: `s3` or `folder`.
    fn backend(&self) -> &'static str;

    /// Stores `blob` under `key`, replacing what was there.
    async fn put(&self, key: &str, blob: Blob) -> Result<(), BlobError>;

    /// The blob under `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError>;

    /// Removes the blob under `key`; removing a missing key succeeds.
    async fn delete(&self, key: &str) -> Result<(), BlobError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_or_carry_odd_characters() {
        for good in ["templates/01J/brochure.pdf", "reports/2026-11-23/tuan.xlsx"] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/abs", "a/../b", "a//b", "a/./b", "tên.pdf", "a b", "a\\b",
        ] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }
}
