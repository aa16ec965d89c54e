//! `S3BlobStore`: the blob-store port on one S3 bucket, plus
//! [`S3BlobStore::create_bucket`] for emulators and tests.
//!
//! Keys are checked by the port's rule ([`validate_key`]) and sizes by [`MAX_BLOB_BYTES`]
//! before S3 is called, so a key valid locally is valid here. The content type is the
//! object's `Content-Type`. A missing object reads as `None`; deleting one succeeds, as S3
//! itself answers.

use crate::lazy::Lazy;
use std::error::Error as StdError;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use nhip_ports::blob::{Blob, BlobError, BlobStore, MAX_BLOB_BYTES, validate_key};

/// The content type of an object stored without one.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Blobs as objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Lazy<Client>,
    bucket: String,
}

impl S3BlobStore {
    /// Blobs in `bucket` through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self::on(crate::lazy::ready(client), bucket)
    }

    fn on(client: Lazy<Client>, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// Blobs in `bucket` through a client built from `sdk`. With an endpoint override (an
    /// emulator such as moto) requests use path-style addressing (`endpoint/bucket/key`),
    /// since an emulator on `127.0.0.1` has no per-bucket host names.
    pub fn from_sdk_config(sdk: &SdkConfig, bucket: impl Into<String>) -> Self {
        let sdk = sdk.clone();
        let client = crate::lazy::on_first_use(move || {
            let config = aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(sdk.endpoint_url().is_some())
                .build();
            Client::from_conf(config)
        });
        Self::on(client, bucket)
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The S3 client, for setup code and tests.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the bucket in the client's region. For emulators and tests; in AWS the SAM
    /// template creates it.
    pub async fn create_bucket(&self) -> Result<(), BlobError> {
        let region = self
            .client
            .config()
            .region()
            .map(|r| r.as_ref().to_owned())
            .unwrap_or_default();
        let mut request = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region S3 refuses as an explicit location constraint.
        if !region.is_empty() && region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region.as_str()))
                    .build(),
            );
        }
        request.send().await.map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn put(&self, key: &str, blob: Blob) -> Result<(), BlobError> {
        validate_key(key)?;
        if blob.bytes.len() > MAX_BLOB_BYTES {
            return Err(BlobError::Invalid {
                reason: format!(
                    "a blob is at most {MAX_BLOB_BYTES} bytes, this one is {}",
                    blob.bytes.len()
                ),
            });
        }
        let content_type = if blob.content_type.is_empty() {
            DEFAULT_CONTENT_TYPE.to_owned()
        } else {
            blob.content_type
        };
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(blob.bytes))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Blob>, BlobError> {
        validate_key(key)?;
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(err) => return Err(unavailable(err)),
        };
        let content_type = out
            .content_type
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned());
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| BlobError::Unavailable {
                source: Box::new(e),
            })?
            .into_bytes()
            .to_vec();
        Ok(Some(Blob {
            bytes,
            content_type,
        }))
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn unavailable<E>(err: SdkError<E, HttpResponse>) -> BlobError
where
    E: StdError + Send + Sync + 'static,
{
    BlobError::Unavailable {
        source: Box::new(err),
    }
}
