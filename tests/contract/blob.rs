//! The blob-store contract, run on the local folder and on S3 (moto).

use nhip_ports::blob::{Blob, BlobError, BlobStore, MAX_BLOB_BYTES};

use crate::support;

/// The whole contract, on one store that starts empty.
async fn suite(store: &dyn BlobStore) {
    // Round trip, content type included.
    let brochure = Blob {
        bytes: b"%PDF-1.4 bieu phi the tin dung".to_vec(),
        content_type: "application/pdf".into(),
    };
    let key = "templates/01JD3ZK5X8Q2W7M4N6P9R1T3V5/bieu-phi.pdf";
    store.put(key, brochure.clone()).await.unwrap();
    assert_eq!(store.get(key).await.unwrap(), Some(brochure));

    // Every byte value survives.
    let binary = Blob {
        bytes: (0..=255u8).cycle().take(70_000).collect(),
        content_type: "application/octet-stream".into(),
    };
    store
        .put("reports/binary.bin", binary.clone())
        .await
        .unwrap();
    assert_eq!(store.get("reports/binary.bin").await.unwrap(), Some(binary));

    // A second put replaces the first, content type included.
    let report = Blob {
        bytes: "Báo cáo tuần: 12 khách hàng mới".as_bytes().to_vec(),
        content_type: "text/plain; charset=utf-8".into(),
    };
    store.put(key, report.clone()).await.unwrap();
    assert_eq!(store.get(key).await.unwrap(), Some(report));

    // Missing keys read as none, under a used prefix and elsewhere.
    assert_eq!(store.get("templates/none.pdf").await.unwrap(), None);
    assert_eq!(store.get("nothing/here").await.unwrap(), None);

    // Deleting removes; deleting again, or a key never stored, succeeds.
    store.delete(key).await.unwrap();
    assert_eq!(store.get(key).await.unwrap(), None);
    store.delete(key).await.unwrap();
    store.delete("never/stored.txt").await.unwrap();
    // The other blob is untouched.
    assert!(store.get("reports/binary.bin").await.unwrap().is_some());

    // Keys outside the shared rule are refused by every operation.
    let small = || Blob {
        bytes: b"x".to_vec(),
        content_type: "text/plain".into(),
    };
    for bad in [
        "", "/abs", "a/../b", "a//b", "tên.pdf", "a b", "a\\b", "a/./b",
    ] {
        assert!(
            matches!(
                store.put(bad, small()).await,
                Err(BlobError::Invalid { .. })
            ),
            "put {bad:?}"
        );
        assert!(
            matches!(store.get(bad).await, Err(BlobError::Invalid { .. })),
            "get {bad:?}"
        );
        assert!(
            matches!(store.delete(bad).await, Err(BlobError::Invalid { .. })),
            "delete {bad:?}"
        );
    }
    let long = "k".repeat(513);
    assert!(matches!(
        store.put(&long, small()).await,
        Err(BlobError::Invalid { .. })
    ));

    // The largest blob is accepted, one byte more is refused and nothing is stored.
    let largest = Blob {
        bytes: vec![7; MAX_BLOB_BYTES],
        content_type: "application/octet-stream".into(),
    };
    store.put("big/largest.bin", largest).await.unwrap();
    let got = store.get("big/largest.bin").await.unwrap().unwrap();
    assert_eq!(got.bytes.len(), MAX_BLOB_BYTES);
    let too_large = Blob {
        bytes: vec![7; MAX_BLOB_BYTES + 1],
        content_type: "application/octet-stream".into(),
    };
    assert!(matches!(
        store.put("big/too-large.bin", too_large).await,
        Err(BlobError::Invalid { .. })
    ));
    assert_eq!(store.get("big/too-large.bin").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = nhip_local::FolderBlobStore::new(dir.path().join("blobs"));
    assert_eq!(store.backend(), "folder");
    suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3() {
    crate::support::needs_emulator!();
    let sdk = support::aws_sdk_config().await;
    let store = nhip_aws::S3BlobStore::from_sdk_config(&sdk, support::unique_name("nhip-blobs"));
    store
        .create_bucket()
        .await
        .expect("creating the bucket on the emulator");
    assert_eq!(store.backend(), "s3");
    suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_reports_a_missing_bucket_as_unavailable() {
    crate::support::needs_emulator!();
    let sdk = support::aws_sdk_config().await;
    let store = nhip_aws::S3BlobStore::from_sdk_config(&sdk, support::unique_name("nhip-absent"));
    let blob = Blob {
        bytes: b"x".to_vec(),
        content_type: "text/plain".into(),
    };
    let err = store.put("a.txt", blob).await.unwrap_err();
    assert!(matches!(err, BlobError::Unavailable { .. }), "{err:?}");
    let err = store.get("a.txt").await.unwrap_err();
    assert!(matches!(err, BlobError::Unavailable { .. }), "{err:?}");
}
