//! One repository for versioned documents: message templates and journey definitions are kept
//! the same way, so they are read and written by this one piece of code.
//!
//! A document has a **header** (`<PREFIX><id>` / `META`: its name, latest and published
//! version, and the optimistic-concurrency `version`), listed on gsi2 under one partition per
//! family (`TEMPLATES`, `JOURNEYS`), and **immutable versions** (`<PREFIX><id>` /
//! `V#<000001>`, so they sort). A new document writes its header and version 1 create-only in
//! one transaction; a change writes the header on condition its `version` is the one read,
//! with the new version (create-only) in the same transaction. The key strings themselves are
//! built in [`crate::keys`]; a family names the functions that build them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::records::{from_item, read_partition, to_item};
use nhip_ports::store::{Condition, Index, Item, ItemStore, Key, StoreError, WriteOp};

/// The header of a versioned document.
pub trait Header: Serialize + DeserializeOwned {
    /// The document's id: a template's code, a journey's key.
    fn id(&self) -> &str;
    /// The header's optimistic-concurrency version.
    fn version(&self) -> u64;
}

/// Why a write of a versioned document did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// A new document's id is taken.
    #[error("a document with this id already exists")]
    Taken,
    /// The header changed since it was read; `current` is its version now.
    #[error("the header changed since it was read (now at version {current})")]
    Stale {
        /// The header's version now.
        current: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One family of versioned documents: its item kinds, its keys and the list it is on.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// Kind attribute of header items.
    pub kind: &'static str,
    /// Kind attribute of version items.
    pub version_kind: &'static str,
    /// The gsi2 partition listing every header.
    pub list: &'static str,
    /// The partition of one document (header and versions).
    pub partition: fn(&str) -> String,
    /// The header's key.
    pub header_key: fn(&str) -> Key,
    /// One version's key.
    pub version_key: fn(&str, u32) -> Key,
}

/// Sort-key prefix of version items.
const VERSION_PREFIX: &str = "V#";

impl Family {
    /// The stored item of a header, listed on gsi2.
    pub fn header_item<H: Header>(&self, header: &H) -> Result<Item, StoreError> {
        let mut item = to_item((self.header_key)(header.id()), self.kind, header)?;
        item.insert(Index::Gsi2.pk_attr().into(), self.list.into());
        item.insert(Index::Gsi2.sk_attr().into(), header.id().into());
        Ok(item)
    }

    /// The header of `id`, if any.
    pub async fn header<H: Header>(
        &self,
        store: &dyn ItemStore,
        id: &str,
    ) -> Result<Option<H>, StoreError> {
        crate::records::get(store, &(self.header_key)(id), self.kind).await
    }

    /// Version `number` of `id`, if any.
    pub async fn version<V: DeserializeOwned>(
        &self,
        store: &dyn ItemStore,
        id: &str,
        number: u32,
    ) -> Result<Option<V>, StoreError> {
        crate::records::get(store, &(self.version_key)(id, number), self.version_kind).await
    }

    /// Every header of the family, by id.
    pub async fn headers<H: Header>(&self, store: &dyn ItemStore) -> Result<Vec<H>, StoreError> {
        read_partition(store, Index::Gsi2, self.list, None)
            .await?
            .into_iter()
            .map(|item| from_item(item, self.kind))
            .collect()
    }

    /// Every version of `id`, oldest first.
    pub async fn versions<V: DeserializeOwned>(
        &self,
        store: &dyn ItemStore,
        id: &str,
    ) -> Result<Vec<V>, StoreError> {
        read_partition(
            store,
            Index::Primary,
            &(self.partition)(id),
            Some(VERSION_PREFIX),
        )
        .await?
        .into_iter()
        .map(|item| from_item(item, self.version_kind))
        .collect()
    }

    /// The writes of a new document: its header and version 1, both create-only.
    pub fn create_writes<H: Header, V: Serialize>(
        &self,
        header: &H,
        first: &V,
    ) -> Result<Vec<WriteOp>, StoreError> {
        Ok(vec![
            WriteOp::Put {
                item: self.header_item(header)?,
                condition: Condition::NotExists,
            },
            self.version_write(header.id(), 1, first)?,
        ])
    }

    /// The writes of a change: the header `after` on condition the stored one is still at
    /// `before`'s version, and the version `created` (its number and content) create-only.
    pub fn change_writes<H: Header, V: Serialize>(
        &self,
        before: &H,
        after: &H,
        created: Option<(u32, &V)>,
    ) -> Result<Vec<WriteOp>, StoreError> {
        let mut writes = vec![WriteOp::Put {
            item: self.header_item(after)?,
            condition: Condition::version_is(before.version()),
        }];
        if let Some((number, content)) = created {
            writes.push(self.version_write(after.id(), number, content)?);
        }
        Ok(writes)
    }

    fn version_write<V: Serialize>(
        &self,
        id: &str,
        number: u32,
        content: &V,
    ) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::Put {
            item: to_item((self.version_key)(id, number), self.version_kind, content)?,
            condition: Condition::NotExists,
        })
    }

    /// Commits the writes of a new document ([`Family::create_writes`] and whatever goes with
    /// them): [`CommitError::Taken`] when its id is taken.
    pub async fn create(
        &self,
        store: &dyn ItemStore,
        writes: Vec<WriteOp>,
    ) -> Result<(), CommitError> {
        match store.transact(writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
                Err(CommitError::Taken)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Commits the writes of a change ([`Family::change_writes`] and whatever goes with them):
    /// [`CommitError::Stale`] with the header's version now when another change got in first.
    pub async fn change<H: Header>(
        &self,
        store: &dyn ItemStore,
        before: &H,
        writes: Vec<WriteOp>,
    ) -> Result<(), CommitError> {
        match store.transact(writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. } | StoreError::TransactionConflict) => {
                let current = self
                    .header::<H>(store, before.id())
                    .await?
                    .map_or(before.version(), |now| now.version());
                Err(CommitError::Stale { current })
            }
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Doc {
        id: String,
        version: u64,
    }

    impl Header for Doc {
        fn id(&self) -> &str {
            &self.id
        }
        fn version(&self) -> u64 {
            self.version
        }
    }

    fn family() -> Family {
        Family {
            kind: "doc",
            version_kind: "doc_version",
            list: "DOCS",
            partition: |id| format!("DOC#{id}"),
            header_key: |id| Key::new(format!("DOC#{id}"), "META"),
            version_key: |id, n| Key::new(format!("DOC#{id}"), format!("V#{n:06}")),
        }
    }

    #[test]
    fn a_new_document_writes_its_listed_header_and_version_one_create_only() {
        let doc = Doc {
            id: "mau-a".into(),
            version: 1,
        };
        let writes = family()
            .create_writes(&doc, &serde_json::json!({"text": "xin chào"}))
            .unwrap();
        let [
            WriteOp::Put {
                item: header,
                condition: Condition::NotExists,
            },
            WriteOp::Put {
                item: first,
                condition: Condition::NotExists,
            },
        ] = writes.as_slice()
        else {
            panic!("{writes:?}");
        };
        assert_eq!(header["pk"], "DOC#mau-a");
        assert_eq!(header["sk"], "META");
        assert_eq!(header["kind"], "doc");
        assert_eq!(header[Index::Gsi2.pk_attr()], "DOCS");
        assert_eq!(header[Index::Gsi2.sk_attr()], "mau-a");
        assert_eq!(first["sk"], "V#000001");
        assert_eq!(first["kind"], "doc_version");
        assert_eq!(first["text"], "xin chào");
    }

    #[test]
    fn a_change_is_conditioned_on_the_version_read() {
        let before = Doc {
            id: "mau-a".into(),
            version: 4,
        };
        let after = Doc {
            id: "mau-a".into(),
            version: 5,
        };
        let writes = family()
            .change_writes(&before, &after, Some((3, &serde_json::json!({}))))
            .unwrap();
        assert!(matches!(
            &writes[0],
            WriteOp::Put { item, condition } if item["version"] == 5
                && *condition == Condition::version_is(4)
        ));
        assert!(matches!(
            &writes[1],
            WriteOp::Put { item, condition: Condition::NotExists } if item["sk"] == "V#000003"
        ));
        let header_only = family()
            .change_writes::<Doc, ()>(&before, &after, None)
            .unwrap();
        assert_eq!(header_only.len(), 1);
    }
}
