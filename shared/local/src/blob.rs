//! `FolderBlobStore`: the blob-store port over a local folder. Each blob is a file under its
//! key, with its content type in a `.meta` file beside it; keys are checked by the port's
//! rule, so none can leave the folder.

use std::io::ErrorKind;
use std::path::PathBuf;

use async_trait::async_trait;
use nhip_ports::blob::{Blob, BlobError, BlobStore, MAX_BLOB_BYTES, validate_key};

/// Blobs as files under one folder.
#[derive(Debug, Clone)]
pub struct FolderBlobStore {
    root: PathBuf,
}

impl FolderBlobStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn paths(&self, key: &str) -> Result<(PathBuf, PathBuf), BlobError> {
        validate_key(key)?;
        let data = self.root.join(key);
        let meta = self.root.join(format!("{key}.meta"));
        Ok((data, meta))
    }
}

fn unavailable(error: std::io::Error) -> BlobError {
    BlobError::Unavailable {
        source: Box::new(error),
    }
}

#[async_trait]
impl BlobStore for FolderBlobStore {
    fn backend(&self) -> &'static str {
        "folder"
    }

    async fn put(&self, key: &str, blob: Blob) -> Result<(), BlobError> {
        if blob.bytes.len() > MAX_BLOB_BYTES {
            return Err(BlobError::Invalid {
                reason: format!("a blob is at most {MAX_BLOB_BYTES} bytes"),
            });
        }
        let (data, meta) = self.paths(key)?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(parent) = data.parent() {
                std::fs::create_dir_all(parent)?;
            }
            // Write then rename, so a reader never sees half a file.
            let partial = data.with_extension("partial");
            std::fs::write(&partial, &blob.bytes)?;
            std::fs::write(&meta, blob.content_type.as_bytes())?;
            std::fs::rename(&partial, &data)
        })
        .await
        .map_err(|e| BlobError::Unavailable { source: e.into() })?
        .map_err(unavailable)
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        let (data, meta) = self.paths(key)?;
        tokio::task::spawn_blocking(move || -> std::io::Result<Option<Blob>> {
            let bytes = match std::fs::read(&data) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let content_type = std::fs::read_to_string(&meta)
                .unwrap_or_else(|_| "application/octet-stream".to_owned());
            Ok(Some(Blob {
                bytes,
                content_type,
            }))
        })
        .await
        .map_err(|e| BlobError::Unavailable { source: e.into() })?
        .map_err(unavailable)
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let (data, meta) = self.paths(key)?;
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            for path in [data, meta] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| BlobError::Unavailable { source: e.into() })?
        .map_err(unavailable)
    }
}
